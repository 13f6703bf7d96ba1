package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/reports"
)

// reportConfusionFiles is how many files the confusion heat map shows.
const reportConfusionFiles = 25

// reportRun names one run's reports for the report: the flow files' base
// name (test-near.v9), which is what sets runs apart on a chart.
func reportRun(flows string, rs []*downloads.Report) reports.RunResult {
	return reports.RunResult{Name: filepath.Base(filepath.Clean(flows)), Reports: rs}
}

// withTotal appends the evaluation over all runs when there are several.
func withTotal(runs []reports.RunResult, total []*downloads.Report) []reports.RunResult {
	if len(runs) == 1 {
		return runs
	}
	return append(runs, reports.RunResult{Name: "all runs", Reports: total})
}

// writeEvaluationReport writes the charts and the HTML report of an
// evaluation into dir, creating it: accuracy.png and accuracy.svg (every
// run, fingerflow beside the bytes-only method), confusion.png
// (fingerflow's confusions on the last run, which is all runs together
// when there are several), extra.png when points are given (retransmission
// overhead of right and wrong answers), report.html, which inlines the
// PNG charts and needs nothing else, and evaluation.json, the figures
// behind the charts, from which the morning report of a run directory
// holding them (RUN_OUTDIR/evaluation) draws them again.
func writeEvaluationReport(dir string, runs []reports.RunResult, points ...reports.RetransmissionPoint) error {
	if len(runs) == 0 {
		return fmt.Errorf("report %s: no runs evaluated", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	charts := map[string][]byte{}
	draw := func(name, format string, f func(b *bytes.Buffer) error) error {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			return fmt.Errorf("report %s: %s: %w", dir, name, err)
		}
		if format == "png" {
			charts[name] = b.Bytes()
		}
		path := filepath.Join(dir, name+"."+format)
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		return nil
	}
	for _, format := range []string{"png", "svg"} {
		if err := draw("accuracy", format, func(b *bytes.Buffer) error { return reports.AccuracyChart(b, format, runs) }); err != nil {
			return err
		}
	}
	last := runs[len(runs)-1]
	if len(last.Reports) > 0 && len(last.Reports[0].Confusion) > 0 {
		if err := draw("confusion", "png", func(b *bytes.Buffer) error {
			return reports.ConfusionHeatmap(b, "png", last.Reports[0], reportConfusionFiles)
		}); err != nil {
			return err
		}
	}
	if len(points) > 0 {
		if err := draw("extra", "png", func(b *bytes.Buffer) error { return reports.RetransmissionChart(b, "png", points) }); err != nil {
			return err
		}
	}
	var data bytes.Buffer
	if err := reports.WriteEvaluationJSON(&data, runs, points); err != nil {
		return fmt.Errorf("report %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, reports.EvaluationFile), data.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var page bytes.Buffer
	if err := reports.WriteHTML(&page, "fingerflow evaluation", runs, charts); err != nil {
		return fmt.Errorf("report %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.html"), page.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
