package pcapflow

import (
	"cmp"
	"container/heap"
	"net/netip"
	"slices"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// key identifies a biflow: the two endpoints in canonical order (lower
// address, then lower port, first), so both directions share one entry.
type key struct {
	a, b   netip.Addr
	ap, bp uint16
	proto  uint8
	vlan   uint32
}

// dir is one direction's counters.
type dir struct {
	first, last time.Time
	packets     uint64
	bytes       uint64
	flags       uint8
	tos         uint8
	minTTL      uint8
	maxTTL      uint8
}

func (d *dir) add(p *packet, ts time.Time) {
	if d.packets == 0 {
		d.first, d.tos, d.minTTL, d.maxTTL = ts, p.tos, p.ttl, p.ttl
	}
	if ts.After(d.last) {
		d.last = ts
	}
	d.packets++
	d.bytes += p.bytes
	d.flags |= p.flags
	d.minTTL = min(d.minTTL, p.ttl)
	d.maxTTL = max(d.maxTTL, p.ttl)
}

// entry is one biflow in the table. d[0] is the direction of the packet
// that opened it (the initiator).
type entry struct {
	k       key
	swapped bool // the initiator is endpoint b
	d       [2]dir
	start   time.Time
	last    time.Time
	expires time.Time
	seq     uint64 // creation order, the last tie-breaker of emission order
	dead    bool   // already emitted; a stale heap item may still point here
}

// expiry is a heap item: lazily kept, re-pushed when the entry's expiry moved.
type expiry struct {
	at time.Time
	e  *entry
}

type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// table tracks the active flows of one capture. Time is capture time: the
// latest packet timestamp seen.
type table struct {
	cfg     Config
	flows   map[key]*entry
	heap    expiryHeap
	now     time.Time
	seq     uint64
	expired []*entry // emitted by the caller, then cleared
}

func newTable(cfg Config) *table {
	return &table{cfg: cfg, flows: make(map[key]*entry)}
}

// add accounts one decoded packet captured at ts. Flows that expire on the
// way are appended to t.expired in a deterministic order.
func (t *table) add(p *packet, ts time.Time) {
	if ts.After(t.now) {
		t.now = ts
		t.sweep()
	}
	k := key{a: p.src, b: p.dst, ap: p.sport, bp: p.dport, proto: p.proto}
	if t.cfg.SplitVLANs {
		k.vlan = p.vlan
	}
	swap := false
	if c := k.a.Compare(k.b); c > 0 || (c == 0 && k.ap > k.bp) {
		k.a, k.b, k.ap, k.bp = k.b, k.a, k.bp, k.ap
		swap = true
	}
	e := t.flows[k]
	if e != nil && !ts.Before(e.expires) {
		// Idle, finished or over its active time: this packet opens a
		// new flow.
		t.expire(e)
	}
	created := false
	if e == nil || e.dead {
		t.seq++
		e = &entry{k: k, swapped: swap, start: ts, seq: t.seq}
		t.flows[k] = e
		created = true
	}
	i := 0
	if swap != e.swapped {
		i = 1
	}
	e.d[i].add(p, ts)
	if ts.After(e.last) {
		e.last = ts
	}
	e.expires = t.expiresAt(e)
	if created {
		heap.Push(&t.heap, expiry{at: e.expires, e: e})
	}
	if t.cfg.MaxFlows > 0 && len(t.flows) > t.cfg.MaxFlows {
		t.shed()
	}
}

// expiresAt is when e ends if no packet comes: softflowd's rules (RST, then
// FIN seen both ways, then the protocol's idle timeout), bounded by the
// active timeout counted from the flow's first packet.
func (t *table) expiresAt(e *entry) time.Time {
	c := &t.cfg
	idle := c.IdleTimeout
	switch e.k.proto {
	case datasets.ProtoTCP:
		f0, f1 := e.d[0].flags, e.d[1].flags
		switch {
		case (f0|f1)&datasets.FlagRST != 0:
			idle = c.RSTTimeout
		case f0&f1&datasets.FlagFIN != 0:
			idle = c.FINTimeout
		}
	case datasets.ProtoUDP:
		idle = c.UDPTimeout
	case datasets.ProtoICMP, datasets.ProtoICMPv6:
		idle = c.ICMPTimeout
	}
	at := e.last.Add(idle)
	if act := e.start.Add(c.ActiveTimeout); act.Before(at) {
		at = act
	}
	return at
}

// sweep expires every flow whose time has come at t.now.
func (t *table) sweep() {
	for len(t.heap) > 0 && !t.heap[0].at.After(t.now) {
		x := heap.Pop(&t.heap).(expiry)
		switch {
		case x.e.dead:
		case x.e.expires.After(t.now):
			heap.Push(&t.heap, expiry{at: x.e.expires, e: x.e})
		default:
			t.expire(x.e)
		}
	}
}

// shed expires the flows due soonest until the table is a tenth under
// MaxFlows, like softflowd's forced expiry when its flow limit is reached.
func (t *table) shed() {
	target := t.cfg.MaxFlows - t.cfg.MaxFlows/10
	for len(t.flows) > target && len(t.heap) > 0 {
		x := heap.Pop(&t.heap).(expiry)
		if !x.e.dead {
			t.expire(x.e)
		}
	}
}

func (t *table) expire(e *entry) {
	e.dead = true
	delete(t.flows, e.k)
	t.expired = append(t.expired, e)
}

// flush expires every remaining flow (end of capture).
func (t *table) flush() {
	for _, e := range t.flows {
		e.dead = true
		t.expired = append(t.expired, e)
	}
	clear(t.flows)
	t.heap = t.heap[:0]
}

// drain returns the expired flows in emission order (first packet, then
// creation order) and forgets them. The slice is reused: the caller is done
// with it before the next add or flush.
func (t *table) drain() []*entry {
	out := t.expired
	slices.SortFunc(out, func(x, y *entry) int {
		if c := x.start.Compare(y.start); c != 0 {
			return c
		}
		return cmp.Compare(x.seq, y.seq)
	})
	t.expired = t.expired[:0]
	return out
}

// appendFlows appends e's flows to dst: one per direction that carried
// packets, initiator first, or one biflow when bidirectional.
func appendFlows(dst []datasets.Flow, e *entry, bidir bool) []datasets.Flow {
	src, dstA, sp, dp := e.k.a, e.k.b, e.k.ap, e.k.bp
	if e.swapped {
		src, dstA, sp, dp = dstA, src, dp, sp
	}
	mk := func(d *dir, s, t netip.Addr, spt, dpt uint16) datasets.Flow {
		return datasets.Flow{
			Start: d.first, End: d.last,
			SrcAddr: s, DstAddr: t, SrcPort: spt, DstPort: dpt,
			Proto: e.k.proto, TCPFlags: d.flags,
			Packets: d.packets, Bytes: d.bytes,
			SamplingRate: 1,
			ToS:          d.tos, MinTTL: d.minTTL, MaxTTL: d.maxTTL,
		}
	}
	if bidir {
		f := mk(&e.d[0], src, dstA, sp, dp)
		f.Start, f.End = e.start, e.last
		f.HasReverse = true
		f.RevPackets, f.RevBytes = e.d[1].packets, e.d[1].bytes
		f.TCPFlags |= e.d[1].flags
		return append(dst, f)
	}
	dst = append(dst, mk(&e.d[0], src, dstA, sp, dp))
	if e.d[1].packets > 0 {
		rev := mk(&e.d[1], dstA, src, dp, sp)
		if e.k.proto == datasets.ProtoICMP || e.k.proto == datasets.ProtoICMPv6 {
			// ICMP's "ports" are the type and code of the packets,
			// which are the same both ways within one flow.
			rev.SrcPort, rev.DstPort = sp, dp
		}
		dst = append(dst, rev)
	}
	return dst
}
