package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-gota/gota/series"
	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/history"
	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/clusters"
	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/reports"
)

// runOptions are the flags of `fingerflow run`.
type runOptions struct {
	model     string
	catalog   string
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
	filterOptions
}

func newRunCommand(gopts *globalOptions) *cobra.Command {
	opts := runOptions{seed: 1}
	cmd := &cobra.Command{
		Use:   "run --model MODEL.ffm --out OUTDIR FLOWS... [filters]",
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
  report.html                    the morning report (see fingerflow report), with
                                 its charts as PNG and SVG; not with --no-report

Internal hosts are those in --internal (default RFC 1918 and IPv6 ULA). The
history of every night goes to an SQLite database (default fingerflow.db beside
OUTDIR): re-running a night replaces it. --catalog gives the catalog with OS
families and release dates; it must list the same files as the model's.`,
		Example: `  fingerflow run --model datasets/lab-dev/lab.ffm --catalog datasets/population/pop-near-24h-s1007.catalog.csv \
      --out night datasets/population/pop-near-24h-s1007.v9
  fingerflow run -m lab.ffm --catalog updates.csv --out /srv/fingerflow/2027-01-11 /var/cache/nfdump/2027/01/11`,
		Args: atLeastOnePath,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), opts, gopts, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.model, "model", "m", "", "model file from fingerflow train; required")
	f.StringVar(&opts.catalog, "catalog", "", "catalog with OS families, releases and dates (same files as the model's); default the model's own")
	f.StringVarP(&opts.out, "out", "o", "", "output directory; required (created if missing)")
	f.StringVar(&opts.db, "db", "", "history database (default fingerflow.db beside OUTDIR)")
	f.BoolVar(&opts.noHistory, "no-history", false, "do not read or write the history database")
	f.StringSliceVar(&opts.internal, "internal", nil, "the site's own networks, CIDR; repeatable (default 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7)")
	f.StringVar(&opts.hints, "hints", "", "OS hints rules file (default the shipped one; see fingerflow run --help)")
	f.StringVar(&opts.truth, "truth", "", "per-host truth of a labelled population (ip,os,catalog_files): score the inventory against it")
	f.IntVar(&opts.k, "k", 0, "number of host clusters (0: chosen by silhouette, 2..8)")
	f.Uint64Var(&opts.seed, "seed", 1, "seed of the clustering: the same input and seed give the same clusters")
	f.BoolVar(&opts.csv, "csv", false, "write downloads and hosts as CSV instead of Parquet")
	f.Float64Var(&opts.threshold, "threshold", 0, "override the model's verifier threshold")
	f.BoolVar(&opts.noReport, "no-report", false, "do not write the morning report (report.html and its charts)")
	addFilterFlags(f, &opts.filterOptions)
	return cmd
}

