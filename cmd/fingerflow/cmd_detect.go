package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/history"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/floods"
	"github.com/fingerflow/fingerflow/models/scans"
	"github.com/fingerflow/fingerflow/models/unexpected"
	"github.com/fingerflow/fingerflow/reports"
)

// detectOptions are the flags of `fingerflow detect`.
type detectOptions struct {
	thresholds    []string
	privateBogons bool
	maxAlarms     int
	notBogons     []string
	theta0        float64
	theta1        float64
	alpha, beta   float64
	db            string
	nights        int
	record        bool
	night         string
	interval      time.Duration
	z             float64
	minCount      float64
	unexpected    float64
	shown         int
	internal      []string
	json          bool
	workers       int
	filterOptions
}

func newDetectCommand(gopts *globalOptions) *cobra.Command {
	var opts detectOptions
	fc, sc, uc := floods.DefaultConfig(), scans.DefaultConfig(), unexpected.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "detect PATH... [--db FILE]",
		Short: "Floods, bogon sources, scans and unexpected rates in flow records",
		Long: `detect reads every flow of every input (files, directories, glob patterns)
that passes the filters, in time order, and reports:

  - floods and DoS signatures: SYN floods (SYN packets that never complete a
    handshake, per destination port), RST and FIN floods (bare RSTs or FINs),
    UDP and ICMP floods (packet rates per destination) and traffic from bogon
    sources (special-purpose ranges, RFC 6890); each alarm with its
    destination, start, end, peak and mean rate, top sources and whether
    the sources look spoofed. A signature alarms when its packets to one
    destination reach RATE a second, in an episode of at least PACKETS
    packets (--threshold SIGNATURE=RATE/PACKETS);
  - scans and sweeps, decided by a threshold random walk over each
    source's first contacts (Jung et al. 2004): one source to many hosts
    (horizontal) or to many ports of one host (vertical);
  - with --db, services (a server and port) whose flow or packet rates are
    unexpected against the earlier nights of the history database:
    U·La/(Ln+La), U the peak standardised excess over the nights' mean,
    La and Ln the anomalous and normal intervals (the output states every
    input); --record stores this run's rates as a night for later runs;
  - the service profile: which internal hosts answer on which ports.

Files that cannot be read are reported on stderr, one line each, and
skipped; the exit status is then 3.`,
		Example: `  fingerflow detect datasets/lab-attack/lab-attack.v9
  fingerflow detect /var/cache/nfdump/2027/01/11 --db fingerflow.db --record
  fingerflow detect DIR --threshold syn-flood=50/200 --not-bogon 198.18.0.0/15 --json`,
		Args: atLeastOnePath,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDetect(cmd, opts, gopts, args)
		},
	}
	f := cmd.Flags()
	var defaults []string
	for s := floods.Signature(0); s < floods.NumSignatures; s++ {
		t := fc.Thresholds[s]
		defaults = append(defaults, fmt.Sprintf("%s=%g/%g", s, t.MinRate, t.MinPackets))
	}
	f.StringArrayVar(&opts.thresholds, "threshold", nil, "SIGNATURE=RATE/PACKETS[/GAP]: packets a second, packets an episode, quiet seconds bridged; repeatable (defaults "+strings.Join(defaults, ", ")+")")
	f.IntVar(&opts.maxAlarms, "max-alarms", fc.MaxAlarms, "flood alarms kept per signature (those with the most packets; the others are counted)")
	f.BoolVar(&opts.privateBogons, "private-bogons", false, "count private sources (RFC 1918, fc00::/7) as bogons: for flows at an Internet edge")
	f.StringSliceVar(&opts.notBogons, "not-bogon", nil, "a special-purpose range the site uses (CIDR); repeatable")
	f.Float64Var(&opts.theta0, "theta0", sc.Theta0, "scan test: chance that a benign host's first contact succeeds")
	f.Float64Var(&opts.theta1, "theta1", sc.Theta1, "scan test: chance that a scanner's first contact succeeds")
	f.Float64Var(&opts.alpha, "alpha", sc.Alpha, "scan test: highest share of benign sources called scanners")
	f.Float64Var(&opts.beta, "beta", sc.Beta, "scan test: highest share of scanners missed")
	f.StringVar(&opts.db, "db", "", "history database whose earlier nights give the rates' baseline")
	f.IntVar(&opts.nights, "nights", 14, "baseline: the latest N earlier nights (0: all)")
	f.BoolVar(&opts.record, "record", false, "store this run's rates in --db as a night (unless a night with its key is there)")
	f.StringVar(&opts.night, "night", "", "the run's night key in --db (default: the UTC date of its flows, as nightly runs key them); keys sort in time order")
	f.DurationVar(&opts.interval, "interval", uc.Interval, "unexpectedness: counting interval")
	f.Float64Var(&opts.z, "z", uc.Z, "unexpectedness: standardised excess of an anomalous interval")
	f.Float64Var(&opts.minCount, "min-count", uc.MinCount, "unexpectedness: least count an anomalous interval has")
	f.Float64Var(&opts.unexpected, "unexpected", uc.Threshold, "unexpectedness that is an alarm")
	f.IntVar(&opts.shown, "show", 20, "unexpectedness alarms listed (0: all; --json lists all)")
	f.StringSliceVar(&opts.internal, "internal", nil, "the site's networks: their servers' services and rates (CIDR; repeatable; default RFC 1918 and fc00::/7)")
	f.BoolVar(&opts.json, "json", false, "print one JSON document")
	f.IntVar(&opts.workers, "workers", 0, "files decoded at once (0: one per processor)")
	addFilterFlags(f, &opts.filterOptions)
	return cmd
}

