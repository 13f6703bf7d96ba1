package clusters

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gonum.org/v1/gonum/mat"
)

// blobs returns n rows around the given centres (spread sd) and each row's
// blob.
func blobs(centres [][]float64, n int, sd float64, seed uint64) (*mat.Dense, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := len(centres[0])
	x := mat.NewDense(n, d, nil)
	truth := make([]int, n)
	for i := range n {
		g := i % len(centres)
		truth[i] = g
		for j := range d {
			x.Set(i, j, centres[g][j]+sd*rng.NormFloat64())
		}
	}
	return x, truth
}

// prepared returns synthHosts scaled as Model would.
func prepared(t testing.TB, n, d, groups int, seed uint64) *mat.Dense {
	t.Helper()
	x := synthHosts(n, d, groups, seed)
	var s Scaler
	var z mat.Dense
	if err := s.Fit(x); err != nil {
		t.Fatal(err)
	}
	if err := s.Transform(&z, x); err != nil {
		t.Fatal(err)
	}
	return &z
}

func TestKMeansRecoversBlobs(t *testing.T) {
	three := [][]float64{{0, 0}, {10, 0}, {0, 10}}
	four := [][]float64{{0, 0, 0, 0, 0}, {5, 5, 0, 0, 0}, {0, 0, 5, 5, 0}, {0, 5, 0, 5, 5}}
	tests := []struct {
		name    string
		centres [][]float64
		n       int
		k       int // 0: chosen by silhouette
		wantK   int
	}{
		{"three blobs, k fixed", three, 90, 3, 3},
		{"three blobs, k chosen", three, 90, 0, 3},
		{"four blobs in 5-D, k chosen", four, 200, 0, 4},
		{"four blobs, k chosen on a silhouette sample", four, 1500, 0, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, truth := blobs(tc.centres, tc.n, 0.5, 1)
			km := KMeans{K: tc.k, SilhouetteRows: 500, Src: rand.NewPCG(3, 4)}
			if err := km.Fit(x); err != nil {
				t.Fatal(err)
			}
			if km.NumClusters() != tc.wantK {
				t.Fatalf("k = %d, want %d (scores %+v)", km.NumClusters(), tc.wantK, km.Scores())
			}
			ari, err := AdjustedRand(truth, km.Labels())
			if err != nil {
				t.Fatal(err)
			}
			if ari != 1 {
				t.Errorf("adjusted Rand index %g against the blobs, want 1", ari)
			}
			if sizes := km.Sizes(); !slices.IsSortedFunc(sizes, func(a, b int) int { return b - a }) {
				t.Errorf("sizes %v not in descending order", sizes)
			}
			if tc.k == 0 && len(km.Scores()) != 7 {
				t.Errorf("%d scores, want 7 (k = 2..8)", len(km.Scores()))
			}
			pred, err := km.Predict(x)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(km.Labels(), pred); diff != "" {
				t.Errorf("Predict on the fitted rows (-want +got):\n%s", diff)
			}
		})
	}
}

func fitted(t *testing.T, x mat.Matrix, km KMeans) ([]int, []float64, float64) {
	t.Helper()
	if err := km.Fit(x); err != nil {
		t.Fatal(err)
	}
	var c mat.Dense
	if err := km.CentroidsTo(&c); err != nil {
		t.Fatal(err)
	}
	return km.Labels(), c.RawMatrix().Data, km.Inertia()
}

func TestKMeansSameSeedSameResult(t *testing.T) {
	x := prepared(t, 400, 6, 4, 5)
	for _, k := range []int{0, 3, 6} {
		l1, c1, i1 := fitted(t, x, KMeans{K: k, Src: rand.NewPCG(9, 9)})
		l2, c2, i2 := fitted(t, x, KMeans{K: k, Src: rand.NewPCG(9, 9)})
		if diff := cmp.Diff(l1, l2); diff != "" {
			t.Errorf("k=%d: labels differ between two fits with one seed (-first +second):\n%s", k, diff)
		}
		if diff := cmp.Diff(c1, c2); diff != "" {
			t.Errorf("k=%d: centroids differ (-first +second):\n%s", k, diff)
		}
		if i1 != i2 {
			t.Errorf("k=%d: inertia %v then %v", k, i1, i2)
		}
	}
}

func TestKMeansRowOrderDoesNotMatter(t *testing.T) {
	x := prepared(t, 400, 6, 4, 5)
	n, d := x.Dims()
	perm := rand.New(rand.NewPCG(11, 12)).Perm(n)
	xp := mat.NewDense(n, d, nil)
	for i, p := range perm {
		xp.SetRow(i, x.RawRowView(p))
	}
	for _, k := range []int{0, 4} {
		l, c, in := fitted(t, x, KMeans{K: k, Src: rand.NewPCG(1, 2)})
		lp, cp, inp := fitted(t, xp, KMeans{K: k, Src: rand.NewPCG(1, 2)})
		back := make([]int, n)
		for i, p := range perm {
			back[p] = lp[i]
		}
		if diff := cmp.Diff(l, back); diff != "" {
			t.Errorf("k=%d: labels of permuted rows, put back in order (-original +permuted):\n%s", k, diff)
		}
		// Sums in another order differ in the last bits.
		if diff := cmp.Diff(c, cp, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
			t.Errorf("k=%d: centroids (-original +permuted):\n%s", k, diff)
		}
		if math.Abs(in-inp) > 1e-9*in {
			t.Errorf("k=%d: inertia %v, permuted %v", k, in, inp)
		}
	}
}

