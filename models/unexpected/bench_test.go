package unexpected

import (
	"testing"

	"github.com/fingerflow/fingerflow/datasets/flowbench"
	"github.com/fingerflow/fingerflow/models/internal/flowfiles"
)

// BenchmarkProfile counts the rates of the lab's attack run, or of
// the nfcapd files under $FINGERFLOW_BENCH_DIR, held in memory and
// handed over in batches as a reader does,
// and computes the night's metrics.
func BenchmarkProfile(b *testing.B) {
	flows := flowbench.Load(b, flowfiles.BenchDir())
	m := flowbench.Start(b)
	for b.Loop() {
		p, err := New(DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		flows.Batches(p.AddBatch)
		p.Metrics()
	}
	m.Stop(flows.Len())
	b.ReportMetric(flows.Retained(func() any {
		p, _ := New(DefaultConfig())
		flows.Batches(p.AddBatch)
		return p
	}), "B-retained")
}
