package reports

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fingerflow/fingerflow/models/lifespans"
	"github.com/fingerflow/fingerflow/models/survival"
)

// Lifespan chart size.
const (
	LifespanWidth  = 9 * vg.Inch
	LifespanHeight = 5.5 * vg.Inch
)

// lifespanPoints are the durations, in seconds, at which the table gives
// the share of flows still alive.
var lifespanPoints = []float64{1, 10, 60, 300}

// WriteLifespans prints, for each grouping, the log-rank test's verdict
// and one line per group: flows, how many were seen to end and how many
// were censored, the median lifespan with its confidence interval and the
// share of flows alive after 1 s, 10 s, 1 min and 5 min.
func WriteLifespans(w io.Writer, res lifespans.Result) error {
	cfg := res.Config
	conf := 100 * (1 - alphaOr(cfg.Alpha))
	fmt.Fprintf(w, "Flow lifespans: %d flows, %d censored (TCP without FIN or RST; lasted at least the %g s active timeout less %g s",
		res.Flows, res.Censored, cfg.ActiveTimeout.Seconds(), cfg.Slack.Seconds())
	if !cfg.WindowEnd.IsZero() {
		fmt.Fprintf(w, "; still alive at the window's end %s", cfg.WindowEnd.UTC().Format(timeLayout))
	}
	fmt.Fprintln(w, ")")
	for _, g := range res.Groupings {
		fmt.Fprintf(w, "\nBy %s: %s\n", g.Name, g.TestText(cfg.Alpha))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "group\tflows\tended\tcensored\tmedian (s)\t%.0f%% interval (s)\t", conf)
		for _, p := range lifespanPoints {
			fmt.Fprintf(tw, "alive at %s\t", secondsText(p))
		}
		fmt.Fprintln(tw)
		for _, gr := range g.Groups {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t[%s, %s]\t", gr.Name, gr.Flows, gr.Ended, gr.Censored,
				num(gr.Median), num(gr.MedianLower), num(gr.MedianUpper))
			for _, p := range lifespanPoints {
				fmt.Fprintf(tw, "%s\t", aliveAt(gr.Curve, p))
			}
			fmt.Fprintln(tw)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func alphaOr(a float64) float64 {
	if a == 0 {
		return survival.DefaultAlpha
	}
	return a
}

// aliveAt is the share of flows alive after t seconds, "-" beyond the
// longest lifespan seen.
func aliveAt(km *survival.KaplanMeier, t float64) string {
	steps := km.Steps()
	if len(steps) == 0 || t > steps[len(steps)-1].Time {
		return "-"
	}
	return fmt.Sprintf("%.3f", km.Survival(t))
}

func num(x float64) string {
	switch {
	case math.IsNaN(x):
		return "-"
	case math.IsInf(x, 1):
		return "inf"
	}
	return fmt.Sprintf("%.3f", x)
}

func secondsText(s float64) string {
	if s >= 60 {
		return fmt.Sprintf("%gmin", s/60)
	}
	return fmt.Sprintf("%gs", s)
}

// lifespanColours: the Okabe–Ito palette, then greys.
var lifespanColours = []color.Color{
	color.RGBA{0x00, 0x72, 0xb2, 0xff}, color.RGBA{0xe6, 0x9f, 0x00, 0xff}, color.RGBA{0x00, 0x9e, 0x73, 0xff},
	color.RGBA{0xd5, 0x5e, 0x00, 0xff}, color.RGBA{0xcc, 0x79, 0xa7, 0xff}, color.RGBA{0x56, 0xb4, 0xe9, 0xff},
	color.RGBA{0xf0, 0xe4, 0x42, 0xff}, color.RGBA{0x00, 0x00, 0x00, 0xff}, color.RGBA{0x99, 0x99, 0x99, 0xff},
}

// minLifespan is where the chart's logarithmic time axis starts: a
// millisecond, the exporters' resolution; shorter lifespans are drawn
// there.
const minLifespan = 0.001

// LifespanChart draws the Kaplan–Meier curves of one grouping's groups:
// the share of flows still alive against lifespan, on a logarithmic time
// axis from a millisecond, each curve a step line ending at its longest
// lifespan; the title carries the log-rank test. format is "png" or "svg".
func LifespanChart(w io.Writer, format string, g lifespans.Grouping, alpha float64) error {
	if len(g.Groups) == 0 {
		return fmt.Errorf("lifespan chart %s: %w", g.Name, ErrNoData)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Flow lifespans by %s", g.Name)
	p.X.Label.Text = "lifespan (s)"
	p.Y.Label.Text = "share of flows alive"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1.02
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	hi := minLifespan * 10
	for i, gr := range g.Groups {
		steps := gr.Curve.Steps()
		pts := plotter.XYs{{X: minLifespan, Y: 1}}
		for _, s := range steps {
			pts = append(pts, plotter.XY{X: math.Max(s.Time, minLifespan), Y: s.Survival})
		}
		if last := steps[len(steps)-1].Time; last > hi {
			hi = last
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("lifespan chart %s %s: %w", g.Name, gr.Name, err)
		}
		line.StepStyle = plotter.PostStep
		line.Color = lifespanColours[i%len(lifespanColours)]
		line.Width = vg.Points(1.5)
		if i >= len(lifespanColours) {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s (%d flows, median %s s)", gr.Name, gr.Flows, strings.TrimSuffix(num(gr.Median), ".000")), line)
	}
	p.X.Min, p.X.Max = minLifespan, hi*1.5
	p.Add(plotter.NewGrid())
	sub := g.TestText(alpha)
	return render(w, format, LifespanWidth, LifespanHeight, "", nil, [][]*plot.Plot{{withSubtitle(p, sub)}})
}

// withSubtitle appends a second line to the plot's title.
func withSubtitle(p *plot.Plot, sub string) *plot.Plot {
	p.Title.Text += "\n" + sub
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Title.TextStyle.XAlign = draw.XCenter
	return p
}
