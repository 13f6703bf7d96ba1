package survival

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The 6-MP arm of Freireich et al. (1963), remission times in weeks of
// leukaemia patients, the textbook Kaplan–Meier example; false marks a
// censored time.
var (
	mp6Time  = []float64{6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35}
	mp6Event = []bool{true, true, true, false, true, false, true, false, false, true, true, false, false, false, true, true, false, false, false, false, false}
	// The placebo arm: every patient relapsed.
	placeboTime = []float64{1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23}
)

func TestKaplanMeierTextbook(t *testing.T) {
	var km KaplanMeier
	if err := km.Fit(mp6Time, mp6Event, nil); err != nil {
		t.Fatal(err)
	}
	// Survival as exact products; standard errors as published (4
	// decimals).
	want := []struct {
		time         float64
		risk, events int64
		surv, se     float64
	}{
		{6, 21, 3, 18.0 / 21, 0.0764},
		{7, 17, 1, 18.0 / 21 * 16 / 17, 0.0869},
		{10, 15, 1, 18.0 / 21 * 16 / 17 * 14 / 15, 0.0963},
		{13, 12, 1, 18.0 / 21 * 16 / 17 * 14 / 15 * 11 / 12, 0.1068},
		{16, 11, 1, 18.0 / 21 * 16 / 17 * 14 / 15 * 11 / 12 * 10 / 11, 0.1141},
		{22, 7, 1, 18.0 / 21 * 16 / 17 * 14 / 15 * 11 / 12 * 10 / 11 * 6 / 7, 0.1282},
		{23, 6, 1, 18.0 / 21 * 16 / 17 * 14 / 15 * 11 / 12 * 10 / 11 * 6 / 7 * 5 / 6, 0.1346},
	}
	got := km.EventSteps()
	if len(got) != len(want) {
		t.Fatalf("%d event steps, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Time != w.time || g.AtRisk != w.risk || g.Events != w.events ||
			math.Abs(g.Survival-w.surv) > 1e-15 || math.Abs(g.StdErr-w.se) > 5e-5 {
			t.Errorf("step %d = %+v, want %+v", i, g, w)
		}
		if !(g.Lower < g.Survival && g.Survival < g.Upper && g.Lower > 0 && g.Upper < 1) {
			t.Errorf("step %d: interval [%g, %g] around %g", i, g.Lower, g.Upper, g.Survival)
		}
	}
	if m := km.Median(); m != 23 {
		t.Errorf("median %g, want 23", m)
	}
	// statsmodels 0.13.5 quantile_ci(0.5) on these data: (13, inf).
	if lo, hi := km.MedianCI(); lo != 13 || !math.IsInf(hi, 1) {
		t.Errorf("median interval [%g, %g], want [13, +Inf]", lo, hi)
	}
	if n := km.N(); n != 21 {
		t.Errorf("N = %d, want 21", n)
	}
	// All steps, censored-only durations included.
	var times []float64
	for _, s := range km.Steps() {
		times = append(times, s.Time)
	}
	if diff := cmp.Diff([]float64{6, 7, 9, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 34, 35}, times); diff != "" {
		t.Errorf("step times (-want +got):\n%s", diff)
	}
}

func TestKaplanMeierSurvivalAt(t *testing.T) {
	var km KaplanMeier
	if err := km.Fit(mp6Time, mp6Event, nil); err != nil {
		t.Fatal(err)
	}
	s6 := 18.0 / 21
	s7 := s6 * 16 / 17
	tests := []struct {
		t, want float64
	}{
		{0, 1}, {5.99, 1}, {6, s6}, {6.5, s6}, {7, s7}, {8.9, s7}, {9, s7}, {1000, km.Steps()[15].Survival},
	}
	for _, tc := range tests {
		if got := km.Survival(tc.t); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("Survival(%g) = %g, want %g", tc.t, got, tc.want)
		}
	}
	if s := km.At(3); s.AtRisk != 21 || s.Lower != 1 || s.Upper != 1 {
		t.Errorf("At(3) = %+v, want all 21 at risk and interval [1, 1]", s)
	}
}

