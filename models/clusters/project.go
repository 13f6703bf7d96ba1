package clusters

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// HostFeatureColumns are the columns FitHosts clusters on, in the order of
// HostColumnNames, with how each is prepared: the settings to reproduce
// its prepared table from the host feature table's columns of these names.
func HostFeatureColumns() []Column {
	cs := hostColumns()
	out := make([]Column, len(cs))
	for i, c := range cs {
		out[i] = c.Column
	}
	return out
}

// Projection is a table's projection on its first two principal
// components.
type Projection struct {
	// Points holds each row's coordinates on the two components.
	Points [][2]float64
	// Explained is the share of the prepared table's variance along each
	// component, 0 to 1.
	Explained [2]float64
	// Loadings are the components' weights, one per column of the table.
	Loadings [2][]float64
}

// Project2D prepares x as Model.Fit does (log1p on skewed columns, then
// z-scores, with the settings in columns; nil decides from the data) and
// projects it on its first two principal components (gonum's stat.PC).
// Each component's sign is chosen so that its largest weight is positive,
// so the same table always gives the same picture. A table of one column
// projects on one component and 0.
func Project2D(x mat.Matrix, columns []Column) (*Projection, error) {
	n, d := x.Dims()
	if n < 2 || d < 1 {
		return nil, fmt.Errorf("%w: %d rows, %d columns: want at least 2 rows", ErrShape, n, d)
	}
	s := Scaler{Columns: columns}
	if err := s.Fit(x); err != nil {
		return nil, err
	}
	var z mat.Dense
	if err := s.Transform(&z, x); err != nil {
		return nil, err
	}
	p := &Projection{Points: make([][2]float64, n)}
	var pc stat.PC
	if !pc.PrincipalComponents(&z, nil) {
		return nil, fmt.Errorf("clusters: principal components of a %d×%d table did not converge", n, d)
	}
	var vecs mat.Dense
	pc.VectorsTo(&vecs)
	vars := pc.VarsTo(nil)
	total := 0.0
	for _, v := range vars {
		total += v
	}
	_, nc := vecs.Dims()
	for k := range min(2, nc) {
		w := mat.Col(nil, k, &vecs)
		big := 0
		for j := range w {
			if abs(w[j]) > abs(w[big])+1e-12 {
				big = j
			}
		}
		if w[big] < 0 {
			for j := range w {
				w[j] = -w[j]
			}
		}
		p.Loadings[k] = w
		if total > 0 {
			p.Explained[k] = vars[k] / total
		}
		for i := range n {
			p.Points[i][k] = mat.Dot(z.RowView(i), mat.NewVecDense(d, w))
		}
	}
	if p.Loadings[1] == nil {
		p.Loadings[1] = make([]float64, d)
	}
	return p, nil
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
