package unexpected

import (
	"errors"
	"math"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/models/internal/flowfiles"
)

var t0 = time.Date(2027, 1, 11, 12, 0, 0, 0, time.UTC)

// web makes n flows from a client to 10.0.0.1:80 in minute m.
func web(p *Profile, m, n int) {
	for i := range n {
		p.Add(&datasets.Flow{
			Start: t0.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Millisecond), End: t0.Add(time.Duration(m) * time.Minute),
			SrcAddr: netip.MustParseAddr("10.0.0.9"), DstAddr: netip.MustParseAddr("10.0.0.1"),
			SrcPort: 40000, DstPort: 80, Proto: datasets.ProtoTCP, Packets: 3,
		})
	}
}

// TestFormula checks the documented definitions on numbers worked by
// hand.
func TestFormula(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Threshold = 2
	// Three nights: means 10, 12, 14, standard deviations 2: mu = 12,
	// sigma = sqrt((4+4 + 4+0 + 4+4)/3) = 2.582, spread sqrt(12) = 3.464.
	var vals []NightValue
	for i, m := range []float64{10, 12, 14} {
		night := []string{"2027-01-08", "2027-01-09", "2027-01-10"}[i]
		vals = append(vals,
			NightValue{night, cfg.MetricName(Flows, false), "10.0.0.1 80/tcp", m},
			NightValue{night, cfg.MetricName(Flows, true), "10.0.0.1 80/tcp", 2},
			NightValue{night, "other.metric", "10.0.0.1 80/tcp", 1e9})
	}
	b := NewBaseline(cfg, vals)
	n := b.Norm(Service{Server: netip.MustParseAddr("10.0.0.1"), Port: 80, Proto: datasets.ProtoTCP}, Flows)
	if n.Nights != 3 || math.Abs(n.Mean-12) > 1e-12 || math.Abs(n.SD-math.Sqrt(20.0/3)) > 1e-12 || math.Abs(n.Spread()-math.Sqrt(12)) > 1e-12 {
		t.Fatalf("norm %+v, spread %g; want mean 12, sd %g, spread %g over 3 nights", n, n.Spread(), math.Sqrt(20.0/3), math.Sqrt(12))
	}
	// Tonight: ten minutes of 12 flows but two of 40 and 60.
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for m, c := range []int{12, 12, 12, 12, 40, 60, 12, 12, 12, 12} {
		web(p, m, c)
	}
	alarms, err := p.Score(b)
	if err != nil {
		t.Fatal(err)
	}
	var got *Alarm
	for i := range alarms {
		if alarms[i].Service.String() == "10.0.0.1 80/tcp" && alarms[i].Measure == Flows {
			got = &alarms[i]
		}
	}
	if got == nil {
		t.Fatalf("no alarm for 10.0.0.1 80/tcp flows in %+v", alarms)
	}
	u := (60 - 12) / math.Sqrt(12)
	if got.La != 2 || got.Ln != 8 || math.Abs(got.U-u) > 1e-12 || math.Abs(got.Score-u*2/10) > 1e-12 || got.Peak != 60 ||
		!got.Start.Equal(t0.Add(4*time.Minute)) || !got.End.Equal(t0.Add(6*time.Minute)) || !got.PeakStart.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("alarm %+v; want La 2, Ln 8, U %g, score %g, peak 60 from 12:04 to 12:06", *got, u, u/5)
	}
	// The site-wide service has no baseline: mean 0, spread 1, every
	// busy minute anomalous.
	site := b.Norm(Service{Port: 80, Proto: datasets.ProtoTCP}, Flows)
	if site.Mean != 0 || site.Spread() != 1 || site.Nights != 3 {
		t.Errorf("site norm %+v", site)
	}
	// What tonight stores for later nights.
	ms := map[string]float64{}
	for _, m := range p.Metrics() {
		ms[m.Metric+" "+m.Key] = m.Value
	}
	mean := (8*12 + 40 + 60) / 10.0
	if v := ms[cfg.MetricName(Flows, false)+" 10.0.0.1 80/tcp"]; math.Abs(v-mean) > 1e-12 {
		t.Errorf("stored mean %g, want %g", v, mean)
	}
	if v := ms[cfg.MetricName(Packets, false)+" * 80/tcp"]; math.Abs(v-3*mean) > 1e-12 {
		t.Errorf("stored packets mean %g, want %g", v, 3*mean)
	}
	if _, err := p.Score(NewBaseline(cfg, vals[:6])); !errors.Is(err, ErrShortBaseline) {
		t.Errorf("two nights: %v, want ErrShortBaseline", err)
	}
}

func TestServiceNames(t *testing.T) {
	for _, s := range []string{"10.0.0.1 80/tcp", "* 53/udp", "fd77::1 443/tcp", "10.0.0.1 icmp", "* 0/tcp"} {
		sv, err := ParseService(s)
		if err != nil || sv.String() != s {
			t.Errorf("ParseService(%q) = %v, %v", s, sv, err)
		}
	}
}

func profileOf(t *testing.T, dir string) *Profile {
	t.Helper()
	p, _ := New(DefaultConfig())
	flowfiles.Each(t, dir, p.Add)
	return p
}

// TestLab learns a baseline from the lab's download runs, one night each,
// and scores the attack run, which must be unexpected on the flooded
// services, and two download runs not in the baseline, which must not.
func TestLab(t *testing.T) {
	root := filepath.Join("..", "..", "datasets")
	nights, _ := filepath.Glob(filepath.Join(root, "lab-extra", "*.v9"))
	nights = append(nights, filepath.Join(root, "lab-dev", "train-near.v9"), filepath.Join(root, "lab-dev", "train-https.v9"))
	var vals []NightValue
	for _, n := range nights {
		for _, m := range profileOf(t, n).Metrics() {
			vals = append(vals, NightValue{Night: filepath.Base(n), Metric: m.Metric, Key: m.Key, Value: m.Value})
		}
	}
	b := NewBaseline(DefaultConfig(), vals)
	alarms, err := profileOf(t, filepath.Join(root, "lab-attack", "lab-attack.v9")).Score(b)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, a := range alarms {
		found[a.Service.String()+" "+a.Measure.String()] = true
	}
	for _, want := range []string{"10.77.0.1 80/tcp flows", "10.77.0.1 443/tcp flows", "10.77.0.1 53/udp packets", "10.77.0.1 icmp packets", "* 445/tcp flows"} {
		if !found[want] {
			t.Errorf("attack run: no alarm for %s", want)
		}
	}
	for _, d := range []string{"lab-dev/test-near.v9", "population/pop-near-24h-s1007.v9"} {
		alarms, err := profileOf(t, filepath.Join(root, d)).Score(b)
		if err != nil || len(alarms) > 0 {
			t.Errorf("%s: %d alarms (%v), want none", d, len(alarms), err)
		}
	}
}
