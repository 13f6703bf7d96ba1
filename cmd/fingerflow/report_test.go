package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fingerflow/fingerflow/reports"
)

// TestEvaluateReport: --report writes the charts and an HTML page that
// carries the same figures as the printed tables.
func TestEvaluateReport(t *testing.T) {
	model := labModel(t)
	labels := filepath.Join(lab, "test-near.labels.csv")
	dir := filepath.Join(t.TempDir(), "report") // created by evaluate
	out, stderr, code := run(t, context.Background(), "evaluate", "--model", model, "--report", dir,
		"--flows", filepath.Join(lab, "test-near.v9"), "--labels", labels,
		"--flows", filepath.Join(lab, "test-near.ipfix"), "--labels", labels)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name string
		w, h float64
	}{
		{"accuracy.png", float64(reports.AccuracyWidth), float64(reports.AccuracyHeight)},
		{"confusion.png", float64(reports.HeatmapWidth), float64(reports.HeatmapHeight)},
	} {
		img, err := png.Decode(bytes.NewReader(read(c.name)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := fmt.Sprintf("%dx%d", int(c.w/72*reports.DPI), int(c.h/72*reports.DPI))
		if got := fmt.Sprintf("%dx%d", img.Bounds().Dx(), img.Bounds().Dy()); got != want {
			t.Errorf("%s is %s pixels, want %s", c.name, got, want)
		}
	}
	svg := read("accuracy.svg")
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("accuracy.svg: %v", err)
		}
	}
	page := string(read("report.html"))
	// The overall table's figures, as printed, are in the page; so are the
	// runs and the three inlined charts.
	overall := out[strings.LastIndex(out, "labelled downloads from"):]
	var want []string
	for _, row := range []string{"catalog downloads named correctly", "unknown downloads rejected"} {
		for _, c := range tableRow(t, overall, row) {
			want = append(want, fmt.Sprintf("%.1f%% (%d/%d)", c.pct, c.num, c.over))
		}
	}
	want = append(want, "test-near.v9", "test-near.ipfix", "all runs", "bytes-only tree (published method)")
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Errorf("report.html lacks %q", w)
		}
	}
	// Both exports of test-near's 50 background downloads, none of which
	// the bytes-only method can reject.
	if !strings.Contains(page, "0.0% (0/100)") {
		t.Errorf("report.html lacks the baseline's 0 of 100 background downloads rejected over all runs")
	}
	if n := strings.Count(page, `src="data:image/png;base64,`); n != 3 {
		t.Errorf("report.html inlines %d PNG images, want 3 (accuracy, retransmission overhead, confusion)", n)
	}
	if _, err := png.Decode(bytes.NewReader(read("extra.png"))); err != nil {
		t.Errorf("extra.png: %v", err)
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("report.html refers to something outside itself")
	}
}

// TestEvaluateReportOneRun: a single run has no "all runs" column, and a
// report directory that cannot be made is an error.
func TestEvaluateReportOneRun(t *testing.T) {
	model := labModel(t)
	args := []string{"evaluate", "--model", model,
		"--flows", filepath.Join(lab, "test-near.v9"), "--labels", filepath.Join(lab, "test-near.labels.csv")}
	dir := t.TempDir()
	_, stderr, code := run(t, context.Background(), append(args, "--report", dir)...)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(page, []byte("test-near.v9")) || bytes.Contains(page, []byte("all runs")) {
		t.Errorf("single-run report should name test-near.v9 and no total")
	}

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = run(t, context.Background(), append(args, "--report", filepath.Join(file, "sub"))...)
	if code == exitOK || !strings.Contains(stderr, "report") {
		t.Errorf("--report under a regular file: exit %d, stderr:\n%s", code, stderr)
	}
}
