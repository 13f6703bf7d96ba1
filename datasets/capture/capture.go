// Package capture reads packet captures, pcap and pcapng, and walks each
// frame's link layer (Ethernet with VLAN tags, Linux cooked capture v1 and
// v2, raw IP, BSD loopback) to its IP header. It is the one capture layer
// of the readers that take captures: datasets/netflow (export packets in a
// capture) and datasets/pcapflow (packets to flows). Files are read with
// gopacket's pcapgo, without cgo.
package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/fingerflow/fingerflow/datasets"
)

// Kind is the kind of capture file.
type Kind int

// Capture file kinds Sniff tells apart.
const (
	NotCapture Kind = iota
	Pcap
	Pcapng
)

// Magic numbers of pcap (both byte orders, micro- and nanosecond) and of a
// pcapng section header, and pcapng's byte-order magic.
var (
	pcapMagics = [...][4]byte{
		{0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4},
		{0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d},
	}
	ngMagic     = [4]byte{0x0a, 0x0d, 0x0d, 0x0a}
	ngByteOrder = [...][4]byte{{0x1a, 0x2b, 0x3c, 0x4d}, {0x4d, 0x3c, 0x2b, 0x1a}}
)

// Sniff tells whether head starts like a pcap file (magic and major
// version 2, a whole file header) or a pcapng section header (with its
// byte-order magic).
func Sniff(head []byte) Kind {
	if len(head) < 12 {
		return NotCapture
	}
	m := [4]byte(head[0:4])
	if m == ngMagic {
		if bo := [4]byte(head[8:12]); bo == ngByteOrder[0] || bo == ngByteOrder[1] {
			return Pcapng
		}
		return NotCapture
	}
	for i, pm := range pcapMagics {
		if m == pm {
			major := uint16(head[4]) | uint16(head[5])<<8 // little-endian file
			if i%2 == 1 {
				major = uint16(head[4])<<8 | uint16(head[5])
			}
			if major == 2 && len(head) >= 24 {
				return Pcap
			}
			return NotCapture
		}
	}
	return NotCapture
}

// Packet is one captured frame.
type Packet struct {
	// Data are the captured bytes, valid until the next call to Next.
	Data []byte
	gopacket.CaptureInfo
	// LinkType is the link type of the interface the frame was captured
	// on (a pcapng file may mix them).
	LinkType layers.LinkType
}

// Reader reads the packets of a pcap or pcapng stream.
type Reader struct {
	pcap *pcapgo.Reader
	ng   *pcapgo.NgReader
	cr   *datasets.CountingReader
	br   *bufio.Reader

	n       int // packets read
	version string
	snaplen uint32
	links   []layers.LinkType
}

// NewReader reads the file header of a capture. Its errors say "offset 0:
// file header" and wrap datasets.ErrEmpty for an empty stream,
// io.ErrUnexpectedEOF for a header cut short and datasets.ErrCorrupt for
// anything else that is not a capture.
func NewReader(r io.Reader) (*Reader, error) {
	cr := &datasets.CountingReader{R: r}
	// pcapgo wraps its input in bufio.NewReader, which returns a
	// *bufio.Reader at least as large unchanged: so cr.N-br.Buffered() is
	// the offset pcapgo has consumed.
	br := bufio.NewReaderSize(cr, 64<<10)
	rd := &Reader{cr: cr, br: br}
	magic, err := br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			if len(magic) == 0 {
				return nil, fmt.Errorf("offset 0: %w", datasets.ErrEmpty)
			}
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("offset 0: file header: %w", err)
	}
	if [4]byte(magic) == ngMagic {
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, headerError(err)
		}
		rd.ng, rd.version = ng, "pcapng"
		return rd, nil
	}
	p, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, headerError(err)
	}
	rd.pcap = p
	rd.snaplen = p.Snaplen()
	rd.version = "pcap 2.4"
	if p.Resolution() == gopacket.TimestampResolutionNanosecond {
		rd.version += ", nanosecond timestamps"
	}
	rd.links = []layers.LinkType{p.LinkType()}
	return rd, nil
}

func headerError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("offset 0: file header: %w", io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("offset 0: file header: %w: %v", datasets.ErrCorrupt, err)
}

// Next returns the next packet, or io.EOF after the last one. Other errors
// say the file offset of the record that failed and its packet number
// (from 1), and wrap io.ErrUnexpectedEOF for a record cut short,
// datasets.ErrCorrupt for a damaged one, or the read error.
func (r *Reader) Next() (Packet, error) {
	off := r.Offset()
	r.n++
	var p Packet
	var err error
	if r.ng != nil {
		p.Data, p.CaptureInfo, err = r.ng.ZeroCopyReadPacketData()
	} else {
		p.Data, p.CaptureInfo, err = r.pcap.ZeroCopyReadPacketData()
	}
	if err == io.EOF && p.CaptureLength == 0 && p.Timestamp.IsZero() {
		r.n--
		return Packet{}, io.EOF
	}
	if err != nil {
		return Packet{}, packetError(off, r.n, err)
	}
	if r.ng == nil {
		p.LinkType = r.links[0]
		return p, nil
	}
	if len(p.AncillaryData) > 0 {
		p.LinkType, _ = p.AncillaryData[0].(layers.LinkType)
	}
	if !containsLink(r.links, p.LinkType) {
		r.links = append(r.links, p.LinkType)
	}
	if p.InterfaceIndex < r.ng.NInterfaces() {
		if ifc, err := r.ng.Interface(p.InterfaceIndex); err == nil && ifc.SnapLength > r.snaplen {
			r.snaplen = ifc.SnapLength
		}
	}
	return p, nil
}

func packetError(off int64, i int, err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// A record header read but its data missing, or a partial header.
		err = io.ErrUnexpectedEOF
	case errors.As(err, &pe):
	default:
		return fmt.Errorf("offset %d: packet %d: %w: %v", off, i, datasets.ErrCorrupt, err)
	}
	return fmt.Errorf("offset %d: packet %d: %w", off, i, err)
}

func containsLink(s []layers.LinkType, lt layers.LinkType) bool {
	for _, x := range s {
		if x == lt {
			return true
		}
	}
	return false
}

// Offset is the file offset of the next packet record.
func (r *Reader) Offset() int64 { return r.cr.N - int64(r.br.Buffered()) }

// Version names the file format: "pcap 2.4" (with ", nanosecond
// timestamps" where so) or "pcapng".
func (r *Reader) Version() string { return r.version }

// Snaplen is the capture's snapshot length: the pcap header's, or the
// largest of the pcapng interfaces packets were read from so far (0: none
// given).
func (r *Reader) Snaplen() uint32 { return r.snaplen }

// LinkTypes lists the link types of the packets read so far, in order of
// appearance (for pcap, the file's one link type from the start).
func (r *Reader) LinkTypes() []layers.LinkType { return r.links }
