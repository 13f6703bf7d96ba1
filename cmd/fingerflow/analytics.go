package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/history"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/floods"
	"github.com/fingerflow/fingerflow/models/lifespans"
	"github.com/fingerflow/fingerflow/models/scans"
	"github.com/fingerflow/fingerflow/models/survival"
	"github.com/fingerflow/fingerflow/models/talkers"
	"github.com/fingerflow/fingerflow/models/unexpected"
	"github.com/fingerflow/fingerflow/reports"
)

// nightAnalytics is what the nightly run adds to its pass over the flows,
// with the defaults of `fingerflow stats` and `detect`: top talkers, the T
// and C table and flow lifespans (stats.json), floods, scans and
// unexpected rates (alarms.json), and the rates later nights compare
// against (the history database's metrics).
type nightAnalytics struct {
	talk  *talkers.Table
	lives *lifespans.Lifespans

	floods *floods.Detector
	scans  *scans.Detector
	prof   *unexpected.Profile
	uc     unexpected.Config
	fc     floods.Config
	sc     scans.Config
}

// newNightAnalytics sets the analytics up; lifespans are grouped by the
// host clusters of db's latest night, when there is one.
func newNightAnalytics(ctx context.Context, db *history.DB) (*nightAnalytics, error) {
	a := &nightAnalytics{fc: floods.DefaultConfig(), sc: scans.DefaultConfig(), uc: unexpected.DefaultConfig()}
	var cfg talkers.Config
	for _, s := range defaultStats {
		st, err := talkers.ParseStat(s)
		if err != nil {
			return nil, err
		}
		cfg.Stats = append(cfg.Stats, st)
	}
	cfg.N, cfg.Sources = 10, 100
	var err error
	if a.talk, err = talkers.New(cfg); err != nil {
		return nil, err
	}
	lc := lifespans.DefaultConfig()
	if db != nil {
		if runs, err := db.Runs(ctx); err == nil && len(runs) > 0 {
			if lc.Cluster, err = nightClustersOf(ctx, db, runs[len(runs)-1].Night); err != nil {
				return nil, err
			}
		}
	}
	if a.lives, err = lifespans.New(lc); err != nil {
		return nil, err
	}
	if a.floods, err = floods.New(a.fc); err != nil {
		return nil, err
	}
	if a.scans, err = scans.New(a.sc); err != nil {
		return nil, err
	}
	if a.prof, err = unexpected.New(a.uc); err != nil {
		return nil, err
	}
	return a, nil
}

// consumers are the analytics' fanOut consumers, each of batches: the
// statistics, the flood detector, and the scan detector with the rates.
// Each keeps state of its own, so they may run on separate goroutines.
func (a *nightAnalytics) consumers() []func([]datasets.Flow) error {
	return []func([]datasets.Flow) error{
		func(b []datasets.Flow) error {
			a.talk.AddBatch(b)
			a.lives.AddBatch(b)
			return nil
		},
		func(b []datasets.Flow) error {
			a.floods.AddBatch(b)
			return nil
		},
		func(b []datasets.Flow) error {
			for i := range b {
				a.scans.Add(&b[i])
				a.prof.Add(&b[i])
			}
			return nil
		},
	}
}

// metrics are the night's rates for the history database.
func (a *nightAnalytics) metrics() []history.Metric {
	var out []history.Metric
	for _, m := range a.prof.Metrics() {
		out = append(out, history.Metric{Metric: m.Metric, Key: m.Key, Value: m.Value})
	}
	return out
}

// finish scores the rates against the nights of db
// before night (when db is set) and returns the two documents' writers.
// hosts gives the service profile.
func (a *nightAnalytics) finish(ctx context.Context, db *history.DB, night string, hosts []features.HostStats) (stats, alarms func(io.Writer) error, err error) {
	res := a.talk.Result()
	st := reports.Stats{Talkers: &res}
	if l, err := a.lives.Result(); err == nil {
		st.Lifespans = &l
	} else if !errors.Is(err, survival.ErrEmpty) {
		return nil, nil, err
	}
	eta0, eta1 := a.scans.Thresholds()
	d := reports.Detect{
		Floods: a.floods.Alarms(), FloodConfig: a.fc, FloodsDropped: a.floods.Dropped(),
		Scans: a.scans.Alarms(), ScanConfig: a.sc, Eta0: eta0, Eta1: eta1,
		UnexpectedConfig: a.uc, UnexpectedSkipped: "no history database",
	}
	for _, h := range hosts {
		if len(h.Services) > 0 {
			d.Services = append(d.Services, h)
		}
	}
	if db != nil {
		b, err := historyBaseline(ctx, db, a.uc, night, 14)
		if err != nil {
			return nil, nil, err
		}
		d.Baseline = &b
		switch alarms, err := a.prof.Score(b); {
		case errors.Is(err, unexpected.ErrShortBaseline):
			d.UnexpectedSkipped = err.Error()
		case err != nil:
			return nil, nil, err
		default:
			d.UnexpectedSkipped, d.Unexpected = "", alarms
		}
	}
	return func(w io.Writer) error { return reports.WriteStatsRecords(w, st) },
		func(w io.Writer) error { return reports.WriteAlarmRecords(w, d) }, nil
}

// nightClustersOf returns the host clusters a night of db found, named
// "cluster N: description".
func nightClustersOf(ctx context.Context, db *history.DB, night string) (func(netip.Addr) (string, bool), error) {
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
