package reports

import (
	"errors"
	"fmt"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fingerflow/fingerflow/models/downloads"
)

// metric is one row of WriteTable that the accuracy chart draws.
type metric struct {
	title string
	frac  func(r *downloads.Report) (num, den int)
}

// accuracyMetrics are the shares drawn by AccuracyChart, in panel order.
var accuracyMetrics = []metric{
	{"catalog downloads named correctly", func(r *downloads.Report) (int, int) { return r.KnownCorrect, r.Known }},
	{"unknown downloads rejected", func(r *downloads.Report) (int, int) { return r.UnknownCorrect, r.Unknown }},
	{"files recovered from multi-file connections", func(r *downloads.Report) (int, int) { return r.MultiFound, r.MultiFiles }},
}

// ErrNoData is returned when there is nothing to draw.
var ErrNoData = errors.New("nothing to draw")

// AccuracyChart draws, for every run, fingerflow's share beside the
// bytes-only baseline's (when the run has one) as grouped bars, one panel
// per measure: catalog downloads named correctly, unknown downloads
// rejected, and — when some run has multi-file connections — files
// recovered from them. Bars carry their percentage; a run without
// downloads of a kind shows "n/a". format is "png" or "svg"; the image is
// AccuracyWidth × AccuracyHeight.
func AccuracyChart(w io.Writer, format string, runs []RunResult) error {
	if len(runs) == 0 {
		return fmt.Errorf("accuracy chart: no runs: %w", ErrNoData)
	}
	series := 0
	for _, r := range runs {
		if len(r.Reports) == 0 {
			return fmt.Errorf("accuracy chart: run %q has no reports: %w", r.Name, ErrNoData)
		}
		series = max(series, len(r.Reports))
	}
	var panels []*plot.Plot
	for _, m := range accuracyMetrics {
		present := false
		for _, r := range runs {
			for _, rep := range r.Reports {
				if _, den := m.frac(rep); den > 0 {
					present = true
				}
			}
		}
		if !present {
			continue
		}
		p, err := accuracyPanel(m, runs, series)
		if err != nil {
			return err
		}
		if len(panels) > 0 {
			p.Y.Label.Text = "" // the first panel's label serves the row
		}
		panels = append(panels, p)
	}
	if len(panels) == 0 {
		return fmt.Errorf("accuracy chart: no labelled downloads in any run: %w", ErrNoData)
	}
	// One legend for all panels: the predictors' names, from the first run
	// that has each.
	legend := make([]legendEntry, series)
	for s := range series {
		legend[s].colour = seriesColour(s)
		for _, r := range runs {
			if s < len(r.Reports) {
				legend[s].name = r.Reports[s].Name
				break
			}
		}
	}
	return render(w, format, AccuracyWidth, AccuracyHeight,
		"Downloads recognised per run: fingerflow beside the bytes-only method", legend, [][]*plot.Plot{panels})
}

// accuracyPanel draws one measure for all runs: bars labelled with the
// percentage and the counts behind it.
func accuracyPanel(m metric, runs []RunResult, series int) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = m.title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.Text = "share of downloads (%)"
	// Above 100 is room for the labels of full bars; ticks stop at 100.
	p.Y.Min, p.Y.Max = 0, 130
	p.Y.Tick.Marker = plot.ConstantTicks(percentTicks())
	grid := plotter.NewGrid()
	grid.Vertical.Width = 0
	p.Add(grid)

	// Bars of one run sit side by side around the run's position; the
	// width adapts so that a dozen runs still fit a panel.
	panel := AccuracyWidth / vg.Length(len(accuracyMetrics))
	barWidth := vg.Length(math.Min(28, float64(panel)*0.6/float64(len(runs)*series)))
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = r.Name
	}
	p.NominalX(names...)
	p.X.Tick.Label.Font.Size = vg.Points(9)
	if len(runs) > 3 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		if len(runs) > 6 {
			p.X.Tick.Label.Rotation = math.Pi / 4
		}
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	for s := range series {
		vals := make(plotter.Values, len(runs))
		lab := plotter.XYLabels{XYs: make(plotter.XYs, len(runs)), Labels: make([]string, len(runs))}
		for i, r := range runs {
			lab.XYs[i].X = float64(i)
			if s >= len(r.Reports) {
				continue
			}
			num, den := m.frac(r.Reports[s])
			if den == 0 {
				lab.Labels[i] = "n/a"
				continue
			}
			vals[i] = 100 * ratio(num, den)
			lab.XYs[i].Y = vals[i]
			lab.Labels[i] = fmt.Sprintf("%.1f%% (%d/%d)", vals[i], num, den)
		}
		bars, err := plotter.NewBarChart(vals, barWidth)
		if err != nil {
			return nil, fmt.Errorf("accuracy chart: %w", err)
		}
		bars.Color = seriesColour(s)
		bars.LineStyle.Width = 0
		bars.Offset = (vg.Length(s) - vg.Length(series-1)/2) * barWidth
		p.Add(bars)
		labels, err := plotter.NewLabels(lab)
		if err != nil {
			return nil, fmt.Errorf("accuracy chart: %w", err)
		}
		for i := range labels.TextStyle {
			// Upwards from the top of the bar: labels of neighbouring
			// bars never overlap.
			st := &labels.TextStyle[i]
			st.Font.Size = vg.Points(8)
			st.Rotation = math.Pi / 2
			st.XAlign = draw.XLeft
			st.YAlign = draw.YCenter
		}
		labels.Offset = vg.Point{X: bars.Offset, Y: vg.Points(3)}
		p.Add(labels)
	}
	return p, nil
}

// percentTicks are the major ticks of a 0–100 % axis.
func percentTicks() []plot.Tick {
	var ts []plot.Tick
	for v := 0; v <= 100; v += 20 {
		ts = append(ts, plot.Tick{Value: float64(v), Label: fmt.Sprint(v)})
	}
	for v := 10; v < 100; v += 20 {
		ts = append(ts, plot.Tick{Value: float64(v)})
	}
	return ts
}
