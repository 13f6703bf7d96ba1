package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/lifespans"
	"github.com/fingerflow/fingerflow/models/nightly"
	"github.com/fingerflow/fingerflow/models/survival"
	"github.com/fingerflow/fingerflow/models/talkers"
	chtalkers "github.com/fingerflow/fingerflow/models/talkers/clickhouse"
	"github.com/fingerflow/fingerflow/reports"
)

// statsOptions are the flags of `fingerflow stats`.
type statsOptions struct {
	stats         []string
	n             int
	sources       int
	rates         bool
	internal      []string
	hosts         int
	lifespans     bool
	activeTimeout time.Duration
	servicePorts  int
	clusters      string
	db            string
	night         string
	charts        string
	json          bool
	workers       int
	dsn           string
	filterOptions
}

// defaultStats are the statistics of a full report: the nightly run's.
var defaultStats = nightly.DefaultStats

func newStatsCommand(gopts *globalOptions) *cobra.Command {
	var opts statsOptions
	cmd := &cobra.Command{
		Use:   "stats PATH... [-s STAT/ORDER ...] [-n N]",
		Short: "Top talkers, per-source durations, traffic rates and flow lifespans",
		Long: `stats reads every flow of every input (files, directories, glob patterns)
that passes the filters and prints:

  - top N statistics like nfdump -s, with the same numbers: STAT is srcip,
    dstip, ip (either address), srcport, dstport, port (either port), proto
    or record (the conversation: protocol, addresses, ports; it keeps every
    conversation in memory, about 100 bytes each); ":p" splits
    it by protocol; ORDER is flows (the default), packets, bytes, pps, bps
    or bpp, several separated by "/";
  - the source addresses with the longest accumulated flow duration (T)
    and their flow count (C), top --sources;
  - traffic over time (--rates): bytes and packets per second at 1-second
    resolution, a flow's bytes spread evenly over its duration, with the
    mean and 95th percentile for the site and its --hosts busiest internal
    hosts (those in --internal networks), with their T and C;
  - flow lifespans (--lifespans): Kaplan–Meier survival curves of flow
    durations by protocol, by service port (the lower port of a
    connection; the --service-ports busiest get a group each) and, given
    --clusters or --db (a nightly run's clusters), by host cluster, with the median lifespan, its 95%
    interval and the log-rank test between the groups. A record is
    censored (its flow lived at least that long) when it is TCP without
    FIN or RST, lasted at least --active-timeout less 1 s (the exporter cut
    it), or ends after --until. --charts DIR draws the curves.

Without -s every section is printed, with the statistics ` + fmt.Sprint(defaultStats) + `;
with -s only the statistics asked for, plus the sections whose flags are
given. Files are decoded on --workers goroutines and counted in file order,
so the numbers do not depend on the number of workers.

With --clickhouse DSN (see fingerflow load) the flows are those of a
ClickHouse table between --since and --until, and the server counts them:
the statistics, the sources and the rates are the numbers stats prints
for the same flows read from files, and only the entries listed come
back. Flow lifespans need every record's duration and are not computed
there.

Files that cannot be read are reported on stderr, one line each, and
skipped; the exit status is then 3.`,
		Example: `  fingerflow stats datasets/lab-attack/lab-attack.v9
  fingerflow stats /var/cache/nfdump/2027/01/11 -s srcip/bytes -s dstport:p/flows/bytes -n 20
  fingerflow stats DIR -s srcip/bytes --rates --lifespans --charts charts/
  fingerflow stats --clickhouse clickhouse://db1/flows --since 2027-01-11 --until 2027-01-12 -s srcip/bytes -n 20`,
		Args: func(cmd *cobra.Command, args []string) error {
			if opts.dsn != "" {
				if len(args) > 0 {
					return usagef("stats: --clickhouse reads the flows from the table: no PATH arguments (%s)", args[0])
				}
				return nil
			}
			return atLeastOnePath(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStats(cmd, opts, gopts, args)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.stats, "stat", "s", nil, "statistic STAT[:p][/ORDER...] as nfdump's -s; repeatable")
	f.IntVarP(&opts.n, "top", "n", 10, "entries per statistic (0: all)")
	f.IntVar(&opts.sources, "sources", 100, "source addresses in the duration (T) and count (C) table (0: none)")
	f.BoolVar(&opts.rates, "rates", false, "traffic over time: per-second rates of the site and its busiest hosts")
	f.StringSliceVar(&opts.internal, "internal", nil, "the site's networks (CIDR; repeatable; default RFC 1918 and fc00::/7)")
	f.IntVar(&opts.hosts, "hosts", 10, "internal hosts listed in the traffic section")
	f.BoolVar(&opts.lifespans, "lifespans", false, "flow lifespans by protocol, service port and host cluster")
	f.DurationVar(&opts.activeTimeout, "active-timeout", 300*time.Second, "the exporters' active timeout: records lasting this long (less 1 s) were cut (nfpcapd 300s, Cisco IOS 30m)")
	f.IntVar(&opts.servicePorts, "service-ports", 8, "service ports with a lifespan group of their own; the others share one")
	f.StringVar(&opts.clusters, "clusters", "", "CSV of host,cluster: group lifespans by the cluster of each flow's host")
	f.StringVar(&opts.db, "db", "", "history database: group lifespans by the host clusters its latest night (or --night) found")
	f.StringVar(&opts.night, "night", "", "with --db, the night whose clusters to use (default: the latest)")
	f.StringVar(&opts.charts, "charts", "", "directory to draw the lifespan curves into (lifespans-*.png and .svg)")
	f.BoolVar(&opts.json, "json", false, "print one JSON document instead of tables")
	f.IntVar(&opts.workers, "workers", 0, "files decoded at once (0: one per processor)")
	f.StringVar(&opts.dsn, "clickhouse", "", "count the flows of a ClickHouse table instead of files (DSN as for fingerflow load; with --since and --until)")
	addFilterFlags(f, &opts.filterOptions)
	return cmd
}

func runStats(cmd *cobra.Command, opts statsOptions, gopts *globalOptions, args []string) error {
	ctx := cmd.Context()
	started := time.Now()
	flt, err := parseFilter(opts.filterOptions)
	if err != nil {
		return err
	}
	if err := checkFlags(
		flagCheck{opts.n >= 0, "-n/--top", opts.n, "0 (all) or more"},
		flagCheck{opts.sources >= 0, "--sources", opts.sources, "0 (none) or more"},
		flagCheck{opts.hosts >= 0, "--hosts", opts.hosts, "0 or more"},
		flagCheck{opts.activeTimeout > 0, "--active-timeout", opts.activeTimeout, "a duration above 0"},
		flagCheck{opts.servicePorts >= 1, "--service-ports", opts.servicePorts, "1 or more"},
		flagCheck{opts.workers >= 0, "--workers", opts.workers, wantWorkers},
	); err != nil {
		return err
	}
	full := len(opts.stats) == 0
	statNames := opts.stats
	if full {
		statNames = defaultStats
	}
	cfg := talkers.Config{N: opts.n}
	for _, s := range statNames {
		st, err := talkers.ParseStat(s)
		if err != nil {
			return usagef("-s %v", err)
		}
		cfg.Stats = append(cfg.Stats, st)
	}
	if full || cmd.Flags().Changed("sources") {
		cfg.Sources = opts.sources
	}
	if opts.dsn != "" {
		for _, name := range []string{"lifespans", "clusters", "db", "night", "workers"} {
			if cmd.Flags().Changed(name) {
				return usagef("stats: --%s reads flow files: with --clickhouse the server computes -s, --sources and --rates", name)
			}
		}
	}
	var lcfg *lifespans.Config
	if (full && opts.dsn == "") || opts.lifespans {
		c := lifespans.DefaultConfig()
		c.ActiveTimeout, c.Ports, c.WindowEnd = opts.activeTimeout, opts.servicePorts, flt.Until
		switch {
		case opts.clusters != "" && opts.db != "":
			return usagef("--clusters and --db both give clusters: choose one")
		case opts.clusters != "":
			if c.Cluster, err = loadClusters(opts.clusters); err != nil {
				return err
			}
		case opts.db != "":
			if c.Cluster, err = nightClusters(ctx, opts.db, opts.night); err != nil {
				return err
			}
		}
		if _, err := lifespans.New(c); err != nil {
			return usagef("%v", err)
		}
		lcfg = &c
	}
	var hcfg *features.HostConfig
	if full || opts.rates {
		c := features.DefaultHostConfig()
		if len(opts.internal) > 0 {
			c.Internal = nil
			for _, n := range opts.internal {
				p, err := parsePrefix(n)
				if err != nil {
					return usagef("--internal %q: not a CIDR prefix or address", n)
				}
				c.Internal = append(c.Internal, p)
			}
		}
		if _, err := features.NewHostAggregator(c); err != nil {
			return usagef("%v", err)
		}
		hcfg = &c
	}
	if opts.night != "" && opts.db == "" {
		return usagef("--night names a night of the history database: give --db")
	}
	if opts.charts != "" && lcfg == nil && hcfg == nil {
		return usagef("--charts draws lifespans and traffic: give --lifespans or --rates too")
	}
	if opts.charts != "" {
		if err := os.MkdirAll(opts.charts, 0o755); err != nil {
			return err
		}
	}
	if opts.dsn != "" {
		return statsClickhouse(ctx, opts, gopts, flt, cfg, hcfg, started)
	}
	in, err := expandInputs(ctx, args, gopts.stderr)
	if err != nil {
		return err
	}
	if err := in.Prune(flt); err != nil {
		return err
	}
	src := fileSource(gopts, in, flt, opts.workers)
	type part struct {
		tab   *talkers.Table
		lives *lifespans.Lifespans
	}
	parts := make([]part, src.WorkerCount())
	for i := range parts {
		if parts[i].tab, err = talkers.New(cfg); err != nil {
			return usagef("%v", err)
		}
		if lcfg != nil {
			parts[i].lives, _ = lifespans.New(*lcfg)
		}
	}
	add := func(p *part, b []datasets.Flow) {
		p.tab.AddBatch(b)
		if p.lives != nil {
			p.lives.AddBatch(b)
		}
	}
	// Conversations are too many to count twice: one table counts them,
	// in file order.
	ordered := hcfg != nil
	for _, st := range cfg.Stats {
		ordered = ordered || st.Element == talkers.Record
	}
	var agg *features.HostAggregator
	if hcfg != nil {
		agg, _ = features.NewHostAggregator(*hcfg)
	}
	var st datasets.ReadStats
	if ordered {
		// Per-second rates sum floating-point shares of flows in the
		// order they come, so they are counted in file order, beside the
		// rest; the host aggregator counts on a goroutine of its own.
		consumers := []func([]datasets.Flow) error{func(b []datasets.Flow) error { add(&parts[0], b); return nil }}
		if agg != nil {
			consumers = append(consumers, nightly.Each(agg.Add))
		}
		st, err = nightly.Feed(ctx, src, consumers...)
	} else {
		// Each worker counts the files it decodes; the parts are merged.
		// The counts are integers, so the merged result does not depend
		// on which worker read which file.
		st, err = src.Fold(ctx, func(w int, b []datasets.Flow) error {
			add(&parts[w], b)
			return nil
		})
	}
	if err != nil {
		return err
	}
	for _, o := range parts[1:] {
		if err := parts[0].tab.Merge(o.tab); err != nil {
			return err
		}
		if o.lives != nil {
			parts[0].lives.Merge(o.lives)
		}
	}
	if err := noneRead(st); err != nil {
		return err
	}
	if err := st.WindowErr(flt); err != nil {
		return err
	}
	res := parts[0].tab.Result()
	rep := reports.Stats{Talkers: &res}
	if agg != nil {
		if err := statsRates(&rep, agg.Site(), agg.Hosts(), opts); err != nil {
			return err
		}
	}
	if lcfg != nil {
		lres, err := parts[0].lives.Result()
		switch {
		case errors.Is(err, survival.ErrEmpty):
			gopts.infof("stats: no flows, no lifespans\n")
		case err != nil:
			return err
		default:
			rep.Lifespans = &lres
			if opts.charts != "" {
				if err := writeLifespanCharts(opts.charts, lres); err != nil {
					return err
				}
			}
		}
	}
	if err := writeStats(gopts, opts, rep); err != nil {
		return err
	}
	gopts.infof("stats: %s read, %d skipped; %d flows in %.2fs\n",
		quantity(st.Files-st.Skipped, "file", "files"), st.Skipped, res.Totals.Flows, time.Since(started).Seconds())
	return st.Err()
}

// writeStats prints rep as tables, or as JSON with --json.
func writeStats(gopts *globalOptions, opts statsOptions, rep reports.Stats) error {
	if opts.json {
		return reports.WriteStatsJSON(gopts.stdout, rep)
	}
	return reports.WriteStatsText(gopts.stdout, rep)
}

// statsRates adds the traffic section to rep, and its chart to
// --charts.
func statsRates(rep *reports.Stats, site features.SiteStats, hosts []features.HostStats, opts statsOptions) error {
	rep.Rates = &reports.Rates{Site: site, Hosts: hosts, N: opts.hosts}
	if opts.charts == "" {
		return nil
	}
	if err := writeChart(filepath.Join(opts.charts, "traffic"), func(w io.Writer, format string) error {
		return rep.Rates.TrafficChart(w, format)
	}); err != nil && !errors.Is(err, reports.ErrNoData) {
		return err
	}
	return nil
}

// statsClickhouse is stats over a ClickHouse table: the statistics and
// sources counted by the server (models/talkers/clickhouse), the rates
// from the host queries the nightly run makes there.
func statsClickhouse(ctx context.Context, opts statsOptions, gopts *globalOptions, flt datasets.Filter, cfg talkers.Config,
	hcfg *features.HostConfig, started time.Time) error {
	ch, err := openClickhouseNight(ctx, "stats", opts.dsn, flt, gopts.logger)
	if err != nil {
		return err
	}
	defer ch.Close()
	res, qs, err := chtalkers.Count(ctx, ch.st, ch.w, cfg)
	if err != nil {
		return err
	}
	if res.Totals.Flows == 0 {
		return notFoundf("%s holds no flow between %s and %s", ch.Name(), timeOrOpen(flt.Since, "the first"), timeOrOpen(flt.Until, "the last"))
	}
	rows := qs.Rows
	rep := reports.Stats{Talkers: &res}
	if hcfg != nil {
		hosts, site, err := ch.Hosts(ctx, *hcfg)
		if err != nil {
			return err
		}
		rows += ch.Rows
		if err := statsRates(&rep, site, hosts, opts); err != nil {
			return err
		}
	}
	if len(opts.stats) == 0 {
		gopts.infof("stats: flow lifespans left out: they need every record's duration, which --clickhouse does not read\n")
	}
	if err := writeStats(gopts, opts, rep); err != nil {
		return err
	}
	gopts.infof("stats: %s: %d flows counted by the server, %d rows back, in %.2fs\n",
		ch.Name(), res.Totals.Flows, rows, time.Since(started).Seconds())
	return nil
}

// writeLifespanCharts draws each grouping's curves into dir as
// lifespans-GROUPING.png and .svg.
func writeLifespanCharts(dir string, res lifespans.Result) error {
	for _, g := range res.Groupings {
		name := filepath.Join(dir, "lifespans-"+strings.ReplaceAll(g.Name, " ", "-"))
		if err := writeChart(name, func(w io.Writer, format string) error {
			return reports.LifespanChart(w, format, g, res.Config.Alpha)
		}); err != nil {
			return err
		}
	}
	return nil
}

// writeChart draws a chart as base.png and base.svg, each file written
// whole or not at all.
func writeChart(base string, draw func(w io.Writer, format string) error) error {
	for _, format := range []string{"png", "svg"} {
		out, err := createAtomic(base + "." + format)
		if err != nil {
			return err
		}
		if err := draw(out, format); err != nil {
			out.Abort()
			return err
		}
		if err := out.Commit(); err != nil {
			out.Abort()
			return err
		}
	}
	return nil
}

// parsePrefix reads a CIDR prefix or a bare address (a /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// loadClusters reads a CSV of host addresses and cluster names (columns
// host, addr or ip, and cluster; a header is required) and returns the
// lookup lifespans groups by.
func loadClusters(path string) (func(netip.Addr) (string, bool), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(datasets.LimitText(f, datasets.MaxLine, datasets.CSVRecords))
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	hostCol, clusterCol := -1, -1
	for i, h := range head {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "host", "addr", "ip":
			hostCol = i
		case "cluster":
			clusterCol = i
		}
	}
	if hostCol < 0 || clusterCol < 0 {
		return nil, fmt.Errorf("%s: want a header with host (or addr, ip) and cluster columns", path)
	}
	m := map[netip.Addr]string{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		a, err := netip.ParseAddr(strings.TrimSpace(rec[hostCol]))
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: host %q: not an IP address", path, line, rec[hostCol])
		}
		m[a.Unmap()] = strings.TrimSpace(rec[clusterCol])
	}
	return func(a netip.Addr) (string, bool) {
		c, ok := m[a.Unmap()]
		return c, ok
	}, nil
}

// nightClusters returns the host clusters a night of the history database
// at path found (the latest night when night is ""), named "cluster N:
// description".
func nightClusters(ctx context.Context, path, night string) (func(netip.Addr) (string, bool), error) {
	db, err := openHistory(ctx, path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if night == "" {
		runs, err := db.Runs(ctx)
		if err != nil {
			return nil, err
		}
		if len(runs) == 0 {
			return nil, fmt.Errorf("%s: no nights, no clusters", path)
		}
		night = runs[len(runs)-1].Night
	}
	return nightly.NightClusters(ctx, db, night)
}
