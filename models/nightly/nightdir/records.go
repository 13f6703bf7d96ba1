package nightdir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/floods"
	"github.com/fingerflow/fingerflow/models/lifespans"
	"github.com/fingerflow/fingerflow/models/scans"
	"github.com/fingerflow/fingerflow/models/talkers"
	"github.com/fingerflow/fingerflow/models/unexpected"
)

// The nightly run's stats.json and alarms.json: flat documents (objects
// of arrays of flat objects) that the morning report shows as tables of
// records, one table per array. `fingerflow stats --json` and `detect
// --json` print the full, nested documents.

type (
	topRecord struct {
		Key      string  `json:"key"`
		Proto    string  `json:"proto,omitempty"`
		Flows    uint64  `json:"flows"`
		FlowsPct float64 `json:"flows_pct"`
		Packets  uint64  `json:"packets"`
		Bytes    uint64  `json:"bytes"`
		BytesPct float64 `json:"bytes_pct"`
		First    string  `json:"first_seen"`
		Duration float64 `json:"duration_s"`
		BPS      uint64  `json:"bits_per_s"`
	}
	sourceRecord struct {
		Addr     string  `json:"addr"`
		T        float64 `json:"T_s"`
		C        uint64  `json:"C_flows"`
		Packets  uint64  `json:"packets"`
		Bytes    uint64  `json:"bytes"`
		PerFlow  float64 `json:"T_per_flow_s"`
		BytesPct float64 `json:"bytes_pct"`
	}
	lifespanRecord struct {
		Group    string   `json:"group"`
		Flows    int64    `json:"flows"`
		Ended    int64    `json:"ended"`
		Censored int64    `json:"censored"`
		Median   *float64 `json:"median_s"`
		Lower    *float64 `json:"median_lower_s"`
		Upper    *float64 `json:"median_upper_s"`
	}
	testRecord struct {
		By      string   `json:"by"`
		Groups  int      `json:"groups"`
		Chi2    *float64 `json:"chi2"`
		DF      int      `json:"df"`
		P       *float64 `json:"p"`
		Verdict string   `json:"verdict"`
	}
)

// timeLayout is how the records write times: UTC, to the millisecond.
const timeLayout = "2006-01-02 15:04:05.000"

// finite is x, or nil (JSON null) for NaN and infinities.
func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// percentOf is 100·x/total to three significant digits (0.0178, 4.12,
// 99.5), so that a small share is not written as 0.
func percentOf(x, total uint64) float64 {
	if total == 0 || x == 0 {
		return 0
	}
	return significant(100*float64(x)/float64(total), 3)
}

// significant rounds v to n significant digits.
func significant(v float64, n int) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', n, 64), 64)
	return f
}

// seconds is d in seconds to the millisecond, without binary noise
// (1.235, not 1.2349999999999999).
func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// WriteStatsRecords writes stats.json: the totals, one array per top-N
// statistic of talk ("top_srcip_bytes"), the T and C table ("sources"),
// and per lifespan grouping of lives its groups ("lifespans_by_protocol")
// and the log-rank tests ("lifespan_tests"). Either may be nil.
func WriteStatsRecords(w io.Writer, talk *talkers.Result, lives *lifespans.Result) error {
	doc := map[string]any{}
	var order []string
	put := func(k string, v any) { doc[k] = v; order = append(order, k) }
	if r := talk; r != nil {
		tot := r.Totals
		put("flows", tot.Flows)
		put("packets", tot.Packets)
		put("bytes", tot.Bytes)
		for _, top := range r.Tops {
			rows := []topRecord{}
			for _, e := range top.Entries {
				rec := topRecord{Key: e.Key.Text(top.Stat.Element), Flows: e.Flows, FlowsPct: percentOf(e.Flows, tot.Flows),
					Packets: e.Packets, Bytes: e.Bytes, BytesPct: percentOf(e.Bytes, tot.Bytes),
					First: e.First.UTC().Format(timeLayout), Duration: seconds(e.Duration()), BPS: e.BPS()}
				if top.Stat.ByProto || top.Stat.Element == talkers.Proto || top.Stat.Element == talkers.Record {
					rec.Proto = e.Key.Text(talkers.Proto)
				}
				rows = append(rows, rec)
			}
			name := strings.NewReplacer(":", "_", "/", "_").Replace(top.Stat.Element.String())
			if top.Stat.ByProto {
				name += "_proto"
			}
			put(fmt.Sprintf("top_%s_%s", name, top.Order), rows)
		}
		if r.Sources != nil {
			rows := []sourceRecord{}
			for _, src := range r.Sources {
				rec := sourceRecord{Addr: src.Addr.String(), T: seconds(src.Duration), C: src.Count, Packets: src.Packets,
					Bytes: src.Bytes, BytesPct: percentOf(src.Bytes, tot.Bytes)}
				if src.Count > 0 {
					rec.PerFlow = significant(src.Duration.Seconds()/float64(src.Count), 4)
				}
				rows = append(rows, rec)
			}
			put("sources", rows)
		}
	}
	if l := lives; l != nil {
		put("lifespan_flows", l.Flows)
		put("lifespan_censored", l.Censored)
		put("active_timeout_s", l.Config.ActiveTimeout.Seconds())
		tests := []testRecord{}
		for _, g := range l.Groupings {
			rows := []lifespanRecord{}
			for _, gr := range g.Groups {
				rows = append(rows, lifespanRecord{Group: gr.Name, Flows: gr.Flows, Ended: gr.Ended, Censored: gr.Censored,
					Median: finite(significant(gr.Median, 4)), Lower: finite(significant(gr.MedianLower, 4)), Upper: finite(significant(gr.MedianUpper, 4))})
			}
			put("lifespans_by_"+strings.ReplaceAll(g.Name, " ", "_"), rows)
			t := testRecord{By: g.Name, Groups: len(g.Groups), Verdict: g.TestText(l.Config.Alpha)}
			if g.LogRank != nil {
				t.Chi2, t.DF, t.P = finite(g.LogRank.Statistic()), g.LogRank.DF(), finite(g.LogRank.PValue())
			}
			tests = append(tests, t)
		}
		put("lifespan_tests", tests)
	}
	return writeOrdered(w, order, doc)
}

