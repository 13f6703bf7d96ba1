package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// data is the repository's datasets directory.
var data = filepath.Join("..", "..", "datasets")

// TestNotebook runs the notebook on the shipped lab data and checks the
// figures notebooks/README.md quotes.
func TestNotebook(t *testing.T) {
	if _, err := os.Stat(filepath.Join(data, "lab-dev", "train-near.nfdump.csv")); err != nil {
		t.Skip(err)
	}
	out := t.TempDir()
	var w bytes.Buffer
	res, err := analyse(context.Background(), &w, data, out)
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]runSummary{}
	for _, r := range res.Runs {
		runs[r.Run] = r
	}
	near, ok := runs["train-near"]
	if !ok {
		t.Fatalf("no train-near row:\n%s", w.String())
	}
	// 1,250 downloads, one file each; IPv4 with TCP timestamps on a
	// 1500-byte MTU.
	if near.Downloads != 1250 || near.Hdr != 52 || near.Seg != 1448 {
		t.Errorf("train-near: %d downloads, %d header bytes, %d-byte segments; want 1250, 52, 1448", near.Downloads, near.Hdr, near.Seg)
	}
	// nginx's response header: the most common payload − size.
	if near.Mode != 270 || near.Base != 270 {
		t.Errorf("train-near overhead: mode %d, calibrated %d; want 270 bytes", near.Mode, near.Base)
	}
	if near.Whole < 0.80 || near.Whole > 0.92 {
		t.Errorf("train-near: %.3f of downloads off by whole segments, want 0.80 to 0.92", near.Whole)
	}
	if near.Clean < 0.2 || near.Clean > near.Whole {
		t.Errorf("train-near: %.3f clean downloads, want at least 0.2 and at most the whole-segment share %.3f", near.Clean, near.Whole)
	}
	if res.Grain8 < 0.9 {
		t.Errorf("train-near: %.3f of non-zero residues are multiples of 8 bytes, want at least 0.9", res.Grain8)
	}
	// HTTPS: TLS framing makes payload − size larger than the fixed part.
	if https, ok := runs["train-https"]; !ok || https.Mode <= https.Base || https.Whole < 0.8 {
		t.Errorf("train-https: %+v: want mode above the calibrated base and most downloads off by whole segments", https)
	}
	// lab-extra, when shipped: a VPN leg with MTU 1420 sends 1368-byte
	// segments, and lossy paths are explained by whole segments less often
	// than the clean one.
	if vpn, ok := runs["dev-vpn"]; ok {
		if vpn.Seg != 1368 {
			t.Errorf("dev-vpn: segment %d, want 1368", vpn.Seg)
		}
		if vpn.Whole >= near.Whole {
			t.Errorf("dev-vpn: whole-segment share %.3f not below train-near's %.3f", vpn.Whole, near.Whole)
		}
	}
	if far, ok := runs["dev-far"]; ok && (far.Clean > 0.05 || far.MedianPct <= near.MedianPct) {
		t.Errorf("dev-far: %.3f clean, median %.3f%% resent; want almost none clean and more resent than train-near (%.3f%%)", far.Clean, far.MedianPct, near.MedianPct)
	}

	for _, want := range []string{"DataFrame", "train-near", "Whole", "a multiple", "residue.png"} {
		if !strings.Contains(w.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, w.String())
		}
	}
	f, err := os.Open(filepath.Join(out, "residue.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("residue.png: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 250 {
		t.Errorf("residue.png is %v", b)
	}
}

// TestNotebookNoData: a directory without lab runs is an error, not an
// empty table.
func TestNotebookNoData(t *testing.T) {
	var w bytes.Buffer
	if err := run(context.Background(), &w, t.TempDir(), t.TempDir()); err == nil {
		t.Fatalf("no error for a directory without runs; output:\n%s", w.String())
	}
}
