package models

import (
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/datasets/labels"
)

// Join pairs downloads with their ground truth by client address and port.
// Behind a NAT the flows show the gateway's address while the labels, taken
// on the client, show the client's own: a download whose address has no
// label is then joined by client and server port alone, when exactly one
// labelled connection used that pair (NAT gateways usually keep the
// client's port). Downloads without a label are returned separately (other
// traffic in the capture).
func Join(ds []features.Download, set *labels.Set) (examples []Example, unlabelled []features.Download) {
	type ports struct{ client, server uint16 }
	byPort := map[ports][][]labels.Label{}
	for _, conn := range set.Connections() {
		l := conn[0]
		k := ports{l.ClientPort, l.ServerPort}
		byPort[k] = append(byPort[k], conn)
	}
	for _, d := range ds {
		ls := set.ByClient(d.Client, d.ClientPort)
		if len(ls) == 0 {
			conns := byPort[ports{d.ClientPort, d.ServerPort}]
			if len(conns) == 0 {
				conns = byPort[ports{d.ClientPort, 0}] // labels without server ports
			}
			if len(conns) == 1 {
				ls = conns[0]
			}
		}
		if len(ls) == 0 {
			unlabelled = append(unlabelled, d)
			continue
		}
		ex := Example{Download: d, Known: true}
		for _, l := range ls {
			ex.Files = append(ex.Files, l.File)
			ex.Sizes = append(ex.Sizes, l.Size)
			ex.InCat = append(ex.InCat, l.Known)
			if !l.Known {
				ex.Known = false
			}
		}
		examples = append(examples, ex)
	}
	return examples, unlabelled
}

// Predictor is anything that labels downloads: the model, or the published
// byte-count baseline.
type Predictor interface {
	Classify(d *features.Download) Result
}

// Report is the outcome of evaluating a predictor on labelled downloads.
type Report struct {
	Name string

	Known, KnownCorrect     int // single-file catalog downloads
	Unknown, UnknownCorrect int // downloads of files outside the catalog
	MultiFiles, MultiFound  int // catalog files carried by multi-file connections
	MultiWrong              int // files named for multi-file connections that they did not carry
	MultiConns, MultiExact  int // multi-file connections with only catalog files, answered exactly
	// SimUnknown counts simulated downloads of files outside the catalog
	// (see SimulateUnknown), SimUnknownCorrect those answered "unknown".
	SimUnknown, SimUnknownCorrect int

	// Confusion counts (truth, answer) pairs; "unknown" stands for no file.
	Confusion map[[2]string]int
}

// Merge adds o's counts to r (reports of several runs into one).
func (r *Report) Merge(o *Report) {
	r.Known += o.Known
	r.KnownCorrect += o.KnownCorrect
	r.Unknown += o.Unknown
	r.UnknownCorrect += o.UnknownCorrect
	r.MultiFiles += o.MultiFiles
	r.MultiFound += o.MultiFound
	r.MultiWrong += o.MultiWrong
	r.MultiConns += o.MultiConns
	r.MultiExact += o.MultiExact
	r.SimUnknown += o.SimUnknown
	r.SimUnknownCorrect += o.SimUnknownCorrect
	for k, n := range o.Confusion {
		r.Confusion[k] += n
	}
}

// Accuracy is the share of single-file catalog downloads named correctly.
func (r *Report) Accuracy() float64 { return ratio(r.KnownCorrect, r.Known) }

// Rejection is the share of non-catalog downloads answered "unknown".
func (r *Report) Rejection() float64 { return ratio(r.UnknownCorrect, r.Unknown) }

// SimRejection is the share of simulated non-catalog downloads answered
// "unknown".
func (r *Report) SimRejection() float64 { return ratio(r.SimUnknownCorrect, r.SimUnknown) }

