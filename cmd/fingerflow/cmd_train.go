package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/reports"
)

// trainOptions are the flags of `fingerflow train`.
type trainOptions struct {
	flows      []string
	calibrate  []string
	labels     []string
	catalog    string
	out        string
	synthesize int
	// synthesizeSet says --synthesize was given; its default depends on
	// --calibrate.
	synthesizeSet bool
	augment       int
	trees         int
	seed          uint64
	threshold     float64
	maxFiles      int
	maxExtra      float64
}

func newTrainCommand(gopts *globalOptions) *cobra.Command {
	var opts trainOptions
	cmd := &cobra.Command{
		Use:   "train --catalog CATALOG (--flows FLOWS | --calibrate FLOWS) --labels LABELS... --out MODEL.ffm",
		Short: "Train a download classifier from labelled lab flows and a catalog",
		Long: `train learns how catalog files show up in flow records and writes a model
file for classify and evaluate.

With --flows, every labelled download of the lab runs is a training example
(give one --labels file per --flows, in the same order). Labels are either
the lab format (client_ip,client_port,...,file,... per download) or an
ordered list of downloaded files (one file name per line, optionally
"file,start"), matched to the run's downloads by start time.

With --calibrate, a small labelled lab run (whose files need not be in the
catalog) teaches the network's overhead (header bytes per packet, segment
size, HTTP/TLS framing, how retransmissions inflate counts) and training
downloads are synthesised for every catalog entry: train on a catalog of
thousands of packages without downloading them all.

The catalog is a CSV (file/name, size, optional product, version, os, url),
a Debian Packages index (plain or .gz) or an RPM primary.xml (plain or .gz).`,
		Example: `  fingerflow train --catalog datasets/lab-dev/cat.csv \
      --flows datasets/lab-dev/train-near.v9 --labels datasets/lab-dev/train-near.labels.csv \
      --flows datasets/lab-dev/train-https.v9 --labels datasets/lab-dev/train-https.labels.csv \
      --out lab.ffm
  fingerflow train --catalog datasets/catalogs/debian-bookworm-security-amd64.Packages.gz \
      --calibrate datasets/lab-dev/train-near.v9 --labels datasets/lab-dev/train-near.labels.csv \
      --out debian.ffm`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.synthesizeSet = cmd.Flags().Changed("synthesize")
			return runTrain(cmd.Context(), opts, gopts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.flows, "flows", nil, "labelled lab flows (file, directory or glob); repeatable, one per --labels")
	f.StringArrayVar(&opts.calibrate, "calibrate", nil, "small labelled lab run to calibrate overhead from; training downloads are then synthesised for every catalog entry")
	f.StringArrayVar(&opts.labels, "labels", nil, "ground truth for the matching --flows/--calibrate run; repeatable")
	f.StringVar(&opts.catalog, "catalog", "", "catalog of known files (CSV, Debian Packages, RPM primary.xml); required")
	f.StringVarP(&opts.out, "out", "o", "", "model file to write; required")
	f.IntVar(&opts.synthesize, "synthesize", 0, "synthetic downloads per catalog entry (default 3 with --calibrate, 0 with --flows)")
	f.IntVar(&opts.augment, "augment", downloads.DefaultTrainOptions().Augment, "lossier copies made of every labelled download")
	f.IntVar(&opts.trees, "trees", downloads.DefaultVerifierConfig().Trees, "golearn CART trees in the verifier bag")
	f.Uint64Var(&opts.seed, "seed", 1, "random seed (same inputs and seed give the same model file)")
	f.Float64Var(&opts.threshold, "threshold", downloads.DefaultParams().Threshold, "verifier score needed to name a file (higher: fewer wrong names, more unknowns)")
	f.IntVar(&opts.maxFiles, "max-files", downloads.DefaultParams().MaxFiles, "most files searched for in one connection (1: no multi-file search)")
	f.Float64Var(&opts.maxExtra, "max-extra", downloads.DefaultParams().MaxExtra, "largest share of a file's size retransmissions may add (lossy paths need more; more admits more chance matches)")
	return cmd
}

// Bounds of train's numeric flags: more trees only slow training and
// classification, and every copy of a download costs memory.
const (
	maxTrees  = 1000
	maxCopies = 100
)

func runTrain(ctx context.Context, opts trainOptions, gopts *globalOptions) error {
	started := time.Now()
	// Checked here rather than with cobra's MarkFlagRequired, whose error
	// is not a usage error (exit status 2).
	if opts.catalog == "" {
		return usagef("train: --catalog CATALOG is needed")
	}
	if opts.out == "" {
		return usagef("train: --out MODEL.ffm is needed")
	}
	if len(opts.flows) > 0 && len(opts.calibrate) > 0 {
		return usagef("give --flows or --calibrate, not both")
	}
	runsFlows := opts.flows
	synth := opts.synthesize
	if len(opts.calibrate) > 0 {
		runsFlows = opts.calibrate
		if !opts.synthesizeSet {
			synth = 3
		}
	}
	// Every number is checked before any work: a bad one used to panic,
	// write a model classify refuses, or exhaust memory.
	if err := checkFlags(
		flagCheck{opts.trees >= 1 && opts.trees <= maxTrees, "--trees", opts.trees, fmt.Sprintf("1 to %d", maxTrees)},
		flagCheck{opts.augment >= 0 && opts.augment <= maxCopies, "--augment", opts.augment, fmt.Sprintf("0 to %d", maxCopies)},
		flagCheck{synth >= 0 && synth <= maxCopies, "--synthesize", opts.synthesize, fmt.Sprintf("0 to %d", maxCopies)},
		flagCheck{opts.threshold > 0 && opts.threshold <= 1, "--threshold", opts.threshold, "a share in (0, 1]"},
		flagCheck{opts.maxFiles >= 1 && opts.maxFiles <= 8, "--max-files", opts.maxFiles, "1 to 8"},
		flagCheck{opts.maxExtra > 0 && opts.maxExtra <= 1, "--max-extra", opts.maxExtra, "a share in (0, 1]"},
	); err != nil {
		return err
	}
	runs, err := pairRuns(runsFlows, opts.labels)
	if err != nil {
		return err
	}
	if err := expandRuns(ctx, gopts, runs, opts.out, opts.catalog); err != nil {
		return err
	}
	// The model file is started before the work, so an output directory
	// that cannot be written is reported now, not after training.
	tmp, err := createAtomic(opts.out)
	if err != nil {
		return err
	}
	defer tmp.Abort()
	cat, err := catalog.Load(ctx, opts.catalog)
	if err != nil {
		return err
	}
	var check *catalog.Catalog
	if len(opts.calibrate) == 0 {
		check = cat // lab labels must name catalog files; calibration runs need not
	}
	examples, count, err := loadExamples(ctx, gopts, runs, check)
	if err != nil {
		return err
	}
	to := downloads.DefaultTrainOptions()
	to.Synthesize = synth
	to.Augment = opts.augment
	to.Seed = opts.seed
	to.Verifier.Seed = opts.seed
	to.Verifier.Trees = opts.trees
	to.Params.Threshold = opts.threshold
	to.Params.MaxFiles = opts.maxFiles
	to.Params.MaxExtra = opts.maxExtra
	m, err := downloads.Train(ctx, examples, cat, to)
	if err != nil {
		return err
	}
	m.Summary.Version = version
	// Base names only: the same inputs give the same model file wherever
	// they are.
	for _, r := range runs {
		m.Summary.Sources = append(m.Summary.Sources, filepath.Base(r.flows), filepath.Base(r.labels))
	}
	m.Summary.Sources = append(m.Summary.Sources, filepath.Base(opts.catalog))
	if _, err := m.WriteTo(tmp); err != nil {
		return err
	}
	if err := tmp.Commit(); err != nil {
		return err
	}
	if !gopts.quiet {
		if err := reports.WriteTraining(gopts.stdout, m, opts.out, time.Since(started)); err != nil {
			return err
		}
	}
	return count.Err()
}
