package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/models/nightly"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
	"github.com/fingerflow/fingerflow/reports"
)

// classifyOptions are the flags of `fingerflow classify`.
type classifyOptions struct {
	model     string
	out       string
	threshold float64
	unknown   bool
	adapt     bool
	filterOptions
}

func newClassifyCommand(gopts *globalOptions) *cobra.Command {
	opts := classifyOptions{unknown: true, adapt: true}
	cmd := &cobra.Command{
		Use:   "classify --model MODEL.ffm FLOWS... [--out FILE.csv|FILE.parquet]",
		Short: "Label every download in flow files with a catalog file or unknown",
		Long: `classify finds every download (a server→client bulk TCP transfer, paired with
its reverse direction where present) in the flow files and labels it with the
catalog file it carried, several files for a connection that carried
several, or "unknown". It streams: memory grows with concurrent
connections, not with the number of flows. Output is CSV (to stdout
without --out) or Parquet, chosen by the --out extension.

A server whose responses carry more or fewer bytes than the lab server's
(other HTTP headers, another certificate chain) would match no catalog
file. So classify learns each server's offset from the input's own
downloads without retransmissions (for a model trained without an HTTPS
run, also which assumed TLS framing a port-443 server uses and its
handshake's size), reports the offsets it adopts, and
classifies after the whole input is read, keeping the downloads in a
temporary file meanwhile ($TMPDIR; --adapt=false uses the model as trained
and writes each download as it is found).`,
		Example: `  fingerflow classify --model lab.ffm datasets/lab-dev/test-near.v9
  fingerflow classify --model lab.ffm /var/cache/nfdump/2027/01/11 --out downloads.parquet
  fingerflow classify --model lab.ffm /var/cache/nfdump --since 2027-01-11 --until 2027-01-12 \
      --net 10.20.0.0/16 --port 80 --port 443`,
		Args: atLeastOnePath,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runClassify(cmd.Context(), opts, gopts, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.model, "model", "m", "", "model file from fingerflow train; required")
	f.StringVarP(&opts.out, "out", "o", "", "output file (.csv or .parquet); default CSV on stdout")
	f.Float64Var(&opts.threshold, "threshold", 0, "override the model's verifier threshold")
	f.BoolVar(&opts.unknown, "unknown", true, "also write downloads labelled unknown")
	f.BoolVar(&opts.adapt, "adapt", true, "learn each server's payload offset from the input before classifying")
	addFilterFlags(f, &opts.filterOptions)
	return cmd
}

// downloadFormat picks classify's output format from the --out name:
// CSV on stdout without one.
func downloadFormat(out string) (string, error) {
	switch strings.ToLower(filepath.Ext(out)) {
	case "", ".csv":
		return nightdir.FormatCSV, nil
	case ".parquet":
		return nightdir.FormatParquet, nil
	}
	return "", usagef("--out %s: want a .csv or .parquet file", out)
}

func runClassify(ctx context.Context, opts classifyOptions, gopts *globalOptions, args []string) error {
	started := time.Now()
	if opts.model == "" {
		return usagef("classify: --model MODEL.ffm is needed")
	}
	format, err := downloadFormat(opts.out)
	if err != nil {
		return err
	}
	flt, err := parseFilter(opts.filterOptions)
	if err != nil {
		return err
	}
	if err := checkThreshold(opts.threshold); err != nil {
		return err
	}
	in, err := expandInputs(ctx, args, gopts.stderr)
	if err != nil {
		return err
	}
	if err := checkNotInput(opts.out, append(slices.Clone(in.Files), opts.model)); err != nil {
		return err
	}
	if err := in.Prune(flt); err != nil {
		return err
	}
	m, err := loadModel(ctx, opts.model)
	if err != nil {
		return err
	}
	out := gopts.stdout
	var tmp *nightdir.AtomicFile
	if opts.out != "" {
		if tmp, err = createAtomic(opts.out); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		defer tmp.Abort()
		out = tmp
	}
	rw, err := nightdir.NewDownloadWriter(out, format)
	if err != nil {
		return err
	}
	var found, named, chanceLevel, multi, sampled int
	unclaimed := uncalibratedPorts{}
	label := func(cl *downloads.Classifier, d *features.Download, r downloads.Answer) error {
		found++
		unclaimed.add(cl, d)
		if r.Profile == downloads.ProfileSampled {
			sampled++
		}
		switch r.Status() {
		case downloads.StatusNamed:
			named++
			if len(r.Files) > 1 {
				multi++
			}
		case downloads.StatusChanceLevel:
			chanceLevel++
		default:
			if !opts.unknown {
				return nil
			}
		}
		row := nightdir.NewDownloadRow(d, r)
		return rw.Write(&row)
	}
	var st datasets.ReadStats
	if opts.adapt {
		if st, err = classifyAdapted(ctx, gopts, m, opts.threshold, in, flt, label); err != nil {
			return err
		}
	} else {
		cl := m.Classifier(downloads.Options{Threshold: opts.threshold})
		if st, err = streamDownloads(ctx, gopts, in, flt, features.DefaultConfig(), func(d *features.Download) error {
			return label(cl, d, cl.Answer(d))
		}); err != nil {
			return err
		}
	}
	if st.Files > 0 && st.Skipped == st.Files {
		// As ingest does: no output for a run that read nothing.
		target := opts.out
		if target == "" {
			target = "output"
		}
		return fmt.Errorf("%s not written: %w", target, st.Err())
	}
	if err := st.WindowErr(flt); err != nil {
		return err
	}
	if err := rw.Close(); err != nil {
		return err
	}
	if tmp != nil {
		if err := tmp.Commit(); err != nil {
			return err
		}
	}
	el := time.Since(started)
	gopts.infof("classify: %d downloads, %d named (%d multi-file), %d chance-level, %d unknown, in %.2fs\n",
		found, named, multi, chanceLevel, found-named-chanceLevel, el.Seconds())
	if st.Duplicates > 0 {
		gopts.infof("classify: %d duplicate flow records dropped (the same exporter, endpoints, times and counters read twice)\n", st.Duplicates)
	}
	if !gopts.quiet {
		if err := unclaimed.report(gopts.stderr, "classify"); err != nil {
			return err
		}
	}
	if sampled > 0 {
		gopts.infof("classify: %d downloads came from packet-sampling exporters: their byte counts are estimates, so they are left unknown (profile %q)\n",
			sampled, downloads.ProfileSampled)
	}
	return st.Err()
}

// classifyAdapted reads every flow once through the download stage of the
// nightly run (nightly.Downloads: extraction, adaptation, a temporary
// file), then classifies the downloads with every server's offset known
// and hands each to label in the order found. Without a usable temporary
// file it says so and classifies with the model as trained.
func classifyAdapted(ctx context.Context, gopts *globalOptions, m *downloads.Model, threshold float64, in *datasets.Inputs, flt datasets.Filter,
	label func(*downloads.Classifier, *features.Download, downloads.Answer) error) (datasets.ReadStats, error) {
	dl, err := nightly.NewDownloads(m, features.DefaultConfig())
	if err != nil {
		fmt.Fprintf(gopts.stderr, "classify: %v: classifying with the model as trained, without server offsets\n", err)
		cl := m.Classifier(downloads.Options{Threshold: threshold})
		return streamDownloads(ctx, gopts, in, flt, features.DefaultConfig(), func(d *features.Download) error {
			return label(cl, d, cl.Answer(d))
		})
	}
	defer func() {
		if err := dl.Close(); err != nil {
			gopts.logger.Warn(err.Error())
		}
	}()
	st, err := nightly.Feed(ctx, fileSource(gopts, in, flt, 0), dl.AddBatch)
	if err != nil {
		return st, err
	}
	offs, err := dl.Finish(ctx)
	if err != nil {
		return st, err
	}
	st.Duplicates += dl.Duplicates()
	if !gopts.quiet {
		if err := reports.WriteOffsets(gopts.stderr, "classify", offs); err != nil {
			return st, err
		}
	}
	cl := m.Classifier(downloads.Options{Threshold: threshold, Offsets: offs})
	return st, dl.Classify(ctx, cl, func(d *features.Download, r downloads.Answer) error { return label(cl, d, r) })
}