// parseThreshold reads SIGNATURE=RATE/PACKETS[/GAP] into cfg.
func parseThreshold(cfg *floods.Config, s string) error {
	name, val, ok := strings.Cut(s, "=")
	sig, known := floods.ParseSignature(strings.TrimSpace(name))
	parts := strings.Split(val, "/")
	if !ok || !known || len(parts) < 2 || len(parts) > 3 {
		return usagef("--threshold %q: want SIGNATURE=RATE/PACKETS[/GAP] with SIGNATURE one of syn-flood, rst-flood, fin-flood, udp-flood, icmp-flood, bogon-source", s)
	}
	t := cfg.Thresholds[sig]
	var err error
	if t.MinRate, err = strconv.ParseFloat(parts[0], 64); err != nil || !(t.MinRate > 0) {
		return usagef("--threshold %q: rate %q is not a number above 0", s, parts[0])
	}
	if t.MinPackets, err = strconv.ParseFloat(parts[1], 64); err != nil || t.MinPackets < 0 {
		return usagef("--threshold %q: packets %q is not a number", s, parts[1])
	}
	if len(parts) == 3 {
		if t.Gap, err = strconv.Atoi(parts[2]); err != nil || t.Gap < 0 {
			return usagef("--threshold %q: gap %q is not a number of seconds", s, parts[2])
		}
	}
	cfg.Thresholds[sig] = t
	return nil
}

func parsePrefixes(flag string, in []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range in {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, usagef("%s %q: not a CIDR prefix or address", flag, s)
		}
		out = append(out, p)
	}
	return out, nil
}

