// Package nightdir is the schema of a nightly run's output directory: the
// names of its files, the types of their rows and documents, and how each
// is written and read. The nightly run (package nightly) writes a
// directory through a Writer, the morning report and the notebooks read
// it back with Load, and the history database is filled from the same
// types, so the three cannot disagree about a column.
//
// A directory holds exactly one run's files: a Writer puts every file in
// place only when the whole run succeeded, removes the files of the
// schema an earlier run wrote and this one did not, and clears the
// temporary files an interrupted run left behind.
package nightdir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Files of a nightly run's output directory.
const (
	RunFile            = "run.json"
	InventoryFile      = "inventory.json"
	InventoryCSVFile   = "inventory.csv"
	ClustersFile       = "clusters.csv"
	HostsFile          = "hosts.parquet"
	HostsCSVFile       = "hosts.csv"
	DownloadsFile      = "downloads.parquet"
	DownloadsCSVFile   = "downloads.csv"
	TrafficFile        = "traffic.parquet"
	TrafficMinutesFile = "traffic_minutes.parquet"
	CatalogFile        = "catalog.csv"
	ScoreFile          = "score.json"
	// StatsFile and AlarmsFile hold the analytics of the run: top talkers
	// and flow lifespans; floods, scans and unexpected rates.
	StatsFile  = "stats.json"
	AlarmsFile = "alarms.json"
)

// HostsFiles and DownloadsFiles are the two forms a run writes one of
// (Parquet, or CSV with --csv), Parquet first.
var (
	HostsFiles     = []string{HostsFile, HostsCSVFile}
	DownloadsFiles = []string{DownloadsFile, DownloadsCSVFile}
)

// RunFiles are the files a nightly run may write. A Writer's Commit
// removes those of them this run did not write.
var RunFiles = []string{
	RunFile, InventoryFile, InventoryCSVFile, ClustersFile, HostsFile, HostsCSVFile,
	DownloadsFile, DownloadsCSVFile, TrafficFile, TrafficMinutesFile, CatalogFile,
	ScoreFile, StatsFile, AlarmsFile,
}

// tmpInfix marks the temporary files of AtomicFile: ".NAME.tmp-RANDOM".
const tmpInfix = ".tmp-"

// AtomicFile is an output file written next to its destination under a
// hidden temporary name (".NAME.tmp-RANDOM") and renamed over it only when
// complete and synced, so a failed or interrupted run never leaves a
// partial file behind. Its errors name the destination, the path the user
// gave, never the temporary name.
type AtomicFile struct {
	f    *os.File
	dest string
	done bool
}

// CreateAtomic starts the output file dest.
func CreateAtomic(dest string) (*AtomicFile, error) {
	dir, base := filepath.Split(dest)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+tmpInfix+"*")
	if err != nil {
		return nil, destError(dest, err)
	}
	return &AtomicFile{f: f, dest: dest}, nil
}

// destError names dest in an error about the file written for it.
func destError(dest string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return &fs.PathError{Op: pe.Op, Path: dest, Err: pe.Err}
	case errors.As(err, &le):
		return &fs.PathError{Op: le.Op, Path: dest, Err: le.Err}
	}
	return fmt.Errorf("%s: %w", dest, err)
}

func (a *AtomicFile) Write(p []byte) (int, error) {
	n, err := a.f.Write(p)
	if err != nil {
		err = destError(a.dest, err)
	}
	return n, err
}

// Size is how many bytes were written so far.
func (a *AtomicFile) Size() (int64, error) {
	st, err := a.f.Stat()
	if err != nil {
		return 0, destError(a.dest, err)
	}
	return st.Size(), nil
}

// Name is the destination's path.
func (a *AtomicFile) Name() string { return a.dest }

// Commit makes the file durable and readable like any other output, and
// puts it in place.
func (a *AtomicFile) Commit() error {
	for _, step := range []func() error{a.f.Sync, func() error { return a.f.Chmod(0o644) }, a.f.Close} {
		if err := step(); err != nil {
			return destError(a.dest, err)
		}
	}
	if err := os.Rename(a.f.Name(), a.dest); err != nil {
		return destError(a.dest, err)
	}
	a.done = true
	return nil
}

// Abort removes the file unless it was committed; deferring it is safe.
// It runs on a failure path, whose error is the one reported: a temporary
// file that cannot be removed is the lesser problem, so its error is not.
func (a *AtomicFile) Abort() {
	if !a.done {
		a.f.Close()
		os.Remove(a.f.Name())
	}
}

// WriteFileAtomic writes b to path through an AtomicFile.
func WriteFileAtomic(path string, b []byte) error {
	f, err := CreateAtomic(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(b); err != nil {
		return err
	}
	return f.Commit()
}

// Writer writes a run's files into a directory under temporary names and
// puts them all in place at the end (Commit), so an interrupted or failed
// run leaves the previous night's files as they were.
type Writer struct {
	dir   string
	files []*AtomicFile
}

// Create starts writing the run directory dir, creating it if needed.
// Temporary files an interrupted run left there (only those of the
// schema's own names) are removed first.
func Create(dir string) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := RemoveLeftovers(dir); err != nil {
		return nil, err
	}
	return &Writer{dir: dir}, nil
}

// RemoveLeftovers removes the temporary files (".NAME.tmp-*") that
// interrupted writes of the run's and the report's files left in dir; a
// file of another name is never touched.
func RemoveLeftovers(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, ".") {
			continue
		}
		base, _, ok := strings.Cut(name[1:], tmpInfix)
		if !ok || !ownName(base) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// ownName reports whether base is a file the run or its report writes.
func ownName(base string) bool {
	if slices.Contains(RunFiles, base) {
		return true
	}
	switch filepath.Ext(base) {
	case ".png", ".svg", ".html", ".csv":
		return true
	}
	return false
}

// Dir is the directory written.
func (w *Writer) Dir() string { return w.dir }

// Create starts the file name of the directory.
func (w *Writer) Create(name string) (*AtomicFile, error) {
	f, err := CreateAtomic(filepath.Join(w.dir, name))
	if err != nil {
		return nil, err
	}
	w.files = append(w.files, f)
	return f, nil
}

// Write writes the file name with fill.
func (w *Writer) Write(name string, fill func(io.Writer) error) error {
	f, err := w.Create(name)
	if err != nil {
		return err
	}
	return fill(f)
}

// Commit puts every file written in place and removes the files of the
// schema (RunFiles) that an earlier run wrote and this one did not, so
// the directory holds this run's files only.
func (w *Writer) Commit() error {
	written := map[string]bool{}
	for _, f := range w.files {
		if err := f.Commit(); err != nil {
			return err
		}
		written[filepath.Base(f.dest)] = true
	}
	for _, name := range RunFiles {
		if written[name] {
			continue
		}
		if err := os.Remove(filepath.Join(w.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Abort removes every file not committed; deferring it is safe.
func (w *Writer) Abort() {
	for _, f := range w.files {
		f.Abort()
	}
}
