"""Reference results from statsmodels for the survival tests.

    statsmodels_survival.py FLOWS.csv   JSON on stdout

FLOWS.csv has a header and columns duration,event,group (event 1 when the
flow ended, 0 when censored). The output holds, for all flows ("*") and for
each group, statsmodels' SurvfuncRight curve (event times, number at risk,
events, survival, Greenwood standard error), the pointwise 95% interval on
the log(-log) scale computed from those with the g-transform of
quantile_ci, the median and its quantile_ci; and survdiff's log-rank
statistic and p-value across the groups, with scipy's chi2.sf of the
statistic. Non-finite numbers are written as the strings "NaN", "+Inf" and
"-Inf". Exit status 3 means statsmodels is not installed.
"""
import csv
import json
import math
import sys
import warnings

try:
    import numpy as np
    from scipy.stats import chi2, norm
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


def nums(a):
    return [num(v) for v in a]


def curve(time, status):
    sf = SurvfuncRight(time, status)
    s, se = sf.surv_prob, sf.surv_prob_se
    z = norm.ppf(1 - 0.05 / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.log(-np.log(s))
        gse = np.abs(-1 / (s * np.log(s))) * se
        lower = np.exp(-np.exp(g + z * gse))
        upper = np.exp(-np.exp(g - z * gse))
    lo, hi = sf.quantile_ci(0.5)
    return {
        "times": nums(sf.surv_times),
        "n_risk": nums(sf.n_risk),
        "n_events": nums(sf.n_events),
        "surv": nums(s),
        "se": nums(se),
        "lower": nums(lower),
        "upper": nums(upper),
        "median": num(sf.quantile(0.5)),
        "median_ci": [num(lo), num(hi)],
    }


def main():
    warnings.simplefilter("ignore")  # log(0) where the survival reaches 0
    time, status, group = [], [], []
    with open(sys.argv[1], newline="") as f:
        for row in csv.DictReader(f):
            time.append(float(row["duration"]))
            status.append(int(row["event"]))
            group.append(row["group"])
    time, status, group = np.array(time), np.array(status), np.array(group)
    out = {"km": {"*": curve(time, status)}}
    for g in sorted(set(group)):
        ii = group == g
        out["km"][g] = curve(time[ii], status[ii])
    stat, p = survdiff(time, status, group)
    df = len(set(group)) - 1
    out["logrank"] = {"stat": num(stat), "p": num(p), "sf": num(chi2.sf(stat, df)), "df": df}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
