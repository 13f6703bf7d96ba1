package reports

import (
	"image/color"
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Helpers the charts share: time and byte axes, categorical colours.

// Sizes of the charts (PNG at DPI: 960×480 pixels for a wide chart).
const (
	WideWidth   = 10 * vg.Inch
	WideHeight  = 5 * vg.Inch
	TallHeight  = 7 * vg.Inch
	SquareWidth = 8 * vg.Inch
)

// categoryColours tell up to ten series apart: the Okabe–Ito palette
// without its black, then four darker tones.
var categoryColours = []color.Color{
	color.RGBA{0x00, 0x72, 0xb2, 0xff}, // blue
	color.RGBA{0xe6, 0x9f, 0x00, 0xff}, // orange
	color.RGBA{0x00, 0x9e, 0x73, 0xff}, // green
	color.RGBA{0xcc, 0x79, 0xa7, 0xff}, // purple
	color.RGBA{0xd5, 0x5e, 0x00, 0xff}, // vermilion
	color.RGBA{0x56, 0xb4, 0xe9, 0xff}, // sky blue
	color.RGBA{0xf0, 0xe4, 0x42, 0xff}, // yellow
	color.RGBA{0x55, 0x55, 0x55, 0xff}, // grey
	color.RGBA{0x88, 0x22, 0x55, 0xff}, // wine
	color.RGBA{0x11, 0x77, 0x33, 0xff}, // dark green
}

// categoryColour is the colour of the i-th category; past ten they repeat.
func categoryColour(i int) color.Color { return categoryColours[i%len(categoryColours)] }

// Colours of what the charts distinguish.
var (
	colourNamed   = colourFingerflow                   // downloads named as catalog files
	colourUnknown = colourBaseline                     // downloads answered unknown
	colourLight   = color.RGBA{0x9e, 0xbc, 0xda, 0xff} // 1-second series
	colourOther   = color.RGBA{0x99, 0x99, 0x99, 0xb0} // not clustered
	colourGrid    = color.RGBA{0xe4, 0xe4, 0xe4, 0xff} // grid lines
	colourText    = color.RGBA{0x33, 0x33, 0x33, 0xff} // labels on charts
)

// timeSteps are the spacings time axes choose from.
var timeSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour,
}

// utcTicks is a time axis over Unix seconds: about six labelled ticks at
// round UTC times, "15:04" (with seconds when the step is under a minute),
// the first and every tick on a new day carrying the date below.
func utcTicks(maxTicks int) plot.Ticker {
	return plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		span := time.Duration((hi - lo) * float64(time.Second))
		step := timeSteps[len(timeSteps)-1]
		for _, s := range timeSteps {
			if span/s <= time.Duration(maxTicks) {
				step = s
				break
			}
		}
		minor := minorStep(step)
		layout := "15:04"
		if step < time.Minute {
			layout = "15:04:05"
		}
		start := time.Unix(0, int64(lo*1e9)).UTC().Truncate(minor)
		var ts []plot.Tick
		lastDay := ""
		for t := start; !t.After(time.Unix(0, int64(hi*1e9)).UTC()); t = t.Add(minor) {
			v := float64(t.UnixNano()) / 1e9
			if v < lo {
				continue
			}
			if t.Truncate(step).Equal(t) && (step < 24*time.Hour || t.Hour() == 0) {
				label := t.Format(layout)
				if day := t.Format("2006-01-02"); day != lastDay {
					label += "\n" + day
					lastDay = day
				}
				ts = append(ts, plot.Tick{Value: v, Label: label})
			} else {
				ts = append(ts, plot.Tick{Value: v})
			}
		}
		return ts
	})
}

// minorStep is the spacing of unlabelled ticks between steps.
func minorStep(step time.Duration) time.Duration {
	switch {
	case step >= 24*time.Hour:
		return 6 * time.Hour
	case step >= 6*time.Hour:
		return time.Hour
	case step == 3*time.Hour:
		return time.Hour
	case step == 15*time.Minute || step == 15*time.Second:
		return step / 3
	}
	if step%(5*time.Second) == 0 && step/(5*time.Second) > 1 && step%(10*time.Second) != 0 {
		return step / 5
	}
	return step / 2
}

// unixSeconds is t on a time axis.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// byteUnit picks the decimal unit for values up to max bytes: its name
// and divisor ("MB", 1e6).
func byteUnit(max float64) (string, float64) {
	switch {
	case max >= 1e12:
		return "TB", 1e12
	case max >= 1e9:
		return "GB", 1e9
	case max >= 1e6:
		return "MB", 1e6
	case max >= 1e3:
		return "KB", 1e3
	}
	return "bytes", 1
}

