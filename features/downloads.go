// Package features turns flow records into the rows the models work on,
// one file per kind of row. downloads.go extracts downloads: server→client
// bulk TCP transfers, with the two directions of a connection paired (also
// behind NAT, where only the ports match), the records an exporter's
// active timeout split merged, and the payload recovered from byte and
// packet counts by header-overhead normalisation.
package features

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"iter"
	"math/bits"
	"net/netip"
	"slices"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// Download is one bulk TCP transfer from a server to a client, assembled from
// one or more flow records.
type Download struct {
	Server     netip.Addr
	ServerPort uint16
	Client     netip.Addr
	ClientPort uint16
	Start, End time.Time

	Packets uint64 // server → client
	Bytes   uint64 // server → client, IP layer

	HasReverse bool   // the client → server direction was seen
	RevPackets uint64 // client → server
	RevBytes   uint64

	Flags    uint8 // OR of TCP flags, both directions
	Records  int   // flow records merged into this download
	Exporter netip.Addr
	// Sampling is the exporter's packet sampling interval (0 unknown, 1 none).
	Sampling uint32
}

// IPv6 reports whether the transfer ran over IPv6.
func (d *Download) IPv6() bool { return d.Server.Is6() && !d.Server.Is4In6() }

// IPv6Extra is how many more header bytes an IPv6 packet carries than an
// IPv4 one with the same TCP options (40-byte fixed header against 20).
const IPv6Extra = 20

// Header is the per-packet header size of this transfer for a path whose
// IPv4 + TCP header is hdr bytes: hdr, or hdr + IPv6Extra over IPv6.
func (d *Download) Header(hdr int) int {
	if d.IPv6() {
		return hdr + IPv6Extra
	}
	return hdr
}

// Payload is the server→client byte count less a per-packet header: the
// transport payload when hdr is the path's IPv4 + TCP header size (IPv6
// transfers are charged IPv6Extra more per packet, see Header). It is
// negative when hdr is too large for the flow.
func (d *Download) Payload(hdr int) int64 {
	return int64(d.Bytes) - int64(d.Packets)*int64(d.Header(hdr))
}

// RevPayload is the client→server byte count less the same per-packet
// header.
func (d *Download) RevPayload(hdr int) int64 {
	return int64(d.RevBytes) - int64(d.RevPackets)*int64(d.Header(hdr))
}

// Config tunes download extraction. The zero value is not useful; start from
// DefaultConfig.
type Config struct {
	// MinBytes is the smallest server→client byte count reported.
	MinBytes uint64
	// MinRatio: the server→client direction must carry at least MinRatio
	// times the bytes of the reverse direction.
	MinRatio float64
	// Gap: records of the same 5-tuple belong to one connection when they
	// are adjacent in time: they overlap, or one starts no more than Gap
	// after the other ends (exporters split long transfers at their active
	// timeout). Records farther apart, or after a record with FIN or RST,
	// are connections of their own, whatever order they arrive in.
	Gap time.Duration
	// Linger: a connection is finished when the newest record seen starts
	// more than Linger after the connection's last record ended. It bounds
	// memory: only connections active within Linger are held, and a
	// record arriving later than Linger after its neighbours no longer
	// joins them. It must be longer than Gap.
	Linger time.Duration
}

// DefaultConfig suits downloads of update packages: 16 KiB and larger,
// exporters with active timeouts of a minute or more.
func DefaultConfig() Config {
	return Config{MinBytes: 16 << 10, MinRatio: 4, Gap: 2 * time.Minute, Linger: 10 * time.Minute}
}

type endpoint struct {
	addr netip.Addr
	port uint16
}

// connKey names a connection as one exporter saw it: two exporters on a
// path each report the whole transfer, and adding their records up would
// double its bytes.
type connKey struct {
	a, b     endpoint // a < b
	exporter netip.Addr
}

// half is one direction of a connection: its counters and flags.
type half struct {
	packets uint64
	bytes   uint64
	flags   uint8
	seen    bool
}

