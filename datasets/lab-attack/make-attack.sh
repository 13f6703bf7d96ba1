#!/bin/bash
# Builds the lab-attack run: floods and scans between the lab's own
# namespaces, mixed with a few ordinary downloads, recorded by tcpdump on the
# server's interface (lab-srv s0) like the other lab runs and turned into flow
# files by the lab's convert.sh.
#
# Usage: make-attack.sh OUTDIR
# Needs the lab up (topology.sh up, server.sh start, $LAB/www holding lab-dev's
# cat.csv and bg.csv files) and nothing else sending to the server meanwhile.
# Writes in OUTDIR:
#   lab-attack.pcap, lab-attack.v5/ .v9/ .ipfix/ .argus .nfdump.csv (convert.sh
#                         in this folder; the nfcapd files then recompressed
#                         with LZ4, nfdump -J 3)
#   attacks.csv           one row per attack: kind, sources, target, ports,
#                         start/end as the v9 flow records show them (UTC),
#                         packets the tool sent, start/end on the capture clock
#                         (the v5 and argus timeline), the command
#   lab-attack.labels.csv the downloads, columns as in lab-dev's labels
#   lab-attack.log        tool output, tcpdump's counts, flow counts
# Environment: LAB (default /tmp/labdata), KEEP_LAB=1 leaves the extra addresses, route and
# listener in place afterwards.
#
# The lab is changed for the run (and put back afterwards unless KEEP_LAB=1):
#   - attacker addresses: near 10.77.1.200, .201, .203, .204, .205 (one per
#     attack, so that no two attacks share a flow key: softflowd reading a
#     pcap keeps every flow to the end and would merge them), far
#     10.77.6.50; download
#     clients near 10.77.1.10, far 10.77.6.10;
#   - 10.77.9.0/24 is routed by r1 to lab-srv, which holds five of its
#     addresses (10.77.9.5, .20, .21, .77, .200) on s0; 10.77.9.20 and .21
#     listen on TCP 445, 10.77.9.5 on TCP 22; the other 251 addresses are
#     dead: lab-srv (not a router) drops probes to them without an answer;
#   - rp_filter is set to 0 (loose checks off) on every interface of r1 and
#     srv, so spoofed and bogon sources are forwarded and seen on s0. r1
#     still drops 127.0.0.0/8 and multicast sources as martians when
#     forwarding, so those are sent from r1 itself out of r1a (the link to
#     the server), as if they entered there.
set -euo pipefail
export LAB=${LAB:-/tmp/labdata} TZ=UTC
HERE=$(dirname "$(readlink -f "$0")")
OUT=$(readlink -f "${1:?usage: make-attack.sh OUTDIR}")
mkdir -p "$OUT"; cd "$OUT"
RUN=lab-attack
SRV=10.77.0.1
LIVE="5 20 21 77 200"
n() { ip netns exec lab-$1 "${@:2}"; }
now() { date -u +%s.%N; }

# --- lab changes -----------------------------------------------------------
for a in 10 200 201 203 204 205; do n near ip addr add 10.77.1.$a/24 dev n0 2>/dev/null || true; done
for a in 10 50; do n far ip addr add 10.77.6.$a/24 dev f0 2>/dev/null || true; done
n r1 ip route replace 10.77.9.0/24 via $SRV
for a in $LIVE; do n srv ip addr add 10.77.9.$a/32 dev s0 2>/dev/null || true; done
for ns in r1 srv; do
  for i in $(n $ns ls /proc/sys/net/ipv4/conf); do n $ns sysctl -qw net.ipv4.conf.$i.rp_filter=0; done
done
ip netns exec lab-srv /usr/bin/python3 -c '
import socket, time
ss = []
for a, p in [("10.77.9.20", 445), ("10.77.9.21", 445), ("10.77.9.5", 22)]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((a, p)); s.listen(64); ss.append(s)
time.sleep(600)' &
LISTENER=$!
cleanup() {
  kill $LISTENER 2>/dev/null || true
  [ "${KEEP_LAB:-0}" = 1 ] && return
  for a in 200 201 203 204 205; do n near ip addr del 10.77.1.$a/24 dev n0 2>/dev/null || true; done
  n far ip addr del 10.77.6.50/24 dev f0 2>/dev/null || true
  n r1 ip route del 10.77.9.0/24 2>/dev/null || true
  for a in $LIVE; do n srv ip addr del 10.77.9.$a/32 dev s0 2>/dev/null || true; done
}
trap cleanup EXIT
sleep 1

# --- capture -----------------------------------------------------------------
exec 3>$RUN.log
ip netns exec lab-srv tcpdump -i s0 -s 96 -B 262144 -w $RUN.pcap ip 2>$RUN.tcpdump.txt &
TCPDUMP=$!
sleep 2

