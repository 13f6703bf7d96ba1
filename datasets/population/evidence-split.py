#!/usr/bin/env python3
"""evidence-split.py RUN INVENTORY.csv: the hosts of a population run
(population.py or aptpop.py) split by the best evidence their connections
can give, and how many of each kind the inventory names right.

A connection counts as loss-free when Argus saw no loss in the server's
direction (`ra -s dloss`). Kinds, best first:
  loss-free     a loss-free connection whose files are catalog files, or
                files outside the catalog seen whole that night (a
                loss-free connection of that file alone);
  lossy>=2      two or more single-file transfers of catalog files;
  lossy1        one such transfer;
  none          none of these: catalog files only in connections beside a
                file never seen whole, or in lossy connections of several.
RUN is a run's folder RUNDIR (holding RUNDIR/NAME.labels.csv, .hosts.csv
and .argus, NAME its name) or the common prefix of those files
(datasets/population/pop-near-24h-s1007). Needs argus-client's ra."""
import collections
import csv
import os
import subprocess
import sys


def split(run, inventory):
    base = run
    if not os.path.exists(base + ".labels.csv"):
        base = os.path.join(run, os.path.basename(os.path.normpath(run)))
    labels = list(csv.DictReader(open(base + ".labels.csv")))
    hosts = {r["ip"]: r for r in csv.DictReader(open(base + ".hosts.csv"))}
    ra = subprocess.run(["ra", "-r", base + ".argus", "-n", "-c", ",", "-s", "saddr", "sport", "dloss", "-", "tcp"],
                        capture_output=True, text=True, check=True).stdout.splitlines()
    loss = {}
    for line in ra[1:]:
        addr, port, dloss = line.split(",")
        loss[(addr, port)] = int(dloss)
    conns = collections.defaultdict(list)
    for r in labels:
        conns[(r["client_ip"], r["client_port"])].append(r)
    whole = {rs[0]["file"] for k, rs in conns.items() if len(rs) == 1 and loss.get(k, 1) == 0}
    best = collections.defaultdict(lambda: [0, 0])  # loss-free connections, lossy single transfers
    for k, rs in conns.items():
        files = [r for r in rs if r["file"].endswith((".bin", ".deb"))]
        if not any(r["known"] == "1" for r in files):
            continue
        known = all(r["known"] == "1" or r["file"] in whole for r in files)
        if known and loss.get(k, 1) == 0:
            best[k[0]][0] += 1
        elif known and len(files) == 1:
            best[k[0]][1] += 1
    inv = {r["host"]: r for r in csv.DictReader(open(inventory))}
    counts = collections.Counter()
    for ip, h in hosts.items():
        if h["os"] == "none":
            continue
        free, lossy = best[ip]
        kind = "loss-free" if free else "lossy>=2" if lossy >= 2 else "lossy1" if lossy == 1 else "none"
        counts[(kind, inv.get(ip, {}).get("os") == h["os"])] += 1
    return counts


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    c = split(sys.argv[1], sys.argv[2])
    print(" ".join(f"{k}: {c[(k, True)]} of {c[(k, True)] + c[(k, False)]}" for k in ["loss-free", "lossy>=2", "lossy1", "none"]))
