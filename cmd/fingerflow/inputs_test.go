package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOutputIsInput: an output that is also an input is refused before
// anything is read (exit status 2), and the input is left as it was.
// ingest X --out X replaced X with an empty file and exited 0; classify
// F.csv --out F.csv overwrote its input.
func TestOutputIsInput(t *testing.T) {
	dir := t.TempDir()
	nfcapd := filepath.Join(dir, "nfcapd.202611221900")
	copyFile(t, filepath.Join(lab, "test-near.v9", "nfcapd.202611221900"), nfcapd)
	nfcsv := filepath.Join(dir, "flows.csv")
	copyFile(t, filepath.Join(lab, "test-near.nfdump.csv"), nfcsv)
	parq := filepath.Join(dir, "x.parquet")
	if _, stderr, code := run(t, context.Background(), "ingest", nfcapd, "--out", parq); code != exitOK {
		t.Fatalf("ingest: %s", stderr)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(parq, link); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(dir, "hard.csv")
	if err := os.Link(nfcsv, hard); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "model.csv") // a model is known by its content
	copyFile(t, filepath.Join(lab, "lab.ffm"), model)
	cat := filepath.Join(dir, "cat.csv")
	copyFile(t, filepath.Join(lab, "cat.csv"), cat)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"ingest X --out X", []string{"ingest", nfcsv, "--out", nfcsv}},
		{"ingest X.parquet Y --out X.parquet", []string{"ingest", parq, nfcapd, "--out", parq}},
		{"output through a directory argument", []string{"ingest", dir, "--out", parq}},
		{"output through a symbolic link", []string{"ingest", link, "--out", parq}},
		{"output through a hard link", []string{"classify", "--model", model, hard, "--out", nfcsv}},
		{"classify F.csv --out F.csv", []string{"classify", "--model", model, nfcsv, "--out", nfcsv}},
		{"classify over its model", []string{"classify", "--model", model, nfcsv, "--out", model}},
		{"train over its catalog", []string{"train", "--catalog", cat, "--flows", filepath.Join(lab, "train-near.v9"),
			"--labels", filepath.Join(lab, "train-near.labels.csv"), "--out", cat}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := map[string][]byte{}
			for _, f := range []string{nfcapd, nfcsv, parq, model, cat} {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				before[f] = b
			}
			_, stderr, code := run(t, context.Background(), c.args...)
			if code != exitUsage || !strings.Contains(stderr, "is also an input") {
				t.Errorf("exit %d, stderr %q; want %d saying the output is an input", code, stderr, exitUsage)
			}
			for f, b := range before {
				if after, err := os.ReadFile(f); err != nil || !bytes.Equal(b, after) {
					t.Errorf("%s changed (%v)", f, err)
				}
			}
		})
	}
}

// classifyRows runs classify and returns its CSV rows (header left out),
// sorted, and its stderr.
func classifyRows(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	stdout, stderr, code := run(t, context.Background(), append([]string{"classify", "--model", filepath.Join(lab, "lab.ffm")}, args...)...)
	if code != exitOK {
		t.Fatalf("classify %v: exit %d: %s", args, code, stderr)
	}
	rows := strings.Split(strings.TrimSpace(stdout), "\n")[1:]
	slices.Sort(rows)
	return rows, stderr
}

// maxSpan is the longest time a classify row's download lasted.
func maxSpan(t *testing.T, rows []string) time.Duration {
	t.Helper()
	var longest time.Duration
	for _, r := range rows {
		rec, err := csv.NewReader(strings.NewReader(r)).Read()
		if err != nil {
			t.Fatal(err)
		}
		start, err1 := time.Parse(time.RFC3339Nano, rec[0])
		end, err2 := time.Parse(time.RFC3339Nano, rec[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("row %q", r)
		}
		longest = max(longest, end.Sub(start))
	}
	return longest
}

// TestDownloadsNotMergedAcrossTime: test-near's NetFlow v5 export carries
// times 50 days before its v9 export's. Read together, each record joins
// only records adjacent in time: 600 downloads, the same whichever order
// the inputs are named in (it gave 300 one way, 600 the other, with rows
// spanning 50 days).
func TestDownloadsNotMergedAcrossTime(t *testing.T) {
	v9, v5 := filepath.Join(lab, "test-near.v9"), filepath.Join(lab, "test-near.v5")
	forward, _ := classifyRows(t, v9, v5)
	backward, _ := classifyRows(t, v5, v9)
	if diff := cmp.Diff(forward, backward); diff != "" {
		t.Errorf("rows depend on the order of the inputs (-v9 first +v5 first):\n%s", diff)
	}
	if len(forward) != 600 || maxSpan(t, forward) > time.Hour {
		t.Errorf("%d downloads, longest %v; want 600 of less than an hour", len(forward), maxSpan(t, forward))
	}
}

// TestShippedRunsTogether: every shipped nfcapd file in one directory
// (client ports recur from run to run, and the v5 exports carry other
// times than the v9 and IPFIX ones) gives no download longer than a run;
// 4,563 of 4,743 spanned more than a day.
func TestShippedRunsTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("reads every shipped run")
	}
	dir := t.TempDir()
	runs, err := filepath.Glob(filepath.Join(lab, "..", "lab-*", "*", "nfcapd.*"))
	if err != nil || len(runs) < 30 {
		t.Fatalf("%d shipped nfcapd files (%v)", len(runs), err)
	}
	for _, f := range runs {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(abs, filepath.Join(dir, filepath.Base(filepath.Dir(f))+".nfcapd")); err != nil {
			t.Fatal(err)
		}
	}
	rows, _ := classifyRows(t, dir)
	if longest := maxSpan(t, rows); longest > time.Hour {
		t.Errorf("a download of %v among %d", longest, len(rows))
	}
}

