package features

import (
	"math"
	"slices"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// Per-second series. A flow's bytes and packets are spread evenly over its
// duration: second k (Unix seconds) gets the share of [Start, End) that
// falls into [k, k+1), computed in nanoseconds as
// float64(bytes)*float64(overlap)/float64(End-Start); a zero-length flow
// puts everything into its start second. A host's values live in pages of
// one minute (aligned to Unix minutes, so a page's sum is the minute's
// value), allocated when a flow touches them and folded into the host's
// DDSketch once the stream has moved HostConfig.Horizon past them. The
// site's pages are never folded.

// pageSecs is the length of a page: one minute.
const pageSecs = 60

type secPage struct {
	n    int64 // page number: Unix minute
	b, p [pageSecs]float64
}

// minute is one folded minute of a host, kept compactly (float32 keeps the
// seven significant digits a chart needs).
type minute struct {
	n    int32 // Unix minute
	b, p float32
}

func floorDiv(x, y int64) int64 {
	q := x / y
	if x%y != 0 && (x < 0) != (y < 0) {
		q--
	}
	return q
}

func (a *HostAggregator) newPage(n int64) *secPage {
	if k := len(a.free); k > 0 {
		pg := a.free[k-1]
		a.free[k-1] = nil
		a.free = a.free[:k-1]
		pg.n = n
		return pg
	}
	return &secPage{n: n}
}

// span widens a first/last active-second pair.
func span(set *bool, first, last *int64, s0, s1 int64) {
	if !*set {
		*set, *first, *last = true, s0, s1
		return
	}
	*first = min(*first, s0)
	*last = max(*last, s1)
}

// spread adds a record's bytes and packets (both directions) to the site's
// series and to the series of h1 and h2 (either may be nil).
func (a *HostAggregator) spread(start, end int64, by, pk uint64, h1, h2 *host) {
	const sec = int64(time.Second)
	d := end - start
	s0 := floorDiv(start, sec)
	s1 := s0
	if d > 0 {
		s1 = floorDiv(end-1, sec)
	}
	st := &a.site
	st.bytes += by
	st.pkts += pk
	span(&st.spanSet, &st.firstSec, &st.lastSec, s0, s1)
	for _, h := range [2]*host{h1, h2} {
		if h != nil {
			h.seriesBytes += by
			h.seriesPks += pk
			span(&h.spanSet, &h.firstSec, &h.lastSec, s0, s1)
		}
	}
	fb, fp, fd := float64(by), float64(pk), float64(d)
	var cb, cp float64 // a whole second's share
	if d > 0 {
		cb, cp = fb*float64(sec)/fd, fp*float64(sec)/fd
	}
	var vb, vp [pageSecs]float64
	for pn := floorDiv(s0, pageSecs); pn <= floorDiv(s1, pageSecs); pn++ {
		lo, hi := max(s0, pn*pageSecs), min(s1, pn*pageSecs+pageSecs-1)
		m := int(hi - lo + 1)
		if d == 0 {
			vb[0], vp[0] = fb, fp
		} else {
			for i := 0; i < m; i++ {
				k := lo + int64(i)
				ov := min(end, (k+1)*sec) - max(start, k*sec)
				if ov == sec {
					vb[i], vp[i] = cb, cp
				} else {
					vb[i], vp[i] = fb*float64(ov)/fd, fp*float64(ov)/fd
				}
			}
		}
		off := int(lo - pn*pageSecs)
		sp := st.page(pn)
		addInto(sp.b[off:off+m], vb[:m])
		addInto(sp.p[off:off+m], vp[:m])
		for _, h := range [2]*host{h1, h2} {
			if h == nil {
				continue
			}
			if pg := a.hostPage(h, pn); pg != nil {
				addInto(pg.b[off:off+m], vb[:m])
				addInto(pg.p[off:off+m], vp[:m])
			} else {
				a.foldLate(h, pn, vb[:m], vp[:m])
			}
		}
	}
}

func addInto(dst, src []float64) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}

// hostPage returns h's page pn, created when missing, or nil when that
// minute has already been folded.
func (a *HostAggregator) hostPage(h *host, pn int64) *secPage {
	if pn < h.folded {
		return nil
	}
	i := len(h.pages)
	for i > 0 && h.pages[i-1].n > pn {
		i--
	}
	if i > 0 && h.pages[i-1].n == pn {
		return h.pages[i-1]
	}
	pg := a.newPage(pn)
	h.pages = slices.Insert(h.pages, i, pg)
	if !h.isActive {
		h.isActive = true
		a.active = append(a.active, h)
	}
	return pg
}

