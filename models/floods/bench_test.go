package floods

import (
	"testing"

	"github.com/fingerflow/fingerflow/models/internal/flowfiles"
)

// BenchmarkDetector runs the detector over the lab's attack run, or over
// the nfcapd files under $FINGERFLOW_BENCH_DIR (read into memory first).
func BenchmarkDetector(b *testing.B) {
	flows := flowfiles.Read(b, flowfiles.BenchDir())
	b.ReportAllocs()
	for b.Loop() {
		d, err := New(DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		d.AddBatch(flows)
		d.Alarms()
	}
	b.ReportMetric(float64(len(flows)*b.N)/b.Elapsed().Seconds(), "flows/s")
}
