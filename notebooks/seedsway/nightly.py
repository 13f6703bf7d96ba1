#!/usr/bin/env python3
"""The nightly job done the way the tools fingerflow replaces did it: nfdump
exports the night as CSV, pandas builds the per-host table (volumes, peers,
ports, protocol mix, 1-second rates resampled per host as the SiLK + pandas
study did, accumulated duration and flow count as the GDP collector did),
scikit-learn clusters the hosts (k-means, k chosen by silhouette), a
decision tree on flow bytes names each download (the published method,
trained on a labelled lab run), and each host's OS is the majority of the
families its downloads were named as. It writes inventory.csv, hosts.csv
and clusters.csv into OUTDIR.

It is the reference `fingerflow run` is timed against (see README.md
beside it); it is not meant to be as accurate.

Usage: nightly.py --flows DIR --catalog CATALOG.csv --train-flows RUN.nfdump.csv
                  --train-labels RUN.labels.csv --out OUTDIR [--k K]
Needs nfdump, python3-pandas and python3-sklearn (Debian packages).
"""
import argparse, ipaddress, os, subprocess, sys

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

INTERNAL = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]
COLS = ["ts", "te", "td", "sa", "da", "sp", "dp", "pr", "ipkt", "ibyt"]
POS = [0, 1, 2, 3, 4, 5, 6, 7, 11, 12]  # their places in nfdump -o csv


def internal(addrs):
    """Internal-address mask of a Series of address strings."""
    uniq = pd.unique(addrs)
    inside = {}
    for a in uniq:
        try:
            ip = ipaddress.ip_address(a)
            inside[a] = any(ip in n for n in INTERNAL)
        except ValueError:
            inside[a] = False
    return addrs.map(inside)


def read_flows(path):
    """nfdump -R DIR -o csv, read by pandas (the summary footer dropped)."""
    cmd = ["nfdump", "-q", "-o", "csv", "-R" if os.path.isdir(path) else "-r", path]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    df = pd.read_csv(p.stdout, header=None, usecols=POS, on_bad_lines="skip", low_memory=False)
    p.wait()
    df.columns = COLS
    df = df[df.ts.astype(str).str[:2].isin(["19", "20"])]
    df["ts"] = pd.to_datetime(df.ts)
    df["te"] = pd.to_datetime(df.te)
    for c in ("td",):
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0)
    for c in ("sp", "dp", "ipkt", "ibyt"):
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype("int64")
    return df


def host_table(df):
    """One row per internal host: the features the clusters use."""
    df["src_in"] = internal(df.sa)
    df["dst_in"] = internal(df.da)
    out = df[df.src_in]
    inn = df[df.dst_in]
    g_out = out.groupby("sa")
    g_in = inn.groupby("da")
    hosts = pd.DataFrame({
        "bytes_out": g_out.ibyt.sum(), "packets_out": g_out.ipkt.sum(), "flows_out": g_out.size(),
        "duration_out_s": g_out.td.sum(), "ports": g_out.dp.nunique(),
    }).join(pd.DataFrame({"bytes_in": g_in.ibyt.sum(), "packets_in": g_in.ipkt.sum(), "flows_in": g_in.size()}), how="outer")
    peers = pd.concat([out[["sa", "da"]].rename(columns={"sa": "h", "da": "p"}), inn[["da", "sa"]].rename(columns={"da": "h", "sa": "p"})])
    hosts["peers"] = peers.groupby("h").p.nunique()
    both = pd.concat([out[["sa", "pr", "ibyt", "ipkt", "ts"]].rename(columns={"sa": "h"}),
                      inn[["da", "pr", "ibyt", "ipkt", "ts"]].rename(columns={"da": "h"})])
    mix = both.pivot_table(index="h", columns="pr", values="ibyt", aggfunc="sum", fill_value=0)
    total = mix.sum(axis=1).replace(0, 1)
    for name in ("TCP", "UDP", "ICMP"):
        hosts[name.lower() + "_share"] = (mix[name] / total) if name in mix else 0.0
    # The SiLK + pandas study: resample each host's traffic to 1 s (idle
    # seconds count as zero) and take the mean and the 95th percentile.
    rates = []
    for h, g in both.groupby("h"):
        s = g.set_index("ts")[["ibyt", "ipkt"]].resample("1s").sum()
        rates.append((h, s.ibyt.mean() / 1000, s.ibyt.quantile(0.95) / 1000, s.ipkt.mean(), s.ipkt.quantile(0.95)))
    r = pd.DataFrame(rates, columns=["h", "kbytes_s_mean", "kbytes_s_p95", "packets_s_mean", "packets_s_p95"]).set_index("h")
    return hosts.join(r).fillna(0)


