package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
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
	sweep     bool
	adapt     bool
}

func newEvaluateCommand(gopts *globalOptions) *cobra.Command {
	opts := evaluateOptions{adapt: true}
	cmd := &cobra.Command{
		Use:   "evaluate --model MODEL.ffm --flows FLOWS --labels LABELS...",
		Short: "Score a model on labelled flows, beside the published byte-count method",
		Long: `evaluate classifies every labelled download of the test runs and prints:
the share of catalog downloads named correctly, the share of downloads of
files outside the catalog answered "unknown", the catalog files recovered
from connections that carried several files, and the same figures for the
published method (a decision tree on flow bytes alone) trained on the same
data as the model. The most frequent confusions follow; --per-file adds
precision and recall for every file.

Lab runs hold few downloads of files outside the catalog, so evaluate also
moves every catalog download to a random size between half and one and a
half times its own (same packets per byte, same losses) and reports how
many of these simulated unknown downloads are answered "unknown".
--sweep scores every threshold the model's verifier can tell apart, to
choose the trade between names and rejections (--threshold of train,
classify and evaluate).

As classify does, evaluate first learns each server's payload offset from
the run's own downloads (a server whose headers or certificate differ from
the lab server's) and says which offsets it adopts; --adapt=false scores
the model as trained.`,
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
	f.BoolVar(&opts.sweep, "sweep", false, "also score every verifier threshold (all runs together), to choose --threshold")
	f.BoolVar(&opts.adapt, "adapt", true, "learn each server's payload offset from the run's downloads first")
	return cmd
}

func runEvaluate(ctx context.Context, opts evaluateOptions, gopts *globalOptions) error {
	if opts.model == "" {
		return usagef("evaluate: --model MODEL.ffm is needed")
	}
	if err := checkFlags(flagCheck{opts.confusion >= 0, "--confusions", opts.confusion, "0 or more"}); err != nil {
		return err
	}
	if err := checkThreshold(opts.threshold); err != nil {
		return err
	}
	runs, err := pairRuns(opts.flows, opts.labels)
	if err != nil {
		return err
	}
	if err := expandRuns(ctx, gopts, runs, ""); err != nil {
		return err
	}
	m, err := loadModel(ctx, opts.model)
	if err != nil {
		return err
	}
	w := gopts.stdout
	var total []*downloads.Report
	var sweep []downloads.SweepPoint
	var perRun []reports.RunResult
	var points []reports.RetransmissionPoint
	labelled := 0
	var count datasets.ReadStats
	cl := m.Classifier(downloads.Options{Threshold: opts.threshold})
	for _, run := range runs {
		// The model's catalog checks the labels: a catalog download of a
		// file the model does not know could never be named right.
		ex, n, err := loadExamples(ctx, gopts, []labelledRun{run}, m.Catalog)
		count.Add(n)
		if err != nil {
			return err
		}
		labelled += len(ex)
		name := filepath.Base(run.flows)
		rc := cl
		if opts.adapt {
			ds := make([]features.Download, len(ex))
			for i := range ex {
				ds[i] = ex[i].Download
			}
			offs, err := m.Adapt(ctx, ds)
			if err != nil {
				return err
			}
			rc = m.Classifier(downloads.Options{Threshold: opts.threshold, Offsets: offs})
			if err := reports.WriteOffsets(w, name, offs); err != nil {
				return err
			}
		}
		unclaimed := uncalibratedPorts{}
		for i := range ex {
			unclaimed.add(rc, &ex[i].Download)
		}
		if err := unclaimed.report(w, name); err != nil {
			return err
		}
		if opts.sweep {
			sp, err := rc.Sweep(ctx, ex)
			if err != nil {
				return err
			}
			sweep = mergeSweep(sweep, sp)
		}
		r, err := downloads.EvaluateFunc(ctx, "fingerflow", rc, ex, func(e *downloads.Example, res downloads.Result) {
			if opts.report != "" {
				if p, ok := retransmissionPoint(m, name, e, res); ok {
					points = append(points, p)
				}
			}
		})
		if err != nil {
			return err
		}
		rs := []*downloads.Report{r}
		if m.Baseline != nil {
			b, err := downloads.Evaluate(ctx, "bytes-only tree (published method)", m.Baseline, ex)
			if err != nil {
				return err
			}
			rs = append(rs, b)
		}
		if total == nil {
			for _, r := range rs {
				t := &downloads.Report{Name: r.Name, Confusion: map[[2]string]int{}}
				total = append(total, t)
			}
		}
		for i, r := range rs {
			total[i].Merge(r)
		}
		perRun = append(perRun, reportRun(run.flows, rs))
		if len(runs) > 1 {
			fmt.Fprintf(w, "%s (%d labelled downloads):\n", run.flows, len(ex))
			if err := reports.WriteTable(w, rs...); err != nil {
				return err
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "%d labelled downloads from %d %s; model %s (fingerflow %s, %d catalog files)\n",
		labelled, len(runs), plural(len(runs), "run", "runs"), opts.model, m.Summary.Version, len(m.Catalog.Entries))
	if err := reports.WriteTable(w, total...); err != nil {
		return err
	}
	if len(runs) > 1 {
		fmt.Fprintf(w, "\nper run:\n")
		if err := reports.WriteRunSummary(w, runNames(runs), perRunReports(perRun)); err != nil {
			return err
		}
	}
	if opts.sweep {
		fmt.Fprintf(w, "\nthreshold sweep (fingerflow, all runs; * the model's threshold):\n")
		if err := reports.WriteSweep(w, sweep, len(m.Verifier.Trees), cl.Threshold()); err != nil {
			return err
		}
	}
	if opts.confusion > 0 {
		fmt.Fprintf(w, "\nmost frequent confusions (fingerflow):\n")
		if err := reports.WriteConfusions(w, total[0], opts.confusion); err != nil {
			return err
		}
	}
	if opts.perFile {
		fmt.Fprintf(w, "\nper file (fingerflow):\n")
		if err := reports.WritePerFile(w, total[0]); err != nil {
			return err
		}
	}
	if opts.report != "" {
		if err := writeEvaluationReport(opts.report, withTotal(perRun, total), points...); err != nil {
			return err
		}
	}
	return count.Err()
}

// retransmissionPoint places a named single-file download on the retransmission
// chart: its payload beyond the named file's expected payload, as a share of
// that file's size.
func retransmissionPoint(m *downloads.Model, run string, ex *downloads.Example, res downloads.Result) (reports.RetransmissionPoint, bool) {
	if res.Unknown() || len(ex.Files) != 1 {
		return reports.RetransmissionPoint{}, false
	}
	e, ok := m.Catalog.Lookup(res.Files[0])
	if !ok || e.Size == 0 {
		return reports.RetransmissionPoint{}, false
	}
	return reports.RetransmissionPoint{
		Run:     run,
		Extra:   float64(res.Extra) / float64(e.Size),
		Correct: len(res.Files) == 1 && res.Files[0] == ex.Files[0],
	}, true
}

func runNames(runs []labelledRun) []string {
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = filepath.Base(r.flows)
	}
	return names
}

func perRunReports(runs []reports.RunResult) [][]*downloads.Report {
	out := make([][]*downloads.Report, len(runs))
	for i, r := range runs {
		out[i] = r.Reports
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// mergeSweep adds a run's sweep to the total, point by point (every run is
// swept over the same thresholds).
func mergeSweep(total, run []downloads.SweepPoint) []downloads.SweepPoint {
	if total == nil {
		for _, p := range run {
			total = append(total, downloads.SweepPoint{Threshold: p.Threshold, Votes: p.Votes,
				Report: &downloads.Report{Name: p.Report.Name, Confusion: map[[2]string]int{}}})
		}
	}
	for i, p := range run {
		total[i].Report.Merge(p.Report)
	}
	return total
}
