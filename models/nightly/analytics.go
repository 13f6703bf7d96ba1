package nightly

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/history"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/floods"
	"github.com/fingerflow/fingerflow/models/lifespans"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
	"github.com/fingerflow/fingerflow/models/scans"
	"github.com/fingerflow/fingerflow/models/survival"
	"github.com/fingerflow/fingerflow/models/talkers"
	"github.com/fingerflow/fingerflow/models/unexpected"
)

// AnalyticsConfig says which of the older flow tools' analytics run, and
// how; a nil part is left out.
type AnalyticsConfig struct {
	Talkers    *talkers.Config
	Lifespans  *lifespans.Config
	Floods     *floods.Config
	Scans      *scans.Config
	Unexpected *unexpected.Config
}

// DefaultStats are the top-N statistics of a full `fingerflow stats`
// report. The conversation statistic (record) is left out: it holds every
// distinct conversation in memory.
var DefaultStats = []string{"srcip/bytes", "dstip/bytes", "dstport/bytes", "proto/bytes"}

// NightStats are the top-N statistics of the nightly run: DefaultStats
// with the services (a flow under its lower port, "80/tcp") in place of
// the destination ports, which count a download under the client's
// ephemeral port.
var NightStats = []string{"srcip/bytes", "dstip/bytes", "service/bytes", "proto/bytes"}

// NightAnalytics is the analytics configuration of the nightly run: the
// ten busiest of each NightStats, the T and C table of the hundred
// busiest sources, flow lifespans grouped by lifeCluster when set (as
// `fingerflow stats` gives them), and the defaults of `fingerflow
// detect`.
func NightAnalytics(lifeCluster func(netip.Addr) (string, bool)) (AnalyticsConfig, error) {
	tc := talkers.Config{N: 10, Sources: 100}
	for _, s := range NightStats {
		st, err := talkers.ParseStat(s)
		if err != nil {
			return AnalyticsConfig{}, err
		}
		tc.Stats = append(tc.Stats, st)
	}
	lc := lifespans.DefaultConfig()
	lc.Cluster = lifeCluster
	fc, sc, uc := floods.DefaultConfig(), scans.DefaultConfig(), unexpected.DefaultConfig()
	return AnalyticsConfig{Talkers: &tc, Lifespans: &lc, Floods: &fc, Scans: &sc, Unexpected: &uc}, nil
}

// Analytics runs the older flow tools' analytics over a night's flows:
// top talkers and the T and C table, flow lifespans, floods, scans, and
// the rates later nights compare against. Each keeps state of its own;
// Consumers hands them the flows on separate goroutines.
type Analytics struct {
	cfg    AnalyticsConfig
	talk   *talkers.Table
	lives  *lifespans.Lifespans
	floods *floods.Detector
	scans  *scans.Detector
	prof   *unexpected.Profile
	// settled holds the results once Settle has let the state go.
	settled *settledAnalytics
}

// settledAnalytics are the analytics' results without their state.
type settledAnalytics struct {
	talkers *talkers.Result
	lives   *lifespans.Result
	alarms  nightdir.Alarms
	metrics []history.Metric
}

// Settle computes every result of the analytics (Talkers, Lifespans,
// Metrics, and Alarms as Alarms gives them) and lets go of their state:
// a night's detectors keep a hundred megabytes of it on a busy site,
// which the rest of the night can use. Afterwards the methods return the
// results and the consumers must not be fed.
func (a *Analytics) Settle(ctx context.Context, db *history.DB, night string, nights int, hosts []features.HostStats) error {
	if a.settled != nil {
		return nil
	}
	lives, err := a.Lifespans()
	if err != nil {
		return err
	}
	alarms, err := a.Alarms(ctx, db, night, nights, hosts)
	if err != nil {
		return err
	}
	a.settled = &settledAnalytics{talkers: a.Talkers(), lives: lives, alarms: alarms, metrics: a.Metrics()}
	a.talk, a.lives, a.floods, a.scans, a.prof = nil, nil, nil, nil, nil
	return nil
}

