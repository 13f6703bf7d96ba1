package morning

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// The page's charts are HTML and inline SVG made here, not images: the
// marks (lines, bars, points) are SVG paths stretched over the plot area
// with strokes that keep their width, and every word (ticks, labels,
// values, legends) is HTML text laid over it, so the text stays at the
// page's font size at any width and the marks stay crisp. Each bar, bin
// or point carries its values in an SVG <title> (or an HTML title), which
// the browser shows on hover. No script is needed to see them.

// plotUnits is the SVG user space of a plot area: 0..plotUnits on both
// axes, stretched to the area's size.
const plotUnits = 1000

// esc escapes text for HTML.
func esc(s string) string { return html.EscapeString(s) }

// hb builds HTML.
type hb struct{ strings.Builder }

func (b *hb) f(format string, args ...any) { fmt.Fprintf(&b.Builder, format, args...) }

// html is what was built, for the page template.
func (b *hb) html() template.HTML { return template.HTML(b.String()) }

// coord writes a plot coordinate with one decimal, short.
func coord(v float64) string {
	v = math.Max(-10*plotUnits, math.Min(11*plotUnits, v))
	s := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0")
}

// pct writes a position as a CSS percentage.
func pct(v float64) string {
	return strconv.FormatFloat(math.Max(0, math.Min(100, v)), 'f', 2, 64) + "%"
}

// tick is a labelled position on an axis, at 0..1 of its length.
type tick struct {
	at    float64
	label string
	// minor ticks get a grid line; their label (if any) is hidden on
	// narrow screens.
	minor bool
}

// niceStep is a round step (1, 2, 2.5 or 5 times a power of ten) that
// cuts span into at most n steps.
func niceStep(span float64, n int) float64 {
	if span <= 0 || n < 1 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw*(1-1e-9) {
			return m * mag
		}
	}
	return 10 * mag
}

// valueTicks cuts 0..max into about n round steps; top is the axis's
// end, the first step at or above max. label names a value.
func valueTicks(max float64, n int, label func(float64) string) (ts []tick, top float64) {
	if max <= 0 || math.IsNaN(max) || math.IsInf(max, 0) {
		max = 1
	}
	step := niceStep(max, n)
	top = math.Ceil(max/step*(1-1e-9)) * step
	for i := 0; float64(i)*step <= top*(1+1e-9); i++ {
		v := float64(i) * step
		ts = append(ts, tick{at: v / top, label: label(v), minor: i%2 == 1})
	}
	return ts, top
}

// timeStepsForTicks are the spacings time axes choose from.
var timeStepsForTicks = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour,
}

// timeTicks label lo..hi at round UTC times, at most n of them: "08:20"
// (with seconds under a minute's step), the date under the first label
// and under the first of each new day. Every other label is minor.
func timeTicks(lo, hi time.Time, n int) []tick {
	span := hi.Sub(lo)
	if span <= 0 {
		return nil
	}
	step := timeStepsForTicks[len(timeStepsForTicks)-1]
	for _, s := range timeStepsForTicks {
		if span/s <= time.Duration(n) {
			step = s
			break
		}
	}
	layout := "15:04"
	if step < time.Minute {
		layout = "15:04:05"
	}
	var ts []tick
	lastDay := ""
	i := 0
	for t := lo.UTC().Truncate(step); !t.After(hi); t = t.Add(step) {
		if t.Before(lo) {
			continue
		}
		label := t.Format(layout)
		if day := t.Format("2006-01-02"); day != lastDay {
			label += "\n" + day
			lastDay = day
		}
		ts = append(ts, tick{at: float64(t.Sub(lo)) / float64(span), label: label, minor: i%2 == 1})
		i++
	}
	return ts
}

// pt is a point of a plot in data units.
type pt struct{ x, y float64 }

// line is a series drawn as a line (or, with area, filled down to 0).
type line struct {
	class string
	pts   []pt
	area  bool
}

// colBar is one bar of a column chart, stacked from its parts' values.
type colBar struct {
	x0, x1 float64 // data units
	parts  []float64
	title  string
}

