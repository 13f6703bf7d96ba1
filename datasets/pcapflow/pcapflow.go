// Package pcapflow turns packet captures (pcap and pcapng, read through
// datasets/capture) into flow records the way a software NetFlow exporter
// does (softflowd, nfpcapd): packets are grouped by 5-tuple into
// unidirectional flows, or biflows, which end on TCP RST or FIN seen both
// ways, when idle, or when active too long. A packet's bytes are its IP
// total length, as NetFlow counts them, so a capture cut by its snaplen
// still counts the original sizes. Only the flows active at the current
// capture time are held, so memory grows with concurrent flows, never with
// the capture's length.
package pcapflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/capture"
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

// Sniff reports whether head starts like a pcap file (magic and version 2)
// or a pcapng section header (with its byte-order magic).
func (r *Reader) Sniff(head []byte) bool {
	return capture.Sniff(head) != capture.NotCapture
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
		info.Ident += capture.LinkName(lt)
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

// errStopped is returned by scan when its callback asked to stop.
var errStopped = errors.New("stopped")

// scan reads every packet of the capture at path, decodes it and hands IP
// packets to fn (nil: only count). Errors name the file, offset and packet.
func scan(ctx context.Context, path string, st *stats, fn func(*packet, time.Time) bool) error {
	f, err := datasets.Open(ctx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	cr, err := capture.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	st.version = cr.Version()
	fill := func() {
		st.linkTypes = cr.LinkTypes()
		st.snaplen = cr.Snaplen()
	}
	fill()
	if st.version != "pcapng" {
		if lt := st.linkTypes[0]; !capture.Supported(lt) {
			return fmt.Errorf("%s: %w: %s (only Ethernet, Linux cooked, raw IP and loopback captures carry flows)",
				path, datasets.ErrUnsupported, capture.LinkName(lt))
		}
	}
	var p packet
	for i := 0; ; i++ {
		if i&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		pk, err := cr.Next()
		if err == io.EOF {
			fill()
			return nil
		}
		if err != nil {
			fill()
			return fmt.Errorf("%s: %w", path, err)
		}
		st.packets++
		if pk.CaptureLength < pk.Length {
			st.truncated++
		}
		if !decode(pk.LinkType, pk.Data, pk.Length, &p) {
			st.nonIP++
			continue
		}
		if fn != nil && !fn(&p, pk.Timestamp) {
			return errStopped
		}
	}
}
