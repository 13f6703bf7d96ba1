package reports

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fingerflow/fingerflow/models/clusters"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
	"github.com/fingerflow/fingerflow/reports/internal/testday"
)

// update rewrites the golden charts: go test ./reports -run Golden -update
var update = flag.Bool("update", false, "rewrite the golden charts under testdata/golden")

// Golden charts are kept at half size in grey (a few kilobytes each) and
// compared with a tolerance, so that a change of font rasterisation or
// antialiasing does not fail them but a moved bar, axis or label does.
const (
	goldenDir = "testdata/golden"
	// maxMeanDiff is the largest mean difference of grey levels (0–255)
	// between a chart and its golden image.
	maxMeanDiff = 1.5
	// maxBadShare is the largest share of pixels that may differ by more
	// than badLevel grey levels.
	maxBadShare = 0.005
	badLevel    = 48
)

// nightFixture is the sample night the morning report's tests use.
var nightFixture = filepath.Join("morning", "testdata", "night")

// TestGoldenCharts draws the charts of this package that commands and
// notebooks use — the traffic chart of `stats --charts` on a fixed
// synthetic day, and the top talkers, OS families and host clusters of
// the sample night (notebooks/night.ipynb and traffic.ipynb) — and
// compares them with testdata/golden.
func TestGoldenCharts(t *testing.T) {
	ctx := context.Background()
	n, err := nightdir.Load(ctx, nightFixture)
	if err != nil {
		t.Fatal(err)
	}
	cols := append(clusters.HostColumnNames(), "bytes_in", "bytes_out", "site_share")
	ht, err := n.HostTable(cols)
	if err != nil {
		t.Fatal(err)
	}
	at := map[string]int{}
	for i, a := range ht.Addr {
		at[a] = i
	}
	var rows [][]float64
	var labels []int
	var talkers []Talker
	for _, h := range n.Hosts {
		i, ok := at[h.Addr.String()]
		if !ok {
			t.Fatalf("host %s is not in the host table", h.Addr)
		}
		var row []float64
		for _, c := range clusters.HostColumnNames() {
			row = append(row, ht.Num[c][i])
		}
		rows = append(rows, row)
		labels = append(labels, h.Cluster)
		talkers = append(talkers, Talker{Host: h.Addr.String(), In: ht.Num["bytes_in"][i], Out: ht.Num["bytes_out"][i], Share: ht.Num["site_share"][i]})
	}
	slices.SortStableFunc(talkers, func(a, b Talker) int { return cmp.Compare(b.In+b.Out, a.In+a.Out) })
	x, err := clusters.Matrix(rows)
	if err != nil {
		t.Fatal(err)
	}
	proj, err := clusters.Project2D(x, clusters.HostFeatureColumns())
	if err != nil {
		t.Fatal(err)
	}
	seconds, minutes, busiest := testday.Day()
	charts := map[string]func(w io.Writer) error{
		"synthetic-day-traffic": func(w io.Writer) error { return TrafficChart(w, "png", seconds, minutes, busiest) },
		"clusters":              func(w io.Writer) error { return ClusterChart(w, "png", proj, labels, n.Clusters) },
		"os-families":           func(w io.Writer) error { return OSFamiliesChart(w, "png", Families(n.Hosts)) },
		"talkers":               func(w io.Writer) error { return TalkersChart(w, "png", talkers[:10]) },
	}
	for name, draw := range charts {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := draw(&b); err != nil {
				t.Fatal(err)
			}
			keep(t, name+".png", b.Bytes())
			img, err := png.Decode(&b)
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, name, img)
		})
	}
}

// compareGolden compares img, at half size in grey, with
// testdata/golden/NAME.png, or writes it there with -update.
func compareGolden(t *testing.T, name string, img image.Image) {
	t.Helper()
	got := thumbnail(img)
	path := filepath.Join(goldenDir, name+".png")
	if *update {
		var b bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(&b, got); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (go test ./reports -run Golden -update writes it)", err)
	}
	defer f.Close()
	wantImg, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	want := image.NewGray(wantImg.Bounds())
	for y := wantImg.Bounds().Min.Y; y < wantImg.Bounds().Max.Y; y++ {
		for x := wantImg.Bounds().Min.X; x < wantImg.Bounds().Max.X; x++ {
			want.Set(x, y, wantImg.At(x, y))
		}
	}
	if got.Bounds() != want.Bounds() {
		t.Fatalf("chart is %v at half size, golden %v", got.Bounds().Size(), want.Bounds().Size())
	}
	mean, bad := imageDiff(got, want)
	if mean > maxMeanDiff || bad > maxBadShare {
		failed := filepath.Join(t.TempDir(), name+".png")
		if f, err := os.Create(failed); err == nil {
			png.Encode(f, got)
			f.Close()
		}
		t.Errorf("differs from %s: mean grey difference %.2f (at most %.2f), %.2f%% of pixels off by more than %d (at most %.2f%%); drawn: %s",
			path, mean, maxMeanDiff, 100*bad, badLevel, 100*maxBadShare, failed)
	}
}

// thumbnail is img at half size in grey: each pixel the mean of a 2×2
// block.
func thumbnail(img image.Image) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx()/2, b.Dy()/2))
	for y := 0; y < b.Dy()/2; y++ {
		for x := 0; x < b.Dx()/2; x++ {
			sum := 0
			for dy := range 2 {
				for dx := range 2 {
					sum += int(color.GrayModel.Convert(img.At(b.Min.X+2*x+dx, b.Min.Y+2*y+dy)).(color.Gray).Y)
				}
			}
			out.SetGray(x, y, color.Gray{Y: uint8(sum / 4)})
		}
	}
	return out
}

// imageDiff is the mean absolute grey difference and the share of pixels
// that differ by more than badLevel.
func imageDiff(a, b *image.Gray) (mean, bad float64) {
	total, n, off := 0, 0, 0
	for i := range a.Pix {
		d := int(a.Pix[i]) - int(b.Pix[i])
		if d < 0 {
			d = -d
		}
		total += d
		if d > badLevel {
			off++
		}
		n++
	}
	return float64(total) / float64(n), float64(off) / float64(n)
}

func TestImageDiff(t *testing.T) {
	a := image.NewGray(image.Rect(0, 0, 10, 10))
	b := image.NewGray(image.Rect(0, 0, 10, 10))
	for i := range a.Pix {
		a.Pix[i], b.Pix[i] = 200, 200
	}
	b.Pix[0] = 0
	mean, bad := imageDiff(a, b)
	if mean != 2 || bad != 0.01 {
		t.Errorf("one black pixel in 100: mean %v, bad %v; want 2, 0.01", mean, bad)
	}
}
