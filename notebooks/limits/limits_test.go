package limits

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot/vg"

	"github.com/fingerflow/fingerflow/notebooks/nbview"
)

// data is the repository's datasets directory.
var data = filepath.Join("..", "..", "datasets")

// TestAnalyse runs the notebook's computation on the shipped lab data with
// the shipped model and checks the figures notebooks/README.md quotes and
// the relations between them.
func TestAnalyse(t *testing.T) {
	if _, err := os.Stat(filepath.Join(data, "lab-extra", "dev-far.nfdump.csv")); err != nil {
		t.Skip(err)
	}
	res, err := Analyse(context.Background(), data, filepath.Join(data, "lab-dev", "lab.ffm"))
	if err != nil {
		t.Fatal(err)
	}
	figs := res.Figures()
	if err := nbview.Verify(figs); err != nil {
		t.Error(err)
	}
	if len(res.Runs) != len(SingleRuns) || len(figs) != 10+3*3+4*4+6 {
		t.Fatalf("%d runs, %d figures; want all %d runs and 41 figures", len(res.Runs), len(figs), len(SingleRuns))
	}
	for _, r := range res.Runs {
		if s := r.Whole + r.Aligned + r.Other; s < 0.999 || s > 1.001 {
			t.Errorf("%s: residue classes add up to %.3f", r.Run, s)
		}
		if r.Unknowns != r.Catalog*Simulated+unknownsIn(r.Run) {
			t.Errorf("%s: %d unknown downloads, want %d simulated and %d of the run's own", r.Run, r.Unknowns, r.Catalog*Simulated, unknownsIn(r.Run))
		}
		// A candidate leaving whole segments is one leaving whole segments
		// or an aligned rest.
		if r.WithWhole > r.WithAligned {
			t.Errorf("%s: %.3f with a whole-segment candidate, more than the %.3f with either", r.Run, r.WithWhole, r.WithAligned)
		}
	}
	// fingerflow names what the "whole or aligned" policy names and
	// rejects more, on the one-hop run.
	near, _ := res.Run("test-near")
	if near.Named < near.AlignedNamed-0.005 || near.Rejected < near.AlignedRejected+0.03 {
		t.Errorf("test-near: fingerflow %.3f named, %.3f rejected; the whole-or-aligned policy %.3f, %.3f",
			near.Named, near.Rejected, near.AlignedNamed, near.AlignedRejected)
	}
	// Keep-alive: every lossless connection of up to four files is
	// answered exactly, and some of five (five-file sums of 50 files lie so
	// densely that an exact fit may be chance, and is then refused); a
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

	// Pipelined and keep-alive connections of the apt run: fingerflow
	// answers some exactly and none wrongly; a connection that lost
	// nothing leaves no residue, one that lost something does.
	if len(res.Pipelined) != 10 {
		t.Errorf("%d connections of several catalog files in %s, want 10", len(res.Pipelined), PipelinedRun.Name)
	}
	for _, c := range res.Pipelined {
		if c.Answer == "wrong" || (c.Answer == "exact") != (c.Residue == "lossless") {
			t.Errorf("%+v: answered %s with residue %s", c, c.Answer, c.Residue)
		}
		if lossless := c.Extra >= -3*c.Files && c.Extra <= 3*c.Files; lossless != (c.Residue == "lossless") {
			t.Errorf("%+v: %d bytes resent, residue %s", c, c.Extra, c.Residue)
		}
		if (c.WholeFits < 0) != (c.Files > MaxCountedFiles) {
			t.Errorf("%+v: combinations counted for %d files", c, c.Files)
		}
	}

	p, err := FrontierChart(res.Runs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := nbview.PNG(p, 8*vg.Inch, 6*vg.Inch)
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dx() < 500 {
		t.Errorf("frontier chart: %v", err)
	}
}

// TestAnalyseNoData: a directory without lab runs is an error.
func TestAnalyseNoData(t *testing.T) {
	if _, err := Analyse(context.Background(), t.TempDir(), filepath.Join(data, "lab-dev", "lab.ffm")); err == nil {
		t.Fatal("no error for a directory without runs")
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
