package clusters

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// synthHosts makes n hosts × d features drawn from groups behaviours:
// log-normal counts around a per-group level, as byte and packet counters
// are. Deterministic for a given seed.
func synthHosts(n, d, groups int, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 7))
	level := make([][]float64, groups)
	for g := range level {
		level[g] = make([]float64, d)
		for j := range level[g] {
			level[g][j] = 2 + 10*rng.Float64()
		}
	}
	x := mat.NewDense(n, d, nil)
	for i := range n {
		g := rng.IntN(groups)
		for j := range d {
			x.Set(i, j, math.Round(math.Exp(level[g][j]+0.6*rng.NormFloat64())))
		}
	}
	return x
}

func BenchmarkModelFit(b *testing.B) {
	const n, d = 5000, 20
	x := synthHosts(n, d, 5, 1)
	for _, k := range []int{0, 5} {
		name := fmt.Sprintf("k=%d", k)
		if k == 0 {
			name = "k=auto2..8"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var m Model
			for b.Loop() {
				m = Model{KMeans: KMeans{K: k, Src: rand.NewPCG(1, 2)}}
				if err := m.Fit(x); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "hosts/s")
			b.ReportMetric(float64(m.KMeans.NumClusters()), "k")
		})
	}
}

func BenchmarkSilhouetteSampled(b *testing.B) {
	const n, d = 5000, 20
	x := synthHosts(n, d, 5, 1)
	km := KMeans{K: 5, Src: rand.NewPCG(1, 2)}
	if err := km.Fit(x); err != nil {
		b.Fatal(err)
	}
	rows := sampleRows(rand.New(rand.NewPCG(3, 4)), n, DefaultSilhouetteRows)
	labels := km.Labels()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Silhouette(x, labels, rows); err != nil {
			b.Fatal(err)
		}
	}
}
