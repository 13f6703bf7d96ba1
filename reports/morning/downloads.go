package morning

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// DownloadSummary is what the morning report shows of a night's
// downloads, gathered in one pass over downloads.parquet (or .csv) that
// keeps of the unknown ones only their sizes, starts and clients: the named and chance-level downloads,
// when every download started, the estimated file sizes as histograms,
// and the unknown downloads closest to a catalog file.
type DownloadSummary struct {
	// Named counts the downloads named as catalog files; ChanceLevel
	// those named at a chance that is not negligible, which are never
	// counted as fetched.
	Total, Named, ChanceLevel, Unknown int
	// Ratio is the flow bytes a download carries per byte of the file:
	// the median of (bytes − extra bytes) / file size over the named
	// single-file downloads; with none, RatioAssumed and 1 + 52/1448 (a
	// full segment's TCP/IP headers with timestamps over its payload).
	Ratio        float64
	RatioAssumed bool
	// Starts are the downloads' start times (Unix milliseconds) by
	// status: named, chance-level, unknown.
	Starts [3][]int64
	// NamedRows are the named downloads, ChanceRows the chance-level
	// ones, in file order, each with its estimated size and its distance
	// to the file it was named.
	NamedRows, ChanceRows []NamedDownload
	// Sizes count the downloads by estimated file size and status, in
	// bins of SizeBinWidth decades from 1 byte.
	Sizes [3][]int
	// Closest are the unknown downloads closest to a catalog file, closest
	// first (at most MaxClosest).
	Closest []UnknownDownload
	// CatalogSizes are the catalog's file sizes, ascending.
	CatalogSizes []float64
}

// Download statuses, as DownloadSummary indexes them.
const (
	statusNamed = iota
	statusChance
	statusUnknown
)

// NamedDownload is a download named as catalog files.
type NamedDownload struct {
	Row nightdir.DownloadRow
	// Size is the named files' total size, Est the size the flow's bytes
	// suggest (bytes / Ratio) and Dist |Est − Size| / Size; Size is 0
	// when the catalog does not list the files.
	Size, Est, Dist float64
}

// UnknownDownload is an unknown download and the catalog file nearest
// to its estimated size.
type UnknownDownload struct {
	Row     nightdir.DownloadRow
	Est     float64
	Nearest string
	Dist    float64
}

// Binning of DownloadSummary's histograms.
const (
	SizeBinWidth = 0.1 // decades
	SizeBins     = 130 // 1 byte to 10^13
	MaxClosest   = 100
)

// assumedRatio is a full 1448-byte segment's flow bytes per payload byte
// with 52 bytes of IPv4 and TCP headers (timestamps on).
const assumedRatio = 1 + 52.0/1448

// summariseDownloads reads a downloads file once: the named and
// chance-level downloads, counts and the ratio, with the unknown ones kept
// as their bytes, start, client and row; once the ratio is known, the
// unknown ones are measured against the catalog and the rows of the
// closest read again (DownloadsAt: a Parquet file's pages holding them).
func summariseDownloads(ctx context.Context, n *nightdir.Night, entries []catalog.Entry) (*DownloadSummary, error) {
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
	// An unknown download as kept until the ratio is known: its client
	// is an index of clients.
	type unknownRef struct {
		bytes, start, row int64
		port, client      int32
	}
	var unknown []unknownRef
	clientOf := map[string]int32{}
	var clients []string
	var ratios []float64
	var row int64
	err := n.EachDownload(ctx, func(r *nightdir.DownloadRow) {
		defer func() { row++ }()
		s.Total++
		st := statusOf(r.Status)
		s.Starts[st] = append(s.Starts[st], r.Start.UnixMilli())
		if st == statusUnknown {
			s.Unknown++
			c, ok := clientOf[r.Client]
			if !ok {
				c = int32(len(clients))
				clientOf[r.Client] = c
				clients = append(clients, r.Client)
			}
			unknown = append(unknown, unknownRef{bytes: r.Bytes, start: r.Start.UnixNano(), row: row, port: r.ClientPort, client: c})
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

	// The unknown downloads' sizes and distances; the closest ordered by
	// distance, then start, client and port (closerThan), then row.
	type near struct {
		ref     *unknownRef
		est     float64
		nearest string
		dist    float64
	}
	closer := func(a, b *near) bool {
		return cmp.Or(cmp.Compare(a.dist, b.dist), cmp.Compare(a.ref.start, b.ref.start),
			cmp.Compare(clients[a.ref.client], clients[b.ref.client]), cmp.Compare(a.ref.port, b.ref.port),
			cmp.Compare(a.ref.row, b.ref.row)) < 0
	}
	var closest []near
	for i := range unknown {
		u := &unknown[i]
		est := float64(u.bytes) / s.Ratio
		s.Sizes[statusUnknown][sizeBin(est)]++
		if len(bySize) == 0 {
			continue
		}
		k, _ := slices.BinarySearchFunc(bySize, est, func(e sized, t float64) int { return cmp.Compare(e.size, t) })
		best, bd := "", math.Inf(1)
		for _, j := range []int{k - 1, k} {
			if j >= 0 && j < len(bySize) {
				if d := math.Abs(est-bySize[j].size) / bySize[j].size; d < bd {
					best, bd = bySize[j].name, d
				}
			}
		}
		c := near{u, est, best, bd}
		if len(closest) < MaxClosest || closer(&c, &closest[len(closest)-1]) {
			at, _ := slices.BinarySearchFunc(closest, c, func(a, b near) int {
				if closer(&a, &b) {
					return -1
				}
				if closer(&b, &a) {
					return 1
				}
				return 0
			})
			closest = slices.Insert(closest, at, c)
			if len(closest) > MaxClosest {
				closest = closest[:MaxClosest]
			}
		}
	}
	if len(closest) == 0 {
		return s, nil
	}
	at := make([]int64, len(closest))
	for i, c := range closest {
		at[i] = c.ref.row
	}
	slices.Sort(at)
	rows, err := n.DownloadsAt(ctx, at)
	if err != nil {
		return nil, err
	}
	byRow := make(map[int64]*nightdir.DownloadRow, len(rows))
	for i := range rows {
		byRow[at[i]] = &rows[i]
	}
	for _, c := range closest {
		s.Closest = append(s.Closest, UnknownDownload{Row: *byRow[c.ref.row], Est: c.est, Nearest: c.nearest, Dist: c.dist})
	}
	return s, nil
}

// statusOf is a download row's status as an index of Starts and Sizes.
func statusOf(status string) int {
	switch status {
	case downloads.StatusNamed:
		return statusNamed
	case downloads.StatusChanceLevel:
		return statusChance
	}
	return statusUnknown
}

// sizeBin is the histogram bin of an estimated size.
func sizeBin(est float64) int {
	if est < 1 {
		return 0
	}
	return min(SizeBins-1, int(math.Log10(est)/SizeBinWidth))
}
