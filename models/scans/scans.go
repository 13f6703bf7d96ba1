// Package scans finds port scans and address sweeps in flow records with
// threshold random walk (TRW; Jung, Paxson, Berger and Balakrishnan, "Fast
// portscan detection using sequential hypothesis testing", IEEE S&P 2004),
// the sequential test behind SiLK's rwscan, rather than a fixed count of
// destinations.
//
// For each source, every first-contact connection attempt (to a
// destination it had not tried before) is an observation: a success when
// the destination accepted, a failure when it refused or never answered.
// A benign host's attempts succeed with probability Theta0, a scanner's
// with Theta1 < Theta0. The walk multiplies the likelihood ratio by
// Theta1/Theta0 for a success and (1-Theta1)/(1-Theta0) for a failure; it
// decides "scanner" when the ratio reaches Eta1 = (1-Beta)/Alpha and
// "benign" when it falls to Eta0 = Beta/(1-Alpha), where Alpha bounds the
// share of benign sources called scanners and Beta the share of scanners
// missed (Wald's thresholds; Jung et al.'s PD is 1-Beta, PF is Alpha).
// With Jung et al.'s values (Theta0 0.8, Theta1 0.2, Alpha = Beta = 0.01)
// four failures in a row make a scanner and four successes a benign host.
// A benign decision starts the walk afresh (and forgets the destinations
// seen), so a host that turns to scanning later is still caught.
// A source and destination pair's vertical walk starts at its first failed
// first contact, so that pairs that only ever succeed (a client and its
// server) cost no memory; successes before it would only have led towards
// benign.
//
// Two walks run side by side: horizontal, per source, over distinct
// destination addresses (a sweep: one source to many hosts, usually on one
// port); vertical, per source and destination, over distinct destination
// ports (a port scan of one host).
//
// What counts as an attempt and as success, from flow records:
//
//   - TCP: a record with SYN and without ACK is an attempt that, on its
//     own, failed; a record with SYN and ACK is an accepted connection:
//     from a well-known port (below 1024) to a higher one it is the
//     server's side, and the other side's attempt succeeded (Jung et al.
//     count a SYN-ACK as success); otherwise it is the client's attempt,
//     a success. Records without SYN or ACK but with FIN, or no
//     flags at all, are stealth probes (FIN, NULL, Xmas scans) that failed.
//     A bidirectional record (Argus) with SYN is an attempt that succeeded
//     when its initiator sent at least three packets and got an answer: a
//     probe answered with SYN-ACK and reset (nmap's half-open scan) is a
//     failure here.
//   - UDP: a record from a well-known port to a higher one answers the
//     other side's attempt, which succeeded; any other record is an
//     attempt to its destination port, a success when an answer comes
//     back (or, bidirectional, when the record has any). Between two high
//     ports (or equal ones) either side may have begun, and the record
//     also answers the other side's attempt.
//   - ICMP: an echo request is an attempt to its destination, a success
//     when an echo reply comes back.
//
// Attempts wait Horizon (records arrive out of order by up to the
// exporter's active timeout) for their answer, then join the walks in time
// order. Memory grows with the attempts within the horizon and the
// destinations of sources not yet decided.
package scans

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/internal/minutelists"
)

// Config holds the test's parameters. Start from DefaultConfig.
type Config struct {
	// Theta0 is the probability that a benign host's first-contact
	// attempt succeeds, Theta1 a scanner's (Theta1 < Theta0).
	Theta0, Theta1 float64
	// Alpha is the highest share of benign sources to call scanners
	// (false positives), Beta the highest share of scanners to miss.
	Alpha, Beta float64
	// Horizon is how long an attempt waits for its answer.
	Horizon time.Duration
	// TopPorts and TopTargets are how many ports and destinations an
	// alarm names.
	TopPorts, TopTargets int
	// MaxContacts bounds the destinations (or ports) remembered per
	// decided scanner; beyond it they are counted as new.
	MaxContacts int
}

