package clickhouse

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/datasets"
	flowstore "github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/features"
)

// splitFlow cuts a record into n parts of equal time, as an exporter's
// active timeout does: counters shared out, SYN on the first part, FIN
// and RST on the last.
func splitFlow(f datasets.Flow, n int) []datasets.Flow {
	d := f.End.Sub(f.Start)
	if d <= 0 || n < 2 {
		return []datasets.Flow{f}
	}
	out := make([]datasets.Flow, n)
	var pk, by, rpk, rby uint64
	for i := range out {
		p := f
		p.Start = f.Start.Add(d * time.Duration(i) / time.Duration(n))
		p.End = f.Start.Add(d * time.Duration(i+1) / time.Duration(n))
		p.Packets, p.Bytes = f.Packets/uint64(n), f.Bytes/uint64(n)
		p.RevPackets, p.RevBytes = f.RevPackets/uint64(n), f.RevBytes/uint64(n)
		if i == n-1 {
			p.Packets, p.Bytes, p.RevPackets, p.RevBytes = f.Packets-pk, f.Bytes-by, f.RevPackets-rpk, f.RevBytes-rby
		}
		pk, by, rpk, rby = pk+p.Packets, by+p.Bytes, rpk+p.RevPackets, rby+p.RevBytes
		if i > 0 {
			p.TCPFlags &^= datasets.FlagSYN
		}
		if i < n-1 {
			p.TCPFlags &^= datasets.FlagFIN | datasets.FlagRST
		}
		out[i] = p
	}
	return out
}

func shifted(fs []datasets.Flow, d time.Duration) []datasets.Flow {
	out := slices.Clone(fs)
	for i := range out {
		out[i].Start, out[i].End = out[i].Start.Add(d), out[i].End.Add(d)
	}
	return out
}

func withoutClose(fs []datasets.Flow) []datasets.Flow {
	out := slices.Clone(fs)
	for i := range out {
		out[i].TCPFlags &^= datasets.FlagFIN | datasets.FlagRST
	}
	return out
}

// byEnd orders records as an exporter writes them: by the end of the
// flow.
func byEnd(fs []datasets.Flow) []datasets.Flow {
	slices.SortStableFunc(fs, func(a, b datasets.Flow) int { return a.End.Compare(b.End) })
	return fs
}

// TestDownloadsVariants: the records of a lab run changed the ways
// exporters and networks change them (active-timeout splits, copies,
// ends before starts, a 5-tuple reused with and without FIN, NAT between
// the two directions, biflows) give the same downloads in ClickHouse as
// in the extractor.
func TestDownloadsVariants(t *testing.T) {
	srv := servers.Need(t, 1)[0]
	ctx := context.Background()
	var base []datasets.Flow
	for f, err := range runFlows(ctx, files(t, "../../datasets/lab-dev/test-near.v9")) {
		if err != nil {
			t.Fatal(err)
		}
		base = append(base, f)
	}
	var biflows []datasets.Flow
	for f, err := range runFlows(ctx, []string{"../../datasets/lab-dev/test-near.argus"}) {
		if err != nil {
			t.Fatal(err)
		}
		biflows = append(biflows, f)
	}
	serverPort := func(f datasets.Flow) bool { return f.SrcPort == 80 || f.SrcPort == 443 }
	nat := netip.MustParseAddr("192.168.7.20")
	cases := []struct {
		name  string
		flows func() []datasets.Flow
	}{
		{"split in three", func() []datasets.Flow {
			var out []datasets.Flow
			for _, f := range base {
				out = append(out, splitFlow(f, 3)...)
			}
			return byEnd(out)
		}},
		{"every record twice", func() []datasets.Flow {
			var out []datasets.Flow
			for _, f := range base {
				out = append(out, f, f)
			}
			return out
		}},
		{"end before start", func() []datasets.Flow {
			out := slices.Clone(base)
			for i := range out {
				if i%2 == 0 {
					out[i].Start, out[i].End = out[i].End, out[i].Start
				}
			}
			return out
		}},
		{"reused after FIN", func() []datasets.Flow { return byEnd(append(slices.Clone(base), shifted(base, 5*time.Second)...)) }},
		{"reused without FIN within the gap", func() []datasets.Flow {
			nf := withoutClose(base)
			return byEnd(append(nf, shifted(nf, 5*time.Second)...))
		}},
		{"reused without FIN after the gap", func() []datasets.Flow {
			nf := withoutClose(base)
			return byEnd(append(nf, shifted(nf, 3*time.Minute)...))
		}},
		{"NAT between the directions", func() []datasets.Flow {
			out := slices.Clone(base)
			for i := range out {
				if !serverPort(out[i]) && i%3 != 0 {
					out[i].SrcAddr = nat
				}
			}
			return out
		}},
		{"NAT and splits", func() []datasets.Flow {
			var out []datasets.Flow
			for i, f := range base {
				if !serverPort(f) && i%2 == 0 {
					f.SrcAddr = nat
				}
				out = append(out, splitFlow(f, 2)...)
			}
			return byEnd(out)
		}},
		{"biflows split", func() []datasets.Flow {
			var out []datasets.Flow
			for _, f := range biflows {
				out = append(out, splitFlow(f, 4)...)
			}
			return byEnd(out)
		}},
	}
	cfg := features.DefaultConfig()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			flows := tc.flows()
			var want []features.Download
			for d, err := range features.Downloads(ctx, cfg, func(yield func(datasets.Flow, error) bool) {
				for _, f := range flows {
					if !yield(f, nil) {
						return
					}
				}
			}) {
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, d)
			}
			st := loadStore(t, srv, fmt.Sprintf("variants_%d", i), nil)
			id := flowstore.FileIdent{Path: tc.name, Hash: tc.name}
			if _, err := st.Load(ctx, id, func(yield func(datasets.Flow, error) bool) {
				for _, f := range flows {
					if !yield(f, nil) {
						return
					}
				}
			}); err != nil {
				t.Fatal(err)
			}
			got, stats, err := Downloads(ctx, st, flowstore.Window{}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			sortDownloads(want)
			sortDownloads(got)
			if len(want) == 0 {
				t.Fatal("no downloads: the case proves nothing")
			}
			if d := gocmp.Diff(want, got, cmpAddr); d != "" {
				t.Errorf("%d downloads locally, %d from ClickHouse (%d candidates) (-want +got)\n%s", len(want), len(got), stats.Rows, d)
			}
			t.Logf("%d flows, %d downloads, %d candidates", len(flows), len(got), stats.Rows)
		})
	}
}
