package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/reports/morning"
)

func newReportCommand(gopts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "report RUN_OUTDIR",
		Short: "Write the morning report of a nightly run: one self-contained HTML page",
		Long: `report reads the files fingerflow run wrote into RUN_OUTDIR and writes beside
them report.html, a page that opens from disk and loads nothing from
elsewhere. It starts with what needs attention: alarms, hosts new, vanished
or with another OS since the previous night, hosts behind on updates, hosts
that could not be identified and why, each with a link to its rows. Then
the hosts per OS family and each family's update coverage, the inventory as
a table to filter and sort, traffic in bits per second, top talkers, host
clusters, downloads, alarms and statistics. Charts are inline SVG and HTML
with values on hover; coverage.csv lists which hosts of each update's OS
fetched it, may have fetched it and miss it.

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
	return writeMorningReportWith(ctx, gopts, verb, dir, nil)
}

// writeMorningReportWith is writeMorningReport with the downloads
// summarised as the run wrote them (morning.WriteMorningReportWith).
func writeMorningReportWith(ctx context.Context, gopts *globalOptions, verb, dir string, z *morning.DownloadSummarizer) error {
	start := time.Now()
	rep, err := morning.WriteMorningReportWith(ctx, dir, z)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return err // names the directory and what it lacks
		}
		return fmt.Errorf("report: %w", err)
	}
	gopts.infof("%s: morning report with %d charts (%d left out), %.1f MB, in %.1fs\n",
		verb, len(rep.Charts), len(rep.Omitted), float64(rep.Bytes)/1e6, time.Since(start).Seconds())
	path := rep.Path
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	fmt.Fprintln(gopts.stdout, path)
	return nil
}
