package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/history"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/floods"
	"github.com/fingerflow/fingerflow/models/nightly"
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
	sc := scans.DefaultConfig()
	sc.Theta0, sc.Theta1, sc.Alpha, sc.Beta = opts.theta0, opts.theta1, opts.alpha, opts.beta
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
	acfg := nightly.AnalyticsConfig{Floods: &fc, Scans: &sc}
	if (opts.record || opts.night != "") && opts.db == "" {
		return usagef("--record and --night are about the history database: give --db")
	}
	var db *history.DB
	if opts.db != "" {
		uc := unexpected.DefaultConfig()
		uc.Interval, uc.Z, uc.MinCount, uc.Threshold = opts.interval, opts.z, opts.minCount, opts.unexpected
		uc.Internal = hc.Internal
		acfg.Unexpected = &uc
	}
	an, err := nightly.NewAnalytics(acfg)
	if err != nil {
		return usagef("%v", err)
	}
	if opts.db != "" {
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
	in, err := expandInputs(ctx, args, gopts.stderr)
	if err != nil {
		return err
	}
	if err := in.Prune(flt); err != nil {
		return err
	}
	// The detectors follow time: they read in file order, each on its own
	// goroutine.
	consumers := append([]func([]datasets.Flow) error{nightly.Each(agg.Add)}, an.Consumers()...)
	st, err := nightly.Feed(ctx, fileSource(gopts, in, flt, opts.workers), consumers...)
	if err != nil {
		return err
	}
	flows := st.Kept
	if err := noneRead(st); err != nil {
		return err
	}
	if err := st.WindowErr(flt); err != nil {
		return err
	}
	first, last := an.Span()
	night := history.NightKey(first, last)
	if opts.night != "" {
		night = opts.night
	}
	alarms, err := an.Alarms(ctx, db, night, opts.nights, agg.Hosts())
	if err != nil {
		return err
	}
	rep := reports.Detect{Alarms: alarms, UnexpectedShown: opts.shown}
	switch {
	case db == nil:
		rep.UnexpectedSkipped = "no history database given (--db)"
	case flows == 0:
		rep.UnexpectedSkipped, rep.Unexpected, rep.Baseline = "no flows", nil, nil
	case rep.UnexpectedSkipped != "":
		rep.UnexpectedSkipped = fmt.Sprintf("%s in %s", rep.UnexpectedSkipped, opts.db)
	}
	if opts.record && flows > 0 {
		if err := recordRates(cmd, opts, db, an, night, first, last, st, flows, started); err != nil {
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
	gopts.infof("detect: %s read, %d skipped; %d flows; %d floods, %d scans, %d unexpected rates in %.2fs\n",
		quantity(st.Files-st.Skipped, "file", "files"), st.Skipped, flows, len(rep.Floods), len(rep.Scans), len(rep.Unexpected), time.Since(started).Seconds())
	return st.Err()
}

// recordRates stores the run's rates in db as the night night, unless a
// night with its key is there.
func recordRates(cmd *cobra.Command, opts detectOptions, db *history.DB, an *nightly.Analytics, night string, first, last time.Time, st datasets.ReadStats, flows uint64, started time.Time) error {
	ctx := cmd.Context()
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
	return db.WriteRun(ctx, history.Run{
		Info: history.RunInfo{
			Night: night, FirstFlow: first, LastFlow: last, Started: started, Finished: time.Now(),
			Flows: flows, FilesRead: st.Files - st.Skipped, FilesSkipped: st.Skipped, Version: version,
		},
		Metrics: an.Metrics(),
	})
}
