#!/bin/sh
# gen.sh regenerates the nfcapd fixtures from the lab data with nfdump 1.7.1
# (Debian package nfdump), and nfdump's CSV view of each (NAME.csv), which
# the tests compare against. Run from this directory as root (the sampled
# fixture is collected by nfcapd in a private network namespace).
#
#   v9*.nfcapd      200 flows of the lab's NetFlow v9 run, one per block
#                   compression: none, LZO (-z), LZ4 (-y), BZ2 (-j). nfdump
#                   1.7.1 cannot write ZSTD: v9-zstd.nfcapd is v9.nfcapd with
#                   its blocks recompressed by recompress.go.
#   ipfix.nfcapd    50 flows of the IPFIX run; v5.nfcapd 50 of the v5 run
#   v6.nfcapd       nfpcapd on v6.pcap (capture-v6.sh): IPv6 TCP, UDP, ICMPv6
#   sampled.nfcapd  v9.nfcapd replayed (nfreplay -v 9) into nfcapd -s 10:
#                   a sampler record, counters scaled by 10, ident "sampled"
#   layout1.nfcapd  header and stat record of an nfdump 1.6 (layout 1) file,
#                   written by hand from nffile.h: nfdump 1.7 cannot write it
set -eu
export TZ=UTC
lab=../../lab-dev
nfdump -r $lab/test-near.v9/nfcapd.202611221900 -c 200 -w v9.nfcapd
nfdump -r $lab/test-near.v9/nfcapd.202611221900 -c 200 -z -w v9-lzo.nfcapd
nfdump -r $lab/test-near.v9/nfcapd.202611221900 -c 200 -y -w v9-lz4.nfcapd
nfdump -r $lab/test-near.v9/nfcapd.202611221900 -c 200 -j -w v9-bz2.nfcapd
go run recompress.go v9.nfcapd v9-zstd.nfcapd
nfdump -r $lab/test-near.ipfix/nfcapd.202611221900 -c 50 -w ipfix.nfcapd
nfdump -r $lab/test-near.v5/nfcapd.202611221900 -c 50 -w v5.nfcapd

tmp=$(mktemp -d)
nfpcapd -r v6.pcap -w "$tmp" -I v6lab >/dev/null
mv "$tmp"/nfcapd.* v6.nfcapd

ns=nfcapd-sampled-fixture
ip netns add $ns
ip netns exec $ns ip link set lo up
ip netns exec $ns nfcapd -p 29995 -w "$tmp" -s 10 -I sampled -t 3600 >/dev/null 2>&1 &
pid=$!
sleep 1
ip netns exec $ns nfreplay -r v9.nfcapd -p 29995 -v 9 -H 127.0.0.1 >/dev/null
sleep 1
kill $pid
wait $pid || true
ip netns del $ns
mv "$tmp"/nfcapd.* sampled.nfcapd
rm -rf "$tmp"

# Layout 1: magic, version 1, flags 1 (LZO), 0 blocks, ident "lab16"
# padded to 128 bytes, then a stat record (136 bytes) of zeros.
python3 -c '
import struct, sys
h = struct.pack("<HHII128s", 0xA50C, 1, 1, 0, b"lab16")
sys.stdout.buffer.write(h + bytes(136))' >layout1.nfcapd

for f in v9 ipfix v5 v6 sampled; do
	nfdump -r $f.nfcapd -o csv >$f.csv
	nfdump -r $f.nfcapd -I >$f.info
done
# The compressed copies hold the same records (tests compare them with
# v9.csv); check that nfdump agrees.
for f in v9-lzo v9-lz4 v9-bz2; do
	nfdump -r $f.nfcapd -o csv | cmp - v9.csv
done
