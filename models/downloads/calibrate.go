package downloads

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/features"
)

// headerSizes are the per-packet IP+TCP header sizes Calibrate tries: IPv4
// with TCP timestamps (Linux, macOS), without (Windows), and with more TCP
// options.
var headerSizes = []int{52, 40, 60, 64}

// tlsOverheads are the per-record overheads Calibrate tries: 0 (no TLS),
// TLS 1.3 AEAD (5 header + 16 tag + 1 type), TLS 1.2 GCM (5 + 8 nonce + 16
// tag), CHACHA20 in TLS 1.2 (5 + 16), CBC-SHA256-ish framings.
var tlsOverheads = []int{0, 21, 22, 29, 37, 53}

// tlsRecordSizes are plaintext record sizes servers use.
var tlsRecordSizes = []int{16384, 16383, 16368, 16000, 8192, 4096}

// Calibrate learns one Profile per server port group (80 → "http", 443 →
// "https", any other port by number) from single-file labelled downloads:
// the per-packet header size, the segment size, the TLS record framing, the
// fixed overhead and the exact clean payload of every file seen. Groups
// with fewer than minExamples downloads are skipped.
func Calibrate(ctx context.Context, examples []Example, minExamples int) ([]Profile, error) {
	groups := map[uint16][]*Example{}
	for i := range examples {
		ex := &examples[i]
		if len(ex.Files) != 1 {
			continue
		}
		groups[ex.Download.ServerPort] = append(groups[ex.Download.ServerPort], ex)
	}
	ports := make([]uint16, 0, len(groups))
	for p := range groups {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	var out []Profile
	for _, port := range ports {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		g := groups[port]
		if len(g) < minExamples {
			continue
		}
		p := fitProfile(g)
		switch port {
		case 80, 8080:
			p.Name = "http"
		case 443, 8443:
			p.Name = "https"
		default:
			p.Name = "port-" + strconv.Itoa(int(port))
		}
		if p.RecOverhead > 0 && p.Name != "https" {
			p.Name += "-tls"
		}
		p.Ports = []uint16{port}
		// Merge groups that fitted the same framing (http on 80 and 8080).
		merged := false
		for i := range out {
			q := &out[i]
			if q.Hdr == p.Hdr && q.MSS == p.MSS && q.RecOverhead == p.RecOverhead && q.RecSize == p.RecSize && math.Abs(q.Base-p.Base) < 4 {
				q.Ports = append(q.Ports, port)
				for k, v := range p.Exact {
					if _, ok := q.Exact[k]; !ok {
						q.Exact[k] = v
					}
				}
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("calibrate: no server port has %d or more labelled single-file downloads", minExamples)
	}
	return out, nil
}

// fitProfile finds the framing under which the most downloads leave the same
// residual modulo the segment size: that residual is the fixed overhead, and
// the framing is the one the path really has.
func fitProfile(g []*Example) Profile {
	type fit struct {
		p     Profile
		score int
	}
	var best fit
	for _, hdr := range headerSizes {
		for _, mss := range candidateMSS(g, hdr) {
			for _, o := range tlsOverheads {
				sizes := tlsRecordSizes
				if o == 0 {
					sizes = []int{0}
				}
				for _, rs := range sizes {
					p := Profile{Hdr: hdr, MSS: mss, RecOverhead: o, RecSize: rs}
					score, base := concentration(g, &p)
					if score > best.score {
						p.Base = float64(base)
						best = fit{p, score}
					}
				}
			}
		}
	}
	p := best.p
	p.Fill = medianFill(g, p.Hdr, p.MSS)
	p.Exact = map[string]int64{}
	p.exactSize = map[string]uint64{}
	// Exact clean payloads per file: the smallest residual within a few
	// bytes of the fixed overhead.
	for _, ex := range g {
		r := ex.Download.Payload(p.Hdr) - p.body(ex.Sizes[0])
		if r < int64(p.Base)-16 || r > int64(p.Base)+16 {
			continue
		}
		v := r + p.body(ex.Sizes[0])
		if old, ok := p.Exact[ex.Files[0]]; !ok || v < old {
			p.Exact[ex.Files[0]] = v
			p.exactSize[ex.Files[0]] = ex.Sizes[0]
		}
	}
	fitDigits(&p)
	// How much retransmission the reverse direction's SACK bytes allow.
	var ratios []float64
	for _, ex := range g {
		d := &ex.Download
		extra := d.Payload(p.Hdr) - p.Expected(ex.Files[0], ex.Sizes[0])
		if !d.HasReverse || extra < int64(2*p.MSS) {
			continue
		}
		ratios = append(ratios, float64(extra)/math.Max(float64(d.RevPayload(p.Hdr))-p.reqPayloadGuess(g), 12))
	}
	if len(ratios) >= 10 {
		sort.Float64s(ratios)
		p.ExtraPerRev = 2 * ratios[len(ratios)*95/100]
	}
	// Typical client→server payload of a single download: the most common
	// value (clean downloads; losses add SACK option bytes). Without
	// keep-alive examples, a request's length is that less the SYN's extra
	// option bytes (8 on Linux-like stacks, as for the SYN-ACK).
	revs := map[int64]int{}
	for _, ex := range g {
		if ex.Download.HasReverse {
			revs[ex.Download.RevPayload(p.Hdr)]++
		}
	}
	if common, seen := mode(revs); seen > 0 {
		p.ReqPayload = float64(common)
		if p.RecOverhead == 0 {
			p.ReqLen = float64(common - 8)
		}
	}
	// Without keep-alive examples the split of the fixed overhead between
	// the connection and each response is not observable; assume the
	// connection adds only the SYN-ACK's extra option bytes (8 for
	// Linux-like stacks) for plain TCP and a TLS handshake otherwise.
	p.RespOverhead = p.Base - 8
	if p.RecOverhead > 0 {
		p.RespOverhead = 260 + float64(p.RecOverhead)
	}
	return p
}

// fillRequestLengths gives TLS profiles, whose single downloads mix the
// handshake with the request, the plain profile's request length plus one
// record's overhead.
func fillRequestLengths(ps []Profile) {
	var plain float64
	for _, p := range ps {
		if p.RecOverhead == 0 && p.ReqLen > 0 {
			plain = p.ReqLen
			break
		}
	}
	for i := range ps {
		if ps[i].ReqLen == 0 && plain > 0 {
			ps[i].ReqLen = plain + float64(ps[i].RecOverhead)
		}
	}
}

// candidateMSS lists the segment sizes worth trying for a header size: the
// common MTUs' segments that are no smaller than the largest mean payload
// per packet of the downloads (a flow's mean never exceeds its segment).
func candidateMSS(g []*Example, hdr int) []int {
	var maxMean float64
	for _, ex := range g {
		d := &ex.Download
		if d.Packets > 0 {
			maxMean = max(maxMean, ipv4Mean(d, hdr))
		}
	}
	var out []int
	for _, mtu := range commonMTUs {
		if seg := mtu - hdr; float64(seg) >= maxMean && float64(seg) <= maxMean*1.1 {
			out = append(out, seg)
		}
	}
	if len(out) == 0 {
		out = append(out, int(math.Ceil(maxMean)))
	}
	return out
}

// ipv4Mean is a download's mean payload per packet as it would be over IPv4
// on the same links: an IPv6 packet of the same size carries IPv6Extra
// bytes less payload.
func ipv4Mean(d *features.Download, hdr int) float64 {
	m := float64(d.Payload(hdr)) / float64(d.Packets)
	if d.IPv6() {
		m += features.IPv6Extra
	}
	return m
}

// medianFill is the median of mean payload per packet over MSS.
func medianFill(g []*Example, hdr, mss int) float64 {
	var fs []float64
	for _, ex := range g {
		d := &ex.Download
		if d.Packets > 0 {
			fs = append(fs, ipv4Mean(d, hdr)/float64(mss))
		}
	}
	if len(fs) == 0 {
		return 1
	}
	sort.Float64s(fs)
	return fs[len(fs)/2]
}

// concentration counts the downloads whose residual modulo the segment size
// lies within 2 bytes of the most common residual, and returns that count
// and the most common absolute residual near it (the fixed overhead).
func concentration(g []*Example, p *Profile) (int, int64) {
	mods := map[int64]int{}
	res := make([]int64, len(g))
	for i, ex := range g {
		r := ex.Download.Payload(p.Hdr) - p.body(ex.Sizes[0])
		res[i] = r
		if r < 0 {
			continue
		}
		mods[r%int64(p.MSS)]++
	}
	top, _ := mode(mods)
	score := 0
	near := map[int64]int{}
	seg := int64(p.MSS)
	for _, r := range res {
		if r < 0 {
			continue
		}
		d := (r - top) % seg
		if d < 0 {
			d += seg
		}
		if d <= 2 || d >= seg-2 {
			score++
			near[r]++
		}
	}
	// The fixed overhead is the most common residual (clean downloads);
	// ties go to the smaller.
	base, _ := mode(near)
	return score, base
}

// calibrateMulti refines each profile's split between connection and
// response overhead from labelled keep-alive connections without
// retransmissions.
func calibrateMulti(profiles []Profile, examples []Example, cat *catalog.Catalog) {
	for pi := range profiles {
		p := &profiles[pi]
		counts := map[int64]int{}
		for _, ex := range examples {
			if len(ex.Files) < 2 || !ex.Known || !p.ForPort(ex.Download.ServerPort) {
				continue
			}
			var sum int64
			ok := true
			for i, f := range ex.Files {
				if _, found := cat.Index(f); !found {
					ok = false
					break
				}
				sum += p.Expected(f, ex.Sizes[i])
			}
			if !ok {
				continue
			}
			// sum - P = (n-1) × conn when the flow is clean.
			diff := sum - ex.Download.Payload(p.Hdr)
			n := int64(len(ex.Files) - 1)
			if diff%n != 0 {
				continue
			}
			counts[diff/n]++
		}
		if conn, best := mode(counts); best >= 3 {
			p.RespOverhead = p.Base - float64(conn)
		}
		// Request length: reverse payload beyond a single download's, per
		// further file, over clean connections.
		lens := map[int64]int{}
		for _, ex := range examples {
			if len(ex.Files) < 2 || !p.ForPort(ex.Download.ServerPort) || !ex.Download.HasReverse {
				continue
			}
			extra := ex.Download.RevPayload(p.Hdr) - int64(p.ReqPayload)
			if n := int64(len(ex.Files) - 1); extra > 0 && extra%n == 0 {
				lens[extra/n]++
			}
		}
		if l, lb := mode(lens); lb >= 3 {
			p.ReqLen = float64(l)
		}
	}
}

// fitDigits learns how the fixed overhead grows with the digits of the file
// size from the files measured exactly: the median change per decimal digit
// (among files with the same hex digit count) and per hex digit (same
// decimal count). Sizes of a lab catalog span few digit counts; where a
// count never changes, its coefficient stays 0.
func fitDigits(p *Profile) {
	type key struct{ dec, hex int }
	groups := map[key][]float64{}
	for name, v := range p.Exact {
		s := p.exactSize[name]
		if s == 0 {
			continue
		}
		dec, hex := sizeDigits(s)
		groups[key{dec, hex}] = append(groups[key{dec, hex}], float64(v-p.body(s)))
	}
	if len(groups) < 2 {
		return
	}
	med := map[key]float64{}
	var base key
	bestN := 0
	for k, vs := range groups {
		sort.Float64s(vs)
		med[k] = vs[len(vs)/2]
		if len(vs) > bestN || (len(vs) == bestN && (k.dec < base.dec || (k.dec == base.dec && k.hex < base.hex))) {
			base, bestN = k, len(vs)
		}
	}
	var decSteps, hexSteps []float64
	for a, va := range med {
		for b, vb := range med {
			if a.hex == b.hex && b.dec > a.dec {
				decSteps = append(decSteps, (vb-va)/float64(b.dec-a.dec))
			}
			if a.dec == b.dec && b.hex > a.hex {
				hexSteps = append(hexSteps, (vb-va)/float64(b.hex-a.hex))
			}
		}
	}
	median := func(v []float64) float64 {
		if len(v) == 0 {
			return 0
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	p.DecCoef, p.HexCoef = median(decSteps), median(hexSteps)
	p.BaseDec, p.BaseHex = base.dec, base.hex
	p.Base = med[base]
}

// reqPayloadGuess is the most common reverse payload of the group's
// downloads (ReqPayload before it is set).
func (p *Profile) reqPayloadGuess(g []*Example) float64 {
	if p.ReqPayload > 0 {
		return p.ReqPayload
	}
	counts := map[int64]int{}
	for _, ex := range g {
		if ex.Download.HasReverse {
			counts[ex.Download.RevPayload(p.Hdr)]++
		}
	}
	common, _ := mode(counts)
	p.ReqPayload = float64(common)
	return p.ReqPayload
}

// mode is the most common key of counts and its count; ties go to the
// smaller key, so results do not depend on map order.
func mode(counts map[int64]int) (int64, int) {
	var best int64
	n := 0
	for v, c := range counts {
		if c > n || (c == n && v < best) {
			best, n = v, c
		}
	}
	return best, n
}