// mark is a labelled marker inside a plot.
type mark struct {
	x, y         float64 // data units
	label, title string
	class        string
}

// hover is a band of the x axis whose values show on hover.
type hover struct {
	x0, x1 float64
	title  string
}

// panel is one plot area with its y axis.
type panel struct {
	height  int // CSS pixels
	yLabel  string
	yTicks  []tick
	yTop    float64 // the y axis's end (data units); 0 from the ticks
	lines   []line
	columns []colBar
	// colClasses are the classes of the columns' parts, bottom first.
	colClasses []string
	marks      []mark
	hovers     []hover
	// rug marks x positions along the top (catalog sizes).
	rug      []float64
	rugClass string
	rugTitle string
}

// xyChart is panels over one x axis.
type xyChart struct {
	xlo, xhi float64
	xTicks   []tick
	xLabel   string
	panels   []panel
	legend   []legendKey
	label    string // what the chart shows, for screen readers
}

// legendKey is one entry of a legend.
type legendKey struct{ class, text string }

// render writes the chart.
func (c *xyChart) render() template.HTML {
	var b hb
	b.f(`<div class="xy" role="img" aria-label="%s">`, esc(c.label))
	if len(c.legend) > 0 {
		b.f(`%s`, legendHTML(c.legend))
	}
	xs := func(x float64) float64 { return plotUnits * (x - c.xlo) / math.Max(c.xhi-c.xlo, 1e-12) }
	for _, p := range c.panels {
		top := p.yTop
		if top <= 0 {
			top = 1
		}
		ys := func(y float64) float64 { return plotUnits - plotUnits*math.Max(0, y)/top }
		b.f(`<div class="panel" style="height:%dpx">`, p.height)
		b.f(`<div class="yaxis"><span class="ylabel">%s</span>`, esc(p.yLabel))
		for _, t := range p.yTicks {
			cls := ""
			if t.minor {
				cls = ` class="minor"`
			}
			b.f(`<span%s style="bottom:%s">%s</span>`, cls, pct(100*t.at), esc(t.label))
		}
		b.f(`</div><div class="plot"><svg viewBox="0 0 %d %d" preserveAspectRatio="none" aria-hidden="true">`, plotUnits, plotUnits)
		// Grid: the y ticks, and the x ticks.
		var grid strings.Builder
		for _, t := range p.yTicks {
			if t.at > 0 {
				fmt.Fprintf(&grid, "M0 %sH%d", coord(plotUnits-plotUnits*t.at), plotUnits)
			}
		}
		for _, t := range c.xTicks {
			fmt.Fprintf(&grid, "M%s 0V%d", coord(plotUnits*t.at), plotUnits)
		}
		if grid.Len() > 0 {
			b.f(`<path class="grid" d="%s"/>`, grid.String())
		}
		for _, col := range p.columns {
			x0, x1 := xs(col.x0), xs(col.x1)
			w := math.Max(x1-x0, 0.5)
			base := 0.0
			b.f(`<g>`)
			for i, v := range col.parts {
				if v <= 0 {
					continue
				}
				y0, y1 := ys(base), ys(base+v)
				b.f(`<rect class="%s" x="%s" y="%s" width="%s" height="%s"/>`, p.colClasses[i], coord(x0), coord(y1), coord(w), coord(y0-y1))
				base += v
			}
			if col.title != "" {
				b.f(`<rect class="hov" x="%s" y="0" width="%s" height="%d"><title>%s</title></rect>`, coord(x0), coord(w), plotUnits, esc(col.title))
			}
			b.f(`</g>`)
		}
		for _, l := range p.lines {
			if len(l.pts) == 0 {
				continue
			}
			var d strings.Builder
			for i, q := range l.pts {
				op := "L"
				if i == 0 {
					op = "M"
				}
				fmt.Fprintf(&d, "%s%s %s", op, coord(xs(q.x)), coord(ys(q.y)))
			}
			if l.area {
				fmt.Fprintf(&d, "L%s %dL%s %dZ", coord(xs(l.pts[len(l.pts)-1].x)), plotUnits, coord(xs(l.pts[0].x)), plotUnits)
				b.f(`<path class="area %s" d="%s"/>`, l.class, d.String())
				continue
			}
			b.f(`<path class="line %s" d="%s"/>`, l.class, d.String())
		}
		if len(p.rug) > 0 {
			var d strings.Builder
			for _, x := range p.rug {
				fmt.Fprintf(&d, "M%s 0V40", coord(xs(x)))
			}
			b.f(`<path class="rug %s" d="%s"><title>%s</title></path>`, p.rugClass, d.String(), esc(p.rugTitle))
		}
		for _, h := range p.hovers {
			x0, x1 := xs(h.x0), xs(h.x1)
			b.f(`<rect class="hov" x="%s" y="0" width="%s" height="%d"><title>%s</title></rect>`, coord(x0), coord(math.Max(x1-x0, 0.5)), plotUnits, esc(h.title))
		}
		b.f(`</svg>`)
		for _, m := range p.marks {
			b.f(`<span class="mark %s" style="left:%s;bottom:%s" title="%s">%s</span>`, m.class,
				pct(100*xs(m.x)/plotUnits), pct(100-100*ys(m.y)/plotUnits), esc(m.title), esc(m.label))
		}
		b.f(`</div></div>`)
	}
	b.f(`<div class="xaxis">`)
	for _, t := range c.xTicks {
		cls := "tick"
		if t.minor {
			cls += " minor"
		}
		if t.at > 0.96 {
			cls += " end"
		}
		b.f(`<span class="%s" style="left:%s">%s</span>`, cls, pct(100*t.at), strings.ReplaceAll(esc(t.label), "\n", "<br>"))
	}
	b.f(`</div>`)
	if c.xLabel != "" {
		b.f(`<div class="xlabel">%s</div>`, esc(c.xLabel))
	}
	b.f(`</div>`)
	return b.html()
}

