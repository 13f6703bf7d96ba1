package nightly

import (
	"context"
	"net/netip"
	"slices"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/inventory"
)

// Pushed is a night's source that keeps its flows where they are (a
// ClickHouse table) and computes there what the night needs of them: the
// internal hosts' feature rows and the site's series, the flows matching
// each OS hints rule, and the download candidates. Only those come back;
// everything after them (classification, clusters, evidence, history) is
// the local run's own.
type Pushed interface {
	// Name says where the flows are, for the run's summary.
	Name() string
	// Read says what the night holds: Flows and Kept are the flows in
	// the window, Files the input files they came from.
	Read(ctx context.Context) (datasets.ReadStats, error)
	// Hosts are the internal hosts' rows, by address, and the site's.
	Hosts(ctx context.Context, cfg features.HostConfig) ([]features.HostStats, features.SiteStats, error)
	// RuleMatches counts, per internal host, its flows matching each of
	// rules (talks, serves and net rules; the index is the rule's).
	RuleMatches(ctx context.Context, internal []netip.Prefix, rules map[int]inventory.Rule) (map[netip.Addr]map[int]uint64, error)
	// Downloads are the window's downloads as features.Extractor finds
	// them in the same flows.
	Downloads(ctx context.Context, cfg features.Config) ([]features.Download, error)
}

// AnalyticsNotComputed is what a night computed where its flows are says
// of the analytics (top talkers, lifespans, floods, scans, services):
// they need every flow, which stays where it is.
const AnalyticsNotComputed = "not computed: the flows stay where they are kept; fingerflow stats --clickhouse counts top talkers, sources and rates there, and detect reads flow files"

// RunPushed runs one night over a source that computes the hosts, the
// rule matches and the downloads where its flows are (Pushed): the same
// night as Run on the same flows, but for the analytics, which it leaves
// out (Night.Analytics is nil, Summary.Analytics says why). Errors and
// empty nights are Run's.
func RunPushed(ctx context.Context, cfg Config, src Pushed, sink DownloadSink) (*Night, error) {
	started := cfg.now()
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	hcfg := features.DefaultHostConfig()
	if len(cfg.Internal) > 0 {
		hcfg.Internal = cfg.Internal
	}
	// The aggregator's own checks of the configuration, and its test of
	// the site's networks.
	agg, err := features.NewHostAggregator(hcfg)
	if err != nil {
		return nil, err
	}
	read, err := src.Read(ctx)
	if err != nil {
		return nil, err
	}
	if read.Kept == 0 {
		return nil, &EmptyError{Err: ErrNoFlows, Read: read, Internal: internalText(cfg.Internal)}
	}
	hs, site, err := src.Hosts(ctx, hcfg)
	if err != nil {
		return nil, err
	}
	rules := map[int]inventory.Rule{}
	for i := range cfg.Rules.Len() {
		if r := cfg.Rules.Rule(i); r.Kind != "ttl" {
			rules[i] = r
		}
	}
	matches, err := src.RuleMatches(ctx, hcfg.Internal, rules)
	if err != nil {
		return nil, err
	}
	hints := cfg.Rules.NewHintCounter(agg.Internal)
	for a, m := range matches {
		for i, n := range m {
			hints.Set(a, i, n)
		}
	}
	dl, err := NewDownloads(cfg.Model, features.DefaultConfig())
	if err != nil {
		return nil, err
	}
	defer dl.close(cfg.Logger)
	ds, err := src.Downloads(ctx, features.DefaultConfig())
	if err != nil {
		return nil, err
	}
	dl.AddDownloads(ds)
	return finish(ctx, &cfg, gathered{
		started: started, read: read, hosts: newPushedHosts(hs, site, agg.Internal), hints: hints, dl: dl, source: src.Name(),
	}, sink)
}

// pushedHosts are host rows computed where the flows are.
type pushedHosts struct {
	hosts    []features.HostStats
	site     features.SiteStats
	internal func(netip.Addr) bool
}

func newPushedHosts(hs []features.HostStats, site features.SiteStats, internal func(netip.Addr) bool) *pushedHosts {
	hs = slices.Clone(hs)
	slices.SortFunc(hs, func(a, b features.HostStats) int { return a.Addr.Compare(b.Addr) })
	return &pushedHosts{hosts: hs, site: site, internal: internal}
}

func (p *pushedHosts) Internal(a netip.Addr) bool { return p.internal(a) }
func (p *pushedHosts) Site() features.SiteStats   { return p.site }

// HostsWithoutMinutes is the host table with every host's Minutes nil.
func (p *pushedHosts) HostsWithoutMinutes() []features.HostStats {
	out := slices.Clone(p.hosts)
	for i := range out {
		out[i].Minutes = nil
	}
	return out
}

// Minutes are host a's minutes.
func (p *pushedHosts) Minutes(a netip.Addr) ([]features.MinuteRate, bool) {
	i, ok := slices.BinarySearchFunc(p.hosts, a, func(h features.HostStats, a netip.Addr) int { return h.Addr.Compare(a) })
	if !ok {
		return nil, false
	}
	return p.hosts[i].Minutes, true
}
