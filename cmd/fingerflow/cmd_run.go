package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/history"
	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
	"github.com/fingerflow/fingerflow/reports"
	"github.com/fingerflow/fingerflow/reports/morning"
)

// runOptions are the flags of `fingerflow run`.
type runOptions struct {
	model     string
	catalogs  []string
	out       string
	db        string
	noHistory bool
	internal  []string
	hints     string
	truth     string
	k         int
	seed      uint64
	csv       bool
	noReport  bool
	threshold float64
	dsn       string
	filterOptions
}

func newRunCommand(gopts *globalOptions) *cobra.Command {
	opts := runOptions{seed: 1}
	cmd := &cobra.Command{
		Use:   "run --model MODEL.ffm --out OUTDIR {FLOWS... | --clickhouse DSN} [filters]",
		Short: "The nightly run: per-host inventory, host clusters and history from a night's flow files",
		Long: `run reads every flow of the night's files once and writes into OUTDIR:

  inventory.csv, inventory.json  one row per internal host: likely OS family and
                                 version, confidence, the evidence in words, the
                                 catalog updates it fetched, first and last seen,
                                 what changed since the previous night
  downloads.parquet              every download the classifier saw, with its answer
  hosts.parquet                  the per-host feature table with each host's cluster
  clusters.csv                   one row per cluster: size, centroid, description
  traffic.parquet                the site's bytes and packets per second
  traffic_minutes.parquet        per minute, for the site and the ten busiest hosts
  catalog.csv                    the catalog the inventory used
  run.json                       what was read, skipped and found, and how fast
  report.html                    the morning report (see fingerflow report): one
                                 page, its charts inline; not with --no-report

Internal hosts are those in --internal (default RFC 1918 and IPv6 ULA). The
history of every night goes to an SQLite database (default fingerflow.db beside
OUTDIR): re-running a night replaces it. --catalog gives the catalog with OS
families and release dates; it must list the same files as the model's.

With --clickhouse DSN (see fingerflow load) the night's flows are those of a
ClickHouse table in --since/--until: the hosts' rows, the OS hints' matches
and the download candidates are computed in the server, and only they come
back; the rest of the night is the same as for files. The analytics that need
every flow (stats.json, alarms.json) are left out; run.json says so.`,
		Example: `  fingerflow run --model datasets/lab-dev/lab.ffm --catalog datasets/population/pop-near-24h-s1007.catalog.csv \
      --out night datasets/population/pop-near-24h-s1007.v9
  fingerflow run -m lab.ffm --out /srv/fingerflow/2027-01-11 --clickhouse clickhouse://db1/flows \
      --since '2027-01-11 00:00' --until '2027-01-12 00:00'
  fingerflow run -m lab.ffm --catalog updates.csv --out /srv/fingerflow/2027-01-11 /var/cache/nfdump/2027/01/11`,
		Args: func(cmd *cobra.Command, args []string) error {
			if opts.dsn != "" {
				if len(args) > 0 {
					return usagef("run: --clickhouse reads the flows from the table: no FLOWS arguments (%s)", args[0])
				}
				return nil
			}
			return atLeastOnePath(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), opts, gopts, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.model, "model", "m", "", "model file from fingerflow train; required")
	f.StringArrayVar(&opts.catalogs, "catalog", nil, "catalog with OS families, releases and dates (same files as the model's), default the model's own; repeatable: a mirror's Release or InRelease beside its Packages adds the index apt-get update fetches")
	f.StringVarP(&opts.out, "out", "o", "", "output directory; required (created if missing)")
	f.StringVar(&opts.db, "db", "", "history database (default fingerflow.db beside OUTDIR)")
	f.BoolVar(&opts.noHistory, "no-history", false, "do not read or write the history database")
	f.StringSliceVar(&opts.internal, "internal", nil, "the site's own networks, CIDR; repeatable (default 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7)")
	f.StringVar(&opts.hints, "hints", "", "OS hints rules file (default the shipped one; see fingerflow run --help)")
	f.StringVar(&opts.truth, "truth", "", "per-host truth of a labelled population (ip,os,catalog_files): score the inventory against it")
	f.IntVar(&opts.k, "k", 0, "number of host clusters, 2..50 (0: chosen by silhouette among 2..8)")
	f.Uint64Var(&opts.seed, "seed", 1, "seed of the clustering: the same input and seed give the same clusters")
	f.BoolVar(&opts.csv, "csv", false, "write downloads and hosts as CSV instead of Parquet")
	f.Float64Var(&opts.threshold, "threshold", 0, "override the model's verifier threshold")
	f.BoolVar(&opts.noReport, "no-report", false, "do not write the morning report (report.html)")
	f.StringVar(&opts.dsn, "clickhouse", "", "run over the flows of a ClickHouse table instead of files (DSN as for fingerflow load; with --since and --until)")
	addFilterFlags(f, &opts.filterOptions)
	return cmd
}

func runRun(ctx context.Context, opts runOptions, gopts *globalOptions, args []string) error {
	if opts.model == "" {
		return usagef("--model is required")
	}
	if opts.out == "" {
		return usagef("--out is required")
	}
	if opts.k < 0 || opts.k == 1 || opts.k > maxClusters {
		return usagef("--k %d: want 0 (chosen by silhouette) or 2..%d", opts.k, maxClusters)
	}
	if err := checkThreshold(opts.threshold); err != nil {
		return err
	}
	flt, err := parseFilter(opts.filterOptions)
	if err != nil {
		return err
	}
	dbPath := opts.db
	if dbPath == "" {
		dbPath = filepath.Join(filepath.Dir(filepath.Clean(opts.out)), defaultHistoryDB)
	}
	src, err := openRunSource(ctx, opts, gopts, args, flt, dbPath)
	if err != nil {
		return err
	}
	defer src.close()
	cfg, err := runConfig(ctx, opts, gopts)
	if err != nil {
		return err
	}
	out, err := nightdir.Create(opts.out)
	if err != nil {
		return err
	}
	defer out.Abort()
	committed := false
	if !opts.noHistory {
		db, forget, err := openRunHistory(ctx, dbPath)
		if err != nil {
			return err
		}
		cfg.History = db
		defer func() { forget(committed) }()
	}
	dlName, format := nightdir.DownloadsFile, nightdir.FormatParquet
	if opts.csv {
		dlName, format = nightdir.DownloadsCSVFile, nightdir.FormatCSV
	}
	dlFile, err := out.Create(dlName)
	if err != nil {
		return err
	}
	dw, err := nightdir.NewDownloadWriter(dlFile, format)
	if err != nil {
		return err
	}
	// The report summarises the downloads as they are written instead
	// of reading the file again.
	var sink nightly.DownloadSink = dw
	var summary *morning.DownloadSummarizer
	if !opts.noReport {
		cat := cfg.Catalog
		if cat == nil {
			cat = cfg.Model.Catalog
		}
		summary = morning.NewDownloadSummarizer(cat.Entries).ForFile(format)
		sink = teeSink{dw, summary}
	}
	night, err := src.run(ctx, cfg, sink)
	if err != nil {
		return err
	}
	if err := dw.Close(); err != nil {
		return err
	}
	if err := src.notes(ctx, gopts, opts, night); err != nil {
		return err
	}
	if err := night.Write(out, opts.csv); err != nil {
		return err
	}
	if err := out.Commit(); err != nil {
		return err
	}
	committed = true
	sayNight(gopts, opts, night)
	if !opts.noReport {
		if err := writeMorningReportWith(ctx, gopts, "run", opts.out, summary); err != nil {
			return err
		}
	}
	return night.Read.Err()
}

// runConfig is the night's configuration from the flags: the site, the
// hints, the truth, the model and its catalog.
func runConfig(ctx context.Context, opts runOptions, gopts *globalOptions) (nightly.Config, error) {
	internal, err := parseInternal(opts.internal)
	if err != nil {
		return nightly.Config{}, err
	}
	cfg := nightly.Config{ModelPath: opts.model, CatalogPaths: opts.catalogs, Internal: internal, Threshold: opts.threshold,
		Inventory: inventory.DefaultConfig(), K: opts.k, Seed: opts.seed, Version: version, Logger: gopts.logger}
	if cfg.Rules, err = inventory.LoadRules(opts.hints); err != nil {
		return cfg, err
	}
	if opts.truth != "" {
		if cfg.Truth, err = labels.LoadHosts(ctx, opts.truth); err != nil {
			return cfg, err
		}
	}
	if cfg.Model, err = loadModel(ctx, opts.model); err != nil {
		return cfg, err
	}
	cfg.Catalog, err = runCatalog(ctx, cfg.Model, opts.catalogs)
	return cfg, err
}

// runSource is where a night's flows are: flow files (in, read through
// the filter) or a ClickHouse table (ch).
type runSource struct {
	gopts *globalOptions
	flt   datasets.Filter
	out   string
	in    *datasets.Inputs
	ch    *clickhouseNight
}

// openRunSource opens the night's flows and checks that nothing the run
// writes is one of its inputs; a ClickHouse server and its table are
// checked before anything is written.
func openRunSource(ctx context.Context, opts runOptions, gopts *globalOptions, args []string, flt datasets.Filter, dbPath string) (*runSource, error) {
	src := &runSource{gopts: gopts, flt: flt, out: opts.out}
	more := append([]string{opts.model}, opts.catalogs...)
	for _, f := range []string{opts.hints, opts.truth} {
		if f != "" {
			more = append(more, f)
		}
	}
	if opts.dsn != "" {
		ch, err := openClickhouseNight(ctx, "run", opts.dsn, flt, gopts.logger)
		if err != nil {
			return nil, err
		}
		src.ch = ch
		if err := checkRunOutputs(opts.out, dbPath, !opts.noHistory, nil, nil, more...); err != nil {
			ch.Close()
			return nil, err
		}
		return src, nil
	}
	in, err := expandInputs(ctx, args, gopts.stderr)
	if err != nil {
		return nil, err
	}
	if err := checkRunOutputs(opts.out, dbPath, !opts.noHistory, args, in.Files, more...); err != nil {
		return nil, err
	}
	if err := in.Prune(flt); err != nil {
		return nil, err
	}
	src.in = in
	return src, nil
}

func (s *runSource) close() {
	if s.ch != nil {
		s.ch.Close()
	}
}

// run runs the night over the source; an empty night's error says why
// in the user's terms.
func (s *runSource) run(ctx context.Context, cfg nightly.Config, sink nightly.DownloadSink) (*nightly.Night, error) {
	if s.ch != nil {
		night, err := nightly.RunPushed(ctx, cfg, s.ch, sink)
		if err != nil {
			return nil, s.ch.emptyNightError(err, s.flt, s.out)
		}
		return night, nil
	}
	night, err := nightly.Run(ctx, cfg, fileSource(s.gopts, s.in, s.flt, 0), sink)
	if err != nil {
		return nil, emptyNightError(err, s.flt, s.out)
	}
	return night, nil
}

// notes says on stderr what the user should know of the night before its
// files are written: the servers' offsets, sampled exporters, what a
// ClickHouse night left out, a catalog without families, too few hosts.
func (s *runSource) notes(ctx context.Context, gopts *globalOptions, opts runOptions, night *nightly.Night) error {
	if !gopts.quiet {
		if err := reports.WriteOffsets(gopts.stderr, "run", night.Offsets); err != nil {
			return err
		}
	}
	if night.Summary.Sampled > 0 {
		fmt.Fprintf(gopts.stderr, "run: %d downloads came from packet-sampling exporters: their byte counts are estimates, so they are left unknown (profile %q)\n",
			night.Summary.Sampled, downloads.ProfileSampled)
	}
	if s.ch != nil {
		s.ch.sampledNote(ctx, gopts)
		gopts.infof("run: %d rows back from the server for %d flows stored (%.3f per flow)\n", s.ch.Rows, night.Summary.Flows, float64(s.ch.Rows)/float64(night.Summary.Flows))
		gopts.infof("run: %s: %s\n", nightdir.StatsFile+" and "+nightdir.AlarmsFile, night.Summary.Analytics)
	}
	if !night.OSAware {
		fmt.Fprintf(gopts.stderr, "run: %s names no OS family: updates are listed, every host's OS stays unknown\n", night.Summary.Catalog)
	}
	if opts.k > 0 && night.Clusters == nil {
		fmt.Fprintf(gopts.stderr, "run: --k %d: %d hosts are too few for %d clusters, the hosts are left unclustered (cluster -1)\n", opts.k, night.Summary.Hosts, opts.k)
	}
	return nil
}

// openRunHistory opens the history database; forget closes it and, when
// the run created it and did not commit its night, removes it: a failed
// first run leaves nothing behind.
func openRunHistory(ctx context.Context, path string) (db *history.DB, forget func(committed bool), err error) {
	_, statErr := os.Stat(path)
	if db, err = history.Open(ctx, path); err != nil {
		return nil, nil, err
	}
	fresh := errors.Is(statErr, fs.ErrNotExist)
	return db, func(committed bool) {
		db.Close()
		if fresh && !committed {
			removeDatabase(path)
		}
	}, nil
}

// sayNight prints the night's score against a truth and its summary.
func sayNight(gopts *globalOptions, opts runOptions, night *nightly.Night) {
	sum := night.Summary
	if sc := night.Score; sc != nil {
		fmt.Fprintf(gopts.stderr, "run: against %s: OS right for %d of %d hosts (%.1f%%), %d of %d hosts without catalog files given an OS; updates precision %.1f%%, recall %.1f%%; missing precision %.1f%% (%d pairs, %d possibly fetched)\n",
			opts.truth, sc.OSCorrect, sc.Hosts, 100*sc.OSAccuracy(), sc.Misnamed, sc.WithoutEvidence, 100*sc.Precision(), 100*sc.Recall(),
			100*sc.MissingPrecision(), sc.MissingPairs, sc.PossiblePairs)
	}
	gopts.infof("run: %s (%d skipped), %d flows, %d hosts (%d with an OS), %d downloads (%d named, %d chance-level, %d unknown), %d updates, %d clusters, in %.1fs, %.0f flows/s\n",
		quantity(sum.Files, "file", "files"), sum.FilesSkipped, sum.Flows, sum.Hosts, sum.HostsWithOS, sum.Downloads, sum.Named, sum.ChanceLevel, sum.Unknown, sum.Updates, sum.Clusters,
		sum.Seconds, sum.FlowsPerSec)
	if r := sum.Replaced; r != nil {
		// Said even with -q: the history's night is no longer the earlier
		// run's.
		fmt.Fprintf(gopts.stderr, "run: this run replaced the earlier run of the night %s in the history (started %s UTC, %d flows, %d hosts)\n",
			sum.Night, r.Started.UTC().Format(time.DateTime), r.Flows, r.Hosts)
	}
	gopts.infof("run: inventory in %s\n", filepath.Join(opts.out, nightdir.InventoryCSVFile))
}

// maxClusters is the most host clusters --k may ask for.
const maxClusters = 50

// emptyNightError says in the user's terms why a night had nothing to
// inventory, and that nothing was written.
func emptyNightError(err error, flt datasets.Filter, out string) error {
	var e *nightly.EmptyError
	if !errors.As(err, &e) {
		return err
	}
	kept := fmt.Sprintf("nothing written to %s or the history", out)
	r := e.Read
	filtered := flt.Windowed() || len(flt.Protos)+len(flt.Nets)+len(flt.Ports) > 0
	switch {
	case errors.Is(err, nightly.ErrNoHosts):
		return fmt.Errorf("%w (see --internal): %s", err, kept)
	case r.WindowErr(flt) != nil:
		return fmt.Errorf("%w: %s", r.WindowErr(flt), kept)
	case r.Flows > 0 && filtered:
		return fmt.Errorf("no flow passes the filters (--since, --until, --proto, --net, --port; %d flows read): %s", r.Flows, kept)
	case noneRead(r) != nil:
		return fmt.Errorf("%w: %s", noneRead(r), kept)
	}
	return fmt.Errorf("the inputs hold no flow (%d files read, %d skipped): %s", r.Files-r.Skipped, r.Skipped, kept)
}

// parseInternal reads --internal (default RFC 1918 and ULA).
func parseInternal(cidrs []string) ([]netip.Prefix, error) {
	if len(cidrs) == 0 {
		return features.DefaultInternal(), nil
	}
	var out []netip.Prefix
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, usagef("--internal %q: not a CIDR prefix", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// runCatalog is the catalog the inventory uses: the model's, or --catalog
// when given, which must list the same files with the same sizes (it may
// add OS families, releases and dates).
func runCatalog(ctx context.Context, m *downloads.Model, paths []string) (*catalog.Catalog, error) {
	if len(paths) == 0 {
		return m.Catalog, nil
	}
	var cats []*catalog.Catalog
	for _, p := range paths {
		c, err := catalog.Load(ctx, p)
		if err != nil {
			return nil, err
		}
		cats = append(cats, c)
	}
	c := cats[0]
	if len(cats) > 1 {
		var err error
		if c, err = catalog.Merge(cats...); err != nil {
			return nil, fmt.Errorf("%s: %w", strings.Join(paths, ", "), err)
		}
	}
	path := strings.Join(paths, ", ")
	var missing, extra, resized []string
	for _, e := range m.Catalog.Entries {
		o, ok := c.Lookup(e.Name)
		switch {
		case !ok:
			missing = append(missing, e.Name)
		case o.Size != e.Size:
			resized = append(resized, e.Name)
		}
	}
	// A mirror's index files are not the model's to know.
	for _, e := range c.Files() {
		if _, ok := m.Catalog.Lookup(e.Name); !ok {
			extra = append(extra, e.Name)
		}
	}
	if len(missing)+len(extra)+len(resized) > 0 {
		return nil, fmt.Errorf("%s: the model was trained on another catalog (%d of its %d files missing here, %d files it lacks, %d sizes differ, e.g. %s): train a model on this catalog",
			path, len(missing), len(m.Catalog.Entries), len(extra), len(resized), firstOf(missing, extra, resized))
	}
	return c, nil
}

func firstOf(lists ...[]string) string {
	for _, l := range lists {
		if len(l) > 0 {
			return l[0]
		}
	}
	return ""
}

// checkRunOutputs refuses a run whose output directory or history database
// is also one of its inputs (a flow file, the model, a catalog, the hints,
// the truth), or whose output directory holds an input, before anything is
// read: the run replaces its directory's files, a catalog.csv among them.
func checkRunOutputs(out, db string, useDB bool, args, files []string, more ...string) error {
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	for _, a := range args {
		if absArg, err := filepath.Abs(a); err == nil && (absArg == absOut || within(absOut, absArg)) {
			return usagef("--out %s is also an input (%s): write the night's results elsewhere", out, a)
		}
	}
	for _, f := range slices.Concat(files, more) {
		if af, err := filepath.Abs(f); err == nil && within(af, absOut) {
			return usagef("--out %s holds the input %s: write the night's results elsewhere", out, f)
		}
	}
	if useDB {
		if err := checkNotInput(db, append(slices.Clone(files), more...)); err != nil {
			return usagef("--db: %v", err)
		}
		// A database inside an input directory would be read as a flow
		// file by the next night's run.
		absDB, err := filepath.Abs(db)
		if err != nil {
			return err
		}
		for _, a := range args {
			if absArg, err := filepath.Abs(a); err == nil && within(absDB, absArg) {
				return usagef("--db %s lies in the input directory %s: keep the history database elsewhere", db, a)
			}
		}
	}
	return nil
}

// within reports whether path lies inside dir.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}

// removeDatabase removes an SQLite database and the journal files beside
// it.
func removeDatabase(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}

// teeSink writes each classified download to both of its sinks.
type teeSink [2]nightly.DownloadSink

func (t teeSink) Write(r *nightdir.DownloadRow) error {
	if err := t[0].Write(r); err != nil {
		return err
	}
	return t[1].Write(r)
}
