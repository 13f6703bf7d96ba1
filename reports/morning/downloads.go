package reports

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// DownloadSummary is what the morning report shows of a night's
// downloads, gathered in two passes over downloads.parquet (or .csv)
// without holding the unknown ones: counts per hour, the named downloads,
// the estimated file sizes of the unknown ones as a histogram, and the
// unknown downloads closest to a catalog file.
type DownloadSummary struct {
	// Named counts the downloads named as catalog files, ChanceLevel
	// those named at a chance not negligible (shown with the unknown
	// ones: not as fetched).
	Total, Named, ChanceLevel, Unknown int
	// Ratio is the flow bytes a download carries per byte of the file:
	// the median of (bytes − extra bytes) / file size over the named
	// single-file downloads; with none, RatioAssumed and 1 + 52/1448 (a
	// full segment's TCP/IP headers with timestamps over its payload).
	Ratio        float64
	RatioAssumed bool
	// Hours counts the downloads that started in each hour, from the first
	// download's hour to the last's.
	Hours []HourCount
	// NamedRows are the named downloads in file order, each with its
	// estimated size and its distance to the file it was named.
	NamedRows []NamedDownload
	// UnknownSizes counts the unknown downloads by estimated file size,
	// in bins of SizeBinWidth decades from 1 byte; UnknownDist by relative
	// distance to the nearest catalog file in bins of DistBinWidth decades
	// from DistMin (closer ones in the first bin).
	UnknownSizes []int
	UnknownDist  []int
	// Closest are the unknown downloads closest to a catalog file, closest
	// first (at most MaxClosest).
	Closest []UnknownDownload
	// CatalogSizes are the catalog's file sizes, ascending.
	CatalogSizes []float64
}

// HourCount is the downloads of one hour.
type HourCount struct {
	Hour           time.Time
	Named, Unknown int
}

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
	SizeBinWidth = 0.02 // decades
	SizeBins     = 650  // 1 byte to 10^13
	DistMin      = 1e-7
	DistBinWidth = 0.05
	DistBins     = 160 // 1e-7 to 10
	MaxClosest   = 100
)

// assumedRatio is a full 1448-byte segment's flow bytes per payload byte
// with 52 bytes of IPv4 and TCP headers (timestamps on).
const assumedRatio = 1 + 52.0/1448

// summariseDownloads reads a downloads file twice: named downloads,
// counts and the ratio first, then the unknown ones against the catalog.
func summariseDownloads(ctx context.Context, n *nightdir.Night, entries []catalog.Entry) (*DownloadSummary, error) {
	s := &DownloadSummary{UnknownSizes: make([]int, SizeBins), UnknownDist: make([]int, DistBins)}
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
	hours := map[int64]*HourCount{}
	var ratios []float64
	err := n.EachDownload(ctx, func(r *nightdir.DownloadRow) {
		s.Total++
		h := r.Start.UTC().Truncate(time.Hour)
		hc := hours[h.Unix()]
		if hc == nil {
			hc = &HourCount{Hour: h}
			hours[h.Unix()] = hc
		}
		if r.Status != downloads.StatusNamed {
			if r.Status == downloads.StatusChanceLevel {
				s.ChanceLevel++
			} else {
				s.Unknown++
			}
			hc.Unknown++
			return
		}
		s.Named++
		hc.Named++
		nd := NamedDownload{Row: *r}
		for f := range strings.SplitSeq(r.Files, "+") {
			nd.Size += size[f]
		}
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
	for i := range s.NamedRows {
		nd := &s.NamedRows[i]
		nd.Est = float64(nd.Row.Bytes) / s.Ratio
		if nd.Size > 0 {
			nd.Dist = math.Abs(nd.Est-nd.Size) / nd.Size
		}
	}
	for _, h := range hours {
		s.Hours = append(s.Hours, *h)
	}
	slices.SortFunc(s.Hours, func(a, b HourCount) int { return a.Hour.Compare(b.Hour) })
	if len(s.Hours) > 1 {
		// Every hour from the first to the last, empty ones included.
		full := []HourCount{}
		i := 0
		for h := s.Hours[0].Hour; !h.After(s.Hours[len(s.Hours)-1].Hour); h = h.Add(time.Hour) {
			if s.Hours[i].Hour.Equal(h) {
				full = append(full, s.Hours[i])
				i++
			} else {
				full = append(full, HourCount{Hour: h})
			}
		}
		s.Hours = full
	}
	if s.Unknown+s.ChanceLevel == 0 {
		return s, nil
	}

	// Second pass: the unknown downloads' sizes and distances.
	var closest []UnknownDownload
	err = n.EachDownload(ctx, func(r *nightdir.DownloadRow) {
		if r.Status == downloads.StatusNamed {
			return
		}
		est := float64(r.Bytes) / s.Ratio
		s.UnknownSizes[sizeBin(est)]++
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
		s.UnknownDist[distBin(bd)]++
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

// sizeBin is the histogram bin of an estimated size.
func sizeBin(est float64) int {
	if est < 1 {
		return 0
	}
	return min(SizeBins-1, int(math.Log10(est)/SizeBinWidth))
}

// distBin is the histogram bin of a relative distance.
func distBin(d float64) int {
	if d <= DistMin {
		return 0
	}
	return max(0, min(DistBins-1, int(math.Log10(d/DistMin)/DistBinWidth)))
}
