package netflow

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/fingerflow/fingerflow/datasets"
)

// Capture file magic numbers (first four bytes, as read big-endian).
const (
	magicPcapMicro   = 0xa1b2c3d4
	magicPcapMicroLE = 0xd4c3b2a1
	magicPcapNano    = 0xa1b23c4d
	magicPcapNanoLE  = 0x4d3cb2a1
	magicPcapng      = 0x0a0d0d0a
)

// captureKind tells pcap from pcapng by the first four bytes; 0 for neither.
func captureKind(head []byte) int {
	if len(head) < 4 {
		return 0
	}
	switch binary.BigEndian.Uint32(head) {
	case magicPcapMicro, magicPcapMicroLE, magicPcapNano, magicPcapNanoLE:
		return kindPcap
	case magicPcapng:
		return kindPcapng
	}
	return 0
}

const (
	kindPcap = 1 + iota
	kindPcapng
)

// packetSource is what the pcap and pcapng readers have in common.
type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, captureInfo, error)
	LinkType() layers.LinkType
	// Offset is the file offset of the next packet record (exact for pcap;
	// for pcapng, how far the file has been read, which may be ahead).
	Offset() int64
}

type captureInfo struct {
	CaptureLength, Length int
}

// pcapSource reads classic pcap; it keeps the exact offset of each record
// (24-byte file header, 16-byte record headers).
type pcapSource struct {
	r   *pcapgo.Reader
	off int64
}

func (s *pcapSource) ZeroCopyReadPacketData() ([]byte, captureInfo, error) {
	data, ci, err := s.r.ZeroCopyReadPacketData()
	if err != nil {
		return nil, captureInfo{}, err
	}
	s.off += 16 + int64(ci.CaptureLength)
	return data, captureInfo{ci.CaptureLength, ci.Length}, nil
}
func (s *pcapSource) LinkType() layers.LinkType { return s.r.LinkType() }
func (s *pcapSource) Offset() int64             { return s.off }

// ngSource reads pcapng. pcapgo buffers the file, so the offset is that of
// the bytes consumed from the file so far.
type ngSource struct {
	r  *pcapgo.NgReader
	cr *datasets.CountingReader
}

func (s *ngSource) ZeroCopyReadPacketData() ([]byte, captureInfo, error) {
	data, ci, err := s.r.ZeroCopyReadPacketData()
	if err != nil {
		return nil, captureInfo{}, err
	}
	return data, captureInfo{ci.CaptureLength, ci.Length}, nil
}
func (s *ngSource) LinkType() layers.LinkType { return s.r.LinkType() }
func (s *ngSource) Offset() int64             { return s.cr.N }

// openCapture starts reading a pcap or pcapng stream.
func openCapture(r io.Reader) (packetSource, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(4)
	switch captureKind(head) {
	case kindPcap:
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, captureErr(err)
		}
		return &pcapSource{r: pr, off: 24}, nil
	case kindPcapng:
		cr := &datasets.CountingReader{R: br}
		nr, err := pcapgo.NewNgReader(cr, pcapgo.NgReaderOptions{})
		if err != nil {
			return nil, captureErr(err)
		}
		return &ngSource{r: nr, cr: cr}, nil
	}
	if len(head) < 4 {
		return nil, io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("%w: not a pcap or pcapng file (magic % x)", errNotCapture, head)
}

var errNotCapture = errors.New("not a packet capture")

// captureErr keeps io.EOF/io.ErrUnexpectedEOF as they are and marks every
// other capture-format complaint as corrupt data.
func captureErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF // a header cut short
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	return fmt.Errorf("%w: %v", errCorruptCapture, err)
}

var errCorruptCapture = errors.New("corrupt capture")

// Link types not named in gopacket's layers package.
const (
	linkTypeLinuxSLL2 = 276
	linkTypeIPv4      = 228
	linkTypeIPv6      = 229
	linkTypeRawAlt    = 14 // DLT_RAW on some BSDs
	linkTypeRawOBSD   = 12 // LINKTYPE_RAW value used by OpenBSD's DLT_RAW
)

// udpDatagram is the part of a captured frame this package needs.
type udpDatagram struct {
	Src     netip.Addr
	Payload []byte // captured UDP payload
	Length  int    // UDP payload length the header declares (≥ len(Payload) when truncated by the snap length)
}

// Why a frame did not yield a UDP datagram.
type skipReason int

const (
	skipNone     skipReason = iota
	skipLink                // unknown link type or non-IP frame
	skipNotUDP              // IP but not UDP
	skipFragment            // an IP fragment (not reassembled)
	skipShort               // cut short by the snap length or malformed headers
)

