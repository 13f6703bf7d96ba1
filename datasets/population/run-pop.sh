#!/bin/bash
# Makes one population run in $RUNS/KIND-PATH-Hh-sSEED (default RUNS=/work/labruns):
# the KIND's generator (pop: population.py, apt: aptpop.py; this folder's
# copies) and the lab's convert.sh, then flow counts. run-apt.sh is KIND=apt.
# The pcap is deleted after converting if it is 200 MB or more, unless KEEP_PCAP=1.
# Usage: [KIND=pop|apt] [POP_KEEPALIVE=windows,debian] [KEEP_PCAP=1] run-pop.sh near|far|vpn HOSTS SEED
# Needs the lab up (topology.sh up, server.sh start; for apt server-truth.sh
# start and aptmirror.sh's mirror) with $LAB/www as in ../lab-dev.
set -eo pipefail
P=$1; H=$2; S=$3
HERE=$(dirname $(readlink -f $0)); LABSH=${LABSH:-/work/shared/lab}
KIND=${KIND:-pop}
case $KIND in
  pop) GEN=population.py ;;
  apt) GEN=aptpop.py ;;
  *) echo "KIND=$KIND: pop or apt" >&2; exit 2 ;;
esac
NAME=$KIND-$P-${H}h-s$S; D=${RUNS:-/work/labruns}/$NAME
mkdir -p $D; cd $D
set +e
POP_PATH=$P /usr/bin/python3 $HERE/$GEN $NAME $H $S 2>$NAME.errors.txt
rc=$?
set -e
$LABSH/convert.sh $NAME | tee -a $NAME.check.txt
for f in v5 v9 ipfix; do
  echo "nfdump -R $NAME.$f -I: $(nfdump -R $NAME.$f -I | grep -E '^(Flows|Packets|Bytes):' | tr -s ' \n' ' ')" >> $NAME.check.txt
done
echo "argus records: $(ra -r $NAME.argus -n -s stime | wc -l)" >> $NAME.check.txt
sz=$(stat -c %s $NAME.pcap)
echo "pcap bytes: $sz" >> $NAME.check.txt
if [ "$sz" -ge 200000000 ] && [ "${KEEP_PCAP:-0}" != 1 ]; then rm $NAME.pcap; echo "pcap deleted after converting" >> $NAME.check.txt; fi
cat $NAME.check.txt
exit $rc
