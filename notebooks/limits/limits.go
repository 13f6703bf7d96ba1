// Package limits is the computation behind the notebook limits.ipynb: how
// far can flow counters go?
//
// fingerflow names a download's file from the bytes and packets of its flow.
// The payload (bytes less the headers) is the file, a fixed overhead, and
// every segment TCP sent twice. When the resent segments were all full, the
// payload less a catalog file's expected payload is a whole number of
// segments: a sharp test, which a download of some other file passes only
// by chance (a few bytes in a segment of 1448). When a short segment was
// resent (the sender's page and buffer boundaries, a TLS record's end),
// the difference is any multiple of the sender's grain (8 bytes for 1448-
// byte segments), and a download of another file shows such a difference
// to some catalog file far more often.
//
// MeasureRun measures both sides on a run of one file per connection with
// a model (the shipped datasets/lab-dev/lab.ffm):
//
//   - catalog downloads: the share whose difference to their own file is
//     whole segments ("whole"), a multiple of the grain ("aligned") or
//     neither;
//   - unknown downloads (the run's downloads of files outside the catalog,
//     and every catalog download moved to four random sizes, as fingerflow
//     evaluate does): the share for which some catalog file within the
//     model's reach (downloads.Classifier.Candidates) leaves whole segments,
//     and the share for which one leaves whole segments or an aligned rest;
//   - two policies that decide by the residue alone, beside fingerflow:
//     "whole only" names the whole-segment downloads and rejects unknowns
//     without a whole-segment candidate; "whole or aligned" also names the
//     aligned ones and rejects only unknowns without either candidate.
//     fingerflow's verifier sits between them: it accepts an aligned rest
//     where the retransmitted share and the SACK bytes make it likely.
//
// KeepAlive measures connections that carried several files (keep-alive,
// and pipelined requests alike): how many were lossless (the reverse
// direction counts the requests and the files add up exactly), how many
// fingerflow answers exactly, and, for the lossy ones whose
// retransmissions were whole segments, how many combinations of that many
// catalog files fit the payload as well as the truth does (CountFits),
// even when the number of files is known.
//
// Connections describes such connections one by one (the bytes resent,
// what the reverse direction shows per request, fingerflow's answer, the
// combinations fitting better than a lossy truth), for the shipped run
// whose debian hosts fetch their packages with apt over one pipelined
// connection (PipelinedRun).
//
// Analyse does all three on the shipped runs; Result.Figures are the
// numbers notebooks/README.md quotes.
package limits

import (
	"cmp"
	"context"
	"fmt"
	"image/color"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/notebooks/internal/labrun"
	"github.com/fingerflow/fingerflow/notebooks/nbview"
)

// LabRun names a shipped lab run: datasets/SET/NAME.nfdump.csv with
// NAME.labels.csv beside it.
type LabRun struct{ Set, Name string }

// Path is the run's flow file under dataDir.
func (r LabRun) Path(dataDir string) string {
	return filepath.Join(dataDir, r.Set, r.Name+".nfdump.csv")
}

// SingleRuns are the runs of one file per connection, by data set.
var SingleRuns = []LabRun{
	{"lab-dev", "test-near"},
	{"lab-extra", "dev-https"},
	{"lab-extra", "dev-far"},
	{"lab-extra", "dev-vpn"},
	{"lab-extra", "dev-mtu1280"},
	{"lab-extra", "dev-loss2"},
	{"lab-extra", "dev-vpn-https"},
	{"lab-extra", "dev-ipv6"},
}

// KeepAliveRuns are the runs whose connections carry several catalog
// files of the model's catalog: dev-keepalive fetches two to five lab
// files per connection.
var KeepAliveRuns = []LabRun{{"lab-extra", "dev-keepalive"}}

// Simulated is how many moved copies of each catalog download stand in for
// unknown downloads (as in fingerflow evaluate).
const Simulated = downloads.SimulatedPerDownload

