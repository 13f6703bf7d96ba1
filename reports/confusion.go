package reports

import (
	"cmp"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fingerflow/fingerflow/models/downloads"
)

// Names of the heat map's catch-all rows and columns.
const (
	unknownName = "unknown"
	otherName   = "(other files)"
)

// confusionGrid is the heat map's data: counts[truth][answer], rows and
// columns in the order of names. The colour is log(1+count) so that single
// confusions stay visible beside a diagonal of hundreds.
type confusionGrid struct {
	names  []string
	counts [][]int
	max    float64
}

func (g *confusionGrid) Dims() (c, r int)   { return len(g.names), len(g.names) }
func (g *confusionGrid) X(c int) float64    { return float64(c) }
func (g *confusionGrid) Y(r int) float64    { return float64(r) }
func (g *confusionGrid) Z(c, r int) float64 { return math.Log1p(float64(g.counts[g.row(r)][c])) }

// row is the truth drawn at grid row r: the first name is on top.
func (g *confusionGrid) row(r int) int { return len(g.names) - 1 - r }
func (g *confusionGrid) Min() float64  { return 0 }
func (g *confusionGrid) Max() float64  { return g.max }

// topFiles picks the maxFiles files with the most downloads (truth
// counts), ties broken by the confusions they take part in, then by name.
func topFiles(r *downloads.Report, maxFiles int) []string {
	var fs []downloads.FileStats
	for _, f := range r.PerFile() {
		if f.File != unknownName {
			fs = append(fs, f)
		}
	}
	// Confusions a file takes part in: as the truth answered otherwise,
	// and as the answer for another truth.
	wrong := func(f downloads.FileStats) int { return f.Support + f.Predicted - 2*f.TruePos }
	slices.SortFunc(fs, func(a, b downloads.FileStats) int {
		return cmp.Or(cmp.Compare(b.Support, a.Support), cmp.Compare(wrong(b), wrong(a)), cmp.Compare(a.File, b.File))
	})
	var out []string
	for _, f := range fs[:min(len(fs), maxFiles)] {
		out = append(out, f.File)
	}
	slices.Sort(out)
	return out
}

// ConfusionHeatmap draws r's confusion counts (single-file downloads) as a
// heat map: rows are the truth, columns the answer, for the maxFiles files
// with the most downloads (ties broken by how often they are confused),
// plus "unknown" (a file outside the catalog, or no answer) and, when any
// download falls outside those, "(other files)". Cells carry their count.
// format is "png" or "svg"; the image is HeatmapWidth × HeatmapHeight.
func ConfusionHeatmap(w io.Writer, format string, r *downloads.Report, maxFiles int) error {
	if r == nil || len(r.Confusion) == 0 {
		return fmt.Errorf("confusion heat map: no single-file downloads: %w", ErrNoData)
	}
	if maxFiles < 1 {
		return fmt.Errorf("confusion heat map: %d files: want at least 1", maxFiles)
	}
	names := topFiles(r, maxFiles)
	pos := map[string]int{}
	for i, n := range names {
		pos[n] = i
	}
	other := -1
	for k := range r.Confusion {
		for _, n := range k {
			if _, ok := pos[n]; !ok && n != unknownName {
				other = 0
			}
		}
	}
	if other == 0 {
		other = len(names)
		names = append(names, otherName)
	}
	unknown := len(names)
	names = append(names, unknownName)
	idx := func(n string) int {
		if n == unknownName {
			return unknown
		}
		if i, ok := pos[n]; ok {
			return i
		}
		return other
	}
	g := &confusionGrid{names: names, counts: make([][]int, len(names))}
	for i := range g.counts {
		g.counts[i] = make([]int, len(names))
	}
	for k, n := range r.Confusion {
		g.counts[idx(k[0])][idx(k[1])] += n
	}
	var maxCount int
	for _, row := range g.counts {
		for _, n := range row {
			maxCount = max(maxCount, n)
		}
	}
	g.max = math.Max(math.Log1p(float64(maxCount)), 1)

	blues, err := brewer.GetPalette(brewer.TypeSequential, "Blues", 9)
	if err != nil {
		return fmt.Errorf("confusion heat map: %w", err)
	}
	hm := plotter.NewHeatMap(g, blues)
	hm.Min = 1e-9 // empty cells take the underflow colour
	hm.Underflow = color.White

	p := plot.New()
	p.X.Label.Text = "answer"
	p.Y.Label.Text = "truth"
	p.Add(hm)

	var xt, yt []plot.Tick
	for i, n := range names {
		xt = append(xt, plot.Tick{Value: float64(i), Label: n})
		yt = append(yt, plot.Tick{Value: float64(len(names) - 1 - i), Label: n})
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	size := vg.Points(math.Max(6, math.Min(10, 300/float64(len(names)))))
	p.X.Tick.Label.Font.Size = size
	p.Y.Tick.Label.Font.Size = size
	p.X.Tick.Label.Rotation = math.Pi / 2
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter

	// Cell counts, white on dark cells.
	var lab plotter.XYLabels
	var dark []bool
	for ri, row := range g.counts {
		for ci, n := range row {
			if n == 0 {
				continue
			}
			lab.XYs = append(lab.XYs, plotter.XY{X: float64(ci), Y: float64(g.row(ri))})
			lab.Labels = append(lab.Labels, strconv.Itoa(n))
			dark = append(dark, math.Log1p(float64(n)) > 0.55*g.max)
		}
	}
	labels, err := plotter.NewLabels(lab)
	if err != nil {
		return fmt.Errorf("confusion heat map: %w", err)
	}
	for i := range labels.TextStyle {
		st := &labels.TextStyle[i]
		st.Font.Size = size
		st.XAlign = draw.XCenter
		st.YAlign = draw.YCenter
		if dark[i] {
			st.Color = color.White
		}
	}
	p.Add(labels)
	return render(w, format, HeatmapWidth, HeatmapHeight,
		fmt.Sprintf("Confusions of %s (rows: truth, columns: answer)", r.Name), nil, [][]*plot.Plot{{p}})
}
