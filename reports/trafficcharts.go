package reports

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// maxLinePoints is how many points a time series keeps on a chart: past
// it, each point is the highest of a run of seconds, so peaks stay
// visible and the SVG small.
const maxLinePoints = 1500

// secondSteps are the runs of seconds the traffic chart may reduce to one
// point.
var secondSteps = []int{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600}

// markedHosts is how many of the busiest hosts the traffic chart marks.
const markedHosts = 5

// TrafficChart draws the site's traffic over time in two panels, bits/s
// (in the SI unit its peak reads best in: kbit/s, Mbit/s...) above
// packets/s: every second (light; the highest
// second of each run when there are more than maxLinePoints) and the mean
// of every minute (dark, with points). The peak minute of each of the
// first markedHosts hosts of busiest (busiest first) is marked with its
// address. The x axis is UTC time with the date. format is "png" or
// "svg"; the image is WideWidth × TallHeight.
func TrafficChart(w io.Writer, format string, seconds []nightdir.SecondRow, minutes []nightdir.MinuteRow, busiest []nightdir.HostSeries) error {
	if len(seconds) == 0 && len(minutes) == 0 {
		return fmt.Errorf("traffic chart: no traffic series: %w", ErrNoData)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range seconds {
		t := unixSeconds(s.Time)
		lo, hi = math.Min(lo, t), math.Max(hi, t+1)
	}
	for _, m := range minutes {
		t := unixSeconds(m.Minute)
		lo, hi = math.Min(lo, t), math.Max(hi, t+60)
	}
	if len(seconds) > 0 {
		// The minutes' ends would stretch a short night's axis.
		lo, hi = unixSeconds(seconds[0].Time), unixSeconds(seconds[len(seconds)-1].Time)+1
	}
	step := secondSteps[len(secondSteps)-1]
	for _, st := range secondSteps {
		if len(seconds)/st <= maxLinePoints {
			step = st
			break
		}
	}
	secondName := "every second"
	if step > 1 {
		secondName = fmt.Sprintf("highest second of every %s", durationText(time.Duration(step)*time.Second))
	}
	// clip[p] is where panel p's axis stops when a peak is off the scale:
	// set after every plotter is added, as Add widens the axes.
	clip := map[*plot.Plot]float64{}
	panel := func(ylabel, unit string, value func(bytes, packets float64) float64) (*plot.Plot, error) {
		p := plot.New()
		p.Y.Label.Text = ylabel
		p.X.Min, p.X.Max = lo, hi
		p.Y.Min = 0
		p.X.Tick.Marker = utcTicks(8)
		p.Y.Tick.Marker = numTicks{}
		p.Add(horizontalGrid())
		if len(seconds) > 0 {
			xys := make(plotter.XYs, 0, len(seconds)/step+1)
			vals := make([]float64, len(seconds))
			for i, s := range seconds {
				vals[i] = value(s.Bytes, s.Packets)
			}
			for i := 0; i < len(seconds); i += step {
				xys = append(xys, plotter.XY{X: unixSeconds(seconds[i].Time) + 0.5*float64(step), Y: slices.Max(vals[i:min(i+step, len(vals))])})
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, err
			}
			l.Color = colourLight
			l.Width = vg.Points(0.8)
			p.Add(l)
			// A few minutes far above the rest would flatten the night:
			// the axis then stops at three times the 99th percentile and
			// the peak is written at the top.
			if len(vals) >= 600 {
				sorted := slices.Clone(vals)
				slices.Sort(sorted)
				q, top := sorted[len(sorted)*99/100], sorted[len(sorted)-1]
				if q > 0 && top > 6*q {
					clip[p] = 3 * q
					at := seconds[slices.Index(vals, top)].Time
					l, err := smallLabels(plotter.XYs{{X: math.Max(lo, unixSeconds(at)), Y: 3 * q}},
						[]string{fmt.Sprintf("peak off the scale: %s %s at %s", peakText(top), unit, at.UTC().Format("15:04:05"))},
						vg.Points(8), draw.XLeft, draw.YTop)
					if err != nil {
						return nil, err
					}
					l.Offset = vg.Point{X: vg.Points(4), Y: -vg.Points(1)}
					p.Add(l)
				}
			}
		}
		if len(minutes) > 0 {
			// The mean over the part of each minute inside the night, so
			// that the first and last minutes are not diluted.
			xys := make(plotter.XYs, len(minutes))
			for i, m := range minutes {
				t0 := unixSeconds(m.Minute)
				span := math.Min(t0+60, hi) - math.Max(t0, lo)
				if span <= 0 || len(seconds) == 0 {
					span = 60
				}
				xys[i] = plotter.XY{X: (math.Max(t0, lo) + math.Min(t0+60, hi)) / 2, Y: value(m.Bytes, m.Packets) / span}
			}
			l, s, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, err
			}
			l.Color = colourNamed
			l.Width = vg.Points(1.5)
			p.Add(l)
			if len(minutes) <= 120 { // points only where they can be told apart
				s.Color = colourNamed
				s.Shape = draw.CircleGlyph{}
				s.Radius = vg.Points(3)
				if len(minutes) > 30 {
					s.Radius = vg.Points(1.5)
				}
				p.Add(s)
			}
		}
		return p, nil
	}
	// Rates in bits per second, as ntopng, Akvorado and Grafana show
	// them, in the unit of the busiest second or minute.
	peakBytes := 0.0
	for _, s := range seconds {
		peakBytes = math.Max(peakBytes, s.Bytes)
	}
	for _, m := range minutes {
		peakBytes = math.Max(peakBytes, m.Bytes/60)
	}
	scale, unit := bitUnit(8 * peakBytes)
	kb, err := panel(unit, unit, func(b, _ float64) float64 { return 8 * b / scale })
	if err != nil {
		return fmt.Errorf("traffic chart: %w", err)
	}
	pk, err := panel("packets/s", "packets/s", func(_, p float64) float64 { return p })
	if err != nil {
		return fmt.Errorf("traffic chart: %w", err)
	}
	pk.X.Label.Text = "time (UTC)"

	legend := []legendEntry{{secondName, colourLight}, {"mean of every minute (of its part in the night)", colourNamed}}
	// The busiest hosts' peak minutes, on the bits/s panel. Labels of
	// markers that would overlap are stacked.
	top := 8 * peakBytes / scale
	var placed []plotter.XY
	for i, h := range busiest[:min(markedHosts, len(busiest))] {
		if len(h.Minutes) == 0 {
			continue
		}
		peak := slices.MaxFunc(h.Minutes, func(a, b nightdir.MinuteRow) int {
			return cmp.Or(cmp.Compare(a.Bytes, b.Bytes), b.Minute.Compare(a.Minute))
		})
		t0 := unixSeconds(peak.Minute)
		span := math.Min(t0+60, hi) - math.Max(t0, lo)
		if span <= 0 {
			span = 60
		}
		xy := plotter.XY{X: (math.Max(t0, lo) + math.Min(t0+60, hi)) / 2, Y: 8 * peak.Bytes / span / scale}
		if c, ok := clip[kb]; ok && xy.Y > c {
			xy.Y = c // off the scale: marked at its top
		}
		s, err := plotter.NewScatter(plotter.XYs{xy})
		if err != nil {
			return fmt.Errorf("traffic chart: %w", err)
		}
		c := categoryColour(i + 1)
		s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(4), Shape: draw.PyramidGlyph{}}
		kb.Add(s)
		stack := 0
		for _, q := range placed {
			if math.Abs(q.X-xy.X) < 0.03*(hi-lo) && math.Abs(q.Y-xy.Y) < 0.06*math.Max(top, 1e-9) {
				stack++
			}
		}
		placed = append(placed, xy)
		l, err := smallLabels(plotter.XYs{xy}, []string{fmt.Sprint(i + 1)}, vg.Points(9), draw.XLeft, draw.YBottom)
		if err != nil {
			return fmt.Errorf("traffic chart: %w", err)
		}
		l.Offset = vg.Point{X: vg.Points(5) + vg.Points(8)*vg.Length(stack), Y: vg.Points(2)}
		kb.Add(l)
		legend = append(legend, legendEntry{fmt.Sprintf("%d: %s (peak minute)", i+1, h.Host), c})
	}
	for p, y := range clip {
		p.Y.Max = y
	}
	title := "Site traffic over time"
	if len(seconds) > 0 {
		title += fmt.Sprintf(", %s to %s UTC", seconds[0].Time.UTC().Format("2006-01-02 15:04:05"), seconds[len(seconds)-1].Time.UTC().Format("15:04:05"))
	}
	return render(w, format, WideWidth, TallHeight, title, legend, [][]*plot.Plot{{kb}, {pk}})
}