echo "kind,sources,target,ports,start_real,end_real,packets_sent,command" > windows.tmp
# attack KIND SOURCES TARGET PORTS CMD...: runs CMD (bounded to 60 s),
# records its wall-clock window and the packets it says it sent.
attack() {
  local kind=$1 srcs=$2 target=$3 ports=$4; shift 4
  echo "### $kind: $*" >&3
  local t0 t1 out sent
  t0=$(now)
  out=$("$@" 2>&1 || true)
  t1=$(now)
  echo "$out" >&3
  sent=$(echo "$out" | grep -oE '^[0-9]+ packets transmitted|Raw packets sent: [0-9]+' | grep -oE '[0-9]+' | awk '{s+=$1} END{print s+0}')
  echo "$kind,$srcs,$target,$ports,$t0,$t1,$sent,\"$(echo "$*" | sed 's/"/""/g')\"" >> windows.tmp
  sleep 5
}
echo "client_ip,client_port,server_port,file,size,known,conn,pos,rep" > $RUN.labels.csv
CONN=0
# download NS ADDR FILE: one curl download of a lab file, labelled like capture.py does
download() {
  local line size known
  line=$(n $1 curl -s --interface $2 -w "%{local_ip},%{local_port},%{size_download},%{http_code}" \
         -o /dev/null http://$SRV/$3)
  size=$(grep -h "^$3," $LAB/www/cat.csv $LAB/www/bg.csv | cut -d, -f2)
  known=0; grep -q "^$3," $LAB/www/cat.csv && known=1
  IFS=, read -r ip port got code <<<"$line"
  [ "$code" = 200 ] && [ "$got" = "$size" ] || echo "bad download $3: $line" | tee -a /dev/fd/3 >&2
  echo "$ip,$port,80,$3,$size,$known,$CONN,0,0" >> $RUN.labels.csv
  echo "download $3 from $2: $line" >&3
  CONN=$((CONN + 1))
}
hp() { n near timeout 60 hping3 -q "$@"; }
martians() {
  for a in 192.0.2.10 198.18.7.7 240.1.2.3 0.1.2.3 169.254.9.9 100.64.3.3; do
    n near timeout 60 hping3 -q -S -p 80 -a $a -c 20 -i u10000 $SRV
  done
  for a in 127.0.0.2 224.1.1.1; do # martians r1 itself would not forward
    n r1 timeout 60 hping3 -q -S -p 80 -a $a -c 20 -i u10000 $SRV
  done
}

download near 10.77.1.10 cat-003.bin
download far 10.77.6.10 cat-010.bin
sleep 3
attack syn-flood 10.77.1.200 $SRV 80 hp -S -p 80 -a 10.77.1.200 -c 1000 -i u1000 $SRV
attack syn-flood-spoofed random $SRV 443 hp -S -p 443 --rand-source -c 1000 -i u1000 $SRV
download near 10.77.1.10 cat-020.bin
attack rst-flood 10.77.1.204 $SRV 80 hp -R -p 80 -a 10.77.1.204 -c 1000 -i u1000 $SRV
attack fin-flood 10.77.1.205 $SRV 80 hp -F -p 80 -a 10.77.1.205 -c 1000 -i u1000 $SRV
attack udp-flood 10.77.1.201 $SRV 53 hp --udp -p 53 -s 5353 -k -d 64 -a 10.77.1.201 -c 10000 -i u300 $SRV
attack icmp-flood 10.77.1.201 $SRV - hp --icmp -d 56 -a 10.77.1.201 -c 5000 -i u300 $SRV
download far 10.77.6.10 cat-030.bin
attack martian-sources "192.0.2.10;198.18.7.7;240.1.2.3;0.1.2.3;169.254.9.9;100.64.3.3;127.0.0.2;224.1.1.1" $SRV 80 martians
attack vertical-scan 10.77.6.50 $SRV 1-2000 n far timeout 60 nmap -v -n -Pn -sS -T4 --max-retries 1 -p 1-2000 -S 10.77.6.50 -e f0 $SRV
attack horizontal-scan 10.77.1.203 10.77.9.0/24 445 n near timeout 60 nmap -v -n -Pn -sS -T4 --max-retries 1 -p 445 -S 10.77.1.203 -e n0 10.77.9.0/24
download near 10.77.1.10 cat-040.bin
download far 10.77.6.10 bg-005.bin
sleep 3
kill -INT $TCPDUMP; wait $TCPDUMP || true
cat $RUN.tcpdump.txt >&3

# --- flows ---------------------------------------------------------------------
$HERE/convert.sh $RUN >&3
for f in $RUN.v5/* $RUN.v9/* $RUN.ipfix/*; do nfdump -J 3 -r $f >&3; done
for f in v5 v9 ipfix; do echo "nfdump -R $RUN.$f -I: $(nfdump -R $RUN.$f -I | grep -E '^(Flows|Packets|Bytes):' | tr -s ' \n' ' ')" >&3; done
echo "argus records: $(ra -r $RUN.argus -n -s stime | wc -l)" >&3

# softflowd's offline export shifts v9 times by a constant (about 2^32 ms):
# measure it on the first download, whose v5 record carries the capture time.
IFS=, read -r ip port _ < <(sed -n 2p $RUN.labels.csv)
t5=$(nfdump -R $RUN.v5 -q -N -o "fmt:%ts" "src ip $ip and src port $port" | head -1)
t9=$(nfdump -R $RUN.v9 -q -N -o "fmt:%ts" "src ip $ip and src port $port" | head -1)
/usr/bin/python3 - "$t5" "$t9" <<'EOF' > attacks.csv 2>&3
import csv, sys, datetime as dt
utc = dt.timezone.utc
def parse(s):  # nfdump prints local time: TZ=UTC above
    return dt.datetime.strptime(s.strip(), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=utc).timestamp()
off = parse(sys.argv[2]) - parse(sys.argv[1])
fmt = lambda t: dt.datetime.fromtimestamp(t, utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
rows = list(csv.DictReader(open("windows.tmp")))
w = csv.writer(sys.stdout)
w.writerow(["kind", "sources", "target", "ports", "start", "end", "packets_sent", "capture_start", "capture_end", "command"])
for r in rows:
    s, e = float(r["start_real"]), float(r["end_real"])
    w.writerow([r["kind"], r["sources"], r["target"], r["ports"], fmt(s + off), fmt(e + off), r["packets_sent"],
                fmt(s), fmt(e), r["command"]])
print(f"v9 time = capture time + {off:.3f} s", file=sys.stderr)
EOF
rm windows.tmp
cat attacks.csv >&3
