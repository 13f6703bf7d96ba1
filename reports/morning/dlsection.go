package morning

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// binWidths are the bins a chart over time may count in; the smallest
// that keeps the bins under maxTimeBins is taken.
var binWidths = []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute,
	10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 24 * time.Hour}

const maxTimeBins = 72

// timeBin is the bin width for a span.
func timeBin(span time.Duration) time.Duration {
	for _, b := range binWidths {
		if span/b < maxTimeBins {
			return b
		}
	}
	return binWidths[len(binWidths)-1]
}

var statusNames = [3]string{"named", "at chance level", "unknown"}
var statusClasses = [3]string{"c-named", "c-chance", "c-unknown"}

func (r *report) downloadsSection() (section, error) {
	n := r.n
	s := section{ID: "downloads", Title: "Downloads"}
	d := n.Downloads
	dlFile := nightdir.DownloadsFile
	if n.Present[nightdir.DownloadsCSVFile] {
		dlFile = nightdir.DownloadsCSVFile
	}
	if d == nil {
		s.Blocks = append(s.Blocks, block{Note: missingText(dlFile) + " There are no downloads to show."})
		return s, nil
	}
	how := fmt.Sprintf("the median of the named downloads' flow bytes per file byte, %.4f", d.Ratio)
	if d.RatioAssumed {
		how = fmt.Sprintf("%.4f, a full segment's headers, as no download was named", d.Ratio)
	}
	s.Blocks = append(s.Blocks, block{Text: fmt.Sprintf(
		"%s (server-to-client bulk transfers): %s named as catalog files, %s that fit a catalog file no better than a file outside the catalog would by chance (at chance level: never counted as fetched), %s unknown. A download's estimated file size is its flow bytes divided by %s.",
		plural(d.Total, "download", "downloads"), countText(d.Named), countText(d.ChanceLevel), countText(d.Unknown), how)})
	s.Blocks = append(s.Blocks, block{Figure: r.downloadsOverTime()}, block{Figure: r.downloadSizes()})
	if err := r.downloadTables(&s, dlFile); err != nil {
		return s, err
	}
	return s, nil
}

// downloadsOverTime: the downloads that started in each bin of the
// night, named, at chance level and unknown stacked.
func (r *report) downloadsOverTime() *figure {
	d := r.n.Downloads
	fig := &figure{ID: "fig-downloads-time", Title: "Downloads over time"}
	var lo, hi int64 = math.MaxInt64, math.MinInt64
	for _, st := range d.Starts {
		for _, t := range st {
			lo, hi = min(lo, t), max(hi, t)
		}
	}
	if d.Total == 0 {
		fig.Omitted = "the night had no downloads."
		return fig
	}
	span := time.Duration(hi-lo) * time.Millisecond
	bin := timeBin(span)
	start := time.UnixMilli(lo).UTC().Truncate(bin)
	nb := int(time.UnixMilli(hi).UTC().Sub(start)/bin) + 1
	counts := make([][3]int, nb)
	for st, ts := range d.Starts {
		for _, t := range ts {
			counts[int(time.UnixMilli(t).UTC().Sub(start)/bin)][st]++
		}
	}
	busy := 0
	for _, c := range counts {
		if c[0]+c[1]+c[2] > 0 {
			busy++
		}
	}
	if busy < 2 {
		fig.Omitted = fmt.Sprintf("every download started within one %s (%s UTC): a chart of one bar says nothing the counts above do not.", binText(bin), start.Format("15:04:05"))
		return fig
	}
	p := panel{height: 200, yLabel: "downloads per " + binText(bin), colClasses: statusClasses[:]}
	top := 0
	for k, c := range counts {
		t0 := start.Add(time.Duration(k) * bin)
		x0 := t0.Sub(start).Seconds()
		x1 := x0 + bin.Seconds()
		gap := bin.Seconds() * 0.08
		var parts []float64
		for st := range 3 {
			parts = append(parts, float64(c[st]))
		}
		top = max(top, c[0]+c[1]+c[2])
		title := fmt.Sprintf("%s–%s UTC: %d named, %d at chance level, %d unknown", clockText(t0), clockText(t0.Add(bin)), c[0], c[1], c[2])
		p.columns = append(p.columns, colBar{x0: x0 + gap, x1: x1 - gap, parts: parts, title: title})
	}
	p.yTicks, p.yTop = valueTicks(float64(top), 4, func(v float64) string {
		if v != math.Trunc(v) {
			return ""
		}
		return countText(int64(v))
	})
	end := start.Add(time.Duration(nb) * bin)
	c := xyChart{xlo: 0, xhi: end.Sub(start).Seconds(), xTicks: timeTicks(start, end, 8), xLabel: "time the downloads started (UTC)",
		panels: []panel{p}, label: "downloads per " + binText(bin) + " over the night",
		legend: []legendKey{{"c-named", "named"}, {"c-chance", "at chance level"}, {"c-unknown", "unknown"}}}
	fig.Body = c.render()
	fig.Caption = fmt.Sprintf("Downloads by the %s they started in, over the %s the downloads span. Hover a bar for its counts.", binText(bin), spanText(span))
	return fig
}

