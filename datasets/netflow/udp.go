package netflow

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket/layers"

	"github.com/fingerflow/fingerflow/datasets/capture"
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
	f, skip := capture.DecodeLink(lt, data)
	switch skip {
	case capture.SkipNone:
	case capture.SkipShort:
		return udpDatagram{}, skipShort
	default:
		return udpDatagram{}, skipLink
	}
	if f.Version == 4 {
		return decodeIPv4(f.IP)
	}
	return decodeIPv6(f.IP)
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
