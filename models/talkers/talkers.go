// Package talkers computes the top-N statistics of flow records that
// nfdump's -s option prints (top source and destination addresses, ports,
// protocols and conversations by flows, packets or bytes, with their share
// of the total) with the same numbers as nfdump 1.7, and the GDP
// collector's accumulated duration (T) and occurrence count (C) per source
// address. Memory grows with the distinct keys counted: addresses, ports,
// and for the conversation statistic ("record") every distinct 5-tuple.
//
// Counting follows nfdump: a flow record counts once for its key with its
// packets and bytes; first and last seen are the earliest record start and
// the latest record end; the rates divide by last-first in milliseconds
// and are truncated to integers (0 when last equals first); bytes per
// packet is truncated too. The "ip" and "port" statistics count a record
// for each of its two addresses or ports. A bidirectional record (Argus,
// biflow IPFIX) counts as two records, one per direction with packets,
// the reverse one with its source and destination swapped: nfdump, which
// counts only the forward counters of nfcapd's rare biflow (NSEL) records,
// never meets Argus files.
package talkers

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// Element is what a statistic counts by.
type Element uint8

// The elements, named as in nfdump's -s option.
const (
	SrcIP   Element = iota // source address
	DstIP                  // destination address
	IP                     // either address: a record counts for both
	SrcPort                // source port (0 for ICMP)
	DstPort                // destination port (type*256+code for ICMP)
	Port                   // either port
	Proto                  // IP protocol
	Record                 // the conversation: protocol, addresses and ports
	// Service is the port a flow serves, whichever its direction: the
	// lower of its two ports for TCP, UDP and SCTP (a client's ephemeral
	// port is the higher one), 0 for other protocols; always split by
	// protocol ("80/tcp"). nfdump has no such statistic: where dstport
	// counts a download under the client's ephemeral port, service
	// counts it under 80/tcp.
	Service
	numElements
)

var elementNames = [numElements]string{"srcip", "dstip", "ip", "srcport", "dstport", "port", "proto", "record", "service"}

// elementTitles are nfdump's column titles (Service is fingerflow's).
var elementTitles = [numElements]string{"Src IP Addr", "Dst IP Addr", "IP Addr", "Src Port", "Dst Port", "Port", "Protocol", "Flow", "Service"}

func (e Element) String() string {
	if e < numElements {
		return elementNames[e]
	}
	return fmt.Sprintf("element(%d)", uint8(e))
}

// Title is nfdump's column title for the element ("Src IP Addr").
func (e Element) Title() string {
	if e < numElements {
		return elementTitles[e]
	}
	return e.String()
}

// Order is what a statistic is sorted by, largest first.
type Order uint8

// The orders nfdump knows.
const (
	Flows Order = iota
	Packets
	Bytes
	PPS // packets per second
	BPS // bits per second
	BPP // bytes per packet
	numOrders
)

var orderNames = [numOrders]string{"flows", "packets", "bytes", "pps", "bps", "bpp"}

func (o Order) String() string {
	if o < numOrders {
		return orderNames[o]
	}
	return fmt.Sprintf("order(%d)", uint8(o))
}

// Stat is one statistic: an element, optionally split by protocol, and the
// orders to list it in.
type Stat struct {
	Element Element
	ByProto bool    // nfdump's ":p": one entry per element and protocol
	Orders  []Order // at least one
}

// ErrStat is wrapped by ParseStat's errors.
var ErrStat = errors.New("invalid statistic")

// ParseStat reads a statistic the way nfdump's -s takes it:
// element[:p][/order[/order...]], e.g. "srcip/bytes", "dstport:p/flows/bytes".
// Without an order the statistic is ordered by flows.
func ParseStat(s string) (Stat, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	name, byProto := strings.CutSuffix(parts[0], ":p")
	st := Stat{ByProto: byProto}
	i := slices.Index(elementNames[:], name)
	if i < 0 {
		return st, fmt.Errorf("%w %q: %q is not one of %s", ErrStat, s, name, strings.Join(elementNames[:], ", "))
	}
	st.Element = Element(i)
	for _, o := range parts[1:] {
		j := slices.Index(orderNames[:], o)
		if j < 0 {
			return st, fmt.Errorf("%w %q: order %q is not one of %s", ErrStat, s, o, strings.Join(orderNames[:], ", "))
		}
		st.Orders = append(st.Orders, Order(j))
	}
	if len(st.Orders) == 0 {
		st.Orders = []Order{Flows}
	}
	return st, nil
}