// DefaultConfig has Jung et al.'s parameters: Theta0 0.8, Theta1 0.2,
// Alpha 0.01, Beta 0.01; a 15-minute horizon.
func DefaultConfig() Config {
	return Config{Theta0: 0.8, Theta1: 0.2, Alpha: 0.01, Beta: 0.01, Horizon: 15 * time.Minute,
		TopPorts: 5, TopTargets: 5, MaxContacts: 1 << 16}
}

// ErrConfig is wrapped by New's errors.
var ErrConfig = errors.New("invalid scan detector configuration")

// Kind is a scan's shape.
type Kind uint8

// The kinds.
const (
	Horizontal Kind = iota // one source to many destinations
	Vertical               // one source to many ports of one destination
)

func (k Kind) String() string {
	if k == Horizontal {
		return "horizontal-scan"
	}
	return "vertical-scan"
}

// PortCount is a destination port and the first contacts made to it.
type PortCount struct {
	Proto uint8
	Port  uint16 // 0 for ICMP
	Count int
}

// Alarm is a source the walk decided is scanning.
type Alarm struct {
	Kind   Kind
	Source netip.Addr
	// Target is the destination of a vertical scan.
	Target netip.Addr
	// Start is the source's first attempt of the walk, Decided the attempt
	// that crossed the threshold, End its last first contact.
	Start, Decided, End time.Time
	// Contacts are the first contacts (destinations, or ports of Target)
	// from Start to End; DecidedAfter how many it took to decide.
	Contacts, DecidedAfter int
	Successes, Failures    int
	// Ratio is the likelihood ratio when the walk decided.
	Ratio float64
	// Ports are the ports of the first contacts, most first; PortLow and
	// PortHigh the lowest and highest.
	Ports             []PortCount
	PortLow, PortHigh uint16
	// Targets are some destinations of a horizontal scan (the first).
	Targets []netip.Addr
}

// Rate is first contacts per second between Start and End.
func (a *Alarm) Rate() float64 {
	d := a.End.Sub(a.Start).Seconds()
	if d <= 0 {
		return float64(a.Contacts)
	}
	return float64(a.Contacts) / d
}

// key4 is an IPv4 attemptKey packed: source and destination in a, the
// protocol and port in b. Hashing it is several times cheaper than
// hashing two netip.Addr; b is 64 bits wide so that the struct has no
// padding and a map hashes and compares its 16 bytes at once.
type key4 struct {
	a uint64
	b uint64
}

func (k attemptKey) packed() (key4, bool) {
	if !k.src.Is4() || !k.dst.Is4() {
		return key4{}, false
	}
	s, d := k.src.As4(), k.dst.As4()
	return key4{
		a: uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32 |
			uint64(d[0])<<24 | uint64(d[1])<<16 | uint64(d[2])<<8 | uint64(d[3]),
		b: uint64(k.proto)<<16 | uint64(k.port),
	}, true
}

// attemptKey identifies a connection attempt.
type attemptKey struct {
	src, dst netip.Addr
	proto    uint8
	port     uint16
}

type attempt struct {
	attemptKey
	first   int64 // ns
	success bool
	real    bool // an attempt was seen, not only an answer to one
	swept   bool // handed to the walks (or dropped) and out of the map
}

// walk is one sequential test.
type walk struct {
	logRatio   float64
	seenAddr   smallSet[netip.Addr] // destinations contacted (horizontal)
	seenPort   smallSet[PortCount]  // ports contacted (vertical)
	start, end int64
	contacts   int
	succ, fail int
	decided    *Alarm
	ports      smallCount
	lo, hi     uint16
	targets    []netip.Addr
}

type pairKey struct{ src, dst netip.Addr }

// smallSet is a set that keeps its first few members in place: most
// walks decide (and start afresh) after a handful of contacts, before a
// map would pay for itself.
type smallSet[K comparable] struct {
	few  [8]K
	n    int
	many map[K]struct{}
}

func (s *smallSet[K]) has(k K) bool {
	if s.many != nil {
		_, ok := s.many[k]
		return ok
	}
	for i := range s.n {
		if s.few[i] == k {
			return true
		}
	}
	return false
}

