#!/bin/bash
# Makes the capture fixtures of datasets/pcapflow and softflowd's view of them.
# Run as root from this directory: bash gen.sh
#
# Captures (real traffic between two network namespaces joined by a veth pair,
# offloads off so every segment is a real MTU-sized packet): HTTP downloads
# over IPv4 and IPv6, ping both ways, UDP (one IPv6 datagram with a
# destination-options header; nobody listens, so ICMP unreachables come back),
# and in eth.pcap and sll2.pcap UDP datagrams fragmented over IPv4 and IPv6.
#   eth.pcap     `tcpdump -i pfb0` (Ethernet)
#   sll.pcap     `tcpdump -i any -y LINUX_SLL -s 96` (Linux cooked v1,
#                truncated to 96 bytes: byte counts come from the IP header)
#   sll2.pcap    `tcpdump -i any -y LINUX_SLL2` (Linux cooked v2)
# Rewritten from those by ./convert (gopacket's pcapgo writers). The kernel
# here has no 802.1Q support (no `ip link add ... type vlan`), and no installed
# tool writes pcapng, raw IP or BSD loopback captures:
#   vlan.pcap    eth.pcap with IPv4 frames tagged 802.1Q VLAN 42 and IPv6
#                frames tagged QinQ (802.1ad service tag 100, 802.1Q tag 7)
#   vlan.pcapng  vlan.pcap as pcapng
#   raw.pcap     sll2.pcap with the link header removed (LINKTYPE_RAW)
#   null.pcap    sll2.pcap with a 4-byte BSD loopback family header (LINKTYPE_NULL)
# Golden flows, softflowd's view (softflowd -v 9 -t maxlife=3600 into nfcapd,
# printed by nfdump, exactly as /work/shared/lab/convert.sh makes the lab runs):
#   sample.softflowd.csv   ../../lab-dev/sample.pcap
#   eth.softflowd.csv      eth.pcap; also the truth for vlan.pcap and
#                          vlan.pcapng (same packets; softflowd 1.1.0 does not
#                          decode 802.1ad QinQ, so it cannot read them itself)
#   sll.softflowd.csv      sll.pcap
#   raw.softflowd.csv      raw.pcap; also the truth for sll2.pcap and null.pcap
#                          (same packets; softflowd reads neither Linux cooked
#                          v2 nor a BSD AF_INET6 family on Linux)
set -euo pipefail
cd "$(dirname "$0")"
A=pcapflow-a B=pcapflow-b
cleanup() {
	[ -n "${HTTP:-}" ] && kill "$HTTP" 2>/dev/null || true
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
	[ -n "${WWW:-}" ] && rm -rf "$WWW"
	return 0
}
trap cleanup EXIT
cleanup
a() { ip netns exec $A "$@"; }
b() { ip netns exec $B "$@"; }

ip netns add $A
ip netns add $B
ip link add pfa0 netns $A type veth peer name pfb0 netns $B
for side in a b; do
	n=${side}; i=pf${side}0; h=1; [ $side = b ] && h=2
	$n ip link set lo up
	$n ip link set $i up
	$n ethtool -K $i tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
	$n ip addr add 10.98.0.$h/24 dev $i
	$n ip addr add 2001:db8:98::$h/64 dev $i nodad
done

WWW=$(mktemp -d)
head -c 6000 /dev/urandom >"$WWW/f.bin"
(cd "$WWW" && exec ip netns exec $B python3 -m http.server --bind :: 8080 >/dev/null 2>&1) &
HTTP=$!
sleep 1

# udp DST LEN [dstopts]: one datagram of LEN bytes to DST:9999 (nobody
# listens: the answer is an ICMP port unreachable).
udp() {
	a python3 - "$@" <<'EOF'
import socket, sys
dst, n = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", 5353 + n % 1000))
if len(sys.argv) > 3:
    # Destination options header: PadN option filling its 8 bytes.
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
s.sendto(b"x" * n, (dst, 9999))
EOF
}

# ping DST: two ICMP echo requests (there is no ping binary here), answered by
# the kernel.
ping() {
	a python3 - "$@" <<'EOF'
import socket, struct, sys, time
dst = sys.argv[1]
v6 = ":" in dst
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                  socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
s.settimeout(1)
for seq in (1, 2):
    msg = struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, 77, seq) + b"pcapflow" * 4
    if not v6:  # the kernel sums ICMPv6 itself
        c = sum(struct.unpack("!%dH" % (len(msg) // 2), msg))
        c = (c >> 16) + (c & 0xffff)
        c = ~(c + (c >> 16)) & 0xffff
        msg = msg[:2] + struct.pack("!H", c) + msg[4:]
    s.sendto(msg, (dst, 0))
    try:
        s.recv(2048)
    except socket.timeout:
        pass
    time.sleep(0.2)
EOF
}

traffic() { # traffic ADDR4 ADDR6
	a curl -s -o /dev/null "http://$1:8080/f.bin"
	a curl -s -o /dev/null "http://[$2]:8080/f.bin"
	ping "$1"
	ping "$2"
	udp "$1" 100
	udp "$2" 200 dstopts
}

capture() { # capture FILE TCPDUMP-ARGS... ; then runs what follows until stop
	ip netns exec $B tcpdump -U -n -w "$@" >/dev/null 2>&1 &
	CAP=$!
	sleep 1
}
stop() { sleep 1; kill -INT $CAP; wait $CAP 2>/dev/null || true; }

capture eth.pcap -i pfb0
traffic 10.98.0.2 2001:db8:98::2
udp 10.98.0.2 3000       # IPv4 fragments
udp 2001:db8:98::2 3000  # IPv6 fragment headers
stop

capture sll.pcap -i any -y LINUX_SLL -s 96
traffic 10.98.0.2 2001:db8:98::2
stop

capture sll2.pcap -i any -y LINUX_SLL2
traffic 10.98.0.2 2001:db8:98::2
udp 10.98.0.2 3000
udp 2001:db8:98::2 3000
stop

go run ./convert eth.pcap vlan.pcap
go run ./convert vlan.pcap vlan.pcapng
go run ./convert sll2.pcap raw.pcap
go run ./convert sll2.pcap null.pcap

softflowd_csv() { # softflowd_csv PCAP CSV
	local port=$((20000 + RANDOM % 20000)) dir
	dir=$(mktemp -d)
	nfcapd -w "$dir" -b 127.0.0.1 -p $port -t 3600 >/dev/null 2>&1 &
	local nf=$!
	sleep 0.5
	softflowd -r "$1" -n 127.0.0.1:$port -v 9 -d -t maxlife=3600 >/dev/null 2>&1
	sleep 1; kill $nf; wait $nf 2>/dev/null || true
	{
		echo "sa,da,sp,dp,pr,flg,ipkt,ibyt"
		nfdump -R "$dir" -q -o csv | cut -d, -f4-9,12-13 | sed 's/ //g' | LC_ALL=C sort
	} >"$2"
	rm -rf "$dir"
}
softflowd_csv ../../lab-dev/sample.pcap sample.softflowd.csv
for f in eth sll raw; do softflowd_csv $f.pcap $f.softflowd.csv; done
ls -l ./*.pcap ./*.pcapng ./*.csv
# New captures have new ports and times: refresh this reader's own goldens
# (eth.*flows.golden) and the packet counts in TestDescribe after review.
(cd .. && go test -run TestFlowsGolden -update . >/dev/null) || true
echo "review: git diff testdata/; then fix packet counts in TestDescribe if go test fails"
