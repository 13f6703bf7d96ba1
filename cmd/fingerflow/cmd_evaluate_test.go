package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// share is one "98.0% (245/250)" cell of the evaluation table.
type share struct {
	pct       float64
	num, over int
}

var shareRE = regexp.MustCompile(`([0-9.]+)% \(([0-9]+)/([0-9]+)\)`)

// tableRow parses the cells of the evaluation table row that starts with
// label, one per predictor column.
func tableRow(t *testing.T, out, label string) []share {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), label) {
			continue
		}
		var cells []share
		for _, m := range shareRE.FindAllStringSubmatch(line, -1) {
			p, _ := strconv.ParseFloat(m[1], 64)
			n, _ := strconv.Atoi(m[2])
			d, _ := strconv.Atoi(m[3])
			cells = append(cells, share{p, n, d})
		}
		return cells
	}
	t.Fatalf("no %q row in:\n%s", label, out)
	return nil
}

func TestEvaluate(t *testing.T) {
	model := labModel(t)
	out, stderr, code := run(t, context.Background(), "evaluate", "--model", model, "--sweep",
		"--flows", filepath.Join(lab, "test-near.v9"), "--labels", filepath.Join(lab, "test-near.labels.csv"))
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(out, "300 labelled downloads from 1 run;") {
		t.Errorf("output lacks the download count:\n%s", out)
	}
	header := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "fingerflow") && strings.Contains(line, "bytes-only") {
			header = line
		}
	}
	if i, j := strings.Index(header, "fingerflow"), strings.Index(header, "bytes-only tree (published method)"); i < 0 || j < i {
		t.Errorf("no header with the fingerflow column before the bytes-only column:\n%s", out)
	}
	named := tableRow(t, out, "catalog downloads named correctly")
	if len(named) != 2 {
		t.Fatalf("catalog row has %d cells, want 2 (fingerflow, bytes-only):\n%s", len(named), out)
	}
	ff, base := named[0], named[1]
	if ff.over != 250 || base.over != 250 {
		t.Errorf("catalog downloads counted %d and %d, want 250 (test-near's labels)", ff.over, base.over)
	}
	if ff.pct < 90 {
		t.Errorf("fingerflow names %.1f%% of catalog downloads, want at least 90%%", ff.pct)
	}
	if ff.pct <= base.pct {
		t.Errorf("fingerflow %.1f%% is not above the bytes-only baseline's %.1f%%", ff.pct, base.pct)
	}
	rejected := tableRow(t, out, "unknown downloads rejected")
	if len(rejected) != 2 || rejected[0].over != 50 {
		t.Fatalf("unknown row %+v, want two cells over 50 background downloads", rejected)
	}
	// The published method has no "unknown" answer.
	if rejected[1].num != 0 {
		t.Errorf("the bytes-only baseline rejected %d background downloads, want 0", rejected[1].num)
	}
	// Every single-file catalog download is also moved to random sizes
	// outside the catalog, four times each.
	sim := tableRow(t, out, "simulated unknown downloads rejected")
	if len(sim) != 2 || sim[0].over != 1000 || sim[1].num != 0 {
		t.Fatalf("simulated unknown row %+v, want 1,000 per column and none rejected by the baseline", sim)
	}
	if sim[0].pct < 85 {
		t.Errorf("fingerflow rejected %.1f%% of simulated unknown downloads, want at least 85%%", sim[0].pct)
	}
	checkSweep(t, out)
	if !strings.Contains(out, "most frequent confusions (fingerflow):") {
		t.Errorf("no confusion list:\n%s", out)
	}
}

// TestEvaluateRuns: several runs give a table each and one for all; the
// IPFIX export of the same downloads scores as the v9 export does.
func TestEvaluateRuns(t *testing.T) {
	model := labModel(t)
	labels := filepath.Join(lab, "test-near.labels.csv")
	out, stderr, code := run(t, context.Background(), "evaluate", "--model", model, "--per-file",
		"--flows", filepath.Join(lab, "test-near.v9"), "--labels", labels,
		"--flows", filepath.Join(lab, "test-near.ipfix"), "--labels", labels)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var tables []string
	for _, part := range strings.Split(out, "labelled downloads")[1:] {
		tables = append(tables, part)
	}
	if len(tables) != 3 || !strings.Contains(out, "600 labelled downloads from 2 runs") {
		t.Fatalf("want a table per run and one for both:\n%s", out)
	}
	v9 := tableRow(t, tables[0], "catalog downloads named correctly")
	ipfix := tableRow(t, tables[1], "catalog downloads named correctly")
	if v9[0] != ipfix[0] {
		t.Errorf("fingerflow on v9 %+v, on IPFIX %+v: the same downloads must score the same", v9[0], ipfix[0])
	}
	if !strings.Contains(out, "per file (fingerflow):") {
		t.Errorf("--per-file printed no per-file table:\n%s", out)
	}
}