func (s *smallSet[K]) add(k K) {
	if s.many == nil {
		if s.n < len(s.few) {
			s.few[s.n] = k
			s.n++
			return
		}
		s.many = make(map[K]struct{}, 2*len(s.few))
		for _, x := range s.few {
			s.many[x] = struct{}{}
		}
	}
	s.many[k] = struct{}{}
}

func (s *smallSet[K]) len() int {
	if s.many != nil {
		return len(s.many)
	}
	return s.n
}

// smallCount counts contacts by port, the first few ports in place.
type smallCount struct {
	few  [8]PortCount // Count is the count
	n    int
	many map[PortCount]int
}

func (c *smallCount) len() int {
	if c.many != nil {
		return len(c.many)
	}
	return c.n
}

// inc counts one more contact to pc (whose Count is 0).
func (c *smallCount) inc(pc PortCount) {
	if c.many == nil {
		for i := range c.n {
			if c.few[i].Proto == pc.Proto && c.few[i].Port == pc.Port {
				c.few[i].Count++
				return
			}
		}
		if c.n < len(c.few) {
			pc.Count = 1
			c.few[c.n] = pc
			c.n++
			return
		}
		c.many = make(map[PortCount]int, 2*len(c.few))
		for _, x := range c.few {
			n := x.Count
			x.Count = 0
			c.many[x] = n
		}
	}
	c.many[pc]++
}

// appendTo appends the counts to out, in no particular order.
func (c *smallCount) appendTo(out []PortCount) []PortCount {
	if c.many == nil {
		return append(out, c.few[:c.n]...)
	}
	for pc, n := range c.many {
		pc.Count = n
		out = append(out, pc)
	}
	return out
}

// Detector runs the walks over a stream of flows. It is not safe for
// concurrent use.
type Detector struct {
	cfg              Config
	up, down         float64           // log ratio steps for a failure, a success
	eta0, eta1       float64           // log thresholds
	attempts4        map[key4]*attempt // IPv4 attempts, by a packed key
	attempts         map[attemptKey]*attempt
	deleted          int                          // attempts deleted since the maps were last rebuilt
	due              *minutelists.Lists[*attempt] // attempts by the minute they were first noted
	slab             []attempt                    // where new attempts are taken from
	ready            []*attempt                   // a sweep's attempts, reused
	horizontal       walkTable                    // by source
	vertical         walkTable                    // by source and destination
	free             []*walk                      // walks let go, to reuse
	water, sweptUpTo int64
	alarms           []*Alarm
}

// New checks cfg and returns a detector.
func New(cfg Config) (*Detector, error) {
	if !(0 < cfg.Theta1 && cfg.Theta1 < cfg.Theta0 && cfg.Theta0 < 1) {
		return nil, fmt.Errorf("%w: want 0 < theta1 %g < theta0 %g < 1", ErrConfig, cfg.Theta1, cfg.Theta0)
	}
	if !(0 < cfg.Alpha && cfg.Alpha < 0.5 && 0 < cfg.Beta && cfg.Beta < 0.5) {
		return nil, fmt.Errorf("%w: alpha %g, beta %g (each in (0, 0.5))", ErrConfig, cfg.Alpha, cfg.Beta)
	}
	if cfg.Horizon < time.Second || cfg.TopPorts < 1 || cfg.TopTargets < 0 || cfg.MaxContacts < 1 {
		return nil, fmt.Errorf("%w: %+v", ErrConfig, cfg)
	}
	return &Detector{
		cfg:        cfg,
		up:         math.Log((1 - cfg.Theta1) / (1 - cfg.Theta0)),
		down:       math.Log(cfg.Theta1 / cfg.Theta0),
		eta1:       math.Log((1 - cfg.Beta) / cfg.Alpha),
		eta0:       math.Log(cfg.Beta / (1 - cfg.Alpha)),
		attempts4:  map[key4]*attempt{},
		attempts:   map[attemptKey]*attempt{},
		due:        minutelists.New[*attempt](),
		horizontal: newWalkTable(),
		vertical:   newWalkTable(),
		sweptUpTo:  math.MinInt64,
	}, nil
}

