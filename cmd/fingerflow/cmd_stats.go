package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/models/talkers"
	"github.com/fingerflow/fingerflow/reports"
)

// statsOptions are the flags of `fingerflow stats`.
type statsOptions struct {
	stats   []string
	n       int
	sources int
	json    bool
	workers int
	filterOptions
}

// defaultStats are the statistics of a full report.
var defaultStats = []string{"srcip/bytes", "dstip/bytes", "dstport/bytes", "proto/bytes", "record/bytes"}

func newStatsCommand(gopts *globalOptions) *cobra.Command {
	var opts statsOptions
	cmd := &cobra.Command{
		Use:   "stats PATH... [-s STAT/ORDER ...] [-n N]",
		Short: "Top talkers, per-source durations, traffic rates and flow lifespans",
		Long: `stats reads every flow of every input (files, directories, glob patterns)
that passes the filters and prints:

  - top N statistics like nfdump -s, with the same numbers: STAT is srcip,
    dstip, ip (either address), srcport, dstport, port (either port), proto
    or record (the conversation: protocol, addresses, ports); ":p" splits
    it by protocol; ORDER is flows (the default), packets, bytes, pps, bps
    or bpp, several separated by "/";
  - the source addresses with the longest accumulated flow duration (T)
    and their flow count (C), top --sources.

Without -s every section is printed, with the statistics ` + fmt.Sprint(defaultStats) + `;
with -s only the statistics asked for, plus the sections whose flags are
given. Files are decoded on --workers goroutines and counted in file order,
so the numbers do not depend on the number of workers.

Files that cannot be read are reported on stderr, one line each, and
skipped; the exit status is then 3.`,
		Example: `  fingerflow stats datasets/lab-attack/lab-attack.v9
  fingerflow stats /var/cache/nfdump/2027/01/11 -s srcip/bytes -s dstport:p/flows/bytes -n 20`,
		Args: atLeastOnePath,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStats(cmd, opts, gopts, args)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.stats, "stat", "s", nil, "statistic STAT[:p][/ORDER...] as nfdump's -s; repeatable")
	f.IntVarP(&opts.n, "top", "n", 10, "entries per statistic (0: all)")
	f.IntVar(&opts.sources, "sources", 100, "source addresses in the duration (T) and count (C) table (0: none)")
	f.BoolVar(&opts.json, "json", false, "print one JSON document instead of tables")
	f.IntVar(&opts.workers, "workers", 0, "files decoded at once (0: one per processor)")
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
	if opts.n < 0 {
		return usagef("-n %d: want 0 (all) or more", opts.n)
	}
	if opts.sources < 0 {
		return usagef("--sources %d: want 0 (none) or more", opts.sources)
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
	run, err := newFlowRun(ctx, gopts, args, flt, opts.workers)
	if err != nil {
		return err
	}
	// Each worker counts the files it decodes; the tables are merged.
	tabs := make([]*talkers.Table, run.reader.WorkerCount())
	for i := range tabs {
		if tabs[i], err = talkers.New(cfg); err != nil {
			return usagef("%v", err)
		}
	}
	if err := run.fold(ctx, func(w int, b []datasets.Flow) error {
		tabs[w].AddBatch(b)
		return nil
	}); err != nil {
		return err
	}
	tab := tabs[0]
	for _, o := range tabs[1:] {
		if err := tab.Merge(o); err != nil {
			return err
		}
	}
	count := run.count
	res := tab.Result()
	rep := reports.Stats{Talkers: &res}
	if opts.json {
		err = reports.WriteStatsJSON(gopts.stdout, rep)
	} else {
		err = reports.WriteStatsText(gopts.stdout, rep)
	}
	if err != nil {
		return err
	}
	gopts.infof("stats: %d files read, %d skipped; %d flows in %.2fs\n",
		count.total-count.skipped, count.skipped, res.Totals.Flows, time.Since(started).Seconds())
	return count.err()
}