func TestEvaluateBadInputs(t *testing.T) {
	dir := t.TempDir()
	notModel := filepath.Join(dir, "cat.ffm")
	data, err := os.ReadFile(filepath.Join(lab, "cat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notModel, data, 0o644); err != nil {
		t.Fatal(err)
	}
	flows, labels := filepath.Join(lab, "test-near.v9"), filepath.Join(lab, "test-near.labels.csv")
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"model file that is not a model", []string{"--model", notModel, "--flows", flows, "--labels", labels}, exitError,
			[]string{notModel, "not a usable fingerflow model file"}},
		{"missing model file", []string{"--model", filepath.Join(dir, "nope.ffm"), "--flows", flows, "--labels", labels}, exitError,
			[]string{filepath.Join(dir, "nope.ffm")}},
		{"--flows without --labels", []string{"--model", notModel, "--flows", flows}, exitUsage, []string{"1 --flows but 0 --labels"}},
		{"no --model", []string{"--flows", flows, "--labels", labels}, exitUsage, []string{"model"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, context.Background(), append([]string{"evaluate"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// checkSweep reads evaluate's threshold sweep: one row per count of
// agreeing trees, names falling and rejections rising with the threshold,
// and the model's own threshold marked.
func checkSweep(t *testing.T, out string) {
	t.Helper()
	_, table, ok := strings.Cut(out, "threshold sweep")
	if !ok {
		t.Fatalf("--sweep printed no sweep:\n%s", out)
	}
	table, _, _ = strings.Cut(table, "\n\n")
	var rows [][]string
	marked := 0
	for _, line := range strings.Split(table, "\n")[2:] {
		if strings.Contains(line, "*") {
			marked++
			line = strings.Replace(line, " *", "", 1)
		}
		rows = append(rows, strings.Fields(line))
	}
	if len(rows) == 0 || len(rows[0]) != 8 {
		t.Fatalf("sweep rows %v, want 8 cells each:\n%s", rows, table)
	}
	// From a third of the trees agreeing to all of them.
	trees, err := strconv.Atoi(rows[0][3])
	if err != nil || len(rows) != trees-(trees+2)/3+1 || marked != 1 {
		t.Fatalf("sweep has %d rows (%d marked) for %s trees, want one per count of agreeing trees from a third to all, one marked:\n%s", len(rows), marked, rows[0][3], table)
	}
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil {
			t.Fatalf("sweep cell %q: %v", s, err)
		}
		return v
	}
	for i := 1; i < len(rows); i++ {
		// threshold, "k", "of", "15", named, rejected, simulated, multi
		prev, cur := rows[i-1], rows[i]
		if num(cur[4]) > num(prev[4]) || num(cur[6]) < num(prev[6]) {
			t.Errorf("sweep row %v after %v: a higher threshold must not name more or reject fewer", cur, prev)
		}
	}
	if first, last := rows[0], rows[len(rows)-1]; num(last[6]) <= num(first[6]) {
		t.Errorf("sweep from %v to %v rejects no more at the highest threshold", first, last)
	}
}

// TestEvaluateWrongLabels: labels of another run match a few downloads by
// chance, and labels naming catalog files the model does not know cannot
// be scored: evaluate refuses both (it printed a table and exited 0).
func TestEvaluateWrongLabels(t *testing.T) {
	dir := t.TempDir()
	// test-near's labels with every file renamed out of the catalog.
	b, err := os.ReadFile(filepath.Join(lab, "test-near.labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.labels.csv")
	if err := os.WriteFile(foreign, []byte(strings.ReplaceAll(string(b), "cat-", "other-")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, flows, labels, want string
	}{
		{"labels of another run", filepath.Join(lab, "test-near.v9"), filepath.Join(lab, "train-near.labels.csv"), "labels match a download"},
		{"files outside the catalog", filepath.Join(lab, "test-near.v9"), foreign, "not in the catalog"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := run(t, context.Background(), "evaluate", "--model", filepath.Join(lab, "lab.ffm"),
				"--flows", c.flows, "--labels", c.labels)
			if code != exitError || !strings.Contains(stderr, c.want) || strings.Contains(stdout, "named correctly") {
				t.Errorf("exit %d, stderr %q, stdout %q; want a refusal saying %q", code, stderr, stdout, c.want)
			}
		})
	}
}
