package downloads

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/features"
)

// This file holds what host and site context add to the classifier: a
// classifier restricted to part of the catalog (the files of a host's
// operating system), the night's recurring unknown responses, keep-alive
// connections explained by both, and an estimate of how often a download
// would be named by chance.

// Restrict returns a classifier with the same options that only knows the
// catalog entries keep accepts (for example the files of one operating
// system), or false when it accepts none. Fewer candidates mean fewer
// chance fits: a download a full-catalog search leaves unknown because
// two files fit it may fit only one of a host's own.
func (cl *Classifier) Restrict(keep func(e *catalog.Entry) bool) (*Classifier, bool) {
	var entries []catalog.Entry
	for i := range cl.Catalog.Entries {
		if keep(&cl.Catalog.Entries[i]) {
			entries = append(entries, cl.Catalog.Entries[i])
		}
	}
	if len(entries) == 0 {
		return nil, false
	}
	if len(entries) == len(cl.Catalog.Entries) {
		return cl, true
	}
	cat, err := catalog.New(entries)
	if err != nil {
		// The entries come from a valid catalog: unique names, sizes.
		panic(fmt.Sprintf("downloads: restricting a valid catalog: %v", err))
	}
	m := *cl.modelRef
	m.Catalog = cat
	m.buildIndex()
	r := *cl
	r.modelRef = &m
	return &r, true
}

// Loss is what a download's reverse direction says about lost packets.
type Loss int

const (
	// LossUnknown: the reverse direction was not seen, or its requests
	// are not of a length the model knows.
	LossUnknown Loss = iota
	// LossFree: the client sent exactly its requests (no SACK options):
	// nothing was retransmitted, so the payload is the files' exact sum.
	LossFree
	// LossFew: a few SACK options: at most a couple of segments were
	// resent.
	LossFew
	// LossMany: more.
	LossMany
)

func (l Loss) String() string {
	switch l {
	case LossFree:
		return "loss-free"
	case LossFew:
		return "few losses"
	case LossMany:
		return "lossy"
	}
	return "losses unknown"
}

// sackBytes is the smallest TCP option a SACK adds to an ACK (one block,
// padded), and fewSACK the option bytes of a connection that resent at most
// about two segments.
const (
	sackBytes = 12
	fewSACK   = 4 * sackBytes
)

// maxRequests is the most requests a connection is counted as carrying
// from its reverse payload alone.
const maxRequests = 8

// requestsLoss counts a connection's requests from its reverse payload on
// profile p and says what the rest of that payload tells about losses: an
// HTTP request adds ReqLen bytes (give or take a few for URLs of other
// lengths), each SACK option at least sackBytes.
func requestsLoss(p *Profile, o observation) (n int, loss Loss) {
	if !o.hasRev || p.ReqLen <= 0 {
		return 0, LossUnknown
	}
	// Requests first: SACK options of a few losses add less than half a
	// request. Beyond MaxFiles requests the remainder modulo a request
	// says nothing: many SACK options land anywhere.
	n = 1 + max(int(math.Round(o.revBytes/p.ReqLen)), 0)
	if n > maxRequests {
		return 1 + max(int(o.revBytes/p.ReqLen), 0), LossMany
	}
	rest := o.revBytes - float64(n-1)*p.ReqLen
	slack := 4 * float64(n)
	switch {
	case math.Abs(rest) <= slack:
		return n, LossFree
	case rest > 0 && rest <= fewSACK+slack:
		return n, LossFew
	}
	// Many SACK options blur the count; the share above is a guess.
	return 1 + max(int(o.revBytes/p.ReqLen), 0), LossMany
}

// Requests estimates how many requests the connection of d carried and
// what its reverse direction says about losses, on the first profile the
// classifier tries for it.
func (cl *Classifier) Requests(d *features.Download) (n int, loss Loss) {
	for _, pi := range cl.profilesOf(d) {
		o := cl.observe(pi, d)
		if o.payload <= 0 {
			continue
		}
		return requestsLoss(&cl.Profiles[pi], o)
	}
	return 0, LossUnknown
}