// RunRow is a run's row of the per-run tables; shares are 0..1.
type RunRow struct {
	Run      string
	Catalog  int     // single-file catalog downloads
	Whole    float64 // differ from their file's expected payload by whole segments
	Aligned  float64 // by a multiple of the grain that is not whole segments
	Other    float64
	Named    float64 // named correctly by fingerflow
	Unknowns int     // real and simulated downloads of non-catalog files
	// WithWhole: some candidate leaves whole segments; WithAligned: some
	// candidate leaves whole segments or an aligned rest.
	WithWhole, WithAligned float64
	Rejected               float64 // answered unknown by fingerflow
	// The residue-only policies: "whole only" names Whole and rejects
	// 1 − WithWhole; "whole or aligned" names Whole+Aligned and rejects
	// 1 − WithAligned.
	WholeOnlyNamed, WholeOnlyRejected float64
	AlignedNamed, AlignedRejected     float64
}

// KeepAliveRow is a row of the keep-alive table: the connections of one
// number of files.
type KeepAliveRow struct {
	Run        string
	Files      int
	Conns      int // connections that carried only catalog files
	Lossless   int // payload exactly the files' sum, reverse counts the requests
	Exact      int // answered exactly by fingerflow
	LossyWhole int // lossy, retransmissions whole segments
	// MedianFits is the median, over LossyWhole connections, of the file
	// combinations of that size that fit the payload as well as the truth.
	MedianFits int
}

// Result is what Analyse computes.
type Result struct {
	Model        string // the model file
	CatalogFiles int
	Runs         []RunRow
	KeepAlive    []KeepAliveRow
	Pipelined    []ConnRow // PipelinedRun's connections, when shipped
}