// legendHTML writes a legend: a swatch and the words, per key.
func legendHTML(keys []legendKey) string {
	var b hb
	b.f(`<div class="legend">`)
	for _, k := range keys {
		b.f(`<span><i class="sw %s"></i>%s</span>`, k.class, esc(k.text))
	}
	b.f(`</div>`)
	return b.String()
}

// bar is one row of a bar list: a label, stacked segments and the value
// in words.
type bar struct {
	label string
	// labelTitle is shown on hover over the label (a full address, a
	// description).
	labelTitle string
	segs       []seg
	value      string
	// note is a line in small type under the bar.
	note string
}

// seg is one part of a bar.
type seg struct {
	v     float64
	class string
	title string
}

// barList is horizontal bars as HTML: the labels and values are text,
// each segment's width a share of max.
type barList struct {
	bars   []bar
	max    float64 // 0: the largest bar
	legend []legendKey
	label  string
	// wide gives the labels more room (long entry names).
	wide bool
}

func (l *barList) render() template.HTML {
	max := l.max
	if max <= 0 {
		for _, r := range l.bars {
			t := 0.0
			for _, s := range r.segs {
				t += s.v
			}
			max = math.Max(max, t)
		}
	}
	if max <= 0 {
		max = 1
	}
	var b hb
	cls := "bars"
	if l.wide {
		cls += " wide"
	}
	b.f(`<div class="%s" role="img" aria-label="%s">`, cls, esc(l.label))
	if len(l.legend) > 0 {
		b.f(`%s`, legendHTML(l.legend))
	}
	for _, r := range l.bars {
		title := ""
		if r.labelTitle != "" {
			title = fmt.Sprintf(` title="%s"`, esc(r.labelTitle))
		}
		b.f(`<div class="brow"><span class="blabel"%s>%s</span><span class="btrack">`, title, esc(r.label))
		for _, s := range r.segs {
			if s.v <= 0 {
				continue
			}
			b.f(`<i class="seg %s" style="width:%s" title="%s"></i>`, s.class, pct(100*s.v/max), esc(s.title))
		}
		b.f(`</span><span class="bval">%s</span>`, esc(r.value))
		if r.note != "" {
			b.f(`<span class="bnote">%s</span>`, esc(r.note))
		}
		b.f(`</div>`)
	}
	b.f(`</div>`)
	return b.html()
}