// Talker is one host of the top talkers chart.
type Talker struct {
	Host    string // the bar's label
	In, Out float64
	Share   float64 // of the site's bytes, 0 to 1
}

// TalkersChart draws bytes per host as horizontal bars, received and sent
// stacked, the busiest on top, each labelled with its total and share of
// the site's bytes. Pass the hosts to show, busiest first. The image is
// WideWidth × WideHeight, taller for more than 15 hosts.
func TalkersChart(w io.Writer, format string, hosts []Talker) error {
	if len(hosts) == 0 {
		return fmt.Errorf("top talkers chart: no hosts: %w", ErrNoData)
	}
	n := len(hosts)
	top := 0.0
	for _, h := range hosts {
		top = math.Max(top, h.In+h.Out)
	}
	if top <= 0 {
		return fmt.Errorf("top talkers chart: no bytes: %w", ErrNoData)
	}
	unit, div := byteUnit(top)
	in := make(plotter.Values, n)
	out := make(plotter.Values, n)
	names := make([]string, n)
	lab := plotter.XYLabels{XYs: make(plotter.XYs, n), Labels: make([]string, n)}
	for i, h := range hosts {
		j := n - 1 - i // the busiest on top
		in[j], out[j] = h.In/div, h.Out/div
		names[j] = shortAddr(h.Host, 40)
		lab.XYs[j] = plotter.XY{X: (h.In + h.Out) / div, Y: float64(j)}
		lab.Labels[j] = fmt.Sprintf("%s, %.1f%% of the site", bytesText(h.In+h.Out), 100*h.Share)
	}
	p := plot.New()
	p.X.Label.Text = "bytes (" + unit + ")"
	p.X.Min, p.X.Max = 0, top/div*1.3
	p.Add(verticalGrid())
	p.NominalY(names...)
	p.Y.Tick.Label.Font.Size = vg.Points(9)
	height := WideHeight
	if n > 15 {
		height = vg.Length(n)*vg.Points(16) + vg.Points(120)
	}
	barWidth := vg.Length(math.Min(14, float64(height-vg.Points(120))/float64(n)*0.7))
	if err := addStackedBars(p, in, out, barWidth, colourNamed, colourUnknown, lab.XYs, lab.Labels, vg.Points(8)); err != nil {
		return fmt.Errorf("top talkers chart: %w", err)
	}
	legend := []legendEntry{{"received", colourNamed}, {"sent", colourUnknown}}
	return render(w, format, WideWidth, height, fmt.Sprintf("Top talkers: the %d hosts with the most bytes", n), legend, [][]*plot.Plot{{p}})
}

// durationText is a bin width in words: "minute", "15 minutes", "hour".
func durationText(d time.Duration) string {
	switch {
	case d == time.Minute:
		return "minute"
	case d == time.Hour:
		return "hour"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", int(d/time.Minute))
	}
	return d.String()
}

// bitUnit is the SI unit of bits per second a rate of up to peak bits/s
// reads best in: its size and name.
func bitUnit(peak float64) (float64, string) {
	scale, unit := 1.0, "bit/s"
	for _, u := range []struct {
		scale float64
		name  string
	}{{1e3, "kbit/s"}, {1e6, "Mbit/s"}, {1e9, "Gbit/s"}, {1e12, "Tbit/s"}} {
		if peak >= u.scale {
			scale, unit = u.scale, u.name
		}
	}
	return scale, unit
}

// peakText is a peak value in three significant figures, with thousands
// grouped above 1,000.
func peakText(v float64) string {
	if v >= 1000 {
		return CountText(int(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
