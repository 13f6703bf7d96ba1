// Package pcapflow turns packet captures (pcap and pcapng) into flow records
// the way a software NetFlow exporter does (softflowd, nfpcapd): packets are
// grouped by 5-tuple into unidirectional flows, one per direction, which end
// on TCP RST or FIN seen both ways, when idle, or when active too long.
//
// Files are read with gopacket's pcapgo readers (pure Go, no libpcap).
// Link, IP and transport headers are decoded by hand rather than with
// gopacket's layers: only a few fields are needed, snaplen-truncated packets
// must still yield their IP length field, and the hand decoder allocates
// nothing per packet.
//
// Link types: Ethernet (with 802.1Q, 802.1ad and QinQ tags), Linux cooked
// capture v1 and v2, raw IP, BSD loopback (null and loop). IPv4 and IPv6
// (extension headers skipped to reach TCP, UDP, ICMP; later fragments carry
// no ports). Other frames (ARP, LLDP, ...) are skipped and counted.
//
// Counting follows the NetFlow convention and softflowd: a packet's bytes
// are its IP total length (IP header included, link header excluded), taken
// from the IP header, so a capture truncated by its snaplen still counts the
// original sizes. On the lab capture (datasets/lab-dev/sample.pcap) every flow
// agrees with softflowd 1.1.0 on packets, bytes and TCP flags
// (testdata/sample.softflowd.csv).
//
// The flow table holds only the flows active at the current capture time;
// expired flows are emitted as the capture advances, ordered by first packet,
// so memory grows with concurrent flows, never with the capture's length.
package pcapflow

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Format is the name this reader registers under.
const Format = "pcap"

// Default timeouts, softflowd's (`softflowd -h`), except ActiveTimeout:
// softflowd's maxlife default is a week, and the lab data sets were made with
// maxlife=3600, which is used here.
const (
	DefaultIdleTimeout   = 3600 * time.Second // softflowd "tcp" and "general"
	DefaultUDPTimeout    = 300 * time.Second  // softflowd "udp"
	DefaultICMPTimeout   = 300 * time.Second  // softflowd "icmp"
	DefaultFINTimeout    = 300 * time.Second  // softflowd "tcp.fin"
	DefaultRSTTimeout    = 120 * time.Second  // softflowd "tcp.rst"
	DefaultActiveTimeout = 3600 * time.Second // softflowd "maxlife" as the lab used it
	DefaultMaxFlows      = 1 << 20
)

// Config sets how packets become flows. The zero Config is softflowd's
// behaviour (see the Default constants); a zero field takes its default.
type Config struct {
	// IdleTimeout ends a TCP flow (or a flow of a protocol other than UDP
	// and ICMP) that saw no packet for this long.
	IdleTimeout time.Duration
	// UDPTimeout and ICMPTimeout are the idle timeouts of UDP and
	// ICMP/ICMPv6 flows.
	UDPTimeout  time.Duration
	ICMPTimeout time.Duration
	// FINTimeout ends a TCP flow this long after its last packet once FIN
	// was seen in both directions; RSTTimeout once RST was seen either way.
	// The lingering catches the last ACK and retransmitted FINs, as
	// softflowd does. Set 1ns to end a flow at its next packet's time.
	FINTimeout time.Duration
	RSTTimeout time.Duration
	// ActiveTimeout splits long flows: the first packet at or after
	// Start+ActiveTimeout opens a new flow.
	ActiveTimeout time.Duration
	// MaxFlows bounds the table: when exceeded, the flows due to expire
	// soonest are ended early until a tenth of the room is free.
	MaxFlows int

	// SplitVLANs keys flows by their VLAN IDs (outer and inner) as well as
	// the 5-tuple, like softflowd -T vlan. By default VLAN tags are ignored
	// (softflowd's default "full" tracking), so a routed packet seen on two
	// VLANs of one trunk is counted in one flow twice.
	SplitVLANs bool

	// Bidirectional yields one Flow per connection instead of one per
	// direction: the initiator (sender of the first packet) is the source,
	// the other direction fills RevPackets and RevBytes (HasReverse set),
	// Start/End cover both directions and TCPFlags is the OR of both.
	Bidirectional bool
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.UDPTimeout, DefaultUDPTimeout)
	def(&c.ICMPTimeout, DefaultICMPTimeout)
	def(&c.FINTimeout, DefaultFINTimeout)
	def(&c.RSTTimeout, DefaultRSTTimeout)
	def(&c.ActiveTimeout, DefaultActiveTimeout)
	if c.MaxFlows <= 0 {
		c.MaxFlows = DefaultMaxFlows
	}
	return c
}

