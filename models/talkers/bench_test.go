package talkers

import (
	"testing"

	"github.com/fingerflow/fingerflow/models/internal/flowfiles"
)

// BenchmarkTable counts the lab-attack run (or the nfcapd files under
// $FINGERFLOW_BENCH_DIR, read once before timing) by source address and
// bytes in batches of 1,024 flows, as `fingerflow stats -s srcip/bytes`
// does on each worker.
func BenchmarkTable(b *testing.B) {
	flows := flowfiles.Read(b, flowfiles.BenchDir())
	for _, stat := range []string{"srcip/bytes", "record/bytes", "dstport:p/flows"} {
		b.Run(stat, func(b *testing.B) {
			s, err := ParseStat(stat)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				t, _ := New(Config{Stats: []Stat{s}, N: 10})
				for i := 0; i < len(flows); i += 1024 {
					t.AddBatch(flows[i:min(i+1024, len(flows))])
				}
				t.Result()
				n += len(flows)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "flows/s")
		})
	}
}