// sparkline is a small line of values over time, for a table cell.
func sparkline(values []float64, title string) string {
	if len(values) < 2 {
		return ""
	}
	max := 0.0
	for _, v := range values {
		max = math.Max(max, v)
	}
	if max <= 0 {
		max = 1
	}
	var d strings.Builder
	for i, v := range values {
		op := "L"
		if i == 0 {
			op = "M"
		}
		fmt.Fprintf(&d, "%s%s %s", op, coord(plotUnits*float64(i)/float64(len(values)-1)), coord(plotUnits-plotUnits*v/max))
	}
	return fmt.Sprintf(`<svg class="spark" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="%s"><title>%s</title><path d="%s"/></svg>`,
		plotUnits, plotUnits, esc(title), esc(title), d.String())
}

// scatterPoint is a point of a scatter chart.
type scatterPoint struct {
	x, y  float64
	class string
	title string
}

// scatterLabel names a point of a scatter chart.
type scatterLabel struct {
	x, y  float64
	text  string
	class string
}

// scatter is points as round dots (zero-length strokes with round caps,
// which keep their shape however the plot is stretched) and HTML labels.
type scatter struct {
	height         int
	xlo, xhi       float64
	ylo, yhi       float64
	points         []scatterPoint
	labels         []scatterLabel
	xLabel, yLabel string
	legend         []legendKey
	label          string
	dot            float64 // dot diameter, CSS pixels
}

func (s *scatter) render() template.HTML {
	var b hb
	b.f(`<div class="xy scatter" role="img" aria-label="%s">`, esc(s.label))
	if len(s.legend) > 0 {
		b.f(`%s`, legendHTML(s.legend))
	}
	xs := func(x float64) float64 { return plotUnits * (x - s.xlo) / math.Max(s.xhi-s.xlo, 1e-12) }
	ys := func(y float64) float64 { return plotUnits - plotUnits*(y-s.ylo)/math.Max(s.yhi-s.ylo, 1e-12) }
	b.f(`<div class="panel" style="height:%dpx"><div class="yaxis"><span class="ylabel">%s</span></div><div class="plot">`, s.height, esc(s.yLabel))
	b.f(`<svg viewBox="0 0 %d %d" preserveAspectRatio="none" aria-hidden="true" style="--dot:%spx">`, plotUnits, plotUnits, strconv.FormatFloat(s.dot, 'f', 1, 64))
	for _, p := range s.points {
		b.f(`<path class="dot %s" d="M%s %sh0"><title>%s</title></path>`, p.class, coord(xs(p.x)), coord(ys(p.y)), esc(p.title))
	}
	b.f(`</svg>`)
	// Labels that would overlap one already placed move down, or are
	// left out (the point still names its host on hover).
	var placed [][2]float64
	for _, l := range s.labels {
		px, py := xs(l.x), ys(l.y)
		ok := false
		for try := 0; try < 4 && !ok; try++ {
			ok = true
			for _, q := range placed {
				if math.Abs(q[0]-px) < 140 && math.Abs(q[1]-py) < 45 {
					ok = false
					break
				}
			}
			if !ok {
				py += 45
			}
		}
		if !ok || py > plotUnits {
			continue
		}
		placed = append(placed, [2]float64{px, py})
		cls := l.class
		if px > plotUnits*0.7 {
			cls += " left" // written to the left of its point, inside the plot
		}
		b.f(`<span class="plabel %s" style="left:%s;bottom:%s">%s</span>`, strings.TrimSpace(cls), pct(100*px/plotUnits), pct(100-100*py/plotUnits), esc(l.text))
	}
	b.f(`</div></div>`)
	if s.xLabel != "" {
		b.f(`<div class="xlabel">%s</div>`, esc(s.xLabel))
	}
	b.f(`</div>`)
	return b.html()
}
