package downloads

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/features"
)

// Model recognises catalog file downloads in flow records. A model is not
// changed once trained or loaded: run-time choices (another threshold,
// servers' offsets) are Options of a Classifier.
type Model struct {
	Catalog  *catalog.Catalog
	Profiles []Profile
	Verifier *Verifier
	Baseline *Baseline // the published byte-count tree, for comparison; may be nil
	Params   Params
	Summary  Summary

	index [][]indexed // per profile: catalog entries by expected payload
	resp  [][]indexed // per profile: the same, as further responses on a connection
	tol   [][]int64   // per profile and catalog entry: residual allowed in a multi-file sum
}

// Summary describes what a model was trained on; model files carry it.
type Summary struct {
	Version      string   `json:"fingerflow_version"`
	Examples     int      `json:"examples"`      // labelled downloads used
	Known        int      `json:"known"`         // of which catalog downloads
	Synthetic    int      `json:"synthetic"`     // synthesised downloads
	Rows         int      `json:"rows"`          // verifier training rows
	CatalogFiles int      `json:"catalog_files"` // entries in the catalog
	FilesSeen    int      `json:"files_seen"`    // catalog files with labelled downloads
	Sources      []string `json:"sources"`       // input files
	// Adapted are the training servers whose downloads sat at an offset
	// from the calibrated payloads (see Train).
	Adapted []ServerOffset `json:"adapted,omitempty"`
}

// Params are the classifier's search limits and decision thresholds.
type Params struct {
	// MaxExtra is the largest share of a file's size that retransmissions
	// may add and still be considered (0.08 = 8%).
	MaxExtra float64
	// ExtraPerRev is the least bound on retransmitted bytes per byte of
	// reverse payload beyond one request (0: no bound). It applies to
	// profiles that calibrated a bound of their own (Profile.ExtraPerRev),
	// the larger of the two being used. Lab paths show 4 to 250 for HTTP,
	// up to 700 for HTTPS.
	ExtraPerRev float64
	// Tolerance is how far (bytes) a flow's payload may fall short of a
	// candidate's expected payload (lost exports, header variation).
	Tolerance int64
	// MaxCandidates is how many candidates per profile the verifier scores.
	MaxCandidates int
	// Threshold is the verifier score needed to accept a candidate. The
	// default, 0.65, asks ten of the fifteen trees to agree: held-out
	// rounds of the HTTPS lab run name 98% at it against 97% at eleven,
	// for about one point of rejected unknown downloads on lossy paths
	// (fingerflow evaluate --sweep shows the whole trade).
	Threshold float64
	// ShiftedNegatives adds, for every labelled download, a copy whose
	// payload is moved by up to 1% as a non-catalog example (a file whose
	// size is close to a catalog file's).
	ShiftedNegatives bool
	// MaxFiles is the most files searched for in one connection (1 turns
	// multi-file search off).
	MaxFiles int
	// MultiTolerance is the residual (bytes, modulo the segment size)
	// allowed per file for a multi-file answer.
	MultiTolerance int64
	// MultiMaxExtra is the largest share of retransmitted bytes allowed for
	// a multi-file answer; combinations multiply chance matches, so it is
	// stricter than MaxExtra.
	MultiMaxExtra float64
	// MultiMaxChance is the most combinations expected to fit a
	// connection's payload by chance for a multi-file answer to be given
	// (0: the default, 0.2).
	MultiMaxChance float64
}

// DefaultParams are the limits the lab measurements support.
func DefaultParams() Params {
	return Params{
		MaxExtra: 0.15, ExtraPerRev: 300, Tolerance: 64, MaxCandidates: 16, Threshold: 0.65,
		MaxFiles: 5, MultiTolerance: 3, MultiMaxExtra: 0, MultiMaxChance: defaultMultiMaxChance, ShiftedNegatives: true,
	}
}

// Limits of Params that Validate enforces: the multi-file search
// allocates room for MaxFiles files per download, the verifier scores
// MaxCandidates candidates per profile.
const (
	maxParamFiles      = 64
	maxParamCandidates = 1024
	maxParamTolerance  = 1 << 16
)