// conn is a connection being assembled. Ten thousands are open at once on
// a busy site and millions pass in a day, so it carries no more than the
// download needs: the connection's times, not each direction's; the
// exporter in its key only.
type conn struct {
	key      connKey
	hash     uint64  // key.hash()
	dir      [2]half // dir[0]: a→b, dir[1]: b→a
	records  int
	sampling uint32
	closed   bool // a FIN or RST was seen
	start    time.Time
	end      time.Time
	next     *conn // the next open connection of the same key
	// bucket is the minute of end the connection is filed under for
	// expiry (minuteOf); gone marks one merged into another or finished.
	bucket int64
	gone   bool
}

// hash is a 64-bit hash of the key: the open connections are found by
// it (a map keyed by 64 bits costs a fraction of one keyed by three
// addresses), and a chance collision only makes two keys share a chain.
func (k connKey) hash() uint64 {
	le := binary.LittleEndian
	var kinds uint64
	for i, a := range [3]netip.Addr{k.a.addr, k.b.addr, k.exporter} {
		if a.Is4() {
			kinds |= 1 << (2 * i)
		}
		if a.IsValid() {
			kinds |= 2 << (2 * i)
		}
	}
	a, b, x := k.a.addr.As16(), k.b.addr.As16(), k.exporter.As16()
	return mum(0x243f6a8885a308d3, [][2]uint64{
		{le.Uint64(a[:8]), le.Uint64(a[8:])},
		{le.Uint64(b[:8]), le.Uint64(b[8:])},
		{le.Uint64(x[:8]), le.Uint64(x[8:])},
		{uint64(k.a.port) | uint64(k.b.port)<<16 | kinds<<32, 0},
	})
}

// mum folds pairs of words into h by 64×64→128-bit multiplications
// (wyhash's mixing) and finishes with mix64.
func mum(h uint64, ws [][2]uint64) uint64 {
	for _, w := range ws {
		hi, lo := bits.Mul64(w[0]^0xa0761d6478bd642f, w[1]^h^0xe7037ed1a0b428db)
		h = hi ^ lo
	}
	return mix64(h)
}

func lessEP(x, y endpoint) bool {
	if c := x.addr.Compare(y.addr); c != 0 {
		return c < 0
	}
	return x.port < y.port
}

func (h *half) add(pk, by uint64, flags uint8) {
	h.seen = true
	h.packets += pk
	h.bytes += by
	h.flags |= flags
}

// Extractor assembles downloads from a stream of flow records. Records should
// arrive roughly in time order (as they do within and across rotated files);
// memory is bounded by the connections active within Config.Linger. The
// downloads do not depend on the order in which records arrive within
// Linger of each other. A record identical to one of the last 2×Linger
// (same exporter, endpoints, times and counters), merged into an open
// connection or one already finished, is dropped and counted
// (Duplicates).
type Extractor struct {
	cfg  Config
	open map[uint64]*conn // per key hash, the first of the connections apart in time (of any key with that hash)
	// seen holds a digest of every record of the last 2×Linger (by the
	// records' time): identical records are recognised by their digests
	// (64 bits: a chance collision among a window's records is far less
	// likely than a bit error on disk).
	seen  digestSets
	water time.Time
	swept time.Time // water mark of the last sweep for idle connections
	out   []Download
	dups  uint64

	// Open connections are filed by the minute their end falls in, so a
	// sweep visits only the minutes it expires, not everything held.
	ends minuteFiles[*conn]
}

// NewExtractor returns an extractor with the given configuration.
func NewExtractor(cfg Config) *Extractor {
	return &Extractor{cfg: cfg, open: map[uint64]*conn{}, seen: digestSets{sets: map[int64]map[uint64]struct{}{}}}
}

// digestSets are records' digests, one set per minute of the records'
// end: identical records end in the same minute, so a record is looked
// up in one set, and a minute's digests are forgotten together.
type digestSets struct {
	sets map[int64]map[uint64]struct{}
	keys minuteHeap // the minutes in sets
	// last is the set of minute lastMinute, the one the latest record
	// went to (records come roughly in the order of their end), or nil.
	last       map[uint64]struct{}
	lastMinute int64
}

