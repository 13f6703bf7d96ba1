"""Reference lifespans from statsmodels, computed from nfdump's text.

    lifespans.py ACTIVE_TIMEOUT SLACK PORTS FLOWS.csv...   JSON on stdout

Each FLOWS.csv is `nfdump -R DIR -o csv`. Every record is a flow whose
lifespan is td seconds; it is censored when it is TCP without F or R in its
flags, or when td >= ACTIVE_TIMEOUT - SLACK; otherwise it ended. Flows are
grouped by protocol (lower-case name) and by service port: "PORT/proto"
with the lower of the two ports for TCP and UDP, the protocol's name for
others; the PORTS service groups with the most flows (ties by name) keep
their name, the rest are "other". For every group: statsmodels'
SurvfuncRight event times, numbers at risk and of events, survival, its
standard error, the median and its quantile_ci; for every grouping
survdiff's log-rank statistic and p-value. Non-finite numbers are the
strings "NaN", "+Inf", "-Inf". Exit status 3: statsmodels is missing.
"""
import csv
import json
import math
import sys
import warnings

try:
    import numpy as np
    from statsmodels.duration.survfunc import SurvfuncRight, survdiff
except ImportError as err:
    print("statsmodels missing: %s" % err, file=sys.stderr)
    sys.exit(3)


def num(v):
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return v


def curve(time, status):
    sf = SurvfuncRight(time, status)
    lo, hi = sf.quantile_ci(0.5)
    return {
        "times": [num(v) for v in sf.surv_times],
        "n_risk": [num(v) for v in sf.n_risk],
        "n_events": [num(v) for v in sf.n_events],
        "surv": [num(v) for v in sf.surv_prob],
        "se": [num(v) for v in sf.surv_prob_se],
        "median": num(sf.quantile(0.5)),
        "median_ci": [num(lo), num(hi)],
        "flows": int(len(time)),
        "ended": int(sum(status)),
    }


def main():
    warnings.simplefilter("ignore")
    active, slack, ports = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    time, status, proto, service = [], [], [], []
    for path in sys.argv[4:]:
        with open(path, newline="") as f:
            rows = csv.reader(f)
            head = next(rows)
            col = {h: i for i, h in enumerate(head)}
            for row in rows:
                if len(row) != len(head):
                    break  # the summary
                td = float(row[col["td"]])
                pr = row[col["pr"]].lower()
                ended = 1
                if pr == "tcp" and "F" not in row[col["flg"]] and "R" not in row[col["flg"]]:
                    ended = 0
                if td >= active - slack:
                    ended = 0
                if pr in ("tcp", "udp"):
                    svc = "%d/%s" % (min(int(row[col["sp"]]), int(row[col["dp"]])), pr)
                else:
                    svc = pr
                time.append(td)
                status.append(ended)
                proto.append(pr)
                service.append(svc)
    counts = {}
    for s in service:
        counts[s] = counts.get(s, 0) + 1
    ranked = sorted(counts, key=lambda s: (-counts[s], s))
    keep = set(ranked[:ports])
    service = [s if s in keep else "other" for s in service]
    time, status = np.array(time), np.array(status)
    out = {}
    for name, groups in (("protocol", proto), ("service port", service)):
        groups = np.array(groups)
        g = {k: curve(time[groups == k], status[groups == k]) for k in sorted(set(groups))}
        res = {"groups": g}
        if len(g) > 1:
            stat, p = survdiff(time, status, groups)
            res["logrank"] = {"stat": num(stat), "p": num(p), "df": len(g) - 1}
        out[name] = res
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
