package pcapflow

import (
	"context"
	"os"
	"testing"
)

// BenchmarkFlows reads the lab sample capture (14,266 packets, 12 flows).
func BenchmarkFlows(b *testing.B) {
	for _, bidir := range []bool{false, true} {
		name := "unidirectional"
		if bidir {
			name = "bidirectional"
		}
		b.Run(name, func(b *testing.B) {
			st, err := os.Stat(samplePcap)
			if err != nil {
				b.Fatal(err)
			}
			r := New(Config{Bidirectional: bidir})
			b.SetBytes(st.Size())
			b.ReportAllocs()
			var flows, packets int
			for b.Loop() {
				for f, err := range r.Flows(context.Background(), samplePcap) {
					if err != nil {
						b.Fatal(err)
					}
					flows++
					packets += int(f.Packets + f.RevPackets)
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(flows)/sec, "flows/s")
			b.ReportMetric(float64(packets)/sec, "packets/s")
		})
	}
}

// BenchmarkTable measures the flow table alone with many concurrent flows:
// 64k UDP flows, each packet a table lookup and expiry update.
func BenchmarkTable(b *testing.B) {
	pkts := make([]packet, 1<<16)
	for i := range pkts {
		pkts[i] = packet{src: ip4("10.0.0.1"), dst: ip4("10.0.0.2"), sport: uint16(i), dport: 53, proto: 17, bytes: 100, ttl: 64}
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		tbl := newTable(Config{}.withDefaults())
		for i := range pkts {
			tbl.add(&pkts[i], t0)
			tbl.add(&pkts[i], t0)
		}
		tbl.flush()
		n += len(tbl.drain())
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(n)/sec, "flows/s")
	b.ReportMetric(float64(n*2)/sec, "packets/s")
}
