package history

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

// Size of a benchmark night: a site of 5,000 internal hosts fetching
// 50,000 catalog files from a catalog of 3,000 entries.
const (
	benchHosts   = 5000
	benchFetches = 50000
	benchEntries = 3000
)

// BenchmarkWriteRun writes one night after another into a growing
// database and reports the cost of a host or fetch row.
func BenchmarkWriteRun(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "fingerflow.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r := bigRun("2026-01-01", benchHosts, benchFetches, benchEntries, 1)
	day := at("2026-01-01T00:00:00")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		r.Info.Night = day.AddDate(0, 0, n).Format(time.DateOnly)
		n++
		if err := db.WriteRun(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	rows := float64(n) * float64(len(r.Hosts)+len(r.Fetches))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/rows, "ns/row")
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkQueries asks a database of 30 such nights (150,000 host rows,
// 1.5 million fetches) what the commands ask.
func BenchmarkQueries(b *testing.B) {
	if testing.Short() {
		b.Skip("writes 30 nights first")
	}
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "fingerflow.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	day := at("2026-01-01T00:00:00")
	var last string
	for i := range 30 {
		last = day.AddDate(0, 0, i).Format(time.DateOnly)
		if err := db.WriteRun(ctx, bigRun(last, benchHosts, benchFetches, benchEntries, uint64(i))); err != nil {
			b.Fatal(err)
		}
	}
	entry := bigRun(last, 1, 0, benchEntries, 0).Catalog[0].Entry
	b.Run("Missing", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := db.Missing(ctx, entry)
			if err != nil || len(m.Hosts) == 0 {
				b.Fatal(m.Entry, len(m.Hosts), err)
			}
		}
	})
	b.Run("MissingForOS", func(b *testing.B) {
		b.ReportAllocs()
		var entries int
		for b.Loop() {
			ms, err := db.MissingForOS(ctx, "debian", time.Time{})
			if err != nil {
				b.Fatal(err)
			}
			entries = len(ms)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*entries), "ns/entry")
	})
	b.Run("HostHistory", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h, err := db.HostHistory(ctx, netip.MustParseAddr("10.0.0.7"))
			if err != nil || len(h) != 30 {
				b.Fatal(len(h), err)
			}
		}
	})
	b.Run("Changes", func(b *testing.B) {
		b.ReportAllocs()
		prev, err := db.PreviousRun(ctx, last)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			cs, err := db.Changes(ctx, prev.Night, last)
			if err != nil || len(cs) != benchHosts {
				b.Fatal(len(cs), err)
			}
		}
	})
	b.Run("Metrics", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Metrics(ctx, "flows_per_port", 7); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// ExampleNightKey shows the key of a night that crosses midnight UTC.
func ExampleNightKey() {
	first := time.Date(2026, 11, 22, 19, 0, 0, 0, time.UTC)
	fmt.Println(NightKey(first, first.Add(12*time.Hour)))
	// Output: 2026-11-22/2026-11-23
}