func (s Stat) String() string {
	var b strings.Builder
	b.WriteString(s.Element.String())
	if s.ByProto {
		b.WriteString(":p")
	}
	for _, o := range s.Orders {
		b.WriteString("/" + o.String())
	}
	return b.String()
}

// Config says what a Table counts.
type Config struct {
	Stats []Stat
	// N is how many entries each statistic lists; 0 lists all.
	N int
	// Sources is how many source addresses the T and C table lists, by
	// accumulated duration; 0 leaves the table out.
	Sources int
}

// Key identifies an entry. Fields the element does not use are zero; Proto
// is set for Proto and Record, and for every element split by protocol.
type Key struct {
	Addr    netip.Addr // SrcIP, DstIP, IP; the source for Record
	Port    uint16     // SrcPort, DstPort, Port; the source port for Record
	Proto   uint8
	Dst     netip.Addr // Record
	DstPort uint16     // Record
}

// Text renders the key of an entry of element e: an address, a port, a
// protocol name, or a conversation "10.0.0.1:80 -> 10.0.0.2:5000".
func (k Key) Text(e Element) string {
	switch e {
	case SrcIP, DstIP, IP:
		if !k.Addr.IsValid() {
			return "-"
		}
		return k.Addr.String()
	case SrcPort, DstPort, Port:
		return strconv.Itoa(int(k.Port))
	case Service:
		name := strings.ToLower(datasets.ProtoName(k.Proto))
		if k.Port == 0 && !hasPorts(k.Proto) {
			return name
		}
		return strconv.Itoa(int(k.Port)) + "/" + name
	case Proto:
		return datasets.ProtoName(k.Proto)
	case Record:
		return fmt.Sprintf("%s:%d -> %s:%d", k.Addr, k.Port, k.Dst, k.DstPort)
	}
	return ""
}

// Counts are what an entry accumulates.
type Counts struct {
	Flows, Packets, Bytes uint64
	// First is the earliest record start, Last the latest record end.
	First, Last time.Time
}

// Duration is Last-First, nfdump's duration of an entry.
func (c *Counts) Duration() time.Duration { return c.Last.Sub(c.First) }

// rate is nfdump's integer rate: x per second over the entry's duration in
// milliseconds, 0 for an entry without duration.
func (c *Counts) rate(x uint64) uint64 {
	ms := c.Last.UnixMilli() - c.First.UnixMilli()
	if ms <= 0 {
		return 0
	}
	return uint64(float64(x) / (float64(ms) / 1000))
}

// PPS is packets per second as nfdump computes it.
func (c *Counts) PPS() uint64 { return c.rate(c.Packets) }

// BPS is bits per second as nfdump computes it.
func (c *Counts) BPS() uint64 { return c.rate(8 * c.Bytes) }

// BPP is bytes per packet, truncated; 0 without packets.
func (c *Counts) BPP() uint64 {
	if c.Packets == 0 {
		return 0
	}
	return c.Bytes / c.Packets
}

// value is the entry's value in order o.
func (c *Counts) value(o Order) uint64 {
	switch o {
	case Flows:
		return c.Flows
	case Packets:
		return c.Packets
	case Bytes:
		return c.Bytes
	case PPS:
		return c.PPS()
	case BPS:
		return c.BPS()
	case BPP:
		return c.BPP()
	}
	return 0
}

// Entry is one line of a statistic.
type Entry struct {
	Key Key
	Counts
}

