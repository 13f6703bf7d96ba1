package unexpected

import (
	"testing"

	"github.com/fingerflow/fingerflow/models/internal/flowfiles"
)

// BenchmarkProfile counts the rates of the lab's attack run, or of
// the nfcapd files under $FINGERFLOW_BENCH_DIR (read into memory first),
// and computes the night's metrics.
func BenchmarkProfile(b *testing.B) {
	flows := flowfiles.Read(b, flowfiles.BenchDir())
	b.ReportAllocs()
	for b.Loop() {
		p, err := New(DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		p.AddBatch(flows)
		p.Metrics()
	}
	b.ReportMetric(float64(len(flows)*b.N)/b.Elapsed().Seconds(), "flows/s")
}
