package models

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
func (m *Model) looksMulti(d *features.Download) bool {
	for _, pi := range m.profilesFor(d.ServerPort) {
		o := m.observe(pi, d)
		if n, clean := requests(&m.Profiles[pi], o); clean && n >= 2 && n <= m.Params.MaxFiles {
			return true
		}
	}
	return false
}

// ConnOverhead is the payload a connection carries once whatever it
// transfers (TCP option bytes of the SYN-ACK, the TLS handshake).
func (p *Profile) ConnOverhead() float64 { return p.Base - p.RespOverhead }

// multi looks for 2..MaxFiles catalog files whose responses add up to the
// download's payload on one connection (HTTP keep-alive). A combination is
// accepted when the remaining bytes are a whole number of segments
// (retransmissions) within MultiMaxExtra; the answer with the fewest files,
// then the smallest residual, wins.
func (m *Model) multi(d *features.Download) (Result, bool) {
	type answer struct {
		files   []int
		profile int
		dist    float64
		extra   int64
		ties    int
	}
	var best *answer
	better := func(a *answer) bool {
		if best == nil {
			return true
		}
		return cmp.Or(cmp.Compare(len(a.files), len(best.files)), cmp.Compare(a.dist, best.dist), cmp.Compare(a.extra, best.extra)) < 0
	}
	for _, pi := range m.profilesFor(d.ServerPort) {
		p := &m.Profiles[pi]
		o := m.observe(pi, d)
		if o.payload <= 0 {
			continue
		}
		minN, maxN := 2, m.Params.MaxFiles
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
		resp := m.resp[pi] // response payloads, ascending
		// An adapted server's offset (observe took one off) comes with
		// every response.
		off := m.offsets[ServerKey{d.Server, d.ServerPort}]
		var target, hi, lo int64
		budget := multiBudget
		chosen := make([]int, 0, m.Params.MaxFiles)
		var walk func(start, left int, sum int64)
		walk = func(start, left int, sum int64) {
			if budget <= 0 {
				return
			}
			if left == 1 {
				// The last file's payload must fall in [lo-sum, hi-sum].
				a, _ := slices.BinarySearchFunc(resp[start:], lo-sum, func(e indexed, t int64) int { return cmp.Compare(e.payload, t) })
				for k := start + a; k < len(resp) && resp[k].payload <= hi-sum; k++ {
					budget--
					extra := target - sum - resp[k].payload
					dist := modDist(extra, o.seg)
					n := len(chosen) + 1
					if dist > float64(m.Params.MultiTolerance*int64(n)) {
						continue
					}
					files := append(append([]int(nil), chosen...), resp[k].entry)
					a := &answer{files: files, profile: pi, dist: dist, extra: extra}
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
				walk(k+1, left-1, s)
				chosen = chosen[:len(chosen)-1]
			}
		}
		for n := minN; n <= maxN; n++ {
			if best != nil && len(best.files) < n {
				break
			}
			target = o.payload - conn - int64(n-1)*off
			hi = target + m.Params.Tolerance
			lo = target - int64(float64(target)*m.Params.MultiMaxExtra)
			walk(0, n, 0)
		}
	}
	if best == nil {
		return Result{}, false
	}
	names := make([]string, len(best.files))
	slices.Sort(best.files)
	for i, e := range best.files {
		names[i] = m.Catalog.Entries[e].Name
	}
	return Result{
		Files:      names,
		Confidence: 1 / float64(1+best.ties),
		Profile:    m.Profiles[best.profile].Name,
		Extra:      best.extra,
	}, true
}
