package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

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

// inputs are the flow files a run reads, expanded from its arguments.
type inputs struct {
	files []string
	// named are the files given by name, not found in a directory or by
	// a pattern: they are read whatever the time in their name.
	named map[string]bool
	bad   int // arguments that named nothing, already reported
	// outside counts the files prune left unopened.
	outside int
}

// expandInputs expands each argument (file, directory, glob pattern) on
// its own, so one that names nothing is reported and counted and the rest
// are still read. A file named twice is read once. The error is ctx's.
func expandInputs(ctx context.Context, args []string, stderr io.Writer) (*inputs, error) {
	in := &inputs{named: map[string]bool{}}
	seen := map[string]bool{}
	for _, a := range args {
		fs, err := datasets.Expand(ctx, []string{a})
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err != nil {
			fmt.Fprintf(stderr, "fingerflow: %v\n", err)
			in.bad++
			continue
		}
		named := len(fs) == 1 && fs[0] == a
		for _, f := range fs {
			if !seen[f] {
				seen[f] = true
				in.files = append(in.files, f)
			}
			if named {
				in.named[f] = true
			}
		}
	}
	return in, nil
}

// count is the run's input count before any file is read.
func (in *inputs) count() inputCount {
	return inputCount{total: len(in.files) + in.bad, skipped: in.bad}
}

// prune leaves out the files found in directories or by patterns whose
// name time lies more than a day outside flt's window; a file given by
// name is always read. It is an error when nothing is left to read
// because of it.
func (in *inputs) prune(flt datasets.Filter) error {
	in.files = slices.DeleteFunc(in.files, func(f string) bool {
		if !in.named[f] && flt.NameOutside(f) {
			in.outside++
			return true
		}
		return false
	})
	if len(in.files) == 0 && in.outside > 0 {
		return fmt.Errorf("none of the %d input files was opened: the times in their names (nfcapd.YYYYMMDDhhmm) lie more than a day outside --since/--until; name the files one by one to read them whatever their names say", in.outside)
	}
	return nil
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
// files lists with the reason (arguments that named nothing aside).
type inputCount struct {
	total, skipped int
	files          []skippedInput
}

// skippedInput is an input file a run skipped and why.
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
	return fmt.Sprintf("%d of %d input files skipped", e.skipped, e.total)
}

func (e skippedError) Unwrap() error { return datasets.ErrSkipped }

// readStats is what streaming a run's inputs saw.
type readStats struct {
	inputCount
	flows    uint64    // flow records read
	inWindow uint64    // of which in the time window
	first    time.Time // earliest start read
	last     time.Time // latest end read
	// duplicates counts flow records dropped as copies of records read
	// already: whole files with the same content, and identical records
	// (exporter, 5-tuple, times, counters).
	duplicates uint64
}

func (r *readStats) addFile(res datasets.FileResult) {
	r.flows += res.Flows
	r.inWindow += res.InWindow
	if !res.First.IsZero() && (r.first.IsZero() || res.First.Before(r.first)) {
		r.first = res.First
	}
	if res.Last.After(r.last) {
		r.last = res.Last
	}
}

// windowErr is the error of a run whose time window kept none of the flows
// read; nil otherwise.
func (r *readStats) windowErr(flt datasets.Filter) error {
	if !flt.Windowed() || r.flows == 0 || r.inWindow > 0 {
		return nil
	}
	return fmt.Errorf("all %d flows read lie outside --since/--until: they span %s to %s",
		r.flows, r.first.UTC().Format(time.RFC3339), r.last.UTC().Format(time.RFC3339))
}

// readOrder is the order the input files are read in (see streamFlows),
// and the files whose content equals an earlier one's, each mapped to
// that earlier file.
func readOrder(in *inputs) (files []string, copies map[string]string) {
	files = slices.Clone(in.files)
	slices.SortStableFunc(files, func(a, b string) int {
		ta, _ := datasets.FileTime(a)
		tb, _ := datasets.FileTime(b)
		return ta.Compare(tb)
	})
	return files, findCopies(files)
}

// fileDone counts a file read; an unreadable one is reported on stderr
// and listed as skipped, unless the run is stopping (interrupted, or the
// consumer of the flows failed).
func (r *readStats) fileDone(ctx context.Context, gopts *globalOptions, res datasets.FileResult, stopping bool) {
	gopts.logger.Debug("read", "file", res.Path, "format", res.Format, "flows", res.Flows, "kept", res.Kept)
	r.addFile(res)
	if res.Err != nil && ctx.Err() == nil && !stopping {
		reportFileError(gopts.stderr, res.Path, res.Err)
		r.skipped++
		r.files = append(r.files, skippedInput{res.Path, res.Err.Error()})
	}
}

// skipCopy counts the records of path, a copy of orig, as duplicates
// instead of reading them again, and says so.
func (r *readStats) skipCopy(ctx context.Context, gopts *globalOptions, reg *datasets.Registry, path, orig string) error {
	n, err := countFlows(ctx, reg, path)
	if err != nil {
		return err
	}
	gopts.infof("fingerflow: %s holds the same records as %s: its %d flow records are read once\n", path, orig, n)
	r.duplicates += n
	return nil
}

