package downloads

import (
	"context"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/fingerflow/fingerflow/features"
)

// Predictor is anything that labels downloads: the model, or the published
// byte-count baseline.
type Predictor interface {
	Classify(d *features.Download) Result
}

var (
	_ Predictor = (*Classifier)(nil)
	_ Predictor = (*Model)(nil)
	_ Predictor = (*Baseline)(nil)
)

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

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Evaluate runs p over labelled downloads.
func Evaluate(ctx context.Context, name string, p Predictor, examples []Example) (*Report, error) {
	return EvaluateFunc(ctx, name, p, examples, nil)
}

// EvaluateFunc is Evaluate that also hands every answer to visit (when not
// nil), for callers that chart or list them.
func EvaluateFunc(ctx context.Context, name string, p Predictor, examples []Example, visit func(ex *Example, res Result)) (*Report, error) {
	r := &Report{Name: name, Confusion: map[[2]string]int{}}
	for i := range examples {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
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
	return r, nil
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

// SweepPoint is an evaluation at one verifier threshold.
type SweepPoint struct {
	Threshold float64
	Votes     int // trees that must agree: Threshold × trees, rounded up
	Report    *Report
}

// Sweep evaluates the classifier at every threshold its verifier can tell
// apart: each count of agreeing trees from a third of the bag to all of
// it. Raising the threshold trades catalog downloads named for unknown
// downloads rejected; the table lets a user pick the point (train or
// classify --threshold).
func (cl *Classifier) Sweep(ctx context.Context, examples []Example) ([]SweepPoint, error) {
	n := len(cl.Verifier.Trees)
	var out []SweepPoint
	for k := (n + 2) / 3; k <= n; k++ {
		ck := *cl
		ck.threshold = float64(k) / float64(n)
		r, err := Evaluate(ctx, "fingerflow", &ck, examples)
		if err != nil {
			return nil, err
		}
		out = append(out, SweepPoint{Threshold: ck.threshold, Votes: k, Report: r})
	}
	return out, nil
}
