package nightly

import (
	"bytes"
	"context"
	"encoding/gob"
	"net/netip"
	"reflect"
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

// TestDownloadSpill: every field of a download comes back from the
// temporary file as encoding/gob, which it replaced, gave it back:
// addresses with zones, times with their locations, every counter.
func TestDownloadSpill(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	ds := []features.Download{
		{
			Server: netip.MustParseAddr("10.77.0.1"), ServerPort: 443,
			Client: netip.MustParseAddr("10.77.1.2"), ClientPort: 50123,
			Start: time.Unix(1800000000, 123456789).UTC(), End: time.Unix(1800000003, 0).In(berlin),
			Packets: 17099, Bytes: 25590675, HasReverse: true, RevPackets: 1792, RevBytes: 93276,
			Flags: 0x1b, Records: 2, Exporter: netip.MustParseAddr("127.0.0.1"), Sampling: 1,
		},
		{
			Server: netip.MustParseAddr("fe80::1%eth0"), ServerPort: 80,
			Client: netip.MustParseAddr("::ffff:192.0.2.7"), ClientPort: 1,
			Start: time.Unix(0, 1).Local(), End: time.Time{},
			Packets: 1<<64 - 1, Bytes: 1 << 63, RevPackets: 0, RevBytes: 1<<64 - 1,
			Flags: 0xff, Records: 1 << 40, Sampling: 1<<32 - 1,
		},
		{}, // no address, no time
	}
	if n := reflect.TypeFor[features.Download]().NumField(); n != 15 {
		t.Fatalf("features.Download has %d fields; the spill's record writes 15: add the new ones to appendDownload and readDownload", n)
	}
	sp, err := newDownloadSpill()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.remove()
	for i := range ds {
		if err := sp.write(&ds[i]); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	if err := sp.each(context.Background(), func(got *features.Download) error {
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(&ds[i]); err != nil {
			t.Fatal(err)
		}
		var want features.Download
		if err := gob.NewDecoder(&buf).Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("download %d read back as %+v, gob gives %+v", i, *got, want)
		}
		i++
		return nil
	}); err != nil || i != len(ds) {
		t.Fatalf("%d of %d read back: %v", i, len(ds), err)
	}
}
