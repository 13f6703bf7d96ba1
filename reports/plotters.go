package reports

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// rug marks values along the top of a plot with short vertical strokes
// (a rug plot): where the catalog's file sizes lie on a size axis.
type rug struct {
	values []float64
	style  draw.LineStyle
	length vg.Length
}

var (
	_ plot.Plotter    = rug{}
	_ plot.DataRanger = rug{}
	_ plot.Plotter    = (*histBars)(nil)
	_ plot.DataRanger = (*histBars)(nil)
)

func (r rug) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for _, v := range r.values {
		x := trX(v)
		if x < c.Min.X || x > c.Max.X {
			continue
		}
		c.StrokeLine2(r.style, x, c.Max.Y-r.length, x, c.Max.Y)
	}
}

// DataRange spans the values on x and nothing on y.
func (r rug) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for _, v := range r.values {
		xmin, xmax = math.Min(xmin, v), math.Max(xmax, v)
	}
	return xmin, xmax, math.Inf(1), math.Inf(-1)
}

// histBin is one bar of a histogram: [Lo, Hi) and its count.
type histBin struct {
	Lo, Hi float64
	Count  float64
}

// histBars draws a histogram's non-empty bins as bars up from the bottom
// of the plot, so they work on a log count axis, where 0 has no place.
type histBars struct {
	bins []histBin
	fill color.Color
	// slot of slots: histograms drawn together share each bin's width,
	// bar slot in the slot-th part (0 of 1: the whole bin).
	slot, slots int
}

func (h *histBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for _, b := range h.bins {
		if b.Count <= 0 {
			continue
		}
		x0, x1 := trX(b.Lo), trX(b.Hi)
		if h.slots > 1 {
			w := (x1 - x0) * 0.9 / vg.Length(h.slots)
			x0 += (x1-x0)*0.05 + w*vg.Length(h.slot)
			x1 = x0 + w
		}
		y0, y1 := c.Min.Y, trY(math.Max(b.Count, p.Y.Min))
		pts := c.ClipPolygonXY([]vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
		c.FillPolygon(h.fill, pts)
	}
}

// DataRange spans the non-empty bins and their counts.
func (h *histBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, ymin, ymax = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, b := range h.bins {
		if b.Count <= 0 {
			continue
		}
		xmin, xmax = math.Min(xmin, b.Lo), math.Max(xmax, b.Hi)
		ymin, ymax = math.Min(ymin, b.Count), math.Max(ymax, b.Count)
	}
	return xmin, xmax, ymin, ymax
}

// logBins counts values into bins of width decades starting at 10^lo.
func logBins(values []float64, lo, width float64, n int) []histBin {
	bins := make([]histBin, n)
	for i := range bins {
		bins[i] = histBin{Lo: math.Pow(10, lo+float64(i)*width), Hi: math.Pow(10, lo+float64(i+1)*width)}
	}
	for _, v := range values {
		i := 0
		if v > 0 {
			i = int(math.Floor((math.Log10(v) - lo) / width))
		}
		bins[max(0, min(n-1, i))].Count++
	}
	return bins
}

// rebin merges every k fine bins of counts (bin i covering
// [10^(lo+i·w), 10^(lo+(i+1)·w))) into one.
func rebin(counts []int, lo, w float64, k int) []histBin {
	var out []histBin
	for i := 0; i < len(counts); i += k {
		b := histBin{Lo: math.Pow(10, lo+float64(i)*w), Hi: math.Pow(10, lo+float64(min(i+k, len(counts)))*w)}
		for _, c := range counts[i:min(i+k, len(counts))] {
			b.Count += float64(c)
		}
		out = append(out, b)
	}
	return out
}
