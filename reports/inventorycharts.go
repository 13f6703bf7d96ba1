package reports

import (
	"cmp"
	"fmt"
	"image/color"
	"io"
	"math"
	"net/netip"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// FamilyCount is the hosts the inventory gives one OS family.
type FamilyCount struct {
	OS    string
	Hosts int
	// Sure are those with a confidence of at least SureConfidence.
	Sure int
}

// SureConfidence is the confidence from which the charts count an OS as
// sure.
const SureConfidence = 0.9

// Families counts hosts per OS family, the most common first and
// "unknown" last.
func Families(hosts []nightdir.Host) []FamilyCount {
	by := map[string]*FamilyCount{}
	for _, h := range hosts {
		os := h.Verdict.OS
		if os == "" {
			os = inventory.Unknown
		}
		f := by[os]
		if f == nil {
			f = &FamilyCount{OS: os}
			by[os] = f
		}
		f.Hosts++
		if os != inventory.Unknown && h.Verdict.Confidence >= SureConfidence {
			f.Sure++
		}
	}
	out := make([]FamilyCount, 0, len(by))
	for _, f := range by {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b FamilyCount) int {
		au, bu := a.OS == inventory.Unknown, b.OS == inventory.Unknown
		if au != bu {
			if au {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(b.Hosts, a.Hosts), cmp.Compare(a.OS, b.OS))
	})
	return out
}

// OSFamiliesChart draws hosts per OS family as horizontal bars, the hosts
// given an OS with a confidence of at least SureConfidence darker, each
// bar labelled with its count and share. The image is WideWidth ×
// WideHeight.
func OSFamiliesChart(w io.Writer, format string, fams []FamilyCount) error {
	total := 0
	for _, f := range fams {
		total += f.Hosts
	}
	if total == 0 {
		return fmt.Errorf("OS families chart: no hosts: %w", ErrNoData)
	}
	n := len(fams)
	sure := make(plotter.Values, n)
	rest := make(plotter.Values, n)
	names := make([]string, n)
	var xys plotter.XYs
	var texts []string
	top := 0.0
	for i, f := range fams {
		j := n - 1 - i
		sure[j], rest[j] = float64(f.Sure), float64(f.Hosts-f.Sure)
		names[j] = f.OS
		top = math.Max(top, float64(f.Hosts))
		xys = append(xys, plotter.XY{X: float64(f.Hosts), Y: float64(j)})
		texts = append(texts, fmt.Sprintf("%s hosts (%.1f%%)", countText(f.Hosts), 100*float64(f.Hosts)/float64(total)))
	}
	p := plot.New()
	p.X.Label.Text = "hosts"
	p.X.Min, p.X.Max = 0, math.Max(1, top*1.3)
	p.Add(verticalGrid())
	p.NominalY(names...)
	width := vg.Length(math.Min(30, 250/float64(n)))
	if err := addStackedBars(p, sure, rest, width, colourNamed, colourLight, xys, texts, vg.Points(9)); err != nil {
		return fmt.Errorf("OS families chart: %w", err)
	}
	legend := []legendEntry{
		{fmt.Sprintf("confidence ≥ %.0f%%", 100*SureConfidence), colourNamed},
		{fmt.Sprintf("confidence below %.0f%%, or no OS", 100*SureConfidence), colourLight},
	}
	return render(w, format, WideWidth, WideHeight, fmt.Sprintf("Hosts per OS family (%s hosts)", countText(total)), legend, [][]*plot.Plot{{p}})
}

// Coverage is how the hosts of one OS fetched one catalog entry.
type Coverage struct {
	Entry, OS, Product, Version string
	// Hosts are the hosts the inventory gives the entry's OS; Fetched
	// those of them that fetched it, Missing the others. Others counts
	// hosts of another or no OS that fetched it.
	Hosts   int
	Fetched []netip.Addr
	Missing []netip.Addr
	Others  int
}

// Share is the share of the OS's hosts that fetched the entry.
func (c Coverage) Share() float64 { return ratio(len(c.Fetched), c.Hosts) }

// CoverageChart draws, for at most maxRows catalog entries (the rows
// given, in order), how many of the hosts of the entry's OS fetched it
// and how many did not, as stacked horizontal bars. The image is
// WideWidth wide and as tall as the rows need.
func CoverageChart(w io.Writer, format string, rows []Coverage, maxRows int) error {
	hosts := 0
	for _, r := range rows {
		hosts += r.Hosts
	}
	if len(rows) == 0 || hosts == 0 {
		return fmt.Errorf("coverage chart: no host has the OS of a catalog entry: %w", ErrNoData)
	}
	shown := rows
	if len(rows) > maxRows {
		// The most fetched entries, in the order given.
		idx := make([]int, len(rows))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(len(rows[b].Fetched), len(rows[a].Fetched)) })
		idx = idx[:maxRows]
		slices.Sort(idx)
		shown = nil
		for _, i := range idx {
			shown = append(shown, rows[i])
		}
	}
	n := len(shown)
	got := make(plotter.Values, n)
	miss := make(plotter.Values, n)
	names := make([]string, n)
	var xys plotter.XYs
	var texts []string
	top := 0.0
	for i, r := range shown {
		j := n - 1 - i
		got[j], miss[j] = float64(len(r.Fetched)), float64(len(r.Missing))
		names[j] = shortAddr(r.Entry, 28) + " (" + r.OS + ")"
		top = math.Max(top, float64(r.Hosts))
		xys = append(xys, plotter.XY{X: float64(r.Hosts), Y: float64(j)})
		t := fmt.Sprintf("%d of %d", len(r.Fetched), r.Hosts)
		if r.Hosts == 0 {
			t = "no " + r.OS + " host"
		}
		if r.Others > 0 {
			t += fmt.Sprintf(", and %d other hosts", r.Others)
		}
		texts = append(texts, t)
	}
	height := max(WideHeight, vg.Length(n)*vg.Points(13)+vg.Points(110))
	p := plot.New()
	p.X.Label.Text = "hosts of the entry's OS"
	p.X.Min, p.X.Max = 0, math.Max(1, top*1.35)
	p.Add(verticalGrid())
	p.NominalY(names...)
	p.Y.Tick.Label.Font.Size = vg.Points(8)
	width := vg.Length(math.Min(16, float64(height-vg.Points(110))/float64(n)*0.7))
	if err := addStackedBars(p, got, miss, width, colourFetched, colourMissing, xys, texts, vg.Points(8)); err != nil {
		return fmt.Errorf("coverage chart: %w", err)
	}
	title := "Update coverage: hosts of each entry's OS that fetched it"
	if len(rows) > n {
		title = fmt.Sprintf("Update coverage: %d of %d catalog entries, the most fetched", n, len(rows))
	}
	legend := []legendEntry{{"fetched it", colourFetched}, {"did not", colourMissing}}
	return render(w, format, WideWidth, height, title, legend, [][]*plot.Plot{{p}})
}

