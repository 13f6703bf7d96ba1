package morning

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoadNight reads a run's output directory for the morning
// report: reports/testdata/night, or the directory
// $FINGERFLOW_BENCH_NIGHT names (a run of the synthetic day, for example).
func BenchmarkLoadNight(b *testing.B) {
	dir := os.Getenv("FINGERFLOW_BENCH_NIGHT")
	if dir == "" {
		dir = filepath.Join("testdata", "night")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadNight(context.Background(), dir); err != nil {
			b.Fatal(err)
		}
	}
}
