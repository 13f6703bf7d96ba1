package features

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/DataDog/sketches-go/ddsketch/mapping"
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

// hostPage holds a host's minute in float32: seven significant digits are
// far more than the sketches keep, and a page of a quiet host (a few
// seconds used) costs 512 bytes instead of 1 KiB.
type hostPage struct {
	n    int64  // page number: Unix minute
	used uint64 // bit i: second i was written to
	b, p [pageSecs]float32
}

// sitePage holds a minute of the site's series, kept whole in float64.
type sitePage struct {
	n    int64
	b, p [pageSecs]float64
}

// FloorDiv is x/y rounded towards minus infinity (the minute of a second
// before 1970 included).
func FloorDiv(x, y int64) int64 {
	q := x / y
	if x%y != 0 && (x < 0) != (y < 0) {
		q--
	}
	return q
}

func (a *HostAggregator) newPage(n int64) *hostPage {
	if k := len(a.free); k > 0 {
		pg := a.free[k-1]
		a.free[k-1] = nil
		a.free = a.free[:k-1]
		pg.n = n
		return pg
	}
	return &hostPage{n: n}
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
	s0 := FloorDiv(start, sec)
	s1 := s0
	if d > 0 {
		s1 = FloorDiv(end-1, sec)
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
	vb, vp := &a.vb, &a.vp // not zeroed: only [:m] is written and read
	for pn := FloorDiv(s0, pageSecs); pn <= FloorDiv(s1, pageSecs); pn++ {
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
		used := (uint64(1)<<m - 1) << off
		sp := st.page(pn)
		addInto(sp.b[off:off+m], vb[:m])
		addInto(sp.p[off:off+m], vp[:m])
		for _, h := range [2]*host{h1, h2} {
			if h == nil {
				continue
			}
			if pg := a.pageOf(h, pn); pg != nil {
				pg.used |= used
				addInto32(pg.b[off:off+m], vb[:m])
				addInto32(pg.p[off:off+m], vp[:m])
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

func addInto32(dst []float32, src []float64) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += float32(v)
	}
}

// pageRef is one of a host's unfolded pages; the page number is kept beside
// the pointer so that finding a page reads no page.
type pageRef struct {
	n  int64
	pg *hostPage
}

// due is an entry of the fold queue: host h has an unfolded page n.
type due struct {
	h *host
	n int64
}

// pageOf returns h's page pn, created when missing, or nil when that
// minute has already been folded.
func (a *HostAggregator) pageOf(h *host, pn int64) *hostPage {
	if pn < h.folded {
		return nil
	}
	i := len(h.pages)
	for i > 0 && h.pages[i-1].n > pn {
		i--
	}
	if i > 0 && h.pages[i-1].n == pn {
		return h.pages[i-1].pg
	}
	pg := a.newPage(pn)
	h.pages = slices.Insert(h.pages, i, pageRef{pn, pg})
	a.queue = append(a.queue, due{h, pn})
	return pg
}

// foldDue folds the pages that lie more than Horizon before the newest
// start seen. Pages enter the queue as they are created, roughly in time
// order; a host found at its front has all its due pages folded, in order,
// and its later entries for them are skipped.
func (a *HostAggregator) foldDue() {
	limit := FloorDiv(a.water-int64(a.cfg.Horizon), pageSecs*int64(time.Second))
	if limit <= a.limit {
		return
	}
	a.limit = limit
	q := a.queue[a.head:]
	k := 0
	for ; k < len(q) && q[k].n < limit; k++ {
		if q[k].n >= q[k].h.folded {
			a.foldHost(q[k].h, limit)
		}
	}
	clear(q[:k])
	a.head += k
	if a.head > len(a.queue)/2 {
		n := copy(a.queue, a.queue[a.head:])
		clear(a.queue[n:])
		a.queue = a.queue[:n]
		a.head = 0
	}
}

// foldHost folds h's pages below page limit.
func (a *HostAggregator) foldHost(h *host, limit int64) {
	n := 0
	for _, r := range h.pages {
		if r.n >= limit {
			break
		}
		a.fold(h, r.pg)
		n++
	}
	if n > 0 {
		k := copy(h.pages, h.pages[n:])
		clear(h.pages[k:])
		h.pages = h.pages[:k]
	}
}

// foldAll folds every page (end of input) and lets the page pool go.
func (a *HostAggregator) foldAll() {
	for _, h := range a.all {
		if len(h.pages) > 0 {
			a.foldHost(h, math.MaxInt64)
		}
		h.bsk.release()
		h.psk.release()
	}
	clear(a.queue)
	a.queue, a.head = a.queue[:0], 0
	a.free = nil
}

// rateSketch is a host's quantile sketch of one per-second series: a
// DDSketch store of bin counts under the aggregator's shared index mapping.
// Folded seconds are mapped to their bin and appended to a short log that
// goes into the store logLen entries at a time: the store's memory is then
// touched in bursts rather than once for each second of each host, which
// on a site of thousands of hosts means once per cache miss.
type rateSketch struct {
	store *store.BufferedPaginatedStore
	log   []uint32 // bin index (int16) << 16 | count
}

const logLen = 128

// add counts n seconds of value v (positive).
func (r *rateSketch) add(m *mapping.CubicallyInterpolatedMapping, v float64, n int) {
	if v <= m.MinIndexableValue() {
		return // indistinguishable from an idle second
	}
	if r.store == nil {
		r.store = store.NewBufferedPaginatedStore()
	}
	if r.log == nil {
		r.log = make([]uint32, 0, logLen)
	}
	i := m.Index(v)
	if i < math.MinInt16 || i > math.MaxInt16 || n > math.MaxUint16 {
		r.store.AddWithCount(i, float64(n))
		return
	}
	r.log = append(r.log, uint32(uint16(int16(i)))<<16|uint32(n))
	if len(r.log) == logLen {
		r.flush()
	}
}

// release empties the log into the store and lets it go (end of input).
func (r *rateSketch) release() {
	r.flush()
	r.log = nil
}

func (r *rateSketch) flush() {
	for _, e := range r.log {
		i, n := int(int16(e>>16)), e&0xffff
		if n == 1 {
			r.store.Add(i)
		} else {
			r.store.AddWithCount(i, float64(n))
		}
	}
	r.log = r.log[:0]
}

// fold moves a page into h's sketches and minute series and frees it.
func (a *HostAggregator) fold(h *host, pg *hostPage) {
	var sb, sp float64
	var rb, rp run
	for u := pg.used; u != 0; u &= u - 1 {
		i := bits.TrailingZeros64(u)
		vb, vp := float64(pg.b[i]), float64(pg.p[i])
		pg.b[i], pg.p[i] = 0, 0
		sb += vb
		sp += vp
		rb.add(a.mapping, &h.bsk, vb)
		rp.add(a.mapping, &h.psk, vp)
	}
	rb.flush(a.mapping, &h.bsk)
	rp.flush(a.mapping, &h.psk)
	if sb > 0 || sp > 0 {
		h.minutes.add(int32(pg.n), float32(sb), float32(sp))
	}
	h.folded = pg.n + 1
	pg.used = 0
	a.free = append(a.free, pg)
}

// run collects equal consecutive values (the seconds inside one long flow)
// so that they enter a sketch at once.
type run struct {
	v float64
	n int
}

func (r *run) add(m *mapping.CubicallyInterpolatedMapping, sk *rateSketch, v float64) {
	if v == r.v {
		r.n++
		return
	}
	r.flush(m, sk)
	r.v, r.n = v, 1
}

func (r *run) flush(m *mapping.CubicallyInterpolatedMapping, sk *rateSketch) {
	if r.n > 0 && r.v > 0 {
		sk.add(m, r.v, r.n)
	}
	r.n = 0
}

// foldLate puts the seconds of a late record that fall into an already
// folded minute straight into h's sketches, each as a value of its own: a
// second that already had a value is split in two (the approximation the
// Horizon documents).
func (a *HostAggregator) foldLate(h *host, pn int64, vb, vp []float64) {
	var sb, sp float64
	var rb, rp run
	for i := range vb {
		sb += vb[i]
		sp += vp[i]
		rb.add(a.mapping, &h.bsk, vb[i])
		rp.add(a.mapping, &h.psk, vp[i])
	}
	rb.flush(a.mapping, &h.bsk)
	rp.flush(a.mapping, &h.psk)
	if sb == 0 && sp == 0 {
		return
	}
	h.minutes.add(int32(pn), float32(sb), float32(sp))
}

func (h *host) rates(m *mapping.CubicallyInterpolatedMapping) Rates {
	if !h.spanSet {
		return Rates{}
	}
	n := h.lastSec - h.firstSec + 1
	return Rates{
		Start:       time.Unix(h.firstSec, 0).UTC(),
		Seconds:     n,
		BytesMean:   float64(h.seriesBytes) / float64(n),
		PacketsMean: float64(h.seriesPks) / float64(n),
		BytesP95:    h.bsk.quantile(m, n, 0.95),
		PacketsP95:  h.psk.quantile(m, n, 0.95),
	}
}

// quantile is the q-quantile of a series of n seconds whose positive values
// are in r and whose other seconds are zero, interpolated linearly between
// order statistics as pandas and numpy do by default. Each order statistic
// is within the mapping's relative accuracy, and so is the interpolation.
func (r *rateSketch) quantile(m *mapping.CubicallyInterpolatedMapping, n int64, q float64) float64 {
	cnt := 0.0
	if r.store != nil {
		r.flush()
		cnt = r.store.TotalCount()
	}
	total := max(float64(n), cnt) // late seconds may be split in two
	zeros := total - cnt
	at := func(k float64) float64 {
		if k < zeros {
			return 0
		}
		return m.Value(r.store.KeyAtRank(k - zeros))
	}
	return lerpRank(at, q*(total-1))
}

// SketchRounding is what HostAggregator's rate sketches make of one
// second's value v: the value is kept as a float32, then stands for its
// DDSketch bin under relative accuracy acc (0 when too small to index,
// as an idle second). A quantile interpolated between exact order
// statistics passed through it is the aggregator's, but where float
// rounding of the second's sum puts a value across a bin boundary.
func SketchRounding(acc float64) (func(v float64) float64, error) {
	m, err := mapping.NewCubicallyInterpolatedMapping(acc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHostConfig, err)
	}
	return func(v float64) float64 {
		v = float64(float32(v))
		if v <= m.MinIndexableValue() {
			return 0
		}
		return m.Value(m.Index(v))
	}, nil
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

// ExactQuantile is the q-quantile of a series made of the sorted values vs
// and zeros more zeros, interpolated between order statistics as pandas
// and numpy do by default.
func ExactQuantile(vs []float64, zeros int, q float64) float64 {
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
	pages             map[int64]*sitePage
	last              *sitePage
	spanSet           bool
	firstSec, lastSec int64
	bytes, pkts       uint64
}

func (s *siteSeries) page(n int64) *sitePage {
	if s.last != nil && s.last.n == n {
		return s.last
	}
	pg := s.pages[n]
	if pg == nil {
		pg = &sitePage{n: n}
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
		out.Rates.BytesP95 = ExactQuantile(bs, int(n)-len(bs), 0.95)
		out.Rates.PacketsP95 = ExactQuantile(ps, int(n)-len(ps), 0.95)
		return
	}
	out.BytesPerSecond = make([]float64, n)
	out.PacketsPerSecond = make([]float64, n)
	m0, m1 := FloorDiv(s.firstSec, pageSecs), FloorDiv(s.lastSec, pageSecs)
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
		out.BytesPerMinute[FloorDiv(s.firstSec+int64(k), pageSecs)-m0] += v
	}
	for k, v := range out.PacketsPerSecond {
		out.PacketsPerMinute[FloorDiv(s.firstSec+int64(k), pageSecs)-m0] += v
	}
	bs := appendPositive(nil, out.BytesPerSecond)
	ps := appendPositive(nil, out.PacketsPerSecond)
	slices.Sort(bs)
	slices.Sort(ps)
	out.Rates.BytesP95 = ExactQuantile(bs, int(n)-len(bs), 0.95)
	out.Rates.PacketsP95 = ExactQuantile(ps, int(n)-len(ps), 0.95)
}

func appendPositive(dst, vs []float64) []float64 {
	for _, v := range vs {
		if v > 0 {
			dst = append(dst, v)
		}
	}
	return dst
}
