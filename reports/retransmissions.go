package reports

import (
	"fmt"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// RetransmissionPoint is one answered download for RetransmissionChart.
type RetransmissionPoint struct {
	// Run names the run (condition) the download belongs to; runs appear
	// on the chart in the order of their first point.
	Run string
	// Extra is the download's payload beyond the expected payload of the
	// file it is measured against (downloads.Result.Extra), as a share of
	// that file's size: 0.01 is retransmissions worth 1% of the file.
	// Which file that is (the answer, or the truth when the answer is
	// wrong) is the caller's choice; say it in the caption.
	Extra float64
	// Correct reports whether the answer named the right file(s).
	Correct bool
}

// RetransmissionChart draws the retransmission overhead of every answered
// download as a strip plot, one column of jittered points per run, right
// answers and wrong answers in different colours and glyphs: how much
// noise the byte counts carry on each path and where the wrong answers sit
// in it. format is "png" or "svg"; the image is RetransmissionWidth ×
// RetransmissionHeight.
func RetransmissionChart(w io.Writer, format string, points []RetransmissionPoint) error {
	if len(points) == 0 {
		return fmt.Errorf("overhead chart: no points: %w", ErrNoData)
	}
	var runs []string
	index := map[string]int{}
	for _, pt := range points {
		if _, ok := index[pt.Run]; !ok {
			index[pt.Run] = len(runs)
			runs = append(runs, pt.Run)
		}
	}
	seen := make([]int, len(runs))
	zeros := make([]int, len(runs))
	lo, hi := 0.0, 0.0
	var right, wrong plotter.XYs
	for _, pt := range points {
		if math.IsNaN(pt.Extra) || math.IsInf(pt.Extra, 0) {
			continue
		}
		i := index[pt.Run]
		// A deterministic, evenly spread jitter (golden-ratio sequence)
		// keeps the chart byte-for-byte reproducible.
		_, f := math.Modf(float64(seen[i]) * 0.6180339887498949)
		seen[i]++
		if pt.Extra == 0 {
			zeros[i]++
		}
		xy := plotter.XY{X: float64(i) + 0.6*(f-0.5), Y: 100 * pt.Extra}
		lo, hi = math.Min(lo, xy.Y), math.Max(hi, xy.Y)
		if pt.Correct {
			right = append(right, xy)
		} else {
			wrong = append(wrong, xy)
		}
	}
	if len(right)+len(wrong) == 0 {
		return fmt.Errorf("overhead chart: no finite points: %w", ErrNoData)
	}

	p := plot.New()
	p.Y.Label.Text = "payload beyond the file's expected payload (% of file size)"
	p.X.Label.Text = "run"
	p.NominalX(runs...)
	p.X.Min, p.X.Max = -0.5, float64(len(runs))-0.5
	if len(runs) > 4 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	// Room above the highest point for the per-run counts.
	p.Y.Min = lo
	p.Y.Max = hi + 0.12*math.Max(hi-lo, 1)
	p.Y.Tick.Marker = plot.ConstantTicks(niceTicks(p.Y.Min, hi))
	grid := plotter.NewGrid()
	grid.Vertical.Width = 0
	p.Add(grid)
	var counts plotter.XYLabels
	for i := range runs {
		counts.XYs = append(counts.XYs, plotter.XY{X: float64(i), Y: p.Y.Max})
		noun := "answers"
		if seen[i] == 1 {
			noun = "answer"
		}
		counts.Labels = append(counts.Labels, fmt.Sprintf("%d %s, %.0f%% with no extra byte", seen[i], noun, 100*ratio(zeros[i], seen[i])))
	}
	countLabels, err := plotter.NewLabels(counts)
	if err != nil {
		return fmt.Errorf("overhead chart: %w", err)
	}
	for i := range countLabels.TextStyle {
		countLabels.TextStyle[i].XAlign = draw.XCenter
		countLabels.TextStyle[i].YAlign = draw.YTop
		countLabels.TextStyle[i].Font.Size = vg.Points(9)
	}
	countLabels.Offset.Y = -vg.Points(2)
	p.Add(countLabels)
	zero, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 0}, {X: float64(len(runs)) - 0.5, Y: 0}})
	if err != nil {
		return fmt.Errorf("overhead chart: %w", err)
	}
	zero.LineStyle.Width = vg.Points(0.75)
	p.Add(zero)
	add := func(xys plotter.XYs, style draw.GlyphStyle) error {
		if len(xys) == 0 {
			return nil
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return fmt.Errorf("overhead chart: %w", err)
		}
		s.GlyphStyle = style
		p.Add(s)
		return nil
	}
	if err := add(right, draw.GlyphStyle{Color: colourCorrect, Radius: vg.Points(1.8), Shape: draw.CircleGlyph{}}); err != nil {
		return err
	}
	// Wrong answers are drawn last so that they stay visible on top.
	if err := add(wrong, draw.GlyphStyle{Color: colourWrong, Radius: vg.Points(3), Shape: draw.CrossGlyph{}}); err != nil {
		return err
	}
	legend := []legendEntry{
		{fmt.Sprintf("right answers (%d)", len(right)), colourCorrect},
		{fmt.Sprintf("wrong answers (%d)", len(wrong)), colourWrong},
	}
	return render(w, format, RetransmissionWidth, RetransmissionHeight, "Retransmitted bytes per recognised download", legend, [][]*plot.Plot{{p}})
}

// niceTicks are about six to ten labelled ticks at round steps from lo to hi.
func niceTicks(lo, hi float64) []plot.Tick {
	span := math.Max(hi-lo, 1e-9)
	step := math.Pow(10, math.Floor(math.Log10(span)))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m/10) <= 10 {
			step = step * m / 10
			break
		}
	}
	var ts []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step/2; v += step {
		v := math.Round(v/step) * step
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 4, 64)})
	}
	return ts
}
