package clusters

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// Skew says whether a column is log1p-transformed before standardising.
type Skew int

const (
	// SkewAuto lets the Scaler decide from the data: a column is
	// log1p-transformed when all its values are ≥ 0 and its sample skewness
	// exceeds the Scaler's SkewBound. Counts of bytes, packets and peers
	// usually qualify.
	SkewAuto Skew = iota
	// Skewed always log1p-transforms the column; its values must be > -1.
	Skewed
	// Symmetric never transforms the column.
	Symmetric
)

// DefaultSkewBound is the skewness above which SkewAuto log-transforms a
// column of non-negative values.
const DefaultSkewBound = 1.0

// Column describes one column of a hosts × features table: its name, how to
// prepare it and the phrases Describe uses for a cluster well above (High)
// or well below (Low) the overall distribution, e.g. bytes_in with High
// "heavy downloaders", or peers with High "talks to many peers" and Low
// "quiet".
type Column struct {
	Name      string
	Skew      Skew
	High, Low string
}

var (
	// ErrShape is returned when a table does not have the expected number
	// of columns, or labels and rows disagree in number.
	ErrShape = errors.New("clusters: shape mismatch")
	// ErrNotFinite is returned for a NaN or infinite value.
	ErrNotFinite = errors.New("clusters: value not finite")
	// ErrLogDomain is returned when a log1p column holds a value ≤ -1.
	ErrLogDomain = errors.New("clusters: log1p of a value ≤ -1")
	// ErrNotFitted is returned when a result is asked of a model that was
	// not fitted.
	ErrNotFitted = errors.New("clusters: not fitted")
)

// Scaler prepares a table for k-means: log1p on skewed columns, then
// z-scores (population standard deviation, as scikit-learn's StandardScaler).
// A constant column is mapped to 0, never NaN. Set Columns and SkewBound,
// call Fit, then Transform and Inverse.
type Scaler struct {
	// Columns gives per-column settings; nil treats every column as
	// SkewAuto. When set, its length must match the table's columns.
	Columns []Column
	// SkewBound is the skewness bound of SkewAuto; 0 means
	// DefaultSkewBound.
	SkewBound float64

	logged []bool
	mean   []float64
	scale  []float64 // standard deviation, 0 for a constant column
}

// Fit learns, for each column, whether to take log1p and the mean and
// standard deviation of the (transformed) values.
func (s *Scaler) Fit(x mat.Matrix) error {
	n, d := x.Dims()
	if s.Columns != nil && len(s.Columns) != d {
		return fmt.Errorf("%w: %d columns, %d column specs", ErrShape, d, len(s.Columns))
	}
	if n == 0 {
		return fmt.Errorf("%w: no rows", ErrShape)
	}
	bound := s.SkewBound
	if bound == 0 {
		bound = DefaultSkewBound
	}
	logged := make([]bool, d)
	mean := make([]float64, d)
	scale := make([]float64, d)
	col := make([]float64, n)
	for j := range d {
		nonNeg := true
		for i := range n {
			v := x.At(i, j)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s: row %d: %w", s.name(j), i, ErrNotFinite)
			}
			nonNeg = nonNeg && v >= 0
			col[i] = v
		}
		switch s.skew(j) {
		case Skewed:
			logged[j] = true
		case SkewAuto:
			// A constant column has NaN skewness and stays linear.
			logged[j] = nonNeg && n > 2 && stat.Skew(col, nil) > bound
		}
		if logged[j] {
			for i, v := range col {
				if v <= -1 {
					return fmt.Errorf("%s: row %d: %g: %w", s.name(j), i, v, ErrLogDomain)
				}
				col[i] = math.Log1p(v)
			}
		}
		m, sd := stat.PopMeanStdDev(col, nil)
		if !(sd > 1e-12*math.Max(1, math.Abs(m))) {
			sd = 0
		}
		mean[j], scale[j] = m, sd
	}
	s.logged, s.mean, s.scale = logged, mean, scale
	return nil
}

func (s *Scaler) skew(j int) Skew {
	if s.Columns == nil {
		return SkewAuto
	}
	return s.Columns[j].Skew
}

func (s *Scaler) name(j int) string {
	if s.Columns != nil && s.Columns[j].Name != "" {
		return s.Columns[j].Name
	}
	return fmt.Sprintf("column %d", j)
}

// Transform writes the prepared table of x into dst. If dst is empty it is
// resized; otherwise it must have the shape of x.
func (s *Scaler) Transform(dst *mat.Dense, x mat.Matrix) error {
	if s.mean == nil {
		return ErrNotFitted
	}
	n, d := x.Dims()
	if err := s.reuse(dst, n, d); err != nil {
		return err
	}
	for j := range d {
		for i := range n {
			v := x.At(i, j)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s: row %d: %w", s.name(j), i, ErrNotFinite)
			}
			if s.logged[j] {
				if v <= -1 {
					return fmt.Errorf("%s: row %d: %g: %w", s.name(j), i, v, ErrLogDomain)
				}
				v = math.Log1p(v)
			}
			z := 0.0
			if s.scale[j] > 0 {
				z = (v - s.mean[j]) / s.scale[j]
			}
			dst.Set(i, j, z)
		}
	}
	return nil
}

// Inverse maps prepared values back to original units into dst. For a
// log1p column the inverse of a mean is expm1 of the mean log, a
// geometric-style mean rather than the arithmetic one.
func (s *Scaler) Inverse(dst *mat.Dense, z mat.Matrix) error {
	if s.mean == nil {
		return ErrNotFitted
	}
	n, d := z.Dims()
	if err := s.reuse(dst, n, d); err != nil {
		return err
	}
	for j := range d {
		for i := range n {
			v := z.At(i, j)*s.scale[j] + s.mean[j]
			if s.logged[j] {
				v = math.Expm1(v)
			}
			dst.Set(i, j, v)
		}
	}
	return nil
}

func (s *Scaler) reuse(dst *mat.Dense, n, d int) error {
	if d != len(s.mean) {
		return fmt.Errorf("%w: %d columns, fitted on %d", ErrShape, d, len(s.mean))
	}
	if dst.IsEmpty() {
		dst.ReuseAs(n, d)
		return nil
	}
	if r, c := dst.Dims(); r != n || c != d {
		return fmt.Errorf("%w: dst is %d×%d, want %d×%d", ErrShape, r, c, n, d)
	}
	return nil
}

// Logged reports which columns Fit chose to log1p-transform.
func (s *Scaler) Logged() []bool { return append([]bool(nil), s.logged...) }

// Mean returns the column means of the transformed values.
func (s *Scaler) Mean() []float64 { return append([]float64(nil), s.mean...) }

// StdDev returns the column standard deviations of the transformed values;
// 0 marks a constant column.
func (s *Scaler) StdDev() []float64 { return append([]float64(nil), s.scale...) }

// Matrix copies rows of equal length into a new matrix, for callers that
// hold a table as [][]float64.
func Matrix(rows [][]float64) (*mat.Dense, error) {
	if len(rows) == 0 || len(rows[0]) == 0 {
		return nil, fmt.Errorf("%w: empty table", ErrShape)
	}
	d := len(rows[0])
	data := make([]float64, 0, len(rows)*d)
	for i, r := range rows {
		if len(r) != d {
			return nil, fmt.Errorf("%w: row %d has %d values, want %d", ErrShape, i, len(r), d)
		}
		data = append(data, r...)
	}
	return mat.NewDense(len(rows), d, data), nil
}
