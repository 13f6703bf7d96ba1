package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/models/floods"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
	"github.com/fingerflow/fingerflow/models/scans"
	"github.com/fingerflow/fingerflow/models/unexpected"
)

// Detect is everything `fingerflow detect` found, with the settings that
// decided it, so the output states what it judged by.
type Detect struct {
	nightdir.Alarms
	// UnexpectedShown is how many unexpectedness alarms the text lists
	// (0: all).
	UnexpectedShown int
}

func proto(p uint8) string { return strings.ToLower(datasets.ProtoName(p)) }

// clock renders a time with milliseconds; the date only when it differs
// from ref's.
func clock(t, ref time.Time) string {
	t = t.UTC()
	if ref.IsZero() || t.Format(time.DateOnly) != ref.UTC().Format(time.DateOnly) {
		return t.Format(timeLayout)
	}
	return t.Format("15:04:05.000")
}

func trimFloat(x float64) string {
	if x == math.Trunc(x) {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

// WriteDetectText prints the alarms of every detector with the thresholds they
// were judged by, then the service profile.
func WriteDetectText(w io.Writer, d Detect) error {
	th := d.FloodConfig.Thresholds
	var ths []string
	for s := floods.Signature(0); s < floods.NumSignatures; s++ {
		rate := trimFloat(th[s].MinRate) + "/s"
		if th[s].Bin > 1 {
			rate += fmt.Sprintf(" in %d s bins", th[s].Bin)
		}
		ths = append(ths, fmt.Sprintf("%s %s and %s packets", s, rate, trimFloat(th[s].MinPackets)))
	}
	fmt.Fprintf(w, "Floods and DoS signatures: %d (thresholds: %s)\n", len(d.Floods), strings.Join(ths, ", "))
	for s, n := range d.FloodsDropped {
		if n > 0 {
			fmt.Fprintf(w, "  %d more %s alarms counted, not kept: %d kept, those with the most packets (a range the site uses? --not-bogon)\n",
				n, floods.Signature(s), d.FloodConfig.MaxAlarms)
		}
	}
	for i := range d.Floods {
		a := &d.Floods[i]
		fmt.Fprintf(w, "  %s to %s from %s to %s: %.0f packets in %s, peak %.0f/s, mean %.0f/s",
			a.Signature, a.TargetText(), clock(a.Start, time.Time{}), clock(a.End, a.Start),
			a.Packets, countNoun(a.Flows, "flow", "flows"), a.PeakRate, a.MeanRate)
		if len(a.Ports) > 0 && a.Signature == floods.UDPFlood {
			var ps []string
			for _, p := range a.Ports {
				ps = append(ps, fmt.Sprint(p))
			}
			fmt.Fprintf(w, ", ports %s", strings.Join(ps, ", "))
		}
		fmt.Fprintf(w, "\n    sources: %s\n", a.SourcesText())
		if len(a.Ranges) > 0 {
			var rs []string
			for _, r := range a.Ranges {
				rs = append(rs, fmt.Sprintf("%s %s (%s)", r.Prefix, r.Name, r.Source))
			}
			fmt.Fprintf(w, "    bogon ranges: %s\n", strings.Join(rs, "; "))
		}
	}

	c := d.ScanConfig
	fmt.Fprintf(w, "\nScans and sweeps: %d (threshold random walk over first contacts: theta0 %g, theta1 %g, alpha %g, beta %g: scanner at likelihood ratio %.4g, benign at %.4g)\n",
		len(d.Scans), c.Theta0, c.Theta1, c.Alpha, c.Beta, d.Eta1, d.Eta0)
	for i := range d.Scans {
		a := &d.Scans[i]
		what := ""
		if a.Kind == scans.Vertical {
			what = fmt.Sprintf("%s -> %s, %d ports (%d-%d)", a.Source, a.Target, a.Contacts, a.PortLow, a.PortHigh)
		} else {
			var ports []string
			for _, p := range a.Ports {
				ports = append(ports, fmt.Sprintf("%d/%s (%d)", p.Port, proto(p.Proto), p.Count))
			}
			what = fmt.Sprintf("%s -> %d hosts on %s", a.Source, a.Contacts, strings.Join(ports, ", "))
		}
		fmt.Fprintf(w, "  %s %s from %s to %s at %.0f/s: %d accepted, %d failed; decided after %d first contacts at %s (ratio %.4g)\n",
			a.Kind, what, clock(a.Start, time.Time{}), clock(a.End, a.Start), a.Rate(), a.Successes, a.Failures,
			a.DecidedAfter, clock(a.Decided, a.Start), a.Ratio)
	}

	fmt.Fprintf(w, "\nUnexpected rates: ")
	if d.Baseline == nil || d.UnexpectedSkipped != "" {
		fmt.Fprintf(w, "not scored: %s\n", d.UnexpectedSkipped)
	} else {
		u := d.UnexpectedConfig
		fmt.Fprintf(w, "%d (baseline of %d nights, %s to %s; %v intervals, Z %g, MinCount %g, alarm at %g)\n  %s\n",
			len(d.Unexpected), len(d.Baseline.Nights), d.Baseline.Nights[0], d.Baseline.Nights[len(d.Baseline.Nights)-1],
			u.Interval, u.Z, u.MinCount, u.Threshold, unexpected.Formula)
		shown := d.Unexpected
		if d.UnexpectedShown > 0 && len(shown) > d.UnexpectedShown {
			shown = shown[:d.UnexpectedShown]
		}
		if len(shown) > 0 {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintf(tw, "service\tmeasure\tmu\tsigma\tsigma'\tpeak\tpeak at\tU\tLa\tLn\tscore\t\n")
			for _, a := range shown {
				fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.1f\t%s\t%s\t%.2f\t%d\t%d\t%.2f\t\n", a.Service, a.Measure,
					a.Norm.Mean, a.Norm.SD, a.Norm.Spread(), trimFloat(a.Peak), clock(a.PeakStart, time.Time{}), a.U, a.La, a.Ln, a.Score)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		if len(shown) < len(d.Unexpected) {
			fmt.Fprintf(w, "  ... and %d more (--json lists all)\n", len(d.Unexpected)-len(shown))
		}
	}

	fmt.Fprintf(w, "\nService profile: %d internal hosts answer on some port\n", len(d.Services))
	for _, h := range d.Services {
		var ss []string
		for _, s := range h.Services {
			ss = append(ss, fmt.Sprintf("%s (%s, %s)", s, countNoun(s.Peers, "peer", "peers"), countNoun(s.Answers, "answer", "answers")))
		}
		fmt.Fprintf(w, "  %s: %s\n", h.Addr, strings.Join(ss, ", "))
	}
	return nil
}

// The JSON form of Detect.
type (
	detectJSON struct {
		Floods     floodsJSON     `json:"floods"`
		Scans      scansJSON      `json:"scans"`
		Unexpected unexpectedJSON `json:"unexpected"`
		Services   []serviceJSON  `json:"services"`
	}
	thresholdJSON struct {
		MinRate    float64 `json:"min_rate"` // packets a second
		MinPackets float64 `json:"min_packets"`
		Gap        int     `json:"gap_bins"`
		Bin        int     `json:"bin_s"`
	}
	floodsJSON struct {
		Thresholds map[string]thresholdJSON `json:"thresholds"`
		Alarms     []floodJSON              `json:"alarms"`
		// Dropped counts alarms beyond max_alarms per signature.
		MaxAlarms int            `json:"max_alarms"`
		Dropped   map[string]int `json:"dropped,omitempty"`
	}
	floodJSON struct {
		Signature string       `json:"signature"`
		Target    string       `json:"target"`
		Proto     string       `json:"proto,omitempty"`
		Port      *uint16      `json:"port,omitempty"`
		Start     time.Time    `json:"start"`
		End       time.Time    `json:"end"`
		Packets   float64      `json:"packets"`
		Flows     uint64       `json:"flows"`
		PeakRate  float64      `json:"peak_rate"`
		MeanRate  float64      `json:"mean_rate"`
		Sources   []sourceCnt  `json:"sources"`
		Spoofing  spoofingJSON `json:"spoofing"`
		Ranges    []rangeJSON  `json:"bogon_ranges,omitempty"`
		Ports     []uint16     `json:"ports,omitempty"`
	}
	sourceCnt struct {
		Addr    string  `json:"addr"`
		Packets float64 `json:"packets"`
		Flows   uint64  `json:"flows"`
	}
	spoofingJSON struct {
		Distinct   int     `json:"distinct"`
		Truncated  bool    `json:"truncated,omitempty"`
		Singletons float64 `json:"singletons"`
		Networks   int     `json:"networks"`
		Bogons     int     `json:"bogons"`
		Spoofed    bool    `json:"spoofed"`
	}
	rangeJSON struct {
		Prefix string `json:"prefix"`
		Name   string `json:"name"`
		Source string `json:"source"`
	}
	scansJSON struct {
		Theta0 float64    `json:"theta0"`
		Theta1 float64    `json:"theta1"`
		Alpha  float64    `json:"alpha"`
		Beta   float64    `json:"beta"`
		Eta0   float64    `json:"eta0"`
		Eta1   float64    `json:"eta1"`
		Alarms []scanJSON `json:"alarms"`
	}
	scanJSON struct {
		Kind         string     `json:"kind"`
		Source       string     `json:"source"`
		Target       string     `json:"target,omitempty"`
		Start        time.Time  `json:"start"`
		Decided      time.Time  `json:"decided"`
		End          time.Time  `json:"end"`
		Contacts     int        `json:"first_contacts"`
		DecidedAfter int        `json:"decided_after"`
		Successes    int        `json:"accepted"`
		Failures     int        `json:"failed"`
		Ratio        float64    `json:"likelihood_ratio"`
		Rate         float64    `json:"rate"`
		Ports        []portJSON `json:"ports"`
		PortLow      uint16     `json:"port_low"`
		PortHigh     uint16     `json:"port_high"`
		Targets      []string   `json:"targets,omitempty"`
	}
	portJSON struct {
		Proto string `json:"proto"`
		Port  uint16 `json:"port"`
		Count int    `json:"count"`
	}
	unexpectedJSON struct {
		Formula   string           `json:"formula"`
		Skipped   string           `json:"skipped,omitempty"`
		Interval  float64          `json:"interval_s"`
		Z         float64          `json:"z"`
		MinCount  float64          `json:"min_count"`
		Threshold float64          `json:"threshold"`
		Nights    []string         `json:"baseline_nights"`
		Alarms    []unexpectedItem `json:"alarms"`
	}
	unexpectedItem struct {
		Service   string    `json:"service"`
		Measure   string    `json:"measure"`
		Mu        float64   `json:"mu"`
		Sigma     float64   `json:"sigma"`
		Spread    float64   `json:"sigma_used"`
		Nights    int       `json:"nights"`
		Peak      float64   `json:"peak"`
		PeakStart time.Time `json:"peak_start"`
		U         float64   `json:"U"`
		La        int       `json:"La"`
		Ln        int       `json:"Ln"`
		Score     float64   `json:"score"`
		Start     time.Time `json:"start"`
		End       time.Time `json:"end"`
	}
	serviceJSON struct {
		Host  string    `json:"host"`
		Ports []svcPort `json:"ports"`
	}
	svcPort struct {
		Service string `json:"service"`
		Peers   int    `json:"peers"`
		Flows   uint64 `json:"flows"`
		Answers uint64 `json:"answers"`
	}
)

// WriteDetectJSON prints d as one indented JSON document.
func WriteDetectJSON(w io.Writer, d Detect) error {
	var out detectJSON
	out.Floods.Thresholds = map[string]thresholdJSON{}
	for s := floods.Signature(0); s < floods.NumSignatures; s++ {
		t := d.FloodConfig.Thresholds[s]
		out.Floods.Thresholds[s.String()] = thresholdJSON{t.MinRate, t.MinPackets, t.Gap, max(t.Bin, 1)}
	}
	out.Floods.Alarms = []floodJSON{}
	out.Floods.MaxAlarms = d.FloodConfig.MaxAlarms
	for s, n := range d.FloodsDropped {
		if n > 0 {
			if out.Floods.Dropped == nil {
				out.Floods.Dropped = map[string]int{}
			}
			out.Floods.Dropped[floods.Signature(s).String()] = n
		}
	}
	for _, a := range d.Floods {
		j := floodJSON{Signature: a.Signature.String(), Target: a.Target.String(), Start: a.Start, End: a.End,
			Packets: a.Packets, Flows: a.Flows, PeakRate: a.PeakRate, MeanRate: a.MeanRate, Sources: []sourceCnt{},
			Spoofing: spoofingJSON(a.Spoofing), Ports: a.Ports}
		if a.Proto != 0 {
			j.Proto = proto(a.Proto)
			port := a.Port
			j.Port = &port
		}
		for _, s := range a.Sources {
			j.Sources = append(j.Sources, sourceCnt{s.Addr.String(), s.Packets, s.Flows})
		}
		for _, r := range a.Ranges {
			j.Ranges = append(j.Ranges, rangeJSON{r.Prefix.String(), r.Name, r.Source})
		}
		out.Floods.Alarms = append(out.Floods.Alarms, j)
	}
	c := d.ScanConfig
	out.Scans = scansJSON{Theta0: c.Theta0, Theta1: c.Theta1, Alpha: c.Alpha, Beta: c.Beta, Eta0: d.Eta0, Eta1: d.Eta1, Alarms: []scanJSON{}}
	for _, a := range d.Scans {
		j := scanJSON{Kind: a.Kind.String(), Source: a.Source.String(), Start: a.Start, Decided: a.Decided, End: a.End,
			Contacts: a.Contacts, DecidedAfter: a.DecidedAfter, Successes: a.Successes, Failures: a.Failures,
			Ratio: a.Ratio, Rate: a.Rate(), Ports: []portJSON{}, PortLow: a.PortLow, PortHigh: a.PortHigh}
		if a.Target.IsValid() {
			j.Target = a.Target.String()
		}
		for _, p := range a.Ports {
			j.Ports = append(j.Ports, portJSON{proto(p.Proto), p.Port, p.Count})
		}
		for _, t := range a.Targets {
			j.Targets = append(j.Targets, t.String())
		}
		out.Scans.Alarms = append(out.Scans.Alarms, j)
	}
	u := d.UnexpectedConfig
	out.Unexpected = unexpectedJSON{Formula: unexpected.Formula, Skipped: d.UnexpectedSkipped, Interval: u.Interval.Seconds(),
		Z: u.Z, MinCount: u.MinCount, Threshold: u.Threshold, Nights: []string{}, Alarms: []unexpectedItem{}}
	if d.Baseline != nil {
		out.Unexpected.Nights = append(out.Unexpected.Nights, d.Baseline.Nights...)
	}
	for _, a := range d.Unexpected {
		out.Unexpected.Alarms = append(out.Unexpected.Alarms, unexpectedItem{
			Service: a.Service.String(), Measure: a.Measure.String(), Mu: a.Norm.Mean, Sigma: a.Norm.SD,
			Spread: a.Norm.Spread(), Nights: a.Norm.Nights, Peak: a.Peak, PeakStart: a.PeakStart,
			U: a.U, La: a.La, Ln: a.Ln, Score: a.Score, Start: a.Start, End: a.End})
	}
	out.Services = []serviceJSON{}
	for _, h := range d.Services {
		j := serviceJSON{Host: h.Addr.String()}
		for _, s := range h.Services {
			j.Ports = append(j.Ports, svcPort{s.String(), s.Peers, s.Flows, s.Answers})
		}
		out.Services = append(out.Services, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// countNoun is "1 flow", "3 flows".
func countNoun[N int | uint64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprint(n, " ", many)
}