// Changes is what changed since the previous night.
type Changes struct {
	Previous       string // the previous night, "" when unknown
	NewHosts       int
	OSChanged      int
	WithNewUpdates int
	NewUpdates     int
	// ByEntry counts first-time fetches per catalog entry, most first.
	ByEntry []EntryCount
}

// EntryCount is a count for one catalog entry.
type EntryCount struct {
	Entry string
	Count int
}

// ChangesOf reads the inventory's words about each host's change.
func ChangesOf(hosts []nightdir.Host) Changes {
	var c Changes
	by := map[string]int{}
	for _, h := range hosts {
		switch {
		case strings.HasPrefix(h.Changed, "new since "):
			c.NewHosts++
			c.Previous = strings.TrimPrefix(h.Changed, "new since ")
		case strings.HasPrefix(h.Changed, "OS "):
			c.OSChanged++
		}
		if len(h.NewUpdates) > 0 {
			c.WithNewUpdates++
			c.NewUpdates += len(h.NewUpdates)
		}
		for _, u := range h.NewUpdates {
			by[u]++
		}
	}
	for e, k := range by {
		c.ByEntry = append(c.ByEntry, EntryCount{e, k})
	}
	slices.SortFunc(c.ByEntry, func(a, b EntryCount) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Entry, b.Entry)) })
	return c
}

// maxChangeEntries is how many entries the changes chart lists.
const maxChangeEntries = 15

// ChangesChart draws what is new since the previous night: new hosts,
// hosts whose OS changed and hosts with updates fetched for the first
// time (left), and the entries fetched for the first time by the most
// hosts (right). The image is WideWidth × WideHeight.
func ChangesChart(w io.Writer, format string, c Changes) error {
	bar := func(vals []float64, names []string, col color.Color, xlabel string) (*plot.Plot, error) {
		n := len(vals)
		v := make(plotter.Values, n)
		ns := make([]string, n)
		var xys plotter.XYs
		var texts []string
		top := 0.0
		for i := range vals {
			j := n - 1 - i
			v[j], ns[j] = vals[i], names[i]
			top = math.Max(top, vals[i])
			xys = append(xys, plotter.XY{X: vals[i], Y: float64(j)})
			texts = append(texts, countText(int(vals[i])))
		}
		p := plot.New()
		p.X.Label.Text = xlabel
		p.X.Min, p.X.Max = 0, math.Max(1, top*1.2)
		p.Add(verticalGrid())
		p.NominalY(ns...)
		p.Y.Tick.Label.Font.Size = vg.Points(9)
		b, err := plotter.NewBarChart(v, vg.Length(math.Min(24, 220/float64(n))))
		if err != nil {
			return nil, err
		}
		b.Horizontal, b.Color, b.LineStyle.Width = true, col, 0
		p.Add(b)
		l, err := smallLabels(xys, texts, vg.Points(9), draw.XLeft, draw.YCenter)
		if err != nil {
			return nil, err
		}
		l.Offset.X = vg.Points(4)
		p.Add(l)
		return p, nil
	}
	left, err := bar([]float64{float64(c.NewHosts), float64(c.OSChanged), float64(c.WithNewUpdates)},
		[]string{"new hosts", "hosts whose OS changed", "hosts with new updates"}, colourNamed, "hosts")
	if err != nil {
		return fmt.Errorf("changes chart: %w", err)
	}
	row := []*plot.Plot{left}
	if len(c.ByEntry) > 0 {
		var vals []float64
		var names []string
		for _, e := range c.ByEntry[:min(maxChangeEntries, len(c.ByEntry))] {
			vals = append(vals, float64(e.Count))
			names = append(names, shortAddr(e.Entry, 30))
		}
		right, err := bar(vals, names, colourFetched, "hosts that fetched it for the first time")
		if err != nil {
			return fmt.Errorf("changes chart: %w", err)
		}
		row = append(row, right)
	}
	title := "New since the previous night"
	if c.Previous != "" {
		title += " (" + c.Previous + ")"
	}
	title += fmt.Sprintf(": %d updates fetched for the first time", c.NewUpdates)
	return render(w, format, WideWidth, WideHeight, title, nil, [][]*plot.Plot{row})
}
