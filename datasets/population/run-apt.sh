#!/bin/bash
# Makes one real-apt population run in $RUNS/apt-PATH-Hh-sSEED: run-pop.sh
# with aptpop.py (see there).
# Usage: [KEEP_PCAP=1] run-apt.sh near|far|vpn HOSTS SEED
exec env KIND=apt "$(dirname "$(readlink -f "$0")")/run-pop.sh" "$@"
