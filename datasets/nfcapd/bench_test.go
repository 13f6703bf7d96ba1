package nfcapd

import (
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/fingerflow/fingerflow/datasets"
	nfdump "github.com/phaag/go-nfdump"
)

// BenchmarkFlows reads a 200-flow fixture per compression through the
// Reader's iterator.
func BenchmarkFlows(b *testing.B) {
	for _, name := range []string{"v9", "v9-lzo", "v9-lz4", "v9-bz2", "v9-zstd"} {
		b.Run(name, func(b *testing.B) {
			path := filepath.Join("testdata", name+".nfcapd")
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Size())
			b.ReportAllocs()
			r := &Reader{}
			n := 0
			for b.Loop() {
				for _, err := range r.Flows(context.Background(), path) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "flows/s")
		})
	}
}

// BenchmarkGoNfdump reads the same uncompressed fixture with
// github.com/phaag/go-nfdump for comparison.
func BenchmarkGoNfdump(b *testing.B) {
	path := "testdata/v9.nfcapd"
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		nf := nfdump.New()
		if err := nf.Open(path); err != nil {
			b.Fatal(err)
		}
		recs, err := nf.AllRecords()
		if err != nil {
			b.Fatal(err)
		}
		var sum uint64
		for r := range recs {
			if g := r.GenericFlow(); g != nil {
				sum += g.InBytes
			}
			n++
		}
		nf.Close()
		if sum != 2577868045 {
			b.Fatalf("sum %d", sum)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "flows/s")
}

// BenchmarkSumBySource reads every flow of the nfcapd files under
// $FINGERFLOW_BENCH_DIR and sums bytes per source address: the work of
// `nfdump -R DIR -q -A srcip -o csv`. Skipped when the variable is unset.
func BenchmarkSumBySource(b *testing.B) {
	dir := os.Getenv("FINGERFLOW_BENCH_DIR")
	if dir == "" {
		b.Skip("FINGERFLOW_BENCH_DIR not set")
	}
	files, err := datasets.Expand([]string{dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Next", func(b *testing.B) {
		b.ReportAllocs()
		var flows int
		var sums map[netip.Addr]uint64
		for b.Loop() {
			sums = map[netip.Addr]uint64{}
			var fl datasets.Flow
			for _, path := range files {
				nf, err := Open(context.Background(), path)
				if err != nil {
					b.Fatal(err)
				}
				for {
					err := nf.Next(&fl)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					sums[fl.SrcAddr] += fl.Bytes
					flows++
				}
				nf.Close()
			}
		}
		b.ReportMetric(float64(flows)/b.Elapsed().Seconds(), "flows/s")
		b.ReportMetric(float64(len(sums)), "sources")
	})
	b.Run("Flows", func(b *testing.B) {
		b.ReportAllocs()
		var flows int
		r := &Reader{}
		for b.Loop() {
			sums := map[netip.Addr]uint64{}
			for _, path := range files {
				for fl, err := range r.Flows(context.Background(), path) {
					if err != nil {
						b.Fatal(err)
					}
					sums[fl.SrcAddr] += fl.Bytes
					flows++
				}
			}
		}
		b.ReportMetric(float64(flows)/b.Elapsed().Seconds(), "flows/s")
	})
	b.Run("GoNfdump", func(b *testing.B) {
		b.ReportAllocs()
		var flows int
		for b.Loop() {
			sums := map[netip.Addr]uint64{}
			for _, path := range files {
				nf := nfdump.New()
				if err := nf.Open(path); err != nil {
					b.Fatal(err)
				}
				recs, err := nf.AllRecords()
				if err != nil {
					b.Fatal(err)
				}
				for r := range recs {
					g := r.GenericFlow()
					a, _ := netip.AddrFromSlice(r.IP().SrcIP)
					if g != nil {
						sums[a.Unmap()] += g.InBytes
					}
					flows++
				}
				nf.Close()
			}
		}
		b.ReportMetric(float64(flows)/b.Elapsed().Seconds(), "flows/s")
	})
}
