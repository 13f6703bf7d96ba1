package features

import (
	"math"
	"testing"
)

// The linear counter's error stays within three standard errors of the
// estimator, sqrt(m(e^t-t-1))/n with t = n/m (Whang et al.), over many sets.
func TestLinearCounter(t *testing.T) {
	for _, n := range []int{1, 3, 10, 50, 250, 1000} {
		var sq float64
		const sets = 200
		for s := 0; s < sets; s++ {
			var c linearCounter
			for i := 0; i < n; i++ {
				c.add(mix64(uint64(s)<<32 | uint64(i)))
			}
			e := float64(c.estimate()-n) / float64(n)
			sq += e * e
		}
		rmse := math.Sqrt(sq / sets)
		tt := float64(n) / 256
		se := math.Sqrt(256*(math.Exp(tt)-tt-1)) / float64(n)
		if rmse > 3*se+0.01 {
			t.Errorf("%d distinct: relative RMS error %.3f, standard error %.3f", n, rmse, se)
		}
		t.Logf("%d distinct: relative RMS error %.3f (standard error %.3f)", n, rmse, se)
	}
	var c linearCounter
	for i := 0; i < 100000; i++ {
		c.add(mix64(uint64(i)))
	}
	if c.estimate() != linearMax {
		t.Errorf("full bitmap estimates %d, want %d", c.estimate(), linearMax)
	}
}
