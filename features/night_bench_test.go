package features_test

import (
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/flowbench"
	"github.com/fingerflow/fingerflow/features"
)

// nightFlows are the flows the nightly run's stage benchmarks feed: the
// nfcapd files under $FINGERFLOW_BENCH_DIR (a day of them, for example),
// or else the lab's attack run.
func nightFlows(b *testing.B) *flowbench.Flows {
	return flowbench.Load(b, flowbench.Dir(filepath.Join("..", "datasets", "lab-attack", "lab-attack.v9")))
}

// BenchmarkNightHosts is the nightly run's host features stage: every flow
// of the night into a new HostAggregator, then the host table.
func BenchmarkNightHosts(b *testing.B) {
	flows := nightFlows(b)
	m := flowbench.Start(b)
	for b.Loop() {
		a, err := features.NewHostAggregator(features.DefaultHostConfig())
		if err != nil {
			b.Fatal(err)
		}
		flows.Each(a.Add)
		a.Hosts()
	}
	m.Stop(flows.Len())
	var a *features.HostAggregator
	b.ReportMetric(flows.Retained(func() any {
		a, _ = features.NewHostAggregator(features.DefaultHostConfig())
		flows.Each(a.Add)
		return a
	}), "B-retained")
	// What HostsWithoutMinutes leaves out of the host table: every
	// host's minutes as MinuteRates.
	n := 0
	for _, h := range a.Hosts() {
		n += len(h.Minutes)
	}
	b.ReportMetric(float64(n)*float64(unsafe.Sizeof(features.MinuteRate{})), "B-minutes")
}

// BenchmarkNightExtract is the nightly run's download extraction stage:
// every flow of the night through a new Extractor, draining the downloads
// after each flow as the run does, then the connections still open.
func BenchmarkNightExtract(b *testing.B) {
	flows := nightFlows(b)
	n := 0
	m := flowbench.Start(b)
	for b.Loop() {
		e := features.NewExtractor(features.DefaultConfig())
		flows.Each(func(f *datasets.Flow) {
			e.Add(f)
			n += len(e.Drain())
		})
		n += len(e.Flush())
	}
	m.Stop(flows.Len())
	b.ReportMetric(float64(n)/float64(b.N), "downloads")
	b.ReportMetric(flows.Retained(func() any {
		e := features.NewExtractor(features.DefaultConfig())
		flows.Each(func(f *datasets.Flow) {
			e.Add(f)
			e.Drain()
		})
		return e
	}), "B-retained")
}
