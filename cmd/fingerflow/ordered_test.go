package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// orderedList writes the published study's kind of ground truth for a lab
// run: only the downloaded file names, in download order.
func orderedList(t *testing.T, labelsPath string, drop int) string {
	t.Helper()
	f, err := os.Open(labelsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		conn int
		file string
	}
	var es []entry
	for _, r := range rows[1:] {
		conn, err := strconv.Atoi(r[6])
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, entry{conn, r[3]})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].conn < es[j].conn })
	var b strings.Builder
	b.WriteString("file\n")
	for i, e := range es {
		if i == drop {
			continue
		}
		b.WriteString(e.file + "\n")
	}
	out := filepath.Join(t.TempDir(), "ordered.csv")
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTrainOrderedLabels trains from an ordered list of downloaded files
// (matched to the run's downloads by start time) and must do as well as
// with the lab's address/port labels.
func TestTrainOrderedLabels(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	ctx := context.Background()
	model := filepath.Join(t.TempDir(), "ordered.ffm")
	list := orderedList(t, lab+"/train-near.labels.csv", -1)
	if _, stderr, code := run(t, ctx, "train", "-q", "--catalog", lab+"/cat.csv",
		"--flows", lab+"/train-near.v9", "--labels", list, "--out", model); code != 0 {
		t.Fatalf("train with an ordered list: exit %d: %s", code, stderr)
	}
	stdout, stderr, code := run(t, ctx, "evaluate", "-q", "--model", model,
		"--flows", lab+"/test-near.v9", "--labels", lab+"/test-near.labels.csv")
	if code != 0 {
		t.Fatalf("evaluate: exit %d: %s", code, stderr)
	}
	var acc float64
	for _, line := range strings.Split(stdout, "\n") {
		if strings.Contains(line, "catalog downloads named correctly") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64)
			if err != nil {
				t.Fatalf("cannot read %q", line)
			}
			acc = v
			break
		}
	}
	if acc < 95 {
		t.Errorf("trained from an ordered list: %.1f%% named correctly on test-near, want ≥ 95%%\n%s", acc, stdout)
	}

	// A list that lost entries cannot be matched by order: refuse it,
	// naming both counts, rather than shift every later label.
	short := orderedList(t, lab+"/train-near.labels.csv", 10)
	list2 := filepath.Join(filepath.Dir(short), "short.csv")
	data, _ := os.ReadFile(short)
	lines := strings.Split(string(data), "\n")
	if err := os.WriteFile(list2, []byte(strings.Join(lines[:len(lines)-40], "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = run(t, ctx, "train", "-q", "--catalog", lab+"/cat.csv",
		"--flows", lab+"/train-near.v9", "--labels", list2, "--out", filepath.Join(t.TempDir(), "x.ffm"))
	if code != exitError || !strings.Contains(stderr, "short.csv") || !strings.Contains(stderr, "1250") {
		t.Errorf("list 40 short: exit %d, stderr %q; want exit 1 naming the file and the 1250 downloads", code, stderr)
	}
}
