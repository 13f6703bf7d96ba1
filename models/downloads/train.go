package downloads

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/features"
)

// TrainOptions tunes Train.
type TrainOptions struct {
	Params   Params
	Verifier VerifierConfig
	// Profiles, when set, are used instead of calibrating from the examples.
	Profiles []Profile
	// Synthesize adds this many synthetic downloads per catalog entry,
	// made from the calibrated profiles and the retransmission pattern of
	// the labelled examples (training without downloading every file).
	Synthesize int
	// Augment adds this many lossier copies of every labelled single-file
	// download (more retransmitted segments, sub-segment residues drawn
	// from the real ones, SACK bytes on the reverse direction), so a model
	// trained on a clean lab path still knows what a lossy path looks like.
	Augment int
	// MaxRows caps the verifier's training rows (sampled evenly).
	MaxRows int
	Seed    uint64
}

// DefaultTrainOptions are the settings the lab measurements support.
func DefaultTrainOptions() TrainOptions {
	return TrainOptions{Params: DefaultParams(), Verifier: DefaultVerifierConfig(), Augment: 2, MaxRows: 200_000, Seed: 1}
}

// ErrNoExamples is returned when no labelled download could be used.
var ErrNoExamples = errors.New("no labelled downloads to train on")

// Train builds a model from labelled downloads and a catalog.
func Train(ctx context.Context, examples []Example, cat *catalog.Catalog, opts TrainOptions) (*Model, error) {
	if len(cat.Entries) == 0 {
		return nil, errors.New("train: empty catalog")
	}
	if len(examples) == 0 {
		return nil, ErrNoExamples
	}
	if err := opts.Params.Validate(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	m := &Model{Catalog: cat, Params: opts.Params}
	m.Profiles = opts.Profiles
	if len(m.Profiles) == 0 {
		ps, err := Calibrate(ctx, examples, 10)
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		fillRequestLengths(ps)
		calibrateMulti(ps, examples, cat)
		m.Profiles = withAssumedTLS(ps)
	}
	m.buildIndex()
	rng := rand.New(rand.NewPCG(opts.Seed, 0x7472616e))
	// Lab runs may download from servers whose overhead differs from the
	// one calibrated (a second mirror): their downloads are brought to
	// the calibrated payloads with the offsets adaptation finds, so the
	// verifier learns from them what it learns from the rest, not a
	// residue that is the servers' difference.
	var offs []ServerOffset
	if len(opts.Profiles) == 0 {
		ds := make([]features.Download, len(examples))
		for i := range examples {
			ds[i] = examples[i].Download
		}
		var err error
		if offs, err = m.Adapt(ctx, ds); err != nil {
			return nil, err
		}
		for _, o := range offs {
			if o.Offset != 0 {
				m.Summary.Adapted = append(m.Summary.Adapted, o)
			}
		}
	}
	rm := m.Classifier(Options{Offsets: offs})

	train := examples
	if opts.Synthesize > 0 {
		syn, err := rm.synthesize(ctx, examples, opts.Synthesize, rng)
		if err != nil {
			return nil, err
		}
		m.Summary.Synthetic = len(syn)
		train = append(append([]Example(nil), examples...), syn...)
	}
	// The baseline learns from the real labelled downloads: its golearn
	// tree has a class per file and costs O(rows² × classes), so a
	// synthesised catalog of thousands of files would dominate training.
	base := examples
	if opts.Augment > 0 {
		aug, err := rm.augment(ctx, examples, opts.Augment, rng)
		if err != nil {
			return nil, err
		}
		train = append(train[:len(train):len(train)], aug...)
	}
	X, y, err := rm.rows(ctx, train, rng)
	if err != nil {
		return nil, err
	}
	if opts.MaxRows > 0 && len(X) > opts.MaxRows {
		X, y = sampleRows(X, y, opts.MaxRows, rng)
	}
	v, err := TrainVerifier(ctx, X, y, opts.Verifier)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	m.Verifier = v
	// The published byte-count method, trained on the same downloads, is
	// kept in the model so evaluations can show both side by side; without
	// single-file catalog downloads there is nothing to train it on.
	switch b, err := TrainBaseline(ctx, base, opts.Seed); {
	case err == nil:
		m.Baseline = b
	case !errors.Is(err, ErrNoExamples):
		return nil, fmt.Errorf("train: %w", err)
	}
	// Counted against this catalog: a calibration run's files need not
	// be in it.
	seen := map[string]bool{}
	for _, ex := range examples {
		in := ex.Known
		for _, f := range ex.Files {
			if _, ok := cat.Index(f); !ok {
				in = false
			}
		}
		if in {
			m.Summary.Known++
			for _, f := range ex.Files {
				seen[f] = true
			}
		}
	}
	m.Summary.Examples = len(examples)
	m.Summary.Rows = len(X)
	m.Summary.CatalogFiles = len(cat.Entries)
	m.Summary.FilesSeen = len(seen)
	return m, nil
}

// withAssumedTLS adds AssumedTLSProfiles for port 443 from the plain HTTP
// profile, leaving out the framing an HTTPS lab run calibrated: servers
// whose TLS differs from the lab's (TLS 1.3 against the lab's 1.2, other
// record sizes) can then be fitted by adaptation, and without an HTTPS
// run HTTPS downloads can be named at all.
func withAssumedTLS(ps []Profile) []Profile {
	var http, tls *Profile
	for i := range ps {
		p := &ps[i]
		switch {
		case p.RecOverhead > 0 && len(p.Ports) > 0 && p.ForPort(443):
			tls = p
		case p.RecOverhead == 0 && http == nil:
			http = p
		case p.RecOverhead == 0 && len(p.Ports) > 0 && p.ForPort(443):
			return ps // plain HTTP calibrated on 443: nothing to assume
		}
	}
	if http == nil {
		return ps
	}
	out := ps
	for _, a := range AssumedTLSProfiles(*http) {
		if tls != nil && a.RecOverhead == tls.RecOverhead && a.RecSize == tls.RecSize {
			continue
		}
		out = append(out, a)
	}
	return out
}

// rows turns labelled single-file downloads into verifier rows: for each
// download, its true file's candidate (a match) and the other candidates
// (non-matches); then the same download with its file removed from the
// catalog, whose candidates are all non-matches (the open-set case).
func (cl *Classifier) rows(ctx context.Context, examples []Example, rng *rand.Rand) ([][]float64, []int64, error) {
	var X [][]float64
	var y []int64
	var buf []candidate
	for i := range examples {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		ex := &examples[i]
		if len(ex.Files) != 1 {
			continue
		}
		truth := -1
		if ex.Known {
			if k, ok := cl.Catalog.Index(ex.Files[0]); ok {
				truth = k
			}
		}
		for _, pi := range cl.profilesFor(ex.Download.ServerPort) {
			o := cl.observe(pi, &ex.Download)
			if o.payload <= 0 {
				continue
			}
			buf = cl.candidates(pi, o, -1, buf[:0])
			for _, c := range buf {
				X = append(X, append([]float64(nil), c.x[:]...))
				if c.entry == truth {
					y = append(y, 1)
				} else {
					y = append(y, 0)
				}
			}
			if truth >= 0 {
				buf = cl.candidates(pi, o, truth, buf[:0])
				for _, c := range buf {
					X = append(X, append([]float64(nil), c.x[:]...))
					y = append(y, 0)
				}
				// A file outside the catalog whose size lies close to a
				// catalog file's: the same download, its payload moved
				// by a small random amount. Every candidate is wrong.
				if cl.Params.ShiftedNegatives && rng != nil {
					so := o
					span := float64(o.payload) * 0.01
					so.payload += int64((rng.Float64()*2 - 1) * span)
					buf = cl.candidates(pi, so, -1, buf[:0])
					for _, c := range buf {
						X = append(X, append([]float64(nil), c.x[:]...))
						y = append(y, 0)
					}
				}
			}
		}
	}
	if len(X) == 0 {
		return nil, nil, ErrNoExamples
	}
	return X, y, nil
}

func sampleRows(X [][]float64, y []int64, n int, rng *rand.Rand) ([][]float64, []int64) {
	perm := rng.Perm(len(X))[:n]
	xs := make([][]float64, n)
	ys := make([]int64, n)
	for i, j := range perm {
		xs[i], ys[i] = X[j], y[j]
	}
	return xs, ys
}

// synthesize makes perCatalogEntry synthetic downloads of every catalog
// entry: the profile's clean payload plus the retransmission pattern of a
// randomly drawn real labelled download (its whole retransmitted segments,
// scaled by file size, and its sub-segment residue), so the verifier learns
// the real noise against the real catalog density.
func (cl *Classifier) synthesize(ctx context.Context, examples []Example, perEntry int, rng *rand.Rand) ([]Example, error) {
	type noise struct {
		port      uint16
		lossSeg   float64 // retransmitted whole segments per expected segment
		residue   int64
		pktFactor float64 // packets per expected segment
		rev       features.Download
	}
	var pool []noise
	for i := range examples {
		ex := &examples[i]
		if len(ex.Files) != 1 || !ex.Known {
			continue
		}
		for _, pi := range cl.profilesFor(ex.Download.ServerPort) {
			p := &cl.Profiles[pi]
			o := cl.observe(pi, &ex.Download)
			e := p.Expected(ex.Files[0], ex.Sizes[0])
			extra := o.payload - e
			if extra < 0 || float64(extra) > cl.Params.MaxExtra*float64(e) {
				continue
			}
			segs := float64(e) / float64(o.seg)
			pool = append(pool, noise{
				port:      ex.Download.ServerPort,
				lossSeg:   float64(extra/int64(o.seg)) / segs,
				residue:   extra % int64(o.seg),
				pktFactor: float64(ex.Download.Packets) / segs,
				rev:       ex.Download,
			})
			break
		}
	}
	if len(pool) == 0 {
		return nil, nil
	}
	var out []Example
	for i, e := range cl.Catalog.Entries {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		for range perEntry {
			nz := pool[rng.IntN(len(pool))]
			pi := cl.profilesFor(nz.port)[0]
			p := &cl.Profiles[pi]
			clean := p.Expected(e.Name, e.Size)
			segs := float64(clean) / float64(p.MSS)
			k := int64(math.Round(nz.lossSeg * segs))
			// In the payloads of the noise download's server (its
			// adapted offset, if any).
			pay := clean + k*int64(p.MSS) + nz.residue + cl.offsets[ServerKey{nz.rev.Server, nz.rev.ServerPort}]
			pk := uint64(math.Max(1, math.Round(nz.pktFactor*segs)))
			d := nz.rev
			d.Packets = pk
			d.Bytes = uint64(pay) + pk*uint64(p.Hdr)
			out = append(out, Example{Download: d, Files: []string{e.Name}, Sizes: []uint64{e.Size}, Known: true})
		}
	}
	return out, nil
}

// pathMTUs are the MTUs augmentation moves clean lab downloads to: VPNs and
// tunnels (1420, 1400, 1380), PPPoE (1492), the IPv6 minimum (1280).
var pathMTUs = []int{1492, 1420, 1400, 1380, 1280}

// augment makes lossier copies of labelled single-file downloads. Losses
// are drawn log-uniformly between 0.1% of the segments and Params.MaxExtra
// (at most 15%). A copy gets one to three sub-segment retransmissions with
// probability one half: half of them residues of the real downloads, the
// rest multiples of the segment's grain or, less often, any size, as other
// paths show. The reverse direction grows by the SACK option bytes such
// losses cause: one byte per 1 to 400 retransmitted bytes (lab paths show
// about 20 to 230 one hop away, 4 to 45 six hops away, and about 3 behind a
// NAT that drops in both directions).
func (cl *Classifier) augment(ctx context.Context, examples []Example, copies int, rng *rand.Rand) ([]Example, error) {
	residues := map[int][]int64{} // per profile, non-zero residues of real downloads
	for i := range examples {
		ex := &examples[i]
		if len(ex.Files) != 1 || !ex.Known {
			continue
		}
		pi := cl.profilesFor(ex.Download.ServerPort)[0]
		o := cl.observe(pi, &ex.Download)
		extra := o.payload - cl.Profiles[pi].Expected(ex.Files[0], ex.Sizes[0])
		if extra > 0 && extra%int64(o.seg) != 0 {
			residues[pi] = append(residues[pi], extra%int64(o.seg))
		}
	}
	logU := func(lo, hi float64) float64 {
		return math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo)))
	}
	var out []Example
	for i := range examples {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		ex := &examples[i]
		if len(ex.Files) != 1 {
			continue
		}
		pi := cl.profilesFor(ex.Download.ServerPort)[0]
		o := cl.observe(pi, &ex.Download)
		if o.payload <= 0 {
			continue
		}
		clean := o.payload == cl.Profiles[pi].Expected(ex.Files[0], ex.Sizes[0])
		for range copies {
			d := ex.Download
			seg := int64(o.seg)
			g := int64(o.grain)
			rs := residues[pi]
			hdr := uint64(d.Header(cl.Profiles[pi].Hdr))
			// Half the copies of a clean download go over a path with
			// another MTU (a tunnel, a VPN): as many payload bytes in
			// smaller or larger segments.
			if clean && rng.IntN(2) == 0 {
				mtu := pathMTUs[rng.IntN(len(pathMTUs))]
				if s2 := int64(mtu) - int64(hdr); s2 != seg && s2 > 256 {
					d.Packets = uint64(math.Round(float64(d.Packets) * float64(seg) / float64(s2)))
					d.Bytes = uint64(o.payload) + d.Packets*hdr
					seg, g, rs = s2, int64(grain(int(s2))), nil
				}
			}
			k := int64(math.Round(logU(0.001, max(min(cl.Params.MaxExtra, 0.15), 0.002)) * float64(o.payload) / float64(seg)))
			add := k * seg
			pk := uint64(k)
			if rng.IntN(2) == 0 {
				for range 1 + rng.IntN(3) {
					switch {
					case len(rs) > 0 && rng.IntN(10) < 5:
						add += rs[rng.IntN(len(rs))]
					case rng.IntN(10) < 6:
						add += g * (1 + rng.Int64N(max(seg/g-1, 1)))
					default:
						add += 1 + rng.Int64N(seg-1)
					}
					pk++
				}
			}
			d.Packets += pk
			d.Bytes += uint64(add) + pk*hdr
			if d.HasReverse && add > 0 {
				sack := uint64(float64(add) / logU(1, 400))
				d.RevBytes += sack
				d.RevPackets += uint64(k / 2)
				d.RevBytes += uint64(k/2) * hdr
			}
			out = append(out, Example{Download: d, Files: ex.Files, Sizes: ex.Sizes, Known: ex.Known})
		}
	}
	return out, nil
}
