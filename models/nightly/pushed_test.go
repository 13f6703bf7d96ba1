package nightly

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/argus"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// localPushed is a Pushed source that computes what a store would from
// flows held in memory, with the local stages' own code.
type localPushed struct {
	flows []datasets.Flow
	rules *inventory.Rules
	// drop leaves out the rule matches (a source that lost them).
	drop bool
}

func (p *localPushed) Name() string { return "memory" }

func (p *localPushed) Read(context.Context) (datasets.ReadStats, error) {
	n := uint64(len(p.flows))
	return datasets.ReadStats{Files: 1, Flows: n, InWindow: n, Kept: n}, nil
}

func (p *localPushed) Hosts(_ context.Context, cfg features.HostConfig) ([]features.HostStats, features.SiteStats, error) {
	agg, err := features.NewHostAggregator(cfg)
	if err != nil {
		return nil, features.SiteStats{}, err
	}
	for i := range p.flows {
		agg.Add(&p.flows[i])
	}
	return agg.Hosts(), agg.Site(), nil
}

func (p *localPushed) RuleMatches(_ context.Context, internal []netip.Prefix, rules map[int]inventory.Rule) (map[netip.Addr]map[int]uint64, error) {
	out := map[netip.Addr]map[int]uint64{}
	if p.drop {
		return out, nil
	}
	in := func(a netip.Addr) bool {
		for _, n := range internal {
			if n.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	for i := range p.flows {
		f := &p.flows[i]
		if !in(f.SrcAddr) {
			continue
		}
		for id, r := range rules {
			var hit bool
			switch r.Kind {
			case "talks":
				hit = f.Proto == r.Proto && f.DstPort == r.Port
			case "serves":
				hit = f.Proto == r.Proto && f.SrcPort == r.Port && f.SrcPort < f.DstPort
			case "net":
				hit = r.Net.Contains(f.DstAddr) && (r.Port == 0 || (f.Proto == r.Proto && f.DstPort == r.Port))
			}
			if hit {
				m := out[f.SrcAddr.Unmap()]
				if m == nil {
					m = map[int]uint64{}
					out[f.SrcAddr.Unmap()] = m
				}
				m[id]++
			}
		}
	}
	return out, nil
}

func (p *localPushed) Downloads(_ context.Context, cfg features.Config) ([]features.Download, error) {
	ex := features.NewExtractor(cfg)
	var out []features.Download
	for i := range p.flows {
		ex.Add(&p.flows[i])
		out = append(out, ex.Drain()...)
	}
	return append(out, ex.Flush()...), nil
}

// TestRunPushed: a night whose source computes the hosts, the rule
// matches and the downloads itself is the night Run gives on the same
// flows (the Argus night, so TTL classes are evidence too), but for the
// analytics, which it leaves out and says so; a source that loses the
// rule matches gives another night.
func TestRunPushed(t *testing.T) {
	ctx := context.Background()
	flows := readFlows(t, &argus.Reader{}, popArgus)
	hints := "talks,tcp/80,debian,0.05,asks for web pages\nserves,tcp/80,windows,0.05,serves web pages\nnet,10.0.0.0/8,ubuntu,0.05,talks to 10/8\n"
	rules, err := inventory.ReadRules(strings.NewReader(hints), "hints")
	if err != nil {
		t.Fatal(err)
	}
	cfg := popConfig(t)
	cfg.Rules = rules
	var localRows, pushedRows rowSink
	local, err := Run(ctx, cfg, &sliceSource{flows, 1000}, &localRows)
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := RunPushed(ctx, cfg, &localPushed{flows: flows, rules: rules}, &pushedRows)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(inventoryCSV(t, local), inventoryCSV(t, pushed)); d != "" {
		t.Errorf("inventory: Run (-) against RunPushed (+):\n%s", d)
	}
	if d := cmp.Diff(localRows.rows, pushedRows.rows); d != "" {
		t.Errorf("downloads: Run (-) against RunPushed (+):\n%s", d)
	}
	matched := 0
	for _, h := range pushed.Hosts {
		for _, e := range h.Verdict.Evidence {
			if e.Kind == inventory.KindHint && e.Weight == 0.05 {
				matched++
			}
		}
	}
	if matched == 0 {
		t.Error("no host shows a hint rule's match")
	}
	if pushed.Analytics != nil || pushed.Summary.Analytics != AnalyticsNotComputed || pushed.Summary.Source != "memory" {
		t.Errorf("analytics %v, summary says %q from %q; want none, said, from memory", pushed.Analytics, pushed.Summary.Analytics, pushed.Summary.Source)
	}
	lost, err := RunPushed(ctx, cfg, &localPushed{flows: flows, rules: rules, drop: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if inventoryCSV(t, local) == inventoryCSV(t, lost) {
		t.Error("a source without the rule matches gives the same inventory: the matches are not evidence")
	}
}

// inventoryCSV is the night's inventory.csv.
func inventoryCSV(t *testing.T, n *Night) string {
	t.Helper()
	var b strings.Builder
	if err := nightdir.WriteInventoryCSV(&b, n.Hosts); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