// insert adds digest h to minute's set; it reports false when h was
// there already.
func (s *digestSets) insert(minute int64, h uint64) bool {
	set := s.last
	if set == nil || minute != s.lastMinute {
		set = s.sets[minute]
		if set == nil {
			// Sized as the latest minute's: a set grown record by
			// record would allocate it about twice over.
			set = make(map[uint64]struct{}, len(s.last))
			s.sets[minute] = set
			heap.Push(&s.keys, minute)
		}
		s.last, s.lastMinute = set, minute
	}
	n := len(set)
	set[h] = struct{}{}
	return len(set) > n
}

// expire forgets the digests of the minutes before before's.
func (s *digestSets) expire(before time.Time) {
	last := minuteOf(before)
	for len(s.keys) > 0 && s.keys[0] < last {
		m := heap.Pop(&s.keys).(int64)
		delete(s.sets, m)
		if m == s.lastMinute {
			s.last = nil
		}
	}
}

// digest is a 64-bit digest of a flow record: its connection (by the
// key's hash), direction, flags, times and counters.
func digest(key uint64, dir uint8, f *datasets.Flow, start, end int64) uint64 {
	return mum(key, [][2]uint64{
		{uint64(dir) | uint64(f.TCPFlags)<<8 | uint64(b2u(f.HasReverse))<<16, uint64(f.SamplingRate)},
		{uint64(start), uint64(end)},
		{f.Packets, f.Bytes},
		{f.RevPackets, f.RevBytes},
	})
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Duplicates is the number of flow records dropped as copies of records
// read before.
func (e *Extractor) Duplicates() uint64 { return e.dups }

// adjacent reports whether a record spanning [start, end] with the given
// flags may join c: they overlap or lie within Gap of each other, and
// the earlier of the two did not end the connection (FIN or RST) before
// the later began.
func (e *Extractor) adjacent(c *conn, start, end time.Time, closed bool) bool {
	switch {
	case start.After(c.end):
		return !c.closed && !start.After(c.end.Add(e.cfg.Gap))
	case end.Before(c.start):
		return !closed && !c.start.After(end.Add(e.cfg.Gap))
	}
	return true
}

// merge adds o's records to c.
func (c *conn) merge(o *conn) {
	for d := range c.dir {
		if h := o.dir[d]; h.seen {
			c.dir[d].add(h.packets, h.bytes, h.flags)
		}
	}
	c.records += o.records
	c.closed = c.closed || o.closed
	if o.start.Before(c.start) {
		c.start = o.start
	}
	if o.end.After(c.end) {
		c.end = o.end
	}
}

// Add feeds one flow record. Downloads completed by it (or by the time it
// shows has passed) become available from Drain.
func (e *Extractor) Add(f *datasets.Flow) {
	if f.Proto != datasets.ProtoTCP {
		return
	}
	src, dst := endpoint{f.SrcAddr, f.SrcPort}, endpoint{f.DstAddr, f.DstPort}
	k, d := connKey{src, dst, f.Exporter}, 0
	if lessEP(dst, src) {
		k, d = connKey{dst, src, f.Exporter}, 1
	}
	start, end := f.Start, f.End
	if end.Before(start) {
		// Some exporters stamp records with the end before the start
		// (softflowd's IPFIX export from a capture file); the span is
		// what matters for pairing and merging.
		start, end = end, start
	}
	kh := k.hash()
	if !e.seen.insert(minuteOf(end), digest(kh, uint8(d), f, start.UnixNano(), end.UnixNano())) {
		e.dups++
		return
	}
	closes := f.TCPFlags&(datasets.FlagFIN|datasets.FlagRST) != 0
	// The record joins every open connection of its 5-tuple it is
	// adjacent to; those it bridges become one.
	var c *conn
	for o, prev := e.open[kh], (*conn)(nil); o != nil; o = o.next {
		switch {
		case o.key != k || !e.adjacent(o, start, end, closes):
			prev = o
		case c == nil:
			c, prev = o, o
		default:
			c.merge(o)
			o.gone = true
			prev.next = o.next
		}
	}
	if c == nil {
		c = &conn{key: k, hash: kh, sampling: f.SamplingRate, start: start, end: end, next: e.open[kh], bucket: minuteOf(end)}
		e.open[kh] = c
		e.ends.add(c.bucket, c)
	}
	c.records++
	c.dir[d].add(f.Packets, f.Bytes, f.TCPFlags)
	if f.HasReverse {
		c.dir[1-d].add(f.RevPackets, f.RevBytes, f.TCPFlags)
	}
	if closes {
		c.closed = true
	}
	if start.Before(c.start) {
		c.start = start
	}
	if end.After(c.end) {
		c.end = end
	}
	if b := minuteOf(c.end); b != c.bucket {
		c.bucket = b
		e.ends.add(b, c)
	}
	if start.After(e.water) {
		e.water = start
		// Sweeping walks every open connection, so sweep only when the
		// records' time has moved on by a tenth of Linger: the cost per
		// record stays constant however many connections are open, and a
		// connection is finished at most Linger/10 later than it could be.
		if e.water.Sub(e.swept) >= e.cfg.Linger/10 {
			e.swept = e.water
			e.expire(false)
		}
	}
}

// expire finishes connections idle for longer than Linger (all when final)
// and forgets the records older than 2×Linger.
func (e *Extractor) expire(final bool) {
	horizon := e.water.Add(-2 * e.cfg.Linger)
	e.seen.expire(horizon)
	var done []*conn
	if final {
		for _, c := range e.open {
			for ; c != nil; c = c.next {
				done = append(done, c)
			}
		}
		e.ends = minuteFiles[*conn]{}
	} else {
		cutoff := e.water.Add(-e.cfg.Linger)
		e.ends.expire(cutoff, true, func(minute int64, c *conn) bool {
			switch {
			case c.gone:
				return true // merged into another, or finished
			case c.bucket != minute:
				return true // filed again under a later minute
			case c.end.Before(cutoff):
				done = append(done, c)
				return true
			}
			return false // ends in the cutoff's minute, after it
		})
	}
	if len(done) == 0 {
		return
	}
	slices.SortFunc(done, func(x, y *conn) int {
		if c := x.start.Compare(y.start); c != 0 {
			return c
		}
		return cmpKey(x.key, y.key)
	})
	done = e.pairNAT(done)
	for _, c := range done {
		e.finish(c)
	}
}

// minuteOf is the minute t falls in, as minutes since the Unix epoch.
func minuteOf(t time.Time) int64 {
	m := t.Unix() / 60
	if t.Unix() < 0 && t.Unix()%60 != 0 {
		m--
	}
	return m
}

// minuteFiles files values under minutes, to visit the old ones first.
type minuteFiles[T any] struct {
	files map[int64][]T
	keys  []int64 // a min-heap of the minutes in files
}

func (m *minuteFiles[T]) add(minute int64, v T) {
	if m.files == nil {
		m.files = map[int64][]T{}
	}
	vs, ok := m.files[minute]
	if !ok {
		heap.Push((*minuteHeap)(&m.keys), minute)
	}
	m.files[minute] = append(vs, v)
}

// expire visits the values filed under minutes before before's (and, when
// boundary, under before's own minute too); drop reports whether a value
// is done with, and a minute whose values all are is forgotten.
func (m *minuteFiles[T]) expire(before time.Time, boundary bool, drop func(minute int64, v T) bool) {
	last := minuteOf(before)
	for len(m.keys) > 0 && (m.keys[0] < last || (boundary && m.keys[0] == last)) {
		minute := m.keys[0]
		vs := m.files[minute]
		keep := vs[:0]
		for _, v := range vs {
			if !drop(minute, v) {
				keep = append(keep, v)
			}
		}
		if len(keep) > 0 {
			// Only the boundary minute keeps values; it is visited
			// again at the next sweep.
			clear(vs[len(keep):])
			m.files[minute] = keep
			return
		}
		delete(m.files, minute)
		heap.Pop((*minuteHeap)(&m.keys))
	}
}

type minuteHeap []int64

func (h minuteHeap) Len() int           { return len(h) }
func (h minuteHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h minuteHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minuteHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *minuteHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func cmpKey(x, y connKey) int {
	for _, p := range [][2]endpoint{{x.a, y.a}, {x.b, y.b}} {
		if c := p[0].addr.Compare(p[1].addr); c != 0 {
			return c
		}
		if c := cmp.Compare(p[0].port, p[1].port); c != 0 {
			return c
		}
	}
	return x.exporter.Compare(y.exporter)
}

// pairNAT joins one-directional connections whose other direction was seen
// with a different client address (a NAT between the observation points):
// the server endpoint and the client port match and the times overlap.
func (e *Extractor) pairNAT(cs []*conn) []*conn {
	type natKey struct {
		server     endpoint
		clientPort uint16
	}
	oneWay := map[natKey]*conn{}
	keep := cs[:0]
	for _, c := range cs {
		if c.dir[0].seen == c.dir[1].seen {
			keep = append(keep, c)
			continue
		}
		// The sender of the single direction is the server when it
		// carries the bulk; with one direction we cannot tell, so try
		// both roles.
		var merged bool
		for _, role := range []int{0, 1} {
			srv, cli := c.key.a, c.key.b
			if role == 1 {
				srv, cli = c.key.b, c.key.a
			}
			nk := natKey{srv, cli.port}
			if o := oneWay[nk]; o != nil && o.dir[0].seen != o.dir[1].seen && overlaps(o, c) {
				mergeNAT(o, c, srv)
				merged = true
				break
			}
		}
		if merged {
			e.remove(c)
			continue
		}
		for _, role := range []int{0, 1} {
			srv, cli := c.key.a, c.key.b
			if role == 1 {
				srv, cli = c.key.b, c.key.a
			}
			nk := natKey{srv, cli.port}
			if oneWay[nk] == nil {
				oneWay[nk] = c
			}
		}
		keep = append(keep, c)
	}
	return keep
}

func overlaps(x, y *conn) bool {
	slack := time.Second
	return !x.start.After(y.end.Add(slack)) && !y.start.After(x.end.Add(slack))
}

// mergeNAT adds y's single direction to x as x's missing direction. srv is
// the server endpoint shared by both.
func mergeNAT(x, y *conn, srv endpoint) {
	yd := 0
	if !y.dir[0].seen {
		yd = 1
	}
	// Direction of y's data relative to the server: from server when the
	// sender endpoint is srv.
	ySender := y.key.a
	if yd == 1 {
		ySender = y.key.b
	}
	fromServer := ySender == srv
	xFromServerDir := 0 // index in x whose sender is srv
	if x.key.b == srv {
		xFromServerDir = 1
	}
	target := xFromServerDir
	if !fromServer {
		target = 1 - xFromServerDir
	}
	h := y.dir[yd]
	x.dir[target].add(h.packets, h.bytes, h.flags)
	x.records += y.records
	if y.start.Before(x.start) {
		x.start = y.start
	}
	if y.end.After(x.end) {
		x.end = y.end
	}
}

// remove takes c out of the open connections.
func (e *Extractor) remove(c *conn) {
	c.gone = true
	first := e.open[c.hash]
	if first == c {
		if c.next == nil {
			delete(e.open, c.hash)
		} else {
			e.open[c.hash] = c.next
		}
		return
	}
	for o := first; o != nil; o = o.next {
		if o.next == c {
			o.next = c.next
			return
		}
	}
}

func (e *Extractor) finish(c *conn) {
	e.remove(c)
	if d, ok := e.download(c); ok {
		e.out = append(e.out, d)
	}
}

func (e *Extractor) download(c *conn) (Download, bool) {
	s := 0 // direction carrying the bulk
	if c.dir[1].bytes > c.dir[0].bytes {
		s = 1
	}
	fwd, rev := c.dir[s], c.dir[1-s]
	if fwd.bytes < e.cfg.MinBytes || float64(fwd.bytes) < e.cfg.MinRatio*float64(rev.bytes) {
		return Download{}, false
	}
	srv, cli := c.key.a, c.key.b
	if s == 1 {
		srv, cli = c.key.b, c.key.a
	}
	return Download{
		Server: srv.addr, ServerPort: srv.port, Client: cli.addr, ClientPort: cli.port,
		Start: c.start, End: c.end,
		Packets: fwd.packets, Bytes: fwd.bytes,
		HasReverse: rev.seen, RevPackets: rev.packets, RevBytes: rev.bytes,
		Flags: fwd.flags | rev.flags, Records: c.records,
		Exporter: c.key.exporter, Sampling: c.sampling,
	}, true
}

// Drain returns the downloads completed so far, in start order, and forgets
// them.
func (e *Extractor) Drain() []Download {
	out := e.out
	e.out = nil
	return out
}

// Flush finishes every open connection (end of input) and returns the
// remaining downloads.
func (e *Extractor) Flush() []Download {
	e.expire(true)
	return e.Drain()
}

// Downloads extracts downloads from a flow stream. The first error of the
// stream (or a cancelled ctx) ends the iteration with that error; downloads
// completed before it are yielded first.
func Downloads(ctx context.Context, cfg Config, flows iter.Seq2[datasets.Flow, error]) iter.Seq2[Download, error] {
	return func(yield func(Download, error) bool) {
		e := NewExtractor(cfg)
		n := 0
		for f, err := range flows {
			if err != nil {
				for _, d := range e.Flush() {
					if !yield(d, nil) {
						return
					}
				}
				yield(Download{}, err)
				return
			}
			e.Add(&f)
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					yield(Download{}, err)
					return
				}
			}
			for _, d := range e.Drain() {
				if !yield(d, nil) {
					return
				}
			}
		}
		for _, d := range e.Flush() {
			if !yield(d, nil) {
				return
			}
		}
	}
}