// TestDuplicateInputs: the same records read twice count once, and the
// summary says how many were dropped: a copy of a file under another path,
// even far apart in the input, and the same flows in another file format
// (an export collected twice). Before, their counters were added.
func TestDuplicateInputs(t *testing.T) {
	single, _ := classifyRows(t, filepath.Join(lab, "test-near.v9"))
	dir := t.TempDir()
	copyDir := filepath.Join(dir, "copy")
	if err := os.Mkdir(copyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(lab, "test-near.v9", "nfcapd.202611221900"), filepath.Join(copyDir, "test-near"))
	again := filepath.Join(dir, "again.csv")
	if _, stderr, code := run(t, context.Background(), "ingest", filepath.Join(lab, "test-near.v9"), "--out", again); code != exitOK {
		t.Fatal(stderr)
	}
	for name, args := range map[string][]string{
		"a copy, far apart":              {filepath.Join(lab, "test-near.v9"), filepath.Join(lab, "..", "lab-extra", "dev-far.v9"), copyDir},
		"the same flows in another file": {filepath.Join(lab, "test-near.v9"), again},
	} {
		t.Run(name, func(t *testing.T) {
			rows, stderr := classifyRows(t, args...)
			var near []string
			for _, r := range rows {
				if slices.Contains(single, r) {
					near = append(near, r)
				}
			}
			if len(near) != len(single) {
				t.Errorf("%d of test-near's %d rows unchanged", len(near), len(single))
			}
			if !strings.Contains(stderr, "classify: 600 duplicate flow records dropped") {
				t.Errorf("stderr does not count the duplicates:\n%s", stderr)
			}
		})
	}
}

// TestTimeWindow: a file named on the command line is read whatever the
// time in its name (the shipped files are named 2026-11-22 but hold flows
// of 2027-01-11); when pruning by name leaves nothing, or the window keeps
// no flow, the run says so and fails (it printed "0 downloads", exit 0).
func TestTimeWindow(t *testing.T) {
	file := filepath.Join(lab, "test-near.v9", "nfcapd.202611221900")
	rows, _ := classifyRows(t, file, "--since", "2027-01-11 12:00")
	if len(rows) != 300 {
		t.Errorf("named file: %d downloads, want 300", len(rows))
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{filepath.Join(lab, "test-near.v9"), "--since", "2027-01-11 12:00"}, "the input file was not opened"},
		{[]string{file, "--since", "2028-01-01"}, "all 600 flows read lie outside --since/--until: they span 2027-01-11T12:06:51Z to 2027-01-11T12:07:12Z"},
	} {
		stdout, stderr, code := run(t, context.Background(), append([]string{"classify", "--model", filepath.Join(lab, "lab.ffm")}, c.args...)...)
		if code != exitError || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d saying %q", c.args, code, stdout, stderr, exitError, c.want)
		}
	}
}

// TestInterruptWhileOpening: an input that blocks while it is opened (a
// FIFO without a writer) does not hold an interrupt up: the run exits 130.
// It used to wait in open, and exit 0 once a writer came.
func TestInterruptWhileOpening(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "flows.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	// Let a reader still waiting in open go at the end.
	t.Cleanup(func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	for name, args := range map[string][]string{
		"ingest":   {"ingest", fifo, "--out", filepath.Join(dir, "out.csv")},
		"classify": {"classify", "--model", filepath.Join(lab, "lab.ffm"), fifo},
		"info":     {"info", fifo},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int, 1)
			go func() {
				_, _, code := run(t, ctx, args...)
				done <- code
			}()
			time.AfterFunc(100*time.Millisecond, cancel) // the interrupt
			select {
			case code := <-done:
				if code != exitInterrupted {
					t.Errorf("exit %d, want %d", code, exitInterrupted)
				}
			case <-time.After(time.Minute): // a guard against hanging, not a measurement
				t.Fatal("the interrupt was not noticed while the input was being opened")
			}
		})
	}
}