// Top is one statistic in one order.
type Top struct {
	Stat    Stat
	Order   Order
	Entries []Entry // largest first; ties by key
	// Distinct is how many entries the statistic has in all.
	Distinct int
}

// Source is one row of the T and C table: the flows an address sent.
type Source struct {
	Addr netip.Addr
	// Duration is the accumulated duration of its flows (T), Count the
	// number of flows (C).
	Duration time.Duration
	Count    uint64
	Packets  uint64
	Bytes    uint64
}

// Result is what a Table counted.
type Result struct {
	Totals Counts // every record counted (a biflow with answers counts two)
	Tops   []Top  // in the order of Config.Stats, each in its orders
	// Sources are the top source addresses by accumulated duration
	// (Config.Sources of them); SourcesDistinct counts them all.
	Sources         []Source
	SourcesDistinct int
}

// Table accumulates the statistics of a stream of flows. It is not safe
// for concurrent use.
type Table struct {
	cfg     Config
	accs    []*accumulator // one per distinct (element, ByProto)
	stats   []int          // index into accs per Config.Stats
	sources *accumulator   // srcip accumulator that also sums durations, or nil
	totals  counts
	dirs    []dir // AddBatch's buffers
	keys    []packed
	one     [1]datasets.Flow // Add's batch
}

// New checks cfg and returns an empty table.
func New(cfg Config) (*Table, error) {
	if cfg.N < 0 || cfg.Sources < 0 {
		return nil, fmt.Errorf("%w: negative count (N %d, sources %d)", ErrStat, cfg.N, cfg.Sources)
	}
	t := &Table{cfg: cfg}
	find := func(e Element, byProto bool) int {
		for i, a := range t.accs {
			if a.element == e && a.byProto == byProto {
				return i
			}
		}
		t.accs = append(t.accs, newAccumulator(e, byProto))
		return len(t.accs) - 1
	}
	for _, s := range cfg.Stats {
		if s.Element >= numElements {
			return nil, fmt.Errorf("%w: %v", ErrStat, s.Element)
		}
		if len(s.Orders) == 0 {
			return nil, fmt.Errorf("%w %s: no order", ErrStat, s)
		}
		for _, o := range s.Orders {
			if o >= numOrders {
				return nil, fmt.Errorf("%w %s: %v", ErrStat, s, o)
			}
		}
		t.stats = append(t.stats, find(s.Element, s.ByProto || s.Element == Service))
	}
	if cfg.Sources > 0 {
		t.sources = t.accs[find(SrcIP, false)]
		t.sources.durations = true
	}
	return t, nil
}

// dir is one direction of a record.
// hasPorts reports whether a protocol's flows carry ports a service is
// known by: TCP, UDP and SCTP.
func hasPorts(proto uint8) bool { return proto == 6 || proto == 17 || proto == 132 }

type dir struct {
	src, dst     netip.Addr
	sport, dport uint16
	proto        uint8
	packets      uint64
	bytes        uint64
	start, end   int64 // Unix ns
}

// Add counts one flow record.
func (t *Table) Add(f *datasets.Flow) {
	t.one[0] = *f
	t.AddBatch(t.one[:])
}

// AddBatch counts every flow of a batch. Counting a batch at a time, one
// statistic after the other, is several times faster than flow by flow.
func (t *Table) AddBatch(flows []datasets.Flow) {
	ds := t.dirs[:0]
	for i := range flows {
		f := &flows[i]
		ds = append(ds, dir{
			src: f.SrcAddr, dst: f.DstAddr, sport: f.SrcPort, dport: f.DstPort, proto: f.Proto,
			packets: f.Packets, bytes: f.Bytes, start: f.Start.UnixNano(), end: f.End.UnixNano(),
		})
		if f.HasReverse && f.RevPackets > 0 {
			d := dir{
				src: f.DstAddr, dst: f.SrcAddr, sport: f.DstPort, dport: f.SrcPort, proto: f.Proto,
				packets: f.RevPackets, bytes: f.RevBytes, start: f.Start.UnixNano(), end: f.End.UnixNano(),
			}
			if f.Proto == datasets.ProtoICMP || f.Proto == datasets.ProtoICMPv6 {
				d.sport, d.dport = 0, 0 // the answer's type is not recorded
			}
			ds = append(ds, d)
		}
	}
	for i := range ds {
		t.totals.add(&ds[i], false)
	}
	for _, a := range t.accs {
		t.keys = a.addBatch(ds, t.keys)
	}
	t.dirs = ds
}

