package pcapflow

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket/layers"

	"github.com/fingerflow/fingerflow/datasets/capture"
)

// packet is what the flow table needs from one captured packet.
type packet struct {
	src, dst netip.Addr
	sport    uint16
	dport    uint16
	proto    uint8
	flags    uint8 // TCP flags
	ttl      uint8
	tos      uint8
	vlan     uint32 // VLAN IDs, outermost first, 12 bits each (0: untagged)
	bytes    uint64 // IP length (header included), from the IP header
}

// decode fills p from one captured frame of link type lt and reports whether
// it carried IPv4 or IPv6. wire is the frame's original length on the wire,
// used only when the IP header's own length is zero (a segment captured
// before segmentation offload split it). Truncated transport headers leave
// ports and flags zero; the packet still counts.
func decode(lt layers.LinkType, data []byte, wire int, p *packet) bool {
	*p = packet{}
	f, skip := capture.DecodeLink(lt, data)
	if skip != capture.SkipNone {
		return false
	}
	p.vlan = f.VLAN
	if f.Version == 4 {
		return decodeIPv4(f.IP, wire-f.LinkLen, p)
	}
	return decodeIPv6(f.IP, wire-f.LinkLen, p)
}

func decodeIPv4(ip []byte, wire int, p *packet) bool {
	if len(ip) < 20 || ip[0]>>4 != 4 {
		return false
	}
	hl := int(ip[0]&0x0f) * 4
	if hl < 20 || len(ip) < hl {
		return false
	}
	p.tos = ip[1]
	p.bytes = uint64(binary.BigEndian.Uint16(ip[2:4]))
	if p.bytes == 0 && wire > 0 {
		p.bytes = uint64(wire)
	}
	p.ttl = ip[8]
	p.proto = ip[9]
	p.src = netip.AddrFrom4([4]byte(ip[12:16]))
	p.dst = netip.AddrFrom4([4]byte(ip[16:20]))
	if binary.BigEndian.Uint16(ip[6:8])&0x1fff != 0 {
		return true // a later fragment: no transport header
	}
	transport(ip[hl:], p)
	return true
}

// IPv6 extension headers skipped on the way to the transport header.
const (
	ip6HopByHop = 0
	ip6Routing  = 43
	ip6Fragment = 44
	ip6AH       = 51
	ip6DstOpts  = 60
	ip6Mobility = 135
	ip6HIP      = 139
	ip6Shim6    = 140
)

func decodeIPv6(ip []byte, wire int, p *packet) bool {
	if len(ip) < 40 || ip[0]>>4 != 6 {
		return false
	}
	p.tos = uint8(binary.BigEndian.Uint32(ip[0:4]) >> 20)
	p.bytes = uint64(binary.BigEndian.Uint16(ip[4:6])) + 40
	if p.bytes == 40 && wire > 40 {
		p.bytes = uint64(wire) // jumbogram or offloaded segment
	}
	p.ttl = ip[7]
	p.src = netip.AddrFrom16([16]byte(ip[8:24]))
	p.dst = netip.AddrFrom16([16]byte(ip[24:40]))
	next, rest := ip[6], ip[40:]
	for range 16 {
		switch next {
		case ip6HopByHop, ip6Routing, ip6DstOpts, ip6Mobility, ip6HIP, ip6Shim6:
			if len(rest) < 8 {
				p.proto = next
				return true
			}
			n := (int(rest[1]) + 1) * 8
			if len(rest) < n {
				p.proto = rest[0]
				return true
			}
			next, rest = rest[0], rest[n:]
		case ip6AH:
			if len(rest) < 8 {
				p.proto = next
				return true
			}
			n := (int(rest[1]) + 2) * 4
			if len(rest) < n {
				p.proto = rest[0]
				return true
			}
			next, rest = rest[0], rest[n:]
		case ip6Fragment:
			if len(rest) < 8 {
				p.proto = next
				return true
			}
			p.proto = rest[0]
			if binary.BigEndian.Uint16(rest[2:4])&0xfff8 != 0 {
				return true // a later fragment: no transport header
			}
			next, rest = rest[0], rest[8:]
		default:
			p.proto = next
			transport(rest, p)
			return true
		}
	}
	p.proto = next
	return true
}

// transport reads ports (ICMP type and code, Cisco style) and TCP flags as
// far as the captured bytes allow.
func transport(b []byte, p *packet) {
	switch p.proto {
	case 6: // TCP
		if len(b) >= 4 {
			p.sport = binary.BigEndian.Uint16(b[0:2])
			p.dport = binary.BigEndian.Uint16(b[2:4])
		}
		if len(b) >= 14 {
			p.flags = b[13]
		}
	case 17, 132, 136: // UDP, SCTP, UDP-Lite
		if len(b) >= 4 {
			p.sport = binary.BigEndian.Uint16(b[0:2])
			p.dport = binary.BigEndian.Uint16(b[2:4])
		}
	case 1, 58: // ICMP, ICMPv6: type*256+code in the destination port
		if len(b) >= 2 {
			p.dport = uint16(b[0])<<8 | uint16(b[1])
		}
	}
}
