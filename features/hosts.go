// Package features also computes per-host features for the nightly run:
// HostAggregator folds every flow into one row per internal host (traffic
// in and out, peers, ports, protocol mix, server role, 1-second rates with
// their mean and 95th percentile, flow durations, TTLs) and into the site's
// whole per-second and per-minute series. Memory grows with the number of
// internal hosts, never with the number of flows: per-second values are
// kept exactly only for the last minutes of the stream (HostConfig.Horizon)
// and then folded into a DDSketch per host (DataDog/sketches-go); distinct
// peers and ports are counted exactly up to 16 and by a HyperLogLog sketch
// beyond (axiomhq/hyperloglog).
//
// One sketch is written here rather than taken from a library: the
// distinct peers of each port a host answers on are counted in a 256-bit
// linear-counting bitmap (Whang, Vander-Zanden and Taylor, 1990). A host
// keeps up to eight such ports; a HyperLogLog sketch for each would cost
// kilobytes once dense where the bitmap takes 32 bytes, and the question
// it answers ("one peer, a few, or hundreds?") needs no more than the
// bitmap's accuracy: a standard error of about 4% at ten peers, 5% at 250
// and 11% at 1,000 (TestLinearCounter), saturating at about 1,400.
package features

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/fingerflow/fingerflow/datasets"
)

// HostConfig tunes HostAggregator. The zero value is not useful; start from
// DefaultHostConfig.
type HostConfig struct {
	// Internal lists the site's own networks: a flow counts for each of its
	// endpoints inside one of them. Flows with neither endpoint inside are
	// counted in SiteStats.ForeignFlows and otherwise ignored.
	Internal []netip.Prefix

	// Horizon: a host's per-second values stay exact until the newest flow
	// start seen is more than Horizon past their minute; then they are
	// folded into the host's quantile sketches. It must exceed the
	// exporters' active timeout (records are written when a flow ends, so
	// a file holds records that started up to that timeout before its
	// newest ones). A record that starts more than Horizon before the
	// newest start seen is late: it counts in every total and in the mean,
	// its seconds that fall into already folded minutes enter the sketches
	// as values of their own (approximate), and it is counted
	// (HostStats.LateRecords, SiteStats.LateRecords).
	Horizon time.Duration

	// RelativeAccuracy of the per-host quantile sketches: a reported P95
	// lies within this relative error of the value the whole series gives
	// (TestHostsAgainstPandas checks it against pandas).
	RelativeAccuracy float64

	// ServicePorts are ports at or above 1024 that count as service ports;
	// every port below 1024 is one too. See HostStats.Services for the rule.
	ServicePorts []uint16
	// ServiceSlots is how many ports per host the server-role table keeps
	// (the most frequent ones, space-saving top-K by flows).
	ServiceSlots int
	// MinServicePeers: a port a host only receives on (no answer seen, as
	// when the exporter sees one direction) counts as a port it answers on
	// when at least this many distinct peers sent to it.
	MinServicePeers int

	// DistinctPrecision is the HyperLogLog precision (4 to 18) for distinct
	// peers and ports beyond 16: 2^p one-byte registers, standard error
	// 1.04/sqrt(2^p). 11 gives 2 KiB and 2.3%.
	DistinctPrecision uint8

	// MaxFlowDuration bounds the span one record is spread over: a longer
	// record (a broken clock, an unknown start) counts in every total but
	// is spread over the MaxFlowDuration before its end, and is counted
	// (SiteStats.ClippedRecords). Exporters end flows at their active
	// timeout, well below the default of a day.
	MaxFlowDuration time.Duration

	// MaxSeriesSpan bounds the site's dense series (SiteStats.BytesPerSecond
	// and the others):
	// a stream whose active seconds span longer (a broken exporter clock
	// stamping 1970) gets its mean and P95 but no dense series.
	MaxSeriesSpan time.Duration
}

// DefaultInternal are the RFC 1918 IPv4 networks and the IPv6 unique local
// addresses (fc00::/7).
func DefaultInternal() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("fc00::/7"),
	}
}

