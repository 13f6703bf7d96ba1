package talkers

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// counts is an entry's running sums; times are Unix ns.
type counts struct {
	flows, packets, bytes uint64
	first, last           int64
	duration              int64 // accumulated |end-start|, when asked for
}

func (c *counts) add(d *dir, durations bool) {
	if c.flows == 0 || d.start < c.first {
		c.first = d.start
	}
	if c.flows == 0 || d.end > c.last {
		c.last = d.end
	}
	c.flows++
	c.packets += d.packets
	c.bytes += d.bytes
	if durations {
		if d.end >= d.start {
			c.duration += d.end - d.start
		} else {
			// IPFIX from some exporters swaps first and last seen.
			c.duration += d.start - d.end
		}
	}
}

func (c *counts) export() Counts {
	out := Counts{Flows: c.flows, Packets: c.packets, Bytes: c.bytes}
	if c.flows > 0 {
		out.First = time.Unix(0, c.first).UTC()
		out.Last = time.Unix(0, c.last).UTC()
	}
	return out
}

// Keys are packed into 128 bits where they fit (IPv4 addresses, ports,
// protocols, IPv4 conversations) and counted in a table of their own;
// IPv6 keys go to a Go map.
const (
	tagAddr4   = 1 << 40
	tagInvalid = 2 << 40
	tagPort    = 3 << 40
	tagRecord  = 1 << 63
)

type key6 struct {
	a, b   [16]byte
	ap, bp uint16
	proto  uint8
	kind   uint8 // 1 address, 2 record; 4, 8: source, destination invalid
}

// accumulator counts one element, optionally split by protocol.
type accumulator struct {
	element   Element
	byProto   bool
	durations bool // also sum durations (the T column)

	tab    table
	wide   map[key6]*counts
	direct []counts // ports or protocols without the protocol split
}

func newAccumulator(e Element, byProto bool) *accumulator {
	a := &accumulator{element: e, byProto: byProto, wide: map[key6]*counts{}}
	switch {
	case e == Proto:
		a.direct = make([]counts, 256)
	case (e == SrcPort || e == DstPort || e == Port) && !byProto:
		a.direct = make([]counts, 65536)
	default:
		a.tab.init()
	}
	return a
}

// addBatch counts every direction of ds; keys is a buffer it may reuse,
// returned for the next batch.
func (a *accumulator) addBatch(ds []dir, keys []packed) []packed {
	switch a.element {
	case SrcIP:
		keys = a.addrKeys(ds, keys, false)
		a.tab.addAll(keys, ds, a.durations)
	case DstIP:
		keys = a.addrKeys(ds, keys, true)
		a.tab.addAll(keys, ds, a.durations)
	case IP:
		keys = a.addrKeys(ds, keys, false)
		a.tab.addAll(keys, ds, a.durations)
		keys = a.addrKeys(ds, keys, true)
		a.tab.addAll(keys, ds, a.durations)
	case SrcPort, DstPort, Port:
		for i := range ds {
			d := &ds[i]
			if a.element != DstPort {
				a.addPort(d.sport, d)
			}
			if a.element != SrcPort {
				a.addPort(d.dport, d)
			}
		}
	case Service:
		for i := range ds {
			d := &ds[i]
			var port uint16
			if hasPorts(d.proto) {
				port = min(d.sport, d.dport)
			}
			a.addPort(port, d)
		}
	case Proto:
		for i := range ds {
			a.direct[ds[i].proto].add(&ds[i], a.durations)
		}
	case Record:
		keys = keys[:0]
		for i := range ds {
			keys = append(keys, a.recordKey(&ds[i]))
		}
		a.tab.addAll(keys, ds, a.durations)
	}
	return keys
}

// addrKeys returns the packed keys of the source (or destination)
// addresses of ds; IPv6 addresses are counted at once and get the zero
// key, which addAll skips.
func (a *accumulator) addrKeys(ds []dir, keys []packed, dst bool) []packed {
	keys = keys[:0]
	for i := range ds {
		d := &ds[i]
		addr := d.src
		if dst {
			addr = d.dst
		}
		var k packed
		switch {
		case addr.Is4():
			b := addr.As4()
			k[0] = tagAddr4 | a.proto(d)<<32 | uint64(binary.BigEndian.Uint32(b[:]))
		case addr.IsValid():
			a.wideGet(key6{a: addr.As16(), proto: uint8(a.proto(d)), kind: 1}).add(d, a.durations)
		default:
			k[0] = tagInvalid | a.proto(d)<<32
		}
		keys = append(keys, k)
	}
	return keys
}

