// Overhead: what does a download's byte count carry?
//
// A flow record of a download holds the bytes and packets the server sent.
// Less the IP and TCP headers of every packet, what is left is the payload:
// the file, the HTTP response around it (status line and headers, a
// roughly constant number of bytes per server) and every segment TCP had
// to send twice. If that picture is right, then for a download of a file
// of size S
//
//	payload − S = overhead + k × segment + r
//
// where overhead is one fixed number per server (the mode of payload − S
// over many downloads), k counts retransmitted full segments and the
// residue r is zero unless a retransmission repeated only part of a
// segment. fingerflow's classifier stands on this: a catalog candidate is
// plausible when the residue it leaves is small.
//
// This notebook measures it on the shipped lab runs (lab-dev, and
// lab-extra when present). downloads.Calibrate fits the overhead formula on
// lab-dev's clean training runs (train-near over HTTP, train-https over
// HTTPS), as fingerflow train does; then, for every labelled single-file
// download of every run, the notebook compares the payload with the
// formula's expected payload for the file (header bytes per packet, fixed
// HTTP overhead with its size-digit terms, TLS record framing) and the
// segment size the profile estimates for the download's path. It prints
//
//   - per run: downloads, header bytes per packet, segment size, the most
//     common payload − size (270 bytes for HTTP on lab-dev: the response
//     header), the calibrated fixed overhead, how often payload equals the
//     expected payload exactly (nothing resent), how often the difference
//     is a whole number of segments or within 8 bytes of one, and the
//     median and largest retransmitted share of a file;
//   - the most common non-zero residues of lab-dev train-near, and how many
//     of them are multiples of 8 bytes;
//
// as gota dataframes, and draws residue.png (those shares per run) into
// -out.
//
// What it shows (numbers in notebooks/README.md): on the clean lab path
// 86% of downloads differ from the expected payload by whole segments, and
// 95% of the rest by multiples of 8 bytes; on lossy, NAT and smaller-MTU
// paths whole segments explain far fewer downloads, so a classifier that
// demands an exact residue loses them.
//
// Run it from the repository root:
//
//	go run ./notebooks/overhead -out /tmp/nb
//
// main_test.go runs it on the shipped data and checks the figures quoted
// in notebooks/README.md, so the notebook cannot rot silently.
package main

import (
	"cmp"
	"context"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-gota/gota/dataframe"
	"github.com/go-gota/gota/series"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/notebooks/internal/labrun"
)

func main() {
	labrun.Main("overhead", func(ctx context.Context, dataDir, outDir string) error {
		return run(ctx, os.Stdout, dataDir, outDir)
	})
}

// fallback header and segment sizes (IPv4 with TCP timestamps on a
// 1500-byte MTU) for a run Calibrate cannot profile.
const (
	fallbackHdr = 52
	fallbackSeg = 1448
)

// download is one labelled single-file download of a run.
type download struct {
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

// runSummary is the per-run table's row.
type runSummary struct {
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

// result is what run computes, for the test to check.
type result struct {
	Runs     []runSummary
	Residues map[int]int // train-near: non-zero residue → downloads
	Grain8   float64     // train-near: share of those residues that are multiples of 8
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// run is the notebook: it reads the runs under dataDir, prints the tables
// to w and draws the chart into outDir.
func run(ctx context.Context, w io.Writer, dataDir, outDir string) error {
	_, err := analyse(ctx, w, dataDir, outDir)
	return err
}

func analyse(ctx context.Context, w io.Writer, dataDir, outDir string) (*result, error) {
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
	// Calibrate as fingerflow train does: on lab-dev's clean training runs
	// (HTTP and HTTPS), then measure every run against that calibration.
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
		// The per-file payloads Calibrate measures would make every clean
		// training download fit by construction: use the formula alone.
		profiles[i].Exact = nil
	}
	res := &result{}
	var all []download
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ds, err := measure(ctx, path, profiles)
		if err != nil {
			return nil, err
		}
		if len(ds) < 10 {
			continue // keep-alive runs: nearly every connection carried several files
		}
		s := summarise(ds)
		res.Runs = append(res.Runs, s)
		all = append(all, ds...)
		if s.Run == "train-near" {
			res.Residues = map[int]int{}
			for _, d := range ds {
				if r := residue(d.Extra, d.Seg); r != 0 {
					res.Residues[r]++
				}
			}
		}
	}

	fmt.Fprintf(w, "# What does a download's byte count carry?\n\n")
	fmt.Fprintf(w, "%d labelled single-file downloads in %d runs under %s.\n\n", len(all), len(res.Runs), dataDir)
	summary := dataframe.LoadStructs(res.Runs)
	if summary.Err != nil {
		return nil, summary.Err
	}
	fmt.Fprintf(w, "Per run: the most common payload − size, the calibrated overhead, and\n"+
		"how often payload − expected is 0, a whole number of segments, or within 8 bytes of one.\n%v\n",
		summary.Select([]string{"Run", "Downloads", "Hdr", "Seg", "Mode", "Base", "Clean", "Whole", "Near"}))
	fmt.Fprintf(w, "Retransmitted share of the file (payload − expected) / size, in %%:\n%v\n",
		summary.Select([]string{"Run", "MedianPct", "MaxPct"}))

	// The download table itself, for a look at one run's spread.
	frame := dataframe.LoadStructs(all)
	if frame.Err != nil {
		return nil, frame.Err
	}
	near := frame.Filter(dataframe.F{Colname: "Run", Comparator: series.Eq, Comparando: "train-near"})
	if near.Nrow() > 0 {
		fmt.Fprintf(w, "train-near, most retransmitted first:\n%v\n",
			near.Arrange(dataframe.RevSort("Extra")).Select([]string{"File", "Size", "Packets", "Payload", "Expected", "Extra"}))
		fmt.Fprintf(w, "train-near, the most common non-zero residues (payload − expected modulo %d):\n%v\n",
			near.Col("Seg").Elem(0).Val(), residueFrame(res.Residues))
		var n, of8 int
		for r, c := range res.Residues {
			n += c
			if r%8 == 0 {
				of8 += c
			}
		}
		res.Grain8 = ratio(of8, n)
		fmt.Fprintf(w, "%d of the %d train-near downloads with a non-zero residue (%.0f%%) have one that is a multiple\n"+
			"of 8 bytes, gcd(1448, 4096): partly resent segments end on the sender's page boundaries.\n\n", of8, n, 100*res.Grain8)
	}

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	chart := filepath.Join(outDir, "residue.png")
	if err := drawResidues(chart, res.Runs); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "chart: %s\n", chart)
	return res, nil
}