// Merge adds everything o counted to t, as if o's flows had been added to
// t: tables that counted parts of one stream (one per worker of a
// datasets.ParallelReader's Fold) merge into the table of the whole, with
// the same result whatever the parts. o must have been made with the same
// Config; it is left unchanged.
func (t *Table) Merge(o *Table) error {
	if len(o.accs) != len(t.accs) || len(o.cfg.Stats) != len(t.cfg.Stats) || (o.sources == nil) != (t.sources == nil) {
		return fmt.Errorf("%w: merging tables of different configurations", ErrStat)
	}
	for i := range t.accs {
		if t.accs[i].element != o.accs[i].element || t.accs[i].byProto != o.accs[i].byProto {
			return fmt.Errorf("%w: merging tables of different configurations", ErrStat)
		}
	}
	t.totals.merge(&o.totals)
	for i := range t.accs {
		t.accs[i].merge(o.accs[i])
	}
	return nil
}

// Result returns the statistics of the flows added so far.
func (t *Table) Result() Result {
	r := Result{Totals: t.totals.export()}
	for i, s := range t.cfg.Stats {
		a := t.accs[t.stats[i]]
		for _, o := range s.Orders {
			// Entry x comes before y: larger value, then smaller key.
			before := func(x, y *Entry) bool {
				if vx, vy := x.value(o), y.value(o); vx != vy {
					return vx > vy
				}
				return compareKeys(x.Key, y.Key) < 0
			}
			entries := topN(a, t.cfg.N, before)
			r.Tops = append(r.Tops, Top{Stat: s, Order: o, Distinct: a.len(), Entries: entries})
		}
	}
	if t.sources != nil {
		r.SourcesDistinct = t.sources.len()
		t.sources.each(func(k Key, c *counts) {
			r.Sources = append(r.Sources, Source{
				Addr: k.Addr, Duration: time.Duration(c.duration), Count: c.flows,
				Packets: c.packets, Bytes: c.bytes,
			})
		})
		slices.SortFunc(r.Sources, func(x, y Source) int {
			if c := cmp.Compare(y.Duration, x.Duration); c != 0 {
				return c
			}
			if c := cmp.Compare(y.Count, x.Count); c != 0 {
				return c
			}
			return x.Addr.Compare(y.Addr)
		})
		if len(r.Sources) > t.cfg.Sources {
			r.Sources = r.Sources[:t.cfg.Sources]
		}
	}
	return r
}

// topN returns a's n first entries by before (all when n is 0), keeping
// at most n in memory: a heap whose root is the last of those kept.
func topN(a *accumulator, n int, before func(x, y *Entry) bool) []Entry {
	var h []Entry
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			if r := l + 1; r < len(h) && before(&h[l], &h[r]) {
				l = r
			}
			if !before(&h[i], &h[l]) {
				return
			}
			h[i], h[l] = h[l], h[i]
			i = l
		}
	}
	a.each(func(k Key, c *counts) {
		e := Entry{Key: k, Counts: c.export()}
		switch {
		case n <= 0 || len(h) < n:
			h = append(h, e)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !before(&h[p], &h[i]) {
					break
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
		case before(&e, &h[0]):
			h[0] = e
			down(0)
		}
	})
	slices.SortFunc(h, func(x, y Entry) int {
		if before(&x, &y) {
			return -1
		}
		if before(&y, &x) {
			return 1
		}
		return 0
	})
	return h
}

func compareKeys(a, b Key) int {
	return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Proto, b.Proto),
		a.Dst.Compare(b.Dst), cmp.Compare(a.DstPort, b.DstPort))
}
