package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/lifespans"
	"github.com/fingerflow/fingerflow/models/talkers"
)

// Stats is everything `fingerflow stats` computed; sections left nil were
// not asked for.
type Stats struct {
	Talkers   *talkers.Result
	Rates     *Rates
	Lifespans *lifespans.Result
}

// WriteStatsText prints every section of s as text tables, separated by
// blank lines.
func WriteStatsText(w io.Writer, s Stats) error {
	var sections []func(io.Writer) error
	if s.Talkers != nil {
		if len(s.Talkers.Tops) > 0 {
			sections = append(sections, func(w io.Writer) error { return WriteTops(w, *s.Talkers) })
		}
		if s.Talkers.Sources != nil {
			sections = append(sections, func(w io.Writer) error { return WriteSources(w, *s.Talkers) })
		}
	}
	if s.Rates != nil {
		sections = append(sections, func(w io.Writer) error { return WriteRates(w, *s.Rates) })
	}
	if s.Lifespans != nil {
		sections = append(sections, func(w io.Writer) error { return WriteLifespans(w, *s.Lifespans) })
	}
	for i, f := range sections {
		if i > 0 {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		if err := f(w); err != nil {
			return err
		}
	}
	return nil
}

// The JSON form of Stats. Times are RFC 3339 in UTC, durations seconds,
// shares fractions of the totals (0.381, not 38.1).
type (
	statsJSON struct {
		Totals  *countsJSON  `json:"totals,omitempty"`
		Tops    []topJSON    `json:"tops,omitempty"`
		Sources []sourceJSON `json:"sources,omitempty"`
		// SourcesDistinct counts every source address, listed or not.
		SourcesDistinct int            `json:"sources_distinct,omitempty"`
		Rates           *ratesJSON     `json:"rates,omitempty"`
		Lifespans       *lifespansJSON `json:"lifespans,omitempty"`
	}
	countsJSON struct {
		Flows    uint64     `json:"flows"`
		Packets  uint64     `json:"packets"`
		Bytes    uint64     `json:"bytes"`
		First    *time.Time `json:"first,omitempty"`
		Last     *time.Time `json:"last,omitempty"`
		Duration float64    `json:"duration_s"`
	}
	topJSON struct {
		Stat     string      `json:"stat"`
		Element  string      `json:"element"`
		ByProto  bool        `json:"by_proto"`
		Order    string      `json:"order"`
		Distinct int         `json:"distinct"`
		Entries  []entryJSON `json:"entries"`
	}
	entryJSON struct {
		Key          string  `json:"key"`
		Proto        string  `json:"proto,omitempty"`
		Addr         string  `json:"addr,omitempty"`
		Port         *uint16 `json:"port,omitempty"`
		Dst          string  `json:"dst,omitempty"`
		DstPort      *uint16 `json:"dst_port,omitempty"`
		FlowsShare   float64 `json:"flows_share"`
		PacketsShare float64 `json:"packets_share"`
		BytesShare   float64 `json:"bytes_share"`
		PPS          uint64  `json:"pps"`
		BPS          uint64  `json:"bps"`
		BPP          uint64  `json:"bpp"`
		countsJSON
	}
	sourceJSON struct {
		Addr     string  `json:"addr"`
		Duration float64 `json:"duration_s"`
		Count    uint64  `json:"count"`
		Packets  uint64  `json:"packets"`
		Bytes    uint64  `json:"bytes"`
	}
)

func toCountsJSON(c talkers.Counts) countsJSON {
	j := countsJSON{Flows: c.Flows, Packets: c.Packets, Bytes: c.Bytes}
	if c.Flows > 0 {
		f, l := c.First.UTC(), c.Last.UTC()
		j.First, j.Last = &f, &l
		j.Duration = c.Duration().Seconds()
	}
	return j
}

func fraction(x, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return float64(x) / float64(total)
}

// WriteStatsJSON prints s as one indented JSON document.
func WriteStatsJSON(w io.Writer, s Stats) error {
	var out statsJSON
	if r := s.Talkers; r != nil {
		tot := toCountsJSON(r.Totals)
		out.Totals = &tot
		for _, top := range r.Tops {
			e := top.Stat.Element
			tj := topJSON{Stat: top.Stat.String(), Element: e.String(), ByProto: top.Stat.ByProto,
				Order: top.Order.String(), Distinct: top.Distinct, Entries: []entryJSON{}}
			for _, en := range top.Entries {
				ej := entryJSON{
					Key:          en.Key.Text(e),
					FlowsShare:   fraction(en.Flows, r.Totals.Flows),
					PacketsShare: fraction(en.Packets, r.Totals.Packets),
					BytesShare:   fraction(en.Bytes, r.Totals.Bytes),
					PPS:          en.PPS(), BPS: en.BPS(), BPP: en.BPP(),
					countsJSON: toCountsJSON(en.Counts),
				}
				if top.Stat.ByProto || e == talkers.Record || e == talkers.Proto {
					ej.Proto = en.Key.Text(talkers.Proto)
				}
				switch e {
				case talkers.SrcIP, talkers.DstIP, talkers.IP:
					ej.Addr = en.Key.Text(e)
				case talkers.SrcPort, talkers.DstPort, talkers.Port:
					ej.Port = &en.Key.Port
				case talkers.Record:
					ej.Addr, ej.Dst = en.Key.Addr.String(), en.Key.Dst.String()
					ej.Port, ej.DstPort = &en.Key.Port, &en.Key.DstPort
				}
				tj.Entries = append(tj.Entries, ej)
			}
			out.Tops = append(out.Tops, tj)
		}
		for _, src := range r.Sources {
			out.Sources = append(out.Sources, sourceJSON{Addr: src.Addr.String(), Duration: src.Duration.Seconds(),
				Count: src.Count, Packets: src.Packets, Bytes: src.Bytes})
		}
		out.SourcesDistinct = r.SourcesDistinct
	}
	if s.Rates != nil {
		out.Rates = toRatesJSON(*s.Rates)
	}
	if s.Lifespans != nil {
		out.Lifespans = toLifespansJSON(*s.Lifespans)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

type (
	lifespansJSON struct {
		Flows         uint64         `json:"flows"`
		Censored      uint64         `json:"censored"`
		ActiveTimeout float64        `json:"active_timeout_s"`
		Slack         float64        `json:"slack_s"`
		WindowEnd     *time.Time     `json:"window_end,omitempty"`
		Groupings     []groupingJSON `json:"groupings"`
	}
	groupingJSON struct {
		By      string       `json:"by"`
		Groups  []groupJSON  `json:"groups"`
		LogRank *logRankJSON `json:"log_rank,omitempty"`
		Why     string       `json:"no_test,omitempty"`
	}
	logRankJSON struct {
		Statistic float64 `json:"chi2"`
		DF        int     `json:"df"`
		P         float64 `json:"p"`
	}
	groupJSON struct {
		Name     string      `json:"name"`
		Flows    int64       `json:"flows"`
		Ended    int64       `json:"ended"`
		Censored int64       `json:"censored"`
		Median   *float64    `json:"median_s"`
		Interval [2]*float64 `json:"median_interval_s"`
		// Curve is the Kaplan–Meier curve at each distinct lifespan:
		// [seconds, share alive].
		Curve [][2]float64 `json:"curve"`
	}
)

// finite is x, or nil (JSON null) for NaN and infinities.
func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func toLifespansJSON(r lifespans.Result) *lifespansJSON {
	j := &lifespansJSON{Flows: uint64(r.Flows), Censored: uint64(r.Censored),
		ActiveTimeout: r.Config.ActiveTimeout.Seconds(), Slack: r.Config.Slack.Seconds(), Groupings: []groupingJSON{}}
	if !r.Config.WindowEnd.IsZero() {
		t := r.Config.WindowEnd.UTC()
		j.WindowEnd = &t
	}
	for _, g := range r.Groupings {
		gj := groupingJSON{By: g.Name}
		if g.LogRank != nil {
			gj.LogRank = &logRankJSON{Statistic: g.LogRank.Statistic(), DF: g.LogRank.DF(), P: g.LogRank.PValue()}
		} else if g.TestErr != nil {
			gj.Why = g.TestErr.Error()
		}
		for _, gr := range g.Groups {
			x := groupJSON{Name: gr.Name, Flows: gr.Flows, Ended: gr.Ended, Censored: gr.Censored,
				Median: finite(gr.Median), Interval: [2]*float64{finite(gr.MedianLower), finite(gr.MedianUpper)},
				Curve: [][2]float64{}}
			for _, s := range gr.Curve.Steps() {
				x.Curve = append(x.Curve, [2]float64{s.Time, s.Survival})
			}
			gj.Groups = append(gj.Groups, x)
		}
		j.Groupings = append(j.Groupings, gj)
	}
	return j
}

type (
	ratesJSON struct {
		Site  siteRatesJSON   `json:"site"`
		Hosts []hostRatesJSON `json:"hosts"`
	}
	rateJSON struct {
		Start       *time.Time `json:"start,omitempty"`
		Seconds     int64      `json:"seconds"`
		BytesMean   float64    `json:"bytes_per_s_mean"`
		BytesP95    float64    `json:"bytes_per_s_p95"`
		PacketsMean float64    `json:"packets_per_s_mean"`
		PacketsP95  float64    `json:"packets_per_s_p95"`
	}
	siteRatesJSON struct {
		Hosts        int    `json:"hosts"`
		Flows        uint64 `json:"flows"`
		Bytes        uint64 `json:"bytes"`
		Packets      uint64 `json:"packets"`
		ForeignFlows uint64 `json:"foreign_flows"`
		rateJSON
		// The series: one value a second from start, one a minute from
		// minute_start (omitted for spans over HostConfig.MaxSeriesSpan).
		BytesPerSecond   []float64  `json:"bytes_per_second,omitempty"`
		PacketsPerSecond []float64  `json:"packets_per_second,omitempty"`
		MinuteStart      *time.Time `json:"minute_start,omitempty"`
		BytesPerMinute   []float64  `json:"bytes_per_minute,omitempty"`
		PacketsPerMinute []float64  `json:"packets_per_minute,omitempty"`
	}
	hostRatesJSON struct {
		Addr string `json:"addr"`
		rateJSON
		BytesIn     uint64  `json:"bytes_in"`
		BytesOut    uint64  `json:"bytes_out"`
		DurationOut float64 `json:"duration_out_s"`
		FlowsOut    uint64  `json:"flows_out"`
	}
)

func toRateJSON(r features.Rates) rateJSON {
	j := rateJSON{Seconds: r.Seconds, BytesMean: r.BytesMean, BytesP95: r.BytesP95, PacketsMean: r.PacketsMean, PacketsP95: r.PacketsP95}
	if r.Seconds > 0 {
		t := r.Start.UTC()
		j.Start = &t
	}
	return j
}

func toRatesJSON(r Rates) *ratesJSON {
	s := r.Site
	j := &ratesJSON{Site: siteRatesJSON{
		Hosts: s.Hosts, Flows: s.Flows, Bytes: s.Bytes, Packets: s.Packets, ForeignFlows: s.ForeignFlows,
		rateJSON: toRateJSON(s.Rates), BytesPerSecond: s.BytesPerSecond, PacketsPerSecond: s.PacketsPerSecond,
		BytesPerMinute: s.BytesPerMinute, PacketsPerMinute: s.PacketsPerMinute,
	}, Hosts: []hostRatesJSON{}}
	if len(s.BytesPerMinute) > 0 {
		t := s.MinuteStart.UTC()
		j.Site.MinuteStart = &t
	}
	for _, h := range r.TopHosts() {
		j.Hosts = append(j.Hosts, hostRatesJSON{Addr: h.Addr.String(), rateJSON: toRateJSON(h.Rates),
			BytesIn: h.BytesIn, BytesOut: h.BytesOut, DurationOut: h.DurationOut.Seconds(), FlowsOut: h.FlowsOut})
	}
	return j
}
