package datasets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// Inputs are the flow files a run reads, expanded from its arguments
// (files, directories, glob patterns).
type Inputs struct {
	Files []string
	// Bad are the arguments that named nothing, with why.
	Bad []error
	// Outside counts the files Prune left unopened.
	Outside int
	// named are the files given by name, not found in a directory or by
	// a pattern: they are read whatever the time in their name.
	named map[string]bool
	// pruned are the files Prune left out, for its message.
	pruned []string
}

// ExpandInputs expands each argument on its own, so that one that names
// nothing is recorded in Bad and the rest are still read. A file named
// twice is read once. The error is ctx's.
func ExpandInputs(ctx context.Context, args []string) (*Inputs, error) {
	in := &Inputs{named: map[string]bool{}}
	seen := map[string]bool{}
	for _, a := range args {
		fs, err := Expand(ctx, []string{a})
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err != nil {
			in.Bad = append(in.Bad, err)
			continue
		}
		named := len(fs) == 1 && fs[0] == a
		for _, f := range fs {
			if !seen[f] {
				seen[f] = true
				in.Files = append(in.Files, f)
			}
			if named {
				in.named[f] = true
			}
		}
	}
	return in, nil
}

// ErrPruned is the error of a run whose every input file was left out
// because of the time in its name.
var ErrPruned = errors.New("every input file lies outside the time window")

// Prune leaves out the files found in directories or by patterns whose
// name time lies more than a day outside flt's window; a file given by
// name is always read. It is an error (wrapping ErrPruned) when nothing
// is left to read because of it.
func (in *Inputs) Prune(flt Filter) error {
	in.Files = slices.DeleteFunc(in.Files, func(f string) bool {
		if !in.named[f] && flt.NameOutside(f) {
			in.Outside++
			in.pruned = append(in.pruned, f)
			return true
		}
		return false
	})
	if len(in.Files) == 0 && in.Outside > 0 {
		return flt.PruneError(in.pruned)
	}
	return nil
}

// Count is the run's input count before any file is read: every input
// file and every argument that named nothing, which counts as skipped.
func (in *Inputs) Count() ReadStats {
	return ReadStats{Files: len(in.Files) + len(in.Bad), Skipped: len(in.Bad)}
}

// ReadStats is what reading a run's inputs saw.
type ReadStats struct {
	// Files counts the input files (arguments that named nothing
	// included), Skipped those that could not be read whole; SkippedFiles
	// lists the files skipped with the reason (arguments that named
	// nothing aside).
	Files, Skipped int
	SkippedFiles   []SkippedFile
	Flows          uint64    // flow records read
	InWindow       uint64    // of which in the time window
	Kept           uint64    // of which passed the filter
	First, Last    time.Time // earliest start and latest end read
	// Duplicates counts flow records dropped as copies of records read
	// already: whole files with the same content (and, added by the
	// consumer, identical records).
	Duplicates uint64
}

// SkippedFile is an input file a run skipped, and why.
type SkippedFile struct {
	Path string
	Err  error
}

// Add adds what another read of the same run saw.
func (r *ReadStats) Add(o ReadStats) {
	r.Files += o.Files
	r.Skipped += o.Skipped
	r.SkippedFiles = append(r.SkippedFiles, o.SkippedFiles...)
	r.Flows += o.Flows
	r.InWindow += o.InWindow
	r.Kept += o.Kept
	r.Duplicates += o.Duplicates
	r.span(o.First, o.Last)
}

func (r *ReadStats) addFile(res FileResult) {
	r.Flows += res.Flows
	r.InWindow += res.InWindow
	r.Kept += res.Kept
	r.span(res.First, res.Last)
}

// span widens the time range of the flows read to first..last (a zero
// first: none).
func (r *ReadStats) span(first, last time.Time) {
	if !first.IsZero() && (r.First.IsZero() || first.Before(r.First)) {
		r.First = first
	}
	if last.After(r.Last) {
		r.Last = last
	}
}

