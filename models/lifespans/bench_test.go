package lifespans

import (
	"testing"

	"github.com/fingerflow/fingerflow/datasets/flowbench"
	"github.com/fingerflow/fingerflow/models/internal/flowfiles"
)

// BenchmarkLifespans counts the lifespans of the lab's attack run, or of
// the nfcapd files under $FINGERFLOW_BENCH_DIR, held in memory and
// handed over in batches as a reader does,
// and fits the curves.
func BenchmarkLifespans(b *testing.B) {
	flows := flowbench.Load(b, flowfiles.BenchDir())
	m := flowbench.Start(b)
	for b.Loop() {
		l, err := New(DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		flows.Batches(l.AddBatch)
		if _, err := l.Result(); err != nil {
			b.Fatal(err)
		}
	}
	m.Stop(flows.Len())
	b.ReportMetric(flows.Retained(func() any {
		l, _ := New(DefaultConfig())
		flows.Batches(l.AddBatch)
		return l
	}), "B-retained")
}
