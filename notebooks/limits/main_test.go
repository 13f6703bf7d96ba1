package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// data is the repository's datasets directory.
var data = filepath.Join("..", "..", "datasets")

// TestNotebook runs the notebook on the shipped lab data with the shipped
// model and checks the figures notebooks/README.md quotes.
func TestNotebook(t *testing.T) {
	model := filepath.Join(data, "lab-dev", "lab.ffm")
	if _, err := os.Stat(filepath.Join(data, "lab-extra", "dev-far.nfdump.csv")); err != nil {
		t.Skip(err)
	}
	out := t.TempDir()
	var w bytes.Buffer
	res, err := analyse(context.Background(), &w, data, model, out)
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]runRow{}
	for _, r := range res.Runs {
		runs[r.Run] = r
		if s := r.Whole + r.Aligned + r.Other; s < 0.999 || s > 1.001 {
			t.Errorf("%s: residue classes add up to %.3f", r.Run, s)
		}
		if r.Unknowns != r.Catalog*simulated+unknownsIn(r.Run) {
			t.Errorf("%s: %d unknown downloads, want %d simulated and %d of the run's own", r.Run, r.Unknowns, r.Catalog*simulated, unknownsIn(r.Run))
		}
		// A candidate leaving whole segments is one leaving whole segments
		// or an aligned rest.
		if r.WithWhole > r.WithAligned {
			t.Errorf("%s: %.3f with a whole-segment candidate, more than the %.3f with either", r.Run, r.WithWhole, r.WithAligned)
		}
	}
	near, ok := runs["test-near"]
	if !ok || len(runs) != len(singleRuns) {
		t.Fatalf("runs %v, want all of %v:\n%s", res.Runs, singleRuns, w.String())
	}
	// One hop: most downloads resend whole segments only; naming only
	// those stays below 97%, and unknown downloads rarely find a
	// whole-segment candidate but often an aligned one.
	if near.Whole < 0.85 || near.Whole > 0.95 || near.WholeOnlyNamed >= 0.97 {
		t.Errorf("test-near: whole-segment share %.3f, want 0.85 to 0.95 (below the 97%% target)", near.Whole)
	}
	if near.WithWhole > 0.02 || near.WithAligned < 0.08 {
		t.Errorf("test-near unknowns: %.3f with a whole-segment candidate (want ≤ 0.02), %.3f with an aligned one (want ≥ 0.08)", near.WithWhole, near.WithAligned)
	}
	// fingerflow names what the "whole or aligned" policy names and
	// rejects more.
	if near.Named < near.AlignedNamed-0.005 || near.Rejected < near.AlignedRejected+0.03 {
		t.Errorf("test-near: fingerflow %.3f named, %.3f rejected; the whole-or-aligned policy %.3f, %.3f",
			near.Named, near.Rejected, near.AlignedNamed, near.AlignedRejected)
	}
	// Lossy paths: most downloads have an aligned rest.
	for _, run := range []string{"dev-vpn", "dev-mtu1280", "dev-loss2"} {
		if r := runs[run]; r.Aligned < 0.6 || r.WithAligned < 0.3 {
			t.Errorf("%s: aligned share %.3f (want ≥ 0.6), unknowns with an aligned candidate %.3f (want ≥ 0.3)", run, r.Aligned, r.WithAligned)
		}
	}
	// Keep-alive: fingerflow answers every lossless connection of up to
	// four files exactly, and some of five (five-file sums of 50 files lie
	// so densely that an exact fit may be chance, and is then refused); a
	// lossy connection of three or more files fits many combinations.
	if len(res.KeepAlive) != 4 {
		t.Fatalf("keep-alive rows %+v, want 2 to 5 files", res.KeepAlive)
	}
	for _, k := range res.KeepAlive {
		if k.Lossless == 0 || k.Exact > k.Lossless || (k.Files <= 4 && k.Exact < k.Lossless) || k.Exact == 0 {
			t.Errorf("%d files: %d lossless connections, %d answered exactly", k.Files, k.Lossless, k.Exact)
		}
		if k.Files >= 3 && k.LossyWhole > 0 && k.MedianFits < 10 {
			t.Errorf("%d files: a median of %d combinations fit a lossy connection, want ≥ 10", k.Files, k.MedianFits)
		}
	}
	f, err := os.Open(filepath.Join(out, "frontier.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if img, err := png.Decode(f); err != nil || img.Bounds().Dx() < 500 {
		t.Errorf("frontier.png: %v", err)
	}
}

// unknownsIn is how many downloads of non-catalog files a shipped run
// holds (ten per round, see the lab READMEs).
func unknownsIn(run string) int {
	if run == "dev-ipv6" {
		return 30
	}
	return 50
}