// Reader reads packet captures as flows.
type Reader struct {
	cfg Config
}

var (
	_ datasets.Reader    = (*Reader)(nil)
	_ datasets.Describer = (*Reader)(nil)
)

// New returns a reader that builds flows as cfg says.
func New(cfg Config) *Reader {
	return &Reader{cfg: cfg.withDefaults()}
}

// Format returns "pcap".
func (r *Reader) Format() string { return Format }

// Magic numbers of pcap (both byte orders, micro- and nanosecond) and pcapng.
var (
	pcapMagics = [][4]byte{
		{0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4},
		{0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d},
	}
	ngMagic = [4]byte{0x0a, 0x0d, 0x0d, 0x0a}
)

// Sniff reports whether head starts like a pcap file (magic and version 2)
// or a pcapng section header (with its byte-order magic).
func (r *Reader) Sniff(head []byte) bool {
	if len(head) < 12 {
		return false
	}
	m := [4]byte(head[0:4])
	if m == ngMagic {
		bo := [4]byte(head[8:12])
		return bo == [4]byte{0x1a, 0x2b, 0x3c, 0x4d} || bo == [4]byte{0x4d, 0x3c, 0x2b, 0x1a}
	}
	for i, pm := range pcapMagics {
		if m == pm {
			major := uint16(head[4]) | uint16(head[5])<<8 // little-endian file
			if i%2 == 1 {
				major = uint16(head[4])<<8 | uint16(head[5])
			}
			return major == 2 && len(head) >= 24
		}
	}
	return false
}

// stats is what a pass over a capture learns besides flows.
type stats struct {
	version   string
	linkTypes []layers.LinkType
	snaplen   uint32
	packets   uint64
	nonIP     uint64 // frames that carried no IPv4/IPv6 header we could read
	truncated uint64 // packets captured shorter than on the wire
}

// Flows streams the flows of the capture at path. On a read error the flows
// still in the table are yielded first (their counts are right for the
// packets read), then the error, which names the file, the offset of the
// record that failed and its packet number.
func (r *Reader) Flows(ctx context.Context, path string) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		var st stats
		tbl := newTable(r.cfg)
		var buf []datasets.Flow
		emit := func() bool {
			for _, e := range tbl.drain() {
				buf = appendFlows(buf[:0], e, r.cfg.Bidirectional)
				for _, f := range buf {
					if !yield(f, nil) {
						return false
					}
				}
			}
			return true
		}
		err := scan(ctx, path, &st, func(p *packet, ts time.Time) bool {
			tbl.add(p, ts)
			return emit()
		})
		if errors.Is(err, errStopped) {
			return
		}
		if ctx.Err() != nil {
			yield(datasets.Flow{}, err)
			return
		}
		tbl.flush()
		if !emit() {
			return
		}
		if err != nil {
			yield(datasets.Flow{}, err)
		}
	}
}

// Describe fills the capture's format version, link type and notes (snaplen,
// packets, frames skipped) by reading its packet headers.
func (r *Reader) Describe(ctx context.Context, path string, info *datasets.FileInfo) error {
	var st stats
	if err := scan(ctx, path, &st, nil); err != nil {
		return err
	}
	info.Version = st.version
	info.Ident = ""
	for i, lt := range st.linkTypes {
		if i > 0 {
			info.Ident += ", "
		}
		info.Ident += linkName(lt)
	}
	snap := "no snaplen"
	if st.snaplen > 0 {
		snap = fmt.Sprintf("snaplen %d", st.snaplen)
	}
	info.Notes = append(info.Notes, snap,
		fmt.Sprintf("%d packets, %d non-IP skipped", st.packets, st.nonIP))
	if st.truncated > 0 {
		info.Notes = append(info.Notes, fmt.Sprintf(
			"%d packets truncated by the snaplen: bytes counted from their IP headers", st.truncated))
	}
	return nil
}

