// Package floods finds floods and denial-of-service signatures in flow
// records alone, the list of the Perl NetFlow logger fingerflow's users
// came from: SYN floods (many SYN packets that never complete a handshake
// to one destination port), RST and FIN floods (bare RST or FIN packets
// with no connection behind them), UDP and ICMP floods (packet rates to one
// destination), and traffic from bogon sources (special-purpose address
// ranges no routed packet may come from, see Bogons).
//
// Each signature counts its packets per destination (and port, for the
// TCP signatures) in bins of one second (ten for bogon sources): a
// record's packets are spread evenly over its duration, and a one-packet
// record counts at its start (exporters that give both directions of a
// connection the connection's times would otherwise stretch a lone SYN
// over the SYN-ACK's retransmissions). An episode is a run of bins at or
// above the signature's MinRate, gaps of at most Gap bins below it
// included; an episode of at least MinPackets packets is an alarm, with its
// destination, start, end, peak and mean rate, its top sources and whether
// the sources look spoofed.
//
// Which records count:
//
//   - SYN: TCP with SYN and without ACK (the sender never acknowledged an
//     answer). A bidirectional record (Argus), whose flags are both sides',
//     counts when it has SYN, at most two packets from the initiator and no
//     PSH or FIN: the handshake was not completed. A record that also has
//     RST counts one packet less (the sender's kernel resetting an
//     unexpected SYN-ACK joins the SYN's record).
//   - RST: TCP with RST and neither SYN nor ACK (a closed port's answer
//     carries ACK).
//   - FIN: TCP with FIN and neither SYN nor ACK (every FIN of a connection
//     carries ACK).
//   - UDP: every UDP packet to the destination.
//   - ICMP: ICMP and ICMPv6 packets other than answers and errors (echo
//     reply, destination unreachable, source quench, redirect, time
//     exceeded, parameter problem; their ICMPv6 counterparts and neighbour
//     discovery).
//   - bogon source: any record whose source lies in a bogon range.
//
// Records may arrive out of time order by up to Config.Horizon (exporters
// write a record when its flow ends); seconds older than the newest record
// start less Horizon are final. Memory grows with the destinations under
// attack-like traffic within the horizon, not with flows.
package floods

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/models/internal/minutelists"
)

// Signature is a kind of flood.
type Signature uint8

// The signatures.
const (
	SYNFlood Signature = iota
	RSTFlood
	FINFlood
	UDPFlood
	ICMPFlood
	BogonSource
	NumSignatures
)

var signatureNames = [NumSignatures]string{"syn-flood", "rst-flood", "fin-flood", "udp-flood", "icmp-flood", "bogon-source"}

func (s Signature) String() string {
	if s < NumSignatures {
		return signatureNames[s]
	}
	return fmt.Sprintf("signature(%d)", uint8(s))
}

// ParseSignature reads a signature's name ("syn-flood").
func ParseSignature(name string) (Signature, bool) {
	i := slices.Index(signatureNames[:], name)
	return Signature(i), i >= 0
}

// Threshold decides when a signature's packets make an alarm.
type Threshold struct {
	// MinRate: a bin counts towards an episode when its packets to the
	// destination reach this many a second.
	MinRate float64
	// MinPackets: an episode with fewer packets is no alarm.
	MinPackets float64
	// Gap is how many bins below MinRate an episode may contain.
	Gap int
	// Bin is how many seconds a bin lasts; 0 means 1.
	Bin int
}

// width is the bin's length in seconds.
func (t *Threshold) width() int64 { return max(int64(t.Bin), 1) }

// Config tunes the detector. Start from DefaultConfig.
type Config struct {
	Thresholds [NumSignatures]Threshold
	// Horizon is how far records may arrive out of time order.
	Horizon time.Duration
	// TopSources is how many sources an alarm lists (at least 16 for
	// bogon sources).
	TopSources int
	// MaxSources bounds the sources remembered per destination; beyond
	// it, sources are counted but not told apart.
	MaxSources int
	// Bogons is the table of bogon ranges (Bogons() when nil).
	Bogons []Bogon
	// PrivateBogons also counts private ranges (RFC 1918, unique local) as
	// bogons: for flows seen at an edge facing the Internet.
	PrivateBogons bool
	// NotBogons are ranges the site itself uses although they are
	// special-purpose.
	NotBogons []netip.Prefix
	// MaxAlarms bounds the alarms kept per signature (those with the most
	// packets); the others are only counted (Detector.Dropped). A site
	// whose own networks lie in a special-purpose range would otherwise
	// collect an alarm for every busy host.
	MaxAlarms int
}

