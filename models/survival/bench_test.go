package survival

import (
	"math"
	"math/rand/v2"
	"testing"
)

// flowDurations returns n flow durations in whole milliseconds, log-normal
// around 0.3 s, censored at a 60 s active timeout, as exporters report
// them.
func flowDurations(n int) ([]float64, []bool) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := make([]float64, n)
	ev := make([]bool, n)
	for i := range d {
		v := math.Round(math.Exp(math.Log(0.3)+1.5*rng.NormFloat64())*1000) / 1000
		ev[i] = v < 60
		d[i] = min(v, 60)
	}
	return d, ev
}

const benchFlows = 1_000_000

// BenchmarkTally aggregates 1M flows; the per-flow cost of a nightly run.
func BenchmarkTally(b *testing.B) {
	d, ev := flowDurations(benchFlows)
	b.ReportAllocs()
	for b.Loop() {
		var t Tally
		for i, v := range d {
			if err := t.Add(v, ev[i], 1); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(benchFlows)*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}

// BenchmarkKaplanMeier fits the curve of 1M aggregated flows (about 20,000
// distinct durations) and reads the median with its interval.
func BenchmarkKaplanMeier(b *testing.B) {
	d, ev := flowDurations(benchFlows)
	var t Tally
	for i, v := range d {
		t.Add(v, ev[i], 1)
	}
	counts := t.Counts()
	b.ReportAllocs()
	for b.Loop() {
		var km KaplanMeier
		if err := km.FitCounts(counts); err != nil {
			b.Fatal(err)
		}
		km.Median()
		km.MedianCI()
	}
	b.ReportMetric(float64(benchFlows)*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
	b.ReportMetric(float64(len(counts)), "durations")
}

// BenchmarkLogRank tests 1M aggregated flows split into 4 groups.
func BenchmarkLogRank(b *testing.B) {
	d, ev := flowDurations(benchFlows)
	ts := make([]Tally, 4)
	for i, v := range d {
		ts[i%4].Add(v*(1+0.1*float64(i%4)), ev[i], 1)
	}
	groups := make([][]Count, len(ts))
	for i := range ts {
		groups[i] = ts[i].Counts()
	}
	b.ReportAllocs()
	for b.Loop() {
		var lr LogRank
		if err := lr.Fit(groups); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchFlows)*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}
