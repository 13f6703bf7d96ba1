// Package overhead is the computation behind the notebook overhead.ipynb:
// what does a download's byte count carry?
//
// A flow record of a download holds the bytes and packets the server sent.
// Less the IP and TCP headers of every packet, what is left is the payload:
// the file, the HTTP response around it (status line and headers, a
// roughly constant number of bytes per server) and every segment TCP had
// to send twice. For a download of a file of size S
//
//	payload − S = overhead + k × segment + r
//
// where overhead is one fixed number per server, k counts retransmitted
// full segments and the residue r is zero unless a retransmission repeated
// only part of a segment. fingerflow's classifier stands on this: a
// catalog candidate is plausible when the residue it leaves is small.
//
// Calibrate fits the overhead formula on lab-dev's clean training runs
// (train-near over HTTP, train-https over HTTPS), as fingerflow train
// does; Measure compares every labelled single-file download of a run with
// the formula's expected payload for its file, and Summarise gives a run's
// shares of clean, whole-segment and near-whole differences. Analyse does
// it for every shipped lab run; Result.Figures are the numbers
// notebooks/README.md quotes.
package overhead

import (
	"cmp"
	"context"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-gota/gota/dataframe"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/notebooks/internal/labrun"
	"github.com/fingerflow/fingerflow/notebooks/nbview"
)

// Download is one labelled single-file download of a run.
type Download struct {
	Run      string
	Port     int
	File     string
	Size     int
	Packets  int
	Payload  int // bytes less Hdr per packet
	Excess   int // Payload − Size
	Expected int // payload of a clean download by the calibrated overhead formula
	Extra    int // Payload − Expected: retransmitted bytes
	Hdr      int
	Seg      int
	Base     int // calibrated fixed overhead of the profile
}

// Residue is the download's Extra modulo its segment size, in [0, Seg).
func (d *Download) Residue() int {
	return ((d.Extra % d.Seg) + d.Seg) % d.Seg
}

// RunSummary is a run's row of the per-run table.
type RunSummary struct {
	Run       string
	Downloads int
	Hdr       int     // IP+TCP header bytes per packet
	Seg       int     // full segment payload (the run's most common estimate)
	Mode      int     // most common payload − size
	Base      int     // calibrated fixed overhead (downloads.Calibrate on lab-dev)
	Clean     float64 // share with payload = expected (nothing resent)
	Whole     float64 // share with (payload − expected) mod Seg = 0
	Near      float64 // share with that residue within ±8 bytes
	MedianPct float64 // median (payload − expected) / size, in %
	MaxPct    float64 // largest (payload − expected) / size, in %
}

// Result is what Analyse computes.
type Result struct {
	Runs      []RunSummary
	Downloads []Download  // every run's, in run order
	Residues  map[int]int // train-near: non-zero residue → downloads
	Grain8    float64     // train-near: share of those residues that are multiples of 8
}

// Run returns the summary of the run named name, and false when the
// result has none.
func (r *Result) Run(name string) (RunSummary, bool) {
	for _, s := range r.Runs {
		if s.Run == name {
			return s, true
		}
	}
	return RunSummary{}, false
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Runs lists the shipped lab runs under dataDir: lab-dev's, then
// lab-extra's.
func Runs(dataDir string) ([]string, error) {
	var paths []string
	for _, set := range []string{"lab-dev", "lab-extra"} {
		ps, err := filepath.Glob(filepath.Join(dataDir, set, "*.nfdump.csv"))
		if err != nil {
			return nil, err
		}
		paths = append(paths, ps...)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s: no lab runs (*.nfdump.csv under lab-dev/ or lab-extra/)", dataDir)
	}
	return paths, nil
}

// Calibrate fits the overhead formula as fingerflow train does, on
// lab-dev's clean training runs (train-near over HTTP, train-https over
// HTTPS). The per-file payloads Calibrate also measures would make every
// clean training download fit by construction: they are dropped, so the
// profiles give the formula alone.
func Calibrate(ctx context.Context, dataDir string) ([]downloads.Profile, error) {
	var calib []downloads.Example
	for _, r := range []string{"train-near", "train-https"} {
		ex, err := labrun.Examples(ctx, filepath.Join(dataDir, "lab-dev", r+".nfdump.csv"))
		if err != nil {
			return nil, fmt.Errorf("calibration run: %w", err)
		}
		calib = append(calib, ex...)
	}
	profiles, err := downloads.Calibrate(ctx, calib, 10)
	if err != nil {
		return nil, fmt.Errorf("calibrate on lab-dev: %w", err)
	}
	for i := range profiles {
		profiles[i].Exact = nil
	}
	return profiles, nil
}

// Analyse measures every shipped lab run under dataDir against the
// calibration on lab-dev. Runs with fewer than ten single-file downloads
// (keep-alive runs, whose connections nearly all carried several files)
// are left out.
func Analyse(ctx context.Context, dataDir string) (*Result, error) {
	paths, err := Runs(dataDir)
	if err != nil {
		return nil, err
	}
	profiles, err := Calibrate(ctx, dataDir)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ds, err := Measure(ctx, path, profiles)
		if err != nil {
			return nil, err
		}
		if len(ds) < 10 {
			continue
		}
		s := Summarise(ds)
		res.Runs = append(res.Runs, s)
		res.Downloads = append(res.Downloads, ds...)
		if s.Run == "train-near" {
			res.Residues = NonZeroResidues(ds)
			res.Grain8 = MultipleShare(res.Residues, 8)
		}
	}
	return res, nil
}

