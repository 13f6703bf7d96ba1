package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/flowio"
	"github.com/fingerflow/fingerflow/reports"
)

// ingestOptions are the flags of `fingerflow ingest`.
type ingestOptions struct {
	out string
	filterOptions
}

func newIngestCommand(gopts *globalOptions) *cobra.Command {
	var opts ingestOptions
	cmd := &cobra.Command{
		Use:   "ingest PATH... --out FILE.parquet|FILE.csv",
		Short: "Convert flow files of any supported format to one Parquet or CSV file",
		Long: `ingest reads every flow of every input (files, directories, glob patterns),
keeps those that pass the filters and writes them, normalised, to one
Parquet (zstd) or CSV file chosen by the --out extension. The output is
written to a temporary file next to it and renamed at the end, so an
interrupted run never leaves a partial file under the final name.

Files that cannot be read are reported on stderr, one line each, and
skipped; the exit status is then 3.`,
		Example: `  fingerflow ingest datasets/lab-dev/test-near.v9 --out flows.parquet
  fingerflow ingest /var/cache/nfdump/2027/01/11 --since "2027-01-11 12:00" \
      --proto tcp --net 10.77.0.0/16 --port 80 --port 443 --out flows.csv`,
		Args: atLeastOnePath,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIngest(cmd.Context(), opts, gopts, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.out, "out", "o", "", "output file, .parquet or .csv (required)")
	addFilterFlags(f, &opts.filterOptions)
	return cmd
}

// newFlowWriter picks the output format from the file name.
func newFlowWriter(name string, w io.Writer) (flowio.FlowWriter, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".parquet", ".pq":
		return flowio.NewParquetWriter(w), nil
	case ".csv":
		return flowio.NewCSVWriter(w), nil
	}
	return nil, usagef("--out %s: name must end in .parquet or .csv", name)
}

func runIngest(ctx context.Context, opts ingestOptions, gopts *globalOptions, args []string) (err error) {
	started := time.Now()
	if opts.out == "" {
		return usagef("ingest: --out FILE.parquet|FILE.csv is needed")
	}
	flt, err := parseFilter(opts.filterOptions)
	if err != nil {
		return err
	}
	if _, err := newFlowWriter(opts.out, io.Discard); err != nil {
		return err
	}
	in, err := expandInputs(ctx, args, gopts.stderr)
	if err != nil {
		return err
	}
	if err := checkNotInput(opts.out, in.Files); err != nil {
		return err
	}
	if err := in.Prune(flt); err != nil {
		return err
	}
	files := in.Files

	tmp, err := createAtomic(opts.out)
	if err != nil {
		return err
	}
	defer tmp.Abort()
	fw, err := newFlowWriter(opts.out, tmp)
	if err != nil {
		return err
	}

	var total int64
	sizes := make([]int64, len(files))
	for i, f := range files {
		if st, err := os.Stat(f); err == nil {
			sizes[i] = st.Size()
			total += st.Size()
		}
	}
	var bar *progressbar.ProgressBar
	if !gopts.quiet && isTerminal(gopts.stderr) {
		bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(gopts.stderr),
			progressbar.OptionSetDescription("ingest"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}

	var kept uint64
	var read int // files read whole
	var inBytes int64
	bySize := map[string]int64{}
	for i, f := range files {
		bySize[f] = sizes[i]
	}
	src := fileSource(gopts, in, flt, 1)
	src.FileDone = func(r datasets.FileResult) {
		gopts.logger.Debug("read", "file", r.Path, "format", r.Format, "flows", r.Flows, "kept", r.Kept)
		if r.Err == nil {
			read++
			inBytes += bySize[r.Path]
		}
		if bar != nil {
			_ = bar.Add64(bySize[r.Path]) // a bar that cannot draw is no reason to stop
		}
	}
	st, err := src.Flows(ctx, func(f *datasets.Flow) error {
		kept++
		if bar != nil && kept%65536 == 0 {
			bar.Describe(fmt.Sprintf("ingest: %d flows", kept))
		}
		return fw.Write(f)
	})
	if err != nil {
		// Interrupted, or the output could not be written.
		return fmt.Errorf("%s: %w", opts.out, err)
	}
	if bar != nil {
		_ = bar.Finish() // as above
	}
	if read == 0 && st.Skipped > 0 {
		return fmt.Errorf("%s not written: %w", opts.out, st.Err())
	}
	if err := st.WindowErr(flt); err != nil {
		return fmt.Errorf("%s not written: %w", opts.out, err)
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("%s: %w", opts.out, err)
	}
	outSize, err := tmp.Size()
	if err != nil {
		return err
	}
	if err := tmp.Commit(); err != nil {
		return err
	}

	elapsed := time.Since(started)
	if !gopts.quiet {
		outside := ""
		if in.Outside > 0 {
			outside = fmt.Sprintf(", %d not opened (time in name outside --since/--until)", in.Outside)
		}
		fmt.Fprintf(gopts.stderr, "ingest: %s read, %d skipped%s (%s); %d flows in, %d kept; wrote %s (%s) in %s, %.0f flows/s\n",
			quantity(read, "file", "files"), st.Skipped, outside, reports.HumanBytes(uint64(inBytes)), st.Flows, kept,
			opts.out, reports.HumanBytes(uint64(outSize)), elapsed.Round(time.Millisecond), float64(st.Flows)/max(elapsed.Seconds(), 1e-9))
	}
	return st.Err()
}
