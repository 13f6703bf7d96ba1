#!/usr/bin/python3
"""Per-host traffic and 1-second rates with pandas, the way the SiLK + pandas
study computed them, to cross-check features.HostAggregator.

Usage: hostrates.py FLOWS.csv HOSTS.csv SITE.csv INTERNAL_CIDR...

FLOWS.csv is fingerflow's flow CSV (datasets/flowio: start,end,src,dst,
sport,dport,proto,flags,packets,bytes,has_reverse,rev_packets,rev_bytes,...).
For every endpoint inside one of the internal networks a record counts:
packets/bytes as out for the source and in for the destination, and, when
has_reverse is set and rev_packets or rev_bytes is non-zero, the reverse
counters the other way; each direction counted is one flow for its sender
and one for its receiver. A record with no internal endpoint is ignored.

The per-second series of a host holds the bytes (and packets) of both
directions of each of its records, spread evenly over [start, end): second k
gets float(bytes) * float(overlap_ns) / float(end_ns - start_ns), a
zero-length record everything in its start second. The series is resampled
with s.resample('1s').sum() (idle seconds inside the host's span become
zero) and summarised by its length, mean and 95th percentile (pandas'
default linear interpolation, and the 'lower' and 'higher' order statistics
around it). The site's series is the same over every record with an
internal endpoint, once.

HOSTS.csv gets one row per host (and one named "site"); SITE.csv the site's
resampled series.
"""

import ipaddress
import sys

import pandas as pd

SEC = 1_000_000_000


def main():
    flows_path, hosts_path, site_path = sys.argv[1:4]
    nets = [ipaddress.ip_network(c) for c in sys.argv[4:]]

    def internal(addr):
        if not isinstance(addr, str) or addr == "":
            return None
        a = ipaddress.ip_address(addr.split("%")[0])
        if a.version == 6 and a.ipv4_mapped is not None:
            a = a.ipv4_mapped
        if any(a.version == n.version and a in n for n in nets):
            return str(a)
        return None

    df = pd.read_csv(flows_path, dtype={"src": str, "dst": str}, keep_default_na=False)
    start = pd.to_datetime(df["start"], utc=True).astype("int64")
    end = pd.to_datetime(df["end"], utc=True).astype("int64")

    totals = {}
    rows = []  # (host, second, bytes, packets)

    def tot(h):
        return totals.setdefault(h, dict(bytes_out=0, bytes_in=0, packets_out=0,
                                         packets_in=0, flows_out=0, flows_in=0))

    for i in range(len(df)):
        r = df.iloc[i]
        src, dst = internal(r["src"]), internal(r["dst"])
        if src is None and dst is None:
            continue
        s, e = int(start.iloc[i]), int(end.iloc[i])
        if e < s:
            s, e = e, s
        fb, fp = int(r["bytes"]), int(r["packets"])
        rb = rp = 0
        rev = int(r["has_reverse"]) == 1 and (int(r["rev_packets"]) > 0 or int(r["rev_bytes"]) > 0)
        if rev:
            rb, rp = int(r["rev_bytes"]), int(r["rev_packets"])
        if src is not None:
            t = tot(src)
            t["bytes_out"] += fb
            t["packets_out"] += fp
            t["flows_out"] += 1
            if rev:
                t["bytes_in"] += rb
                t["packets_in"] += rp
                t["flows_in"] += 1
        if dst is not None:
            t = tot(dst)
            t["bytes_in"] += fb
            t["packets_in"] += fp
            t["flows_in"] += 1
            if rev:
                t["bytes_out"] += rb
                t["packets_out"] += rp
                t["flows_out"] += 1
        t = tot("site")
        t["bytes_out"] += fb + rb
        t["packets_out"] += fp + rp
        t["flows_out"] += 2 if rev else 1

        by, pk = float(fb + rb), float(fp + rp)
        targets = ["site"] + sorted({h for h in (src, dst) if h is not None})
        d = e - s
        if d == 0:
            secs = [(s // SEC, by, pk)]
        else:
            secs = []
            for k in range(s // SEC, (e - 1) // SEC + 1):
                ov = min(e, (k + 1) * SEC) - max(s, k * SEC)
                secs.append((k, by * float(ov) / float(d), pk * float(ov) / float(d)))
        for h in targets:
            for k, vb, vp in secs:
                rows.append((h, k, vb, vp))

    if not rows:
        sys.exit("no flow has an internal endpoint")
    series = pd.DataFrame(rows, columns=["host", "second", "bytes", "packets"])
    series.index = pd.to_datetime(series["second"], unit="s")
    out, site = [], {}
    for h, g in series.groupby("host", sort=True):
        row = dict(host=h, **totals[h])
        for col in ("bytes", "packets"):
            s = g[col].resample("1s").sum()
            row["span_s"] = len(s)
            row[col + "_mean"] = s.mean()
            row[col + "_p95"] = s.quantile(0.95)
            row[col + "_p95_lower"] = s.quantile(0.95, interpolation="lower")
            row[col + "_p95_higher"] = s.quantile(0.95, interpolation="higher")
            if h == "site":
                site[col] = s
        out.append(row)
    pd.DataFrame(out).to_csv(hosts_path, index=False, float_format="%.17g")
    pd.DataFrame({
        "second": site["bytes"].index.astype("int64") // SEC,
        "bytes": site["bytes"].values,
        "packets": site["packets"].values,
    }).to_csv(site_path, index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