// The records of alarms.json, one per alarm: what WriteAlarmRecords
// writes and ReadAlarmRecords reads back.
type (
	// FloodRecord is a flood alarm.
	FloodRecord struct {
		Signature string  `json:"signature"`
		Target    string  `json:"target"`
		Start     string  `json:"start"` // UTC, timeLayout
		End       string  `json:"end"`
		Packets   float64 `json:"packets"`
		PeakRate  float64 `json:"peak_per_s"`
		MeanRate  float64 `json:"mean_per_s"`
		Sources   string  `json:"sources"`
		Spoofed   bool    `json:"spoofed"`
	}
	// ScanRecord is a scan alarm.
	ScanRecord struct {
		Kind     string  `json:"kind"`
		Source   string  `json:"source"`
		Target   string  `json:"target"`
		Ports    string  `json:"ports"`
		Start    string  `json:"start"`
		End      string  `json:"end"`
		Contacts int     `json:"first_contacts"`
		Accepted int     `json:"accepted"`
		Failed   int     `json:"failed"`
		Rate     float64 `json:"per_s"`
		After    int     `json:"decided_after"`
	}
	// UnexpectedRecord is a rate far above its usual level.
	UnexpectedRecord struct {
		Service string  `json:"service"`
		Measure string  `json:"measure"`
		Mu      float64 `json:"mu"`
		Sigma   float64 `json:"sigma_used"`
		Peak    float64 `json:"peak"`
		PeakAt  string  `json:"peak_at"`
		U       float64 `json:"U"`
		La      int     `json:"La"`
		Ln      int     `json:"Ln"`
		Score   float64 `json:"score"`
	}
	// ServiceRecord is a host of the service profile.
	ServiceRecord struct {
		Host     string `json:"host"`
		Services string `json:"answers_on"`
	}
)

// AlarmsDoc is alarms.json as read back.
type AlarmsDoc struct {
	Floods []FloodRecord `json:"floods"`
	// FloodsNotKept counts, per signature, alarms beyond the detector's
	// limit ("syn 3, udp 1"), "" when none.
	FloodsNotKept string             `json:"flood_alarms_not_kept"`
	Scans         []ScanRecord       `json:"scans"`
	ScanTest      string             `json:"scan_test"`
	Unexpected    []UnexpectedRecord `json:"unexpected"`
	Formula       string             `json:"unexpectedness"`
	// NotScored says why no rate was scored ("" when they were);
	// BaselineNights is then 0, else how many nights they were scored
	// against.
	NotScored      string          `json:"unexpected_not_scored"`
	BaselineNights int             `json:"unexpected_baseline_nights"`
	Services       []ServiceRecord `json:"services"`
}

// ReadAlarmRecords reads what WriteAlarmRecords wrote. A document
// without the "floods" and "scans" arrays is not alarms.json: an error.
func ReadAlarmRecords(b []byte) (*AlarmsDoc, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("%w: not an object of alarm records: %w", ErrDamaged, err)
	}
	for _, k := range []string{"floods", "scans"} {
		if _, ok := keys[k]; !ok {
			return nil, fmt.Errorf("%w: no %q array: not alarms.json of fingerflow run", ErrDamaged, k)
		}
	}
	var d AlarmsDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	return &d, nil
}

