package downloads

import (
	"cmp"
	"math"
	"net/netip"
	"slices"

	"github.com/fingerflow/fingerflow/features"
)

// ServerKey names a server: address and port.
type ServerKey struct {
	Addr netip.Addr
	Port uint16
}

// Options are the run-time choices of a classification. They never change
// the model: the same model serves classifiers with different options.
type Options struct {
	// Threshold is the verifier score needed to name a file; 0 keeps the
	// model's (Params.Threshold).
	Threshold float64
	// Offsets are servers' payload offsets learned by adaptation
	// (Adapter.Offsets); servers without one are classified as the
	// model was trained.
	Offsets []ServerOffset
}

// Classifier labels downloads with a model under run-time options. It is
// safe for concurrent use.
type Classifier struct {
	*modelRef
	threshold float64
	// offsets are servers' payload offsets; nil without adaptation.
	// chosen are the assumed profiles adaptation fitted servers to, and
	// requests those servers' client→server payloads of a single
	// download.
	offsets  map[ServerKey]int64
	chosen   map[ServerKey]int
	requests map[ServerKey]int64
}

// modelRef lets Classifier embed the model without exporting it as a
// field.
type modelRef = Model

// Classifier returns a classifier of m with the given options. Offsets of
// 0 that fit no assumed profile are left out.
func (m *Model) Classifier(opts Options) *Classifier {
	cl := &Classifier{modelRef: m, threshold: m.Params.Threshold}
	if opts.Threshold > 0 {
		cl.threshold = opts.Threshold
	}
	for _, o := range opts.Offsets {
		if o.Offset == 0 && o.Profile == "" {
			continue
		}
		if cl.offsets == nil {
			cl.offsets = map[ServerKey]int64{}
			cl.chosen = map[ServerKey]int{}
			cl.requests = map[ServerKey]int64{}
		}
		cl.offsets[o.Server] = o.Offset
		if o.Profile != "" {
			for i := range m.Profiles {
				if m.Profiles[i].Name == o.Profile {
					cl.chosen[o.Server] = i
				}
			}
			cl.requests[o.Server] = o.Request
		}
	}
	return cl
}

// Result is the classifier's answer for one download.
type Result struct {
	// Files are the catalog files recognised, in catalog order of the
	// answer (one for an ordinary download, several for a connection that
	// carried several files); empty means unknown.
	Files      []string
	Confidence float64 // 0..1
	Profile    string  // profile that matched
	// Extra is the payload beyond the files' expected payload
	// (retransmissions), in bytes.
	Extra int64
}

// Unknown reports whether no catalog file was recognised.
func (r *Result) Unknown() bool { return len(r.Files) == 0 }

// NegligibleChance is the largest chance fit (see Chance) at which a
// named download counts as fetched. Above it, a download of a file
// outside the catalog with the same size and losses is named as well one
// time in fifty or more: at the scale of a night (hundreds of thousands of
// downloads, nearly all of other files) such names are mostly chance, and
// are shown as chance-level instead.
const NegligibleChance = 0.02

// Negligible reports whether a chance fit is negligible (at most
// NegligibleChance): a file named at it counts as named.
func Negligible(chance float64) bool { return chance <= NegligibleChance }

// Statuses of an Answer.
const (
	StatusNamed       = "named"        // named, and not by chance
	StatusChanceLevel = "chance-level" // named, but a chance fit is likely
	StatusUnknown     = "unknown"      // no catalog file
)

// Answer is the classifier's result for a download with its chance fit.
type Answer struct {
	Result
	// Chance is, for a single-file answer, the probability that a download
	// of a file outside the catalog with this one's size and losses is
	// named as well (Classifier.Chance); for a multi-file answer, the
	// number of combinations expected to fit by chance; 0 when unknown.
	Chance float64
}

// Status says whether the answer names files (StatusNamed), names them
// at a chance not negligible (StatusChanceLevel), or names none.
func (a *Answer) Status() string {
	switch {
	case a.Unknown():
		return StatusUnknown
	case !Negligible(a.Chance):
		return StatusChanceLevel
	}
	return StatusNamed
}

// Answer classifies d and, when files are named, estimates how likely
// such a name is by chance.
func (cl *Classifier) Answer(d *features.Download) Answer {
	a := Answer{Result: cl.Classify(d)}
	switch {
	case a.Unknown():
	case len(a.Files) > 1:
		// Multi-file answers carry confidence 1/(1+chance).
		a.Chance = 1/a.Confidence - 1
	default:
		a.Chance = cl.Chance(d)
	}
	return a
}

// ProfileSampled is the Result.Profile of downloads from exporters that
// sample packets: their counters are estimates, so no file can be named.
const ProfileSampled = "sampled"

// Classify labels one download with the model as trained; see
// Classifier.Classify.
func (m *Model) Classify(d *features.Download) Result {
	cl := Classifier{modelRef: m, threshold: m.Params.Threshold}
	return cl.Classify(d)
}

// Threshold is the verifier score the classifier needs to name a file.
func (cl *Classifier) Threshold() float64 { return cl.threshold }

func (cl *Classifier) observe(pi int, d *features.Download) observation {
	p := &cl.Profiles[pi]
	hdr := p.Hdr
	pay := d.Payload(hdr)
	req := p.ReqPayload
	if cl.offsets != nil {
		k := ServerKey{d.Server, d.ServerPort}
		pay -= cl.offsets[k]
		if req == 0 {
			req = float64(cl.requests[k])
		}
	}
	o := observation{payload: pay, seg: p.SegmentSize(pay, d.Packets, d.IPv6())}
	o.grain = grain(o.seg)
	o.extraPerRev = p.ExtraPerRev
	if d.HasReverse && req > 0 {
		o.hasRev = true
		o.revBytes = float64(d.RevPayload(hdr)) - req
		o.rev = o.revBytes / float64(o.seg)
	}
	return o
}