def clusters(hosts, k):
    """k-means on log-scaled, standardised features; k by silhouette."""
    x = StandardScaler().fit_transform(np.log1p(hosts.clip(lower=0)))
    ks = [k] if k else range(2, min(8, len(hosts) - 1) + 1)
    best = None
    for kk in ks:
        km = KMeans(n_clusters=kk, n_init=10, random_state=1).fit(x)
        s = silhouette_score(x, km.labels_, sample_size=min(2000, len(hosts)), random_state=1) if kk > 1 else 0
        if best is None or s > best[0]:
            best = (s, km)
    return best[1]


def downloads(df, train_flows, train_labels, catalog):
    """Name downloads with a decision tree on flow bytes (the published
    method), trained on a labelled lab run."""
    tf = read_csv_flows(train_flows)
    lab = pd.read_csv(train_labels)
    lab = lab[lab.known == 1]
    srv = tf[(tf.sp.isin([80, 443])) & (tf.ibyt >= 16384)]
    m = srv.merge(lab, left_on=["da", "dp"], right_on=["client_ip", "client_port"])
    tree = DecisionTreeClassifier(random_state=1).fit(m[["ibyt"]], m.file)
    d = df[(df.pr == "TCP") & df.sp.isin([80, 443]) & (df.ibyt >= 16384) & df.dst_in]
    d = d.assign(file=tree.predict(d[["ibyt"]]) if len(d) else [])
    return d.merge(catalog[["file", "os"]], on="file", how="left")


def read_csv_flows(path):
    df = pd.read_csv(path, usecols=POS, on_bad_lines="skip", low_memory=False)
    df.columns = COLS
    df = df[df.ts.astype(str).str[:2].isin(["19", "20"])]
    for c in ("sp", "dp", "ipkt", "ibyt"):
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype("int64")
    return df


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flows", required=True)
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--train-flows", required=True)
    ap.add_argument("--train-labels", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--k", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    catalog = pd.read_csv(a.catalog)
    df = read_flows(a.flows)
    hosts = host_table(df)
    km = clusters(hosts, a.k)
    hosts["cluster"] = km.labels_
    hosts.to_csv(os.path.join(a.out, "hosts.csv"), index_label="host")
    cl = hosts.groupby("cluster").mean()
    cl.insert(0, "size", hosts.groupby("cluster").size())
    cl.to_csv(os.path.join(a.out, "clusters.csv"))
    d = downloads(df, a.train_flows, a.train_labels, catalog)
    votes = d.groupby(["da", "os"]).size().reset_index(name="n").sort_values(["da", "n"], ascending=[True, False])
    os_of = votes.drop_duplicates("da").set_index("da").os
    ups = d.groupby("da").file.apply(lambda s: ";".join(sorted(set(s))))
    inv = pd.DataFrame({"os": os_of, "updates": ups}).reindex(hosts.index)
    inv["os"] = inv.os.fillna("unknown")
    inv.to_csv(os.path.join(a.out, "inventory.csv"), index_label="host")
    print(f"nightly.py: {len(df)} flows, {len(hosts)} hosts, {len(d)} downloads, {km.n_clusters} clusters", file=sys.stderr)


if __name__ == "__main__":
    main()