// Alarms are what the detectors found in a night's flows, with what they
// judged by: alarms.json, and `fingerflow detect`'s output.
type Alarms struct {
	Floods      []floods.Alarm
	FloodConfig floods.Config
	// FloodsDropped counts, per signature, alarms beyond
	// FloodConfig.MaxAlarms, counted but not kept.
	FloodsDropped [floods.NumSignatures]int

	Scans      []scans.Alarm
	ScanConfig scans.Config
	// Eta0 and Eta1 are the walk's thresholds on the likelihood ratio.
	Eta0, Eta1 float64

	// Unexpected is nil when no baseline was given; UnexpectedSkipped then
	// or otherwise says why nothing was scored.
	Unexpected        []unexpected.Alarm
	UnexpectedConfig  unexpected.Config
	Baseline          *unexpected.Baseline
	UnexpectedSkipped string

	// Services are the internal hosts that answer on some port (the
	// port-based service profile), by address.
	Services []features.HostStats
}

// WriteAlarmRecords writes alarms.json: the floods, scans and unexpected
// rates of d as arrays of flat records, what they were judged by, and the
// service profile.
func WriteAlarmRecords(w io.Writer, d Alarms) error {
	doc := map[string]any{}
	var order []string
	put := func(k string, v any) { doc[k] = v; order = append(order, k) }
	fl := []FloodRecord{}
	for i := range d.Floods {
		a := &d.Floods[i]
		fl = append(fl, FloodRecord{Signature: a.Signature.String(), Target: a.TargetText(),
			Start: a.Start.UTC().Format(timeLayout), End: a.End.UTC().Format(timeLayout), Packets: significant(a.Packets, 6),
			PeakRate: significant(a.PeakRate, 4), MeanRate: significant(a.MeanRate, 4), Sources: a.SourcesText(), Spoofed: a.Spoofing.Spoofed})
	}
	put("floods", fl)
	var dropped []string
	for s, n := range d.FloodsDropped {
		if n > 0 {
			dropped = append(dropped, fmt.Sprintf("%s %d", floods.Signature(s), n))
		}
	}
	if dropped != nil {
		put("flood_alarms_not_kept", strings.Join(dropped, ", "))
	}
	sc := []ScanRecord{}
	for i := range d.Scans {
		a := &d.Scans[i]
		r := ScanRecord{Kind: a.Kind.String(), Source: a.Source.String(), Start: a.Start.UTC().Format(timeLayout),
			End: a.End.UTC().Format(timeLayout), Contacts: a.Contacts, Accepted: a.Successes, Failed: a.Failures,
			Rate: significant(a.Rate(), 4), After: a.DecidedAfter, Ports: fmt.Sprintf("%d-%d", a.PortLow, a.PortHigh)}
		if a.Kind == scans.Vertical {
			r.Target = a.Target.String()
		} else {
			r.Target = fmt.Sprintf("%d hosts", a.Contacts)
		}
		sc = append(sc, r)
	}
	put("scans", sc)
	put("scan_test", fmt.Sprintf("threshold random walk: theta0 %g, theta1 %g, alpha %g, beta %g; scanner at ratio %.4g, benign at %.4g",
		d.ScanConfig.Theta0, d.ScanConfig.Theta1, d.ScanConfig.Alpha, d.ScanConfig.Beta, d.Eta1, d.Eta0))
	un := []UnexpectedRecord{}
	for _, a := range d.Unexpected {
		un = append(un, UnexpectedRecord{Service: a.Service.String(), Measure: a.Measure.String(), Mu: significant(a.Norm.Mean, 4),
			Sigma: significant(a.Norm.Spread(), 4), Peak: significant(a.Peak, 4), PeakAt: a.PeakStart.UTC().Format(time.DateTime),
			U: significant(a.U, 4), La: a.La, Ln: a.Ln, Score: significant(a.Score, 4)})
	}
	put("unexpected", un)
	put("unexpectedness", unexpected.Formula)
	if d.UnexpectedSkipped != "" {
		put("unexpected_not_scored", d.UnexpectedSkipped)
	} else if d.Baseline != nil {
		put("unexpected_baseline_nights", len(d.Baseline.Nights))
	}
	sv := []ServiceRecord{}
	for _, h := range d.Services {
		var ss []string
		for _, s := range h.Services {
			ss = append(ss, s.String())
		}
		sv = append(sv, ServiceRecord{Host: h.Addr.String(), Services: strings.Join(ss, " ")})
	}
	put("services", sv)
	return writeOrdered(w, order, doc)
}

// writeOrdered writes doc's keys in order as one indented JSON object.
func writeOrdered(w io.Writer, order []string, doc map[string]any) error {
	if _, err := io.WriteString(w, "{\n"); err != nil {
		return err
	}
	for i, k := range order {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{k: doc[k]}); err != nil {
			return err
		}
		// The one-key object's inside: "  key": value.
		inner := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(b.String()), "{"), "}")
		inner = strings.TrimRight(strings.TrimLeft(inner, "\n"), "\n ")
		sep := ",\n"
		if i == len(order)-1 {
			sep = "\n"
		}
		if _, err := fmt.Fprintf(w, "%s%s", inner, sep); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "}\n")
	return err
}