// DefaultConfig's thresholds: SYN, RST and FIN floods at 100 packets a
// second to one destination port and 500 packets in all; UDP at 1,000
// packets a second and 5,000 in all; ICMP at 500 a second and 2,000 in
// all, in one-second bins bridging 2 quiet seconds; bogon sources from 5
// packets in ten seconds and 10 in all, in ten-second bins bridging one
// quiet bin (a site whose traffic comes from a special-purpose range would
// otherwise cost a bin per host and second). hping3's default rate is 1
// packet a second; floods run at thousands. A 15-minute horizon, five top
// sources, 10,000 sources remembered per destination, 1,000 alarms kept
// per signature.
func DefaultConfig() Config {
	var c Config
	c.Thresholds[SYNFlood] = Threshold{MinRate: 100, MinPackets: 500, Gap: 2}
	c.Thresholds[RSTFlood] = Threshold{MinRate: 100, MinPackets: 500, Gap: 2}
	c.Thresholds[FINFlood] = Threshold{MinRate: 100, MinPackets: 500, Gap: 2}
	c.Thresholds[UDPFlood] = Threshold{MinRate: 1000, MinPackets: 5000, Gap: 2}
	c.Thresholds[ICMPFlood] = Threshold{MinRate: 500, MinPackets: 2000, Gap: 2}
	c.Thresholds[BogonSource] = Threshold{MinRate: 0.5, MinPackets: 10, Gap: 1, Bin: 10}
	c.Horizon = 15 * time.Minute
	c.TopSources = 5
	c.MaxSources = 10000
	c.MaxAlarms = 1000
	return c
}

// ErrConfig is wrapped by New's errors.
var ErrConfig = errors.New("invalid flood detector configuration")

// Source is one source of an alarm's packets.
type Source struct {
	Addr    netip.Addr
	Packets float64
	Flows   uint64
}

// Spoofing says what an alarm's sources look like.
type Spoofing struct {
	// Distinct is the number of sources seen (at least, when Truncated).
	Distinct  int
	Truncated bool
	// Singletons is the share of sources that sent one packet.
	Singletons float64
	// Networks is the number of distinct /8 (IPv4) or /16 (IPv6) networks
	// the sources lie in.
	Networks int
	// Bogons is the number of sources in bogon ranges.
	Bogons int
	// Spoofed: at least 50 sources, 90% or more of them sending one packet
	// each, spread over at least 32 networks: a sender making up a source
	// for every packet (hping3 --rand-source), not a crowd of real hosts.
	Spoofed bool
}

// Alarm is one episode of a signature against one destination.
type Alarm struct {
	Signature Signature
	Target    netip.Addr
	Proto     uint8  // TCP for the TCP signatures, else 0 (all protocols)
	Port      uint16 // the destination port of the TCP signatures, else 0
	// Start and End bound the episode's packets (the first and last
	// record of its seconds).
	Start, End time.Time
	Packets    float64
	Flows      uint64
	// PeakRate is the most packets a second in one bin, MeanRate the
	// packets a second over the bins from Start's to End's (at most
	// PeakRate).
	PeakRate, MeanRate float64
	Sources            []Source // most packets first
	Spoofing           Spoofing
	// Ranges are the bogon ranges the sources lie in (bogon alarms).
	Ranges []Bogon
	// Ports are the destination ports hit most (UDP floods), most packets
	// first.
	Ports []uint16
}

// TargetText renders the alarm's destination: "10.77.0.1:80/tcp", or
// "10.77.0.1" for the signatures of all protocols.
func (a *Alarm) TargetText() string {
	if a.Proto != 0 {
		return fmt.Sprintf("%s:%d/%s", a.Target, a.Port, strings.ToLower(datasets.ProtoName(a.Proto)))
	}
	return a.Target.String()
}

