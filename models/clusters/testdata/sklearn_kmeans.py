"""Reference results from scikit-learn for the clusters tests.

    sklearn_kmeans.py iris                 iris measurements as CSV on stdout
    sklearn_kmeans.py kmeans TABLE.csv K,K N_INIT
                                           JSON on stdout: per k the labels
                                           and inertia of KMeans (N_INIT
                                           restarts), and the
                                           silhouette_score of those labels

TABLE.csv is an already standardised table (no header). Exit status 3 means
scikit-learn is not installed.
"""
import json
import sys

try:
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_iris
    from sklearn.metrics import silhouette_score
except ImportError as err:
    print("scikit-learn missing: %s" % err, file=sys.stderr)
    sys.exit(3)


def main():
    if sys.argv[1] == "iris":
        for row in load_iris().data:
            print(",".join(repr(float(v)) for v in row))
        return
    x = np.loadtxt(sys.argv[2], delimiter=",", ndmin=2)
    out = {}
    n_init = int(sys.argv[4])
    for k in (int(v) for v in sys.argv[3].split(",")):
        km = KMeans(n_clusters=k, init="k-means++", n_init=n_init, max_iter=300,
                    tol=1e-4, algorithm="lloyd", random_state=0).fit(x)
        out[str(k)] = {
            "labels": [int(v) for v in km.labels_],
            "inertia": float(km.inertia_),
            "silhouette": float(silhouette_score(x, km.labels_)),
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