// Thresholds are the walk's decision thresholds Eta0 and Eta1 on the
// likelihood ratio.
func (d *Detector) Thresholds() (eta0, eta1 float64) { return math.Exp(d.eta0), math.Exp(d.eta1) }

// attempt records an attempt (real) or an answer to one (success only).
func (d *Detector) note(k attemptKey, start int64, real, success bool) {
	k4, is4 := k.packed()
	var a *attempt
	if is4 {
		a = d.attempts4[k4]
	} else {
		a = d.attempts[k]
	}
	if a == nil {
		if len(d.slab) == 0 {
			// Attempts are taken from blocks: one allocation for many,
			// and a block is let go when its attempts are swept.
			d.slab = make([]attempt, 256)
		}
		a = &d.slab[0]
		d.slab = d.slab[1:]
		*a = attempt{attemptKey: k, first: start}
		if is4 {
			d.attempts4[k4] = a
		} else {
			d.attempts[k] = a
		}
		d.due.Add(start/int64(time.Minute), a)
	}
	if real {
		if !a.real || start < a.first {
			a.first = start
		}
		a.real = true
	}
	if success {
		a.success = true
	}
}

// Add counts one flow record.
func (d *Detector) Add(f *datasets.Flow) {
	start := f.Start.UnixNano()
	if e := f.End.UnixNano(); e < start {
		start = e // IPFIX with first and last swapped
	}
	if start > d.water {
		d.water = start
		if cut := d.water - int64(d.cfg.Horizon); cut > d.sweptUpTo+int64(time.Minute) {
			d.sweep(cut)
		}
	}
	fwd := attemptKey{f.SrcAddr, f.DstAddr, f.Proto, f.DstPort}
	rev := attemptKey{f.DstAddr, f.SrcAddr, f.Proto, f.SrcPort}
	const syn, ack, fin, rst = datasets.FlagSYN, datasets.FlagACK, datasets.FlagFIN, datasets.FlagRST
	fl := f.TCPFlags
	switch f.Proto {
	case datasets.ProtoTCP:
		switch {
		case f.HasReverse:
			if fl&syn != 0 {
				d.note(fwd, start, true, f.RevPackets > 0 && f.Packets >= 3 && fl&ack != 0)
			}
		case fl&syn != 0 && fl&ack == 0:
			d.note(fwd, start, true, false)
		case fl&syn != 0 && answers(f):
			// The server's side of an accepted connection: the other
			// side's attempt succeeded.
			d.note(rev, start, false, true)
		case fl&syn != 0:
			// The client's side of an accepted connection.
			d.note(fwd, start, true, true)
		case fl&(ack|rst) == 0:
			d.note(fwd, start, true, false) // FIN, NULL or Xmas probe
		}
	case datasets.ProtoUDP:
		if f.HasReverse {
			d.note(fwd, start, true, f.RevPackets > 0)
		} else if answers(f) {
			d.note(rev, start, false, true)
		} else {
			d.note(fwd, start, true, false)
			if f.SrcPort == f.DstPort || f.SrcPort >= 1024 && f.DstPort >= 1024 {
				d.note(rev, start, false, true) // either side may have begun
			}
		}
	case datasets.ProtoICMP, datasets.ProtoICMPv6:
		typ := uint8(f.DstPort >> 8)
		req, reply := uint8(8), uint8(0)
		if f.Proto == datasets.ProtoICMPv6 {
			req, reply = 128, 129
		}
		switch {
		case typ == req && f.HasReverse:
			d.note(attemptKey{f.SrcAddr, f.DstAddr, f.Proto, 0}, start, true, f.RevPackets > 0)
		case typ == req:
			d.note(attemptKey{f.SrcAddr, f.DstAddr, f.Proto, 0}, start, true, false)
		case typ == reply:
			d.note(attemptKey{f.DstAddr, f.SrcAddr, f.Proto, 0}, start, false, true)
		}
	}
}

// AddBatch counts every flow of a batch.
func (d *Detector) AddBatch(flows []datasets.Flow) {
	for i := range flows {
		d.Add(&flows[i])
	}
}