// SourcesText lists the alarm's top sources with their packets, how many
// more there were, and what made them look spoofed.
func (a *Alarm) SourcesText() string {
	var parts []string
	for _, s := range a.Sources {
		parts = append(parts, fmt.Sprintf("%s (%s)", s.Addr, trimFloat(s.Packets)))
	}
	sp := a.Spoofing
	more := ""
	if sp.Distinct > len(a.Sources) {
		more = fmt.Sprintf(" and %d more", sp.Distinct-len(a.Sources))
		if sp.Truncated {
			more = " and more"
		}
	}
	text := strings.Join(parts, ", ") + more
	if sp.Spoofed {
		text = fmt.Sprintf("%d sources, spoofed (%.0f%% sent one packet, from %d /8 networks, %d in bogon ranges): %s",
			sp.Distinct, 100*sp.Singletons, sp.Networks, sp.Bogons, text)
	}
	return text
}

// trimFloat renders a packet count: whole numbers without decimals.
func trimFloat(x float64) string {
	if x == math.Trunc(x) {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

// key identifies what a signature counts per: a destination, and for the
// TCP signatures its port. Its fields leave no padding (pad is always
// zero), so that a map keyed by it hashes and compares its bytes at once
// instead of field by field.
type key struct {
	dst   netip.Addr
	port  uint16
	sig   Signature
	proto uint8
	pad   uint32
}

// bin is one second of a key's packets.
type bin struct {
	packets     float64
	flows       uint64
	first, last int64 // ns of the records counted
}

// portPackets are a source's packets to one port.
type portPackets struct {
	port    uint16
	packets float64
}

type srcStat struct {
	addr        netip.Addr
	packets     float64
	flows       uint64
	first, last int64
	ports       []portPackets // UDP floods only, at most maxPorts
	// portIndex finds a port in ports once there are indexFrom of them
	// (an internal resolver answers each client on many ports): slot
	// h(port) and on holds the port's index in ports plus one, 0 free.
	portIndex *[2 * maxPorts]uint8

	bogon int // index in the bogon table, -1
}

// maxPorts is how many ports a source's UDP flood counts are kept for;
// indexFrom is the number from which they are looked up through an index.
const (
	maxPorts  = 64
	indexFrom = 8
)

// addPort adds packets to port's count, unless the source has maxPorts
// others already.
func (s *srcStat) addPort(port uint16, packets float64) {
	if s.portIndex == nil {
		for i := range s.ports {
			if s.ports[i].port == port {
				s.ports[i].packets += packets
				return
			}
		}
		s.ports = append(s.ports, portPackets{port, packets})
		if len(s.ports) == indexFrom {
			s.portIndex = new([2 * maxPorts]uint8)
			for i, p := range s.ports {
				s.portIndex[s.slot(p.port)] = uint8(i + 1)
			}
		}
		return
	}
	j := portSlot(port)
	for ; s.portIndex[j] != 0; j = (j + 1) % (2 * maxPorts) {
		if p := &s.ports[s.portIndex[j]-1]; p.port == port {
			p.packets += packets
			return
		}
	}
	if len(s.ports) < maxPorts {
		s.ports = append(s.ports, portPackets{port, packets})
		s.portIndex[j] = uint8(len(s.ports))
	}
}

// slot is the free slot of portIndex for a port not in it yet.
func (s *srcStat) slot(port uint16) int {
	j := portSlot(port)
	for s.portIndex[j] != 0 {
		j = (j + 1) % (2 * maxPorts)
	}
	return j
}

// portSlot is the first slot of portIndex to look at for port.
func portSlot(port uint16) int {
	return int(uint32(port)*0x9e3779b1>>25) % (2 * maxPorts)
}

// episode is a key's open run of seconds.
type episode struct {
	start, lastActive int64 // seconds
	packets, peak     float64
	flows             uint64
	first, last       int64 // ns
	// pending are the seconds below the rate since lastActive: they join
	// the episode when it goes on, and the first of them, the second
	// right after its last busy one, when it ends.
	pending []secBin
}

type secBin struct {
	sec int64
	bin
}

func (e *episode) take(b *bin) {
	e.packets += b.packets
	e.flows += b.flows
	e.first, e.last = min(e.first, b.first), max(e.last, b.last)
}

type target struct {
	// bins[head:] are the bins with packets not yet swept, in time
	// order: records arrive nearly in time order, so a new bin is almost
	// always appended, and a sweep takes a prefix.
	bins []secBin
	head int
	// sources are the sources remembered, found by a scan while there
	// are few (most destinations hear from one or two) and through
	// index beyond scanSources.
	sources  []srcStat
	index    map[netip.Addr]int32
	overflow int // sources not remembered
	open     *episode
	prev     secBin // the latest second below the rate with no episode open
	hasPrev  bool   // prev is set
	lastSeen int64  // newest second with packets
	// due is the earliest minute a sweep is to visit the target in
	// (noDue: none): a new second in a later minute needs no note.
	due int64
	// minBin is the earliest bin that may hold packets.
	minBin int64
	// pruned is the second up to which sources were last pruned.
	pruned int64
	// visited is the number of the sweep that last visited the target;
	// gone is set when the target is forgotten.
	visited uint64
	gone    bool
}

// bin returns the index in t.bins of second sec's bin, adding an empty
// one (new true) when there is none.
func (t *target) bin(sec int64) (i int, new bool) {
	n := len(t.bins)
	switch {
	case n == t.head || t.bins[n-1].sec < sec:
		t.bins = append(t.bins, secBin{sec: sec})
		return len(t.bins) - 1, true
	case t.bins[n-1].sec == sec:
		return n - 1, false
	}
	i, found := slices.BinarySearchFunc(t.bins[t.head:], sec, func(b secBin, s int64) int { return cmp.Compare(b.sec, s) })
	i += t.head
	if found {
		return i, false
	}
	t.bins = slices.Insert(t.bins, i, secBin{sec: sec})
	return i, true
}

// scanSources is how many sources a target looks through one by one
// before it indexes them.
const scanSources = 8

// source returns the source a is remembered as, or nil.
func (t *target) source(a netip.Addr) *srcStat {
	if t.index != nil {
		if i, ok := t.index[a]; ok {
			return &t.sources[i]
		}
		return nil
	}
	for i := range t.sources {
		if t.sources[i].addr == a {
			return &t.sources[i]
		}
	}
	return nil
}

// addSource remembers a new source; the result is valid until the next
// addSource or pruneSources.
func (t *target) addSource(s srcStat) *srcStat {
	t.sources = append(t.sources, s)
	n := len(t.sources)
	switch {
	case t.index != nil:
		t.index[s.addr] = int32(n - 1)
	case n > scanSources:
		t.index = make(map[netip.Addr]int32, 2*n)
		for i := range t.sources {
			t.index[t.sources[i].addr] = int32(i)
		}
	}
	return &t.sources[n-1]
}

// pruneSources forgets the sources last seen at or before over (ns).
func (t *target) pruneSources(over int64) {
	keep := t.sources[:0]
	for _, s := range t.sources {
		switch {
		case s.last <= over:
			if t.index != nil {
				delete(t.index, s.addr)
			}
			continue
		case t.index != nil && len(keep) != int(t.index[s.addr]):
			t.index[s.addr] = int32(len(keep))
		}
		keep = append(keep, s)
	}
	clear(t.sources[len(keep):])
	t.sources = keep
	if len(keep) <= scanSources {
		t.index = nil
	}
}

// dueTarget is a target a sweep is to visit: the target when it was
// scheduled, and its key, which may name a new target by the time of the
// sweep.
type dueTarget struct {
	k key
	t *target
}

const noDue = math.MaxInt64

// Detector finds floods in a stream of flows. It is not safe for
// concurrent use.
type Detector struct {
	cfg     Config
	bogons  *bogonTable
	table   []Bogon
	targets map[key]*target
	// due lists, per minute, the targets with seconds in it or an
	// episode that ends in it unless it goes on: a sweep visits only those.
	due     *minutelists.Lists[dueTarget]
	sweeps  uint64 // sweeps run
	visit   []dueTarget
	deleted int   // targets deleted since the map was rebuilt
	water   int64 // newest record start, ns
	swept   int64 // second up to which bins are final
	alarms  [NumSignatures]alarmHeap
	// dropped counts the alarms beyond MaxAlarms, per signature.
	dropped [NumSignatures]int
}

// alarmHeap keeps a signature's alarms with the most packets: a min-heap
// by packets once full.
type alarmHeap []Alarm

func lessAlarm(a, b *Alarm) bool {
	if a.Packets != b.Packets {
		return a.Packets < b.Packets
	}
	return a.Start.After(b.Start)
}

func (h alarmHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		if r := l + 1; r < len(h) && lessAlarm(&h[r], &h[l]) {
			l = r
		}
		if !lessAlarm(&h[l], &h[i]) {
			return
		}
		h[i], h[l] = h[l], h[i]
		i = l
	}
}

func (h alarmHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !lessAlarm(&h[i], &h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

// keep adds a to its signature's alarms, dropping the smallest beyond
// MaxAlarms.
func (d *Detector) keep(a Alarm) {
	h := &d.alarms[a.Signature]
	if len(*h) < d.cfg.MaxAlarms {
		*h = append(*h, a)
		h.up(len(*h) - 1)
		return
	}
	d.dropped[a.Signature]++
	if lessAlarm(&(*h)[0], &a) {
		(*h)[0] = a
		h.down(0)
	}
}

// Dropped returns, per signature, how many alarms were counted but not
// kept (Config.MaxAlarms).
func (d *Detector) Dropped() [NumSignatures]int { return d.dropped }

// New checks cfg and returns a detector.
func New(cfg Config) (*Detector, error) {
	for s, t := range cfg.Thresholds {
		if !(t.MinRate > 0) || t.MinPackets < 0 || t.Gap < 0 || t.Bin < 0 {
			return nil, fmt.Errorf("%w: %v threshold %+v", ErrConfig, Signature(s), t)
		}
	}
	if cfg.Horizon < time.Second || cfg.TopSources < 1 || cfg.MaxSources < 1 || cfg.MaxAlarms < 1 {
		return nil, fmt.Errorf("%w: horizon %v, %d top sources, %d sources remembered, %d alarms kept", ErrConfig, cfg.Horizon, cfg.TopSources, cfg.MaxSources, cfg.MaxAlarms)
	}
	if cfg.Bogons == nil {
		cfg.Bogons = Bogons()
	}
	d := &Detector{cfg: cfg, targets: map[key]*target{}, due: minutelists.New[dueTarget](), swept: math.MinInt64}
	d.bogons, d.table = newBogonTable(cfg.Bogons, cfg.PrivateBogons, cfg.NotBogons)
	return d, nil
}

// icmpAnswer reports whether an ICMP or ICMPv6 type is an answer or an
// error report, or neighbour discovery, rather than a request.
func icmpAnswer(proto uint8, typ uint8) bool {
	if proto == datasets.ProtoICMP {
		switch typ {
		case 0, 3, 4, 5, 11, 12, 14, 16, 18:
			return true
		}
		return false
	}
	return typ < 128 || typ == 129 || (typ >= 133 && typ <= 137)
}

// Add counts one flow record.
func (d *Detector) Add(f *datasets.Flow) {
	start, end := f.Start.UnixNano(), f.End.UnixNano()
	if end < start {
		start, end = end, start // IPFIX with first and last swapped
	}
	if start > d.water {
		d.water = start
		if d.water/1e9-int64(d.cfg.Horizon/time.Second) > d.swept+60 {
			d.sweep(d.water/1e9 - int64(d.cfg.Horizon/time.Second))
		}
	}
	bidir := f.HasReverse
	fl := f.TCPFlags
	pk := float64(f.Packets)
	switch f.Proto {
	case datasets.ProtoTCP:
		const syn, ack, rst, fin = datasets.FlagSYN, datasets.FlagACK, datasets.FlagRST, datasets.FlagFIN
		switch {
		case fl&syn != 0 && !bidir && fl&ack == 0,
			fl&syn != 0 && bidir && f.Packets <= 2 && fl&(datasets.FlagPSH|fin) == 0:
			if fl&rst != 0 && pk >= 2 {
				pk--
			}
			d.count(SYNFlood, f, datasets.ProtoTCP, f.DstPort, pk, start, end)
		case fl&rst != 0 && fl&(syn|ack) == 0:
			d.count(RSTFlood, f, datasets.ProtoTCP, f.DstPort, pk, start, end)
		case fl&fin != 0 && fl&(syn|ack) == 0:
			d.count(FINFlood, f, datasets.ProtoTCP, f.DstPort, pk, start, end)
		}
	case datasets.ProtoUDP:
		d.count(UDPFlood, f, 0, 0, pk, start, end)
	case datasets.ProtoICMP, datasets.ProtoICMPv6:
		if !icmpAnswer(f.Proto, uint8(f.DstPort>>8)) {
			d.count(ICMPFlood, f, 0, 0, pk, start, end)
		}
	}
	if d.bogons.lookup(f.SrcAddr, d.table) >= 0 {
		d.count(BogonSource, f, 0, 0, float64(f.Packets), start, end)
	}
}

// AddBatch counts every flow of a batch.
func (d *Detector) AddBatch(flows []datasets.Flow) {
	for i := range flows {
		d.Add(&flows[i])
	}
}

// count adds a record's packets to its key's seconds.
func (d *Detector) count(sig Signature, f *datasets.Flow, proto uint8, port uint16, packets float64, start, end int64) {
	if packets <= 0 {
		return
	}
	k := key{sig: sig, dst: f.DstAddr, proto: proto, port: port}
	t := d.targets[k]
	if t == nil {
		t = &target{due: noDue, minBin: math.MaxInt64, pruned: d.swept}
		d.targets[k] = t
	}
	if packets <= 1 {
		// One packet: it was sent at the record's start. (Exporters that
		// give both directions of a connection its times stretch a lone
		// SYN over the answer's retransmissions.)
		end = start
	}
	w := d.cfg.Thresholds[sig].width()
	wn := w * 1e9
	s0 := floorDiv(start, wn)
	if (s0+1)*w-1 <= d.swept {
		// Later than the horizon allows: count it in the first open
		// bin, so that it still adds to an episode under way.
		s0 = floorDiv(d.swept, w) + 1
		start = max(start, s0*wn)
		end = max(end, start)
	}
	add := func(sec int64, p float64) int {
		i, isNew := t.bin(sec)
		b := &t.bins[i].bin
		if isNew {
			b.first, b.last = start, end
			d.schedule(k, t, sec*w)
			t.minBin = min(t.minBin, sec)
		}
		b.packets += p
		b.first, b.last = min(b.first, start), max(b.last, end)
		t.lastSeen = max(t.lastSeen, (sec+1)*w-1)
		return i
	}
	// first is the index of second s0's bin: later seconds are added
	// after it, so it stays valid.
	var first int
	s1 := floorDiv(end, wn)
	if packets <= 1 || s1 == s0 || end == start {
		first = add(s0, packets)
	} else {
		// Spread over the duration, each second by its overlap, the
		// duration capped at a day.
		end = min(end, start+86400e9)
		s1 = floorDiv(end, wn)
		dur := float64(end - start)
		for s := s0; s <= s1; s++ {
			lo, hi := max(start, s*wn), min(end, (s+1)*wn)
			if hi > lo {
				i := add(s, packets*float64(hi-lo)/dur)
				if s == s0 {
					first = i
				}
			}
		}
	}
	t.bins[first].flows++
	src := t.source(f.SrcAddr)
	if src == nil {
		if len(t.sources) >= d.cfg.MaxSources {
			t.overflow++
			return
		}
		src = t.addSource(srcStat{addr: f.SrcAddr, first: start, last: end, bogon: d.bogons.lookup(f.SrcAddr, d.table)})
	}
	src.packets += packets
	src.flows++
	src.first, src.last = min(src.first, start), max(src.last, end)
	if sig == UDPFlood {
		src.addPort(f.DstPort, packets)
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// schedule makes the sweep of second sec's minute visit k, unless it
// visits it earlier anyway.
func (d *Detector) schedule(k key, t *target, sec int64) {
	m := floorDiv(sec, 60)
	if t.due <= m {
		return
	}
	t.due = m
	d.due.Add(m, dueTarget{k, t})
}

// sweep makes every second up to and including upTo final: it runs the
// episodes of the targets due through them and forgets targets with
// nothing left. Targets are independent, so the order they are visited in
// does not matter.
func (d *Detector) sweep(upTo int64) {
	if upTo <= d.swept {
		return
	}
	d.swept = upTo
	d.sweeps++
	visit := d.visit[:0]
	d.due.Sweep(floorDiv(upTo, 60), func(due []dueTarget) []dueTarget {
		for _, e := range due {
			if e.t.gone {
				// Forgotten since: the key's target now, if any.
				if e.t = d.targets[e.k]; e.t == nil {
					continue
				}
			}
			if e.t.visited != d.sweeps {
				e.t.visited = d.sweeps
				visit = append(visit, e)
			}
		}
		return due[:0]
	})
	for _, e := range visit {
		k, t := e.k, e.t
		t.due = noDue
		th := d.cfg.Thresholds[k.sig]
		w := th.width()
		upBin := floorDiv(upTo+1, w) - 1 // the last bin that is over
		j := t.head
		for ; j < len(t.bins) && t.bins[j].sec <= upBin; j++ {
			s, b := t.bins[j].sec, &t.bins[j].bin
			if t.open != nil && s-t.open.lastActive-1 > int64(th.Gap) {
				d.close(k, t)
			}
			if b.packets < th.MinRate*float64(w) {
				if t.open != nil {
					t.open.pending = append(t.open.pending, secBin{s, *b})
				} else {
					t.prev, t.hasPrev = secBin{s, *b}, true
				}
				continue
			}
			if t.open == nil {
				t.open = &episode{start: s, first: b.first, last: b.last}
				if t.hasPrev && t.prev.sec == s-1 {
					// The second before: the episode's leading edge.
					t.open.start = t.prev.sec
					t.open.take(&t.prev.bin)
				}
				t.prev, t.hasPrev = secBin{}, false
			}
			e := t.open
			for i := range e.pending {
				e.take(&e.pending[i].bin)
			}
			e.pending = e.pending[:0]
			e.lastActive = s
			e.take(b)
			e.peak = max(e.peak, b.packets)
		}
		switch t.head = j; {
		case j == len(t.bins):
			t.bins, t.head = t.bins[:0], 0
		case j > len(t.bins)/2:
			// Swept bins take half the slice: move the rest down.
			k := copy(t.bins, t.bins[j:])
			t.bins, t.head = t.bins[:k], 0
		}
		if t.minBin <= upBin {
			t.minBin = upBin + 1
		}
		if len(t.bins) > t.head {
			d.schedule(k, t, t.minBin*w) // visit it again in a later sweep
		}
		if t.open != nil {
			if upBin-t.open.lastActive > int64(th.Gap) {
				d.close(k, t)
			} else {
				d.schedule(k, t, (t.open.lastActive+int64(th.Gap)+1)*w) // ends then unless it goes on
			}
		}
		if t.open == nil && len(t.bins) == t.head && t.lastSeen <= upTo {
			t.gone = true
			delete(d.targets, k)
			d.deleted++
			continue
		}
		if t.open == nil && upTo-t.pruned >= 600 {
			// No episode can take sources seen only in bins that are
			// over; they are let go every ten minutes.
			t.pruned = upTo
			over := (upBin+1)*w*1e9 - 1
			t.pruneSources(over)
			t.overflow = 0
		}
	}
	clear(visit)
	d.visit = visit[:0]
	if d.deleted > 2*len(d.targets)+1024 {
		d.targets = maps.Clone(d.targets)
		d.deleted = 0
	}
}

// close ends a target's open episode, raising an alarm when it is big
// enough.
func (d *Detector) close(k key, t *target) {
	e := t.open
	t.open = nil
	if len(e.pending) > 0 && e.pending[0].sec == e.lastActive+1 {
		e.take(&e.pending[0].bin) // the trailing edge
	}
	if e.packets < d.cfg.Thresholds[k.sig].MinPackets {
		return
	}
	a := Alarm{
		Signature: k.sig, Target: k.dst, Proto: k.proto, Port: k.port,
		Start: time.Unix(0, e.first).UTC(), End: time.Unix(0, e.last).UTC(),
		Packets: e.packets, Flows: e.flows,
	}
	wi := d.cfg.Thresholds[k.sig].width()
	w := float64(wi)
	a.PeakRate = e.peak / w
	// The mean over the bins from the first packet's to the last's, so
	// that it never passes the peak (a burst of 1.1 s across two seconds
	// is a mean over two bins, not over 1.1 s).
	wns := wi * int64(time.Second)
	bins := int64(1)
	if e.last > e.first {
		bins = floorDiv(e.last-1, wns) - floorDiv(e.first, wns) + 1
	}
	a.MeanRate = e.packets / (float64(bins) * w)
	// The sources active during the episode.
	var srcs []Source
	ports := map[uint16]float64{}
	nets := map[[2]byte]bool{}
	ranges := map[int]bool{}
	singles, bogons := 0, 0
	for i := range t.sources {
		s, addr := &t.sources[i], t.sources[i].addr
		if s.last < e.first || s.first > e.last {
			continue
		}
		srcs = append(srcs, Source{Addr: addr, Packets: s.packets, Flows: s.flows})
		if s.packets <= 1 {
			singles++
		}
		if addr.Is4() {
			nets[[2]byte{addr.As4()[0], 0}] = true
		} else {
			b := addr.As16()
			nets[[2]byte{b[0], b[1]}] = true
		}
		if s.bogon >= 0 {
			ranges[s.bogon] = true
			bogons++
		}
		for _, p := range s.ports {
			ports[p.port] += p.packets
		}
	}
	slices.SortFunc(srcs, func(x, y Source) int {
		return cmp.Or(cmp.Compare(y.Packets, x.Packets), x.Addr.Compare(y.Addr))
	})
	sp := Spoofing{Distinct: len(srcs), Truncated: t.overflow > 0, Networks: len(nets), Bogons: bogons}
	if len(srcs) > 0 {
		sp.Singletons = float64(singles) / float64(len(srcs))
	}
	sp.Spoofed = sp.Distinct >= 50 && sp.Singletons >= 0.9 && sp.Networks >= 32
	a.Spoofing = sp
	top := d.cfg.TopSources
	if k.sig == BogonSource {
		top = max(top, 16) // each bogon source is news
	}
	a.Sources = srcs[:min(len(srcs), top)]
	for i := range ranges {
		a.Ranges = append(a.Ranges, d.table[i])
	}
	slices.SortFunc(a.Ranges, func(x, y Bogon) int { return x.Prefix.Addr().Compare(y.Prefix.Addr()) })
	for p := range ports {
		a.Ports = append(a.Ports, p)
	}
	slices.SortFunc(a.Ports, func(x, y uint16) int { return cmp.Or(cmp.Compare(ports[y], ports[x]), cmp.Compare(x, y)) })
	a.Ports = a.Ports[:min(len(a.Ports), 5)]
	d.keep(a)
}

// Alarms finishes every episode and returns the alarms kept, by start
// time, then signature and target. Flows added afterwards start a new
// count.
func (d *Detector) Alarms() []Alarm {
	d.sweep(math.MaxInt64 / int64(time.Second))
	for k, t := range d.targets {
		if t.open != nil {
			d.close(k, t)
		}
	}
	d.targets = map[key]*target{}
	d.due.Reset()
	d.swept = math.MinInt64
	var out []Alarm
	for _, h := range d.alarms {
		out = append(out, h...)
	}
	d.alarms = [NumSignatures]alarmHeap{}
	slices.SortStableFunc(out, func(a, b Alarm) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Signature, b.Signature), a.Target.Compare(b.Target), cmp.Compare(a.Port, b.Port))
	})
	return out
}
