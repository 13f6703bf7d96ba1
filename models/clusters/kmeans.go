package clusters

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// Defaults of KMeans' zero fields.
const (
	DefaultKMin           = 2
	DefaultKMax           = 8
	DefaultNInit          = 10
	DefaultMaxIter        = 300
	DefaultTol            = 1e-4
	DefaultSilhouetteRows = 2000
)

// KMeans partitions rows into k clusters by minimising the within-cluster
// sum of squared distances (inertia). Seeds come from greedy k-means++ (as
// scikit-learn: 2+⌊ln k⌋ candidates per centre, the one that lowers the
// potential most is kept), Lloyd iterations run until no label changes, the
// centres move less than Tol, or MaxIter; the best of NInit restarts wins.
// With K zero, every k in KMin..KMax is fitted and the one with the highest
// mean silhouette kept (ties go to the smaller k).
//
// Set the configuration fields, call Fit, then read the results. The zero
// value of every field means its default.
type KMeans struct {
	// K fixes the number of clusters; 0 chooses it by silhouette.
	K int
	// KMin and KMax bound the search when K is 0 (defaults 2 and 8; KMax
	// is capped at rows-1).
	KMin, KMax int
	// NInit is the number of seeded restarts per k (default 10).
	NInit int
	// MaxIter bounds Lloyd iterations per restart (default 300).
	MaxIter int
	// Tol stops iterating when the squared movement of all centres is at
	// most Tol times the mean column variance (default 1e-4).
	Tol float64
	// SilhouetteRows bounds the silhouette's cost: up to this many rows the
	// mean silhouette is exact (O(n²)); beyond, it is the mean over a
	// sample of this many rows drawn from Src, each scored against all n
	// rows, so O(n·SilhouetteRows) per k (default 2000).
	SilhouetteRows int
	// Src is the only source of randomness; nil means a PCG seeded with
	// (1, 2), so a nil Src is reproducible too.
	Src rand.Source

	n, d      int
	k         int
	labels    []int
	centroids []float64 // k×d row-major
	inertia   float64
	iters     int
	scores    []Score
}

// Score is the outcome of one k tried while choosing k.
type Score struct {
	K          int
	Inertia    float64
	Silhouette float64
}

// partition is one k-means solution.
type partition struct {
	k       int
	labels  []int
	centres []float64
	inertia float64
	iters   int
}

func (km *KMeans) defaults() (kmin, kmax, ninit, maxIter int, tol float64, rows int) {
	kmin, kmax = cmp.Or(km.KMin, DefaultKMin), cmp.Or(km.KMax, DefaultKMax)
	ninit, maxIter = cmp.Or(km.NInit, DefaultNInit), cmp.Or(km.MaxIter, DefaultMaxIter)
	tol = cmp.Or(km.Tol, DefaultTol)
	rows = cmp.Or(km.SilhouetteRows, DefaultSilhouetteRows)
	return
}

// Fit clusters the rows of x. The table should already be prepared (see
// Scaler); Model does both.
func (km *KMeans) Fit(x mat.Matrix) error {
	n, d := x.Dims()
	data, err := flatten(x)
	if err != nil {
		return err
	}
	kmin, kmax, ninit, maxIter, tol, silRows := km.defaults()
	var ks []int
	switch {
	case km.K < 0:
		return fmt.Errorf("clusters: k = %d", km.K)
	case km.K > 0:
		if km.K > n {
			return fmt.Errorf("%w: k = %d with %d rows", ErrShape, km.K, n)
		}
		ks = []int{km.K}
	default:
		kmax = min(kmax, n-1)
		if kmin < 2 || kmin > kmax {
			return fmt.Errorf("%w: k range %d..%d with %d rows", ErrShape, kmin, kmax, n)
		}
		for k := kmin; k <= kmax; k++ {
			ks = append(ks, k)
		}
	}
	src := km.Src
	if src == nil {
		src = rand.NewPCG(1, 2)
	}
	rng := rand.New(src)

	// Tolerance relative to the data's spread, as scikit-learn.
	var meanVar float64
	for j := range d {
		var s, s2 float64
		for i := range n {
			v := data[i*d+j]
			s += v
			s2 += v * v
		}
		m := s / float64(n)
		meanVar += max(s2/float64(n)-m*m, 0)
	}
	tolAbs := tol * meanVar / float64(d)

	// One silhouette sample for every k, so that the ks compete on the same
	// rows.
	var sample []int
	if km.K == 0 && n > silRows {
		sample = sampleRows(rng, n, silRows)
	}

	var best *partition
	km.scores = nil
	bestSil := math.Inf(-1)
	for _, k := range ks {
		p := fitK(data, n, d, k, ninit, maxIter, tolAbs, rng)
		if km.K > 0 {
			best = p
			break
		}
		s := silhouette(data, n, d, p.labels, p.k, sample)
		km.scores = append(km.scores, Score{K: k, Inertia: p.inertia, Silhouette: s})
		if s > bestSil || best == nil {
			best, bestSil = p, s
		}
	}
	km.n, km.d = n, d
	km.k, km.labels, km.centroids = best.k, best.labels, best.centres
	km.inertia, km.iters = best.inertia, best.iters
	return nil
}

