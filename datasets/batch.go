package datasets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Filter selects flows. The zero Filter matches everything.
type Filter struct {
	Since  time.Time      // keep flows ending at or after Since (zero: no bound)
	Until  time.Time      // keep flows starting before Until (zero: no bound)
	Protos []uint8        // keep these IP protocols (empty: all)
	Nets   []netip.Prefix // keep flows with either address in one of these (empty: all)
	Ports  []uint16       // keep flows with either port in this list (empty: all)
}

// Windowed reports whether the filter has a time window (Since or Until).
func (flt *Filter) Windowed() bool { return !flt.Since.IsZero() || !flt.Until.IsZero() }

// InWindow reports whether f lies in the filter's time window.
func (flt *Filter) InWindow(f *Flow) bool {
	if !flt.Since.IsZero() && f.End.Before(flt.Since) {
		return false
	}
	return flt.Until.IsZero() || f.Start.Before(flt.Until)
}

// NameOutside reports whether a rotated file's name time lies more than a
// day outside the filter's window, so that it need not be opened.
func (flt *Filter) NameOutside(path string) bool {
	t, ok := FileTime(path)
	return ok && ((!flt.Until.IsZero() && t.After(flt.Until.Add(24*time.Hour))) ||
		(!flt.Since.IsZero() && t.Before(flt.Since.Add(-24*time.Hour))))
}

// PruneError is the error of a command whose input files NameOutside all
// pruned (pruned lists them, in any order; Inputs.Prune returns it): it
// gives the times their names say against the window, so that the reader
// sees why none was opened, and errors.Is(err, ErrPruned) holds. It is
// nil when pruned is empty. The window is named by the command-line flags
// that set it, --since and --until.
func (flt *Filter) PruneError(pruned []string) error {
	if len(pruned) == 0 {
		return nil
	}
	none := fmt.Sprintf("none of the %d input files was", len(pruned))
	if len(pruned) == 1 {
		none = "the input file was not"
	}
	return &prunedError{fmt.Sprintf("%s opened: %s; rotated files whose names say more than a day outside --since/--until are skipped unopened: name a file by itself to read it whatever its name says",
		none, flt.DescribePruned(pruned))}
}

// prunedError is PruneError's error.
type prunedError struct{ msg string }

func (e *prunedError) Error() string { return e.msg }

// Is reports whether target is ErrPruned.
func (e *prunedError) Is(target error) bool { return target == ErrPruned }

// DescribePruned says what times the names of the files NameOutside
// pruned give, against the window: "nfcapd.202612011700 is named for
// 2026-12-01 17:00 UTC, more than a day before --since 2027-01-20 00:00
// UTC"; for several files the first and last name, and the files before
// and after the window apart. A command that read other files can log it.
func (flt *Filter) DescribePruned(pruned []string) string {
	type span struct {
		n                   int
		first, last         time.Time
		firstName, lastName string
	}
	var before, after span
	for _, p := range pruned {
		t, ok := FileTime(p)
		if !ok {
			continue
		}
		s := &after
		if !flt.Since.IsZero() && t.Before(flt.Since.Add(-24*time.Hour)) {
			s = &before
		}
		name := filepath.Base(p)
		if s.n == 0 || t.Before(s.first) {
			s.first, s.firstName = t, name
		}
		if s.n == 0 || t.After(s.last) {
			s.last, s.lastName = t, name
		}
		s.n++
	}
	both := before.n > 0 && after.n > 0
	describe := func(s span, first bool, side string) string {
		var who, times string
		switch {
		case s.n == 1 && !both:
			who = s.firstName + " is named for "
		case !both:
			who = "they are named for "
		case first && s.n == 1:
			who = "1 is named for "
		case first:
			who = fmt.Sprintf("%d are named for ", s.n)
		default:
			who = fmt.Sprintf("%d for ", s.n)
		}
		switch {
		case s.n == 1 && !both:
			times = nameTime(s.first) + " UTC"
		case s.first.Equal(s.last) && s.n == 1:
			times = nameTime(s.first) + " UTC (" + s.firstName + ")"
		default:
			times = nameTime(s.first) + " to " + nameTime(s.last) + " UTC (" + s.firstName + " to " + s.lastName + ")"
		}
		return who + times + ", more than a day " + side
	}
	var parts []string
	if before.n > 0 {
		parts = append(parts, describe(before, true, "before --since "+nameTime(flt.Since)+" UTC"))
	}
	if after.n > 0 {
		parts = append(parts, describe(after, before.n == 0, "after --until "+nameTime(flt.Until)+" UTC"))
	}
	return strings.Join(parts, "; ")
}

// nameTime writes t in UTC to the minute, or to the second when it has
// seconds.
func nameTime(t time.Time) string {
	t = t.UTC()
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04")
}

