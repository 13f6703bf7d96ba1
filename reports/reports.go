// Package reports turns evaluations and flow statistics into things a
// person reads: the text tables of the commands (stats, detect, history,
// missing, evaluate, train, info), PNG and SVG charts drawn with
// gonum.org/v1/plot (accuracy per run beside the published bytes-only
// method, retransmission overhead of right and wrong answers, a confusion
// heat map; traffic over time, top talkers, host clusters, OS families,
// flow lifespans) and the evaluation's HTML page, one self-contained file
// (html/template, charts inlined as data: URIs, no external CSS or
// JavaScript). The morning report of a nightly run is package
// reports/morning. Writers take an io.Writer; output of real runs goes to
// the directory given by --out or --report and is never committed.
//
// Output is deterministic: the same reports give the same bytes.
package reports

import (
	"errors"
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/fingerflow/fingerflow/models/downloads"
)

// RunResult is the evaluation of one run (one test condition: a lab path,
// a capture, all runs together).
type RunResult struct {
	// Name names the run in charts and tables.
	Name string
	// Reports are the predictors' results on the run: Reports[0] is
	// fingerflow, Reports[1], when present, the bytes-only baseline.
	Reports []*downloads.Report
}

// Chart sizes. PNG images are drawn at DPI dots per inch, so an accuracy
// chart is 960×480 pixels.
const (
	DPI = 96

	AccuracyWidth        = 10 * vg.Inch
	AccuracyHeight       = 5 * vg.Inch
	RetransmissionWidth  = 10 * vg.Inch
	RetransmissionHeight = 5 * vg.Inch
	HeatmapWidth         = 9 * vg.Inch
	HeatmapHeight        = 8 * vg.Inch
)

// ErrFormat is returned for an output format this package does not write
// (images: "png" or "svg"; downloads: "csv" or "parquet").
var ErrFormat = errors.New("unsupported output format")

// Colours of the predictors and answers, from the Okabe–Ito palette (told
// apart also by readers with colour-blindness).
var (
	colourFingerflow = color.RGBA{0x00, 0x72, 0xb2, 0xff} // blue
	colourBaseline   = color.RGBA{0xe6, 0x9f, 0x00, 0xff} // orange
	colourExtra      = color.RGBA{0x56, 0xb4, 0xe9, 0xff} // sky blue
	colourCorrect    = color.RGBA{0x00, 0x9e, 0x73, 0xb0} // green, translucent
	colourWrong      = color.RGBA{0xd5, 0x5e, 0x00, 0xff} // vermilion
)

// seriesColour is the colour of the i-th report of a run.
func seriesColour(i int) color.Color {
	switch i {
	case 0:
		return colourFingerflow
	case 1:
		return colourBaseline
	}
	return colourExtra
}

// newCanvas returns a canvas of the given size for format and a function
// that writes it to w.
func newCanvas(format string, width, height vg.Length) (vg.CanvasWriterTo, error) {
	switch format {
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(DPI), vgimg.UseBackgroundColor(color.White))
		return vgimg.PngCanvas{Canvas: c}, nil
	case "svg":
		return vgsvg.New(width, height), nil
	}
	return nil, fmt.Errorf("%q: %w (want png or svg)", format, ErrFormat)
}

// legendEntry is one coloured box and its name in a chart's legend row.
type legendEntry struct {
	name   string
	colour color.Color
}

// render draws rows×cols plots, aligned, on one canvas and writes it to w.
// A title and a legend row, when given, are set above the panels.
func render(w io.Writer, format string, width, height vg.Length, title string, legend []legendEntry, plots [][]*plot.Plot) error {
	c, err := newCanvas(format, width, height)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	if title != "" {
		st := titleStyle()
		top := dc.Max.Y - st.Height(title) - vg.Points(6)
		dc.FillText(st, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: top}, title)
		dc.Max.Y = top - vg.Points(6)
	}
	if len(legend) > 0 {
		dc.Max.Y = legendRow(dc, legend) - vg.Points(4)
	}
	if len(plots) == 1 && len(plots[0]) == 1 {
		plots[0][0].Draw(draw.Crop(dc, vg.Points(4), -vg.Points(10), vg.Points(4), 0))
	} else {
		t := draw.Tiles{
			Rows: len(plots), Cols: len(plots[0]),
			PadX: vg.Points(12), PadY: vg.Points(12),
			PadLeft: vg.Points(4), PadRight: vg.Points(8), PadBottom: vg.Points(4), PadTop: vg.Points(4),
		}
		cs := plot.Align(plots, t, dc)
		for i := range plots {
			for j, p := range plots[i] {
				if p != nil {
					p.Draw(cs[i][j])
				}
			}
		}
	}
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("write %s chart: %w", format, err)
	}
	return nil
}

// legendRow draws the entries side by side, centred at the top of dc,
// on as many rows as they need, and returns the y below them.
func legendRow(dc draw.Canvas, entries []legendEntry) vg.Length {
	st := plot.New().Legend.TextStyle
	st.Font.Size = vg.Points(10)
	st.XAlign = draw.XLeft
	st.YAlign = draw.YCenter
	box := vg.Points(10)
	gap := vg.Points(18)
	width := func(e legendEntry) vg.Length { return box + vg.Points(4) + st.Width(e.name) }
	avail := dc.Max.X - dc.Min.X - vg.Points(16)
	var rows [][]legendEntry
	var cur []legendEntry
	var used vg.Length
	for _, e := range entries {
		w := width(e)
		if len(cur) > 0 && used+gap+w > avail {
			rows = append(rows, cur)
			cur, used = nil, 0
		}
		if len(cur) > 0 {
			used += gap
		}
		cur = append(cur, e)
		used += w
	}
	if len(cur) > 0 {
		rows = append(rows, cur)
	}
	h := max(box, st.Height("M"))
	y := dc.Max.Y - h/2
	for _, row := range rows {
		var total vg.Length
		for i, e := range row {
			if i > 0 {
				total += gap
			}
			total += width(e)
		}
		x := (dc.Min.X+dc.Max.X)/2 - total/2
		for _, e := range row {
			dc.FillPolygon(e.colour, []vg.Point{
				{X: x, Y: y - box/2}, {X: x + box, Y: y - box/2}, {X: x + box, Y: y + box/2}, {X: x, Y: y + box/2},
			})
			x += box + vg.Points(4)
			dc.FillText(st, vg.Point{X: x, Y: y}, e.name)
			x += st.Width(e.name) + gap
		}
		y -= h + vg.Points(4)
	}
	return y + h/2 + vg.Points(4) // the bottom of the last row
}

// titleStyle is the style of a chart's overall title.
func titleStyle() draw.TextStyle {
	st := plot.New().Title.TextStyle
	st.Font.Size = vg.Points(14)
	st.XAlign = draw.XCenter
	st.YAlign = draw.YBottom
	return st
}

// pct formats a/b as a percentage with its counts: "98.0% (245/250)".
func pct(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%% (%d/%d)", 100*float64(a)/float64(b), a, b)
}

// ratio is a/b, 0 when b is 0.
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
