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
//
// The package decodes the format by hand instead of using
// github.com/phaag/go-nfdump (v0.0.5), which reads the same files but does
// not fit a batch tool that must survive bad files: its reader goroutines
// leak (and keep the file open) when the consumer stops early and it has no
// cancellation; it indexes records and exporter tables with lengths and ids
// taken from the file without checks, so corrupt input panics; it drops
// blocks that fail to read or decompress without reporting them, so a
// truncated file looks complete; it prints to stdout/stderr; it reads only
// the first chunk of a BZ2 block; and it allocates per record (a copy of
// each record) and per block (5 MiB for LZ4/BZ2, a new zstd decoder).
// It is also the bottleneck: summing bytes per source address over a day of
// nfpcapd files (24 LZ4 files, 10 million flows, 50,000 sources; made by
// internal/synthpcap and `nfpcapd -t 3600 -y`) took 9.8 s, 8.4 CPU
// seconds, 221 MB peak RSS and 40 million allocations with go-nfdump,
// against 2.0-3.6 s wall, 1.1-1.3 CPU seconds, 16 MB RSS and 1,221
// allocations in all with this package (BenchmarkSumBySource), and
// 3.1-7.4 s wall, 2.6-3.9 CPU seconds, 21 MB RSS for
// `nfdump -R DIR -q -A srcip -o csv` on the same files (nfdump 1.7.1,
// /usr/bin/time -v, a shared 2-CPU machine, so wall times vary). On the
// 200-flow fixture go-nfdump reads 0.3 million flows/s, this package 3.3
// million (BenchmarkGoNfdump, BenchmarkFlows).
//
// LZO blocks are inflated by a bounds-checked LZO1X decoder in this package
// (github.com/rasky/go-lzo relies on recovering from index panics and does
// not bound its output); LZ4 uses github.com/pierrec/lz4/v4, ZSTD
// github.com/klauspost/compress/zstd and BZ2 compress/bzip2, all into
// buffers reused from block to block. Decoding a record allocates nothing.
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
	files, err := datasets.Expand(context.Background(), []string{dir})
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

// BenchmarkDecoder reads the same fixtures as BenchmarkFlows into one
// Flow the caller owns (OpenDecoder, what datasets.ParallelReader uses),
// without the iterator's copy of each record.
func BenchmarkDecoder(b *testing.B) {
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
			var fl datasets.Flow
			for b.Loop() {
				dec, err := r.OpenDecoder(context.Background(), path)
				if err != nil {
					b.Fatal(err)
				}
				for {
					err := dec.Next(&fl)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				dec.Close()
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "flows/s")
		})
	}
}
