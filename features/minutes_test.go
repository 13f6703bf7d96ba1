package features

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMinuteSeries(t *testing.T) {
	type add struct {
		m    int32
		b, p float32
	}
	for _, tc := range []struct {
		name string
		adds []add
		runs []minuteRun
	}{
		{"appends", []add{{10, 1, 1}, {11, 2, 1}, {11, 3, 1}, {12, 4, 1}}, []minuteRun{{10, 0}}},
		{"gap", []add{{10, 1, 1}, {13, 2, 1}}, []minuteRun{{10, 0}, {13, 1}}},
		{"late into a run", []add{{10, 1, 1}, {11, 1, 1}, {13, 2, 1}, {10, 5, 1}}, []minuteRun{{10, 0}, {13, 2}}},
		{"late extends a run", []add{{10, 1, 1}, {13, 2, 1}, {11, 5, 1}}, []minuteRun{{10, 0}, {13, 2}}},
		{"late joins the next run", []add{{10, 1, 1}, {13, 2, 1}, {12, 5, 1}}, []minuteRun{{10, 0}, {12, 1}}},
		{"late fills the gap", []add{{10, 1, 1}, {12, 2, 1}, {11, 5, 1}}, []minuteRun{{10, 0}}},
		{"late in the middle of a gap", []add{{10, 1, 1}, {20, 2, 1}, {15, 5, 1}}, []minuteRun{{10, 0}, {15, 1}, {20, 2}}},
		{"late before the first", []add{{10, 1, 1}, {5, 2, 1}}, []minuteRun{{5, 0}, {10, 1}}},
		{"late just before the first", []add{{10, 1, 1}, {9, 2, 1}}, []minuteRun{{9, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s minuteSeries
			want := map[int32][2]float32{}
			for _, a := range tc.adds {
				s.add(a.m, a.b, a.p)
				w := want[a.m]
				want[a.m] = [2]float32{w[0] + a.b, w[1] + a.p}
			}
			if d := cmp.Diff(tc.runs, s.runs, cmp.AllowUnexported(minuteRun{})); d != "" {
				t.Errorf("runs (-want +got):\n%s", d)
			}
			checkMinutes(t, &s, want)
		})
	}
}

// Random minutes in random order against a map.
func TestMinuteSeriesRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 200; round++ {
		var s minuteSeries
		want := map[int32][2]float32{}
		for i := 0; i < 1+r.IntN(60); i++ {
			m := int32(1000 + r.IntN(40))
			s.add(m, 1, 2)
			w := want[m]
			want[m] = [2]float32{w[0] + 1, w[1] + 2}
		}
		checkMinutes(t, &s, want)
		for i := 1; i < len(s.runs); i++ {
			if s.runs[i].start <= s.end(i-1) {
				t.Fatalf("round %d: runs %v overlap or touch", round, s.runs)
			}
		}
	}
}

func checkMinutes(t *testing.T, s *minuteSeries, want map[int32][2]float32) {
	t.Helper()
	var wantRates []MinuteRate
	keys := make([]int32, 0, len(want))
	for m := range want {
		keys = append(keys, m)
	}
	slices.Sort(keys)
	for _, m := range keys {
		wantRates = append(wantRates, MinuteRate{time.Unix(int64(m)*60, 0).UTC(), float64(want[m][0]), float64(want[m][1])})
	}
	if d := cmp.Diff(wantRates, s.rates()); d != "" {
		t.Errorf("minutes (-want +got):\n%s", d)
	}
}