// Recovery is the share of files in multi-file connections that were named.
func (r *Report) Recovery() float64 { return ratio(r.MultiFound, r.MultiFiles) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Evaluate runs p over labelled downloads.
func Evaluate(name string, p Predictor, examples []Example) *Report {
	return EvaluateFunc(name, p, examples, nil)
}

// EvaluateFunc is Evaluate that also hands every answer to visit (when not
// nil), for callers that chart or list them.
func EvaluateFunc(name string, p Predictor, examples []Example, visit func(ex *Example, res Result)) *Report {
	r := &Report{Name: name, Confusion: map[[2]string]int{}}
	for i := range examples {
		ex := &examples[i]
		res := p.Classify(&ex.Download)
		if visit != nil {
			visit(ex, res)
		}
		answer := "unknown"
		if !res.Unknown() {
			answer = strings.Join(res.Files, "+")
		}
		switch {
		case len(ex.Files) > 1:
			got := map[string]int{}
			for _, f := range res.Files {
				got[f]++
			}
			exact := len(res.Files) == len(ex.Files)
			for i, f := range ex.Files {
				if got[f] > 0 {
					got[f]--
					if ex.InCat == nil || ex.InCat[i] {
						r.MultiFiles++
						r.MultiFound++
					}
					continue
				}
				exact = false
				if ex.InCat == nil || ex.InCat[i] {
					r.MultiFiles++
				}
			}
			for _, n := range got {
				r.MultiWrong += n
			}
			if ex.Known {
				r.MultiConns++
				if exact {
					r.MultiExact++
				}
			}
		case ex.Known:
			r.Known++
			if answer == ex.Files[0] {
				r.KnownCorrect++
			}
			r.Confusion[[2]string{ex.Files[0], answer}]++
			rng := rand.New(rand.NewPCG(simKey(&ex.Download), simSeed))
			for range SimulatedPerDownload {
				d := SimulateUnknown(ex.Download, 0.5+rng.Float64())
				r.SimUnknown++
				if res := p.Classify(&d); res.Unknown() {
					r.SimUnknownCorrect++
				}
			}
		default:
			r.Unknown++
			if res.Unknown() {
				r.UnknownCorrect++
			}
			r.Confusion[[2]string{"unknown", answer}]++
		}
	}
	return r
}

// SimulatedPerDownload is how many simulated non-catalog downloads
// Evaluate makes from each single-file catalog download.
const SimulatedPerDownload = 4

const simSeed = 0x756e6b6e6f776e

// simKey seeds a download's simulated sizes from its endpoints, so that
// the same downloads read from another format, or in another order, are
// moved alike.
func simKey(d *features.Download) uint64 {
	h := fnv.New64a()
	b := d.Client.As16()
	h.Write(b[:])
	b = d.Server.As16()
	h.Write(b[:])
	h.Write([]byte{byte(d.ClientPort >> 8), byte(d.ClientPort), byte(d.ServerPort >> 8), byte(d.ServerPort)})
	return h.Sum64()
}

// SimulateUnknown turns a real download into one of a file outside the
// catalog: its byte and packet counts scaled by f (Evaluate draws f from
// 0.5 to 1.5), keeping the bytes per packet, and with them the share of
// retransmissions, and leaving the reverse direction (requests, SACK
// options) as it was. A lab run holds few downloads of non-catalog files,
// and their sizes relative to the catalog decide how often one is mistaken
// for a catalog file; moving every catalog download to a random size gives
// that rate with real loss patterns and a few hundred times the sample.
func SimulateUnknown(d features.Download, f float64) features.Download {
	d.Bytes = uint64(math.Round(float64(d.Bytes) * f))
	d.Packets = max(uint64(math.Round(float64(d.Packets)*f)), 1)
	return d
}

// WriteTable prints reports side by side, one column per predictor.
func WriteTable(w io.Writer, reports ...*Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	row := func(label string, f func(r *Report) string) {
		fmt.Fprintf(tw, "%s\t", label)
		for _, r := range reports {
			fmt.Fprintf(tw, "%s\t", f(r))
		}
		fmt.Fprintln(tw)
	}
	row("", func(r *Report) string { return r.Name })
	row("catalog downloads named correctly", func(r *Report) string {
		return pct(r.KnownCorrect, r.Known)
	})
	row("unknown downloads rejected", func(r *Report) string {
		return pct(r.UnknownCorrect, r.Unknown)
	})
	row("simulated unknown downloads rejected", func(r *Report) string {
		return pct(r.SimUnknownCorrect, r.SimUnknown)
	})
	row("files recovered from multi-file connections", func(r *Report) string {
		return pct(r.MultiFound, r.MultiFiles)
	})
	row("multi-file connections answered exactly", func(r *Report) string {
		return pct(r.MultiExact, r.MultiConns)
	})
	row("files wrongly named in multi-file connections", func(r *Report) string {
		if r.MultiFiles == 0 {
			return "-"
		}
		return fmt.Sprint(r.MultiWrong)
	})
	return tw.Flush()
}

// WriteRunSummary prints one row per run: fingerflow's share of catalog
// downloads named, of unknown downloads rejected and of multi-file
// catalog files recovered, beside the byte-count baseline's share named
// (reports[i][0] is fingerflow, reports[i][1], when present, the baseline).
func WriteRunSummary(w io.Writer, names []string, reports [][]*Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "run\tnamed correctly\tunknown rejected\tsimulated unknown rejected\tmulti-file recovered\tbytes-only tree named\t\n")
	for i, rs := range reports {
		base := "-"
		if len(rs) > 1 {
			base = pctShort(rs[1].KnownCorrect, rs[1].Known)
		}
		r := rs[0]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", names[i], pctShort(r.KnownCorrect, r.Known),
			pctShort(r.UnknownCorrect, r.Unknown), pctShort(r.SimUnknownCorrect, r.SimUnknown),
			pctShort(r.MultiFound, r.MultiFiles), base)
	}
	return tw.Flush()
}

