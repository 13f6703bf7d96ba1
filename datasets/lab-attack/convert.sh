#!/bin/bash
# Turns a lab pcap into flow files made by real tools:
#   OUT.v5/ OUT.v9/ OUT.ipfix/  nfcapd files (softflowd -> nfcapd)
#   OUT.argus                   argus file
#   OUT.nfdump.csv              nfdump -o csv of the v9 files
# Usage: convert.sh RUN   (RUN.pcap must exist)
#
# The lab's convert.sh with two changes for captures of many flows (floods,
# scans): nfcapd gets a 4 MiB socket buffer (-B; the kernel caps it at
# net.core.rmem_max), because softflowd reading a pcap sends all its records
# at once when the file ends and nfcapd's default buffer drops most of them
# beyond a few thousand flows; and each export is checked: the records
# softflowd says it sent must all be in the nfcapd files, else the script
# fails.
set -e
RUN=$1; PORT=$((20000 + RANDOM % 20000))
for v in 5 9 10; do
  d=$RUN.v$v; [ $v = 10 ] && d=$RUN.ipfix
  rm -rf $d; mkdir -p $d
  nfcapd -w $d -b 127.0.0.1 -p $PORT -t 3600 -B 4194304 >$d.nfcapd.log 2>&1 & NF=$!
  sleep 0.5
  softflowd -r $RUN.pcap -n 127.0.0.1:$PORT -v $v -d -t maxlife=3600 >$d.softflowd.log 2>&1
  sleep 1; kill $NF; wait $NF 2>/dev/null || true
  sent=$(sed -n 's/^Flows exported: .*(\([0-9]*\) records).*/\1/p' $d.softflowd.log)
  got=$(nfdump -R $d -q -o "fmt:%fl" | wc -l)
  [ "$sent" = "$got" ] || { echo "$d: softflowd sent $sent records, nfcapd wrote $got" >&2; exit 1; }
done
argus -r $RUN.pcap -w $RUN.argus >/dev/null 2>&1 || true
nfdump -R $RUN.v9 -o csv > $RUN.nfdump.csv
echo "$RUN: $(nfdump -R $RUN.v9 -q -o "fmt:%fl" | wc -l) v9 flows, $(nfdump -R $RUN.v5 -q -o "fmt:%fl" | wc -l) v5 flows, $(nfdump -R $RUN.ipfix -q -o "fmt:%fl" | wc -l) ipfix flows"
