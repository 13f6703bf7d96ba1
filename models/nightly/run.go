package nightly

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/history"
	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/clusters"
	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// Config is what a night is run with.
type Config struct {
	// Model is the download classifier; Threshold overrides its
	// verifier's threshold when not 0.
	Model     *downloads.Model
	Threshold float64
	// Catalog is the catalog with OS families, releases and dates; it
	// must list the model's files (the model's own catalog when nil).
	Catalog *catalog.Catalog
	// ModelPath and CatalogPaths name the files they came from, for the
	// run's summary and the history (no CatalogPaths: the model's catalog).
	ModelPath    string
	CatalogPaths []string
	// Internal are the site's own networks (features.DefaultInternal when
	// empty).
	Internal []netip.Prefix
	// Rules is the hints file; Inventory weighs the evidence.
	Rules     *inventory.Rules
	Inventory inventory.Config
	// K is the number of host clusters (0: chosen by silhouette), Seed
	// the clustering's seed.
	K    int
	Seed uint64
	// History is the history database the night is written to and
	// compared with; nil leaves it out.
	History *history.DB
	// Truth, when set, scores the inventory against a labelled
	// population.
	Truth []labels.HostTruth
	// Version is fingerflow's, recorded with the night.
	Version string
	// Now is the clock (time.Now when nil); the run's times come from it.
	Now func() time.Time
	// Logger gets the run's progress at debug level (none when nil).
	Logger *slog.Logger
}

// DownloadSink takes the night's downloads with the classifier's answers,
// in the order found, as they are classified.
type DownloadSink interface {
	Write(r *nightdir.DownloadRow) error
}

// Errors of a night that must not reach the history or the outputs; Run
// returns them in an *EmptyError.
var (
	// ErrNoFlows: the source yielded no flow.
	ErrNoFlows = errors.New("no flow was read")
	// ErrNoHosts: no flow had an internal endpoint.
	ErrNoHosts = errors.New("no flow of an internal host")
)

// EmptyError is the error of a night with nothing to inventory: no flow
// (ErrNoFlows), or no flow of an internal host (ErrNoHosts). Read says
// what reading the source saw, for the caller to say why.
type EmptyError struct {
	Err      error
	Read     datasets.ReadStats
	Flows    uint64 // flows the source yielded
	Internal string // the site's networks
}

func (e *EmptyError) Error() string {
	if e.Err == ErrNoHosts {
		return fmt.Sprintf("%v (%s): the night's %d flows have no internal endpoint", e.Err, e.Internal, e.Flows)
	}
	return fmt.Sprintf("%v (%d input files, %d skipped)", e.Err, e.Read.Files, e.Read.Skipped)
}

func (e *EmptyError) Unwrap() error { return e.Err }

// Run runs one night: it reads src once, handing every flow to the host
// stage, the download stage and the analytics, each on its own goroutine;
// clusters the hosts while the downloads are classified (every one goes
// to sink as it is answered); weighs each host's evidence (evidenceStage);
// writes the night into the history database and says what changed. A
// night that yields no flow, or no flow of an internal host, is an error
// (ErrNoFlows, ErrNoHosts) and touches nothing. The night's files are
// written with Night.Write.
func Run(ctx context.Context, cfg Config, src Source, sink DownloadSink) (*Night, error) {
	started := cfg.now()
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	hostsStage, err := newHostStage(cfg.Internal, cfg.Rules)
	if err != nil {
		return nil, err
	}
	dl, err := NewDownloads(cfg.Model, features.DefaultConfig())
	if err != nil {
		return nil, err
	}
	defer dl.close(cfg.Logger)
	var lifeCluster func(netip.Addr) (string, bool)
	if cfg.History != nil {
		if lifeCluster, err = LatestNightClusters(ctx, cfg.History); err != nil {
			return nil, err
		}
	}
	acfg, err := NightAnalytics(lifeCluster)
	if err != nil {
		return nil, err
	}
	an, err := NewAnalytics(acfg)
	if err != nil {
		return nil, err
	}

	// One pass over the flows.
	consumers := append([]func([]datasets.Flow) error{hostsStage.addBatch, dl.AddBatch}, an.Consumers()...)
	read, err := Feed(ctx, src, consumers...)
	if err != nil {
		return nil, err
	}
	return finish(ctx, &cfg, gathered{
		started: started, read: read, hosts: hostsStage.agg, hints: hostsStage.hints, dl: dl, an: an,
	}, sink)
}

// gathered is what a night's flows gave the stages: the hosts, the rule
// matches, the downloads found (dl, not yet finished), what was read, and
// the analytics (nil when the source computes none).
type gathered struct {
	started time.Time
	read    datasets.ReadStats
	hosts   hostRows
	hints   *inventory.HintCounter
	dl      *Downloads
	an      *Analytics
	source  string // where the flows are, when not in files
}

