package pcapflow

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket/layers"
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

// Ethernet types seen on the way to the IP header.
const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	ether8021Q = 0x8100
	ether8021A = 0x88a8 // QinQ service tag
	etherQinQ  = 0x9100 // pre-standard QinQ
)

// Link types that gopacket has no constant for under these names.
const (
	linkTypeRawAlt1 layers.LinkType = 12 // DLT_RAW on OpenBSD
	linkTypeRawAlt2 layers.LinkType = 14 // DLT_RAW on BSD/OS
	linkTypeIPv4    layers.LinkType = 228
	linkTypeIPv6    layers.LinkType = 229
)

// supportedLink reports whether decode understands link type lt.
func supportedLink(lt layers.LinkType) bool {
	switch lt {
	case layers.LinkTypeEthernet, layers.LinkTypeNull, layers.LinkTypeLoop,
		layers.LinkTypeRaw, linkTypeRawAlt1, linkTypeRawAlt2, linkTypeIPv4, linkTypeIPv6,
		layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2:
		return true
	}
	return false
}

// decode fills p from one captured frame of link type lt and reports whether
// it carried IPv4 or IPv6. wire is the frame's original length on the wire,
// used only when the IP header's own length is zero (a segment captured
// before segmentation offload split it). Truncated transport headers leave
// ports and flags zero; the packet still counts.
func decode(lt layers.LinkType, data []byte, wire int, p *packet) bool {
	*p = packet{}
	var etype uint16
	var off int
	switch lt {
	case layers.LinkTypeEthernet:
		if len(data) < 14 {
			return false
		}
		etype, off = binary.BigEndian.Uint16(data[12:14]), 14
	case layers.LinkTypeLinuxSLL:
		if len(data) < 16 {
			return false
		}
		etype, off = binary.BigEndian.Uint16(data[14:16]), 16
	case layers.LinkTypeLinuxSLL2:
		if len(data) < 20 {
			return false
		}
		etype, off = binary.BigEndian.Uint16(data[0:2]), 20
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(data) < 4 {
			return false
		}
		// DLT_NULL's family is in the byte order of the capturing host;
		// DLT_LOOP's is big-endian. Families are small numbers, so a zero
		// first byte means big-endian.
		fam := binary.LittleEndian.Uint32(data[0:4])
		if data[0] == 0 {
			fam = binary.BigEndian.Uint32(data[0:4])
		}
		switch fam {
		case 2:
			etype = etherIPv4
		case 10, 24, 28, 30: // AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, Darwin
			etype = etherIPv6
		default:
			return false
		}
		off = 4
	case layers.LinkTypeRaw, linkTypeRawAlt1, linkTypeRawAlt2, linkTypeIPv4, linkTypeIPv6:
		if len(data) < 1 {
			return false
		}
		switch data[0] >> 4 {
		case 4:
			etype = etherIPv4
		case 6:
			etype = etherIPv6
		default:
			return false
		}
	default:
		return false
	}
	linkLen := off
	// VLAN tags (802.1Q, QinQ) between the link header and IP.
	for depth := 0; etype == ether8021Q || etype == ether8021A || etype == etherQinQ; depth++ {
		if len(data) < off+4 || depth == 8 {
			return false
		}
		if depth < 2 {
			p.vlan = p.vlan<<12 | uint32(binary.BigEndian.Uint16(data[off:off+2])&0x0fff)
		}
		etype = binary.BigEndian.Uint16(data[off+2 : off+4])
		off += 4
		linkLen = off
	}
	ip := data[off:]
	switch etype {
	case etherIPv4:
		return decodeIPv4(ip, wire-linkLen, p)
	case etherIPv6:
		return decodeIPv6(ip, wire-linkLen, p)
	}
	return false
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
