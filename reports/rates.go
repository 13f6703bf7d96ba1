package reports

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/fingerflow/fingerflow/features"
)

// Rates is the traffic-over-time section of `fingerflow stats`: the site's
// and its busiest internal hosts' per-second rates (features.HostAggregator).
type Rates struct {
	Site  features.SiteStats
	Hosts []features.HostStats // all internal hosts; the writers pick the top N
	// N is how many hosts the writers list (by mean bytes per second).
	N int
}

// TopHosts returns the N hosts with the highest mean bytes per second.
func (r *Rates) TopHosts() []features.HostStats {
	hs := slices.Clone(r.Hosts)
	slices.SortFunc(hs, func(a, b features.HostStats) int {
		return cmp.Or(cmp.Compare(b.Rates.BytesMean, a.Rates.BytesMean), a.Addr.Compare(b.Addr))
	})
	return hs[:min(len(hs), r.N)]
}

// WriteRates prints the site's mean and 95th-percentile bytes and packets
// per second, then the busiest internal hosts' with their traffic in and
// out and their accumulated flow duration (T) and flow count (C).
func WriteRates(w io.Writer, r Rates) error {
	s := r.Site
	fmt.Fprintf(w, "Traffic over time, 1-second resolution (a flow's bytes spread evenly over its duration); %d internal hosts, %d flows with an internal end",
		s.Hosts, s.Flows)
	if s.ForeignFlows > 0 {
		fmt.Fprintf(w, ", %d without one left out", s.ForeignFlows)
	}
	fmt.Fprintln(w, ":")
	if s.Rates.Seconds == 0 {
		_, err := fmt.Fprintln(w, "  no traffic")
		return err
	}
	fmt.Fprintf(w, "  site: %s for %d s: bytes/s mean %.0f, 95th percentile %.0f (%.3f and %.3f Mbit/s); packets/s mean %.1f, 95th percentile %.1f\n",
		s.Rates.Start.UTC().Format(timeLayout), s.Rates.Seconds, s.Rates.BytesMean, s.Rates.BytesP95,
		s.Rates.BytesMean*8/1e6, s.Rates.BytesP95*8/1e6, s.Rates.PacketsMean, s.Rates.PacketsP95)
	top := r.TopHosts()
	fmt.Fprintf(w, "\nTop %d of %d internal hosts by mean bytes per second (95th percentiles within 1%%):\n", len(top), len(r.Hosts))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "Host\tFirst seen\tSpan (s)\tbytes/s\tP95\tpackets/s\tP95\tBytes in\tBytes out\tT (s)\tC (flows)\t\n")
	for _, h := range top {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%.0f\t%.1f\t%.1f\t%d\t%d\t%.3f\t%d\t\n", h.Addr, h.First.UTC().Format(timeLayout),
			h.Rates.Seconds, h.Rates.BytesMean, h.Rates.BytesP95, h.Rates.PacketsMean, h.Rates.PacketsP95,
			h.BytesIn, h.BytesOut, h.DurationOut.Seconds(), h.FlowsOut)
	}
	return tw.Flush()
}

// Traffic chart size.
const (
	TrafficWidth  = 10 * vg.Inch
	TrafficHeight = 4 * vg.Inch
)

// TrafficChart draws the site's bytes per second over time, a second a
// point; spans over two hours are drawn a minute a point (the mean bytes
// per second of each minute). format is "png" or "svg".
func TrafficChart(w io.Writer, format string, s features.SiteStats) error {
	if s.Rates.Seconds == 0 || s.SeriesOmitted {
		return fmt.Errorf("traffic chart: %w", ErrNoData)
	}
	pts := plotter.XYs{}
	step := "second"
	if len(s.BytesPerSecond) <= 7200 {
		t0 := float64(s.Rates.Start.Unix())
		for i, v := range s.BytesPerSecond {
			pts = append(pts, plotter.XY{X: t0 + float64(i), Y: v * 8 / 1e6})
		}
	} else {
		step = "minute"
		t0 := float64(s.MinuteStart.Unix())
		for i, v := range s.BytesPerMinute {
			pts = append(pts, plotter.XY{X: t0 + 60*float64(i), Y: v / 60 * 8 / 1e6})
		}
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Site traffic, Mbit/s, a %s a point (mean %.3f, 95th percentile %.3f)", step, s.Rates.BytesMean*8/1e6, s.Rates.BytesP95*8/1e6)
	p.Title.Padding = vg.Points(8)
	p.Y.Label.Text = "Mbit/s"
	p.X.Label.Text = "UTC"
	p.X.Tick.Marker = plot.TimeTicks{Format: "15:04:05", Time: func(t float64) time.Time { return time.Unix(int64(t), 0).UTC() }}
	p.Y.Min = 0
	line, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("traffic chart: %w", err)
	}
	line.Color = colourFingerflow
	p.Add(line, plotter.NewGrid())
	return render(w, format, TrafficWidth, TrafficHeight, "", nil, [][]*plot.Plot{{p}})
}