func runDetect(cmd *cobra.Command, opts detectOptions, gopts *globalOptions, args []string) error {
	ctx := cmd.Context()
	started := time.Now()
	flt, err := parseFilter(opts.filterOptions)
	if err != nil {
		return err
	}
	if err := checkFlags(
		flagCheck{opts.maxAlarms >= 1, "--max-alarms", opts.maxAlarms, "1 or more"},
		flagCheck{opts.theta0 > opts.theta1 && opts.theta0 < 1, "--theta0", opts.theta0, fmt.Sprintf("a chance below 1 and above --theta1 (%g)", opts.theta1)},
		flagCheck{opts.theta1 > 0 && opts.theta1 < opts.theta0, "--theta1", opts.theta1, fmt.Sprintf("a chance above 0 and below --theta0 (%g)", opts.theta0)},
		flagCheck{opts.alpha > 0 && opts.alpha < 0.5, "--alpha", opts.alpha, "a share above 0 and below 0.5"},
		flagCheck{opts.beta > 0 && opts.beta < 0.5, "--beta", opts.beta, "a share above 0 and below 0.5"},
		flagCheck{opts.interval >= time.Second && opts.interval%time.Second == 0, "--interval", opts.interval, "whole seconds, 1s or more"},
		flagCheck{opts.z > 0, "--z", opts.z, "a number above 0"},
		flagCheck{opts.minCount >= 0, "--min-count", opts.minCount, "0 or more"},
		flagCheck{opts.unexpected > 0, "--unexpected", opts.unexpected, "a number above 0"},
		flagCheck{opts.nights >= 0, "--nights", opts.nights, "0 (all) or more"},
		flagCheck{opts.shown >= 0, "--show", opts.shown, "0 (all) or more"},
		flagCheck{opts.workers >= 0, "--workers", opts.workers, wantWorkers},
	); err != nil {
		return err
	}
	fc := floods.DefaultConfig()
	for _, t := range opts.thresholds {
		if err := parseThreshold(&fc, t); err != nil {
			return err
		}
	}
	fc.PrivateBogons, fc.MaxAlarms = opts.privateBogons, opts.maxAlarms
	if fc.NotBogons, err = parsePrefixes("--not-bogon", opts.notBogons); err != nil {
		return err
	}
	fd, err := floods.New(fc)
	if err != nil {
		return usagef("%v", err)
	}
	sc := scans.DefaultConfig()
	sc.Theta0, sc.Theta1, sc.Alpha, sc.Beta = opts.theta0, opts.theta1, opts.alpha, opts.beta
	sd, err := scans.New(sc)
	if err != nil {
		return usagef("%v", err)
	}
	hc := features.DefaultHostConfig()
	if len(opts.internal) > 0 {
		if hc.Internal, err = parsePrefixes("--internal", opts.internal); err != nil {
			return err
		}
	}
	agg, err := features.NewHostAggregator(hc)
	if err != nil {
		return usagef("%v", err)
	}
	uc := unexpected.DefaultConfig()
	uc.Interval, uc.Z, uc.MinCount, uc.Threshold = opts.interval, opts.z, opts.minCount, opts.unexpected
	uc.Internal = hc.Internal
	var prof *unexpected.Profile
	var db *history.DB
	if (opts.record || opts.night != "") && opts.db == "" {
		return usagef("--record and --night are about the history database: give --db")
	}
	if opts.db != "" {
		if prof, err = unexpected.New(uc); err != nil {
			return usagef("%v", err)
		}
		if opts.record {
			db, err = history.Open(ctx, opts.db)
		} else {
			db, err = openHistory(ctx, opts.db)
		}
		if err != nil {
			return err
		}
		defer db.Close()
	}

	run, err := newFlowRun(ctx, gopts, args, flt, opts.workers)
	if err != nil {
		return err
	}
	var flows uint64
	// The detectors follow time: they read in file order, each on its own
	// goroutine (fanOut).
	consumers := []func(*datasets.Flow) error{
		func(f *datasets.Flow) error { fd.Add(f); return nil },
		func(f *datasets.Flow) error { sd.Add(f); return nil },
		func(f *datasets.Flow) error { agg.Add(f); return nil },
	}
	if prof != nil {
		consumers = append(consumers, func(f *datasets.Flow) error { prof.Add(f); return nil })
	}
	fo, fctx := newFanOut(ctx, consumers...)
	err = run.read(fctx, func(b []datasets.Flow) error {
		flows += uint64(len(b))
		for i := range b {
			if err := fo.add(&b[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if ferr := fo.close(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}

	if err := run.stats.windowErr(flt); err != nil {
		return err
	}
	eta0, eta1 := sd.Thresholds()
	rep := reports.Detect{
		Floods: fd.Alarms(), FloodConfig: fc, FloodsDropped: fd.Dropped(),
		Scans: sd.Alarms(), ScanConfig: sc, Eta0: eta0, Eta1: eta1,
		UnexpectedConfig: uc, UnexpectedShown: opts.shown,
		UnexpectedSkipped: "no history database given (--db)",
	}
	for _, h := range agg.Hosts() {
		if len(h.Services) > 0 {
			rep.Services = append(rep.Services, h)
		}
	}
	if prof != nil {
		if err := scoreUnexpected(cmd, opts, db, prof, &rep, run.stats.inputCount, flows, started); err != nil {
			return err
		}
	}
	if opts.json {
		err = reports.WriteDetectJSON(gopts.stdout, rep)
	} else {
		err = reports.WriteDetectText(gopts.stdout, rep)
	}
	if err != nil {
		return err
	}
	count := run.stats.inputCount
	gopts.infof("detect: %d files read, %d skipped; %d flows; %d floods, %d scans, %d unexpected rates in %.2fs\n",
		count.total-count.skipped, count.skipped, flows, len(rep.Floods), len(rep.Scans), len(rep.Unexpected), time.Since(started).Seconds())
	return count.err()
}

// scoreUnexpected learns the baseline from the nights in db before this
// run's, scores the run, and with --record stores the run's rates as its
// night.
func scoreUnexpected(cmd *cobra.Command, opts detectOptions, db *history.DB, prof *unexpected.Profile, rep *reports.Detect, count inputCount, flows uint64, started time.Time) error {
	ctx := cmd.Context()
	first, last := prof.Span()
	if flows == 0 {
		rep.UnexpectedSkipped = "no flows"
		return nil
	}
	night := history.NightKey(first, last)
	if opts.night != "" {
		night = opts.night
	}
	cfg := rep.UnexpectedConfig
	b, err := historyBaseline(ctx, db, cfg, night, opts.nights)
	if err != nil {
		return err
	}
	rep.Baseline = &b
	alarms, err := prof.Score(b)
	switch {
	case errors.Is(err, unexpected.ErrShortBaseline):
		rep.UnexpectedSkipped = fmt.Sprintf("%v in %s", err, opts.db)
	case err != nil:
		return err
	default:
		rep.UnexpectedSkipped = ""
		rep.Unexpected = alarms
	}
	if !opts.record {
		return nil
	}
	runs, err := db.Runs(ctx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Night == night {
			fmt.Fprintf(cmd.ErrOrStderr(), "detect: night %s is already in %s: its rates are left as they are\n", night, opts.db)
			return nil
		}
	}
	var metrics []history.Metric
	for _, m := range prof.Metrics() {
		metrics = append(metrics, history.Metric{Metric: m.Metric, Key: m.Key, Value: m.Value})
	}
	return db.WriteRun(ctx, history.Run{
		Info: history.RunInfo{
			Night: night, FirstFlow: first, LastFlow: last, Started: started, Finished: time.Now(),
			Flows: flows, FilesRead: count.total - count.skipped, FilesSkipped: count.skipped, Version: version,
		},
		Metrics: metrics,
	})
}

// historyBaseline learns the rates' baseline from the latest nights
// nights (all when it is 0) of db before night.
func historyBaseline(ctx context.Context, db *history.DB, cfg unexpected.Config, night string, nights int) (unexpected.Baseline, error) {
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
