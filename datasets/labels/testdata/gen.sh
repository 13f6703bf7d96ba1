#!/bin/sh
# Regenerates the label fixtures from the lab data (run from this directory;
# needs nfdump 1.7 and awk).
set -eu
lab=../../../datasets/lab-dev

# The server->client flows of test-near as nfdump reads them from the v9
# nfcapd files, with millisecond start times: the flows MatchOrdered assigns
# an ordered list to.
nfdump -R "$lab/test-near.v9" -q -N -o 'fmt:%ts,%sa,%sp,%da,%dp,%byt' 'src port 80' |
	sed 's/, */,/g' | sort >test-near.flows.csv

# test-near's labels as the published study's ordered list: one file per
# line in download order (conn, pos), no addresses.
awk -F, 'NR>1 {print $7 "," $8 "," $4}' "$lab/test-near.labels.csv" | sort -t, -k1,1n -k2,2n |
	cut -d, -f3 | { echo file; cat; } >test-near.ordered.csv

# The same for the six sample.pcap downloads, with RFC 3339 start times taken
# from the flows above (joined by client port).
awk -F, 'NR==FNR {split($1, d, "[- :.]"); t[$5] = d[1] "-" d[2] "-" d[3] "T" d[4] ":" d[5] ":" d[6] "." d[7] "Z"; next}
	FNR>1 {print $7 "," $4 "," t[$2]}' test-near.flows.csv "$lab/sample.labels.csv" |
	sort -t, -k1,1n | cut -d, -f2,3 | { echo file,start; cat; } >sample.ordered.csv
