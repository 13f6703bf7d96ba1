package nbview

import (
	"bytes"
	"image/png"
	"math"
	"strings"
	"testing"

	"github.com/go-gota/gota/dataframe"
	"github.com/google/go-cmp/cmp"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

func TestNumber(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0.86, "0.86"},
		{0.8630001, "0.863"},
		{0.99994, "0.9999"},
		{0.35483870967, "0.3548"},
		{0.00015287, "0.00015"},
		{-0.0004, "-0.0004"},
		{1.5e-9, "1.5e-09"},
		{270, "270"},
		{1214.382, "1214.382"},
		{100204042.4, "100204042"},
		{-2.5, "-2.5"},
		{math.NaN(), ""},
		{math.Inf(1), "+Inf"},
	} {
		if got := Number(c.v); got != c.want {
			t.Errorf("Number(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestTable(t *testing.T) {
	type row struct {
		Run   string
		Whole float64
		N     int
	}
	df := dataframe.LoadStructs([]row{{"train-near", 0.86, 1250}, {"dev-<far>", math.NaN(), 300}})
	got, err := Table("runs & shares", df)
	if err != nil {
		t.Fatal(err)
	}
	want := `<table>
<caption style="text-align:left">runs &amp; shares</caption>
<thead><tr><th style="text-align:left">Run</th><th style="text-align:right">Whole</th><th style="text-align:right">N</th></tr></thead>
<tbody>
<tr><td style="text-align:left">train-near</td><td style="text-align:right">0.86</td><td style="text-align:right">1250</td></tr>
<tr><td style="text-align:left">dev-&lt;far&gt;</td><td style="text-align:right"></td><td style="text-align:right">300</td></tr>
</tbody>
</table>
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Table (-want +got):\n%s", diff)
	}
	if h := Head(df, 1); h.Nrow() != 1 || h.Elem(0, 0).String() != "train-near" {
		t.Errorf("Head(df, 1): %v", h)
	}
	if h := Head(df, 5); h.Nrow() != 2 {
		t.Errorf("Head(df, 5): %d rows", h.Nrow())
	}
	bad := df.Select([]string{"no such column"})
	if _, err := Table("", bad); err == nil {
		t.Error("no error for a frame in error")
	}
}

func TestFigures(t *testing.T) {
	figs := []Figure{
		Percent("whole", "86%", 0.8604),
		Percent("named", "99.6%", 0.9962),
		Decimal("mean", "801.6", 801.632),
		Count("flows", 266, 266),
		Text("top", "10.77.0.1", "10.77.0.1"),
		Claim("adds up", true, "3807753586 of 3807753586"),
	}
	for _, f := range figs {
		if !f.OK {
			t.Errorf("%+v does not hold", f)
		}
	}
	if err := Verify(figs); err != nil {
		t.Error(err)
	}
	off := []Figure{Percent("whole", "86%", 0.8651), Count("flows", 266, 267), Claim("adds up", false, "1 of 2")}
	err := Verify(append(figs, off...))
	if err == nil {
		t.Fatal("no error for three figures that do not hold")
	}
	for _, w := range []string{"3 of 9", "whole: quoted 86%, measured 87%", "flows: quoted 266, measured 267", "adds up: quoted holds, measured 1 of 2"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestPNG(t *testing.T) {
	p := plot.New()
	l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		t.Fatal(err)
	}
	p.Add(l)
	b, err := PNG(p, 4*vg.Inch, 2*vg.Inch)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// gonum/plot's PNG canvas draws at 96 dots per inch.
	if bd := img.Bounds(); bd.Dx() != 384 || bd.Dy() != 192 {
		t.Errorf("image %v, want 384×192", bd)
	}
}