// Unknowns are the responses of files outside the catalog that an input
// shows whole: the payloads of its loss-free single-file downloads that
// name no catalog file. Many hosts fetch the same files that are not in
// the catalog (a browser installer, a popular archive); once one download
// of such a file is seen whole, the same response inside a keep-alive
// connection is explained instead of hiding the catalog files beside it.
//
// A night can hold many such downloads (web pages, media). Only responses
// in the catalog's size range (from a sixteenth of its smallest response
// to its largest) are kept, and at most MaxUnknowns of them: those seen
// most often first, then the largest. Every extra response makes chance
// sums likelier, which the connection search's chance estimate counts.
type Unknowns struct {
	// mu guards sealing and items: connection searches of several hosts
	// may run at once once every download is added.
	mu     sync.Mutex
	cl     *Classifier
	seen   []map[int64]int // per profile: response payload → downloads
	resp   [][]int64       // per profile: kept payloads, ascending, once sealed
	sealed bool
	items  map[*Model][][]connItem // per restricted model and profile: catalog and unknown responses, ascending
}

// MaxUnknowns bounds the unknown responses a connection search uses.
const MaxUnknowns = 512

// unknownTol is how close (bytes) two responses must be to be the same
// file's: a measured response varies by a byte or two (dates, ETags).
const unknownTol = 2

// NewUnknowns returns an empty collection of the unknown responses the
// classifier's input shows whole; feed it every classified download.
// It is not safe for concurrent use.
func (cl *Classifier) NewUnknowns() *Unknowns {
	u := &Unknowns{cl: cl, seen: make([]map[int64]int, len(cl.Profiles)), resp: make([][]int64, len(cl.Profiles))}
	for i := range u.seen {
		u.seen[i] = map[int64]int{}
	}
	return u
}

// Add keeps d's response when d is a loss-free single-file download that
// r, its answer, left unknown, and its size is in the catalog's range.
func (u *Unknowns) Add(d *features.Download, r Result) {
	cl := u.cl
	if !r.Unknown() || r.Profile == ProfileSampled || d.Sampling > 1 {
		return
	}
	for _, pi := range cl.profilesOf(d) {
		p := &cl.Profiles[pi]
		rs := cl.resp[pi]
		if p.Assumed || len(rs) == 0 {
			continue
		}
		o := cl.observe(pi, d)
		resp := o.payload - int64(p.ConnOverhead())
		if resp < rs[0].payload/16 || resp > rs[len(rs)-1].payload {
			continue
		}
		if n, loss := requestsLoss(p, o); n != 1 || loss != LossFree {
			continue
		}
		// A response within tolerance of a catalog file's is that file,
		// however the verifier scored it.
		if cl.nearCatalog(pi, resp) {
			continue
		}
		u.seen[pi][resp]++
		u.sealed = false
	}
}

func (cl *Classifier) nearCatalog(pi int, resp int64) bool {
	rs := cl.resp[pi]
	k, _ := slices.BinarySearchFunc(rs, resp-cl.Params.Tolerance, func(e indexed, t int64) int { return cmp.Compare(e.payload, t) })
	return k < len(rs) && rs[k].payload <= resp+cl.Params.Tolerance
}

// seal merges the responses of one file (within unknownTol), keeps the
// MaxUnknowns seen most often (then the largest) and sorts them.
func (u *Unknowns) seal() {
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sealLocked()
}

func (u *Unknowns) sealLocked() {
	if u.sealed {
		return
	}
	type resp struct {
		payload int64
		n       int
	}
	for pi, seen := range u.seen {
		all := make([]resp, 0, len(seen))
		for p, n := range seen {
			all = append(all, resp{p, n})
		}
		slices.SortFunc(all, func(a, b resp) int { return cmp.Compare(a.payload, b.payload) })
		merged := all[:0]
		for _, r := range all {
			if k := len(merged); k > 0 && r.payload-merged[k-1].payload <= unknownTol {
				merged[k-1].n += r.n
				continue
			}
			merged = append(merged, r)
		}
		slices.SortStableFunc(merged, func(a, b resp) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(b.payload, a.payload)) })
		merged = merged[:min(len(merged), MaxUnknowns)]
		u.resp[pi] = u.resp[pi][:0]
		for _, r := range merged {
			u.resp[pi] = append(u.resp[pi], r.payload)
		}
		slices.Sort(u.resp[pi])
	}
	u.items = nil
	u.sealed = true
}