// answers reports whether a unidirectional record is a server's answer:
// from a well-known port (below 1024) to a higher one. Its flags cannot
// tell (both sides of an accepted TCP connection send SYN and ACK).
func answers(f *datasets.Flow) bool {
	return f.SrcPort < 1024 && f.SrcPort < f.DstPort
}

// sweep feeds the attempts that started at or before cut to the walks, in
// time order.
func (d *Detector) sweep(cut int64) {
	d.sweptUpTo = cut
	ready := d.ready[:0]
	d.due.Sweep(features.FloorDiv(cut, int64(time.Minute)), func(ks []*attempt) []*attempt {
		keep := ks[:0] // in place
		for _, a := range ks {
			switch {
			case a.swept:
			case a.first <= cut:
				if a.real {
					ready = append(ready, a)
				}
				a.swept = true
				if k4, ok := a.attemptKey.packed(); ok {
					delete(d.attempts4, k4)
				} else {
					delete(d.attempts, a.attemptKey)
				}
				d.deleted++
			default:
				keep = append(keep, a)
			}
		}
		return keep
	})
	if d.deleted > 2*(len(d.attempts4)+len(d.attempts))+1024 {
		// Deleted slots slow a map's lookups until it is rebuilt.
		d.attempts4 = maps.Clone(d.attempts4)
		d.attempts = maps.Clone(d.attempts)
		d.deleted = 0
	}
	slices.SortFunc(ready, func(x, y *attempt) int {
		if x.first != y.first {
			return cmp.Compare(x.first, y.first)
		}
		return cmp.Or(x.src.Compare(y.src), x.dst.Compare(y.dst), cmp.Compare(x.proto, y.proto), cmp.Compare(x.port, y.port))
	})
	for _, a := range ready {
		hk := pairKey{src: a.src}
		h := d.horizontal.get(hk)
		if h == nil {
			h = d.newWalk()
			d.horizontal.put(hk, h)
		}
		d.step(h, Horizontal, a)
		pk := pairKey{a.src, a.dst}
		v := d.vertical.get(pk)
		if v == nil {
			if a.success {
				// A pair's walk starts at its first failure: successes
				// before it only lead towards benign, and most pairs
				// (a client and its server) never fail.
				if h.contacts == 0 {
					d.horizontal.delete(hk)
					d.release(h)
				}
				continue
			}
			v = d.newWalk()
			d.vertical.put(pk, v)
		}
		d.step(v, Vertical, a)
		if v.contacts == 0 {
			d.vertical.delete(pk)
			d.release(v)
		}
		if h.contacts == 0 {
			d.horizontal.delete(hk)
			d.release(h)
		}
	}
	clear(ready)
	d.ready = ready[:0]
}

// walkTable holds walks by a pair of addresses: pairs of IPv4 addresses
// by a packed key, which hashes several times faster than two netip.Addr.
type walkTable struct {
	w4 map[uint64]*walk
	w  map[pairKey]*walk
}

func newWalkTable() walkTable {
	return walkTable{w4: map[uint64]*walk{}, w: map[pairKey]*walk{}}
}

// pack4 packs a pair of IPv4 addresses, the second one possibly unset
// (as in the horizontal table, whose keys all lack it), into 64 bits;
// false for others.
func pack4(k pairKey) (uint64, bool) {
	if !k.src.Is4() {
		return 0, false
	}
	s := k.src.As4()
	x := uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32
	switch {
	case !k.dst.IsValid():
		return x, true
	case k.dst.Is4():
		d := k.dst.As4()
		return x | s4(d), true
	}
	return 0, false
}

func s4(a [4]byte) uint64 {
	return uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
}

func (t *walkTable) get(k pairKey) *walk {
	if x, ok := pack4(k); ok {
		return t.w4[x]
	}
	return t.w[k]
}

func (t *walkTable) put(k pairKey, w *walk) {
	if x, ok := pack4(k); ok {
		t.w4[x] = w
		return
	}
	t.w[k] = w
}

func (t *walkTable) delete(k pairKey) {
	if x, ok := pack4(k); ok {
		delete(t.w4, x)
		return
	}
	delete(t.w, k)
}