// sweep folds the pages that lie more than Horizon before the newest start
// seen; all of them when final.
func (a *HostAggregator) sweep(final bool) {
	a.swept = a.water
	limit := int64(math.MaxInt64)
	if !final {
		limit = floorDiv(a.water-int64(a.cfg.Horizon), pageSecs*int64(time.Second))
	}
	keep := a.active[:0]
	for _, h := range a.active {
		n := 0
		for _, pg := range h.pages {
			if pg.n >= limit {
				break
			}
			a.fold(h, pg)
			n++
		}
		if n > 0 {
			k := copy(h.pages, h.pages[n:])
			clear(h.pages[k:])
			h.pages = h.pages[:k]
		}
		if len(h.pages) > 0 {
			keep = append(keep, h)
		} else {
			h.isActive = false
		}
	}
	clear(a.active[len(keep):])
	a.active = keep
}

func (a *HostAggregator) sketches(h *host) {
	if h.bsk == nil {
		h.bsk = ddsketch.NewDDSketch(a.mapping, store.NewBufferedPaginatedStore(), a.noNeg)
		h.psk = ddsketch.NewDDSketch(a.mapping, store.NewBufferedPaginatedStore(), a.noNeg)
	}
}

// add puts one positive second into a sketch. Values are finite and far
// below the sketch's largest indexable value (about 1e300), so Add cannot
// fail.
func add(sk *ddsketch.DDSketch, v float64) {
	_ = sk.Add(v)
}

// fold moves a page into h's sketches and minute series and frees it.
func (a *HostAggregator) fold(h *host, pg *secPage) {
	a.sketches(h)
	var sb, sp float64
	for i := 0; i < pageSecs; i++ {
		if v := pg.b[i]; v > 0 {
			add(h.bsk, v)
			sb += v
		}
		if v := pg.p[i]; v > 0 {
			add(h.psk, v)
			sp += v
		}
	}
	if sb > 0 || sp > 0 {
		h.minutes = append(h.minutes, minute{int32(pg.n), float32(sb), float32(sp)})
	}
	h.folded = pg.n + 1
	pg.b, pg.p = [pageSecs]float64{}, [pageSecs]float64{}
	a.free = append(a.free, pg)
}

// foldLate puts the seconds of a late record that fall into an already
// folded minute straight into h's sketches, each as a value of its own: a
// second that already had a value is split in two (the approximation the
// Horizon documents).
func (a *HostAggregator) foldLate(h *host, pn int64, vb, vp []float64) {
	a.sketches(h)
	var sb, sp float64
	for i := range vb {
		if vb[i] > 0 {
			add(h.bsk, vb[i])
			sb += vb[i]
		}
		if vp[i] > 0 {
			add(h.psk, vp[i])
			sp += vp[i]
		}
	}
	if sb == 0 && sp == 0 {
		return
	}
	i, ok := slices.BinarySearchFunc(h.minutes, int32(pn), func(m minute, n int32) int { return int(m.n) - int(n) })
	if ok {
		h.minutes[i].b += float32(sb)
		h.minutes[i].p += float32(sp)
		return
	}
	h.minutes = slices.Insert(h.minutes, i, minute{int32(pn), float32(sb), float32(sp)})
}

func (h *host) rates() Rates {
	if !h.spanSet {
		return Rates{}
	}
	n := h.lastSec - h.firstSec + 1
	return Rates{
		Start:       time.Unix(h.firstSec, 0).UTC(),
		Seconds:     n,
		BytesMean:   float64(h.seriesBytes) / float64(n),
		PacketsMean: float64(h.seriesPks) / float64(n),
		BytesP95:    sketchQuantile(h.bsk, n, 0.95),
		PacketsP95:  sketchQuantile(h.psk, n, 0.95),
	}
}

// sketchQuantile is the q-quantile of a series of n seconds whose positive
// values are in sk and whose other seconds are zero, interpolated linearly
// between order statistics as pandas and numpy do by default.
func sketchQuantile(sk *ddsketch.DDSketch, n int64, q float64) float64 {
	var pos store.Store
	cnt := 0.0
	if sk != nil {
		pos = sk.GetPositiveValueStore()
		cnt = pos.TotalCount()
	}
	total := max(float64(n), cnt) // late seconds may be split in two
	zeros := total - cnt
	at := func(k float64) float64 {
		if k < zeros {
			return 0
		}
		return sk.Value(pos.KeyAtRank(k - zeros))
	}
	return lerpRank(at, q*(total-1))
}

