package downloads

import (
	"cmp"
	"math"
	"slices"

	"github.com/fingerflow/fingerflow/features"
)

// multiBudget bounds the combinations visited for one download, so a dense
// catalog cannot make one flow cost seconds.
const multiBudget = 2_000_000

// minRequest is the smallest client→server payload an HTTP request adds
// ("GET /x HTTP/1.1", a Host header and the blank line).
const minRequest = 40

// requests estimates how many requests a connection carried from its
// reverse payload. clean is false when the count is not trustworthy: the
// excess is not close to a whole number of requests (SACK options from
// losses, or requests of unknown length).
func requests(p *Profile, o observation) (n int, clean bool) {
	if !o.hasRev {
		return 0, false
	}
	if o.revBytes < minRequest/2 {
		return 1, true
	}
	if p.ReqLen <= 0 {
		return 1 + int(o.revBytes/minRequest), false
	}
	f := o.revBytes / p.ReqLen
	r := math.Round(f)
	// URLs of different lengths make requests differ by a few bytes.
	if math.Abs(f-r)*p.ReqLen > 8*math.Max(r, 1) {
		return 1 + int(r), false
	}
	return 1 + int(r), true
}

// looksMulti reports whether the reverse direction cleanly says the
// connection carried several requests.
func (cl *Classifier) looksMulti(d *features.Download) bool {
	for _, pi := range cl.profilesOf(d) {
		o := cl.observe(pi, d)
		if n, clean := requests(&cl.Profiles[pi], o); clean && n >= 2 && n <= cl.Params.MaxFiles {
			return true
		}
	}
	return false
}

// multiExactTol is the residual (bytes) allowed for a file whose clean
// payload was measured in the lab (Profile.Exact): a lossless connection
// carries exactly the measured payloads, so more slack only admits chance
// sums. Files whose payload comes from the overhead formula get
// Params.MultiTolerance.
const multiExactTol = 1

// multiChanceWindow is the half-width (bytes) of the window around a
// connection's payload in which the search counts file combinations, to
// estimate how many would fit the payload by chance.
const multiChanceWindow = 1 << 14

// countBudget bounds the prefixes countNear visits.
const countBudget = 400_000

// defaultMultiMaxChance is the chance-match estimate above which no
// multi-file answer is given, for models that do not set one.
const defaultMultiMaxChance = 0.2

// countNear counts the combinations of n different entries of resp
// (ascending) whose payloads sum to within w of target. It gives up after
// budget prefixes (ok false): so many combinations lie near that chance
// fits are likely anyway.
func countNear(resp []indexed, n int, target, w int64, budget int) (count int, ok bool) {
	search := func(e indexed, t int64) int { return cmp.Compare(e.payload, t) }
	var walk func(start, left int, sum int64)
	walk = func(start, left int, sum int64) {
		if left == 1 {
			a, _ := slices.BinarySearchFunc(resp[start:], target-w-sum, search)
			b, _ := slices.BinarySearchFunc(resp[start:], target+w-sum+1, search)
			count += b - a
			return
		}
		for k := start; k < len(resp) && budget > 0; k++ {
			budget--
			s := sum + resp[k].payload
			if s+int64(left-1)*resp[k].payload > target+w {
				return
			}
			walk(k+1, left-1, s)
		}
	}
	walk(0, n, 0)
	return count, budget > 0
}

