#!/bin/sh
# capture-v6.sh records v6.pcap: IPv6 traffic on the loopback of a private
# network namespace (three HTTP downloads of 300 kB, five UDP datagrams,
# three ICMPv6 echo requests). Needs root; touches no real interface.
set -eu
ns=nfcapd-v6-fixture
dir=$(mktemp -d)
trap 'kill $srv $cap 2>/dev/null || true; ip netns del $ns; rm -rf "$dir"' EXIT
ip netns add $ns
ip netns exec $ns ip link set lo up
ip netns exec $ns ip -6 addr add fd00:77::1/64 dev lo
ip netns exec $ns ip -6 addr add fd00:77::2/64 dev lo
head -c 300000 /dev/urandom >"$dir/file.bin"
(cd "$dir" && exec ip netns exec $ns python3 -c '
import http.server, socket
class S(http.server.ThreadingHTTPServer): address_family = socket.AF_INET6
S(("::", 8080), http.server.SimpleHTTPRequestHandler).serve_forever()' >/dev/null 2>&1) &
srv=$!
sleep 1
ip netns exec $ns tcpdump -i lo -s 128 -w "$dir/v6.pcap" ip6 >/dev/null 2>&1 &
cap=$!
sleep 1
for i in 1 2 3; do
	ip netns exec $ns curl -s -o /dev/null --interface fd00:77::2 'http://[fd00:77::1]:8080/file.bin'
done
ip netns exec $ns python3 -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("fd00:77::2", 5353))
for i in range(5): s.sendto(b"x" * 100, ("fd00:77::1", 53))
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
for i in range(3): s.sendto(bytes([128, 0, 0, 0, 0, 1, 0, i]) + b"y" * 56, ("fd00:77::1", 0))'
sleep 1
kill $cap
wait $cap || true
cp "$dir/v6.pcap" v6.pcap