// Err is the error a run that finished ends with: nil, or, when inputs
// were skipped, one error that says how many (a *SkippedError).
func (r ReadStats) Err() error {
	if r.Skipped == 0 {
		return nil
	}
	return &SkippedError{Skipped: r.Skipped, Files: r.Files}
}

// SkippedError says how many of a run's input files were skipped; it
// wraps ErrSkipped.
type SkippedError struct{ Skipped, Files int }

func (e *SkippedError) Error() string {
	return fmt.Sprintf("%d of %d input files skipped", e.Skipped, e.Files)
}

func (e *SkippedError) Unwrap() error { return ErrSkipped }

// WindowErr is the error of a run whose time window kept none of the
// flows read; nil otherwise.
func (r ReadStats) WindowErr(flt Filter) error {
	if !flt.Windowed() || r.Flows == 0 || r.InWindow > 0 {
		return nil
	}
	return fmt.Errorf("all %d flows read lie outside --since/--until: they span %s to %s",
		r.Flows, r.First.UTC().Format(time.RFC3339), r.Last.UTC().Format(time.RFC3339))
}

// FileSource reads the flows of a run's input files. Rotated files
// (nfcapd.YYYYMMDDhhmm) are read in the order of the times in their names
// across all arguments, after the other files in the order given: the
// same period collected twice then arrives together. A file with the same
// content as one read before is not read again (its records count as
// duplicates). A file that cannot be read whole is reported through
// Skipped and left out, and the rest are read.
type FileSource struct {
	Registry *Registry // picks each file's reader; required
	Inputs   *Inputs
	Filter   Filter
	// Workers is how many files are decoded at once (0: one per
	// processor).
	Workers int
	// Skipped, when set, is told of each file skipped, as it happens.
	Skipped func(path string, err error)
	// Copy, when set, is told of each file read once because it holds the
	// same records as an earlier one.
	Copy func(path, orig string, records uint64)
	// FileDone, when set, is told of each file read.
	FileDone func(FileResult)
}

// order is the order the input files are read in, and the files whose
// content equals an earlier one's, each mapped to that earlier file.
func (s *FileSource) order() (files []string, copies map[string]string) {
	files = slices.Clone(s.Inputs.Files)
	slices.SortStableFunc(files, func(a, b string) int {
		ta, _ := FileTime(a)
		tb, _ := FileTime(b)
		return ta.Compare(tb)
	})
	return files, findCopies(files)
}

func (s *FileSource) start() ReadStats { return s.Inputs.Count() }

// fileDone counts a file read; an unreadable one is reported and listed as
// skipped, unless the run is stopping (interrupted, or the consumer of
// the flows failed).
func (s *FileSource) fileDone(ctx context.Context, st *ReadStats, res FileResult, stopping bool) {
	if s.FileDone != nil {
		s.FileDone(res)
	}
	st.addFile(res)
	if res.Err != nil && ctx.Err() == nil && !stopping {
		s.skip(st, res.Path, res.Err)
	}
}

func (s *FileSource) skip(st *ReadStats, path string, err error) {
	st.Skipped++
	st.SkippedFiles = append(st.SkippedFiles, SkippedFile{path, err})
	if s.Skipped != nil {
		s.Skipped(path, err)
	}
}

// copyOf counts the records of path, a copy of orig, as duplicates
// instead of reading them again. A copy that cannot be read is skipped as
// the original will be; only ctx's error is returned.
func (s *FileSource) copyOf(ctx context.Context, st *ReadStats, path, orig string) error {
	n, err := countFlows(ctx, s.Registry, path)
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if err != nil {
		s.skip(st, path, err)
		return nil
	}
	if s.Copy != nil {
		s.Copy(path, orig, n)
	}
	st.Duplicates += n
	return nil
}