// downloadSizes: downloads by estimated file size on a log axis, with
// the catalog's file sizes marked along the top.
func (r *report) downloadSizes() *figure {
	d := r.n.Downloads
	fig := &figure{ID: "fig-download-sizes", Title: "Downloads against the catalog's file sizes"}
	if d.Total == 0 {
		fig.Omitted = "the night had no downloads."
		return fig
	}
	lo, hi := SizeBins, -1
	for st := range d.Sizes {
		for b, k := range d.Sizes[st] {
			if k > 0 {
				lo, hi = min(lo, b), max(hi, b)
			}
		}
	}
	for _, c := range d.CatalogSizes {
		b := sizeBin(c)
		lo, hi = min(lo, b), max(hi, b)
	}
	lo, hi = max(0, lo-1), min(SizeBins-1, hi+1)
	xlo, xhi := float64(lo)*SizeBinWidth, float64(hi+1)*SizeBinWidth
	p := panel{height: 200, yLabel: "downloads", colClasses: statusClasses[:]}
	top := 0
	for b := lo; b <= hi; b++ {
		var parts []float64
		sum := 0
		for st := range 3 {
			parts = append(parts, float64(d.Sizes[st][b]))
			sum += d.Sizes[st][b]
		}
		if sum == 0 {
			continue
		}
		top = max(top, sum)
		x0 := float64(b) * SizeBinWidth
		title := fmt.Sprintf("estimated size %s to %s: %d named, %d at chance level, %d unknown", bytesText(math.Pow(10, x0)),
			bytesText(math.Pow(10, x0+SizeBinWidth)), d.Sizes[0][b], d.Sizes[1][b], d.Sizes[2][b])
		p.columns = append(p.columns, colBar{x0: x0 + 0.01, x1: x0 + SizeBinWidth - 0.01, parts: parts, title: title})
	}
	p.yTicks, p.yTop = valueTicks(float64(top), 4, func(v float64) string {
		if v != math.Trunc(v) {
			return ""
		}
		return countText(int64(v))
	})
	for _, c := range d.CatalogSizes {
		p.rug = append(p.rug, math.Log10(math.Max(c, 1)))
	}
	p.rugClass, p.rugTitle = "c-catalog", fmt.Sprintf("the catalog's %d file sizes", len(d.CatalogSizes))
	var xt []tick
	for e := math.Ceil(xlo); e <= xhi; e++ {
		xt = append(xt, tick{at: (e - xlo) / (xhi - xlo), label: bytesText(math.Pow(10, e))})
	}
	c := xyChart{xlo: xlo, xhi: xhi, xTicks: xt, xLabel: fmt.Sprintf("estimated file size (flow bytes ÷ %.4f), log scale", d.Ratio), panels: []panel{p},
		label:  "downloads by estimated file size against the catalog's file sizes",
		legend: []legendKey{{"c-named", "named"}, {"c-chance", "at chance level"}, {"c-unknown", "unknown"}, {"c-catalog", "catalog file sizes (marks along the top)"}}}
	fig.Body = c.render()
	fig.Caption = "Where downloads sit against the catalog: downloads by estimated file size in bins of a tenth of a decade. Unknown downloads far from every mark are files outside the catalog; unknown ones on a mark are catalog-sized transfers the counters could not name (keep-alive connections, losses)."
	return fig
}