// Validate checks that every limit is usable; errors name the field.
func (p *Params) Validate() error {
	share := func(v float64) bool { return v > 0 && v <= 1 }
	switch {
	case !share(p.MaxExtra):
		return fmt.Errorf("params: MaxExtra %v, want a share in (0, 1]", p.MaxExtra)
	case !finite(p.ExtraPerRev) || p.ExtraPerRev < 0:
		return fmt.Errorf("params: ExtraPerRev %v, want 0 or more", p.ExtraPerRev)
	case p.Tolerance < 0 || p.Tolerance > maxParamTolerance:
		return fmt.Errorf("params: Tolerance %d bytes, want 0 to %d", p.Tolerance, maxParamTolerance)
	case p.MaxCandidates < 1 || p.MaxCandidates > maxParamCandidates:
		return fmt.Errorf("params: MaxCandidates %d, want 1 to %d", p.MaxCandidates, maxParamCandidates)
	case !share(p.Threshold):
		return fmt.Errorf("params: threshold %v, want a share in (0, 1]", p.Threshold)
	case p.MaxFiles < 0 || p.MaxFiles > maxParamFiles:
		return fmt.Errorf("params: %d files per connection, want at most %d", p.MaxFiles, maxParamFiles)
	case p.MultiTolerance < 0 || p.MultiTolerance > maxParamTolerance:
		return fmt.Errorf("params: MultiTolerance %d bytes, want 0 to %d", p.MultiTolerance, maxParamTolerance)
	case !finite(p.MultiMaxExtra) || p.MultiMaxExtra < 0 || p.MultiMaxExtra >= 1:
		return fmt.Errorf("params: MultiMaxExtra %v, want a share in [0, 1)", p.MultiMaxExtra)
	case !finite(p.MultiMaxChance) || p.MultiMaxChance < 0:
		return fmt.Errorf("params: multi-file chance bound %v, want 0 or more", p.MultiMaxChance)
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

type indexed struct {
	payload int64
	entry   int
}

// buildIndex sorts the catalog by expected payload for each profile.
func (m *Model) buildIndex() {
	m.index = make([][]indexed, len(m.Profiles))
	m.resp = make([][]indexed, len(m.Profiles))
	m.tol = make([][]int64, len(m.Profiles))
	for pi := range m.Profiles {
		p := &m.Profiles[pi]
		ix := make([]indexed, len(m.Catalog.Entries))
		for i, e := range m.Catalog.Entries {
			ix[i] = indexed{p.Expected(e.Name, e.Size), i}
		}
		slices.SortFunc(ix, func(a, b indexed) int {
			return cmp.Or(cmp.Compare(a.payload, b.payload), cmp.Compare(a.entry, b.entry))
		})
		m.index[pi] = ix
		// A further response carries everything but the connection's
		// one-time overhead; the order stays the same.
		conn := int64(p.ConnOverhead())
		resp := make([]indexed, len(ix))
		for i, e := range ix {
			resp[i] = indexed{e.payload - conn, e.entry}
		}
		m.resp[pi] = resp
		tol := make([]int64, len(m.Catalog.Entries))
		for i, e := range m.Catalog.Entries {
			tol[i] = m.Params.MultiTolerance
			if _, ok := p.Exact[e.Name]; ok {
				tol[i] = multiExactTol
			}
		}
		m.tol[pi] = tol
	}
}

// candidate is one (download, catalog entry, profile) pairing.
type candidate struct {
	profile  int
	entry    int
	expected int64
	x        [numFeatures]float64
}

// observation is what the classifier knows about a download on one profile.
type observation struct {
	payload int64
	seg     int
	grain   int // alignment of sub-segment pieces (see grain)
	// extraPerRev is the profile's calibrated bound on retransmitted bytes
	// per reverse byte (0: none calibrated).
	extraPerRev float64
	hasRev      bool    // the reverse direction was seen
	rev         float64 // reverse payload beyond one request, in segments
	revBytes    float64 // reverse payload beyond one request, in bytes
}

// segments lists the segment sizes a download is scored under: the
// profile's estimate, and for TLS profiles also the smallest common segment
// that holds the mean packet payload. TLS records end in short segments, so
// how full packets are depends on the path (a lossy, window-limited path
// fills them more), which blurs the estimate.
func (m *Model) segments(pi int, o observation, d *features.Download) []int {
	p := &m.Profiles[pi]
	if p.RecOverhead == 0 || d.Packets == 0 {
		return []int{o.seg}
	}
	mean := float64(o.payload) / float64(d.Packets)
	alt := 0
	for _, mtu := range commonMTUs {
		if seg := mtu - d.Header(p.Hdr); float64(seg) >= mean && (alt == 0 || seg < alt) {
			alt = seg
		}
	}
	if alt == 0 || alt == o.seg {
		return []int{o.seg}
	}
	return []int{o.seg, alt}
}

// grain is the alignment sub-segment retransmissions tend to share: a
// sender's short segments end at page (4096-byte) boundaries of its buffers,
// so pieces are multiples of gcd(segment, 4096) bytes: 8 for a 1448-byte
// segment, 4 for 1228.
func grain(seg int) int {
	a, b := seg, 4096
	for b != 0 {
		a, b = b, a%b
	}
	return max(a, 1)
}

// modDist folds extra modulo seg to the distance from the nearest multiple.
func modDist(extra int64, seg int) float64 {
	if extra < 0 {
		return float64(-extra)
	}
	r := extra % int64(seg)
	return float64(min(r, int64(seg)-r))
}

// maxExtra is how many bytes retransmissions may have added to a flow: a
// share of its payload (Params.MaxExtra) and, where the reverse direction
// was seen, no more than ExtraPerRev bytes per byte of SACK options and
// other reverse payload beyond one request: a flow whose client never
// reported a loss cannot hide a megabyte of retransmissions.
func (m *Model) maxExtra(o observation) int64 {
	limit := float64(o.payload) * m.Params.MaxExtra / (1 + m.Params.MaxExtra)
	if o.hasRev && m.Params.ExtraPerRev > 0 && o.extraPerRev > 0 {
		limit = min(limit, max(m.Params.ExtraPerRev, o.extraPerRev)*max(o.revBytes, 0))
	}
	return int64(limit) + int64(2*o.seg)
}

// candidates lists the catalog entries whose expected payload on profile pi
// fits the observation, largest expected payload first, excluding entry
// skip (used to make "file not in catalog" training examples).
func (m *Model) candidates(pi int, o observation, skip int, dst []candidate) []candidate {
	ix := m.index[pi]
	hi := o.payload + m.Params.Tolerance
	lo := o.payload - m.maxExtra(o)
	// first entry above hi
	j, _ := slices.BinarySearchFunc(ix, hi+1, func(e indexed, t int64) int { return cmp.Compare(e.payload, t) })
	rank := 0
	for i := j - 1; i >= 0 && ix[i].payload >= lo && rank < m.Params.MaxCandidates; i-- {
		if ix[i].entry == skip {
			continue
		}
		extra := o.payload - ix[i].payload
		c := candidate{profile: pi, entry: ix[i].entry, expected: ix[i].payload}
		c.x[featModDist] = modDist(extra, o.seg)
		c.x[featExtraFrac] = float64(extra) / float64(max(ix[i].payload, 1))
		c.x[featExtraSeg] = float64(extra) / float64(o.seg)
		c.x[featRank] = float64(rank)
		if o.hasRev {
			c.x[featRevExcess] = o.rev
		}
		c.x[featAlign] = modDist(extra, o.grain) / float64(o.grain)
		c.x[featGrain] = float64(o.grain)
		if m.Profiles[pi].RecOverhead > 0 {
			c.x[featTLS] = 1
		}
		if o.hasRev {
			c.x[featExtraPerRev] = float64(extra) / math.Max(o.revBytes, 12)
		}
		dst = append(dst, c)
		rank++
	}
	return dst
}

// closer breaks a tie between equally scored candidates: the one whose
// residue is nearer a whole number of segments (most downloads' extra is
// whole retransmitted segments, a wrong file's rarely), then the one with
// less extra.
func closer(a, b *candidate) bool {
	if a.x[featModDist] != b.x[featModDist] {
		return a.x[featModDist] < b.x[featModDist]
	}
	return a.x[featExtraFrac] < b.x[featExtraFrac]
}

// profilesFor lists the calibrated profiles to try for a server port:
// those meant for it, or all when none is. Assumed profiles are left out,
// and a port only they are meant for gets none: its downloads (TLS, by
// the assumption) fit no calibrated profile, and stay unknown unless
// adaptation fitted their server (profilesOf).
func (m *Model) profilesFor(port uint16) []int {
	var out []int
	assumed := false
	for i := range m.Profiles {
		p := &m.Profiles[i]
		if len(p.Ports) > 0 && p.ForPort(port) {
			if p.Assumed {
				assumed = true
				continue
			}
			out = append(out, i)
		}
	}
	if len(out) == 0 && assumed {
		return nil
	}
	if len(out) == 0 {
		for i := range m.Profiles {
			if !m.Profiles[i].Assumed {
				out = append(out, i)
			}
		}
	}
	return out
}
