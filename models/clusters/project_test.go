package clusters

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestProject2D(t *testing.T) {
	// Two correlated columns and a small independent one: the first
	// component carries most of the variance.
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 200
	x := mat.NewDense(n, 3, nil)
	for i := range n {
		a := rng.NormFloat64()
		x.Set(i, 0, a)
		x.Set(i, 1, 2*a+0.05*rng.NormFloat64())
		x.Set(i, 2, 0.3*rng.NormFloat64())
	}
	cols := []Column{{Name: "a", Skew: Symmetric}, {Name: "b", Skew: Symmetric}, {Name: "c", Skew: Symmetric}}
	p, err := Project2D(x, cols)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Points) != n {
		t.Fatalf("%d points, want %d", len(p.Points), n)
	}
	// Standardised, the two correlated columns make 2 of 3 units of
	// variance, the third one.
	if got := p.Explained[0]; math.Abs(got-2.0/3) > 0.02 {
		t.Errorf("first component explains %.3f, want about 2/3", got)
	}
	if got := p.Explained[1]; math.Abs(got-1.0/3) > 0.02 {
		t.Errorf("second component explains %.3f, want about 1/3", got)
	}
	for k, w := range p.Loadings {
		big := 0.0
		for _, v := range w {
			if math.Abs(v) > math.Abs(big) {
				big = v
			}
		}
		if big <= 0 {
			t.Errorf("component %d: largest weight %g, want positive", k, big)
		}
	}
	// Row order does not change a row's point.
	y := mat.NewDense(n, 3, nil)
	for i := range n {
		y.SetRow(n-1-i, x.RawRowView(i))
	}
	q, err := Project2D(y, cols)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		for k := range 2 {
			if d := math.Abs(p.Points[i][k] - q.Points[n-1-i][k]); d > 1e-9 {
				t.Fatalf("row %d component %d: %g reversed, %g in order", i, k, q.Points[n-1-i][k], p.Points[i][k])
			}
		}
	}
}

func TestProject2DShapes(t *testing.T) {
	if _, err := Project2D(mat.NewDense(1, 3, nil), nil); !errors.Is(err, ErrShape) {
		t.Errorf("one row: %v, want ErrShape", err)
	}
	one := mat.NewDense(3, 1, []float64{1, 2, 4})
	p, err := Project2D(one, []Column{{Name: "x", Skew: Symmetric}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Points[0][1] != 0 || p.Explained[1] != 0 || len(p.Loadings[1]) != 1 {
		t.Errorf("one column: second component %v, explained %v, loadings %v", p.Points[0][1], p.Explained[1], p.Loadings[1])
	}
	if len(HostFeatureColumns()) != len(HostColumnNames()) {
		t.Error("HostFeatureColumns and HostColumnNames disagree")
	}
}