// NewAnalytics sets the analytics of cfg up; a configuration a model
// refuses is an error in its words.
func NewAnalytics(cfg AnalyticsConfig) (*Analytics, error) {
	a := &Analytics{cfg: cfg}
	var err error
	if cfg.Talkers != nil {
		if a.talk, err = talkers.New(*cfg.Talkers); err != nil {
			return nil, err
		}
	}
	if cfg.Lifespans != nil {
		if a.lives, err = lifespans.New(*cfg.Lifespans); err != nil {
			return nil, err
		}
	}
	if cfg.Floods != nil {
		if a.floods, err = floods.New(*cfg.Floods); err != nil {
			return nil, err
		}
	}
	if cfg.Scans != nil {
		if a.scans, err = scans.New(*cfg.Scans); err != nil {
			return nil, err
		}
	}
	if cfg.Unexpected != nil {
		if a.prof, err = unexpected.New(*cfg.Unexpected); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Consumers are the analytics' consumers of the flows for Feed: the
// statistics, the flood detector, and the scan detector with the rates.
// They keep separate state, so they may run on separate goroutines.
func (a *Analytics) Consumers() []func([]datasets.Flow) error {
	var out []func([]datasets.Flow) error
	if a.talk != nil || a.lives != nil {
		out = append(out, func(b []datasets.Flow) error {
			if a.talk != nil {
				a.talk.AddBatch(b)
			}
			if a.lives != nil {
				a.lives.AddBatch(b)
			}
			return nil
		})
	}
	if a.floods != nil {
		out = append(out, func(b []datasets.Flow) error {
			a.floods.AddBatch(b)
			return nil
		})
	}
	if a.scans != nil || a.prof != nil {
		out = append(out, func(b []datasets.Flow) error {
			for i := range b {
				if a.scans != nil {
					a.scans.Add(&b[i])
				}
				if a.prof != nil {
					a.prof.Add(&b[i])
				}
			}
			return nil
		})
	}
	return out
}

// Talkers is the top talkers' result; nil when they did not run.
func (a *Analytics) Talkers() *talkers.Result {
	if a.settled != nil {
		return a.settled.talkers
	}
	if a.talk == nil {
		return nil
	}
	r := a.talk.Result()
	return &r
}

// Lifespans is the flow lifespans' result; nil when they did not run or
// no flow was seen.
func (a *Analytics) Lifespans() (*lifespans.Result, error) {
	if a.settled != nil {
		return a.settled.lives, nil
	}
	if a.lives == nil {
		return nil, nil
	}
	r, err := a.lives.Result()
	if errors.Is(err, survival.ErrEmpty) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Metrics are the night's rates, for the history database (none when the
// rates did not run).
func (a *Analytics) Metrics() []history.Metric {
	if a.settled != nil {
		return a.settled.metrics
	}
	if a.prof == nil {
		return nil
	}
	var out []history.Metric
	for _, m := range a.prof.Metrics() {
		out = append(out, history.Metric{Metric: m.Metric, Key: m.Key, Value: m.Value})
	}
	return out
}

// Span is the time the rates' flows span (zero without rates).
func (a *Analytics) Span() (first, last time.Time) {
	if a.prof == nil {
		return
	}
	return a.prof.Span()
}

// Alarms are what the detectors found. The rates are scored against the
// latest nights (all when 0) of db before night; without db, or with too
// short a baseline, UnexpectedSkipped says why nothing was scored. hosts
// give the service profile. After Settle they are Settle's.
func (a *Analytics) Alarms(ctx context.Context, db *history.DB, night string, nights int, hosts []features.HostStats) (nightdir.Alarms, error) {
	if a.settled != nil {
		return a.settled.alarms, nil
	}
	var d nightdir.Alarms
	if a.floods != nil {
		d.Floods, d.FloodConfig, d.FloodsDropped = a.floods.Alarms(), *a.cfg.Floods, a.floods.Dropped()
	}
	if a.scans != nil {
		d.Scans, d.ScanConfig = a.scans.Alarms(), *a.cfg.Scans
		d.Eta0, d.Eta1 = a.scans.Thresholds()
	}
	for _, h := range hosts {
		if len(h.Services) > 0 {
			d.Services = append(d.Services, h)
		}
	}
	if a.prof == nil {
		return d, nil
	}
	d.UnexpectedConfig = *a.cfg.Unexpected
	if db == nil {
		d.UnexpectedSkipped = "no history database"
		return d, nil
	}
	b, err := Baseline(ctx, db, d.UnexpectedConfig, night, nights)
	if err != nil {
		return d, err
	}
	d.Baseline = &b
	switch alarms, err := a.prof.Score(b); {
	case errors.Is(err, unexpected.ErrShortBaseline):
		d.UnexpectedSkipped = err.Error()
	case err != nil:
		return d, err
	default:
		d.Unexpected = alarms
	}
	return d, nil
}

// Baseline learns the rates' baseline from the latest nights nights (all
// when it is 0) of db before night.
func Baseline(ctx context.Context, db *history.DB, cfg unexpected.Config, night string, nights int) (unexpected.Baseline, error) {
	var values []unexpected.NightValue
	for m := unexpected.Measure(0); m <= unexpected.Packets; m++ {
		for _, sd := range []bool{false, true} {
			name := cfg.MetricName(m, sd)
			vs, err := db.Metrics(ctx, name, 0)
			if err != nil {
				return unexpected.Baseline{}, err
			}
			for _, v := range vs {
				if v.Night < night {
					values = append(values, unexpected.NightValue{Night: v.Night, Metric: name, Key: v.Key, Value: v.Value})
				}
			}
		}
	}
	return unexpected.NewBaseline(cfg, latestNights(values, nights)), nil
}

// latestNights keeps the values of the latest n nights (all when n is 0).
func latestNights(values []unexpected.NightValue, n int) []unexpected.NightValue {
	if n <= 0 {
		return values
	}
	nights := map[string]bool{}
	for _, v := range values {
		nights[v.Night] = true
	}
	if len(nights) <= n {
		return values
	}
	var keys []string
	for k := range nights {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	keep := map[string]bool{}
	for _, k := range keys[len(keys)-n:] {
		keep[k] = true
	}
	var out []unexpected.NightValue
	for _, v := range values {
		if keep[v.Night] {
			out = append(out, v)
		}
	}
	return out
}

// NightClusters returns the host clusters a night of db found, named
// "cluster N: description", for grouping flow lifespans.
func NightClusters(ctx context.Context, db *history.DB, night string) (func(netip.Addr) (string, bool), error) {
	hosts, err := db.NightHosts(ctx, night)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", db.Path(), err)
	}
	m := map[netip.Addr]string{}
	for _, h := range hosts {
		if h.Cluster < 0 {
			continue
		}
		name := fmt.Sprintf("cluster %d", h.Cluster)
		if h.ClusterDescription != "" {
			name += ": " + h.ClusterDescription
		}
		m[h.Addr.Unmap()] = name
	}
	return func(a netip.Addr) (string, bool) {
		c, ok := m[a.Unmap()]
		return c, ok
	}, nil
}

// LatestNightClusters is NightClusters of db's latest night; nil when db
// holds no night.
func LatestNightClusters(ctx context.Context, db *history.DB) (func(netip.Addr) (string, bool), error) {
	runs, err := db.Runs(ctx)
	if err != nil || len(runs) == 0 {
		return nil, err
	}
	return NightClusters(ctx, db, runs[len(runs)-1].Night)
}