// hostRows are the night's internal hosts: aggregated from the flows
// (features.HostAggregator) or computed where the flows are (pushedHosts).
// The host table leaves out the minutes, which only the busiest hosts'
// series need (a day's minutes of every host are a hundred times the
// rest of the table).
type hostRows interface {
	Internal(a netip.Addr) bool
	Site() features.SiteStats
	HostsWithoutMinutes() []features.HostStats
	Minutes(a netip.Addr) ([]features.MinuteRate, bool)
}

// now is the config's clock.
func (cfg *Config) now() time.Time {
	if cfg.Now == nil {
		return time.Now()
	}
	return cfg.Now()
}

// defaults fills the shipped hints when cfg has none.
func (cfg *Config) defaults() error {
	if cfg.Rules == nil {
		rules, err := inventory.LoadRules("")
		if err != nil {
			return err
		}
		cfg.Rules = rules
	}
	return nil
}

// finish turns what the stages gathered into the night: it classifies
// the downloads while the hosts are clustered, weighs each host's
// evidence, writes the history and sums up.
func finish(ctx context.Context, cfg *Config, g gathered, sink DownloadSink) (*Night, error) {
	cat := cfg.Catalog
	if cat == nil {
		cat = cfg.Model.Catalog
	}
	read, dl := g.read, g.dl
	flows := read.Kept
	if flows == 0 {
		return nil, &EmptyError{Err: ErrNoFlows, Read: read, Internal: internalText(cfg.Internal)}
	}
	site := g.hosts.Site()
	if site.Hosts == 0 || site.First.IsZero() {
		return nil, &EmptyError{Err: ErrNoHosts, Read: read, Flows: flows, Internal: internalText(cfg.Internal)}
	}
	offs, err := dl.Finish(ctx)
	if err != nil {
		return nil, err
	}
	read.Duplicates += dl.Duplicates()
	cl := cfg.Model.Classifier(downloads.Options{Threshold: cfg.Threshold, Offsets: offs})

	// The clusters need only the traffic features: they are fitted while
	// the downloads are classified.
	type fitted struct {
		hcl *clusters.HostClusters
		err error
	}
	hosts := g.hosts.HostsWithoutMinutes()
	night := history.NightKey(site.First, site.Last)
	// The analytics' results are computed now, and their state let go
	// before the downloads are read back.
	if g.an != nil {
		if err := g.an.Settle(ctx, cfg.History, night, 14, hosts); err != nil {
			return nil, err
		}
	}
	clustered := make(chan fitted, 1)
	go func() {
		hcl, err := clusters.FitHosts(ctx, hosts, cfg.K, cfg.Seed)
		clustered <- fitted{hcl, err}
	}()

	// Every download is classified; the night's inventory sees them all.
	inv := inventory.NewNight(cfg.Inventory, cl, cat, g.hosts.Internal)
	perHost := map[netip.Addr][2]int{}
	var found, named, chanceLevel, sampled int
	err = dl.Classify(ctx, cl, func(d *features.Download, r downloads.Answer) error {
		found++
		status := r.Status()
		switch status {
		case downloads.StatusNamed:
			named++
		case downloads.StatusChanceLevel:
			chanceLevel++
		}
		if r.Profile == downloads.ProfileSampled {
			sampled++
		}
		inv.Add(d, r)
		if g.hosts.Internal(d.Client) {
			c := perHost[d.Client]
			if status == downloads.StatusNamed {
				c[0]++
			} else {
				c[1]++
			}
			perHost[d.Client] = c
		}
		if sink == nil {
			return nil
		}
		row := nightdir.NewDownloadRow(d, r)
		return sink.Write(&row)
	})
	fit := <-clustered
	if err != nil {
		return nil, err
	}
	if fit.err != nil && !errors.Is(fit.err, clusters.ErrTooFewHosts) {
		return nil, fit.err
	}
	// The clustering is done with the table: each host's downloads are
	// added to it.
	for i := range hosts {
		if c, ok := perHost[hosts[i].Addr]; ok {
			hosts[i].DownloadsNamed += c[0]
			hosts[i].DownloadsUnknown += c[1]
		}
	}

	// Each host's evidence, in order, to one verdict.
	ev := evidenceStage{night: inv, hints: g.hints}
	verdicts, err := ev.verdicts(ctx, hosts, fit.hcl)
	if err != nil {
		return nil, err
	}

	n := &Night{
		Hosts: make([]nightdir.Host, 0, len(hosts)), HostStats: hosts, Busiest: busiest(hosts, topTalkers), Site: site, Clusters: fit.hcl,
		Catalog: cat, Offsets: offs, OSAware: inv.OSAware(), Analytics: g.an,
	}
	for i := range n.Busiest {
		n.Busiest[i].Minutes, _ = g.hosts.Minutes(n.Busiest[i].Addr)
	}
	for _, h := range hosts {
		row := nightdir.Host{Addr: h.Addr, FirstSeen: h.First, LastSeen: h.Last, TTL: ttlText(h), Cluster: -1, Verdict: verdicts[h.Addr]}
		if row.Verdict.OS == "" {
			row.Verdict.OS = inventory.Unknown
		}
		if hcl := fit.hcl; hcl != nil {
			if c, ok := hcl.Cluster[h.Addr]; ok {
				row.Cluster, row.ClusterText = c, hcl.Descriptions[c].Text
			}
		}
		n.Hosts = append(n.Hosts, row)
	}

	catName := strings.Join(cfg.CatalogPaths, ", ")
	if catName == "" {
		catName = "the model's catalog"
	}
	n.Summary = nightdir.RunSummary{
		Night: night, First: site.First.UTC(), Last: site.Last.UTC(), Source: g.source, Files: read.Files, FilesSkipped: read.Skipped,
		Skipped: []nightdir.SkippedFile{}, Flows: flows, Duplicates: read.Duplicates, Hosts: len(hosts),
		Downloads: found, Named: named, ChanceLevel: chanceLevel, Unknown: found - named - chanceLevel, Sampled: sampled,
		Model: cfg.ModelPath, Catalog: catName, Version: cfg.Version,
	}
	if g.an == nil {
		n.Summary.Analytics = AnalyticsNotComputed
	}
	for _, s := range read.SkippedFiles {
		// The reason without the path the error begins with.
		n.Summary.Skipped = append(n.Summary.Skipped, nightdir.SkippedFile{Path: s.Path, Reason: strings.TrimPrefix(s.Err.Error(), s.Path+": ")})
	}
	if len(n.Summary.Skipped) < read.Skipped {
		n.Summary.Skipped = append(n.Summary.Skipped, nightdir.SkippedFile{Reason: fmt.Sprintf("%d arguments named no file (see stderr)", read.Skipped-len(n.Summary.Skipped))})
	}
	for _, row := range n.Hosts {
		if row.Verdict.OS != inventory.Unknown {
			n.Summary.HostsWithOS++
		}
		n.Summary.Updates += len(row.Verdict.Updates)
	}
	if fit.hcl != nil {
		n.Summary.Clusters = fit.hcl.K
	}
	n.Meta = nightdir.InventoryMeta{
		Night: night, First: site.First.UTC(), Last: site.Last.UTC(), Model: cfg.ModelPath, Catalog: catName,
		OSAware: inv.OSAware(), Generated: "fingerflow " + cfg.Version,
	}
	ctxStats, err := json.Marshal(inv.Stats)
	if err != nil {
		return nil, err
	}
	n.Summary.Context = ctxStats

	if g.an != nil {
		if n.Alarms, err = g.an.Alarms(ctx, cfg.History, night, 14, hosts); err != nil {
			return nil, err
		}
	}
	if cfg.Truth != nil {
		sc := inventory.Score(verdicts, cfg.Truth, cat)
		n.Score = &sc
	}

	// The history: this night replaces any earlier run of it, then each
	// host says what changed since the night before.
	if cfg.History != nil {
		hr := historyRun(cfg, n.Summary, g.started, cfg.now(), n.Hosts, cat, hosts)
		if g.an != nil {
			hr.Metrics = append(hr.Metrics, g.an.Metrics()...)
		}
		if err := (&historyStage{db: cfg.History}).write(ctx, hr, n.Hosts, &n.Summary); err != nil {
			return nil, err
		}
		n.Summary.History = cfg.History.Path()
	}
	el := cfg.now().Sub(g.started)
	n.Summary.Seconds = el.Seconds()
	if el > 0 {
		n.Summary.FlowsPerSec = float64(flows) / el.Seconds()
	}
	n.Read = read
	return n, nil
}

// internalText lists the site's networks.
func internalText(internal []netip.Prefix) string {
	if len(internal) == 0 {
		internal = features.DefaultInternal()
	}
	var out []string
	for _, p := range internal {
		out = append(out, p.String())
	}
	return strings.Join(out, ", ")
}

// ttlText says what the exporter recorded of a host's TTLs.
func ttlText(h features.HostStats) string {
	if len(h.TTLs) == 0 {
		return "not recorded"
	}
	t := h.TTLs[0].TTL
	return fmt.Sprintf("%d (initial %d)", t, features.InitialTTL(t))
}