// downloadTables: per named file, the named and chance-level downloads,
// and the unknown ones closest to a catalog file.
func (r *report) downloadTables(s *section, dlFile string) error {
	n := r.n
	d := n.Downloads
	osOf := map[string]string{}
	for _, e := range n.Catalog {
		osOf[e.Name] = e.OS
	}
	idx := n.hostIndex()
	type perFile struct {
		named, chance     int
		withOS, withoutOS map[string]bool
		extras            []int64
	}
	files := map[string]*perFile{}
	for st, rows := range [][]NamedDownload{d.NamedRows, d.ChanceRows} {
		for _, row := range rows {
			f := files[row.Row.Files]
			if f == nil {
				f = &perFile{withOS: map[string]bool{}, withoutOS: map[string]bool{}}
				files[row.Row.Files] = f
			}
			if st == statusNamed {
				f.named++
				f.extras = append(f.extras, row.Row.Extra)
			} else {
				f.chance++
			}
			if i, ok := idx[row.Row.Client]; ok && r.facts[i].os != "" {
				f.withOS[row.Row.Client] = true
			} else {
				f.withoutOS[row.Row.Client] = true
			}
		}
	}
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	slices.Sort(names)
	var rows [][]any
	for _, k := range names {
		f := files[k]
		med := cell{T: "—", V: -1}
		if len(f.extras) > 0 {
			slices.Sort(f.extras)
			m := f.extras[len(f.extras)/2]
			med = cell{T: bytesText(float64(m)), V: m}
		}
		var oses []string
		for part := range strings.SplitSeq(k, "+") {
			if os := osOf[part]; os != "" && !slices.Contains(oses, os) {
				oses = append(oses, os)
			}
		}
		rows = append(rows, []any{k, strings.Join(oses, ", "), f.named, f.chance, len(f.withOS), len(f.withoutOS), med})
	}
	pf, err := newDataTable("downloads-files", []column{{Name: "files"}, {Name: "OS"}, {Name: "named", Unit: "downloads", Num: true},
		{Name: "at chance level", Unit: "downloads", Num: true}, {Name: "hosts with an OS", Num: true}, {Name: "hosts without one", Num: true},
		{Name: "extra bytes", Unit: "median of the named", Num: true}}, rows, false, pageRows, "No download was named.")
	if err != nil {
		return err
	}
	dlRows := func(rs []NamedDownload) [][]any {
		var out [][]any
		for _, row := range rs[:min(len(rs), maxDownloadRows)] {
			who := row.Row.Client
			if i, ok := idx[who]; ok {
				who = r.facts[i].label
			}
			out = append(out, []any{stampText(row.Row.Start), who, row.Row.Server + ":" + strconv.Itoa(int(row.Row.ServerPort)), row.Row.Files,
				cell{T: bytesText(float64(row.Row.Bytes)), V: row.Row.Bytes}, cell{T: bytesText(row.Est), V: math.Round(row.Est)},
				cell{T: shareText(row.Dist), V: math.Round(row.Dist*1e6) / 1e6}, cell{T: chanceText(row.Row.Chance), V: row.Row.Chance}, row.Row.Profile})
		}
		return out
	}
	dlCols := []column{{Name: "start", Unit: "UTC"}, {Name: "client"}, {Name: "server"}, {Name: "files"},
		{Name: "flow bytes", Num: true}, {Name: "estimated size", Unit: "bytes", Num: true}, {Name: "off the file", Unit: "%", Num: true},
		{Name: "chance fit", Num: true}, {Name: "profile"}}
	named, err := newDataTable("downloads-named", dlCols, dlRows(d.NamedRows), false, pageRows, "No download was named.")
	if err != nil {
		return err
	}
	chance, err := newDataTable("downloads-chance", dlCols, dlRows(d.ChanceRows), false, pageRows, "No download was named at chance level.")
	if err != nil {
		return err
	}
	rows = nil
	for _, u := range d.Closest {
		rows = append(rows, []any{stampText(u.Row.Start), u.Row.Client, u.Row.Server + ":" + strconv.Itoa(int(u.Row.ServerPort)),
			cell{T: bytesText(float64(u.Row.Bytes)), V: u.Row.Bytes}, cell{T: bytesText(u.Est), V: math.Round(u.Est)}, u.Nearest,
			cell{T: shareText(u.Dist), V: math.Round(u.Dist*1e6) / 1e6}})
	}
	closest, err := newDataTable("downloads-closest", []column{{Name: "start", Unit: "UTC"}, {Name: "client"}, {Name: "server"},
		{Name: "flow bytes", Num: true}, {Name: "estimated size", Unit: "bytes", Num: true}, {Name: "nearest catalog file"}, {Name: "off it", Unit: "%", Num: true}},
		rows, false, pageRows, "No unknown download, or no catalog sizes to compare with.")
	if err != nil {
		return err
	}
	summary := func(what string, k int) string {
		if k > maxDownloadRows {
			return fmt.Sprintf("%s (the first %s of %s)", what, countText(maxDownloadRows), countText(k))
		}
		return fmt.Sprintf("%s (%s)", what, countText(k))
	}
	s.Blocks = append(s.Blocks,
		block{Details: &details{ID: "downloads-per-file", Summary: fmt.Sprintf("Downloads per catalog file (%d files or combinations)", len(names)), Blocks: []block{{Table: pf}}}},
		block{Details: &details{Summary: summary("Named downloads", len(d.NamedRows)), Blocks: []block{{Table: named}}}},
		block{Details: &details{Summary: summary("Downloads named at chance level, not counted as fetched", len(d.ChanceRows)), Blocks: []block{{Table: chance}}}},
		block{Details: &details{Summary: fmt.Sprintf("The %d unknown downloads closest to a catalog file", len(d.Closest)), Blocks: []block{{Table: closest}}}},
		block{Links: []link{{dlFile + " (every download with its answer)", dlFile}}},
	)
	return nil
}

// chanceText is a chance fit, as a share: "0.8%", "<0.1%".
func chanceText(c float64) string { return cmp.Or(shareText(c), "0%") }