// Calibrated reports whether some profile was calibrated on the
// download's server port, or adaptation fitted its server to an assumed
// one. Downloads to other ports are scored with every profile, which fits
// them only if their framing is one of those (plain HTTP on another port,
// not TLS).
func (cl *Classifier) Calibrated(d *features.Download) bool {
	if _, ok := cl.chosen[ServerKey{d.Server, d.ServerPort}]; ok {
		return true
	}
	for i := range cl.Profiles {
		if !cl.Profiles[i].Assumed && cl.Profiles[i].ForPort(d.ServerPort) {
			return true
		}
	}
	return false
}

// profilesOf lists the profiles to try for a download: the one adaptation
// fitted its server to, or those of its port.
func (cl *Classifier) profilesOf(d *features.Download) []int {
	if pi, ok := cl.chosen[ServerKey{d.Server, d.ServerPort}]; ok {
		return []int{pi}
	}
	return cl.profilesFor(d.ServerPort)
}

// view is a download as seen on one profile under one segment size.
type view struct {
	profile int
	o       observation
}

// views lists the (profile, segment size) pairings a download is scored
// under.
func (cl *Classifier) views(d *features.Download, dst []view) []view {
	for _, pi := range cl.profilesOf(d) {
		o := cl.observe(pi, d)
		if o.payload <= 0 {
			continue
		}
		for _, seg := range cl.segments(pi, o, d) {
			o.seg, o.grain = seg, grain(seg)
			if o.hasRev {
				o.rev = o.revBytes / float64(seg)
			}
			dst = append(dst, view{pi, o})
		}
	}
	return dst
}

// Candidate is a catalog file whose expected payload fits a download, as
// the verifier scored it.
type Candidate struct {
	File     string
	Profile  string
	Segment  int     // segment size the download was scored under
	Expected int64   // the file's clean payload on the profile
	Extra    int64   // the download's payload beyond Expected
	Score    float64 // share of verifier trees calling it a match
}

// Candidates lists the catalog files the verifier scores for a
// single-file answer to d, best first (Classify names the first when its
// score reaches the threshold and no multi-file answer comes first). It
// shows why a download got its answer, and what an unknown download's
// counters could be mistaken for.
func (cl *Classifier) Candidates(d *features.Download) []Candidate {
	type scored struct {
		c       candidate
		seg     int
		payload int64
		score   float64
	}
	var sc []scored
	for _, v := range cl.views(d, nil) {
		for _, c := range cl.candidates(v.profile, v.o, -1, nil) {
			sc = append(sc, scored{c, v.o.seg, v.o.payload, cl.Verifier.Score(c.x[:], v.o.hasRev)})
		}
	}
	slices.SortStableFunc(sc, func(a, b scored) int {
		switch {
		case a.score != b.score:
			return cmp.Compare(b.score, a.score)
		case closer(&a.c, &b.c):
			return -1
		case closer(&b.c, &a.c):
			return 1
		}
		return 0
	})
	out := make([]Candidate, len(sc))
	for i, s := range sc {
		out[i] = Candidate{
			File: cl.Catalog.Entries[s.c.entry].Name, Profile: cl.Profiles[s.c.profile].Name,
			Segment: s.seg, Expected: s.c.expected, Extra: s.payload - s.c.expected, Score: s.score,
		}
	}
	return out
}

// Classify labels one download.
func (cl *Classifier) Classify(d *features.Download) Result {
	if d.Sampling > 1 {
		return Result{Profile: ProfileSampled}
	}
	// When the reverse direction cleanly counts several requests, the
	// multi-file answer comes first; otherwise it is the fallback.
	triedMulti := false
	if cl.Params.MaxFiles > 1 && cl.looksMulti(d) {
		triedMulti = true
		if r, ok := cl.multi(d); ok {
			return r
		}
	}
	// The same pairings as views, walked inline: building the list of
	// views first costs Classify a tenth of its speed (BenchmarkClassify).
	var best candidate
	bestScore := -1.0
	var buf [32]candidate
	var bestPayload int64
	for _, pi := range cl.profilesOf(d) {
		o := cl.observe(pi, d)
		if o.payload <= 0 {
			continue
		}
		for _, seg := range cl.segments(pi, o, d) {
			o.seg, o.grain = seg, grain(seg)
			if o.hasRev {
				o.rev = o.revBytes / float64(seg)
			}
			for _, c := range cl.candidates(pi, o, -1, buf[:0]) {
				s := cl.Verifier.Score(c.x[:], o.hasRev)
				if s > bestScore || (s == bestScore && closer(&c, &best)) {
					best, bestScore, bestPayload = c, s, o.payload
				}
			}
		}
	}
	if bestScore >= cl.threshold {
		return Result{
			Files:      []string{cl.Catalog.Entries[best.entry].Name},
			Confidence: bestScore,
			Profile:    cl.Profiles[best.profile].Name,
			Extra:      bestPayload - best.expected,
		}
	}
	if cl.Params.MaxFiles > 1 && !triedMulti {
		if r, ok := cl.multi(d); ok {
			return r
		}
	}
	return Result{Confidence: 1 - math.Max(bestScore, 0)}
}