func pctShort(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
}

func pct(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%% (%d/%d)", 100*float64(a)/float64(b), a, b)
}

// FileStats is precision and recall for one file.
type FileStats struct {
	File               string
	Support, Predicted int
	TruePos            int
	Precision, Recall  float64
}

// PerFile computes precision and recall per file (single-file downloads).
func (r *Report) PerFile() []FileStats {
	st := map[string]*FileStats{}
	get := func(f string) *FileStats {
		if st[f] == nil {
			st[f] = &FileStats{File: f}
		}
		return st[f]
	}
	for k, n := range r.Confusion {
		truth, answer := k[0], k[1]
		get(truth).Support += n
		get(answer).Predicted += n
		if truth == answer {
			get(truth).TruePos += n
		}
	}
	out := make([]FileStats, 0, len(st))
	for _, s := range st {
		s.Precision = ratio(s.TruePos, s.Predicted)
		s.Recall = ratio(s.TruePos, s.Support)
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}

// WritePerFile prints the per-file precision/recall table.
func (r *Report) WritePerFile(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "file\tsupport\tpredicted\tprecision\trecall\t\n")
	for _, s := range r.PerFile() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t\n", s.File, s.Support, s.Predicted, s.Precision, s.Recall)
	}
	return tw.Flush()
}

// WriteConfusions prints the off-diagonal confusion pairs, most frequent
// first (the full matrix of thousands of files is unreadable).
func (r *Report) WriteConfusions(w io.Writer, limit int) error {
	type pair struct {
		k [2]string
		n int
	}
	var ps []pair
	for k, n := range r.Confusion {
		if k[0] != k[1] {
			ps = append(ps, pair{k, n})
		}
	}
	slices.SortFunc(ps, func(a, b pair) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.k[0]+a.k[1], b.k[0]+b.k[1])
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "truth\tanswer\tcount\n")
	for i, p := range ps {
		if i == limit {
			fmt.Fprintf(tw, "…\t(%d more pairs)\t\n", len(ps)-limit)
			break
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\n", p.k[0], p.k[1], p.n)
	}
	return tw.Flush()
}

// SweepPoint is an evaluation at one verifier threshold.
type SweepPoint struct {
	Threshold float64
	Votes     int // trees that must agree: Threshold × trees, rounded up
	Report    *Report
}

// Sweep evaluates the model at every threshold its verifier can tell
// apart: each count of agreeing trees from a third of the bag to all of
// it. Raising the threshold trades catalog downloads named for unknown
// downloads rejected; the table lets a user pick the point (train or
// classify --threshold).
func (m *Model) Sweep(examples []Example) []SweepPoint {
	n := len(m.Verifier.Trees)
	var out []SweepPoint
	for k := (n + 2) / 3; k <= n; k++ {
		mk := *m
		mk.Params.Threshold = float64(k) / float64(n)
		out = append(out, SweepPoint{Threshold: mk.Params.Threshold, Votes: k, Report: Evaluate("fingerflow", &mk, examples)})
	}
	return out
}

// WriteSweep prints a sweep, one row per threshold; current marks the
// row the model uses.
func WriteSweep(w io.Writer, points []SweepPoint, trees int, current float64) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "threshold\ttrees agreeing\tnamed correctly\tunknown rejected\tsimulated unknown rejected\tmulti-file recovered\t\n")
	for _, p := range points {
		mark := ""
		if p.Votes == int(math.Ceil(current*float64(trees)-1e-9)) {
			mark = " *"
		}
		r := p.Report
		fmt.Fprintf(tw, "%.3f%s\t%d of %d\t%s\t%s\t%s\t%s\t\n", p.Threshold, mark, p.Votes, trees,
			pctShort(r.KnownCorrect, r.Known), pctShort(r.UnknownCorrect, r.Unknown),
			pctShort(r.SimUnknownCorrect, r.SimUnknown), pctShort(r.MultiFound, r.MultiFiles))
	}
	return tw.Flush()
}