// ConnectionHalf is one direction of a Connection.
type ConnectionHalf struct {
	Seen           bool // a record reported this direction
	Packets, Bytes uint64
	Flags          uint8 // OR of the TCP flags of the records that reported it
}

// Connection is a TCP connection assembled outside an Extractor (by a
// database query, say) the way the Extractor assembles its own: the
// records of one exporter's 5-tuple merged while adjacent within
// Config.Gap and not closed before, duplicates dropped.
type Connection struct {
	A, B     netip.AddrPort // either order
	Exporter netip.Addr
	// Dir[0] is A → B, Dir[1] B → A.
	Dir        [2]ConnectionHalf
	Records    int
	Sampling   uint32 // of the connection's first record
	Start, End time.Time
}

// DownloadsOf finishes assembled connections as the Extractor finishes
// its own: one-way connections whose other direction was seen with
// another client address (NAT) are paired, and the transfers of MinBytes
// or more with MinRatio are returned as downloads, in start order.
func DownloadsOf(cfg Config, cs []Connection) []Download {
	e := &Extractor{cfg: cfg, open: map[uint64]*conn{}}
	done := make([]*conn, 0, len(cs))
	for _, x := range cs {
		a, b := endpoint{x.A.Addr(), x.A.Port()}, endpoint{x.B.Addr(), x.B.Port()}
		dirs := x.Dir
		if lessEP(b, a) {
			a, b = b, a
			dirs[0], dirs[1] = dirs[1], dirs[0]
		}
		c := &conn{key: connKey{a, b, x.Exporter}, records: x.Records, sampling: x.Sampling, start: x.Start, end: x.End}
		c.hash = c.key.hash()
		for d, h := range dirs {
			if h.Seen {
				c.dir[d].add(h.Packets, h.Bytes, h.Flags)
			}
		}
		done = append(done, c)
	}
	slices.SortFunc(done, func(x, y *conn) int {
		if c := x.start.Compare(y.start); c != 0 {
			return c
		}
		return cmpKey(x.key, y.key)
	})
	var out []Download
	for _, c := range e.pairNAT(done) {
		if d, ok := e.download(c); ok {
			out = append(out, d)
		}
	}
	return out
}
