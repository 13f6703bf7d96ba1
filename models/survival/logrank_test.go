package survival

import (
	"errors"
	"math"
	"testing"
)

func tally(t *testing.T, durations []float64, events []bool) []Count {
	t.Helper()
	var ty Tally
	for i, d := range durations {
		ev := events == nil || events[i]
		if err := ty.Add(d, ev, 1); err != nil {
			t.Fatal(err)
		}
	}
	return ty.Counts()
}

func TestLogRankTextbook(t *testing.T) {
	// 6-MP against placebo: observed 9 and 21 relapses, expected
	// 406602257588/21121645545 ≈ 19.25 and the rest of 30 (exact fractions
	// summed by hand over the 17 event times); statsmodels' survdiff gives
	// 16.792940989216532 (R: 16.8 on 1 degree of freedom, p = 4.17e-5).
	var lr LogRank
	if err := lr.Fit([][]Count{tally(t, mp6Time, mp6Event), tally(t, placeboTime, nil)}); err != nil {
		t.Fatal(err)
	}
	if s := lr.Statistic(); math.Abs(s-16.792940989216532) > 1e-12 {
		t.Errorf("statistic %.17g, want 16.792940989216532", s)
	}
	if lr.DF() != 1 {
		t.Errorf("df %d, want 1", lr.DF())
	}
	if p := lr.PValue(); math.Abs(p-4.168809109334543e-05) > 1e-15 {
		t.Errorf("p %.17g, want 4.168809109334543e-05", p)
	}
	o, e := lr.Observed(), lr.Expected()
	e0 := 406602257588.0 / 21121645545
	if o[0] != 9 || o[1] != 21 || math.Abs(e[0]-e0) > 1e-12 || math.Abs(e[1]-(30-e0)) > 1e-12 {
		t.Errorf("observed %v expected %v, want [9 21] [%.15g %.15g]", o, e, e0, 30-e0)
	}
}

func TestLogRank(t *testing.T) {
	mp6 := tally(t, mp6Time, mp6Event)
	placebo := tally(t, placeboTime, nil)
	tests := []struct {
		name    string
		groups  [][]Count
		wantDF  int
		check   func(t *testing.T, lr *LogRank)
		wantErr error
	}{
		{
			name: "identical groups", groups: [][]Count{mp6, mp6}, wantDF: 1,
			check: func(t *testing.T, lr *LogRank) {
				if s, p := lr.Statistic(), lr.PValue(); math.Abs(s) > 1e-12 || math.Abs(p-1) > 1e-9 {
					t.Errorf("statistic %g p %g, want 0 and 1", s, p)
				}
			},
		},
		{
			name: "groups order", groups: [][]Count{placebo, mp6}, wantDF: 1,
			check: func(t *testing.T, lr *LogRank) {
				if s := lr.Statistic(); math.Abs(s-16.792940989216532) > 1e-12 {
					t.Errorf("statistic %g, want the same as 6-MP first", s)
				}
			},
		},
		{
			name: "three groups", groups: [][]Count{mp6, placebo, mp6}, wantDF: 2,
			check: func(t *testing.T, lr *LogRank) {
				if !(lr.Statistic() > 16 && lr.PValue() < 1e-3) {
					t.Errorf("statistic %g p %g", lr.Statistic(), lr.PValue())
				}
			},
		},
		{
			// A group whose flows are all gone before the first event
			// brings no information: the covariance is singular and the
			// degrees of freedom drop to its rank.
			name: "a group censored before any event", groups: [][]Count{mp6, placebo, {{Time: 0.5, Censored: 3}}}, wantDF: 1,
			check: func(t *testing.T, lr *LogRank) {
				if s := lr.Statistic(); math.Abs(s-16.792940989216532) > 1e-9 {
					t.Errorf("statistic %.17g, want that of the two informative groups", s)
				}
			},
		},
		{name: "one group", groups: [][]Count{mp6}, wantErr: ErrInput},
		{name: "empty group", groups: [][]Count{mp6, nil}, wantErr: ErrEmpty},
		{name: "no events", groups: [][]Count{{{Time: 1, Censored: 2}}, {{Time: 2, Censored: 1}}}, wantErr: ErrEmpty},
		{name: "NaN time", groups: [][]Count{mp6, {{Time: math.NaN(), Events: 1}}}, wantErr: ErrInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var lr LogRank
			err := lr.Fit(tc.groups)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Fit error %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if lr.DF() != tc.wantDF {
				t.Errorf("df %d, want %d", lr.DF(), tc.wantDF)
			}
			var o, e float64
			for i := range lr.Observed() {
				o += lr.Observed()[i]
				e += lr.Expected()[i]
			}
			if math.Abs(o-e) > 1e-9*o {
				t.Errorf("observed %g events in all, expected %g", o, e)
			}
			tc.check(t, &lr)
		})
	}
}
