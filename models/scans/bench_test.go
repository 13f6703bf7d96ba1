package scans

import (
	"testing"

	"github.com/fingerflow/fingerflow/datasets/flowbench"
	"github.com/fingerflow/fingerflow/models/internal/flowfiles"
)

// BenchmarkDetector runs the detector over the lab's attack run, or over
// the nfcapd files under $FINGERFLOW_BENCH_DIR, held in memory and
// handed over in batches as a reader does.
func BenchmarkDetector(b *testing.B) {
	flows := flowbench.Load(b, flowfiles.BenchDir())
	m := flowbench.Start(b)
	for b.Loop() {
		d, err := New(DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		flows.Batches(d.AddBatch)
		d.Alarms()
	}
	m.Stop(flows.Len())
	b.ReportMetric(flows.Retained(func() any {
		d, _ := New(DefaultConfig())
		flows.Batches(d.AddBatch)
		return d
	}), "B-retained")
}