// measure returns a run's labelled single-file downloads, measured against
// the calibrated overhead formula (header size, fixed HTTP overhead with
// its size-digit terms, TLS record framing) of the profile for the
// download's server port, with the segment size the profile estimates for
// the download's path (a VPN or a smaller MTU lowers it).
func measure(ctx context.Context, path string, profiles []downloads.Profile) ([]download, error) {
	ex, err := labrun.Examples(ctx, path)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(path), ".nfdump.csv")
	var out []download
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
		out = append(out, download{
			Run: name, Port: int(d.ServerPort), File: e.Files[0], Size: int(e.Sizes[0]),
			Packets: int(d.Packets), Payload: int(pay), Excess: int(pay) - int(e.Sizes[0]),
			Expected: int(exp), Extra: int(pay - exp),
			Hdr: d.Header(p.Hdr), Seg: p.SegmentSize(pay, d.Packets, d.IPv6()), Base: int(math.Round(p.Base)),
		})
	}
	return out, nil
}

// residue is x modulo seg in [0, seg).
func residue(x, seg int) int {
	return ((x % seg) + seg) % seg
}

// summarise computes a run's row of the per-run table.
func summarise(ds []download) runSummary {
	count := map[int]int{}
	for _, d := range ds {
		count[d.Excess]++
	}
	mode, best := 0, -1
	for v, n := range count {
		if n > best || n == best && v < mode {
			mode, best = v, n
		}
	}
	segs := map[int]int{}
	for _, d := range ds {
		segs[d.Seg]++
	}
	seg, segN := 0, -1
	for v, n := range segs {
		if n > segN || n == segN && v < seg {
			seg, segN = v, n
		}
	}
	s := runSummary{Run: ds[0].Run, Downloads: len(ds), Hdr: ds[0].Hdr, Seg: seg, Mode: mode, Base: ds[0].Base}
	var clean, whole, near int
	pcts := make([]float64, len(ds))
	for i, d := range ds {
		r := residue(d.Extra, d.Seg)
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

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// residueFrame is the residue counts, most common first.
func residueFrame(counts map[int]int) dataframe.DataFrame {
	type row struct {
		Residue, Downloads int
	}
	rows := make([]row, 0, len(counts))
	for r, n := range counts {
		rows = append(rows, row{r, n})
	}
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(b.Downloads, a.Downloads), cmp.Compare(a.Residue, b.Residue))
	})
	return dataframe.LoadStructs(rows[:min(len(rows), 10)])
}

// drawResidues draws, per run, the share of downloads whose payload is
// exactly file + overhead and the share whose residue is zero.
func drawResidues(path string, runs []runSummary) error {
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
		colour [3]uint8
	}{
		{clean, "payload = expected (nothing resent)", [3]uint8{0xe6, 0x9f, 0x00}},
		{whole, "payload − expected a whole number of segments", [3]uint8{0x00, 0x72, 0xb2}},
		{near, "… within 8 bytes of a whole number", [3]uint8{0x56, 0xb4, 0xe9}},
	} {
		b, err := plotter.NewBarChart(s.vals, width)
		if err != nil {
			return err
		}
		b.Color = rgb(s.colour)
		b.LineStyle.Width = 0
		b.Offset = (vg.Length(i) - 1) * width
		p.Add(b)
		p.Legend.Add(s.name, b)
	}
	p.Legend.Top = true
	p.Legend.Left = true
	return p.Save(10*vg.Inch, 5*vg.Inch, path)
}

func rgb(c [3]uint8) color.Color { return color.RGBA{c[0], c[1], c[2], 0xff} }
