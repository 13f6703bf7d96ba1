package talkers

import (
	"testing"

	"github.com/fingerflow/fingerflow/datasets/flowbench"
	"github.com/fingerflow/fingerflow/models/internal/flowfiles"
)

// BenchmarkTable counts the lab-attack run (or the nfcapd files under
// $FINGERFLOW_BENCH_DIR, held in memory) in batches of 1,024 flows as a
// reader hands them over: by each statistic alone, as `fingerflow stats
// -s STAT` does on each worker, and with the nightly run's configuration
// (source and destination addresses, destination ports and protocols by
// bytes, the ten top talkers and a hundred sources).
func BenchmarkTable(b *testing.B) {
	flows := flowbench.Load(b, flowfiles.BenchDir())
	for _, c := range []struct {
		name  string
		stats []string
		n     int
	}{
		{"srcip/bytes", []string{"srcip/bytes"}, 0},
		{"record/bytes", []string{"record/bytes"}, 0},
		{"dstport:p/flows", []string{"dstport:p/flows"}, 0},
		{"night", []string{"srcip/bytes", "dstip/bytes", "dstport/bytes", "proto/bytes"}, 100},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := Config{N: 10, Sources: c.n}
			for _, st := range c.stats {
				s, err := ParseStat(st)
				if err != nil {
					b.Fatal(err)
				}
				cfg.Stats = append(cfg.Stats, s)
			}
			m := flowbench.Start(b)
			for b.Loop() {
				t, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				flows.Batches(t.AddBatch)
				t.Result()
			}
			m.Stop(flows.Len())
			b.ReportMetric(flows.Retained(func() any {
				t, _ := New(cfg)
				flows.Batches(t.AddBatch)
				return t
			}), "B-retained")
		})
	}
}