func runRun(ctx context.Context, opts runOptions, gopts *globalOptions, args []string) error {
	started := time.Now()
	if opts.model == "" {
		return usagef("--model is required")
	}
	if opts.out == "" {
		return usagef("--out is required")
	}
	if opts.k < 0 || opts.k == 1 || opts.k > 50 {
		return usagef("--k %d: want 0 (choose) or 2..50", opts.k)
	}
	if err := checkThreshold(opts.threshold); err != nil {
		return err
	}
	flt, err := parseFilter(opts.filterOptions)
	if err != nil {
		return err
	}
	internal, err := parseInternal(opts.internal)
	if err != nil {
		return err
	}
	dbPath := opts.db
	if dbPath == "" {
		dbPath = filepath.Join(filepath.Dir(filepath.Clean(opts.out)), "fingerflow.db")
	}
	in, err := expandInputs(ctx, args, gopts.stderr)
	if err != nil {
		return err
	}
	if err := checkRunOutputs(opts.out, dbPath, !opts.noHistory, args, in.files, opts.model, opts.catalog); err != nil {
		return err
	}
	if err := in.prune(flt); err != nil {
		return err
	}
	rules, err := inventory.LoadRules(opts.hints)
	if err != nil {
		return err
	}
	var truth []labels.HostTruth
	if opts.truth != "" {
		if truth, err = labels.LoadHosts(ctx, opts.truth); err != nil {
			return err
		}
	}
	m, err := loadModel(ctx, opts.model)
	if err != nil {
		return err
	}
	cat, catName, err := runCatalog(ctx, m, opts.catalog)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.out, 0o755); err != nil {
		return err
	}
	var db *history.DB
	if !opts.noHistory {
		if db, err = history.Open(ctx, dbPath); err != nil {
			return err
		}
		defer db.Close()
	}
	out := newOutputSet(opts.out)
	defer out.abort()

	// One pass over the flows: host features, hints, and downloads into
	// the adapter and a temporary file.
	hcfg := features.DefaultHostConfig()
	hcfg.Internal = internal
	agg, err := features.NewHostAggregator(hcfg)
	if err != nil {
		return err
	}
	isInternal := agg.Internal
	hc := rules.NewHintCounter(isInternal)
	sp, err := newDownloadSpill()
	if err != nil {
		return err
	}
	defer sp.remove()
	ad := m.NewAdapter()
	ds := newDownloadStream(features.DefaultConfig(), func(d *features.Download) error {
		ad.Add(d)
		return sp.write(d)
	})
	an, err := newNightAnalytics(ctx, db)
	if err != nil {
		return err
	}
	// Host features, download extraction and the analytics keep separate
	// state: each gets its own goroutine and sees every flow in order.
	var flows uint64
	fo, fctx := newBatchFanOut(ctx, append([]func([]datasets.Flow) error{
		perFlow(func(f *datasets.Flow) error { agg.Add(f); hc.Add(f); return nil }),
		perFlow(ds.add)}, an.consumers()...)...)
	count, err := streamBatches(fctx, gopts, in, flt, func(b []datasets.Flow) error {
		flows += uint64(len(b))
		return fo.addBatch(b)
	})
	if cerr := fo.close(); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	dups, err := ds.flush()
	if err != nil {
		return err
	}
	count.duplicates += dups
	offs, err := ad.Offsets(ctx)
	if err != nil {
		return err
	}
	if !gopts.quiet {
		if err := reports.WriteOffsets(gopts.stderr, "run", offs); err != nil {
			return err
		}
	}
	cl := m.Classifier(downloads.Options{Threshold: opts.threshold, Offsets: offs})

	// The clusters need only the traffic features: they are fitted while
	// the downloads are classified.
	type fitted struct {
		hcl *clusters.HostClusters
		err error
	}
	clustered := make(chan fitted, 1)
	go func(hs []features.HostStats) {
		hcl, err := clusters.FitHosts(hs, opts.k, opts.seed)
		clustered <- fitted{hcl, err}
	}(agg.Hosts())

	// Classify every download; the night's inventory sees them all.
	dlName := "downloads.parquet"
	format := "parquet"
	if opts.csv {
		dlName, format = "downloads.csv", "csv"
	}
	dlFile, err := out.create(dlName)
	if err != nil {
		return err
	}
	dw, err := reports.NewDownloadWriter(dlFile, format)
	if err != nil {
		return err
	}
	night := inventory.NewNight(inventory.DefaultConfig(), cl, cat, isInternal)
	perHost := map[netip.Addr][2]int{}
	var found, named int
	// Downloads are classified on every core a batch at a time (the
	// classifier is safe for concurrent use), then taken in order.
	use := func(d *features.Download, r downloads.Result) error {
		found++
		if !r.Unknown() {
			named++
		}
		night.Add(d, r)
		if isInternal(d.Client) {
			c := perHost[d.Client]
			if r.Unknown() {
				c[1]++
			} else {
				c[0]++
			}
			perHost[d.Client] = c
		}
		row := reports.NewDownloadRow(d, r)
		return dw.Write(&row)
	}
	batch := make([]features.Download, 0, classifyBatch)
	results := make([]downloads.Result, classifyBatch)
	flush := func() error {
		classifyAll(cl, batch, results)
		for i := range batch {
			if err := use(&batch[i], results[i]); err != nil {
				return err
			}
		}
		batch = batch[:0]
		return nil
	}
	if err := sp.each(ctx, func(d *features.Download) error {
		batch = append(batch, *d)
		if len(batch) == classifyBatch {
			return flush()
		}
		return nil
	}); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if err := dw.Close(); err != nil {
		return err
	}
	for a, c := range perHost {
		agg.AddDownloads(a, c[0], c[1])
	}
	if !night.OSAware() {
		fmt.Fprintf(gopts.stderr, "run: %s names no OS family: updates are listed, every host's OS stays unknown\n", catName)
	}
	verdicts, err := night.Verdicts(ctx)
	if err != nil {
		return err
	}

	// Host table, clusters, and the weak evidence of the clusters' OS mix.
	hosts := agg.Hosts()
	site := agg.Site()
	fit := <-clustered
	hcl := fit.hcl
	if fit.err != nil && !errors.Is(fit.err, clusters.ErrTooFewHosts) {
		return fit.err
	}
	if hcl != nil {
		names := make([]string, len(hcl.Descriptions))
		for i, d := range hcl.Descriptions {
			names[i] = d.Text
		}
		for a, h := range inventory.ClusterHints(hcl.Cluster, names, verdicts) {
			night.AddHint(a, h)
		}
	}
	for _, h := range hosts {
		ttl := map[uint8]uint64{}
		for _, t := range h.TTLs {
			ttl[features.InitialTTL(t.TTL)] += t.Flows
		}
		if hs := hc.Hints(h.Addr, ttl); len(hs) > 0 {
			for _, x := range hs {
				night.AddHint(h.Addr, x)
			}
			verdicts[h.Addr] = night.Verdict(h.Addr)
		}
	}

	inv := make([]reports.InventoryHost, 0, len(hosts))
	clusterOf := map[netip.Addr]int{}
	for _, h := range hosts {
		row := reports.InventoryHost{Addr: h.Addr, FirstSeen: h.First, LastSeen: h.Last, TTL: ttlText(h), Cluster: -1}
		if v, ok := verdicts[h.Addr]; ok {
			row.Verdict = v
		} else {
			row.Verdict = inventory.Verdict{OS: inventory.Unknown}
		}
		if hcl != nil {
			if c, ok := hcl.Cluster[h.Addr]; ok {
				row.Cluster, row.ClusterText = c, hcl.Descriptions[c].Text
			}
		}
		clusterOf[h.Addr] = row.Cluster
		inv = append(inv, row)
	}

	night0 := history.NightKey(site.First, site.Last)
	sum := reports.RunSummary{
		Night: night0, First: site.First.UTC(), Last: site.Last.UTC(), Files: count.total, FilesSkipped: count.skipped,
		Skipped: []reports.SkippedFile{}, Flows: flows, Duplicates: count.duplicates, Hosts: len(hosts), Downloads: found, Named: named, Unknown: found - named,
		Model: opts.model, Catalog: catName, Version: version,
	}
	for _, s := range count.files {
		sum.Skipped = append(sum.Skipped, reports.SkippedFile{Path: s.path, Reason: s.reason})
	}
	if len(sum.Skipped) < count.skipped {
		sum.Skipped = append(sum.Skipped, reports.SkippedFile{Reason: fmt.Sprintf("%d arguments named no file (see stderr)", count.skipped-len(sum.Skipped))})
	}
	for _, row := range inv {
		if row.Verdict.OS != inventory.Unknown {
			sum.HostsWithOS++
		}
		sum.Updates += len(row.Verdict.Updates)
	}

	statsDoc, alarmsDoc, err := an.finish(ctx, db, night0, hosts)
	if err != nil {
		return err
	}

	// History: this night replaces any earlier run of it, then the
	// inventory says what changed since the night before.
	if db != nil {
		hr := historyRun(sum, started, inv, cat, hosts, opts, catName)
		hr.Metrics = append(hr.Metrics, an.metrics()...)
		if err := db.WriteRun(ctx, hr); err != nil {
			return err
		}
		sum.History = db.Path()
		prev, err := db.PreviousRun(ctx, night0)
		if err != nil && !errors.Is(err, history.ErrNoRun) {
			return err
		}
		if err == nil && prev.Night != "" {
			changes, err := db.Changes(ctx, prev.Night, night0)
			if err != nil {
				return err
			}
			byAddr := map[netip.Addr]history.HostChange{}
			for _, c := range changes {
				byAddr[c.Addr] = c
			}
			for i := range inv {
				inv[i].Changed, inv[i].NewUpdates = changeText(byAddr[inv[i].Addr], prev.Night)
			}
		} else {
			for i := range inv {
				inv[i].Changed = "first night in the history"
			}
		}
	}

	// The files.
	if err := out.write("inventory.csv", func(w io.Writer) error { return reports.WriteInventoryCSV(w, inv) }); err != nil {
		return err
	}
	meta := reports.InventoryMeta{Night: night0, First: site.First.UTC(), Last: site.Last.UTC(), Model: opts.model, Catalog: catName, OSAware: night.OSAware(), Generated: "fingerflow " + version}
	if err := out.write("inventory.json", func(w io.Writer) error { return reports.WriteInventoryJSON(w, meta, inv) }); err != nil {
		return err
	}
	df, err := agg.Frame()
	if err != nil {
		return err
	}
	cids := make([]int, df.Nrow())
	addrs := df.Col("address").Records()
	for i, a := range addrs {
		cids[i] = clusterOf[netip.MustParseAddr(a)]
	}
	df = df.Mutate(series.New(cids, series.Int, "cluster"))
	hostsName := "hosts.parquet"
	if opts.csv {
		hostsName = "hosts.csv"
	}
	if err := out.write(hostsName, func(w io.Writer) error {
		if opts.csv {
			return df.WriteCSV(w)
		}
		return reports.WriteFrameParquet(w, df)
	}); err != nil {
		return err
	}
	// The site's traffic at 1 s and 1 min, and the busiest hosts' per
	// minute, for charts.
	if err := out.write("traffic.parquet", func(w io.Writer) error { return reports.WriteTraffic(w, site) }); err != nil {
		return err
	}
	if err := out.write("traffic_minutes.parquet", func(w io.Writer) error {
		return reports.WriteMinutes(w, site, busiest(hosts, topTalkers))
	}); err != nil {
		return err
	}
	var crow []reports.ClusterRow
	if hcl != nil {
		for i, d := range hcl.Descriptions {
			crow = append(crow, reports.ClusterRow{Cluster: d.Cluster, Size: d.Size, Description: d.Text, Centroid: hcl.Centroids[i]})
		}
		sum.Clusters = hcl.K
	}
	if err := out.write("clusters.csv", func(w io.Writer) error {
		return reports.WriteClustersCSV(w, clusters.HostColumnNames(), crow)
	}); err != nil {
		return err
	}
	if err := out.write("catalog.csv", func(w io.Writer) error { return reports.WriteCatalogCSV(w, cat.Entries) }); err != nil {
		return err
	}
	if err := out.write(reports.StatsFile, statsDoc); err != nil {
		return err
	}
	if err := out.write(reports.AlarmsFile, alarmsDoc); err != nil {
		return err
	}
	if truth != nil {
		sc := inventory.Score(verdicts, truth)
		if err := out.write("score.json", func(w io.Writer) error { return writeJSON(w, sc) }); err != nil {
			return err
		}
		fmt.Fprintf(gopts.stderr, "run: against %s: OS right for %d of %d hosts (%.1f%%), %d of %d hosts without catalog files given an OS; updates precision %.1f%%, recall %.1f%%\n",
			opts.truth, sc.OSCorrect, sc.Hosts, 100*sc.OSAccuracy(), sc.Misnamed, sc.WithoutEvidence, 100*sc.Precision(), 100*sc.Recall())
	}
	ctxStats, err := json.Marshal(night.Stats)
	if err != nil {
		return err
	}
	sum.Context = ctxStats
	el := time.Since(started)
	sum.Seconds = el.Seconds()
	if el > 0 {
		sum.FlowsPerSec = float64(flows) / el.Seconds()
	}
	if err := out.write("run.json", func(w io.Writer) error { return writeJSON(w, sum) }); err != nil {
		return err
	}
	if err := out.commit(); err != nil {
		return err
	}
	filtered := flt.Windowed() || len(flt.Protos)+len(flt.Nets)+len(flt.Ports) > 0
	if err := count.windowErr(flt); err != nil {
		return fmt.Errorf("%w: the inventory in %s is empty", err, opts.out)
	}
	switch {
	case flows == 0 && filtered:
		return fmt.Errorf("no flow passes the filters (--since, --until, --proto, --net, --port; %d flows read): the inventory in %s is empty", count.flows, opts.out)
	case flows == 0:
		gopts.infof("run: the inputs hold no flow: the inventory is empty\n")
	case len(hosts) == 0:
		fmt.Fprintf(gopts.stderr, "run: no flow of an internal host (%s): the inventory is empty\n", strings.Join(opts.internalText(), ", "))
	}
	gopts.infof("run: %d files (%d skipped), %d flows, %d hosts (%d with an OS), %d downloads (%d named, %d unknown), %d updates, %d clusters, in %.1fs, %.0f flows/s\n",
		sum.Files, sum.FilesSkipped, flows, len(hosts), sum.HostsWithOS, found, named, found-named, sum.Updates, sum.Clusters,
		el.Seconds(), sum.FlowsPerSec)
	gopts.infof("run: inventory in %s\n", filepath.Join(opts.out, "inventory.csv"))
	if !opts.noReport {
		if err := writeMorningReport(ctx, gopts, "run", opts.out); err != nil {
			return err
		}
	}
	return count.err()
}