func TestKMeansFewDistinctRows(t *testing.T) {
	// Three distinct rows, five clusters: seeding draws duplicates and
	// Lloyd empties clusters, which must be refilled without randomness or
	// NaN.
	rows := [][]float64{{0, 0}, {0, 0}, {1, 1}, {1, 1}, {1, 1}, {5, 5}, {5, 5}, {0, 0}}
	x, err := Matrix(rows)
	if err != nil {
		t.Fatal(err)
	}
	l1, c1, i1 := fitted(t, x, KMeans{K: 5, Src: rand.NewPCG(1, 1)})
	l2, c2, _ := fitted(t, x, KMeans{K: 5, Src: rand.NewPCG(1, 1)})
	if !cmp.Equal(l1, l2) || !cmp.Equal(c1, c2) {
		t.Errorf("two fits differ: %v %v, %v %v", l1, c1, l2, c2)
	}
	for _, v := range c1 {
		if math.IsNaN(v) {
			t.Fatalf("NaN centroid: %v", c1)
		}
	}
	if i1 != 0 {
		t.Errorf("inertia %g, want 0", i1)
	}
	ari, _ := AdjustedRand([]int{0, 0, 1, 1, 1, 2, 2, 0}, l1)
	if ari != 1 {
		t.Errorf("labels %v do not separate the three distinct rows", l1)
	}
}

func TestKMeansErrors(t *testing.T) {
	x, _ := blobs([][]float64{{0}, {1}}, 4, 0.1, 1)
	nan := mat.NewDense(3, 1, []float64{0, math.NaN(), 1})
	tests := []struct {
		name string
		km   KMeans
		x    mat.Matrix
		want error
	}{
		{"k above rows", KMeans{K: 5}, x, ErrShape},
		{"k range empty", KMeans{KMin: 5, KMax: 8}, x, ErrShape},
		{"NaN", KMeans{K: 2}, nan, ErrNotFinite},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.km.Fit(tc.x); !errors.Is(err, tc.want) {
				t.Errorf("Fit: %v, want %v", err, tc.want)
			}
		})
	}
	var km KMeans
	if _, err := km.Predict(x); !errors.Is(err, ErrNotFitted) {
		t.Errorf("Predict before Fit: %v, want ErrNotFitted", err)
	}
}

func TestSilhouette(t *testing.T) {
	// Points on a line, hand-computed (a: mean distance within the cluster,
	// b: mean distance to the nearest other cluster, s = (b-a)/max(a,b)):
	//   0 in {0,1}: a=1, b=(5+7)/2=6   → 5/6
	//   1 in {0,1}: a=1, b=(4+6)/2=5   → 4/5
	//   5 in {5,7}: a=2, b=(5+4)/2=4.5 → 5/9
	//   7 in {5,7}: a=2, b=(7+6)/2=6.5 → 9/13
	// With a lone point at 20 in its own cluster: it scores 0, and 7's
	// nearest other cluster stays {0,1} (6.5 < 13).
	line := mat.NewDense(4, 1, []float64{0, 1, 5, 7})
	lone := mat.NewDense(5, 1, []float64{0, 1, 5, 7, 20})
	tests := []struct {
		name   string
		x      mat.Matrix
		labels []int
		rows   []int
		want   float64
	}{
		{"two clusters", line, []int{0, 0, 1, 1}, nil, (5.0/6 + 4.0/5 + 5.0/9 + 9.0/13) / 4},
		{"labels renamed", line, []int{1, 1, 0, 0}, nil, (5.0/6 + 4.0/5 + 5.0/9 + 9.0/13) / 4},
		{"sample of rows", line, []int{0, 0, 1, 1}, []int{0, 3}, (5.0/6 + 9.0/13) / 2},
		{"singleton scores 0", lone, []int{0, 0, 1, 1, 2}, nil, (5.0/6 + 4.0/5 + 5.0/9 + 9.0/13 + 0) / 5},
		{"one cluster", line, []int{0, 0, 0, 0}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Silhouette(tc.x, tc.labels, tc.rows)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tc.want) > 1e-15 {
				t.Errorf("Silhouette = %.17g, want %.17g", got, tc.want)
			}
		})
	}
}

func TestAdjustedRand(t *testing.T) {
	// Values from scikit-learn's adjusted_rand_score documentation.
	tests := []struct {
		a, b []int
		want float64
	}{
		{[]int{0, 0, 1, 1}, []int{0, 0, 1, 1}, 1},
		{[]int{0, 0, 1, 1}, []int{1, 1, 0, 0}, 1},
		{[]int{0, 0, 1, 2}, []int{0, 0, 1, 1}, 0.5714285714285714},
		{[]int{0, 0, 1, 1}, []int{0, 0, 1, 2}, 0.5714285714285714},
		{[]int{0, 0, 1, 1}, []int{0, 1, 0, 1}, -0.5},
		{[]int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 1},
	}
	for _, tc := range tests {
		got, err := AdjustedRand(tc.a, tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("AdjustedRand(%v, %v) = %.17g, want %.17g", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestKMeansScoresOfOneK(t *testing.T) {
	// A search range of one k still reports its silhouette.
	x, _ := blobs([][]float64{{0, 0}, {10, 0}, {0, 10}}, 30, 0.5, 1)
	km := KMeans{KMin: 3, KMax: 3, Src: rand.NewPCG(1, 2)}
	if err := km.Fit(x); err != nil {
		t.Fatal(err)
	}
	if s := km.Scores(); len(s) != 1 || s[0].K != 3 || !(s[0].Silhouette > 0.8) {
		t.Errorf("scores %+v, want one high score for k = 3", s)
	}
	fixed := KMeans{K: 3, Src: rand.NewPCG(1, 2)}
	if err := fixed.Fit(x); err != nil {
		t.Fatal(err)
	}
	if s := fixed.Scores(); s != nil {
		t.Errorf("scores %+v with k fixed, want nil", s)
	}
}