// searchItems are the responses a connection search on profile pi of cl
// combines: cl's catalog files and the unknown responses, ascending.
func (u *Unknowns) searchItems(cl *Classifier, pi int) []connItem {
	if u == nil {
		return catalogItems(cl, pi, nil)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sealLocked()
	if u.items == nil {
		u.items = map[*Model][][]connItem{}
	}
	per := u.items[cl.modelRef]
	if per == nil {
		per = make([][]connItem, len(cl.Profiles))
		u.items[cl.modelRef] = per
	}
	if per[pi] == nil {
		per[pi] = catalogItems(cl, pi, u.resp[pi])
	}
	return per[pi]
}

func catalogItems(cl *Classifier, pi int, unknown []int64) []connItem {
	items := make([]connItem, 0, len(cl.resp[pi])+len(unknown))
	for _, e := range cl.resp[pi] {
		items = append(items, connItem{e.payload, e.entry, cl.tol[pi][e.entry]})
	}
	for _, r := range unknown {
		items = append(items, connItem{r, -1, unknownTol})
	}
	slices.SortFunc(items, func(a, b connItem) int {
		return cmp.Or(cmp.Compare(a.payload, b.payload), cmp.Compare(a.entry, b.entry))
	})
	return items
}

// Len is the number of distinct unknown responses held.
func (u *Unknowns) Len() int {
	if u == nil {
		return 0
	}
	u.seal()
	n := 0
	for _, r := range u.resp {
		n += len(r)
	}
	return n
}

// InRange reports whether d's payload could hold one catalog file or a
// connection of up to MaxFiles of them, with retransmissions: the
// downloads worth keeping for a later search.
func (cl *Classifier) InRange(d *features.Download) bool {
	for _, pi := range cl.profilesOf(d) {
		rs := cl.index[pi]
		if len(rs) == 0 {
			continue
		}
		o := cl.observe(pi, d)
		lo := rs[0].payload - cl.Params.Tolerance
		hi := int64(cl.Params.MaxFiles)*rs[len(rs)-1].payload + cl.maxExtra(o)
		if o.payload >= lo && o.payload <= hi {
			return true
		}
	}
	return false
}

// ConnectionFit is a keep-alive connection explained as catalog files and
// unknown responses of the same input.
type ConnectionFit struct {
	Result
	Requests int  // responses the connection carried
	Others   int  // of which responses of files outside the catalog
	Loss     Loss // what the reverse direction said about losses
	// Chance is the number of combinations expected to fit this well by
	// chance (the answer is given only when it is small).
	Chance float64
}

// connChanceWindow is the half-width (bytes) of the window in which
// combinations are counted to estimate the chance fits of a connection.
const connChanceWindow = 1 << 15

// maxConnChance is the most combinations expected to fit by chance for
// Connection to answer.
const maxConnChance = 0.2

// maxLossyConnChance is the same bound for a connection whose losses
// leave only whole resent segments to go on.
const maxLossyConnChance = 0.02

// Connection explains a connection that carried several requests as the
// responses of catalog files and of files outside the catalog that u holds
// (nil: none), when its reverse direction says it lost nothing or almost
// nothing: loss-free, the responses must add up to the payload within
// their tolerances; with a few losses, the remainder must be under two
// segments and aligned like resent pieces are. SACK options of reordered
// packets can read as one request more, so a count of three or more is
// also tried one lower with the sum exact. The answer is given only
// when one combination fits best and few would fit by chance (counted
// over a window around the payload, as for multi-file answers); its Files
// are the catalog files only, and Others counts the rest. A connection
// that carried one request, or whose losses hide its sum, gives false.
func (cl *Classifier) Connection(d *features.Download, u *Unknowns) (ConnectionFit, bool) {
	if d.Sampling > 1 {
		return ConnectionFit{}, false
	}
	u.seal()
	var best ConnectionFit
	found := false
	for _, pi := range cl.profilesOf(d) {
		p := &cl.Profiles[pi]
		if p.Assumed {
			continue
		}
		o := cl.observe(pi, d)
		if o.payload <= 0 {
			continue
		}
		n, loss := requestsLoss(p, o)
		type reading struct {
			n    int
			loss Loss
		}
		readings := []reading{{n, loss}}
		switch {
		case loss == LossMany:
			// Many SACK options hide the request count.
			readings = []reading{{2, loss}, {3, loss}}
		case loss == LossUnknown || n < 2:
			continue
		case n > 2:
			// SACK options worth about a request (packets reordered
			// on the way, which resends nothing) read as one request
			// more: the connection may have carried one fewer, its
			// payload then the exact sum of the responses.
			readings = append(readings, reading{n - 1, LossFree})
		}
		items := u.searchItems(cl, pi)
		for _, r := range readings {
			if r.n > cl.Params.MaxFiles {
				continue
			}
			fit, ok := cl.connectionFit(d, pi, o, r.n, r.loss, items)
			if ok && (!found || fit.Chance < best.Chance) {
				best, found = fit, true
			}
		}
	}
	limit := maxConnChance
	if best.Loss == LossMany {
		// A lossy connection's sum is fitted over a wide range.
		limit = maxLossyConnChance
	}
	if !found || best.Chance > limit {
		return best, false
	}
	return best, true
}

type connItem struct {
	payload int64
	entry   int // catalog entry, or -1 for an unknown response
	tol     int64
}

// connectionFit searches the combinations of n items (ascending by payload)
// for connection d on profile pi.
func (cl *Classifier) connectionFit(d *features.Download, pi int, o observation, n int, loss Loss, items []connItem) (ConnectionFit, bool) {
	p := &cl.Profiles[pi]
	{
		off := cl.offsets[ServerKey{d.Server, d.ServerPort}]
		target := o.payload - int64(p.ConnOverhead()) - int64(n-1)*off
		// Remainders allowed: none when loss-free; when a few segments
		// were resent, up to two segments in pieces of the grain; with
		// more losses, whole segments up to what the reverse direction's
		// SACK options allow.
		lo, hi := target, target
		width := float64(1)
		switch loss {
		case LossFew:
			lo = target - int64(2*o.seg)
			width = float64(2*o.seg/o.grain + 1)
		case LossMany:
			lo = target - cl.maxExtra(o)
			width = float64((target-lo)/int64(o.seg) + 1)
		}
		fits := 0
		var bestFiles []int
		var bestExtra int64
		bestDist := math.Inf(1)
		chosen := make([]int, 0, n)
		budget := multiBudget
		var walk func(start, left int, sum, tol int64)
		walk = func(start, left int, sum, tol int64) {
			if budget <= 0 {
				return
			}
			if left == 1 {
				k, _ := slices.BinarySearchFunc(items[start:], lo-sum-tol-2*unknownTol-cl.Params.MultiTolerance, func(e connItem, t int64) int { return cmp.Compare(e.payload, t) })
				for k += start; k < len(items) && items[k].payload <= hi-sum+tol+items[k].tol; k++ {
					budget--
					t := tol + items[k].tol
					extra := target - sum - items[k].payload
					var dist float64
					switch {
					case extra >= -t && extra <= t:
						dist = math.Abs(float64(extra))
					case loss == LossFew && extra > 0 && extra <= target-lo:
						// Resent pieces are whole grains.
						dist = modDist(extra, o.grain)
						if dist > float64(t) {
							continue
						}
						dist += 0.5 // a remainder is a worse fit than none
					case loss == LossMany && extra > 0 && extra <= target-lo:
						// Only whole resent segments: partial ones would
						// admit nearly any sum.
						dist = modDist(extra, o.seg)
						if dist > float64(t) {
							continue
						}
						dist += 0.5
					default:
						continue
					}
					fits++
					if dist < bestDist {
						bestDist, bestExtra = dist, extra
						bestFiles = append(append(bestFiles[:0], chosen...), k)
					}
				}
				return
			}
			for k := start; k < len(items); k++ {
				budget--
				s := sum + items[k].payload
				if s+int64(left-1)*items[k].payload > hi+tol+int64(left)*items[k].tol {
					return
				}
				chosen = append(chosen, k)
				walk(k+1, left-1, s, tol+items[k].tol)
				chosen = chosen[:len(chosen)-1]
			}
		}
		walk(0, n, 0, 0)
		if budget <= 0 || fits == 0 {
			return ConnectionFit{}, false
		}
		// Chance fits: the density of n-item sums around the target times
		// the totals that would have been accepted.
		resp := make([]indexed, len(items))
		var maxTol int64
		for i, it := range items {
			resp[i] = indexed{it.payload, i}
			maxTol = max(maxTol, it.tol)
		}
		// The window is at least as wide as the accepted range, and one
		// more combination than counted keeps a sparse window from
		// claiming no chance at all.
		w := max(int64(connChanceWindow), target-lo)
		wide, ok := countNear(resp, n, target, w, countBudget)
		chance := math.Inf(1)
		if ok {
			chance = float64(wide+1) / float64(2*w+1) * width * float64(2*int64(n)*maxTol+1)
		}
		if fits > 1 {
			// Two combinations fit: neither is the answer.
			chance = math.Max(chance, float64(fits-1))
		}
		fit := ConnectionFit{Requests: n, Loss: loss, Chance: chance}
		fit.Profile = p.Name
		fit.Extra = bestExtra
		for _, k := range bestFiles {
			if items[k].entry < 0 {
				fit.Others++
				continue
			}
			fit.Files = append(fit.Files, cl.Catalog.Entries[items[k].entry].Name)
		}
		slices.Sort(fit.Files)
		fit.Confidence = 1 / (1 + chance)
		return fit, true
	}
}

// chanceSamples is how many sizes Chance tries.
const chanceSamples = 64

// Chance estimates how often a download of a file outside the catalog
// with d's loss pattern and a size near d's would be named some catalog
// file: d's byte and packet counts are scaled to chanceSamples sizes
// evenly spread over ±15% (SimulateUnknown keeps the bytes per packet,
// the retransmitted share and the reverse direction) and classified. A
// loss-free download that names a file exactly fits by chance only when
// another file's payload lies within the tolerance: its estimate is the
// catalog's density of payloads around d times that width, which the
// samples cannot resolve. The result is at least that density estimate,
// and for a download with losses at least 1/(2·chanceSamples).
func (cl *Classifier) Chance(d *features.Download) float64 {
	named := 0
	for k := range chanceSamples {
		f := 0.85 + 0.3*(float64(k)+0.5)/chanceSamples
		s := SimulateUnknown(*d, f)
		if r := cl.Classify(&s); !r.Unknown() {
			named++
		}
	}
	q := float64(named) / chanceSamples
	if _, loss := cl.Requests(d); loss != LossFree {
		// With losses, the samples are all there is to go on: none of
		// them named means less than one in chanceSamples, not zero.
		q = math.Max(q, 0.5/chanceSamples)
	}
	return math.Max(q, cl.density(d))
}

// densityWindow is the half-width (bytes) over which density counts
// catalog payloads.
const densityWindow = 1 << 20

// density is the expected number of catalog files whose payload lies
// within the tolerance of d's by chance: the catalog's payloads per byte
// around d's payload times the width 2·Tolerance+1.
func (cl *Classifier) density(d *features.Download) float64 {
	var q float64
	for _, pi := range cl.profilesOf(d) {
		o := cl.observe(pi, d)
		if o.payload <= 0 {
			continue
		}
		ix := cl.index[pi]
		cmpP := func(e indexed, t int64) int { return cmp.Compare(e.payload, t) }
		a, _ := slices.BinarySearchFunc(ix, o.payload-densityWindow, cmpP)
		b, _ := slices.BinarySearchFunc(ix, o.payload+densityWindow+1, cmpP)
		// One more payload than counted: a window with none does not
		// make a chance fit impossible.
		per := float64(b-a+1) / float64(2*densityWindow+1)
		q = math.Max(q, per*float64(2*cl.Params.Tolerance+1))
	}
	return q
}

// Possible lists the catalog entries d may hold that its counters cannot
// rule out, in catalog order. For one response (the reverse direction
// counts one request): the entries whose expected payload fits d with the
// retransmissions its losses allow, or, loss-free, within the tolerance:
// the candidates the verifier scores, named or not. For a connection of
// several responses, or one whose reverse direction does not tell how
// many it carried (losses blur the count, or it was not seen), every
// entry whose response fits in d's payload: the other responses may be of
// files outside the catalog, of any size. A sampled download holds
// anything its payload holds.
func (cl *Classifier) Possible(d *features.Download) []string {
	keep := make([]bool, len(cl.Catalog.Entries))
	for _, pi := range cl.profilesOf(d) {
		p := &cl.Profiles[pi]
		o := cl.observe(pi, d)
		if o.payload <= 0 {
			continue
		}
		ix := cl.index[pi]
		hi := o.payload + cl.Params.Tolerance
		lo := o.payload - cl.maxExtra(o)
		n, loss := requestsLoss(p, o)
		switch {
		case d.Sampling > 1 || n != 1 || loss == LossMany || loss == LossUnknown:
			lo = math.MinInt64
		case loss == LossFree:
			lo = o.payload - cl.Params.Tolerance
		}
		j, _ := slices.BinarySearchFunc(ix, hi+1, func(e indexed, t int64) int { return cmp.Compare(e.payload, t) })
		for i := j - 1; i >= 0 && ix[i].payload >= lo; i-- {
			keep[ix[i].entry] = true
		}
	}
	var out []string
	for i, k := range keep {
		if k {
			out = append(out, cl.Catalog.Entries[i].Name)
		}
	}
	return out
}