// decodeFrame walks the link, IP and UDP headers of one captured frame.
func decodeFrame(lt layers.LinkType, data []byte) (udpDatagram, skipReason) {
	var etherType uint16
	switch lt {
	case layers.LinkTypeEthernet:
		if len(data) < 14 {
			return udpDatagram{}, skipShort
		}
		etherType = binary.BigEndian.Uint16(data[12:14])
		data = data[14:]
		for etherType == 0x8100 || etherType == 0x88a8 || etherType == 0x9100 {
			if len(data) < 4 {
				return udpDatagram{}, skipShort
			}
			etherType = binary.BigEndian.Uint16(data[2:4])
			data = data[4:]
		}
	case layers.LinkTypeLinuxSLL:
		if len(data) < 16 {
			return udpDatagram{}, skipShort
		}
		etherType = binary.BigEndian.Uint16(data[14:16])
		data = data[16:]
	case linkTypeLinuxSLL2:
		if len(data) < 20 {
			return udpDatagram{}, skipShort
		}
		etherType = binary.BigEndian.Uint16(data[0:2])
		data = data[20:]
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(data) < 4 {
			return udpDatagram{}, skipShort
		}
		// Null: address family in host byte order; Loop: network order.
		fam := binary.LittleEndian.Uint32(data)
		if lt == layers.LinkTypeLoop || fam > 0xffff {
			fam = binary.BigEndian.Uint32(data)
		}
		data = data[4:]
		switch fam {
		case 2:
			etherType = 0x0800
		case 10, 24, 28, 30:
			etherType = 0x86dd
		default:
			return udpDatagram{}, skipLink
		}
	case layers.LinkTypeRaw, linkTypeRawAlt, linkTypeRawOBSD:
		if len(data) == 0 {
			return udpDatagram{}, skipShort
		}
		switch data[0] >> 4 {
		case 4:
			etherType = 0x0800
		case 6:
			etherType = 0x86dd
		default:
			return udpDatagram{}, skipLink
		}
	case linkTypeIPv4:
		etherType = 0x0800
	case linkTypeIPv6:
		etherType = 0x86dd
	default:
		return udpDatagram{}, skipLink
	}
	switch etherType {
	case 0x0800:
		return decodeIPv4(data)
	case 0x86dd:
		return decodeIPv6(data)
	}
	return udpDatagram{}, skipLink
}

func decodeIPv4(b []byte) (udpDatagram, skipReason) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return udpDatagram{}, skipShort
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || len(b) < ihl {
		return udpDatagram{}, skipShort
	}
	if frag := binary.BigEndian.Uint16(b[6:8]); frag&0x3fff != 0 { // MF or offset
		return udpDatagram{}, skipFragment
	}
	if b[9] != 17 {
		return udpDatagram{}, skipNotUDP
	}
	src, _ := netip.AddrFromSlice(b[12:16])
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if total < ihl {
		return udpDatagram{}, skipShort
	}
	if total < len(b) {
		b = b[:total] // Ethernet padding
	}
	return decodeUDP(src, b[ihl:], total-ihl)
}

func decodeIPv6(b []byte) (udpDatagram, skipReason) {
	if len(b) < 40 || b[0]>>4 != 6 {
		return udpDatagram{}, skipShort
	}
	src, _ := netip.AddrFromSlice(b[8:24])
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	next := b[6]
	b = b[40:]
	if plen < len(b) {
		b = b[:plen]
	}
	for {
		switch next {
		case 17:
			return decodeUDP(src, b, plen)
		case 44: // fragment header
			return udpDatagram{}, skipFragment
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < 8 {
				return udpDatagram{}, skipShort
			}
			n := (int(b[1]) + 1) * 8
			if len(b) < n {
				return udpDatagram{}, skipShort
			}
			next = b[0]
			b = b[n:]
			plen -= n
		default:
			return udpDatagram{}, skipNotUDP
		}
	}
}

// decodeUDP takes the UDP segment b (captured part) whose IP layer says it
// is ipLen bytes long.
func decodeUDP(src netip.Addr, b []byte, ipLen int) (udpDatagram, skipReason) {
	if len(b) < 8 {
		return udpDatagram{}, skipShort
	}
	ulen := int(binary.BigEndian.Uint16(b[4:6]))
	if ulen < 8 || ulen > ipLen {
		if ulen == 0 && ipLen >= 8 { // jumbogram or checksum offload quirk
			ulen = ipLen
		} else {
			return udpDatagram{}, skipShort
		}
	}
	payload := b[8:]
	if len(payload) > ulen-8 {
		payload = payload[:ulen-8]
	}
	return udpDatagram{Src: src.Unmap(), Payload: payload, Length: ulen - 8}, skipNone
}