// streamFlows reads every input file and hands each flow flt passes to
// visit. Rotated files (nfcapd.YYYYMMDDhhmm) are read in the order of the
// times in their names across all arguments, after the other files in
// the order given: the same period collected twice then arrives together.
// A file with the same content as one read before is not read again.
// Unreadable files are reported on stderr and skipped.
func streamFlows(ctx context.Context, gopts *globalOptions, in *inputs, flt datasets.Filter, visit func(*datasets.Flow) error) (readStats, error) {
	st := readStats{inputCount: in.count()}
	reg := newRegistry(gopts.logger)
	var verr error
	add := func(f *datasets.Flow) error {
		if err := visit(f); err != nil {
			verr = err
			return err
		}
		return nil
	}
	files, copies := readOrder(in)
	for _, path := range files {
		if orig, ok := copies[path]; ok {
			if err := st.skipCopy(ctx, gopts, reg, path, orig); err != nil {
				return st, err
			}
			continue
		}
		res, rerr := datasets.ReadFiles(ctx, reg, []string{path}, flt, add)
		for _, r := range res {
			st.fileDone(ctx, gopts, r, verr != nil)
		}
		if verr != nil {
			return st, verr
		}
		if rerr != nil && !errors.Is(rerr, datasets.ErrSkipped) {
			return st, rerr
		}
	}
	return st, nil
}

// streamBatches is streamFlows for a consumer of batches: the same files
// in the same order, copies read once and unreadable files reported and
// skipped alike, but decoded ahead of visit on several goroutines
// (datasets.ParallelReader). visit gets the flows a batch at a time, on
// the caller's goroutine; it must not keep the slice.
func streamBatches(ctx context.Context, gopts *globalOptions, in *inputs, flt datasets.Filter, visit func([]datasets.Flow) error) (readStats, error) {
	st := readStats{inputCount: in.count()}
	reg := newRegistry(gopts.logger)
	files, copies := readOrder(in)
	pr := datasets.ParallelReader{
		Registry: reg,
		Filter:   flt,
		FileDone: func(r datasets.FileResult) { st.fileDone(ctx, gopts, r, false) },
	}
	// The files between two copies are read in one go.
	var run []string
	read := func() error {
		if len(run) == 0 {
			return nil
		}
		_, err := pr.Read(ctx, run, visit)
		run = run[:0]
		if err != nil && !errors.Is(err, datasets.ErrSkipped) {
			return err
		}
		return nil
	}
	for _, path := range files {
		orig, ok := copies[path]
		if !ok {
			run = append(run, path)
			continue
		}
		if err := read(); err != nil {
			return st, err
		}
		if err := st.skipCopy(ctx, gopts, reg, path, orig); err != nil {
			return st, err
		}
	}
	return st, read()
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

// flush finishes the connections still open at the end of the input; it
// returns the identical records the extractor dropped.
func (s *downloadStream) flush() (uint64, error) {
	for _, d := range s.ex.Flush() {
		if err := s.visit(&d); err != nil {
			return 0, err
		}
	}
	return s.ex.Duplicates(), nil
}

// streamDownloads reads every input file as streamFlows does, assembles
// downloads across them and hands each to visit as soon as it is
// complete; identical records (a period collected twice) are dropped.
func streamDownloads(ctx context.Context, gopts *globalOptions, in *inputs, flt datasets.Filter, cfg features.Config, visit func(*features.Download) error) (readStats, error) {
	ds := newDownloadStream(cfg, visit)
	st, err := streamFlows(ctx, gopts, in, flt, ds.add)
	if err != nil {
		return st, err
	}
	dups, err := ds.flush()
	st.duplicates += dups
	return st, err
}

// countFlows counts the flow records of a file.
func countFlows(ctx context.Context, reg *datasets.Registry, path string) (uint64, error) {
	rd, err := reg.Detect(ctx, path)
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, err := range rd.Flows(ctx, path) {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// findCopies maps each input file whose content equals an earlier one's
// to that earlier file. Only files of equal sizes are compared, so most
// runs hash nothing.
func findCopies(files []string) map[string]string {
	bySize := map[int64][]string{}
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			bySize[st.Size()] = append(bySize[st.Size()], f)
		}
	}
	copies := map[string]string{}
	for _, group := range bySize {
		if len(group) < 2 {
			continue
		}
		type summed struct {
			path string
			sum  []byte
		}
		var seen []summed
		for _, f := range group {
			sum, err := fileSum(f)
			if err != nil {
				continue // the reader will say what is wrong with it
			}
			for _, s := range seen {
				if bytes.Equal(s.sum, sum) {
					copies[f] = s.path
					break
				}
			}
			seen = append(seen, summed{f, sum})
		}
	}
	return copies
}

func fileSum(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