// Measure returns a run's labelled single-file downloads, measured against
// the calibrated overhead formula (header size, fixed HTTP overhead with
// its size-digit terms, TLS record framing) of the profile for the
// download's server port, with the segment size the profile estimates for
// the download's path (a VPN or a smaller MTU lowers it).
func Measure(ctx context.Context, path string, profiles []downloads.Profile) ([]Download, error) {
	if len(profiles) == 0 {
		return nil, fmt.Errorf("%s: no calibrated profiles", path)
	}
	ex, err := labrun.Examples(ctx, path)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(path), ".nfdump.csv")
	var out []Download
	for _, e := range ex {
		if len(e.Files) != 1 {
			continue
		}
		d := &e.Download
		p := &profiles[0]
		for i := range profiles {
			if profiles[i].ForPort(d.ServerPort) {
				p = &profiles[i]
				break
			}
		}
		pay := d.Payload(p.Hdr)
		exp := p.Expected(e.Files[0], e.Sizes[0])
		out = append(out, Download{
			Run: name, Port: int(d.ServerPort), File: e.Files[0], Size: int(e.Sizes[0]),
			Packets: int(d.Packets), Payload: int(pay), Excess: int(pay) - int(e.Sizes[0]),
			Expected: int(exp), Extra: int(pay - exp),
			Hdr: d.Header(p.Hdr), Seg: p.SegmentSize(pay, d.Packets, d.IPv6()), Base: int(math.Round(p.Base)),
		})
	}
	return out, nil
}

// Summarise computes a run's row of the per-run table from its downloads
// (at least one).
func Summarise(ds []Download) RunSummary {
	count := map[int]int{}
	segs := map[int]int{}
	for _, d := range ds {
		count[d.Excess]++
		segs[d.Seg]++
	}
	s := RunSummary{Run: ds[0].Run, Downloads: len(ds), Hdr: ds[0].Hdr, Seg: mostCommon(segs), Mode: mostCommon(count), Base: ds[0].Base}
	var clean, whole, near int
	pcts := make([]float64, len(ds))
	for i, d := range ds {
		r := d.Residue()
		if d.Extra == 0 {
			clean++
		}
		if r == 0 {
			whole++
		}
		if min(r, d.Seg-r) <= 8 {
			near++
		}
		pcts[i] = 100 * float64(d.Extra) / float64(d.Size)
	}
	slices.Sort(pcts)
	n := float64(len(ds))
	s.Clean = round3(float64(clean) / n)
	s.Whole = round3(float64(whole) / n)
	s.Near = round3(float64(near) / n)
	s.MedianPct = round3(pcts[len(pcts)/2])
	s.MaxPct = round3(pcts[len(pcts)-1])
	return s
}

// mostCommon is the value counted most often, the smallest on a tie.
func mostCommon(count map[int]int) int {
	best, n := 0, -1
	for v, c := range count {
		if c > n || c == n && v < best {
			best, n = v, c
		}
	}
	return best
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// NonZeroResidues counts the downloads by their residue, leaving out
// those whose residue is zero.
func NonZeroResidues(ds []Download) map[int]int {
	out := map[int]int{}
	for _, d := range ds {
		if r := d.Residue(); r != 0 {
			out[r]++
		}
	}
	return out
}

// MultipleShare is the share of the counted downloads whose residue is a
// multiple of g.
func MultipleShare(residues map[int]int, g int) float64 {
	var n, of int
	for r, c := range residues {
		n += c
		if r%g == 0 {
			of += c
		}
	}
	return ratio(of, n)
}

// ResidueFrame is the residue counts, the n most common first.
func ResidueFrame(counts map[int]int, n int) dataframe.DataFrame {
	type row struct {
		Residue, Downloads int
	}
	rows := make([]row, 0, len(counts))
	for r, c := range counts {
		rows = append(rows, row{r, c})
	}
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(b.Downloads, a.Downloads), cmp.Compare(a.Residue, b.Residue))
	})
	return dataframe.LoadStructs(rows[:min(len(rows), n)])
}