func TestKaplanMeierAggregated(t *testing.T) {
	// Raw flows, weighted flows and a tally give the same curve.
	var raw, weighted, tallied KaplanMeier
	if err := raw.Fit(mp6Time, mp6Event, nil); err != nil {
		t.Fatal(err)
	}
	var times []float64
	var events []bool
	var weights []int64
	var tally Tally
	for i, d := range mp6Time {
		j := len(times) - 1
		if j >= 0 && times[j] == d && events[j] == mp6Event[i] {
			weights[j]++
		} else {
			times, events, weights = append(times, d), append(events, mp6Event[i]), append(weights, 1)
		}
		if err := tally.Add(d, mp6Event[i], 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := weighted.Fit(times, events, weights); err != nil {
		t.Fatal(err)
	}
	counts := tally.Counts()
	slices.Reverse(counts) // order does not matter
	if err := tallied.FitCounts(append(counts, Count{Time: 6, Events: 0})); err != nil {
		t.Fatal(err)
	}
	nan := cmpopts.EquateNaNs()
	if diff := cmp.Diff(raw.Steps(), weighted.Steps(), nan); diff != "" {
		t.Errorf("weighted (-raw +weighted):\n%s", diff)
	}
	if diff := cmp.Diff(raw.Steps(), tallied.Steps(), nan); diff != "" {
		t.Errorf("tallied (-raw +tallied):\n%s", diff)
	}
}

func TestKaplanMeierEdges(t *testing.T) {
	tests := []struct {
		name      string
		durations []float64
		events    []bool
		weights   []int64
		wantErr   error
		check     func(t *testing.T, km *KaplanMeier)
	}{
		{
			name: "all censored", durations: []float64{1, 2, 3}, events: []bool{false, false, false},
			check: func(t *testing.T, km *KaplanMeier) {
				if s := km.Survival(10); s != 1 {
					t.Errorf("survival %g, want 1", s)
				}
				if m := km.Median(); !math.IsNaN(m) {
					t.Errorf("median %g, want NaN", m)
				}
				if lo, hi := km.MedianCI(); !math.IsNaN(lo) || !math.IsNaN(hi) {
					t.Errorf("median interval [%g, %g], want NaN", lo, hi)
				}
			},
		},
		{
			name: "every flow ends at once", durations: []float64{2, 2, 2}, events: nil,
			check: func(t *testing.T, km *KaplanMeier) {
				s := km.At(2)
				if s.Survival != 0 || !math.IsNaN(s.StdErr) || !math.IsNaN(s.Lower) || !math.IsNaN(s.Upper) {
					t.Errorf("At(2) = %+v, want survival 0 and NaN error and interval", s)
				}
				if m := km.Median(); m != 2 {
					t.Errorf("median %g, want 2", m)
				}
			},
		},
		{
			name: "zero weights are no flows", durations: []float64{1, 2}, events: []bool{true, true}, weights: []int64{0, 4},
			check: func(t *testing.T, km *KaplanMeier) {
				if n := km.N(); n != 4 || len(km.Steps()) != 1 {
					t.Errorf("N %d, %d steps; want 4 flows at one time", n, len(km.Steps()))
				}
			},
		},
		{
			name: "survival exactly one half is not below it", durations: []float64{1, 2, 3, 4, 5, 6}, events: nil,
			check: func(t *testing.T, km *KaplanMeier) {
				// S(3) = 5/6·4/5·3/4 = 1/2, computed through logs.
				if m := km.Median(); m != 4 {
					t.Errorf("median %g (survival at 3: %.17g), want 4", m, km.Survival(3))
				}
			},
		},
		{name: "no flows", durations: nil, wantErr: ErrEmpty},
		{name: "NaN", durations: []float64{1, math.NaN()}, wantErr: ErrInput},
		{name: "infinite", durations: []float64{math.Inf(1)}, wantErr: ErrInput},
		{name: "negative weight", durations: []float64{1}, weights: []int64{-1}, wantErr: ErrInput},
		{name: "lengths differ", durations: []float64{1, 2}, events: []bool{true}, wantErr: ErrInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var km KaplanMeier
			err := km.Fit(tc.durations, tc.events, tc.weights)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Fit error %v, want %v", err, tc.wantErr)
			}
			if err == nil {
				tc.check(t, &km)
			}
		})
	}
}

func TestKaplanMeierAlpha(t *testing.T) {
	wide, narrow := KaplanMeier{Alpha: 0.01}, KaplanMeier{Alpha: 0.2}
	if err := wide.Fit(mp6Time, mp6Event, nil); err != nil {
		t.Fatal(err)
	}
	if err := narrow.Fit(mp6Time, mp6Event, nil); err != nil {
		t.Fatal(err)
	}
	w, n := wide.At(13), narrow.At(13)
	if !(w.Lower < n.Lower && n.Upper < w.Upper) {
		t.Errorf("99%% interval [%g, %g] does not contain the 80%% one [%g, %g]", w.Lower, w.Upper, n.Lower, n.Upper)
	}
}
