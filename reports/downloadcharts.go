package reports

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// DownloadSizesChart draws, in two panels, where the night's downloads
// sit against the catalog: left, how many downloads have each estimated
// file size (flow bytes ÷ s.Ratio), named and unknown side by side,
// with the catalog's file sizes marked along the top; right, how far each
// download's estimated size lies from the catalog file it was named (named)
// or from the nearest catalog file (unknown), as a share of that file's
// size. Both axes are logarithmic. The image is WideWidth × WideHeight.
func DownloadSizesChart(w io.Writer, format string, s *DownloadSummary) error {
	if s == nil || s.Total == 0 {
		return fmt.Errorf("download sizes chart: no downloads: %w", ErrNoData)
	}
	const k = 5 // fine bins per bar: 0.1 decade
	var namedEst, namedDist []float64
	for _, d := range s.NamedRows {
		namedEst = append(namedEst, d.Est)
		if d.Size > 0 {
			namedDist = append(namedDist, math.Max(d.Dist, DistMin))
		}
	}
	sizeBins := func(values []float64) []histBin { return logBins(values, 0, SizeBinWidth*k, SizeBins/k) }
	left := plot.New()
	left.X.Label.Text = fmt.Sprintf("estimated file size (flow bytes ÷ %.4f)", s.Ratio)
	left.Y.Label.Text = "downloads (log scale)"
	left.X.Scale, left.Y.Scale = plot.LogScale{}, plot.LogScale{}
	left.X.Tick.Marker = logTicks(sizeLabel)
	left.Y.Tick.Marker = logTicks(countLabel)
	unknownSizes := rebin(s.UnknownSizes, 0, SizeBinWidth, k)
	bins := [][]histBin{sizeBins(namedEst), unknownSizes}
	xmin, xmax, ymax := math.Inf(1), math.Inf(-1), 1.0
	for _, bs := range bins {
		h := &histBars{bins: bs}
		x0, x1, _, y1 := h.DataRange()
		xmin, xmax, ymax = math.Min(xmin, x0), math.Max(xmax, x1), math.Max(ymax, y1)
	}
	for _, c := range s.CatalogSizes {
		xmin, xmax = math.Min(xmin, c), math.Max(xmax, c)
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax = 1, 10
	}
	left.X.Min, left.X.Max = xmin/1.5, xmax*1.5
	left.Y.Min, left.Y.Max = 0.7, ymax*4
	left.Add(horizontalGrid())
	// Named and unknown bars side by side in each bin.
	left.Add(&histBars{bins: bins[0], fill: colourNamed, slot: 0, slots: 2}, &histBars{bins: bins[1], fill: colourUnknown, slot: 1, slots: 2})
	if len(s.CatalogSizes) > 0 {
		left.Add(rug{values: s.CatalogSizes, style: draw.LineStyle{Color: colourRug, Width: vg.Points(0.8)}, length: vg.Points(12)})
	}

	right := plot.New()
	right.X.Label.Text = "distance to the named or nearest file"
	right.X.Scale, right.Y.Scale = plot.LogScale{}, plot.LogScale{}
	right.X.Tick.Marker = logTicksEvery(percentLabel, 2)
	right.Y.Tick.Marker = logTicks(countLabel)
	right.Add(horizontalGrid())
	lo := math.Log10(DistMin)
	distBins := [][]histBin{logBins(namedDist, lo, DistBinWidth*4, DistBins/4), rebin(s.UnknownDist, lo, DistBinWidth, 4)}
	ymax = 1
	for i, bs := range distBins {
		col := colourNamed
		if i == 1 {
			col = colourUnknown
		}
		h := &histBars{bins: bs, fill: col, slot: i, slots: 2}
		_, _, _, y1 := h.DataRange()
		ymax = math.Max(ymax, y1)
		right.Add(h)
	}
	right.X.Min, right.X.Max = DistMin, 10
	right.Y.Min, right.Y.Max = 0.7, ymax*4
	title := fmt.Sprintf("Downloads against the catalog: %s named, %s unknown", countText(s.Named), countText(s.Unknown))
	legend := []legendEntry{{"named downloads", colourNamed}, {"unknown downloads", colourUnknown}}
	row := []*plot.Plot{left, right}
	if len(s.CatalogSizes) == 0 {
		// Without the catalog's sizes there is no distance to draw.
		title += "; no catalog sizes (catalog.csv missing)"
		row = row[:1]
	} else {
		legend = append(legend, legendEntry{"catalog file sizes (marks along the top)", colourRug})
	}
	return render(w, format, WideWidth, WideHeight, title, legend, [][]*plot.Plot{row})
}