// bytesText is n bytes in decimal units: "1.2 GB", "830 bytes".
func bytesText(n float64) string {
	unit, div := byteUnit(n)
	if div == 1 {
		return strconv.FormatFloat(n, 'f', 0, 64) + " bytes"
	}
	v := n / div
	prec := 1
	if v >= 100 {
		prec = 0
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + unit
}

// CountText is n with thousands separators: 1,234,567.
func CountText[T int | int64 | uint64](n T) string {
	var s string
	if n < 0 {
		s = strconv.FormatInt(int64(n), 10)
	} else {
		s = strconv.FormatUint(uint64(n), 10)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// logTicks label powers of ten on a log axis, with unlabelled ticks at 2
// to 9 times each; format writes a power's label.
func logTicks(format func(v float64) string) plot.Ticker { return logTicksEvery(format, 1) }

// logTicksEvery is logTicks labelling only every n-th power of ten (those
// whose exponent n divides).
func logTicksEvery(format func(v float64) string, n int) plot.Ticker {
	return plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		var ts []plot.Tick
		if lo <= 0 || hi <= lo {
			return ts
		}
		for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
			p := math.Pow(10, e)
			for m := 1.0; m < 10; m++ {
				v := m * p
				if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
					continue
				}
				t := plot.Tick{Value: v}
				if m == 1 && int(math.Abs(e))%n == 0 {
					t.Label = format(v)
				}
				ts = append(ts, t)
			}
		}
		return ts
	})
}

// countLabel names a power of ten of counts: 1, 10, 100, 1k, 10k, 1M.
func countLabel(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// horizontalGrid is a grid of horizontal lines only.
func horizontalGrid() *plotter.Grid {
	g := plotter.NewGrid()
	g.Vertical.Width = 0
	g.Horizontal.Color = colourGrid
	return g
}

// verticalGrid is a grid of vertical lines only.
func verticalGrid() *plotter.Grid {
	g := plotter.NewGrid()
	g.Horizontal.Width = 0
	g.Vertical.Color = colourGrid
	return g
}

// smallLabels are labels at points, in small dark text, aligned by
// xAlign and yAlign.
func smallLabels(xys plotter.XYs, texts []string, size vg.Length, xAlign draw.XAlignment, yAlign draw.YAlignment) (*plotter.Labels, error) {
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		st := &l.TextStyle[i]
		st.Font.Size = size
		st.Color = colourText
		st.XAlign = xAlign
		st.YAlign = yAlign
	}
	return l, nil
}

// addStackedBars adds horizontal bars to p, one per nominal Y row: lower
// in colour lc with upper (in uc) stacked on it, and a small label (texts,
// at xys) just right of each bar's end.
func addStackedBars(p *plot.Plot, lower, upper plotter.Values, width vg.Length, lc, uc color.Color, xys plotter.XYs, texts []string, size vg.Length) error {
	a, err := plotter.NewBarChart(lower, width)
	if err != nil {
		return err
	}
	a.Horizontal, a.Color, a.LineStyle.Width = true, lc, 0
	b, err := plotter.NewBarChart(upper, width)
	if err != nil {
		return err
	}
	b.Horizontal, b.Color, b.LineStyle.Width = true, uc, 0
	b.StackOn(a)
	p.Add(a, b)
	l, err := smallLabels(xys, texts, size, draw.XLeft, draw.YCenter)
	if err != nil {
		return err
	}
	l.Offset.X = vg.Points(4)
	p.Add(l)
	return nil
}

// shortAddr keeps a host label short enough for an axis.
func shortAddr(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// numTicks label a linear axis at round values, with thousands
// separators: 0, 50,000, 100,000; 0, 0.5, 1.
type numTicks struct{}

func (numTicks) Ticks(lo, hi float64) []plot.Tick {
	span := math.Max(hi-lo, 1e-9)
	mag := math.Pow(10, math.Floor(math.Log10(span)))
	step := mag
	for _, m := range []float64{0.1, 0.2, 0.5, 1} {
		if span/(mag*m) <= 6 {
			step = mag * m
			break
		}
	}
	var ts []plot.Tick
	for i := math.Ceil(lo / step); i*step <= hi*(1+1e-12); i++ {
		v := i * step
		label := CountText(int(math.Round(v)))
		if step < 1 {
			label = strconv.FormatFloat(v, 'f', int(math.Ceil(-math.Log10(step))), 64)
		}
		ts = append(ts, plot.Tick{Value: v, Label: label})
		// A minor tick halfway.
		if m := v + step/2; m <= hi {
			ts = append(ts, plot.Tick{Value: m})
		}
	}
	return ts
}