// multi looks for 2..MaxFiles catalog files whose responses add up to the
// download's payload on one connection (HTTP keep-alive). A combination
// fits when the remaining bytes are a whole number of segments
// (retransmissions) within MultiMaxExtra, give or take each file's
// tolerance; the answer with the fewest files, then the smallest residual,
// wins. It is given only when it is the only best fit and when few
// combinations would fit by chance: the search counts the combinations of
// that many files whose sum lies near the payload, and their density
// times the fitting width estimates the chance fits (a 50-file catalog has
// 2 million five-file combinations; a 3,000-file one 4.5 million pairs).
// The confidence is 1/(1+that estimate).
func (cl *Classifier) multi(d *features.Download) (Result, bool) {
	type answer struct {
		files   []int
		profile int
		dist    float64
		extra   int64
		tol     int64
		ties    int
		chance  float64
	}
	var best *answer
	better := func(a *answer) bool {
		if best == nil {
			return true
		}
		return cmp.Or(cmp.Compare(len(a.files), len(best.files)), cmp.Compare(a.dist, best.dist), cmp.Compare(a.extra, best.extra)) < 0
	}
	search := func(e indexed, t int64) int { return cmp.Compare(e.payload, t) }
	for _, pi := range cl.profilesOf(d) {
		p := &cl.Profiles[pi]
		o := cl.observe(pi, d)
		if o.payload <= 0 || p.Assumed {
			// An assumed profile's offset mixes the handshake (once a
			// connection) with header differences (once a response).
			continue
		}
		minN, maxN := 2, cl.Params.MaxFiles
		if o.hasRev {
			n, clean := requests(p, o)
			if !clean {
				// Losses (SACK bytes) hide the request count, and
				// retransmissions hide the exact payload sum.
				continue
			}
			minN, maxN = max(n, 2), min(n, maxN)
		} else {
			// Without the reverse direction nothing bounds the file
			// count; more files make chance sums likelier.
			maxN = min(maxN, 3)
		}
		if minN > maxN {
			continue
		}
		conn := int64(p.ConnOverhead())
		resp := cl.resp[pi] // response payloads, ascending
		tols := cl.tol[pi]  // per catalog entry
		// An adapted server's offset (observe took one off) comes with
		// every response.
		off := cl.offsets[ServerKey{d.Server, d.ServerPort}]
		var target, hi, lo int64
		budget := multiBudget
		chosen := make([]int, 0, cl.Params.MaxFiles)
		var walk func(start, left int, sum, tol int64)
		walk = func(start, left int, sum, tol int64) {
			if budget <= 0 {
				return
			}
			if left == 1 {
				// The last file's payload must fall in [lo-sum, hi-sum].
				a, _ := slices.BinarySearchFunc(resp[start:], lo-sum, search)
				for k := start + a; k < len(resp) && resp[k].payload <= hi-sum; k++ {
					budget--
					extra := target - sum - resp[k].payload
					dist := modDist(extra, o.seg)
					t := tol + tols[resp[k].entry]
					if dist > float64(t) {
						continue
					}
					files := append(append([]int(nil), chosen...), resp[k].entry)
					a := &answer{files: files, profile: pi, dist: dist, extra: extra, tol: t}
					if best != nil && len(a.files) == len(best.files) && a.dist == best.dist {
						best.ties++
						if better(a) {
							a.ties = best.ties
							best = a
						}
						continue
					}
					if better(a) {
						best = a
					}
				}
				return
			}
			for k := start; k < len(resp); k++ {
				budget--
				s := sum + resp[k].payload
				// The remaining left-1 files are at least as large as
				// this one: stop when even the smallest cannot fit.
				if s+int64(left-1)*resp[k].payload > hi {
					return
				}
				chosen = append(chosen, resp[k].entry)
				walk(k+1, left-1, s, tol+tols[resp[k].entry])
				chosen = chosen[:len(chosen)-1]
			}
		}
		for n := minN; n <= maxN; n++ {
			if best != nil && len(best.files) < n {
				break
			}
			target = o.payload - conn - int64(n-1)*off
			hi = target + cl.Params.Tolerance
			lo = target - int64(float64(target)*cl.Params.MultiMaxExtra)
			prev := best
			walk(0, n, 0, 0)
			if best != prev && best != nil && len(best.files) == n {
				// Totals that fit: every whole number of segments in
				// [lo, hi], give or take the answer's tolerance.
				fits := float64((hi-lo)/int64(o.seg)+1) * float64(2*best.tol+1)
				best.chance = math.Inf(1)
				if wide, ok := countNear(resp, n, target, multiChanceWindow, countBudget); ok {
					best.chance = float64(wide) * fits / float64(2*multiChanceWindow+1)
				}
			}
		}
	}
	maxChance := cl.Params.MultiMaxChance
	if maxChance == 0 {
		maxChance = defaultMultiMaxChance
	}
	if best == nil || best.ties > 0 || best.chance > maxChance {
		return Result{}, false
	}
	names := make([]string, len(best.files))
	slices.Sort(best.files)
	for i, e := range best.files {
		names[i] = cl.Catalog.Entries[e].Name
	}
	return Result{
		Files:      names,
		Confidence: 1 / (1 + best.chance),
		Profile:    cl.Profiles[best.profile].Name,
		Extra:      best.extra,
	}, true
}
