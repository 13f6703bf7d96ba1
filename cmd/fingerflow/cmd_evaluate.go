package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/models"
	"github.com/fingerflow/fingerflow/reports"
)

// evaluateOptions are the flags of `fingerflow evaluate`.
type evaluateOptions struct {
	model     string
	flows     []string
	labels    []string
	perFile   bool
	confusion int
	threshold float64
	report    string
}

func newEvaluateCommand(gopts *globalOptions) *cobra.Command {
	var opts evaluateOptions
	cmd := &cobra.Command{
		Use:   "evaluate --model MODEL.ffm --flows FLOWS --labels LABELS...",
		Short: "Score a model on labelled flows, beside the published byte-count method",
		Long: `evaluate classifies every labelled download of the test runs and prints:
the share of catalog downloads named correctly, the share of downloads of
files outside the catalog answered "unknown", the catalog files recovered
from connections that carried several files, and the same figures for the
published method (a decision tree on flow bytes alone) trained on the same
data as the model. The most frequent confusions follow; --per-file adds
precision and recall for every file.`,
		Example: `  fingerflow evaluate --model lab.ffm \
      --flows datasets/lab-dev/test-near.v9 --labels datasets/lab-dev/test-near.labels.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvaluate(cmd.Context(), opts, gopts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.model, "model", "m", "", "model file from fingerflow train; required")
	f.StringArrayVar(&opts.flows, "flows", nil, "test flows (file, directory or glob); repeatable, one per --labels")
	f.StringArrayVar(&opts.labels, "labels", nil, "ground truth for the matching --flows; repeatable")
	f.BoolVar(&opts.perFile, "per-file", false, "print precision and recall for every file")
	f.IntVar(&opts.confusion, "confusions", 15, "most frequent confusions to print")
	f.Float64Var(&opts.threshold, "threshold", 0, "override the model's verifier threshold")
	f.StringVar(&opts.report, "report", "", "write charts and an HTML report to DIR")
	return cmd
}

func runEvaluate(ctx context.Context, opts evaluateOptions, gopts *globalOptions) error {
	if opts.model == "" {
		return usagef("evaluate: --model MODEL.ffm is needed")
	}
	runs, err := pairRuns(opts.flows, opts.labels)
	if err != nil {
		return err
	}
	m, err := models.Load(opts.model)
	if err != nil {
		return err
	}
	if err := overrideThreshold(m, opts.threshold); err != nil {
		return err
	}
	w := gopts.stdout
	var examples []models.Example
	var perRun []reports.RunResult
	skipped := 0
	for _, run := range runs {
		ex, bad, err := loadExamples(ctx, gopts, []labelledRun{run}, nil)
		skipped += bad
		if err != nil {
			return err
		}
		examples = append(examples, ex...)
		if opts.report != "" {
			perRun = append(perRun, reportRun(run.flows, evaluateBoth(m, ex)))
		}
		if len(runs) > 1 {
			fmt.Fprintf(w, "%s (%d labelled downloads):\n", run.flows, len(ex))
			if err := models.WriteTable(w, evaluateBoth(m, ex)...); err != nil {
				return err
			}
			fmt.Fprintln(w)
		}
	}
	reports := evaluateBoth(m, examples)
	fmt.Fprintf(w, "%d labelled downloads from %d runs; model %s (fingerflow %s, %d catalog files)\n",
		len(examples), len(runs), opts.model, m.Summary.Version, len(m.Catalog.Entries))
	if err := models.WriteTable(w, reports...); err != nil {
		return err
	}
	if opts.confusion > 0 {
		fmt.Fprintf(w, "\nmost frequent confusions (fingerflow):\n")
		if err := reports[0].WriteConfusions(w, opts.confusion); err != nil {
			return err
		}
	}
	if opts.perFile {
		fmt.Fprintf(w, "\nper file (fingerflow):\n")
		if err := reports[0].WritePerFile(w); err != nil {
			return err
		}
	}
	if opts.report != "" {
		if err := writeEvaluationReport(opts.report, withTotal(perRun, reports)); err != nil {
			return err
		}
	}
	if skipped > 0 {
		return skippedError(skipped)
	}
	return nil
}

// evaluateBoth scores the model and, when the model carries it, the
// published byte-count tree trained on the same data.
func evaluateBoth(m *models.Model, examples []models.Example) []*models.Report {
	reports := []*models.Report{models.Evaluate("fingerflow", m, examples)}
	if m.Baseline != nil {
		reports = append(reports, models.Evaluate("bytes-only tree (published method)", m.Baseline, examples))
	}
	return reports
}