// percentLabel names a power of ten as a percentage: 1e-6 is "0.0001%".
func percentLabel(v float64) string {
	e := int(math.Round(math.Log10(v))) + 2
	if e >= 0 {
		return strconv.FormatFloat(math.Pow(10, float64(e)), 'f', 0, 64) + "%"
	}
	return "0." + strings.Repeat("0", -e-1) + "1%"
}

// DownloadsHourlyChart draws the downloads that started in each hour,
// named above unknown, as bars on a UTC time axis. The image is WideWidth
// × WideHeight.
func DownloadsHourlyChart(w io.Writer, format string, hours []HourCount) error {
	if len(hours) == 0 {
		return fmt.Errorf("hourly downloads chart: no downloads: %w", ErrNoData)
	}
	panel := func(ylabel string, value func(h HourCount) int, col color.Color) (*plot.Plot, error) {
		p := plot.New()
		p.Y.Label.Text = ylabel
		p.Y.Min = 0
		vals := make(plotter.Values, len(hours))
		top := 0.0
		for i, h := range hours {
			vals[i] = float64(value(h))
			top = math.Max(top, vals[i])
		}
		p.Y.Max = math.Max(1, top*1.15)
		p.X.Min, p.X.Max = -0.5, float64(len(hours))-0.5
		p.X.Tick.Marker = plot.ConstantTicks(hourTicks(hours))
		p.Y.Tick.Marker = countTicks{}
		p.Add(horizontalGrid())
		width := vg.Length(math.Max(2, math.Min(24, 600/float64(len(hours))*0.7)))
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		b.Color = col
		b.LineStyle.Width = 0
		p.Add(b)
		if len(hours) <= 36 {
			var xys plotter.XYs
			var texts []string
			for i, v := range vals {
				if v > 0 {
					xys = append(xys, plotter.XY{X: float64(i), Y: v})
					texts = append(texts, countText(int(v)))
				}
			}
			if len(xys) > 0 {
				l, err := smallLabels(xys, texts, vg.Points(7), draw.XCenter, draw.YBottom)
				if err != nil {
					return nil, err
				}
				l.Offset.Y = vg.Points(2)
				p.Add(l)
			}
		}
		return p, nil
	}
	named, err := panel("named downloads per hour", func(h HourCount) int { return h.Named }, colourNamed)
	if err != nil {
		return fmt.Errorf("hourly downloads chart: %w", err)
	}
	unknown, err := panel("unknown downloads per hour", func(h HourCount) int { return h.Unknown }, colourUnknown)
	if err != nil {
		return fmt.Errorf("hourly downloads chart: %w", err)
	}
	unknown.X.Label.Text = "hour the downloads started in (UTC)"
	return render(w, format, WideWidth, WideHeight, "Named and unknown downloads per hour", nil, [][]*plot.Plot{{named}, {unknown}})
}

// hourTicks label an axis of hours (bar i is hours[i]): every hour up to
// twelve, then every third or sixth, with the date on the first and at
// midnight.
func hourTicks(hours []HourCount) []plot.Tick {
	every := 1
	switch n := len(hours); {
	case n > 48:
		every = 12
	case n > 24:
		every = 6
	case n > 12:
		every = 3
	}
	var ts []plot.Tick
	lastDay := ""
	for i, h := range hours {
		t := h.Hour.UTC()
		if t.Hour()%every != 0 && i != 0 {
			ts = append(ts, plot.Tick{Value: float64(i)})
			continue
		}
		label := t.Format("15:04")
		if day := t.Format("2006-01-02"); day != lastDay {
			label += "\n" + day
			lastDay = day
		}
		ts = append(ts, plot.Tick{Value: float64(i), Label: label})
	}
	return ts
}
