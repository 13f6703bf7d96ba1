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
// that named nothing included) and those skipped as unreadable, which
// files lists with the reason where the command keeps it.
type inputCount struct {
	total, skipped int
	files          []skippedInput
	read, kept     uint64 // flows read, and those the filters kept
}

// skippedInput is an input a run skipped and why.
type skippedInput struct{ path, reason string }

func (c *inputCount) add(o inputCount) {
	c.total += o.total
	c.skipped += o.skipped
	c.files = append(c.files, o.files...)
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
	if e.skipped == 1 && len(e.files) == 1 {
		return fmt.Sprintf("1 of %d input files skipped (%s)", e.total, e.files[0].path)
	}
	return fmt.Sprintf("%d of %d input files skipped", e.skipped, e.total)
}

func (e skippedError) Unwrap() error { return datasets.ErrSkipped }

// streamFlows reads every flow file named by args (files, directories,
// globs) in time order and hands each flow flt passes to visit.
// Unreadable files are reported on stderr and skipped; the count says how
// many.
func streamFlows(ctx context.Context, gopts *globalOptions, args []string, flt datasets.Filter, visit func(*datasets.Flow) error) (inputCount, error) {
	files, bad, err := expandArgs(ctx, args, gopts.stderr)
	if err != nil {
		return inputCount{}, err
	}
	n := inputCount{total: len(files) + bad, skipped: bad}
	reg := newRegistry(gopts.logger)
	var verr error
	res, rerr := datasets.ReadFiles(ctx, reg, files, flt, func(f *datasets.Flow) error {
		if err := visit(f); err != nil {
			verr = err
			return err
		}
		return nil
	})
	for _, r := range res {
		gopts.logger.Debug("read", "file", r.Path, "format", r.Format, "flows", r.Flows, "kept", r.Kept)
		n.read += r.Flows
		n.kept += r.Kept
		if r.Err != nil && ctx.Err() == nil && verr == nil {
			reportFileError(gopts.stderr, r.Path, r.Err)
			n.skipped++
			n.files = append(n.files, skippedInput{r.Path, r.Err.Error()})
		}
	}
	if verr != nil {
		return n, verr
	}
	if rerr != nil && !errors.Is(rerr, datasets.ErrSkipped) {
		return n, rerr
	}
	return n, nil
}

// downloadStream assembles downloads from the flows it is given and hands
// each to visit as soon as it is complete.
type downloadStream struct {
	ex    *features.Extractor
	visit func(*features.Download) error
}

func newDownloadStream(cfg features.Config, visit func(*features.Download) error) *downloadStream {
	return &downloadStream{ex: features.NewExtractor(cfg), visit: visit}
}

func (s *downloadStream) add(f *datasets.Flow) error {
	s.ex.Add(f)
	for _, d := range s.ex.Drain() {
		if err := s.visit(&d); err != nil {
			return err
		}
	}
	return nil
}

// flush finishes the connections still open at the end of the input.
func (s *downloadStream) flush() error {
	for _, d := range s.ex.Flush() {
		if err := s.visit(&d); err != nil {
			return err
		}
	}
	return nil
}

// streamDownloads reads every flow file named by args in time order, keeps
// the flows flt passes, assembles downloads across them and hands each to
// visit as soon as it is complete. Unreadable files are reported on stderr
// and skipped; the count says how many.
func streamDownloads(ctx context.Context, gopts *globalOptions, args []string, flt datasets.Filter, cfg features.Config, visit func(*features.Download) error) (inputCount, error) {
	ds := newDownloadStream(cfg, visit)
	n, err := streamFlows(ctx, gopts, args, flt, ds.add)
	if err != nil {
		return n, err
	}
	return n, ds.flush()
}
