package reports

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
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

// TrafficChart draws the site's traffic over time with the morning
// report's chart (TrafficChart), the busiest hosts' peak minutes marked.
func (r *Rates) TrafficChart(w io.Writer, format string) error {
	s := r.Site
	if s.Rates.Seconds == 0 {
		return fmt.Errorf("traffic chart: %w", ErrNoData)
	}
	seconds := make([]nightdir.SecondRow, len(s.BytesPerSecond))
	for i := range s.BytesPerSecond {
		seconds[i] = nightdir.SecondRow{Time: s.Rates.Start.Add(time.Duration(i) * time.Second).UTC(), Bytes: s.BytesPerSecond[i], Packets: s.PacketsPerSecond[i]}
	}
	minutes := make([]nightdir.MinuteRow, len(s.BytesPerMinute))
	for i := range s.BytesPerMinute {
		minutes[i] = nightdir.MinuteRow{Minute: s.MinuteStart.Add(time.Duration(i) * time.Minute).UTC(), Host: "site", Bytes: s.BytesPerMinute[i], Packets: s.PacketsPerMinute[i]}
	}
	var busiest []nightdir.HostSeries
	for _, h := range r.TopHosts() {
		hs := nightdir.HostSeries{Host: h.Addr.String()}
		for _, m := range h.Minutes {
			hs.Minutes = append(hs.Minutes, nightdir.MinuteRow{Minute: m.Start.UTC(), Host: hs.Host, Bytes: m.Bytes, Packets: m.Packets})
		}
		busiest = append(busiest, hs)
	}
	return TrafficChart(w, format, seconds, minutes, busiest)
}