// Run returns the row of the run named name, and false when the result
// has none.
func (r *Result) Run(name string) (RunRow, bool) {
	for _, row := range r.Runs {
		if row.Run == name {
			return row, true
		}
	}
	return RunRow{}, false
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// grain is the alignment of short segments for a segment size:
// gcd(segment, 4096), as the verifier uses it.
func grain(seg int) int64 {
	a, b := seg, 4096
	for b != 0 {
		a, b = b, a%b
	}
	return int64(max(a, 1))
}

// residueClass sorts a payload difference: 0 whole segments (within 8
// bytes), 1 a positive multiple of the grain, 2 anything else.
func residueClass(extra int64, seg int) int {
	s := int64(seg)
	r := ((extra % s) + s) % s
	switch {
	case extra >= -8 && (r <= 8 || r >= s-8):
		return 0
	case extra > 0 && extra%grain(seg) == 0:
		return 1
	}
	return 2
}

// profileFor is the model's profile for a server port (the first that
// claims it, else the first).
func profileFor(m *downloads.Model, port uint16) *downloads.Profile {
	for i := range m.Profiles {
		if m.Profiles[i].ForPort(port) {
			return &m.Profiles[i]
		}
	}
	return &m.Profiles[0]
}

// Analyse measures the single-file runs and the keep-alive runs shipped
// under dataDir (lab-extra's are left out when absent) with the model at
// modelPath.
func Analyse(ctx context.Context, dataDir, modelPath string) (*Result, error) {
	m, err := downloads.Load(ctx, modelPath)
	if err != nil {
		return nil, err
	}
	res := &Result{Model: modelPath, CatalogFiles: len(m.Catalog.Entries)}
	for _, r := range SingleRuns {
		path := r.Path(dataDir)
		if _, err := os.Stat(path); err != nil {
			continue // lab-extra is optional
		}
		ex, err := labrun.Examples(ctx, path)
		if err != nil {
			return nil, err
		}
		res.Runs = append(res.Runs, MeasureRun(m, r.Name, ex))
	}
	if len(res.Runs) == 0 {
		return nil, fmt.Errorf("%s: no lab runs", dataDir)
	}
	for _, r := range KeepAliveRuns {
		path := r.Path(dataDir)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		ex, err := labrun.Examples(ctx, path)
		if err != nil {
			return nil, err
		}
		rows, err := KeepAlive(ctx, m, r.Name, ex)
		if err != nil {
			return nil, err
		}
		res.KeepAlive = append(res.KeepAlive, rows...)
	}
	if _, err := os.Stat(PipelinedRun.Path(dataDir)); err == nil {
		if res.Pipelined, err = Pipelined(ctx, dataDir); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// MeasureRun fills the row of a run of one file per connection from its
// labelled downloads; connections that carried several files are left
// out. The simulated unknown downloads are drawn from a fixed seed: the
// same run gives the same row.
func MeasureRun(m *downloads.Model, name string, ex []downloads.Example) RunRow {
	row := RunRow{Run: name}
	var class [3]int
	var named, unknowns, withWhole, withAligned, rejected int
	cl := m.Classifier(downloads.Options{})
	unknown := func(d *features.Download) {
		unknowns++
		whole, aligned := false, false
		for _, c := range cl.Candidates(d) {
			switch residueClass(c.Extra, c.Segment) {
			case 0:
				whole = true
			case 1:
				aligned = true
			}
		}
		if whole {
			withWhole++
		}
		if whole || aligned {
			withAligned++
		}
		if r := m.Classify(d); r.Unknown() {
			rejected++
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range ex {
		e := &ex[i]
		if len(e.Files) != 1 {
			continue
		}
		d := &e.Download
		if !e.Known {
			unknown(d)
			continue
		}
		row.Catalog++
		p := profileFor(m, d.ServerPort)
		pay := d.Payload(p.Hdr)
		seg := p.SegmentSize(pay, d.Packets, d.IPv6())
		class[residueClass(pay-p.Expected(e.Files[0], e.Sizes[0]), seg)]++
		if r := m.Classify(d); len(r.Files) == 1 && r.Files[0] == e.Files[0] {
			named++
		}
		for range Simulated {
			s := downloads.SimulateUnknown(*d, 0.5+rng.Float64())
			unknown(&s)
		}
	}
	row.Whole = ratio(class[0], row.Catalog)
	row.Aligned = ratio(class[1], row.Catalog)
	row.Other = ratio(class[2], row.Catalog)
	row.Named = ratio(named, row.Catalog)
	row.Unknowns = unknowns
	row.WithWhole = ratio(withWhole, unknowns)
	row.WithAligned = ratio(withAligned, unknowns)
	row.Rejected = ratio(rejected, unknowns)
	row.WholeOnlyNamed, row.WholeOnlyRejected = row.Whole, 1-row.WithWhole
	row.AlignedNamed, row.AlignedRejected = row.Whole+row.Aligned, 1-row.WithAligned
	return row
}

// KeepAlive fills the keep-alive table of a run from its labelled
// connections of two or more files, all in the model's catalog; a row per
// number of files, fewest first.
func KeepAlive(ctx context.Context, m *downloads.Model, run string, ex []downloads.Example) ([]KeepAliveRow, error) {
	rows := map[int]*KeepAliveRow{}
	fits := map[int][]int{}
	for i := range ex {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e := &ex[i]
		n := len(e.Files)
		if n < 2 || !e.Known {
			continue
		}
		d := &e.Download
		p := profileFor(m, d.ServerPort)
		r := rows[n]
		if r == nil {
			r = &KeepAliveRow{Run: run, Files: n}
			rows[n] = r
		}
		r.Conns++
		// The files' responses on one connection: the first with the
		// connection's one-time overhead, the others without.
		var sum int64
		for k, f := range e.Files {
			sum += p.Expected(f, e.Sizes[k])
			if k > 0 {
				sum -= int64(p.ConnOverhead())
			}
		}
		pay := d.Payload(p.Hdr)
		seg := p.SegmentSize(pay, d.Packets, d.IPv6())
		extra := pay - sum
		rev := float64(d.RevPayload(p.Hdr)) - p.ReqPayload - float64(n-1)*p.ReqLen
		if extra >= -int64(3*n) && extra <= int64(3*n) && rev > -float64(8*n) && rev < float64(8*n) {
			r.Lossless++
		}
		if got := m.Classify(d); sameFiles(got.Files, e.Files) {
			r.Exact++
		}
		if extra > int64(3*n) && residueClass(extra, seg) == 0 {
			r.LossyWhole++
			fits[n] = append(fits[n], CountFits(m, p, n, pay, seg))
		}
	}
	var out []KeepAliveRow
	for n, r := range rows {
		if f := fits[n]; len(f) > 0 {
			slices.Sort(f)
			r.MedianFits = f[len(f)/2]
		}
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b KeepAliveRow) int { return cmp.Compare(a.Files, b.Files) })
	return out, nil
}

// PipelinedRun is the shipped run whose debian hosts fetch their updates
// as apt does, over one connection with the requests pipelined: 4 to 7
// Debian packages each, beside windows hosts fetching 3 lab files per
// keep-alive connection, with the model trained on its catalog.
var PipelinedRun = struct {
	LabRun
	Hosts, Model string // under dataDir
}{LabRun{"population", "apt-near-18h-s2302"}, "population/apt-near-18h-s2302.hosts.csv", "population/apt-near.ffm"}

// ConnRow is one connection that carried several catalog files.
type ConnRow struct {
	Client string
	OS     string // the client's OS family (the run's truth)
	Files  int
	// Extra is the payload less the files' responses on one connection:
	// the bytes resent; Residue is its class ("lossless" within 3 bytes a
	// file, "whole" segments, "aligned" on the grain, "other").
	Extra   int
	Residue string
	// PerRequest is the reverse payload each further request added, and
	// ModelReqLen what the model learned it to be: when they differ the
	// reverse direction cannot count the requests.
	PerRequest, ModelReqLen float64
	// Answer is fingerflow's: "exact", "unknown", or "wrong".
	Answer string
	// WholeFits counts the combinations of as many catalog files that
	// leave whole segments (CountFits); -1 when not counted (more than
	// MaxCountedFiles files).
	WholeFits int
}

// MaxCountedFiles bounds the connections CountFits is run for: the
// combinations of 7 of a 130-file catalog within a connection's reach are
// too many to enumerate.
const MaxCountedFiles = 5

// Connections describes every connection of two or more files, all in the
// model's catalog, in the order of ex; os names a client's OS family (nil:
// none known).
func Connections(ctx context.Context, m *downloads.Model, ex []downloads.Example, family func(netip.Addr) string) ([]ConnRow, error) {
	var out []ConnRow
	for i := range ex {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e := &ex[i]
		n := len(e.Files)
		if n < 2 || !e.Known {
			continue
		}
		d := &e.Download
		p := profileFor(m, d.ServerPort)
		var sum int64
		for k, f := range e.Files {
			sum += p.Expected(f, e.Sizes[k])
			if k > 0 {
				sum -= int64(p.ConnOverhead())
			}
		}
		pay := d.Payload(p.Hdr)
		seg := p.SegmentSize(pay, d.Packets, d.IPv6())
		extra := pay - sum
		row := ConnRow{Client: d.Client.String(), Files: n, Extra: int(extra), ModelReqLen: p.ReqLen, WholeFits: -1}
		if family != nil {
			row.OS = family(d.Client)
		}
		row.PerRequest = (float64(d.RevPayload(p.Hdr)) - p.ReqPayload) / float64(n-1)
		switch {
		case extra >= -int64(3*n) && extra <= int64(3*n):
			row.Residue = "lossless"
		default:
			row.Residue = [...]string{"whole", "aligned", "other"}[residueClass(extra, seg)]
		}
		switch got := m.Classify(d); {
		case sameFiles(got.Files, e.Files):
			row.Answer = "exact"
		case got.Unknown():
			row.Answer = "unknown"
		default:
			row.Answer = "wrong"
		}
		if n <= MaxCountedFiles {
			row.WholeFits = CountFits(m, p, n, pay, seg)
		}
		out = append(out, row)
	}
	return out, nil
}

// Pipelined reads PipelinedRun under dataDir and describes its
// connections of several catalog files with its model.
func Pipelined(ctx context.Context, dataDir string) ([]ConnRow, error) {
	m, err := downloads.Load(ctx, filepath.Join(dataDir, PipelinedRun.Model))
	if err != nil {
		return nil, err
	}
	ex, err := labrun.Examples(ctx, PipelinedRun.Path(dataDir))
	if err != nil {
		return nil, err
	}
	hosts, err := labels.LoadHosts(ctx, filepath.Join(dataDir, PipelinedRun.Hosts))
	if err != nil {
		return nil, err
	}
	family := map[netip.Addr]string{}
	for _, h := range hosts {
		family[h.Addr] = h.OS
	}
	return Connections(ctx, m, ex, func(a netip.Addr) string { return family[a] })
}

// CountFits counts the combinations of n different catalog files whose
// responses on one connection leave the payload a whole number of segments
// (within 3 bytes a file) and no more than the model's largest
// retransmitted share: answers as good as the truth for a lossy connection
// whose file count is known.
func CountFits(m *downloads.Model, p *downloads.Profile, n int, pay int64, seg int) int {
	conn := int64(p.ConnOverhead())
	resp := make([]int64, len(m.Catalog.Entries))
	for i, e := range m.Catalog.Entries {
		resp[i] = p.Expected(e.Name, e.Size) - conn
	}
	slices.Sort(resp)
	target := pay - conn
	lo := target - int64(float64(target)*m.Params.MaxExtra/(1+m.Params.MaxExtra))
	hi := target + int64(3*n)
	count := 0
	var walk func(start, left int, sum int64)
	walk = func(start, left int, sum int64) {
		for k := start; k < len(resp); k++ {
			s := sum + resp[k]
			if s+int64(left-1)*resp[k] > hi {
				return
			}
			if left > 1 {
				walk(k+1, left-1, s)
				continue
			}
			if s >= lo {
				x := target - s
				r := ((x % int64(seg)) + int64(seg)) % int64(seg)
				if r <= int64(3*n) || r >= int64(seg-3*n) {
					count++
				}
			}
		}
	}
	walk(0, n, 0)
	return count
}

func sameFiles(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// FrontierChart plots named against rejected for every run: fingerflow
// and the two residue-only policies, joined by a line per run.
func FrontierChart(runs []RunRow) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Names against rejections: fingerflow and residue-only policies"
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = "unknown downloads rejected (%, real and simulated)"
	p.Y.Label.Text = "catalog downloads named (%)"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 40, 100, 0, 100
	p.Add(plotter.NewGrid())
	pts := func(f func(r RunRow) (float64, float64)) plotter.XYs {
		xy := make(plotter.XYs, len(runs))
		for i, r := range runs {
			x, y := f(r)
			xy[i].X, xy[i].Y = 100*x, 100*y
		}
		return xy
	}
	for _, r := range runs {
		line, err := plotter.NewLine(plotter.XYs{
			{X: 100 * r.WholeOnlyRejected, Y: 100 * r.WholeOnlyNamed},
			{X: 100 * r.Rejected, Y: 100 * r.Named},
			{X: 100 * r.AlignedRejected, Y: 100 * r.AlignedNamed},
		})
		if err != nil {
			return nil, err
		}
		line.Color = color.Gray{Y: 190}
		p.Add(line)
	}
	series := []struct {
		name  string
		shape draw.GlyphDrawer
		col   color.Color
		xy    plotter.XYs
	}{
		{"whole segments only", draw.TriangleGlyph{}, color.RGBA{R: 200, G: 120, A: 255},
			pts(func(r RunRow) (float64, float64) { return r.WholeOnlyRejected, r.WholeOnlyNamed })},
		{"whole or aligned", draw.BoxGlyph{}, color.RGBA{R: 120, G: 120, B: 200, A: 255},
			pts(func(r RunRow) (float64, float64) { return r.AlignedRejected, r.AlignedNamed })},
		{"fingerflow", draw.CircleGlyph{}, color.RGBA{G: 130, B: 60, A: 255},
			pts(func(r RunRow) (float64, float64) { return r.Rejected, r.Named })},
	}
	for _, s := range series {
		sc, err := plotter.NewScatter(s.xy)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Shape, sc.GlyphStyle.Color, sc.GlyphStyle.Radius = s.shape, s.col, vg.Points(4)
		p.Add(sc)
		p.Legend.Add(s.name, sc)
	}
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = r.Run
	}
	lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: series[2].xy, Labels: names})
	if err != nil {
		return nil, err
	}
	for i := range lbl.TextStyle {
		lbl.TextStyle[i].Font.Size = vg.Points(8)
		lbl.TextStyle[i].XAlign = draw.XRight
	}
	p.Add(lbl)
	p.Legend.Left, p.Legend.Top = true, false
	return p, nil
}

// Figures are the numbers notebooks/README.md quotes, measured again.
func (r *Result) Figures() []nbview.Figure {
	var figs []nbview.Figure
	if near, ok := r.Run("test-near"); ok {
		figs = append(figs,
			nbview.Percent("test-near: catalog downloads off by whole segments", "89.2%", near.Whole),
			nbview.Percent("test-near: catalog downloads off by an aligned rest", "10.4%", near.Aligned),
			nbview.Count("test-near: unknown downloads (real and simulated)", 1050, near.Unknowns),
			nbview.Percent("test-near: unknowns with a whole-segment candidate", "1.0%", near.WithWhole),
			nbview.Percent("test-near: unknowns with a whole-segment or aligned candidate", "11.6%", near.WithAligned),
			nbview.Percent("test-near: whole only, rejected", "99.0%", near.WholeOnlyRejected),
			nbview.Percent("test-near: whole or aligned, named", "99.6%", near.AlignedNamed),
			nbview.Percent("test-near: whole or aligned, rejected", "88.4%", near.AlignedRejected),
			nbview.Percent("test-near: fingerflow, named", "99.6%", near.Named),
			nbview.Percent("test-near: fingerflow, rejected", "93.4%", near.Rejected),
		)
	}
	for _, q := range []struct{ run, whole, aligned, with string }{
		{"dev-vpn", "26%", "68%", "33%"},
		{"dev-mtu1280", "25%", "71%", "52%"},
		{"dev-loss2", "15%", "77%", "35%"},
	} {
		if row, ok := r.Run(q.run); ok {
			figs = append(figs,
				nbview.Percent(q.run+": catalog downloads off by whole segments", q.whole, row.Whole),
				nbview.Percent(q.run+": catalog downloads off by an aligned rest", q.aligned, row.Aligned),
				nbview.Percent(q.run+": unknowns with a whole-segment or aligned candidate", q.with, row.WithAligned))
		}
	}
	for _, q := range []struct{ files, lossless, conns, exact, fits int }{
		{2, 8, 18, 8, 1}, {3, 5, 11, 5, 41}, {4, 5, 13, 5, 703}, {5, 2, 6, 1, 4469},
	} {
		for _, k := range r.KeepAlive {
			if k.Run != "dev-keepalive" || k.Files != q.files {
				continue
			}
			name := fmt.Sprintf("dev-keepalive, %d files: ", q.files)
			figs = append(figs,
				nbview.Count(name+"connections", q.conns, k.Conns),
				nbview.Count(name+"lossless", q.lossless, k.Lossless),
				nbview.Count(name+"answered exactly", q.exact, k.Exact),
				nbview.Count(name+"median combinations fitting a lossy one", q.fits, k.MedianFits))
		}
	}
	if len(r.Pipelined) > 0 {
		figs = append(figs, r.pipelinedFigures()...)
	}
	return figs
}

// pipelinedFigures are the quoted figures of PipelinedRun's connections.
func (r *Result) pipelinedFigures() []nbview.Figure {
	name := PipelinedRun.Name + ": "
	var files, fits []string
	var lossless, answered, winExact int
	lo, hi := math.Inf(1), math.Inf(-1)
	var counts []int
	for _, c := range r.Pipelined {
		if c.OS != "debian" {
			if c.Answer == "exact" {
				winExact++
			}
			continue
		}
		counts = append(counts, c.Files)
		if c.Residue == "lossless" {
			lossless++
		}
		if c.Answer != "unknown" {
			answered++
		}
		lo, hi = math.Min(lo, c.PerRequest), math.Max(hi, c.PerRequest)
		if c.WholeFits >= 0 {
			fits = append(fits, strconv.Itoa(c.WholeFits))
		}
	}
	slices.Sort(counts)
	for _, n := range counts {
		files = append(files, strconv.Itoa(n))
	}
	slices.SortFunc(fits, func(a, b string) int { return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b)) })
	return []nbview.Figure{
		nbview.Text(name+"packages per pipelined apt connection", "4 5 5 7 7 7", strings.Join(files, " ")),
		nbview.Count(name+"apt connections that lost nothing", 0, lossless),
		nbview.Count(name+"apt connections fingerflow answers", 0, answered),
		nbview.Text(name+"reverse bytes per further apt request", "147–207", fmt.Sprintf("%.0f–%.0f", lo, hi)),
		nbview.Text(name+"combinations leaving whole segments, 4 and 5 packages", "4277 86924 201604", strings.Join(fits, " ")),
		nbview.Count(name+"windows keep-alive connections answered exactly", 2, winExact),
	}
}
