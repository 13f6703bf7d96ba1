package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateModel = flag.Bool("update-model", false, "retrain datasets/lab-dev/lab.ffm, the model the README's quick start uses")

// shippedModelArgs is the training command the README gives for the shipped
// model.
func shippedModelArgs(out string) []string {
	return []string{"train", "-q", "--catalog", lab + "/cat.csv",
		"--flows", lab + "/train-near.v9", "--labels", lab + "/train-near.labels.csv",
		"--flows", lab + "/train-https.v9", "--labels", lab + "/train-https.labels.csv",
		"--out", out}
}

// TestShippedModel retrains the quick start's model from the shipped runs
// and checks it is byte for byte the committed one, so the quick start
// never runs a model the code would no longer make. Refresh it with
// go test ./cmd/fingerflow -run TestShippedModel -update-model.
func TestShippedModel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	shipped := filepath.Join(lab, "lab.ffm")
	out := filepath.Join(t.TempDir(), "lab.ffm")
	if *updateModel {
		out = shipped
	}
	if _, stderr, code := run(t, context.Background(), shippedModelArgs(out)...); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	if *updateModel {
		return
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: retraining gives a different model (%d bytes, committed %d); run go test ./cmd/fingerflow -run TestShippedModel -update-model", shipped, len(got), len(want))
	}
}

// TestQuickStart runs the README's first command: classify the shipped
// test run with the shipped model.
func TestQuickStart(t *testing.T) {
	stdout, stderr, code := run(t, context.Background(), "classify", "--model", lab+"/lab.ffm", lab+"/test-near.v9")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 301 {
		t.Fatalf("%d lines, want a header and 300 downloads", len(lines))
	}
	if !strings.Contains(stderr, "300 downloads") {
		t.Errorf("no summary line in %q", stderr)
	}
	named := 0
	for _, l := range lines[1:] {
		if strings.Contains(l, ",cat-") {
			named++
		}
	}
	// 250 catalog downloads and 50 unknown ones.
	if named < 235 || named > 260 {
		t.Errorf("%d downloads named, want about 250", named)
	}
}

// TestClassifySampled: nfcapd's sampled file (nfreplay into nfcapd -s 10)
// holds lab downloads with counters scaled by the sampling rate; classify
// must leave them unknown and say why.
func TestClassifySampled(t *testing.T) {
	stdout, stderr, code := run(t, context.Background(), "classify", "--model", lab+"/lab.ffm", "../../datasets/nfcapd/testdata/sampled.nfcapd")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rows := strings.Split(strings.TrimSpace(stdout), "\n")[1:]
	if len(rows) == 0 {
		t.Fatal("no downloads")
	}
	for _, r := range rows {
		if !strings.Contains(r, ",unknown,0,") || !strings.Contains(r, ",sampled,") {
			t.Fatalf("row %q: want unknown with profile sampled", r)
		}
	}
	if !strings.Contains(stderr, "packet-sampling exporters") {
		t.Errorf("stderr does not say why: %q", stderr)
	}
}

// TestClassifyFilters: classify takes ingest's flow filters; test-near's
// downloads all ran from 10.77.1.2 to port 80 and none to port 443.
func TestClassifyFilters(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--net", "10.77.1.2/32", "--port", "80"}, "classify: 300 downloads"},
		{[]string{"--port", "443"}, "classify: 0 downloads"},
		{[]string{"--proto", "udp"}, "classify: 0 downloads"},
	} {
		args := append([]string{"classify", "--model", lab + "/lab.ffm", lab + "/test-near.v9"}, c.args...)
		_, stderr, code := run(t, ctx, args...)
		if code != 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", c.args, code, stderr, c.want)
		}
	}
	if _, _, code := run(t, ctx, "classify", "--model", lab+"/lab.ffm", lab+"/test-near.v9", "--port", "x"); code != exitUsage {
		t.Errorf("--port x: exit %d, want %d", code, exitUsage)
	}
}

// TestEvaluateRunSummary: with several runs, evaluate ends its tables with
// one row per run, as the lab targets are stated per condition.
func TestEvaluateRunSummary(t *testing.T) {
	stdout, stderr, code := run(t, context.Background(), "evaluate", "-q", "--model", lab+"/lab.ffm",
		"--flows", lab+"/test-near.v9", "--labels", lab+"/test-near.labels.csv",
		"--flows", lab+"/test-near.v5", "--labels", lab+"/test-near.labels.csv", "--confusions", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	i := strings.Index(stdout, "per run:")
	if i < 0 {
		t.Fatalf("no per-run summary in\n%s", stdout)
	}
	rows := strings.Split(strings.TrimSpace(stdout[i:]), "\n")
	if len(rows) != 4 {
		t.Fatalf("summary %q: want a header and two runs", rows)
	}
	// The same downloads exported as v9 and v5 score the same.
	f9, f5 := strings.Fields(rows[2]), strings.Fields(rows[3])
	if f9[0] != "test-near.v9" || f5[0] != "test-near.v5" || strings.Join(f9[1:], " ") != strings.Join(f5[1:], " ") {
		t.Errorf("rows %q and %q: want the two exports of test-near with equal figures", rows[2], rows[3])
	}
}