// DefaultServicePorts are registered service ports at or above 1024 that lie
// below the ephemeral ranges of current systems (Linux 32768-60999, Windows
// and BSD 49152-65535): databases, proxies, remote desktops, brokers,
// directory and VPN services, alternative HTTP ports.
func DefaultServicePorts() []uint16 {
	return []uint16{
		1080, 1194, 1433, 1521, 1701, 1723, 1883, 2049, 2375, 2376, 3128, 3268, 3269,
		3306, 3389, 3478, 4500, 5060, 5061, 5222, 5353, 5355, 5432, 5601, 5671, 5672,
		5900, 5985, 5986, 6379, 6443, 8000, 8008, 8080, 8081, 8443, 8883, 8888, 9000,
		9090, 9092, 9100, 9200, 9418, 11211, 27017,
	}
}

// DefaultHostConfig returns the default internal networks and service
// ports, a 15-minute horizon, 1% relative accuracy, eight service slots,
// three peers for a receive-only service port, HyperLogLog precision 11,
// records spread over at most a day and dense site series up to 31 days.
func DefaultHostConfig() HostConfig {
	return HostConfig{
		Internal:          DefaultInternal(),
		Horizon:           15 * time.Minute,
		RelativeAccuracy:  0.01,
		ServicePorts:      DefaultServicePorts(),
		ServiceSlots:      8,
		MinServicePeers:   3,
		DistinctPrecision: 11,
		MaxFlowDuration:   24 * time.Hour,
		MaxSeriesSpan:     31 * 24 * time.Hour,
	}
}

// ErrHostConfig is wrapped by NewHostAggregator's errors.
var ErrHostConfig = errors.New("invalid host feature configuration")

type net4 struct{ addr, mask uint32 }
type net6 struct{ hi, lo, mhi, mlo uint64 }

// HostAggregator accumulates per-host and site-wide features from a stream
// of flows, one Add at a time. Records should arrive roughly in time order
// (rotated files in order; within a file a record may start up to the
// exporter's active timeout before the newest). It is not safe for
// concurrent use.
type HostAggregator struct {
	cfg     HostConfig
	nets4   []net4
	nets6   []net6
	service [65536 / 64]uint64 // bit p: port p is a service port

	hosts4 map[uint32]*host
	hosts6 map[[16]byte]*host
	all    []*host // in order of first appearance

	mapping *mapping.CubicallyInterpolatedMapping // of every host's rate sketches

	free   []*hostPage // pages to reuse
	site   siteSeries
	water  int64             // newest flow start seen, Unix ns
	seen   bool              // water is set
	vb, vp [pageSecs]float64 // spread's scratch
	queue  []due             // pages to fold, from head on
	head   int
	limit  int64 // pages below this number are due

	flows, packets, bytes uint64
	foreign               uint64
	late                  uint64
	clipped               uint64
	first, last           int64
}

// NewHostAggregator checks cfg and returns an empty aggregator.
func NewHostAggregator(cfg HostConfig) (*HostAggregator, error) {
	if len(cfg.Internal) == 0 {
		return nil, fmt.Errorf("%w: no internal networks", ErrHostConfig)
	}
	if cfg.Horizon < time.Minute {
		return nil, fmt.Errorf("%w: horizon %v below one minute", ErrHostConfig, cfg.Horizon)
	}
	if !(cfg.RelativeAccuracy > 0 && cfg.RelativeAccuracy < 1) {
		return nil, fmt.Errorf("%w: relative accuracy %v not in (0,1)", ErrHostConfig, cfg.RelativeAccuracy)
	}
	if cfg.ServiceSlots < 1 || cfg.ServiceSlots > 64 {
		return nil, fmt.Errorf("%w: %d service slots (1 to 64)", ErrHostConfig, cfg.ServiceSlots)
	}
	if cfg.MinServicePeers < 1 {
		return nil, fmt.Errorf("%w: minimum service peers %d below 1", ErrHostConfig, cfg.MinServicePeers)
	}
	if cfg.MaxFlowDuration < time.Second {
		return nil, fmt.Errorf("%w: maximum flow duration %v below one second", ErrHostConfig, cfg.MaxFlowDuration)
	}
	if cfg.DistinctPrecision < 4 || cfg.DistinctPrecision > 18 {
		return nil, fmt.Errorf("%w: HyperLogLog precision %d (4 to 18)", ErrHostConfig, cfg.DistinctPrecision)
	}
	m, err := mapping.NewCubicallyInterpolatedMapping(cfg.RelativeAccuracy)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHostConfig, err)
	}
	a := &HostAggregator{
		cfg:     cfg,
		hosts4:  map[uint32]*host{},
		hosts6:  map[[16]byte]*host{},
		mapping: m,
		limit:   math.MinInt64,
		site:    siteSeries{pages: map[int64]*sitePage{}},
	}
	for _, p := range cfg.Internal {
		if !p.IsValid() {
			return nil, fmt.Errorf("%w: invalid internal network", ErrHostConfig)
		}
		p = p.Masked()
		if p.Addr().Is4() {
			mask := uint32(0)
			if p.Bits() > 0 {
				mask = ^uint32(0) << (32 - p.Bits())
			}
			b := p.Addr().As4()
			a.nets4 = append(a.nets4, net4{binary.BigEndian.Uint32(b[:]), mask})
			continue
		}
		hi, lo := split16(p.Addr().As16())
		var mhi, mlo uint64
		switch bits := p.Bits(); {
		case bits == 0:
		case bits <= 64:
			mhi = ^uint64(0) << (64 - bits)
		default:
			mhi = ^uint64(0)
			mlo = ^uint64(0) << (128 - bits)
		}
		a.nets6 = append(a.nets6, net6{hi, lo, mhi, mlo})
	}
	for p := 0; p < 1024; p++ {
		a.service[p/64] |= 1 << (p % 64)
	}
	for _, p := range cfg.ServicePorts {
		a.service[p/64] |= 1 << (p % 64)
	}
	return a, nil
}

