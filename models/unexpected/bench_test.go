package unexpected

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
)

// BenchmarkProfile counts the rates of the lab's attack run, or of
// the nfcapd files under $FINGERFLOW_BENCH_DIR (read into memory first),
// and computes the night's metrics.
func BenchmarkProfile(b *testing.B) {
	dir := filepath.Join("..", "..", "datasets", "lab-attack", "lab-attack.v9")
	if d := os.Getenv("FINGERFLOW_BENCH_DIR"); d != "" {
		dir = d
	}
	files, err := datasets.Expand(context.Background(), []string{dir})
	if err != nil {
		b.Fatal(err)
	}
	var flows []datasets.Flow
	var r nfcapd.Reader
	for _, f := range files {
		for fl, err := range r.Flows(context.Background(), f) {
			if err != nil {
				b.Fatal(err)
			}
			flows = append(flows, fl)
		}
	}
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
