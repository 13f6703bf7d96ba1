package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/models/downloads"
)

// trainArgs train a small model (three trees) on lab-dev's train-near run.
func trainArgs(out string) []string {
	return []string{"train", "--catalog", filepath.Join(lab, "cat.csv"),
		"--flows", filepath.Join(lab, "train-near.v9"), "--labels", filepath.Join(lab, "train-near.labels.csv"),
		"--trees", "3", "--out", out}
}

// The model file `fingerflow train` wrote, kept for the tests that need a
// model (training takes seconds).
var (
	labModelOnce sync.Once
	labModelData []byte
	labModelOut  string
)

// labModel trains the small lab model once per test binary and copies its
// file into a fresh directory of t.
func labModel(t *testing.T) string {
	t.Helper()
	labModelOnce.Do(func() {
		path := filepath.Join(t.TempDir(), "lab.ffm")
		out, stderr, code := run(t, context.Background(), trainArgs(path)...)
		if code != exitOK {
			t.Errorf("train: exit %d, stderr:\n%s", code, stderr)
			return
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Error(err)
			return
		}
		labModelData, labModelOut = data, out
	})
	if labModelData == nil {
		t.Fatal("training the lab model failed")
	}
	path := filepath.Join(t.TempDir(), "lab.ffm")
	if err := os.WriteFile(path, labModelData, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTrain(t *testing.T) {
	path := labModel(t)
	for _, want := range []string{
		"profile http   ports [80]: 52 header bytes/packet, MSS 1448",
		"trained on 1250 labelled downloads (1250 of catalog files, 50 files seen) + 0 synthetic",
		"catalog 50 files",
	} {
		if !strings.Contains(labModelOut, want) {
			t.Errorf("train output lacks %q:\n%s", want, labModelOut)
		}
	}
	m, err := downloads.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Summary.Version != version || m.Summary.Examples != 1250 || m.Summary.CatalogFiles != 50 {
		t.Errorf("summary %+v: want version %s, 1250 examples, 50 catalog files", m.Summary, version)
	}
	// Base names only, so a model file does not depend on where it was made.
	if diff := cmp.Diff([]string{"train-near.v9", "train-near.labels.csv", "cat.csv"}, m.Summary.Sources); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
	if len(m.Verifier.Trees) != 3 {
		t.Errorf("%d verifier trees, want 3 (--trees 3)", len(m.Verifier.Trees))
	}
	if m.Baseline == nil {
		t.Error("the model carries no byte-count baseline")
	}
}

// TestTrainSeed: a second training with the same seed writes the same file.
func TestTrainSeed(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a second model (seconds)")
	}
	first, err := os.ReadFile(labModel(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "again.ffm")
	if _, stderr, code := run(t, context.Background(), trainArgs(path)...); code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	second, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first, second) {
		t.Errorf("same inputs and seed, different model files (%d and %d bytes)", len(first), len(second))
	}
}

// TestTrainBadInputs: usage errors exit 2, bad files exit 1 with a message
// naming the file (and the line); no model file is left behind.
func TestTrainBadInputs(t *testing.T) {
	dir := t.TempDir()
	badLabels := filepath.Join(dir, "bad.labels.csv")
	good, err := os.ReadFile(filepath.Join(lab, "train-near.labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	lines[3] = "10.77.1.2,notaport,80,cat-001.bin,11180376,1,2,0,0\n"
	if err := os.WriteFile(badLabels, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	notCatalog := filepath.Join(dir, "cat.txt")
	if err := os.WriteFile(notCatalog, []byte("these are not packages\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cat := filepath.Join(lab, "cat.csv")
	flows := filepath.Join(lab, "train-near.v9")
	labels := filepath.Join(lab, "train-near.labels.csv")
	out := filepath.Join(dir, "model.ffm")
	tests := []struct {
		name string
		args []string
		code int
		want []string // parts of stderr
	}{
		{"labels file with a bad line", []string{"--flows", flows, "--labels", badLabels}, exitError,
			[]string{badLabels, "line 4", "notaport"}},
		{"more --flows than --labels", []string{"--flows", flows, "--flows", flows, "--labels", labels}, exitUsage,
			[]string{"2 --flows but 1 --labels"}},
		{"no --labels", []string{"--flows", flows}, exitUsage, []string{"1 --flows but 0 --labels"}},
		{"--flows and --calibrate", []string{"--flows", flows, "--calibrate", flows, "--labels", labels}, exitUsage,
			[]string{"not both"}},
		{"missing labels file", []string{"--flows", flows, "--labels", filepath.Join(dir, "nope.csv")}, exitError,
			[]string{filepath.Join(dir, "nope.csv")}},
		{"threshold 2", []string{"--flows", flows, "--labels", labels, "--threshold", "2"}, exitUsage, []string{"--threshold"}},
		{"unknown flag", []string{"--flows", flows, "--labels", labels, "--colour"}, exitUsage, []string{"--colour"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"train", "--catalog", cat, "--out", out}, tt.args...)
			_, stderr, code := run(t, context.Background(), args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s written", out)
			}
		})
	}
	for _, missing := range []string{"--catalog", "--out"} {
		t.Run("no "+missing, func(t *testing.T) {
			args := []string{"train", "--flows", flows, "--labels", labels}
			if missing == "--catalog" {
				args = append(args, "--out", out)
			} else {
				args = append(args, "--catalog", cat)
			}
			_, stderr, code := run(t, context.Background(), args...)
			if code != exitUsage || !strings.Contains(stderr, missing) {
				t.Errorf("exit %d, want %d with a message naming %s; stderr:\n%s", code, exitUsage, missing, stderr)
			}
		})
	}
	t.Run("catalog that is not one", func(t *testing.T) {
		_, stderr, code := run(t, context.Background(), "train", "--catalog", notCatalog, "--out", out, "--flows", flows, "--labels", labels)
		if code != exitError || !strings.Contains(stderr, notCatalog) {
			t.Errorf("exit %d, want %d with a message naming %s; stderr:\n%s", code, exitError, notCatalog, stderr)
		}
	})
}

// TestTrainInterrupted: an interrupted training exits 130 and leaves no
// model file, not even a temporary one.
func TestTrainInterrupted(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, stderr, code := run(t, ctx, trainArgs(filepath.Join(dir, "m.ffm"))...); code != exitInterrupted {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr)
	}
	noLeftovers(t, dir)
}

// TestTrainNumbersChecked: every numeric flag is range-checked before any
// work, as a usage error. --trees -3 used to panic, --trees 0 to write a
// model classify refuses, --augment 1000000000 to exhaust memory; the
// negative counts and an empty --net were accepted.
func TestTrainNumbersChecked(t *testing.T) {
	dir := t.TempDir()
	base := trainArgs(filepath.Join(dir, "m.ffm"))
	for _, bad := range [][]string{
		{"--trees", "-3"}, {"--trees", "0"}, {"--trees", "100000"},
		{"--augment", "1000000000"}, {"--augment", "-1"},
		{"--synthesize", "-5"}, {"--synthesize", "1000000"},
		{"--threshold", "0"}, {"--threshold", "NaN"}, {"--max-files", "0"}, {"--max-extra", "-0.5"},
	} {
		t.Run(strings.Join(bad, " "), func(t *testing.T) {
			_, stderr, code := run(t, context.Background(), append(slices.Clone(base), bad...)...)
			if code != exitUsage || !strings.Contains(stderr, bad[0]+" "+bad[1]) || strings.Contains(stderr, "labelled run") {
				t.Errorf("exit %d, stderr %q; want %d naming %s %s before any work", code, stderr, exitUsage, bad[0], bad[1])
			}
			noLeftovers(t, dir)
		})
	}
	for _, args := range [][]string{
		{"classify", "--model", filepath.Join(lab, "lab.ffm"), filepath.Join(lab, "test-near.v9"), "--net", ""},
		{"classify", "--model", filepath.Join(lab, "lab.ffm"), filepath.Join(lab, "test-near.v9"), "--port", ""},
		{"ingest", filepath.Join(lab, "test-near.v9"), "--out", filepath.Join(dir, "f.csv"), "--proto", ""},
		{"evaluate", "--model", filepath.Join(lab, "lab.ffm"), "--confusions", "-1",
			"--flows", filepath.Join(lab, "test-near.v9"), "--labels", filepath.Join(lab, "test-near.labels.csv")},
	} {
		if _, stderr, code := run(t, context.Background(), args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr %q", args, code, exitUsage, stderr)
		}
	}
}
