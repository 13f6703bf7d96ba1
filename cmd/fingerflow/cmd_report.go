package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/reports"
)

func newReportCommand(gopts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "report RUN_OUTDIR",
		Short: "Write the morning report of a nightly run: one HTML page, charts as PNG and SVG",
		Long: `report reads the files fingerflow run wrote into RUN_OUTDIR and writes beside
them report.html, a page that opens from disk and loads nothing from
elsewhere: traffic over time, top talkers, host clusters, downloads against
the catalog, OS families, update coverage and what is new since the previous
night, and the inventory, downloads and skipped files as tables to filter
and sort. Every chart is also written as NAME.png and NAME.svg, and
coverage.csv lists which hosts of each entry's OS did and did not fetch it.

fingerflow run writes the report at its end (unless --no-report); report
writes it again from the directory alone. When the directory holds an
evaluation (evaluation.json, or evaluation/evaluation.json as written by
fingerflow evaluate --report RUN_OUTDIR/evaluation), its charts are added;
stats.json and alarms.json, when present, are shown as tables. It prints
the page's path.`,
		Example: `  fingerflow report night`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("report takes one run output directory, not %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeMorningReport(cmd.Context(), gopts, "report", args[0])
		},
	}
}

// writeMorningReport writes the morning report of the run directory dir,
// says what it wrote on stderr and prints the page's path on stdout.
func writeMorningReport(ctx context.Context, gopts *globalOptions, verb, dir string) error {
	start := time.Now()
	rep, err := reports.WriteMorningReport(ctx, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return err // names the directory and what it lacks
		}
		return fmt.Errorf("report: %w", err)
	}
	gopts.infof("%s: morning report with %d charts (%d without data), %.1f MB, in %.1fs\n",
		verb, len(rep.Charts), len(rep.Empty), float64(rep.Bytes)/1e6, time.Since(start).Seconds())
	path := rep.Path
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	fmt.Fprintln(gopts.stdout, path)
	return nil
}
