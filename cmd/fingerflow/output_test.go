package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutputDirectoryChecked: an output in a directory that does not exist
// is refused before any work (train used to train for seconds first), and
// the error names the path given, not a temporary file.
func TestOutputDirectoryChecked(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nonexistent", "dir")
	flows := filepath.Join(lab, "test-near.v9")
	for name, args := range map[string][]string{
		"train": {"train", "--catalog", filepath.Join(lab, "cat.csv"),
			"--flows", filepath.Join(lab, "train-near.v9"), "--labels", filepath.Join(lab, "train-near.labels.csv"),
			"--out", filepath.Join(missing, "m.ffm")},
		"classify": {"classify", "--model", filepath.Join(lab, "lab.ffm"), flows, "--out", filepath.Join(missing, "d.csv")},
		"ingest":   {"ingest", flows, "--out", filepath.Join(missing, "f.parquet")},
	} {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := run(t, context.Background(), args...)
			out := args[len(args)-1]
			if code == exitOK || !strings.Contains(stderr, out+": ") || strings.Contains(stderr, ".tmp-") {
				t.Errorf("exit %d, stderr %q: want a failure naming %s and no temporary file", code, stderr, out)
			}
			if stdout != "" || strings.Contains(stderr, "labelled run") || strings.Contains(stderr, "downloads,") {
				t.Errorf("work was done before the output was checked: stdout %q, stderr %q", stdout, stderr)
			}
		})
	}
}
