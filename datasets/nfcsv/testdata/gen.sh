#!/bin/sh
# gen.sh regenerates the nfdump CSV fixtures from the lab nfcapd files with
# nfdump 1.7.1 (Debian package nfdump). Run from this directory on a UTC
# machine.
set -eu
lab=../../lab-dev
v9=$lab/test-near.v9/nfcapd.202611221900
ipfix=$lab/test-near.ipfix/nfcapd.202611221900
export TZ=UTC
nfdump -r "$v9" -o csv -c 40 >v9.csv                   # header, records, summary footer
nfdump -r "$v9" -o csv -c 40 -q >quiet.csv             # no header, no footer
TZ=Europe/Berlin nfdump -r "$v9" -o csv -c 40 >berlin.csv # times in local time CET
nfdump -r "$v9" -o csv -c 40 -b >bidir.csv             # bidirectional: opkt/obyt set
nfdump -r "$v9" -o csv -A srcip >agg.csv               # aggregated: ra 0.0.0.0, proto 0
nfdump -r "$ipfix" -o csv -c 20 >ipfix.csv             # td printed as 2^64 ms
nfdump -r "$v9" -o csv 'proto udp' >nomatch.csv || true # "No matching flows"
if [ -f ../../nfcapd/testdata/v6.nfcapd ]; then
	nfdump -r ../../nfcapd/testdata/v6.nfcapd -o csv >v6.csv # IPv6 and ICMP6
fi
