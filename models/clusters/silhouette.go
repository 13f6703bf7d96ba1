package clusters

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Silhouette returns the mean silhouette of the partition labels of the rows
// of x, with Euclidean distances. rows selects the rows whose silhouettes are
// averaged, each scored against all rows, so the cost is O(len(rows)·n·d);
// nil means every row (exact, O(n²·d)). A row alone in its cluster scores 0,
// as in scikit-learn. Labels must be 0..k-1.
func Silhouette(x mat.Matrix, labels []int, rows []int) (float64, error) {
	n, d := x.Dims()
	if len(labels) != n {
		return 0, fmt.Errorf("%w: %d labels for %d rows", ErrShape, len(labels), n)
	}
	k := 0
	for i, l := range labels {
		if l < 0 {
			return 0, fmt.Errorf("clusters: row %d: label %d", i, l)
		}
		k = max(k, l+1)
	}
	for _, r := range rows {
		if r < 0 || r >= n {
			return 0, fmt.Errorf("%w: row %d of %d", ErrShape, r, n)
		}
	}
	data, err := flatten(x)
	if err != nil {
		return 0, err
	}
	return silhouette(data, n, d, labels, k, rows), nil
}

func silhouette(data []float64, n, d int, labels []int, k int, rows []int) float64 {
	counts := make([]int, k)
	for _, l := range labels {
		counts[l]++
	}
	sums := make([]float64, k)
	var total float64
	m := 0
	score := func(i int) {
		m++
		ci := labels[i]
		if counts[ci] < 2 {
			return
		}
		clear(sums)
		row := data[i*d : (i+1)*d]
		for j := range n {
			sums[labels[j]] += math.Sqrt(sqDist(row, data[j*d:(j+1)*d]))
		}
		a := sums[ci] / float64(counts[ci]-1)
		b := math.Inf(1)
		for c, cnt := range counts {
			if c != ci && cnt > 0 {
				b = min(b, sums[c]/float64(cnt))
			}
		}
		if math.IsInf(b, 1) {
			return // a single cluster
		}
		if den := max(a, b); den > 0 {
			total += (b - a) / den
		}
	}
	if rows == nil {
		for i := range n {
			score(i)
		}
	} else {
		for _, i := range rows {
			score(i)
		}
	}
	if m == 0 {
		return 0
	}
	return total / float64(m)
}
