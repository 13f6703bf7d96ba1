#!/bin/sh
# Regenerates the Argus fixtures with the Debian argus-server (argus 3.0.8)
# and argus-client (ra 3.0.8) packages. Run from this directory.
#
# mixed.pcap was captured once on the loopback interface (tcpdump -i lo -s 96)
# while sending: two UDP datagrams to a closed IPv4 port (and the ICMP port
# unreachable answers), one UDP datagram to a closed IPv6 port (ICMPv6
# answer), an HTTP GET over IPv4 and over IPv6 to a local web server, and a
# TCP connection attempt to a closed port (SYN, RST).
set -eu
LAB=../../lab-dev
FIELDS="stime ltime saddr sport daddr dport proto flgs state spkts dpkts sbytes dbytes sttl dttl stos"

argus -r "$LAB/sample.pcap" -w sample.argus
argus -r mixed.pcap -w mixed.argus
for f in sample mixed; do
	ra -r "$f.argus" -n -u -Z b -c , -s $FIELDS > "$f.csv"
done
# The lab's test-near run, as ra prints it: checked against nfdump's CSV of
# the same traffic.
ra -r "$LAB/test-near.argus" -n -u -Z b -c , -s $FIELDS > test-near.csv
# ra's default columns in another order, semicolon-separated, with a
# duration instead of the last time and no TCP flags.
ra -r sample.argus -n -u -c ';' -s proto saddr sport daddr dport stime dur flgs spkts dpkts sbytes dbytes state > sample-reordered.csv
# ra's default output: no per-direction counters.
ra -r sample.argus -n -u -c , > sample-default.csv
