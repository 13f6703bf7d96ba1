package main

import (
	"context"
	"errors"
	"slices"

	"github.com/fingerflow/fingerflow/datasets"
)

// flowRun is a read of the flow files named by a command's arguments
// (files, directories, globs) on several goroutines.
type flowRun struct {
	reader datasets.ParallelReader
	files  []string
	stats  readStats
}

// newFlowRun expands args, leaves out rotated files whose name time lies
// more than a day outside flt's window and files with the same content as
// another (said on stderr, their records counted as duplicates), orders
// rotated files by the times in their names after the others, and sets
// up a ParallelReader with workers goroutines (0: one per processor) that
// keeps the flows flt passes. Unreadable files are reported on stderr as
// they come and counted as skipped.
func newFlowRun(ctx context.Context, gopts *globalOptions, args []string, flt datasets.Filter, workers int) (*flowRun, error) {
	in, err := expandInputs(ctx, args, gopts.stderr)
	if err != nil {
		return nil, err
	}
	if err := in.prune(flt); err != nil {
		return nil, err
	}
	r := &flowRun{stats: readStats{inputCount: in.count()}}
	files := slices.Clone(in.files)
	slices.SortStableFunc(files, func(a, b string) int {
		ta, _ := datasets.FileTime(a)
		tb, _ := datasets.FileTime(b)
		return ta.Compare(tb)
	})
	reg := newRegistry(gopts.logger)
	copies := findCopies(files)
	for _, f := range files {
		orig, ok := copies[f]
		if !ok {
			r.files = append(r.files, f)
			continue
		}
		n, err := countFlows(ctx, reg, f)
		if err != nil {
			return nil, err
		}
		gopts.infof("fingerflow: %s holds the same records as %s: its %d flow records are read once\n", f, orig, n)
		r.stats.duplicates += n
	}
	r.reader = datasets.ParallelReader{
		Registry: reg,
		Filter:   flt,
		Workers:  workers,
		FileDone: func(res datasets.FileResult) {
			gopts.logger.Debug("read", "file", res.Path, "format", res.Format, "flows", res.Flows, "kept", res.Kept)
			r.stats.addFile(res)
			if res.Err != nil {
				reportFileError(gopts.stderr, res.Path, res.Err)
				r.stats.skipped++
			}
		},
	}
	return r, nil
}

// read hands the flows to visit a batch at a time in file order: results
// are those of a sequential read, whatever the number of workers.
func (r *flowRun) read(ctx context.Context, visit func([]datasets.Flow) error) error {
	_, err := r.reader.Read(ctx, r.files, visit)
	return skippedIsNotAnError(err)
}

// fold hands each batch to fold on the worker that decoded it (see
// datasets.ParallelReader.Fold), for work whose merged result does not
// depend on the order of flows.
func (r *flowRun) fold(ctx context.Context, fold func(w int, batch []datasets.Flow) error) error {
	_, err := r.reader.Fold(ctx, r.files, fold)
	return skippedIsNotAnError(err)
}

// skippedIsNotAnError drops datasets.ErrSkipped: skipped files are
// reported one by one and counted in the run's inputCount.
func skippedIsNotAnError(err error) error {
	if errors.Is(err, datasets.ErrSkipped) {
		return nil
	}
	return err
}
