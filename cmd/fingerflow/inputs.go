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

// expandInputs expands each argument (file, directory, glob pattern) on
// its own; one that names nothing is reported on stderr and counted as
// skipped, and the rest are still read. The error is ctx's.
func expandInputs(ctx context.Context, args []string, stderr io.Writer) (*datasets.Inputs, error) {
	in, err := datasets.ExpandInputs(ctx, args)
	if err != nil {
		return nil, err
	}
	for _, e := range in.Bad {
		fmt.Fprintf(stderr, "fingerflow: %v\n", e)
	}
	return in, nil
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

// fileSource reads in's files through the registry, keeping what flt
// passes, with workers decoders (0: one per processor). Skipped files are
// reported on stderr as they come, copies of earlier files as info.
func fileSource(gopts *globalOptions, in *datasets.Inputs, flt datasets.Filter, workers int) *datasets.FileSource {
	return &datasets.FileSource{
		Registry: newRegistry(gopts.logger),
		Inputs:   in,
		Filter:   flt,
		Workers:  workers,
		Skipped:  func(path string, err error) { reportFileError(gopts.stderr, path, err) },
		Copy: func(path, orig string, n uint64) {
			gopts.infof("fingerflow: %s holds the same records as %s: its %d flow records are read once\n", path, orig, n)
		},
		FileDone: func(r datasets.FileResult) {
			gopts.logger.Debug("read", "file", r.Path, "format", r.Format, "flows", r.Flows, "kept", r.Kept)
		},
	}
}

// streamDownloads reads in's files one after the other, assembles
// downloads across them and hands each to visit as soon as it is
// complete; identical records (a period collected twice) are dropped and
// counted as duplicates.
func streamDownloads(ctx context.Context, gopts *globalOptions, in *datasets.Inputs, flt datasets.Filter, cfg features.Config, visit func(*features.Download) error) (datasets.ReadStats, error) {
	ex := features.NewExtractor(cfg)
	each := func(ds []features.Download) error {
		for i := range ds {
			if err := visit(&ds[i]); err != nil {
				return err
			}
		}
		return nil
	}
	st, err := fileSource(gopts, in, flt, 1).Flows(ctx, func(f *datasets.Flow) error {
		ex.Add(f)
		return each(ex.Drain())
	})
	if err != nil {
		return st, err
	}
	err = each(ex.Flush())
	st.Duplicates += ex.Duplicates()
	return st, err
}

// noneRead is the error of a command none of whose input files could be
// read (nil when one could, or when there were none), so that it prints
// no empty tables: what the files were skipped for is already on stderr.
func noneRead(st datasets.ReadStats) error {
	switch {
	case st.Files == 0 || st.Skipped < st.Files:
		return nil
	case st.Files == 1:
		return errors.New("the input file could not be read")
	}
	return fmt.Errorf("none of the %d input files could be read", st.Files)
}
