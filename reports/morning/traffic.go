package morning

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// Traffic is shown in bits per second, as network tools show it, at a
// resolution chosen from the night's span: every second and a mean per
// 10 s for a capture of a minute, every second (highest of a run of
// seconds) and a mean per 5 or 15 minutes for a day.

// maxLinePoints is how many points the light line keeps: past it, each
// point is the highest of a run of samples, so peaks stay visible.
const maxLinePoints = 900

// meanBins are the bins the dark line may average over.
var meanBins = []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 10 * time.Minute,
	15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour}

// maxMeanBins and minMeanBins bound the number of mean bins.
const (
	maxMeanBins = 150
	minMeanBins = 6
)

// markedHosts is how many of the busiest hosts' peak minutes are marked.
const markedHosts = 5

// minSpanForPeaks is the span from which the busiest hosts' peak minutes
// are marked: below it, the minutes cannot be told apart.
const minSpanForPeaks = 20 * time.Minute

// sample is the site's traffic in one second or minute.
type sample struct {
	t              time.Time
	bytes, packets float64
}

// trafficSamples are the site's samples, per second when the run kept
// them, else per minute, with their width.
func (r *report) trafficSamples() ([]sample, time.Duration) {
	n := r.n
	if len(n.Seconds) > 0 {
		out := make([]sample, len(n.Seconds))
		for i, s := range n.Seconds {
			out[i] = sample{s.Time, s.Bytes, s.Packets}
		}
		return out, time.Second
	}
	out := make([]sample, len(n.Minutes))
	for i, m := range n.Minutes {
		out[i] = sample{m.Minute, m.Bytes, m.Packets}
	}
	return out, time.Minute
}

func (r *report) trafficSection() (section, error) {
	s := section{ID: "traffic", Title: "Traffic"}
	tf := r.trafficFigures()
	if tf.total > 0 {
		s.Blocks = append(s.Blocks, block{Text: fmt.Sprintf("%s in %s: %s on average; the busiest %s %s at %s UTC.",
			bytesText(tf.total), spanText(tf.span), bitsText(tf.mean), map[bool]string{true: "second", false: "minute"}[len(r.n.Seconds) > 0],
			bitsText(tf.peak), clockText(tf.peakAt))})
	}
	s.Blocks = append(s.Blocks, block{Figure: r.trafficFigure()}, block{Figure: r.talkersFigure()})
	return s, nil
}

