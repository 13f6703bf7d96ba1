package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fingerflow/fingerflow/datasets/history"
)

// popFile is the shipped sample population's one nfcapd file.
func popFile(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob(population + ".v9/nfcapd.*")
	if err != nil || len(files) != 1 {
		t.Fatalf("population files %v: %v", files, err)
	}
	return files[0]
}

// TestRunSkipsBadCopies: two bad files with the same content (empty,
// zeros) beside a good one are both skipped, the night is made, and the
// exit status says files were skipped; the same for stats and detect.
func TestRunSkipsBadCopies(t *testing.T) {
	for _, bad := range []struct {
		name string
		data []byte
	}{{"empty", nil}, {"zeros", make([]byte, 4096)}, {"truncated", nil}} {
		t.Run(bad.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in")
			if err := os.Mkdir(in, 0o755); err != nil {
				t.Fatal(err)
			}
			good := popFile(t)
			copyFile(t, good, filepath.Join(in, filepath.Base(good)))
			data := bad.data
			if bad.name == "truncated" {
				b, _ := os.ReadFile(good)
				data = b[:len(b)/3]
			}
			for _, n := range []string{"nfcapd.209901011705", "nfcapd.209901011710"} {
				if err := os.WriteFile(filepath.Join(in, n), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(dir, "night")
			args := []string{"run", "--model", lab + "/lab.ffm", "--catalog", population + ".catalog.csv", "--out", out, "--no-report", "--no-history", in}
			_, stderr, code := run(t, context.Background(), args...)
			if code != exitPartial || strings.Count(stderr, "skipped "+filepath.Join(in, "nfcapd.2099")) != 2 {
				t.Errorf("run: exit %d, stderr %q: want 3 and both bad files named as skipped", code, stderr)
			}
			if inv := readInventory(t, filepath.Join(out, "inventory.csv")); len(inv) != 25 {
				t.Errorf("%d hosts, want the good file's 25", len(inv))
			}
			for _, verb := range [][]string{{"stats", "-q"}, {"detect", "-q"}} {
				_, stderr, code := run(t, context.Background(), append(verb, in)...)
				if code != exitPartial || strings.Count(stderr, "skipped ") != 2 {
					t.Errorf("%s: exit %d, stderr %q: want 3 and both bad files named", verb[0], code, stderr)
				}
			}
		})
	}
}

// TestRunEmptyInputsKeepLastNight: a run that reads no flow (an empty
// directory, an empty file, a missing path, a window without flows) is
// an error, leaves the last night's files as they were and writes
// nothing to the history.
func TestRunEmptyInputsKeepLastNight(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	out, db := filepath.Join(dir, "night"), filepath.Join(dir, "h.db")
	if _, stderr, code := run(t, ctx, runArgs(out, "--db", db)...); code != exitOK {
		t.Fatalf("first night: exit %d: %s", code, stderr)
	}
	want, err := os.ReadFile(filepath.Join(out, "inventory.csv"))
	if err != nil {
		t.Fatal(err)
	}
	emptyDir := filepath.Join(dir, "empty")
	if err := os.Mkdir(emptyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "nfcapd.202701201100")
	if err := os.WriteFile(emptyFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"run", "--model", lab + "/lab.ffm", "--catalog", population + ".catalog.csv", "--out", out, "--db", db, "--no-report"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"empty directory", []string{emptyDir}, "no flow"},
		{"empty file", []string{emptyFile}, "could not be read"},
		{"missing path", []string{filepath.Join(dir, "nosuch")}, "nosuch"},
		{"window without flows", []string{"--since", "2031-01-01", "--until", "2031-01-02", popFile(t)}, "outside --since/--until"},
		{"no internal host", []string{"--internal", "192.0.2.0/24", population + ".v9"}, "no flow of an internal host"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := run(t, ctx, append(base, c.args...)...)
			if code == exitOK || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "nothing written") {
				t.Errorf("exit %d, stderr %q: want a failure saying %q and that nothing was written", code, stderr, c.want)
			}
			if got, _ := os.ReadFile(filepath.Join(out, "inventory.csv")); !bytes.Equal(got, want) {
				t.Error("the last night's inventory changed")
			}
			h, err := history.OpenExisting(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			runs, err := h.Runs(ctx)
			if err != nil || len(runs) != 1 || runs[0].Night != "2027-01-20" {
				t.Errorf("history nights %v (%v), want only 2027-01-20", runs, err)
			}
		})
	}
}

// TestRunOutputHoldsThisRun: a run into a directory an earlier run with
// --truth wrote leaves no score.json of that run behind, and a run with
// --csv no Parquet tables.
func TestRunOutputHoldsThisRun(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "night")
	if _, stderr, code := run(t, ctx, runArgs(out, "--no-history", "--truth", population+".hosts.csv")...); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "score.json")); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, ctx, runArgs(out, "--no-history", "--csv")...); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, gone := range []string{"score.json", "downloads.parquet", "hosts.parquet"} {
		if _, err := os.Stat(filepath.Join(out, gone)); err == nil {
			t.Errorf("%s of the earlier run is still there", gone)
		}
	}
	for _, there := range []string{"downloads.csv", "hosts.csv", "inventory.csv"} {
		if _, err := os.Stat(filepath.Join(out, there)); err != nil {
			t.Errorf("%s: %v", there, err)
		}
	}
}

// TestRunRemovesLeftovers: the temporary files a killed run left in the
// output directory are removed by the next run; other files are kept.
func TestRunRemovesLeftovers(t *testing.T) {
	out := filepath.Join(t.TempDir(), "night")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{".inventory.json.tmp-3344", ".downloads.parquet.tmp-17", "keep.txt"} {
		if err := os.WriteFile(filepath.Join(out, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, stderr, code := run(t, context.Background(), runArgs(out, "--no-history")...); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("%s left behind", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(out, "keep.txt")); err != nil {
		t.Error("a file of another name was removed")
	}
}

// TestRunClusterFlags: --k beyond the hosts leaves them unclustered and
// says so; the help and the error give the same range.
func TestRunClusterFlags(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "night")
	_, stderr, code := run(t, ctx, runArgs(out, "--no-history", "--k", "25")...)
	if code != exitOK || !strings.Contains(stderr, "too few for 25 clusters") {
		t.Errorf("--k 25 on 25 hosts: exit %d, stderr %q: want a warning", code, stderr)
	}
	_, stderr, code = run(t, ctx, runArgs(out, "--no-history", "--k", "51")...)
	help, _, _ := run(t, ctx, "run", "--help")
	if code != exitUsage || !strings.Contains(stderr, "2..50") || !strings.Contains(help, "2..50") {
		t.Errorf("--k 51: exit %d, stderr %q; the help must give the same range", code, stderr)
	}
}

// TestRunDatabaseInInput: a history database inside an input directory is
// refused on the first night, naming --db.
func TestRunDatabaseInInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "same")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, popFile(t), filepath.Join(in, filepath.Base(popFile(t))))
	args := []string{"run", "--model", lab + "/lab.ffm", "--out", filepath.Join(dir, "night"), "--no-report", "--db", filepath.Join(in, "x.db"), in}
	_, stderr, code := run(t, context.Background(), args...)
	if code != exitUsage || !strings.Contains(stderr, "--db") {
		t.Errorf("exit %d, stderr %q: want 2 naming --db", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(in, "x.db")); err == nil {
		t.Error("the database was created in the input directory")
	}
}
