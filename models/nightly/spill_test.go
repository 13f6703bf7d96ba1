package nightly

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/features"
)

// BenchmarkDownloadSpill measures the temporary file classify keeps the
// downloads in while it adapts: written and read back, per download.
func BenchmarkDownloadSpill(b *testing.B) {
	d := features.Download{
		Server: netip.MustParseAddr("10.77.0.1"), ServerPort: 443,
		Client: netip.MustParseAddr("10.77.1.2"), ClientPort: 50123,
		Start: time.Unix(1800000000, 123456789).UTC(), End: time.Unix(1800000003, 0).UTC(),
		Packets: 17099, Bytes: 25590675, HasReverse: true, RevPackets: 1792, RevBytes: 93276,
		Flags: 0x1b, Records: 2, Exporter: netip.MustParseAddr("127.0.0.1"), Sampling: 1,
	}
	const n = 100_000
	b.ReportAllocs()
	for b.Loop() {
		sp, err := newDownloadSpill()
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			d.ClientPort = uint16(i)
			if err := sp.write(&d); err != nil {
				b.Fatal(err)
			}
		}
		got := 0
		if err := sp.each(context.Background(), func(e *features.Download) error {
			got++
			if e.Bytes != d.Bytes || e.Server != d.Server || !e.Start.Equal(d.Start) {
				b.Fatalf("read back %+v", e)
			}
			return nil
		}); err != nil || got != n {
			b.Fatalf("%d of %d read back: %v", got, n, err)
		}
		if err := sp.remove(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/download")
}