func flatten(x mat.Matrix) ([]float64, error) {
	n, d := x.Dims()
	if n == 0 || d == 0 {
		return nil, fmt.Errorf("%w: empty table", ErrShape)
	}
	data := make([]float64, n*d)
	for i := range n {
		for j := range d {
			v := x.At(i, j)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("row %d column %d: %w", i, j, ErrNotFinite)
			}
			data[i*d+j] = v
		}
	}
	return data, nil
}

// sampleRows draws m of n row indices without replacement, in ascending
// order.
func sampleRows(rng *rand.Rand, n, m int) []int {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	for i := range m {
		j := i + rng.IntN(n-i)
		perm[i], perm[j] = perm[j], perm[i]
	}
	s := perm[:m:m]
	slices.Sort(s)
	return s
}

func sqDist(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		t := v - b[i]
		s += t * t
	}
	return s
}

// fitK runs ninit seeded restarts for one k and keeps the lowest inertia
// (the first on ties).
func fitK(data []float64, n, d, k, ninit, maxIter int, tolAbs float64, rng *rand.Rand) *partition {
	var best *partition
	for range ninit {
		centres := seedPlusPlus(data, n, d, k, rng)
		p := lloyd(data, n, d, k, centres, maxIter, tolAbs)
		if best == nil || p.inertia < best.inertia {
			best = p
		}
	}
	canonical(best, d)
	return best
}

// seedPlusPlus is greedy k-means++: the first centre is a uniformly drawn
// row; each next one is the best of 2+⌊ln k⌋ rows drawn with probability
// proportional to their squared distance to the nearest centre so far.
func seedPlusPlus(data []float64, n, d, k int, rng *rand.Rand) []float64 {
	centres := make([]float64, 0, k*d)
	first := rng.IntN(n)
	centres = append(centres, data[first*d:(first+1)*d]...)
	closest := make([]float64, n)
	for i := range n {
		closest[i] = sqDist(data[i*d:(i+1)*d], centres)
	}
	trials := 2 + int(math.Log(float64(k)))
	cum := make([]float64, n)
	cand := make([]float64, n)
	bestDist := make([]float64, n)
	for c := 1; c < k; c++ {
		var s float64
		for i, v := range closest {
			s += v
			cum[i] = s
		}
		bestID, bestPot := -1, math.Inf(1)
		for range trials {
			var id int
			if s > 0 {
				id = min(sort.SearchFloat64s(cum, rng.Float64()*s), n-1)
			} else {
				id = rng.IntN(n)
			}
			row := data[id*d : (id+1)*d]
			var p float64
			for i := range n {
				cand[i] = min(closest[i], sqDist(data[i*d:(i+1)*d], row))
				p += cand[i]
			}
			if p < bestPot {
				bestID, bestPot = id, p
				copy(bestDist, cand)
			}
		}
		centres = append(centres, data[bestID*d:(bestID+1)*d]...)
		closest, bestDist = bestDist, closest
	}
	return centres
}

// assign labels every row with its nearest centre (the lowest index on
// ties), stores the squared distance and returns how many labels changed.
func assign(data []float64, n, d, k int, centres []float64, labels []int, dist []float64) (changed int) {
	for i := range n {
		row := data[i*d : (i+1)*d]
		bj, bd := 0, math.Inf(1)
		for j := range k {
			if dd := sqDist(row, centres[j*d:(j+1)*d]); dd < bd {
				bj, bd = j, dd
			}
		}
		if labels[i] != bj {
			changed++
			labels[i] = bj
		}
		dist[i] = bd
	}
	return changed
}