func (o runOptions) internalText() []string {
	if len(o.internal) > 0 {
		return o.internal
	}
	var out []string
	for _, p := range features.DefaultInternal() {
		out = append(out, p.String())
	}
	return out
}

// classifyBatch is how many downloads run classifies at a time.
const classifyBatch = 4096

// classifyAll classifies ds into rs (rs[i] for ds[i]) on every core.
func classifyAll(cl *downloads.Classifier, ds []features.Download, rs []downloads.Result) {
	workers := min(runtime.GOMAXPROCS(0), max(len(ds)/256, 1))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ds); i += workers {
				rs[i] = cl.Classify(&ds[i])
			}
		}()
	}
	wg.Wait()
}

// topTalkers is how many of the busiest hosts get their per-minute
// traffic written.
const topTalkers = 10

// busiest are the n hosts with the most bytes in and out, busiest first.
func busiest(hosts []features.HostStats, n int) []features.HostStats {
	hs := slices.Clone(hosts)
	slices.SortStableFunc(hs, func(a, b features.HostStats) int {
		return cmp.Compare(b.BytesIn+b.BytesOut, a.BytesIn+a.BytesOut)
	})
	return hs[:min(n, len(hs))]
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
func runCatalog(ctx context.Context, m *downloads.Model, path string) (*catalog.Catalog, string, error) {
	if path == "" {
		return m.Catalog, "the model's catalog", nil
	}
	c, err := catalog.Load(ctx, path)
	if err != nil {
		return nil, "", err
	}
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
	for _, e := range c.Entries {
		if _, ok := m.Catalog.Lookup(e.Name); !ok {
			extra = append(extra, e.Name)
		}
	}
	if len(missing)+len(extra)+len(resized) > 0 {
		return nil, "", usagef("%s: the model was trained on another catalog (%d of its %d files missing here, %d files it lacks, %d sizes differ, e.g. %s): train a model on this catalog",
			path, len(missing), len(m.Catalog.Entries), len(extra), len(resized), firstOf(missing, extra, resized))
	}
	return c, path, nil
}

func firstOf(lists ...[]string) string {
	for _, l := range lists {
		if len(l) > 0 {
			return l[0]
		}
	}
	return ""
}

// ttlText says what the exporter recorded of a host's TTLs.
func ttlText(h features.HostStats) string {
	if len(h.TTLs) == 0 {
		return "not recorded"
	}
	t := h.TTLs[0].TTL
	return fmt.Sprintf("%d (initial %d)", t, features.InitialTTL(t))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// checkRunOutputs refuses a run whose output directory or history database
// is also one of its inputs (a flow file, the model, the catalog), or whose
// output directory holds an input, before anything is read.
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
	for _, f := range files {
		if af, err := filepath.Abs(f); err == nil && within(af, absOut) {
			return usagef("--out %s holds the input %s: write the night's results elsewhere", out, f)
		}
	}
	if useDB {
		if err := checkNotInput(db, append(slices.Clone(files), more...)); err != nil {
			return usagef("--db: %v", err)
		}
	}
	return nil
}

// within reports whether path lies inside dir.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}