func split16(b [16]byte) (hi, lo uint64) {
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// Internal reports whether addr lies in one of the internal networks.
func (a *HostAggregator) Internal(addr netip.Addr) bool {
	addr = addr.Unmap()
	if addr.Is4() {
		b := addr.As4()
		return a.internal4(binary.BigEndian.Uint32(b[:]))
	}
	if addr.Is6() {
		hi, lo := split16(addr.As16())
		return a.internal6(hi, lo)
	}
	return false
}

func (a *HostAggregator) internal4(x uint32) bool {
	for _, n := range a.nets4 {
		if x&n.mask == n.addr {
			return true
		}
	}
	return false
}

func (a *HostAggregator) internal6(hi, lo uint64) bool {
	for _, n := range a.nets6 {
		if hi&n.mhi == n.hi && lo&n.mlo == n.lo {
			return true
		}
	}
	return false
}

// host returns the state of an internal host, created on first sight, and
// the hash of the address (for distinct-peer counting by the other
// endpoint); nil for an address outside the internal networks.
func (a *HostAggregator) host(addr netip.Addr) (*host, uint64) {
	if addr.Is4() || addr.Is4In6() {
		b := addr.Unmap().As4()
		x := binary.BigEndian.Uint32(b[:])
		hash := mix64(uint64(x) | 1<<32)
		if !a.internal4(x) {
			return nil, hash
		}
		h := a.hosts4[x]
		if h == nil {
			h = a.newHost(netip.AddrFrom4(b))
			a.hosts4[x] = h
		}
		return h, hash
	}
	if !addr.IsValid() {
		return nil, 0
	}
	b := addr.As16()
	hi, lo := split16(b)
	hash := mix64(hi ^ mix64(lo^0x9e3779b97f4a7c15))
	if !a.internal6(hi, lo) {
		return nil, hash
	}
	h := a.hosts6[b]
	if h == nil {
		h = a.newHost(netip.AddrFrom16(b))
		a.hosts6[b] = h
	}
	return h, hash
}

func (a *HostAggregator) newHost(addr netip.Addr) *host {
	h := &host{addr: addr, services: make([]service, 0, min(a.cfg.ServiceSlots, 4))}
	a.all = append(a.all, h)
	return h
}

// mix64 is the finaliser of MurmurHash3: a bijection on 64 bits whose output
// bits all depend on every input bit, which is what HyperLogLog and the
// linear counters need of their hashes.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// Protocol classes of HostStats.ProtoBytes.
const (
	ClassTCP = iota
	ClassUDP
	ClassICMP // ICMP and ICMPv6
	ClassOther
)

func protoClass(p uint8) int {
	switch p {
	case datasets.ProtoTCP:
		return ClassTCP
	case datasets.ProtoUDP:
		return ClassUDP
	case datasets.ProtoICMP, datasets.ProtoICMPv6:
		return ClassICMP
	}
	return ClassOther
}

// hasPorts: protocols whose flows carry real port numbers (TCP, UDP, SCTP).
func hasPorts(p uint8) bool {
	return p == datasets.ProtoTCP || p == datasets.ProtoUDP || p == 132
}

func (a *HostAggregator) isService(p uint16) bool {
	return a.service[p/64]&(1<<(p%64)) != 0
}

// served reports whether a flow sent from port from to port to is a
// service's traffic: from is a service port and to an ephemeral one (at or
// above 1024 and not a service port).
func (a *HostAggregator) served(from, to uint16) bool {
	return to >= 1024 && a.isService(from) && !a.isService(to)
}

// answerKind tells an answer from a reset: TCP flags with RST but neither
// data (PSH) nor FIN are what a closed port sends back. Flags are the OR
// over the record, both directions of a biflow.
func answerKind(proto, flags uint8) int {
	if proto == datasets.ProtoTCP && flags&datasets.FlagRST != 0 && flags&(datasets.FlagPSH|datasets.FlagFIN) == 0 {
		return reset
	}
	return answer
}

// host is the state of one internal host.
type host struct {
	addr                   netip.Addr
	first, last            int64 // Unix ns: earliest start, latest end
	firstSec, lastSec      int64 // active seconds (Unix), valid when flows > 0
	spanSet                bool
	bytesOut, bytesIn      uint64
	pktsOut, pktsIn        uint64
	flowsOut, flowsIn      uint64
	proto                  [4]uint64 // bytes in+out by class
	durOut                 int64     // ns, over the flows the host sends
	seriesBytes, seriesPks uint64    // bytes and packets in the per-second series
	peers, ports           distinct
	services               []service
	ttl                    [ttlSlots]ttlCount
	ttlOther               uint64
	noTTL                  uint64
	late                   uint64
	named, unknown         int

	pages    []pageRef // unfolded pages, ascending
	folded   int64     // pages below this number have been folded
	bsk, psk rateSketch
	minutes  minuteSeries
}

const ttlSlots = 4

type ttlCount struct {
	ttl   uint8
	flows uint64
}

func (h *host) addTTL(f *datasets.Flow) {
	t := f.MaxTTL
	if t == 0 {
		t = f.MinTTL
	}
	if t == 0 {
		h.noTTL++
		return
	}
	for i := range h.ttl {
		s := &h.ttl[i]
		if s.ttl == t {
			s.flows++
			return
		}
		if s.ttl == 0 {
			s.ttl, s.flows = t, 1
			return
		}
	}
	h.ttlOther++
}

// InitialTTL is the initial TTL (hop limit) a packet seen with TTL observed
// most likely left its sender with: the next of 32, 64, 128 and 255 at or
// above it. Linux, macOS, Android and most network gear start at 64, Windows
// at 128, some routers and Solaris at 255. 0 (not recorded) gives 0.
func InitialTTL(observed uint8) uint8 {
	switch {
	case observed == 0:
		return 0
	case observed <= 32:
		return 32
	case observed <= 64:
		return 64
	case observed <= 128:
		return 128
	}
	return 255
}

// Add feeds one flow record.
//
// For each endpoint inside the internal networks the record counts: the
// forward counters (Packets, Bytes) as out for the source and in for the
// destination, and for a bidirectional record (HasReverse with packets or
// bytes the other way) the reverse counters the other way round. Each
// direction that is counted is one flow for its sender and one for its
// receiver; a flow between two internal hosts counts for both. Records are
// not told apart by exporter: where two exporters report the same traffic,
// feed one exporter's records.
func (a *HostAggregator) Add(f *datasets.Flow) {
	src, srcHash := a.host(f.SrcAddr)
	dst, dstHash := a.host(f.DstAddr)
	if src == nil && dst == nil {
		a.foreign++
		return
	}
	start, end := f.Start.UnixNano(), f.End.UnixNano()
	if end < start {
		// Some exporters stamp the end before the start (softflowd's
		// IPFIX export from a capture file): the span is what counts.
		start, end = end, start
	}
	rev := f.HasReverse && (f.RevPackets > 0 || f.RevBytes > 0)
	var rb, rp uint64
	dirs := uint64(1)
	if rev {
		rb, rp, dirs = f.RevBytes, f.RevPackets, 2
	}
	a.flows += dirs
	a.bytes += f.Bytes + rb
	a.packets += f.Packets + rp
	if a.flows == dirs || start < a.first {
		a.first = start
	}
	if a.flows == dirs || end > a.last {
		a.last = end
	}

	late := false
	if !a.seen || start > a.water {
		a.water, a.seen = start, true
		a.foldDue()
	} else if start < a.water-int64(a.cfg.Horizon) {
		late = true
		a.late++
	}

	cls := protoClass(f.Proto)
	ports := hasPorts(f.Proto)
	dur := end - start
	if src != nil {
		src.touch(start, end, late)
		src.proto[cls] += f.Bytes + rb
		src.peers.add(dstHash, a.cfg.DistinctPrecision)
		// forward: the source sends
		src.bytesOut += f.Bytes
		src.pktsOut += f.Packets
		src.flowsOut++
		src.durOut += dur
		src.addTTL(f)
		if ports {
			if a.served(f.SrcPort, f.DstPort) {
				a.addService(src, f.SrcPort, f.Proto, dstHash, answerKind(f.Proto, f.TCPFlags))
			} else {
				src.ports.add(mix64(uint64(f.DstPort)|0xa5<<56), a.cfg.DistinctPrecision)
			}
		}
		if rev {
			src.bytesIn += rb
			src.pktsIn += rp
			src.flowsIn++
			if ports && a.served(f.SrcPort, f.DstPort) {
				a.addService(src, f.SrcPort, f.Proto, dstHash, request)
			}
		}
	}
	if dst != nil {
		if dst != src {
			dst.touch(start, end, late)
			dst.proto[cls] += f.Bytes + rb
		}
		dst.peers.add(srcHash, a.cfg.DistinctPrecision)
		// forward: the destination receives
		dst.bytesIn += f.Bytes
		dst.pktsIn += f.Packets
		dst.flowsIn++
		if ports && a.served(f.DstPort, f.SrcPort) {
			a.addService(dst, f.DstPort, f.Proto, srcHash, request)
		}
		if rev {
			dst.bytesOut += rb
			dst.pktsOut += rp
			dst.flowsOut++
			dst.durOut += dur
			dst.noTTL++ // a record's TTLs are those of its forward direction
			if ports {
				if a.served(f.DstPort, f.SrcPort) {
					a.addService(dst, f.DstPort, f.Proto, srcHash, answerKind(f.Proto, f.TCPFlags))
				} else {
					dst.ports.add(mix64(uint64(f.SrcPort)|0xa5<<56), a.cfg.DistinctPrecision)
				}
			}
		}
	}
	if dst == src {
		dst = nil
	}
	if end-start > int64(a.cfg.MaxFlowDuration) {
		start = end - int64(a.cfg.MaxFlowDuration)
		a.clipped++
	}
	a.spread(start, end, f.Bytes+rb, f.Packets+rp, src, dst)
}

// touch records a flow's times on h.
func (h *host) touch(start, end int64, late bool) {
	if h.flowsIn+h.flowsOut == 0 || start < h.first {
		h.first = start
	}
	if h.flowsIn+h.flowsOut == 0 || end > h.last {
		h.last = end
	}
	if late {
		h.late++
	}
}

// AddDownloads adds downloads the classifier found for host: named ones (a
// catalog file) and unknown ones. It reports false, and records nothing,
// when host is not internal.
func (a *HostAggregator) AddDownloads(host netip.Addr, named, unknown int) bool {
	h, _ := a.host(host)
	if h == nil {
		return false
	}
	h.named += named
	h.unknown += unknown
	return true
}

// Rates summarises a per-second series over its span: the seconds from the
// first to the last one a flow was active in, idle seconds counted as zero
// (pandas: s.resample('1s').sum()). Bytes are IP-layer bytes; divide by
// 1000 for kB/s.
type Rates struct {
	Start       time.Time // first active second
	Seconds     int64     // span in seconds (0 when nothing was seen)
	BytesMean   float64   // bytes per second
	BytesP95    float64   // 95th percentile of bytes per second
	PacketsMean float64
	PacketsP95  float64
}

// Service is a port a host answers on.
type Service struct {
	Port  uint16
	Proto uint8
	// Peers is the number of distinct peers (estimated beyond a few dozen)
	// that sent to the port or got answers from it.
	Peers int
	// Flows counts the flows to the port and the answers from it.
	Flows uint64
	// Answers counts the answers the host sent from the port.
	Answers uint64
}

// String renders "port/proto", e.g. "53/udp".
func (s Service) String() string {
	name := datasets.ProtoName(s.Proto)
	b := []byte(fmt.Sprintf("%d/", s.Port))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

// TTLCount is one observed TTL and the number of flows the host sent with it.
type TTLCount struct {
	TTL   uint8
	Flows uint64
}

// MinuteRate is a host's or the site's traffic in one minute.
type MinuteRate struct {
	Start   time.Time
	Bytes   float64
	Packets float64
}

// HostStats are the features of one internal host.
type HostStats struct {
	Addr netip.Addr
	// First and Last are the earliest flow start and the latest flow end.
	First, Last time.Time

	BytesOut, BytesIn     uint64 // IP-layer bytes
	PacketsOut, PacketsIn uint64
	FlowsOut, FlowsIn     uint64 // flow directions sent and received

	// Peers is the number of distinct addresses the host exchanged flows
	// with (exact up to 16, HyperLogLog beyond).
	Peers uint64
	// Ports is the number of distinct remote ports the host contacted: the
	// destination ports of the TCP, UDP and SCTP flows it sent, except its
	// answers as a server (flows from a service port to an ephemeral port).
	// A port scanner has many; a client a handful. Exact up to 16.
	Ports uint64

	// ProtoBytes are the bytes in and out by class (ClassTCP, ClassUDP,
	// ClassICMP, ClassOther).
	ProtoBytes [4]uint64

	// Services are the ports the host answers on, most peers first. A flow
	// the host sends from a service port (below 1024, or one of
	// HostConfig.ServicePorts) to an ephemeral port (1024 or above and not
	// a service port) is an answer on the service port; a flow to the
	// host's service port from an ephemeral one is a request. A port counts
	// as answered when the host sent an answer from it, or when
	// MinServicePeers distinct peers sent requests to it and the host never
	// reset a connection on it. A TCP flow from the port whose flags have
	// RST without PSH or FIN is a reset (what a closed port answers), not
	// an answer. Only ServiceSlots ports are tracked per host: the most
	// frequent ones, those with answers kept before those without.
	Services []Service

	// Rates are the host's per-second traffic (in and out together) at
	// 1-second resolution: every flow's bytes and packets spread evenly over
	// its duration (a zero-length flow in its start second). The P95 values
	// come from a DDSketch (HostConfig.RelativeAccuracy).
	Rates Rates

	// DurationOut is the accumulated duration of the flows the host sent
	// (the GDP collector's T column; its C column is FlowsOut).
	DurationOut time.Duration

	// SiteShare is (BytesIn+BytesOut) / SiteStats.Bytes. Traffic between
	// two internal hosts counts for both, so shares may add up to more
	// than one.
	SiteShare float64

	// TTLs are the TTLs of the host's own packets, from the flows it sent
	// whose exporter records them (MaxTTL, else MinTTL), most flows first;
	// at most four values, flows with further values in TTLOther. A
	// bidirectional record's TTLs are its source's: the reverse direction
	// a host sends counts as a flow without TTL.
	TTLs     []TTLCount
	TTLOther uint64
	// NoTTLFlows counts the flows the host sent without a recorded TTL.
	NoTTLFlows uint64

	// Minutes is the host's traffic per minute, active minutes only, in
	// time order.
	Minutes []MinuteRate

	// LateRecords counts the host's records that started more than
	// HostConfig.Horizon before the newest start seen.
	LateRecords uint64

	DownloadsNamed, DownloadsUnknown int
}

// SiteStats are the totals and series of the whole site: every flow with at
// least one internal endpoint, once.
type SiteStats struct {
	Hosts            int
	Flows            uint64 // flow directions (a biflow with answers counts two)
	Bytes, Packets   uint64
	First, Last      time.Time
	ForeignFlows     uint64 // records with no internal endpoint, ignored
	LateRecords      uint64 // records that started more than HostConfig.Horizon before the newest
	ClippedRecords   uint64 // records longer than HostConfig.MaxFlowDuration
	Rates            Rates  // mean and P95 exact, from the whole series
	BytesPerSecond   []float64
	PacketsPerSecond []float64 // from Rates.Start, one value a second
	MinuteStart      time.Time
	BytesPerMinute   []float64
	PacketsPerMinute []float64
	SeriesOmitted    bool // the span exceeds HostConfig.MaxSeriesSpan: no dense series
}

// Hosts returns the features of every internal host, sorted by address. It
// folds every pending second first: call it after the last Add (a later Add
// still counts, its seconds in already folded minutes folded approximately
// as for late records).
func (a *HostAggregator) Hosts() []HostStats {
	return a.hosts(true)
}

// HostsWithoutMinutes is Hosts with every host's Minutes left nil. A host
// active all day has 1,440 of them, 56 KiB as MinuteRates: on a site of
// 5,000 such hosts the host table takes 290 MB with them and 2 MB
// without (the synthetic day's, its hosts active 500 minutes on average:
// 101 MB and 2 MB). Minutes gives the minutes of the hosts that need them.
func (a *HostAggregator) HostsWithoutMinutes() []HostStats {
	return a.hosts(false)
}

// Minutes returns a host's traffic per active minute (HostStats.Minutes),
// and false when the host was never seen. Like Hosts it folds every
// pending second.
func (a *HostAggregator) Minutes(addr netip.Addr) ([]MinuteRate, bool) {
	h := a.lookup(addr)
	if h == nil {
		return nil, false
	}
	a.foldAll()
	return h.minutes.rates(), true
}

func (a *HostAggregator) hosts(minutes bool) []HostStats {
	a.foldAll()
	out := make([]HostStats, 0, len(a.all))
	for _, h := range a.all {
		out = append(out, a.stats(h, minutes))
	}
	slices.SortFunc(out, func(x, y HostStats) int { return x.Addr.Compare(y.Addr) })
	return out
}

// Host returns the features of one host, and false when it was never seen.
// Like Hosts it folds every pending second.
func (a *HostAggregator) Host(addr netip.Addr) (HostStats, bool) {
	h := a.lookup(addr)
	if h == nil {
		return HostStats{}, false
	}
	a.foldAll()
	return a.stats(h, true), true
}

// lookup returns the state of a host seen, or nil.
func (a *HostAggregator) lookup(addr netip.Addr) *host {
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		b := addr.As4()
		return a.hosts4[binary.BigEndian.Uint32(b[:])]
	}
	if addr.Is6() {
		return a.hosts6[addr.As16()]
	}
	return nil
}

func unixTime(ns int64) time.Time {
	return time.Unix(0, ns).UTC()
}

func (a *HostAggregator) stats(h *host, minutes bool) HostStats {
	s := HostStats{
		Addr:        h.addr,
		BytesOut:    h.bytesOut,
		BytesIn:     h.bytesIn,
		PacketsOut:  h.pktsOut,
		PacketsIn:   h.pktsIn,
		FlowsOut:    h.flowsOut,
		FlowsIn:     h.flowsIn,
		Peers:       h.peers.estimate(),
		Ports:       h.ports.estimate(),
		ProtoBytes:  h.proto,
		DurationOut: time.Duration(h.durOut),
		TTLOther:    h.ttlOther,
		NoTTLFlows:  h.noTTL,
		LateRecords: h.late,

		DownloadsNamed:   h.named,
		DownloadsUnknown: h.unknown,
	}
	if h.flowsIn+h.flowsOut > 0 {
		s.First, s.Last = unixTime(h.first), unixTime(h.last)
	}
	if a.bytes > 0 {
		s.SiteShare = float64(h.bytesIn+h.bytesOut) / float64(a.bytes)
	}
	for _, t := range h.ttl {
		if t.ttl != 0 {
			s.TTLs = append(s.TTLs, TTLCount{t.ttl, t.flows})
		}
	}
	slices.SortFunc(s.TTLs, func(x, y TTLCount) int {
		if c := cmp.Compare(y.Flows, x.Flows); c != 0 {
			return c
		}
		return cmp.Compare(x.TTL, y.TTL)
	})
	s.Services = a.services(h)
	s.Rates = h.rates(a.mapping)
	if minutes {
		s.Minutes = h.minutes.rates()
	}
	return s
}

// Site returns the site's totals and series. Like Hosts it folds every
// pending second.
func (a *HostAggregator) Site() SiteStats {
	a.foldAll()
	s := SiteStats{
		Hosts:          len(a.all),
		Flows:          a.flows,
		Bytes:          a.bytes,
		Packets:        a.packets,
		ForeignFlows:   a.foreign,
		LateRecords:    a.late,
		ClippedRecords: a.clipped,
	}
	if a.flows > 0 {
		s.First, s.Last = unixTime(a.first), unixTime(a.last)
	}
	a.site.stats(&s, a.cfg.MaxSeriesSpan)
	return s
}
