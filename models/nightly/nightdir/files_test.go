package nightdir

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestDestError: errors writing, syncing or renaming the temporary file
// name the destination.
func TestDestError(t *testing.T) {
	tmp := "/data/.out.csv.tmp-123"
	for _, err := range []error{
		&fs.PathError{Op: "write", Path: tmp, Err: syscall.ENOSPC},
		&os.LinkError{Op: "rename", Old: tmp, New: "/data/out.csv", Err: syscall.EXDEV},
		errors.New("something else"),
	} {
		got := destError("/data/out.csv", err).Error()
		if !strings.Contains(got, "/data/out.csv") || strings.Contains(got, "tmp-123") {
			t.Errorf("%v: %q", err, got)
		}
	}
}

// TestWriterHoldsOneRun: a directory holds exactly the files of the run
// that wrote it last: files of the schema an earlier run wrote and this
// one did not are removed, other files are kept.
func TestWriterHoldsOneRun(t *testing.T) {
	dir := t.TempDir()
	write := func(names ...string) {
		t.Helper()
		w, err := Create(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := w.Write(n, func(f io.Writer) error { _, err := io.WriteString(f, n); return err }); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	write(RunFile, InventoryFile, ScoreFile, HostsCSVFile)
	write(RunFile, InventoryFile, HostsFile)
	got := listDir(t, dir)
	want := []string{HostsFile, InventoryFile, "notes.txt", RunFile}
	if !slices.Equal(got, want) {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}

// TestWriterAbortKeepsLastRun: a run that fails leaves the last run's
// files as they were and no temporary file.
func TestWriterAbortKeepsLastRun(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, RunFile), []byte("last"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(RunFile, func(f io.Writer) error { _, err := io.WriteString(f, "new"); return err }); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	b, err := os.ReadFile(filepath.Join(dir, RunFile))
	if err != nil || string(b) != "last" {
		t.Errorf("run.json = %q, %v; want the last run's", b, err)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{RunFile}) {
		t.Errorf("directory holds %v after an aborted run", got)
	}
}

// TestCreateRemovesLeftovers: the temporary files a killed run left are
// removed by the next one; files that only look alike are kept.
func TestCreateRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	left := []string{".inventory.json.tmp-123", ".downloads.parquet.tmp-9", ".report.html.tmp-77", ".traffic.png.tmp-1"}
	kept := []string{".mydata.tmp-1", "inventory.json.tmp-2", ".bashrc", "downloads.parquet"}
	for _, n := range append(slices.Clone(left), kept...) {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Create(dir); err != nil {
		t.Fatal(err)
	}
	got := listDir(t, dir)
	want := slices.Sorted(slices.Values(kept))
	if !slices.Equal(got, want) {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}