// lerpRank interpolates between the order statistics around rank r (0-based).
func lerpRank(at func(k float64) float64, r float64) float64 {
	if r <= 0 {
		return at(0)
	}
	lo := math.Floor(r)
	v := at(lo)
	if r == lo {
		return v
	}
	w := at(lo + 1)
	return v + (r-lo)*(w-v)
}

// exactQuantile is the q-quantile of a series made of the sorted values vs
// and zeros more zeros.
func exactQuantile(vs []float64, zeros int, q float64) float64 {
	total := len(vs) + zeros
	if total == 0 {
		return 0
	}
	at := func(k float64) float64 {
		i := int(k)
		if i < zeros {
			return 0
		}
		return vs[i-zeros]
	}
	return lerpRank(at, q*float64(total-1))
}

// siteSeries is the site's whole per-second series.
type siteSeries struct {
	pages             map[int64]*secPage
	last              *secPage
	spanSet           bool
	firstSec, lastSec int64
	bytes, pkts       uint64
}

func (s *siteSeries) page(n int64) *secPage {
	if s.last != nil && s.last.n == n {
		return s.last
	}
	pg := s.pages[n]
	if pg == nil {
		pg = &secPage{n: n}
		s.pages[n] = pg
	}
	s.last = pg
	return pg
}

func (s *siteSeries) stats(out *SiteStats, maxSpan time.Duration) {
	if !s.spanSet {
		return
	}
	n := s.lastSec - s.firstSec + 1
	out.Rates = Rates{
		Start:       time.Unix(s.firstSec, 0).UTC(),
		Seconds:     n,
		BytesMean:   float64(s.bytes) / float64(n),
		PacketsMean: float64(s.pkts) / float64(n),
	}
	if n > int64(maxSpan/time.Second) {
		out.SeriesOmitted = true
		var bs, ps []float64
		for _, pg := range s.pages {
			bs = appendPositive(bs, pg.b[:])
			ps = appendPositive(ps, pg.p[:])
		}
		slices.Sort(bs)
		slices.Sort(ps)
		out.Rates.BytesP95 = exactQuantile(bs, int(n)-len(bs), 0.95)
		out.Rates.PacketsP95 = exactQuantile(ps, int(n)-len(ps), 0.95)
		return
	}
	out.BytesPerSecond = make([]float64, n)
	out.PacketsPerSecond = make([]float64, n)
	m0, m1 := floorDiv(s.firstSec, pageSecs), floorDiv(s.lastSec, pageSecs)
	out.MinuteStart = time.Unix(m0*pageSecs, 0).UTC()
	out.BytesPerMinute = make([]float64, m1-m0+1)
	out.PacketsPerMinute = make([]float64, m1-m0+1)
	for pn, pg := range s.pages {
		for i := 0; i < pageSecs; i++ {
			k := pn*pageSecs + int64(i) - s.firstSec
			if k < 0 || k >= n {
				continue
			}
			out.BytesPerSecond[k] = pg.b[i]
			out.PacketsPerSecond[k] = pg.p[i]
		}
	}
	// Minute sums in time order, so the result does not depend on the
	// order of the page map.
	for k, v := range out.BytesPerSecond {
		out.BytesPerMinute[floorDiv(s.firstSec+int64(k), pageSecs)-m0] += v
	}
	for k, v := range out.PacketsPerSecond {
		out.PacketsPerMinute[floorDiv(s.firstSec+int64(k), pageSecs)-m0] += v
	}
	bs := appendPositive(nil, out.BytesPerSecond)
	ps := appendPositive(nil, out.PacketsPerSecond)
	slices.Sort(bs)
	slices.Sort(ps)
	out.Rates.BytesP95 = exactQuantile(bs, int(n)-len(bs), 0.95)
	out.Rates.PacketsP95 = exactQuantile(ps, int(n)-len(ps), 0.95)
}

func appendPositive(dst, vs []float64) []float64 {
	for _, v := range vs {
		if v > 0 {
			dst = append(dst, v)
		}
	}
	return dst
}