// Figures are the numbers notebooks/README.md quotes, measured again.
func (r *Result) Figures() []nbview.Figure {
	near, _ := r.Run("train-near")
	https, _ := r.Run("train-https")
	figs := []nbview.Figure{
		nbview.Count("train-near: single-file downloads", 1250, near.Downloads),
		nbview.Count("train-near: header bytes per packet", 52, near.Hdr),
		nbview.Count("train-near: segment size", 1448, near.Seg),
		nbview.Count("train-near: most common payload − size (bytes)", 270, near.Mode),
		nbview.Count("train-near: calibrated fixed overhead (bytes)", 270, near.Base),
		nbview.Percent("train-near: payload exactly as expected", "28%", near.Clean),
		nbview.Percent("train-near: off by whole segments", "86%", near.Whole),
		nbview.Percent("train-near: other residues that are multiples of 8 bytes", "95%", r.Grain8),
		nbview.Count("train-https: most common payload − size (bytes)", 3502, https.Mode),
		nbview.Count("train-https: calibrated fixed overhead (bytes)", 1532, https.Base),
	}
	if vpn, ok := r.Run("dev-vpn"); ok {
		figs = append(figs, nbview.Count("dev-vpn: segment size", 1368, vpn.Seg))
	}
	for _, q := range []struct{ run, share string }{
		{"dev-far", "58%"}, {"dev-vpn", "28%"}, {"dev-mtu1280", "24%"}, {"dev-loss2", "13%"},
	} {
		if s, ok := r.Run(q.run); ok {
			figs = append(figs, nbview.Percent(q.run+": off by whole segments", q.share, s.Whole))
		}
	}
	if far, ok := r.Run("dev-far"); ok {
		figs = append(figs, nbview.Claim("dev-far: almost no clean download, more resent than train-near",
			far.Clean <= 0.05 && far.MedianPct > near.MedianPct,
			fmt.Sprintf("%.1f%% clean, median %.2f%% resent against %.2f%%", 100*far.Clean, far.MedianPct, near.MedianPct)))
	}
	return figs
}

// ResidueChart draws, per run, the share of downloads whose payload is
// exactly the expected one, the share off by whole segments and the share
// within 8 bytes of whole segments.
func ResidueChart(runs []RunSummary) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "How often payload − file size is overhead + whole segments"
	p.Y.Label.Text = "share of single-file downloads (%)"
	p.Title.Padding = vg.Points(8)
	p.Title.TextStyle.Font.Size = vg.Points(13)
	// Above 100 is room for the legend; ticks stop at 100.
	p.Y.Min, p.Y.Max = 0, 135
	var ticks []plot.Tick
	for v := 0; v <= 100; v += 10 {
		t := plot.Tick{Value: float64(v)}
		if v%20 == 0 {
			t.Label = fmt.Sprint(v)
		}
		ticks = append(ticks, t)
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	names := make([]string, len(runs))
	clean := make(plotter.Values, len(runs))
	whole := make(plotter.Values, len(runs))
	near := make(plotter.Values, len(runs))
	for i, r := range runs {
		names[i] = r.Run
		clean[i] = 100 * r.Clean
		whole[i] = 100 * r.Whole
		near[i] = 100 * r.Near
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	grid := plotter.NewGrid()
	grid.Vertical.Width = 0
	p.Add(grid)
	width := vg.Points(14)
	for i, s := range []struct {
		vals   plotter.Values
		name   string
		colour color.Color
	}{
		{clean, "payload = expected (nothing resent)", color.RGBA{0xe6, 0x9f, 0x00, 0xff}},
		{whole, "payload − expected a whole number of segments", color.RGBA{0x00, 0x72, 0xb2, 0xff}},
		{near, "… within 8 bytes of a whole number", color.RGBA{0x56, 0xb4, 0xe9, 0xff}},
	} {
		b, err := plotter.NewBarChart(s.vals, width)
		if err != nil {
			return nil, err
		}
		b.Color = s.colour
		b.LineStyle.Width = 0
		b.Offset = (vg.Length(i) - 1) * width
		p.Add(b)
		p.Legend.Add(s.name, b)
	}
	p.Legend.Top = true
	p.Legend.Left = true
	return p, nil
}