// Match reports whether f passes the filter.
func (flt *Filter) Match(f *Flow) bool {
	if !flt.InWindow(f) {
		return false
	}
	if len(flt.Protos) > 0 && !slices.Contains(flt.Protos, f.Proto) {
		return false
	}
	if len(flt.Ports) > 0 && !slices.Contains(flt.Ports, f.SrcPort) && !slices.Contains(flt.Ports, f.DstPort) {
		return false
	}
	if len(flt.Nets) > 0 {
		ok := false
		for _, p := range flt.Nets {
			if p.Contains(f.SrcAddr) || p.Contains(f.DstAddr) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// rotated matches the timestamp nfcapd (and nfpcapd, sfcapd) put in the names
// of rotated files: nfcapd.YYYYMMDDhhmm[ss].
var rotated = regexp.MustCompile(`\.(\d{12})(\d{2})?$`)

// FileTime returns the time encoded in a rotated file name
// (nfcapd.202611221900 → 2026-11-22 19:00 UTC), and false for other names.
func FileTime(name string) (time.Time, bool) {
	m := rotated.FindStringSubmatch(filepath.Base(name))
	if m == nil {
		return time.Time{}, false
	}
	layout, v := "200601021504", m[1]
	if m[2] != "" {
		layout, v = "20060102150405", m[1]+m[2]
	}
	t, err := time.Parse(layout, v)
	return t, err == nil
}

// Expand turns command-line arguments (files, directories, glob patterns)
// into a list of files. Directories are walked recursively, skipping hidden
// files and nfcapd's temporary/current files. Files with a rotation
// timestamp in their name are ordered by that time, others by name. An
// argument that names nothing is an error naming it.
func Expand(ctx context.Context, args []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, a := range args {
		matches := []string{a}
		if strings.ContainsAny(a, "*?[") {
			m, err := filepath.Glob(a)
			if err != nil {
				return nil, fmt.Errorf("%s: bad pattern: %w", a, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("%s: no files match", a)
			}
			matches = m
		}
		for _, p := range matches {
			st, err := os.Stat(p)
			if err != nil {
				return nil, err
			}
			if !st.IsDir() {
				add(p)
				continue
			}
			var files []string
			err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				name := d.Name()
				if path != p && strings.HasPrefix(name, ".") {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
				if d.IsDir() || strings.HasPrefix(name, "nfcapd.current") || strings.HasSuffix(name, ".log") {
					return nil
				}
				files = append(files, path)
				return nil
			})
			if err != nil {
				return nil, err
			}
			sortFiles(files)
			for _, f := range files {
				add(f)
			}
		}
	}
	return out, nil
}

func sortFiles(files []string) {
	slices.SortStableFunc(files, func(a, b string) int {
		ta, oka := FileTime(a)
		tb, okb := FileTime(b)
		if oka && okb && !ta.Equal(tb) {
			return ta.Compare(tb)
		}
		return strings.Compare(a, b)
	})
}

// FileResult says how reading one file of a batch went.
type FileResult struct {
	Path     string
	Format   string
	Flows    uint64    // flows read (before filtering)
	InWindow uint64    // flows in the filter's time window
	Kept     uint64    // flows that passed the filter
	First    time.Time // earliest start of the flows read
	Last     time.Time // latest end of the flows read
	Err      error     // nil, or why the file was skipped or cut short
}

// ErrSkipped is wrapped by ReadFiles' summary error when some files could
// not be read completely.
var ErrSkipped = errors.New("some files were skipped")

// ReadFiles streams every flow of every file through visit, in file order.
// A file that cannot be opened, is of unknown format or turns out corrupt is
// recorded in its FileResult and the batch goes on with the next file; flows
// read from a file before its error stay delivered. The returned error is
// nil when all files were read completely, wraps ErrSkipped when some were
// not, and is ctx.Err() or visit's error when those end the run.
func ReadFiles(ctx context.Context, reg *Registry, files []string, flt Filter, visit func(*Flow) error) ([]FileResult, error) {
	results := make([]FileResult, 0, len(files))
	bad := 0
	for _, path := range files {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		res := FileResult{Path: path}
		rd, err := reg.Detect(ctx, path)
		if err != nil {
			res.Err = err
			results = append(results, res)
			if err := ctx.Err(); err != nil {
				return results, err
			}
			bad++
			continue
		}
		res.Format = rd.Format()
		for f, err := range rd.Flows(ctx, path) {
			if err != nil {
				res.Err = err
				break
			}
			res.Flows++
			if res.First.IsZero() || f.Start.Before(res.First) {
				res.First = f.Start
			}
			if f.End.After(res.Last) {
				res.Last = f.End
			}
			if flt.InWindow(&f) {
				res.InWindow++
			}
			if !flt.Match(&f) {
				continue
			}
			res.Kept++
			if err := visit(&f); err != nil {
				results = append(results, res)
				return results, err
			}
		}
		results = append(results, res)
		// An interrupt ends the batch even when the reader did not notice
		// it (a file that ended, or opened, just then).
		if err := ctx.Err(); err != nil {
			return results, err
		}
		if res.Err != nil {
			bad++
		}
	}
	if bad > 0 {
		return results, fmt.Errorf("%d of %d files: %w", bad, len(files), ErrSkipped)
	}
	return results, nil
}
