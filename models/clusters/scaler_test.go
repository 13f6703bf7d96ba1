package clusters

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gonum.org/v1/gonum/mat"
)

func TestScaler(t *testing.T) {
	skewed := []float64{0, 1, 1, 2, 3, 5, 1000, 1e6} // counts with a long tail
	tests := []struct {
		name      string
		cols      []Column
		data      [][]float64 // columns
		logged    []bool
		wantStd0  []bool // constant columns
		wantError error
	}{
		{
			name:   "auto logs a skewed count, not a symmetric one",
			data:   [][]float64{skewed, {1, 2, 3, 4, 5, 6, 7, 8}},
			logged: []bool{true, false}, wantStd0: []bool{false, false},
		},
		{
			name:   "auto leaves a skewed column with negative values",
			data:   [][]float64{{-1, 1, 1, 2, 3, 5, 1000, 1e6}},
			logged: []bool{false}, wantStd0: []bool{false},
		},
		{
			name:   "marks override the data",
			cols:   []Column{{Name: "a", Skew: Symmetric}, {Name: "b", Skew: Skewed}},
			data:   [][]float64{skewed, {1, 2, 3, 4, 5, 6, 7, 8}},
			logged: []bool{false, true}, wantStd0: []bool{false, false},
		},
		{
			name:   "constant column",
			data:   [][]float64{{3, 3, 3, 3}, {0, 0, 0, 0}, {1, 2, 3, 4}},
			logged: []bool{false, false, false}, wantStd0: []bool{true, true, false},
		},
		{
			name:      "log1p of -1",
			cols:      []Column{{Name: "x", Skew: Skewed}},
			data:      [][]float64{{-1, 0, 1}},
			wantError: ErrLogDomain,
		},
		{
			name:      "NaN",
			data:      [][]float64{{1, math.NaN(), 1}},
			wantError: ErrNotFinite,
		},
		{
			name:      "specs and columns disagree",
			cols:      []Column{{Name: "x"}},
			data:      [][]float64{{1, 2}, {3, 4}},
			wantError: ErrShape,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, d := len(tc.data[0]), len(tc.data)
			x := mat.NewDense(n, d, nil)
			for j, c := range tc.data {
				x.SetCol(j, c)
			}
			s := Scaler{Columns: tc.cols}
			err := s.Fit(x)
			if tc.wantError != nil {
				if !errors.Is(err, tc.wantError) {
					t.Fatalf("Fit error %v, want %v", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.logged, s.Logged()); diff != "" {
				t.Errorf("Logged (-want +got):\n%s", diff)
			}
			var std0 []bool
			for _, v := range s.StdDev() {
				std0 = append(std0, v == 0)
			}
			if diff := cmp.Diff(tc.wantStd0, std0); diff != "" {
				t.Errorf("constant columns (-want +got):\n%s", diff)
			}
			var z, back mat.Dense
			if err := s.Transform(&z, x); err != nil {
				t.Fatal(err)
			}
			for j := range d {
				col := mat.Col(nil, j, &z)
				var m, m2 float64
				for _, v := range col {
					if math.IsNaN(v) {
						t.Fatalf("column %d: NaN", j)
					}
					m += v / float64(n)
					m2 += v * v / float64(n)
				}
				want := 1.0
				if tc.wantStd0[j] {
					want = 0
				}
				if math.Abs(m) > 1e-12 || math.Abs(m2-want) > 1e-12 {
					t.Errorf("column %d: mean %g, mean square %g, want 0 and %g", j, m, m2, want)
				}
			}
			if err := s.Inverse(&back, &z); err != nil {
				t.Fatal(err)
			}
			approx := cmpopts.EquateApprox(1e-9, 1e-9)
			if diff := cmp.Diff(mat.DenseCopyOf(x).RawMatrix().Data, back.RawMatrix().Data, approx); diff != "" {
				t.Errorf("Inverse(Transform(x)) (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScalerNotFitted(t *testing.T) {
	var s Scaler
	var z mat.Dense
	if err := s.Transform(&z, mat.NewDense(1, 1, nil)); !errors.Is(err, ErrNotFitted) {
		t.Errorf("Transform before Fit: %v, want ErrNotFitted", err)
	}
}

func TestMatrix(t *testing.T) {
	if _, err := Matrix([][]float64{{1, 2}, {3}}); !errors.Is(err, ErrShape) {
		t.Errorf("ragged rows: %v, want ErrShape", err)
	}
	m, err := Matrix([][]float64{{1, 2}, {3, 4}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float64{1, 2, 3, 4}, m.RawMatrix().Data); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