func (r *report) trafficFigure() *figure {
	n := r.n
	fig := &figure{ID: "fig-traffic", Title: "Site traffic over time"}
	base, width := r.trafficSamples()
	if len(base) < 2 {
		fig.Omitted = "the run wrote no traffic series (traffic.parquet, traffic_minutes.parquet)."
		if len(base) == 1 {
			fig.Omitted = "the night's traffic fits in one " + binText(width) + ": there is no course over time to draw."
		} else if n.Present[nightdir.TrafficFile] {
			fig.Omitted = "the traffic series is empty."
		}
		return fig
	}
	lo, hi := base[0].t, base[len(base)-1].t.Add(width)
	span := hi.Sub(lo)
	x := func(t time.Time) float64 { return t.Sub(lo).Seconds() }
	group := (len(base) + maxLinePoints - 1) / maxLinePoints
	var mean time.Duration
	for _, b := range meanBins {
		if b > width && span/b <= maxMeanBins {
			mean = b
			break
		}
	}
	if mean > 0 && span/mean < minMeanBins {
		mean = 0
	}
	type bin struct {
		t0, t1                time.Time
		bytes, packets, peakB float64
	}
	var bins []bin
	if mean > 0 {
		start := lo.Truncate(mean)
		for t := start; t.Before(hi); t = t.Add(mean) {
			bins = append(bins, bin{t0: maxTime(t, lo), t1: minTime(t.Add(mean), hi)})
		}
		for _, s := range base {
			k := int(s.t.Sub(start) / mean)
			if k >= 0 && k < len(bins) {
				bins[k].bytes += s.bytes
				bins[k].packets += s.packets
				bins[k].peakB = math.Max(bins[k].peakB, s.bytes/width.Seconds())
			}
		}
	}
	mkPanel := func(value func(s sample) float64, binValue func(b bin) float64, unit string, label func(float64) string, height int) panel {
		p := panel{height: height, yLabel: unit}
		var light []pt
		top := 0.0
		for i := 0; i < len(base); i += group {
			v := 0.0
			for _, s := range base[i:min(i+group, len(base))] {
				v = math.Max(v, value(s))
			}
			top = math.Max(top, v)
			t0 := x(base[i].t)
			t1 := x(base[min(i+group, len(base))-1].t.Add(width))
			light = append(light, pt{t0, v}, pt{t1, v})
		}
		p.lines = append(p.lines, line{class: "c-light", pts: light, area: mean > 0})
		if mean == 0 {
			p.lines[0].area = false
		}
		if mean > 0 {
			var dark []pt
			for _, b := range bins {
				if d := b.t1.Sub(b.t0).Seconds(); d > 0 {
					dark = append(dark, pt{(x(b.t0) + x(b.t1)) / 2, binValue(b) / d})
				}
			}
			p.lines = append(p.lines, line{class: "c-main", pts: dark})
		}
		p.yTicks, p.yTop = valueTicks(top, 4, label)
		return p
	}
	bitsLabel := func(v float64) string { num, pre := si(v); return num + " " + pre + "b/s" }
	pktLabel := func(v float64) string { num, pre := si(v); return num + " " + pre + "p/s" }
	bits := mkPanel(func(s sample) float64 { return 8 * s.bytes / width.Seconds() }, func(b bin) float64 { return 8 * b.bytes }, "bits/s", bitsLabel, 220)
	pkts := mkPanel(func(s sample) float64 { return s.packets / width.Seconds() }, func(b bin) float64 { return b.packets }, "packets/s", pktLabel, 120)

	// Values on hover, per mean bin (or per run of samples).
	if mean > 0 {
		for _, b := range bins {
			d := b.t1.Sub(b.t0).Seconds()
			if d <= 0 {
				continue
			}
			title := fmt.Sprintf("%s–%s UTC: mean %s, busiest %s %s; %s", clockText(b.t0), clockText(b.t1), bitsText(b.bytes/d),
				binText(width), bitsText(b.peakB), rateText(b.packets/d, "packets/s"))
			bits.hovers = append(bits.hovers, hover{x(b.t0), x(b.t1), title})
			pkts.hovers = append(pkts.hovers, hover{x(b.t0), x(b.t1), title})
		}
	} else {
		for i := 0; i < len(base); i += group {
			ss := base[i:min(i+group, len(base))]
			var by, pk float64
			for _, s := range ss {
				by, pk = math.Max(by, s.bytes), math.Max(pk, s.packets)
			}
			t1 := ss[len(ss)-1].t.Add(width)
			title := fmt.Sprintf("%s–%s UTC: %s, %s", clockText(ss[0].t), clockText(t1), bitsText(by/width.Seconds()), rateText(pk/width.Seconds(), "packets/s"))
			bits.hovers = append(bits.hovers, hover{x(ss[0].t), x(t1), title})
			pkts.hovers = append(pkts.hovers, hover{x(ss[0].t), x(t1), title})
		}
	}

	lightName := "every " + binText(width)
	if group > 1 {
		lightName = fmt.Sprintf("busiest %s of every %s", binText(width), binText(time.Duration(group)*width))
	}
	legend := []legendKey{{"c-light", lightName}}
	caption := fmt.Sprintf("The site's traffic in bits and packets per second, %s", lightName)
	if mean > 0 {
		legend = append(legend, legendKey{"c-main", "mean per " + binText(mean)})
		caption += " (light) and the mean per " + binText(mean) + " (dark)"
	}
	caption += ". Hover for the values."

	// The busiest hosts' peak minutes, when minutes can be told apart.
	if span >= minSpanForPeaks && len(n.Busiest) > 0 {
		var marked []string
		for i, h := range n.Busiest[:min(markedHosts, len(n.Busiest))] {
			if len(h.Minutes) == 0 {
				continue
			}
			pk := slices.MaxFunc(h.Minutes, func(a, b nightdir.MinuteRow) int {
				return cmp.Or(cmp.Compare(a.Bytes, b.Bytes), b.Minute.Compare(a.Minute))
			})
			v := 8 * pk.Bytes / 60
			who := r.labelOf(h.Host)
			bits.marks = append(bits.marks, mark{x: x(pk.Minute.Add(30 * time.Second)), y: math.Min(v, bits.yTop), label: fmt.Sprint(i + 1),
				title: fmt.Sprintf("%s: busiest minute %s UTC, %s", who, pk.Minute.UTC().Format("15:04"), bitsText(pk.Bytes/60))})
			marked = append(marked, fmt.Sprintf("%d %s (%s at %s)", i+1, who, bitsText(pk.Bytes/60), pk.Minute.UTC().Format("15:04")))
		}
		if len(marked) > 0 {
			caption += " Numbered marks: the busiest minute of each of the busiest hosts: " + join(marked) + "."
		}
	} else if len(n.Busiest) > 0 {
		caption += fmt.Sprintf(" The busiest hosts' peak minutes are not marked: the night spans %s, too short to tell its minutes apart on this chart (the top talkers table gives them).", spanText(span))
	}
	c := xyChart{xlo: 0, xhi: span.Seconds(), xTicks: timeTicks(lo, hi, 8), xLabel: "time (UTC)", panels: []panel{bits, pkts}, legend: legend,
		label: "the site's traffic over time in bits and packets per second"}
	fig.Body = c.render()
	fig.Caption = caption
	return fig
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// labelOf is a host's address with its OS, when the inventory gives it
// one.
func (r *report) labelOf(addr string) string {
	if i, ok := r.n.hostIndex()[addr]; ok {
		return r.facts[i].label
	}
	return addr
}

// talkersFigure is the top talkers as a table: bytes received and sent,
// the share of all hosts' bytes (which adds up to 100% over the hosts),
// the busiest minute and, for the busiest hosts, their traffic over the
// night.
func (r *report) talkersFigure() *figure {
	n := r.n
	fig := &figure{ID: "fig-talkers", Title: "Top talkers"}
	type talker struct {
		i       int
		in, out float64
	}
	var ts []talker
	all := 0.0
	for i := range n.Hosts {
		if i >= len(n.Features.Found) || !n.Features.Found[i] {
			continue
		}
		t := talker{i, n.Features.BytesIn[i], n.Features.BytesOut[i]}
		if math.IsNaN(t.in) || math.IsNaN(t.out) {
			continue
		}
		ts = append(ts, t)
		all += t.in + t.out
	}
	if len(ts) == 0 || all <= 0 {
		fig.Omitted = "the run wrote no host table (hosts.parquet): there are no bytes per host."
		if len(ts) > 0 {
			fig.Omitted = "no host sent or received a byte."
		}
		return fig
	}
	slices.SortStableFunc(ts, func(a, b talker) int { return cmp.Compare(b.in+b.out, a.in+a.out) })
	ts = ts[:min(len(ts), maxTalkers)]
	series := map[string]nightdir.HostSeries{}
	for _, h := range n.Busiest {
		series[h.Host] = h
	}
	// The minutes the sparklines span.
	var m0, m1 time.Time
	for _, m := range n.Minutes {
		if m0.IsZero() || m.Minute.Before(m0) {
			m0 = m.Minute
		}
		if m.Minute.After(m1) {
			m1 = m.Minute
		}
	}
	minutes := 0
	if !m0.IsZero() {
		minutes = int(m1.Sub(m0)/time.Minute) + 1
	}
	spark := minutes >= 3
	// A night of a few minutes has no busiest minute to speak of: its
	// hosts' mean rates over the night say more.
	span := r.trafficFigures().span
	perMinute := span >= 10*time.Minute
	topShare := (ts[0].in + ts[0].out) / all
	var b hb
	b.f(`<div class="dt-static"><table class="talkers"><thead><tr><th class="num">#</th><th>host</th><th class="num">received <small>(bytes)</small></th><th class="num">sent <small>(bytes)</small></th><th>share of all hosts' traffic</th>`)
	if perMinute {
		b.f(`<th class="num">busiest minute <small>(mean bits/s)</small></th>`)
	} else {
		b.f(`<th class="num">rate over the %s <small>(mean bits/s)</small></th>`, esc(spanText(span)))
	}
	if spark {
		b.f(`<th>over the night <small>(bits/s per minute)</small></th>`)
	}
	b.f(`</tr></thead><tbody>`)
	for k, t := range ts {
		h := n.Hosts[t.i]
		sh := (t.in + t.out) / all
		b.f(`<tr><td class="num">%d</td><td>%s</td><td class="num">%s</td><td class="num">%s</td>`, k+1, esc(r.facts[t.i].label), bytesText(t.in), bytesText(t.out))
		b.f(`<td><span class="sharebar"><i class="seg c-main" style="width:%s"></i></span> %s</td>`, pct(100*sh/topShare), shareText(sh))
		if !perMinute {
			if span > 0 {
				b.f(`<td class="num">%s</td>`, bitsText((t.in+t.out)/span.Seconds()))
			} else {
				b.f(`<td class="num omit">—</td>`)
			}
		}
		hs, ok := series[h.Addr.String()]
		if !ok || len(hs.Minutes) == 0 {
			if perMinute {
				b.f(`<td class="num omit" title="the run keeps per-minute series of the ten busiest hosts only">—</td>`)
			}
			if spark {
				b.f(`<td class="omit">—</td>`)
			}
			b.f(`</tr>`)
			continue
		}
		pk := slices.MaxFunc(hs.Minutes, func(a, b nightdir.MinuteRow) int {
			return cmp.Or(cmp.Compare(a.Bytes, b.Bytes), b.Minute.Compare(a.Minute))
		})
		if perMinute {
			b.f(`<td class="num">%s <small>at %s</small></td>`, bitsText(pk.Bytes/60), pk.Minute.UTC().Format("15:04"))
		}
		if spark {
			vals := make([]float64, minutes)
			for _, m := range hs.Minutes {
				if j := int(m.Minute.Sub(m0) / time.Minute); j >= 0 && j < minutes {
					vals[j] += 8 * m.Bytes / 60
				}
			}
			b.f(`<td>%s</td>`, sparkline(vals, fmt.Sprintf("%s per minute from %s to %s UTC, at most %s", h.Addr, m0.UTC().Format("15:04"),
				m1.Add(time.Minute).UTC().Format("15:04"), bitsText(pk.Bytes/60))))
		}
		b.f(`</tr>`)
	}
	b.f(`</tbody></table></div>`)
	fig.Body = b.html()
	fig.Caption = fmt.Sprintf("The %d hosts with the most bytes. A host's share is of the bytes all %s received and sent, %s (a transfer between two of the site's hosts counts for both), so the shares of all hosts add up to 100%%.",
		len(ts), plural(countFound(n), "host", "hosts"), bytesText(all))
	return fig
}

// countFound is how many hosts the host table has.
func countFound(n *Night) int {
	k := 0
	for _, f := range n.Features.Found {
		if f {
			k++
		}
	}
	return k
}