// each calls fn for every walk, in no particular order.
func (t *walkTable) each(fn func(*walk)) {
	for _, w := range t.w4 {
		fn(w)
	}
	for _, w := range t.w {
		fn(w)
	}
}

// newWalk returns an empty walk, one let go earlier when there is one.
func (d *Detector) newWalk() *walk {
	if n := len(d.free); n > 0 {
		w := d.free[n-1]
		d.free = d.free[:n-1]
		return w
	}
	return &walk{}
}

// maxFree bounds the walks kept for reuse.
const maxFree = 1 << 12

// release keeps an empty walk for reuse.
func (d *Detector) release(w *walk) {
	if len(d.free) < maxFree {
		d.free = append(d.free, w)
	}
}

// reset empties a walk that has raised no alarm, keeping the memory of
// its list of targets.
func (w *walk) reset() {
	t := w.targets[:0]
	*w = walk{}
	w.targets = t
}

// step adds one attempt to a walk: to a horizontal walk when its
// destination is contacted first, to a vertical one when its port is.
func (d *Detector) step(w *walk, kind Kind, a *attempt) {
	pc := PortCount{Proto: a.proto, Port: a.port}
	if kind == Horizontal {
		if w.seenAddr.has(a.dst) {
			return
		}
		if w.decided == nil || w.seenAddr.len() < d.cfg.MaxContacts {
			w.seenAddr.add(a.dst)
		}
	} else {
		if w.seenPort.has(pc) {
			return
		}
		if w.decided == nil || w.seenPort.len() < d.cfg.MaxContacts {
			w.seenPort.add(pc)
		}
	}
	if w.contacts == 0 {
		w.start = a.first
		w.lo, w.hi = a.port, a.port
	}
	w.lo, w.hi = min(w.lo, a.port), max(w.hi, a.port)
	w.end = a.first
	w.contacts++
	if a.success {
		w.succ++
	} else {
		w.fail++
	}
	if w.ports.len() < 4096 {
		w.ports.inc(pc)
	}
	if kind == Horizontal && len(w.targets) < d.cfg.TopTargets {
		w.targets = append(w.targets, a.dst)
	}
	if w.decided != nil {
		return
	}
	if a.success {
		w.logRatio += d.down
	} else {
		w.logRatio += d.up
	}
	switch {
	case w.logRatio >= d.eta1:
		al := &Alarm{Kind: kind, Source: a.src, Decided: time.Unix(0, a.first).UTC(),
			DecidedAfter: w.contacts, Ratio: math.Exp(w.logRatio)}
		if kind == Vertical {
			al.Target = a.dst
		}
		w.decided = al
		d.alarms = append(d.alarms, al)
	case w.logRatio <= d.eta0:
		w.reset() // benign: start afresh
	}
}

// Alarms feeds every pending attempt to the walks and returns the scans
// found, by start time, then kind and source.
func (d *Detector) Alarms() []Alarm {
	d.sweep(math.MaxInt64)
	fill := func(w *walk) {
		a := w.decided
		if a == nil {
			return
		}
		a.Start, a.End = time.Unix(0, w.start).UTC(), time.Unix(0, w.end).UTC()
		a.Contacts, a.Successes, a.Failures = w.contacts, w.succ, w.fail
		a.PortLow, a.PortHigh = w.lo, w.hi
		a.Ports = w.ports.appendTo(a.Ports[:0])
		slices.SortFunc(a.Ports, func(x, y PortCount) int {
			return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Proto, y.Proto), cmp.Compare(x.Port, y.Port))
		})
		a.Ports = a.Ports[:min(len(a.Ports), d.cfg.TopPorts)]
		a.Targets = slices.Clone(w.targets)
	}
	d.horizontal.each(fill)
	d.vertical.each(fill)
	out := make([]Alarm, 0, len(d.alarms))
	for _, a := range d.alarms {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(x, y Alarm) int {
		return cmp.Or(x.Start.Compare(y.Start), cmp.Compare(x.Kind, y.Kind), x.Source.Compare(y.Source), x.Target.Compare(y.Target))
	})
	return out
}