func linkName(lt layers.LinkType) string {
	switch lt {
	case layers.LinkTypeLinuxSLL:
		return "Linux cooked v1"
	case layers.LinkTypeLinuxSLL2:
		return "Linux cooked v2"
	case layers.LinkTypeRaw, linkTypeRawAlt1, linkTypeRawAlt2:
		return "raw IP"
	case linkTypeIPv4:
		return "raw IPv4"
	case linkTypeIPv6:
		return "raw IPv6"
	case layers.LinkTypeNull:
		return "BSD loopback"
	case layers.LinkTypeLoop:
		return "OpenBSD loopback"
	case layers.LinkTypeEthernet:
		return "Ethernet"
	}
	return fmt.Sprintf("link type %d", lt)
}

// errStopped is returned by scan when its callback asked to stop.
var errStopped = errors.New("stopped")

// packetSource is pcapgo's pcap or pcapng reader.
type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// scan reads every packet of the capture at path, decodes it and hands IP
// packets to fn (nil: only count). Errors name the file, offset and packet.
func scan(ctx context.Context, path string, st *stats, fn func(*packet, time.Time) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cr := &datasets.CountingReader{R: f}
	// pcapgo wraps its input in bufio.NewReader, which reuses a
	// *bufio.Reader at least as large: so cr.N-br.Buffered() is the offset
	// pcapgo has consumed.
	br := bufio.NewReaderSize(cr, 64<<10)
	offset := func() int64 { return cr.N - int64(br.Buffered()) }

	magic, err := br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			if len(magic) == 0 {
				return fmt.Errorf("%s: %w", path, datasets.ErrEmpty)
			}
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%s: offset 0: file header: %w", path, err)
	}
	var src packetSource
	ng := [4]byte(magic) == ngMagic
	var fixedLink layers.LinkType
	if ng {
		ngr, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return headerError(path, err)
		}
		src = ngr
		st.version = "pcapng"
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return headerError(path, err)
		}
		src = pr
		fixedLink = pr.LinkType()
		st.snaplen = pr.Snaplen()
		st.version = "pcap 2.4"
		if pr.Resolution() == gopacket.TimestampResolutionNanosecond {
			st.version += ", nanosecond timestamps"
		}
		st.linkTypes = []layers.LinkType{fixedLink}
		if !supportedLink(fixedLink) {
			return fmt.Errorf("%s: %w: %s (only Ethernet, Linux cooked, raw IP and loopback captures carry flows)",
				path, datasets.ErrUnsupported, linkName(fixedLink))
		}
	}

	var p packet
	for i := 1; ; i++ {
		if i&4095 == 1 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		off := offset()
		data, ci, err := src.ZeroCopyReadPacketData()
		if err == io.EOF && ci.CaptureLength == 0 && ci.Timestamp.IsZero() {
			return nil
		}
		if err != nil {
			return packetError(path, off, i, err)
		}
		st.packets++
		if ci.CaptureLength < ci.Length {
			st.truncated++
		}
		lt := fixedLink
		if ng {
			if len(ci.AncillaryData) > 0 {
				lt, _ = ci.AncillaryData[0].(layers.LinkType)
			}
			if !containsLink(st.linkTypes, lt) {
				st.linkTypes = append(st.linkTypes, lt)
			}
			if ngr := src.(*pcapgo.NgReader); ci.InterfaceIndex < ngr.NInterfaces() {
				if ifc, err := ngr.Interface(ci.InterfaceIndex); err == nil && ifc.SnapLength > st.snaplen {
					st.snaplen = ifc.SnapLength
				}
			}
		}
		if !decode(lt, data, ci.Length, &p) {
			st.nonIP++
			continue
		}
		if fn != nil && !fn(&p, ci.Timestamp) {
			return errStopped
		}
	}
}

func containsLink(s []layers.LinkType, lt layers.LinkType) bool {
	for _, x := range s {
		if x == lt {
			return true
		}
	}
	return false
}

func headerError(path string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: offset 0: file header: %w", path, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("%s: offset 0: file header: %w: %v", path, datasets.ErrCorrupt, err)
}

func packetError(path string, off int64, i int, err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// A record header read but its data missing, or a partial header.
		err = io.ErrUnexpectedEOF
	case errors.As(err, &pe):
	default:
		return fmt.Errorf("%s: offset %d: packet %d: %w: %v", path, off, i, datasets.ErrCorrupt, err)
	}
	return fmt.Errorf("%s: offset %d: packet %d: %w", path, off, i, err)
}