func (a *accumulator) proto(d *dir) uint64 {
	if a.byProto {
		return uint64(d.proto)
	}
	return 0
}

func (a *accumulator) wideGet(k key6) *counts {
	c := a.wide[k]
	if c == nil {
		c = new(counts)
		a.wide[k] = c
	}
	return c
}

func (a *accumulator) addPort(port uint16, d *dir) {
	if a.direct != nil {
		a.direct[port].add(d, a.durations)
		return
	}
	a.tab.get(packed{tagPort | uint64(d.proto)<<16 | uint64(port)}).add(d, a.durations)
}

// recordKey is the packed key of an IPv4 conversation; other
// conversations are counted at once and get the zero key.
func (a *accumulator) recordKey(d *dir) packed {
	if d.src.Is4() && d.dst.Is4() {
		s, t := d.src.As4(), d.dst.As4()
		return packed{
			uint64(binary.BigEndian.Uint32(s[:]))<<32 | uint64(binary.BigEndian.Uint32(t[:])),
			tagRecord | uint64(d.sport)<<24 | uint64(d.dport)<<8 | uint64(d.proto),
		}
	}
	k := key6{a: d.src.As16(), b: d.dst.As16(), ap: d.sport, bp: d.dport, proto: d.proto, kind: 2}
	if !d.src.IsValid() {
		k.kind |= 4
	}
	if !d.dst.IsValid() {
		k.kind |= 8
	}
	a.wideGet(k).add(d, a.durations)
	return packed{}
}

func addr4(x uint64) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(x))
	return netip.AddrFrom4(b)
}

// unpack is the key a packed key stands for.
func (a *accumulator) unpack(k packed) Key {
	switch a.element {
	case Record:
		return Key{
			Addr: addr4(k[0] >> 32), Dst: addr4(k[0]),
			Port: uint16(k[1] >> 24), DstPort: uint16(k[1] >> 8), Proto: uint8(k[1]),
		}
	case SrcPort, DstPort, Port, Service:
		return Key{Port: uint16(k[0]), Proto: uint8(k[0] >> 16)}
	}
	key := Key{Proto: uint8(k[0] >> 32)}
	if k[0]&(3<<40) == tagAddr4 {
		key.Addr = addr4(k[0])
	}
	return key
}

func (k key6) key() Key {
	out := Key{Proto: k.proto}
	if k.kind&4 == 0 {
		out.Addr = netip.AddrFrom16(k.a)
	}
	if k.kind&2 != 0 {
		out.Port, out.DstPort = k.ap, k.bp
		if k.kind&8 == 0 {
			out.Dst = netip.AddrFrom16(k.b)
		}
	}
	return out
}

// len is the number of distinct keys.
func (a *accumulator) len() int {
	n := a.tab.n + len(a.wide)
	for i := range a.direct {
		if a.direct[i].flows > 0 {
			n++
		}
	}
	return n
}

// each calls f with every key and its counts, in no particular order.
func (a *accumulator) each(f func(Key, *counts)) {
	a.tab.each(func(k packed, c *counts) { f(a.unpack(k), c) })
	for k, c := range a.wide {
		f(k.key(), c)
	}
	for i := range a.direct {
		if c := &a.direct[i]; c.flows > 0 {
			k := Key{Port: uint16(i)}
			if a.element == Proto {
				k = Key{Proto: uint8(i)}
			}
			f(k, c)
		}
	}
}

// merge adds o's sums to c.
func (c *counts) merge(o *counts) {
	if o.flows == 0 {
		return
	}
	if c.flows == 0 || o.first < c.first {
		c.first = o.first
	}
	if c.flows == 0 || o.last > c.last {
		c.last = o.last
	}
	c.flows += o.flows
	c.packets += o.packets
	c.bytes += o.bytes
	c.duration += o.duration
}

// merge adds every count of o, an accumulator of the same element.
func (a *accumulator) merge(o *accumulator) {
	o.tab.each(func(k packed, c *counts) { a.tab.get(k).merge(c) })
	for k, c := range o.wide {
		a.wideGet(k).merge(c)
	}
	for i := range o.direct {
		a.direct[i].merge(&o.direct[i])
	}
}
