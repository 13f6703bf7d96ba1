package lifespans

import (
	"testing"

	"github.com/fingerflow/fingerflow/models/internal/flowfiles"
)

// BenchmarkLifespans counts the lifespans of the lab's attack run, or of
// the nfcapd files under $FINGERFLOW_BENCH_DIR (read into memory first),
// and fits the curves.
func BenchmarkLifespans(b *testing.B) {
	flows := flowfiles.Read(b, flowfiles.BenchDir())
	b.ReportAllocs()
	for b.Loop() {
		l, err := New(DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		l.AddBatch(flows)
		if _, err := l.Result(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(flows)*b.N)/b.Elapsed().Seconds(), "flows/s")
}
