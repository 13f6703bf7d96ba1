package reports

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fingerflow/fingerflow/models/clusters"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// ClusterChart draws hosts on the first two principal components of
// their features (clusters.Project2D), coloured by cluster (labels[i] is
// point i's; -1: not clustered, grey), each cluster's number at the mean
// of its points, and a legend with each cluster's size and description.
// The image is WideWidth × TallHeight.
func ClusterChart(w io.Writer, format string, p *clusters.Projection, labels []int, infos []nightdir.ClusterInfo) error {
	if p == nil || len(p.Points) == 0 {
		return fmt.Errorf("cluster chart: no projection: %w", ErrNoData)
	}
	if len(labels) != len(p.Points) {
		return fmt.Errorf("cluster chart: %d labels for %d points", len(labels), len(p.Points))
	}
	by := map[int]plotter.XYs{}
	for i, pt := range p.Points {
		by[labels[i]] = append(by[labels[i]], plotter.XY{X: pt[0], Y: pt[1]})
	}
	ids := make([]int, 0, len(by))
	for c := range by {
		ids = append(ids, c)
	}
	slices.Sort(ids)
	desc := map[int]nightdir.ClusterInfo{}
	for _, ci := range infos {
		desc[ci.Cluster] = ci
	}
	pl := plot.New()
	pl.X.Label.Text = fmt.Sprintf("first principal component (%.0f%% of the variance)", 100*p.Explained[0])
	pl.Y.Label.Text = fmt.Sprintf("second principal component (%.0f%%)", 100*p.Explained[1])
	pl.Add(plotter.NewGrid())
	radius := vg.Points(3)
	if len(p.Points) > 1000 {
		radius = vg.Points(1.6)
	}
	var legend []legendEntry
	var centres plotter.XYs
	var names []string
	// Bigger clusters first, so the few points of small ones stay on top.
	order := slices.Clone(ids)
	slices.SortStableFunc(order, func(a, b int) int { return len(by[b]) - len(by[a]) })
	for _, c := range order {
		xys := by[c]
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return fmt.Errorf("cluster chart: %w", err)
		}
		col := clusterColour(c)
		r := radius
		if len(xys) < 20 {
			r = vg.Points(3) // the few points of a small cluster stand out
		}
		s.GlyphStyle = draw.GlyphStyle{Color: translucent(col, 0xb0), Radius: r, Shape: draw.CircleGlyph{}}
		pl.Add(s)
	}
	for _, c := range ids {
		xys := by[c]
		var mx, my float64
		for _, xy := range xys {
			mx += xy.X
			my += xy.Y
		}
		if c >= 0 {
			centres = append(centres, plotter.XY{X: mx / float64(len(xys)), Y: my / float64(len(xys))})
			names = append(names, fmt.Sprint(c))
		}
		hosts := CountText(len(xys)) + " hosts"
		if len(xys) == 1 {
			hosts = "1 host"
		}
		name := fmt.Sprintf("not clustered (%s)", hosts)
		if c >= 0 {
			name = fmt.Sprintf("%d: %s (%s)", c, desc[c].Description, hosts)
			if desc[c].Description == "" {
				name = fmt.Sprintf("%d (%s)", c, hosts)
			}
		}
		legend = append(legend, legendEntry{name, clusterColour(c)})
	}
	if len(centres) > 0 {
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: centres, Labels: names})
		if err != nil {
			return fmt.Errorf("cluster chart: %w", err)
		}
		for i := range l.TextStyle {
			st := &l.TextStyle[i]
			st.Font.Size = vg.Points(13)
			st.Font.Weight = xfont.WeightBold
			st.XAlign, st.YAlign = draw.XLeft, draw.YBottom
		}
		// Beside the centre rather than on it, so a one-host cluster's
		// point stays visible.
		l.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(4)}
		pl.Add(l)
	}
	// Some room around the points.
	xmin, xmax, ymin, ymax := plotter.XYRange(allPoints(p))
	padX, padY := 0.05*math.Max(xmax-xmin, 1e-9), 0.05*math.Max(ymax-ymin, 1e-9)
	pl.X.Min, pl.X.Max, pl.Y.Min, pl.Y.Max = xmin-padX, xmax+padX, ymin-padY, ymax+padY
	return render(w, format, WideWidth, TallHeight,
		fmt.Sprintf("Host clusters: %s hosts on their first two principal components", CountText(len(p.Points))), legend, [][]*plot.Plot{{pl}})
}

func allPoints(p *clusters.Projection) plotter.XYs {
	xys := make(plotter.XYs, len(p.Points))
	for i, pt := range p.Points {
		xys[i] = plotter.XY{X: pt[0], Y: pt[1]}
	}
	return xys
}

// clusterColour is cluster c's colour; grey for -1 (not clustered).
func clusterColour(c int) color.Color {
	if c < 0 {
		return colourOther
	}
	return categoryColour(c)
}

// translucent is c with alpha a (colours are premultiplied).
func translucent(c color.Color, a uint8) color.Color {
	r, g, b, _ := c.RGBA()
	f := float64(a) / 255
	return color.RGBA{uint8(float64(r>>8) * f), uint8(float64(g>>8) * f), uint8(float64(b>>8) * f), a}
}
