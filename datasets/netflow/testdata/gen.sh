#!/bin/bash
# Regenerates the NetFlow/IPFIX export captures in this directory with real
# tools: softflowd reads the lab's sample.pcap (six HTTP downloads) and
# exports NetFlow v1, v5, v9 and IPFIX over loopback; tcpdump records the
# export packets while nfcapd collects them, and `nfdump -o csv` of nfcapd's
# file is kept as the reference (*.nfdump.csv) the tests compare against.
# tcpdump 4.99 writes only pcap, so ipfix.pcapng is converted from ipfix.pcap
# with gopacket's pcapgo.NgWriter (mkng/main.go).
#
# Needs root (capture on lo/any), softflowd, nfdump, tcpdump, go.
# Usage: testdata/gen.sh   (from datasets/netflow; softflowd's offline mode
# is slow, the runs go in parallel and take several minutes)
set -euo pipefail
export TZ=UTC # nfdump prints local time
cd "$(dirname "$0")"
IN=../../lab-dev/sample.pcap
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run NAME VERSION PORT DEST IFACE NFCAPD_FLAGS [softflowd flags...]
run() {
  local name=$1 v=$2 port=$3 dest=$4 iface=$5 nfflags=$6; shift 6
  mkdir -p "$TMP/$name"
  nfcapd $nfflags -p "$port" -w "$TMP/$name" -t 3600 >"$TMP/$name.nfcapd.log" 2>&1 & local nf=$!
  tcpdump -U -Z root -n -i "$iface" -w "$name.pcap" "udp port $port" 2>"$TMP/$name.tcpdump.log" & local td=$!
  sleep 1
  softflowd -r "$IN" -n "$dest:$port" -v "$v" -d -t maxlife=3600 \
    -p "$TMP/$name.pid" -c "$TMP/$name.ctl" "$@" >"$TMP/$name.softflowd.log" 2>&1 & local sf=$!
  # softflowd 1.1.0 reading a file blocks in accept() on its control
  # socket between batches of packets: keep poking it until it exits.
  while kill -0 "$sf" 2>/dev/null; do
    softflowctl -c "$TMP/$name.ctl" statistics >/dev/null 2>&1 || true
    sleep 0.5
  done
  sleep 1
  kill "$td" "$nf"; wait "$td" "$nf" 2>/dev/null || true
  nfdump -R "$TMP/$name" -o csv -q >"$name.nfdump.csv" 2>/dev/null || true
}

P=$((30000 + RANDOM % 20000))
run v1 1 $P 127.0.0.1 lo "-b 127.0.0.1" &
run v5 5 $((P+1)) 127.0.0.1 lo "-b 127.0.0.1" &
# v9 over IPv6, recorded on the "any" device (Linux SLL2 link type)
run v9 9 $((P+2)) '[::1]' any "-6 -b ::1" &
run ipfix 10 $((P+3)) 127.0.0.1 lo "-b 127.0.0.1" &
# sampled export: softflowd sends the interval in an options record
run v9-sampled 9 $((P+4)) 127.0.0.1 lo "-b 127.0.0.1" -s 4 &
run ipfix-sampled 10 $((P+5)) 127.0.0.1 lo "-b 127.0.0.1" -s 4 &
wait

go run ./mkng ipfix.pcap ipfix.pcapng
ls -l ./*.pcap ./*.pcapng ./*.csv