// lloyd iterates assignment and update steps from the given centres.
func lloyd(data []float64, n, d, k int, centres []float64, maxIter int, tolAbs float64) *partition {
	labels := make([]int, n)
	for i := range labels {
		labels[i] = -1
	}
	dist := make([]float64, n)
	counts := make([]int, k)
	next := make([]float64, k*d)
	iters := 0
	for iters < maxIter {
		iters++
		if changed := assign(data, n, d, k, centres, labels, dist); changed == 0 {
			break
		}
		clear(counts)
		for _, l := range labels {
			counts[l]++
		}
		relocateEmpty(labels, dist, counts)
		clear(next)
		for i, l := range labels {
			c := next[l*d : (l+1)*d]
			for j, v := range data[i*d : (i+1)*d] {
				c[j] += v
			}
		}
		var shift float64
		for l := range k {
			c := next[l*d : (l+1)*d]
			inv := 1 / float64(counts[l])
			for j := range c {
				c[j] *= inv
			}
			shift += sqDist(c, centres[l*d:(l+1)*d])
		}
		centres, next = next, centres
		if shift <= tolAbs {
			break
		}
	}
	// Final assignment, so that labels and inertia belong to the centres.
	assign(data, n, d, k, centres, labels, dist)
	var inertia float64
	for _, v := range dist {
		inertia += v
	}
	return &partition{k: k, labels: labels, centres: centres, inertia: inertia, iters: iters}
}

// relocateEmpty gives each empty cluster, in index order, the row farthest
// from its centre among clusters that can spare one (the lowest row index
// on ties). No randomness is involved.
func relocateEmpty(labels []int, dist []float64, counts []int) {
	for c, cnt := range counts {
		if cnt > 0 {
			continue
		}
		far, fd := -1, -1.0
		for i, l := range labels {
			if counts[l] > 1 && dist[i] > fd {
				far, fd = i, dist[i]
			}
		}
		if far < 0 {
			return // fewer distinct rows than clusters
		}
		counts[labels[far]]--
		labels[far] = c
		counts[c] = 1
		dist[far] = 0
	}
}

// canonical renumbers clusters by size, largest first, ties broken by the
// centroids in lexicographic order.
func canonical(p *partition, d int) {
	k := p.k
	size := make([]int, k)
	for _, l := range p.labels {
		size[l]++
	}
	order := make([]int, k)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmp.Compare(size[b], size[a]); c != 0 {
			return c
		}
		return slices.Compare(p.centres[a*d:(a+1)*d], p.centres[b*d:(b+1)*d])
	})
	newID := make([]int, k)
	centres := make([]float64, 0, k*d)
	for nw, old := range order {
		newID[old] = nw
		centres = append(centres, p.centres[old*d:(old+1)*d]...)
	}
	for i, l := range p.labels {
		p.labels[i] = newID[l]
	}
	p.centres = centres
}

// NumClusters returns the number of clusters of the fitted partition.
func (km *KMeans) NumClusters() int { return km.k }

// Labels returns each row's cluster, 0 being the largest cluster.
func (km *KMeans) Labels() []int { return slices.Clone(km.labels) }

// CentroidsTo writes the k×d centroids (in the space of the fitted table)
// into dst, resizing it if empty.
func (km *KMeans) CentroidsTo(dst *mat.Dense) error {
	if km.labels == nil {
		return ErrNotFitted
	}
	if dst.IsEmpty() {
		dst.ReuseAs(km.k, km.d)
	} else if r, c := dst.Dims(); r != km.k || c != km.d {
		return fmt.Errorf("%w: dst is %d×%d, want %d×%d", ErrShape, r, c, km.k, km.d)
	}
	for i := range km.k {
		dst.SetRow(i, km.centroids[i*km.d:(i+1)*km.d])
	}
	return nil
}

// Sizes returns the number of rows in each cluster.
func (km *KMeans) Sizes() []int {
	s := make([]int, km.k)
	for _, l := range km.labels {
		s[l]++
	}
	return s
}

// Inertia returns the sum of squared distances of rows to their centroid.
func (km *KMeans) Inertia() float64 { return km.inertia }

// Iterations returns the Lloyd iterations of the winning restart.
func (km *KMeans) Iterations() int { return km.iters }

// Scores returns, when k was chosen by silhouette, the score of every k
// tried; nil when K was fixed.
func (km *KMeans) Scores() []Score { return slices.Clone(km.scores) }

// Predict assigns rows of x (prepared like the fitted table) to the nearest
// centroid.
func (km *KMeans) Predict(x mat.Matrix) ([]int, error) {
	if km.labels == nil {
		return nil, ErrNotFitted
	}
	n, d := x.Dims()
	if d != km.d {
		return nil, fmt.Errorf("%w: %d columns, fitted on %d", ErrShape, d, km.d)
	}
	data, err := flatten(x)
	if err != nil {
		return nil, err
	}
	labels := make([]int, n)
	assign(data, n, d, km.k, km.centroids, labels, make([]float64, n))
	return labels, nil
}
