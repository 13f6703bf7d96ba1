package overhead

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

// TestAnalyse runs the notebook's computation on the shipped lab data and
// checks the figures notebooks/README.md quotes.
func TestAnalyse(t *testing.T) {
	if _, err := os.Stat(filepath.Join(data, "lab-extra", "dev-far.nfdump.csv")); err != nil {
		t.Skip(err)
	}
	res, err := Analyse(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	figs := res.Figures()
	if err := nbview.Verify(figs); err != nil {
		t.Error(err)
	}
	if len(figs) != 16 {
		t.Errorf("%d figures, want 16 (all of lab-extra's shipped)", len(figs))
	}
	// The keep-alive run is left out: nearly all its connections carried
	// several files.
	if _, ok := res.Run("dev-keepalive"); ok || len(res.Runs) != 14 {
		t.Errorf("%d runs (dev-keepalive among them: %v), want the 14 single-file runs", len(res.Runs), ok)
	}
	n := 0
	for _, s := range res.Runs {
		n += s.Downloads
		if s.Clean > s.Whole || s.Whole > s.Near || s.MedianPct > s.MaxPct {
			t.Errorf("%s: clean %.3f ≤ whole %.3f ≤ near %.3f and median %.3f%% ≤ max %.3f%% do not hold",
				s.Run, s.Clean, s.Whole, s.Near, s.MedianPct, s.MaxPct)
		}
	}
	if n != len(res.Downloads) {
		t.Errorf("runs sum to %d downloads, the result holds %d", n, len(res.Downloads))
	}
	for _, d := range res.Downloads {
		if r := d.Residue(); r < 0 || r >= d.Seg || (d.Extra-r)%d.Seg != 0 {
			t.Fatalf("%s %s: residue %d of extra %d, segment %d", d.Run, d.File, r, d.Extra, d.Seg)
		}
	}
	// The residue table counts every train-near download with a non-zero
	// residue once.
	near, _ := res.Run("train-near")
	counted := 0
	for _, c := range res.Residues {
		counted += c
	}
	if whole := int(near.Whole*float64(near.Downloads) + 0.5); counted != near.Downloads-whole {
		t.Errorf("%d train-near downloads with a non-zero residue, want %d of %d", counted, near.Downloads-whole, near.Downloads)
	}
	if f := ResidueFrame(res.Residues, 10); f.Err != nil || f.Nrow() != 10 {
		t.Errorf("residue frame: %d rows, %v", f.Nrow(), f.Err)
	}

	p, err := ResidueChart(res.Runs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := nbview.PNG(p, 10*vg.Inch, 5*vg.Inch)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if bd := img.Bounds(); bd.Dx() < 500 || bd.Dy() < 250 {
		t.Errorf("chart is %v", bd)
	}
}

// TestAnalyseNoData: a directory without lab runs is an error, not an
// empty table.
func TestAnalyseNoData(t *testing.T) {
	if res, err := Analyse(context.Background(), t.TempDir()); err == nil {
		t.Fatalf("no error for a directory without runs; result %+v", res)
	}
}
