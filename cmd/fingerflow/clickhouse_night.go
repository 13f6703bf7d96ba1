package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/features"
	fch "github.com/fingerflow/fingerflow/features/clickhouse"
	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly"
)

// clickhouseNight is a night whose flows stay in a ClickHouse table: the
// nightly run's source (nightly.Pushed) over the window of --since and
// --until, computed in the server by features/clickhouse.
type clickhouseNight struct {
	st  *clickhouse.Store
	w   clickhouse.Window
	log *slog.Logger
	// Rows counts the rows the queries returned.
	Rows uint64
}

// openClickhouseNight connects to the DSN's server and checks its table;
// the filter may only give a time window (the other filters select flows
// the server would have to drop before every query).
func openClickhouseNight(ctx context.Context, cmd, dsn string, flt datasets.Filter, log *slog.Logger) (*clickhouseNight, error) {
	if len(flt.Protos)+len(flt.Nets)+len(flt.Ports) > 0 {
		return nil, usagef("%s: --clickhouse takes --since and --until, not --proto, --net or --port", cmd)
	}
	cfg, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, usageError{err}
	}
	st, err := clickhouse.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := st.Check(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return &clickhouseNight{st: st, w: clickhouse.Window{Since: flt.Since, Until: flt.Until}, log: log}, nil
}

func (c *clickhouseNight) Close() error { return c.st.Close() }

func (c *clickhouseNight) Name() string { return c.st.Config().String() }

func (c *clickhouseNight) Read(ctx context.Context) (datasets.ReadStats, error) {
	n, err := c.st.Count(ctx, c.w)
	if err != nil {
		return datasets.ReadStats{}, err
	}
	files, err := c.st.Files(ctx, c.w)
	if err != nil {
		return datasets.ReadStats{}, err
	}
	return datasets.ReadStats{Files: files, Flows: n, InWindow: n, Kept: n}, nil
}

func (c *clickhouseNight) Hosts(ctx context.Context, cfg features.HostConfig) ([]features.HostStats, features.SiteStats, error) {
	hs, site, stats, err := fch.Hosts(ctx, c.st, c.w, cfg)
	c.logged(stats)
	return hs, site, err
}

func (c *clickhouseNight) RuleMatches(ctx context.Context, internal []netip.Prefix, rules map[int]inventory.Rule) (map[netip.Addr]map[int]uint64, error) {
	var ids []int
	var ms []fch.Match
	for i, r := range rules {
		var m fch.Match
		switch r.Kind {
		case "talks":
			m = fch.Match{Proto: r.Proto, DstPort: r.Port}
		case "serves":
			m = fch.Match{Proto: r.Proto, SrcPort: r.Port, Serves: true}
		case "net":
			m = fch.Match{DstNet: r.Net}
			if r.Port != 0 {
				m.Proto, m.DstPort = r.Proto, r.Port
			}
		default:
			continue
		}
		ids = append(ids, i)
		ms = append(ms, m)
	}
	counts, stats, err := fch.Matches(ctx, c.st, c.w, internal, ms)
	c.logged(stats)
	if err != nil {
		return nil, err
	}
	out := map[netip.Addr]map[int]uint64{}
	for a, ns := range counts {
		m := map[int]uint64{}
		for j, n := range ns {
			if n > 0 {
				m[ids[j]] = n
			}
		}
		out[a] = m
	}
	return out, nil
}

func (c *clickhouseNight) Downloads(ctx context.Context, cfg features.Config) ([]features.Download, error) {
	ds, stats, err := fch.Downloads(ctx, c.st, c.w, cfg)
	c.logged(stats)
	return ds, err
}

// sampledNote says which exporters of the window sample packets.
func (c *clickhouseNight) sampledNote(ctx context.Context, gopts *globalOptions) {
	ss, err := c.st.Sampled(ctx, c.w)
	if err != nil {
		fmt.Fprintf(gopts.stderr, "run: %v\n", err)
		return
	}
	for _, s := range ss {
		fmt.Fprintf(gopts.stderr, "run: exporter %s samples packets (1 in %d, %d flows): its downloads cannot be matched against file sizes\n", s.Exporter, s.Rate, s.Flows)
	}
}

// emptyNightError says why the window held nothing to inventory.
func (c *clickhouseNight) emptyNightError(err error, flt datasets.Filter, out string) error {
	var e *nightly.EmptyError
	if !errors.As(err, &e) {
		return err
	}
	kept := fmt.Sprintf("nothing written to %s or the history", out)
	if errors.Is(err, nightly.ErrNoHosts) {
		return fmt.Errorf("%w (see --internal): %s", err, kept)
	}
	return fmt.Errorf("%s holds no flow between %s and %s: %s", c.Name(), timeOrOpen(flt.Since, "the first"), timeOrOpen(flt.Until, "the last"), kept)
}

func timeOrOpen(t time.Time, open string) string {
	if t.IsZero() {
		return open
	}
	return t.UTC().Format(time.RFC3339)
}

// logged counts the rows of a query and logs each step.
func (c *clickhouseNight) logged(s fch.Stats) {
	c.Rows += s.Rows
	if c.log == nil {
		return
	}
	for _, st := range s.Steps {
		c.log.Debug("clickhouse", "query", st.Name, "rows", st.Rows, "seconds", st.Elapsed.Seconds())
	}
}
