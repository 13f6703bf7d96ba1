package morning

import (
	"cmp"
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
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

// TestSummariseDownloads: the one-pass summary equals the two passes it
// replaced (summariseTwoPass: every row read twice), on the sample night,
// on a big night of 100,000 downloads and on the big night as CSV.
func TestSummariseDownloads(t *testing.T) {
	ctx := context.Background()
	big := t.TempDir()
	writeBigNight(t, big, 5000, 100000)
	bigCSV := t.TempDir()
	writeBigNight(t, bigCSV, 5000, 100000)
	n, err := nightdir.Load(ctx, bigCSV)
	must(t, err)
	f, err := os.Create(filepath.Join(bigCSV, nightdir.DownloadsCSVFile))
	must(t, err)
	w, err := nightdir.NewDownloadWriter(f, nightdir.FormatCSV)
	must(t, err)
	must(t, n.EachDownload(ctx, func(r *nightdir.DownloadRow) { must(t, w.Write(r)) }))
	must(t, w.Close())
	must(t, f.Close())
	must(t, os.Remove(filepath.Join(bigCSV, nightdir.DownloadsFile)))
	for _, dir := range []string{nightFixture, big, bigCSV} {
		n, err := nightdir.Load(ctx, dir)
		must(t, err)
		got, err := summariseDownloads(ctx, n, n.Catalog)
		must(t, err)
		want, err := summariseTwoPass(ctx, n, n.Catalog)
		must(t, err)
		if len(got.Closest) == 0 || got.Total == 0 {
			t.Errorf("%s: %d downloads, %d closest unknown ones: the test shows nothing", dir, got.Total, len(got.Closest))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s (%s): the one-pass summary differs from the two-pass one", dir, filepath.Base(n.DownloadsPath))
			for i := range min(len(got.Closest), len(want.Closest)) {
				if !reflect.DeepEqual(got.Closest[i], want.Closest[i]) {
					t.Errorf("closest %d: %+v, want %+v", i, got.Closest[i], want.Closest[i])
					break
				}
			}
		}
	}
}

// summariseTwoPass is the summary as two passes over the downloads file
// gave it: the named and chance-level downloads first, then the unknown
// ones against the catalog.
func summariseTwoPass(ctx context.Context, n *nightdir.Night, entries []catalog.Entry) (*DownloadSummary, error) {
	s := &DownloadSummary{}
	for i := range s.Sizes {
		s.Sizes[i] = make([]int, SizeBins)
	}
	size := map[string]float64{}
	type sized struct {
		name string
		size float64
	}
	var bySize []sized
	for _, e := range entries {
		size[e.Name] = float64(e.Size)
		bySize = append(bySize, sized{e.Name, float64(e.Size)})
	}
	slices.SortFunc(bySize, func(a, b sized) int { return cmp.Or(cmp.Compare(a.size, b.size), cmp.Compare(a.name, b.name)) })
	for _, e := range bySize {
		s.CatalogSizes = append(s.CatalogSizes, e.size)
	}
	var ratios []float64
	err := n.EachDownload(ctx, func(r *nightdir.DownloadRow) {
		s.Total++
		st := statusOf(r.Status)
		s.Starts[st] = append(s.Starts[st], r.Start.UnixMilli())
		if st == statusUnknown {
			s.Unknown++
			return
		}
		nd := NamedDownload{Row: *r}
		for f := range strings.SplitSeq(r.Files, "+") {
			nd.Size += size[f]
		}
		if st == statusChance {
			s.ChanceLevel++
			s.ChanceRows = append(s.ChanceRows, nd)
			return
		}
		s.Named++
		if size[r.Files] > 0 && r.Bytes > r.Extra {
			ratios = append(ratios, float64(r.Bytes-r.Extra)/size[r.Files])
		}
		s.NamedRows = append(s.NamedRows, nd)
	})
	if err != nil {
		return nil, err
	}
	s.Ratio, s.RatioAssumed = assumedRatio, true
	if len(ratios) > 0 {
		slices.Sort(ratios)
		s.Ratio, s.RatioAssumed = ratios[len(ratios)/2], false
	}
	for st, rows := range [][]NamedDownload{s.NamedRows, s.ChanceRows} {
		for i := range rows {
			nd := &rows[i]
			nd.Est = float64(nd.Row.Bytes) / s.Ratio
			if nd.Size > 0 {
				nd.Dist = math.Abs(nd.Est-nd.Size) / nd.Size
			}
			s.Sizes[st][sizeBin(nd.Est)]++
		}
	}
	if s.Unknown == 0 {
		return s, nil
	}
	var closest []UnknownDownload
	err = n.EachDownload(ctx, func(r *nightdir.DownloadRow) {
		if statusOf(r.Status) != statusUnknown {
			return
		}
		est := float64(r.Bytes) / s.Ratio
		s.Sizes[statusUnknown][sizeBin(est)]++
		if len(bySize) == 0 {
			return
		}
		i, _ := slices.BinarySearchFunc(bySize, est, func(e sized, t float64) int { return cmp.Compare(e.size, t) })
		best, bd := "", math.Inf(1)
		for _, j := range []int{i - 1, i} {
			if j >= 0 && j < len(bySize) {
				if d := math.Abs(est-bySize[j].size) / bySize[j].size; d < bd {
					best, bd = bySize[j].name, d
				}
			}
		}
		u := UnknownDownload{Row: *r, Est: est, Nearest: best, Dist: bd}
		if len(closest) < MaxClosest || closerThan(u, closest[len(closest)-1]) {
			k, _ := slices.BinarySearchFunc(closest, u, func(a, b UnknownDownload) int {
				if closerThan(a, b) {
					return -1
				}
				if closerThan(b, a) {
					return 1
				}
				return 0
			})
			closest = slices.Insert(closest, k, u)
			if len(closest) > MaxClosest {
				closest = closest[:MaxClosest]
			}
		}
	})
	if err != nil {
		return nil, err
	}
	s.Closest = closest
	return s, nil
}

// closerThan orders unknown downloads by distance, then start, client and
// port, so that ties come out the same every time.
func closerThan(a, b UnknownDownload) bool {
	return cmp.Or(cmp.Compare(a.Dist, b.Dist), a.Row.Start.Compare(b.Row.Start),
		cmp.Compare(a.Row.Client, b.Row.Client), cmp.Compare(a.Row.ClientPort, b.Row.ClientPort)) < 0
}
