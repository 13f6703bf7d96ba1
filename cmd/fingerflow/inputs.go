package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/features"
)

// atLeastOnePath is a cobra.PositionalArgs that makes a missing PATH a
// usage error.
func atLeastOnePath(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usagef("%s: at least one PATH is needed", cmd.Name())
	}
	return nil
}

// expandArgs expands each argument (file, directory, glob pattern) on its
// own, so one that names nothing is reported and counted and the rest are
// still processed. A file named twice is read once. The error is ctx's.
func expandArgs(ctx context.Context, args []string, stderr io.Writer) (files []string, bad int, err error) {
	seen := map[string]bool{}
	for _, a := range args {
		fs, err := datasets.Expand(ctx, []string{a})
		if err := ctx.Err(); err != nil {
			return nil, bad, err
		}
		if err != nil {
			fmt.Fprintf(stderr, "fingerflow: %v\n", err)
			bad++
			continue
		}
		for _, f := range fs {
			if !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
	}
	return files, bad, nil
}

// reportFileError writes the one line that says an input was skipped and
// why, naming the file.
func reportFileError(w io.Writer, path string, err error) {
	msg := err.Error()
	if !strings.Contains(msg, path) {
		msg = path + ": " + msg
	}
	fmt.Fprintf(w, "fingerflow: skipped %s\n", msg)
}

// inputCount counts the input files of a run: all of them (arguments
// that named nothing included) and those skipped as unreadable.
type inputCount struct{ total, skipped int }

func (c *inputCount) add(o inputCount) {
	c.total += o.total
	c.skipped += o.skipped
}

// err is the error a run that finished ends with: nil, or, when inputs
// were skipped, the one error that says how many (exit status 3). Every
// command ends such a run with it.
func (c inputCount) err() error {
	if c.skipped == 0 {
		return nil
	}
	return skippedError(c)
}

// skippedError says how many of a run's input files were skipped; it
// wraps datasets.ErrSkipped.
type skippedError inputCount

func (e skippedError) Error() string {
	return fmt.Sprintf("%d of %d input files skipped", e.skipped, e.total)
}

func (e skippedError) Unwrap() error { return datasets.ErrSkipped }

// streamDownloads reads every flow file named by args (files, directories,
// globs) in time order, keeps the flows flt passes, assembles downloads
// across them and hands each to visit as soon as it is complete.
// Unreadable files are reported on stderr and skipped; the count says how
// many.
func streamDownloads(ctx context.Context, gopts *globalOptions, args []string, flt datasets.Filter, cfg features.Config, visit func(*features.Download) error) (inputCount, error) {
	files, bad, err := expandArgs(ctx, args, gopts.stderr)
	if err != nil {
		return inputCount{}, err
	}
	n := inputCount{total: len(files) + bad, skipped: bad}
	reg := newRegistry(gopts.logger)
	ex := features.NewExtractor(cfg)
	var verr error
	res, rerr := datasets.ReadFiles(ctx, reg, files, flt, func(f *datasets.Flow) error {
		ex.Add(f)
		for _, d := range ex.Drain() {
			if err := visit(&d); err != nil {
				verr = err
				return err
			}
		}
		return nil
	})
	for _, r := range res {
		gopts.logger.Debug("read", "file", r.Path, "format", r.Format, "flows", r.Flows, "kept", r.Kept)
		if r.Err != nil && ctx.Err() == nil && verr == nil {
			reportFileError(gopts.stderr, r.Path, r.Err)
			n.skipped++
		}
	}
	if verr != nil {
		return n, verr
	}
	if rerr != nil && !errors.Is(rerr, datasets.ErrSkipped) {
		return n, rerr
	}
	for _, d := range ex.Flush() {
		if err := visit(&d); err != nil {
			return n, err
		}
	}
	return n, nil
}
