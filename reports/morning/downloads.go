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

// summariseDownloads reads a downloads file once (DownloadSummarizer),
// and the rows of the closest unknown downloads again (DownloadsAt: a
// Parquet file's pages holding them).
func summariseDownloads(ctx context.Context, n *nightdir.Night, entries []catalog.Entry) (*DownloadSummary, error) {
	z := NewDownloadSummarizer(entries)
	if err := n.EachDownload(ctx, func(r *nightdir.DownloadRow) { z.add(r) }); err != nil {
		return nil, err
	}
	return z.summary(ctx, n)
}

// DownloadSummarizer gathers a DownloadSummary from a night's downloads
// in the order of its downloads file: the named and chance-level ones,
// counts and the ratio, with the unknown ones kept as their bytes, start,
// client and row. Once the ratio is known the unknown ones are measured
// against the catalog, and the rows of the closest read from the file.
// The nightly run feeds it the rows as it writes them (Write), so that
// its report does not read the file again.
type DownloadSummarizer struct {
	s        *DownloadSummary
	size     map[string]float64
	bySize   []sized
	unknown  []unknownRef
	clientOf map[string]int32
	clients  []string
	ratios   []float64
	rows     int64
	format   string // the rows are made as read back from a file of this format ("": as given)
}

type sized struct {
	name string
	size float64
}

// unknownRef is an unknown download as kept until the ratio is known:
// its client an index of DownloadSummarizer.clients.
type unknownRef struct {
	bytes, start, row int64
	port, client      int32
}

// NewDownloadSummarizer starts a summary against the catalog entries.
func NewDownloadSummarizer(entries []catalog.Entry) *DownloadSummarizer {
	z := &DownloadSummarizer{s: &DownloadSummary{}, size: map[string]float64{}, clientOf: map[string]int32{}}
	for i := range z.s.Sizes {
		z.s.Sizes[i] = make([]int, SizeBins)
	}
	for _, e := range entries {
		z.size[e.Name] = float64(e.Size)
		z.bySize = append(z.bySize, sized{e.Name, float64(e.Size)})
	}
	slices.SortFunc(z.bySize, func(a, b sized) int { return cmp.Or(cmp.Compare(a.size, b.size), cmp.Compare(a.name, b.name)) })
	for _, e := range z.bySize {
		z.s.CatalogSizes = append(z.s.CatalogSizes, e.size)
	}
	return z
}

// ForFile makes the rows Write takes what reading them back from a
// downloads file of format (nightdir.FormatParquet or FormatCSV) gives,
// so that the summary is the one the file gives.
func (z *DownloadSummarizer) ForFile(format string) *DownloadSummarizer {
	z.format = format
	return z
}

// Write adds the next row of the downloads file.
func (z *DownloadSummarizer) Write(r *nightdir.DownloadRow) error {
	if z.format == "" {
		z.add(r)
		return nil
	}
	stored, err := r.Stored(z.format)
	if err != nil {
		return err
	}
	z.add(&stored)
	return nil
}

func (z *DownloadSummarizer) add(r *nightdir.DownloadRow) {
	s := z.s
	row := z.rows
	z.rows++
	s.Total++
	st := statusOf(r.Status)
	s.Starts[st] = append(s.Starts[st], r.Start.UnixMilli())
	if st == statusUnknown {
		s.Unknown++
		c, ok := z.clientOf[r.Client]
		if !ok {
			c = int32(len(z.clients))
			z.clientOf[r.Client] = c
			z.clients = append(z.clients, r.Client)
		}
		z.unknown = append(z.unknown, unknownRef{bytes: r.Bytes, start: r.Start.UnixNano(), row: row, port: r.ClientPort, client: c})
		return
	}
	nd := NamedDownload{Row: *r}
	for f := range strings.SplitSeq(r.Files, "+") {
		nd.Size += z.size[f]
	}
	if st == statusChance {
		s.ChanceLevel++
		s.ChanceRows = append(s.ChanceRows, nd)
		return
	}
	s.Named++
	if z.size[r.Files] > 0 && r.Bytes > r.Extra {
		z.ratios = append(z.ratios, float64(r.Bytes-r.Extra)/z.size[r.Files])
	}
	s.NamedRows = append(s.NamedRows, nd)
}

// summary finishes the summary: the ratio, the sizes, and the closest
// unknown downloads, whose rows n's downloads file gives. The
// summarizer is spent.
func (z *DownloadSummarizer) summary(ctx context.Context, n *nightdir.Night) (*DownloadSummary, error) {
	s := z.s
	s.Ratio, s.RatioAssumed = assumedRatio, true
	if len(z.ratios) > 0 {
		slices.Sort(z.ratios)
		s.Ratio, s.RatioAssumed = z.ratios[len(z.ratios)/2], false
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
	// distance, then start, client and port, then row.
	type near struct {
		ref     *unknownRef
		est     float64
		nearest string
		dist    float64
	}
	closer := func(a, b *near) bool {
		return cmp.Or(cmp.Compare(a.dist, b.dist), cmp.Compare(a.ref.start, b.ref.start),
			cmp.Compare(z.clients[a.ref.client], z.clients[b.ref.client]), cmp.Compare(a.ref.port, b.ref.port),
			cmp.Compare(a.ref.row, b.ref.row)) < 0
	}
	var closest []near
	for i := range z.unknown {
		u := &z.unknown[i]
		est := float64(u.bytes) / s.Ratio
		s.Sizes[statusUnknown][sizeBin(est)]++
		if len(z.bySize) == 0 {
			continue
		}
		k, _ := slices.BinarySearchFunc(z.bySize, est, func(e sized, t float64) int { return cmp.Compare(e.size, t) })
		best, bd := "", math.Inf(1)
		for _, j := range []int{k - 1, k} {
			if j >= 0 && j < len(z.bySize) {
				if d := math.Abs(est-z.bySize[j].size) / z.bySize[j].size; d < bd {
					best, bd = z.bySize[j].name, d
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