// Flows hands each flow the filter passes to visit, one file after the
// other. The error is ctx's or visit's; skipped files are counted in the
// stats (see ReadStats.Err).
func (s *FileSource) Flows(ctx context.Context, visit func(*Flow) error) (ReadStats, error) {
	st := s.start()
	var verr error
	add := func(f *Flow) error {
		if err := visit(f); err != nil {
			verr = err
			return err
		}
		return nil
	}
	files, copies := s.order()
	for _, path := range files {
		if orig, ok := copies[path]; ok {
			if err := s.copyOf(ctx, &st, path, orig); err != nil {
				return st, err
			}
			continue
		}
		res, rerr := ReadFiles(ctx, s.Registry, []string{path}, s.Filter, add)
		for _, r := range res {
			s.fileDone(ctx, &st, r, verr != nil)
		}
		if verr != nil {
			return st, verr
		}
		if rerr != nil && !errors.Is(rerr, ErrSkipped) {
			return st, rerr
		}
	}
	return st, nil
}

// Batches is Flows for a consumer of batches: the same files in the same
// order, but decoded ahead of visit on several goroutines
// (ParallelReader). visit gets the flows a batch at a time, on the
// caller's goroutine; it must not keep the slice.
func (s *FileSource) Batches(ctx context.Context, visit func([]Flow) error) (ReadStats, error) {
	return s.batches(ctx, func(b []Flow, _ func()) error { return visit(b) }, false)
}

// BatchesOwned is Batches for a consumer that hands the batches on
// instead of copying them (see ParallelReader.ReadOwned): visit owns each
// batch until it calls release.
func (s *FileSource) BatchesOwned(ctx context.Context, visit func(b []Flow, release func()) error) (ReadStats, error) {
	return s.batches(ctx, visit, true)
}

func (s *FileSource) batches(ctx context.Context, visit func([]Flow, func()) error, owned bool) (ReadStats, error) {
	st := s.start()
	stopping := false
	pr := ParallelReader{
		Registry: s.Registry,
		Filter:   s.Filter,
		Workers:  s.Workers,
		FileDone: func(r FileResult) { s.fileDone(ctx, &st, r, stopping) },
	}
	v := func(b []Flow, release func()) error {
		if err := visit(b, release); err != nil {
			stopping = true
			return err
		}
		return nil
	}
	files, copies := s.order()
	// The files between two copies are read in one go.
	var run []string
	read := func() error {
		if len(run) == 0 {
			return nil
		}
		var err error
		if owned {
			_, err = pr.ReadOwned(ctx, run, v)
		} else {
			_, err = pr.Read(ctx, run, func(b []Flow) error { return v(b, nil) })
		}
		run = run[:0]
		if err != nil && !errors.Is(err, ErrSkipped) {
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
		if err := s.copyOf(ctx, &st, path, orig); err != nil {
			return st, err
		}
	}
	return st, read()
}

// Fold hands each batch to fold on the worker that decoded it (see
// ParallelReader.Fold), for work whose merged result does not depend on
// the order of flows. Copies are not read again.
func (s *FileSource) Fold(ctx context.Context, fold func(w int, batch []Flow) error) (ReadStats, error) {
	st := s.start()
	pr := ParallelReader{
		Registry: s.Registry,
		Filter:   s.Filter,
		Workers:  s.Workers,
		FileDone: func(r FileResult) { s.fileDone(ctx, &st, r, false) },
	}
	files, copies := s.order()
	var read []string
	for _, path := range files {
		if orig, ok := copies[path]; ok {
			if err := s.copyOf(ctx, &st, path, orig); err != nil {
				return st, err
			}
			continue
		}
		read = append(read, path)
	}
	_, err := pr.Fold(ctx, read, fold)
	if err != nil && !errors.Is(err, ErrSkipped) {
		return st, err
	}
	return st, nil
}

// WorkerCount is the number of workers Fold runs.
func (s *FileSource) WorkerCount() int {
	p := ParallelReader{Workers: s.Workers}
	return p.WorkerCount()
}

// countFlows counts the flow records of a file.
func countFlows(ctx context.Context, reg *Registry, path string) (uint64, error) {
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
