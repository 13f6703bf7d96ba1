package capture

import (
	"encoding/binary"
	"fmt"

	"github.com/gopacket/gopacket/layers"
)

// Link types that gopacket has no constant for under these names.
const (
	linkTypeRawOpenBSD layers.LinkType = 12 // DLT_RAW on OpenBSD
	linkTypeRawBSDOS   layers.LinkType = 14 // DLT_RAW on BSD/OS
	linkTypeIPv4       layers.LinkType = 228
	linkTypeIPv6       layers.LinkType = 229
)

// Ethernet types seen on the way to the IP header.
const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	ether8021Q = 0x8100
	ether8021A = 0x88a8 // QinQ service tag
	etherQinQ  = 0x9100 // pre-standard QinQ
)

// maxVLANTags bounds the VLAN tags walked before the IP header.
const maxVLANTags = 8

// Supported reports whether DecodeLink understands link type lt.
func Supported(lt layers.LinkType) bool {
	switch lt {
	case layers.LinkTypeEthernet, layers.LinkTypeNull, layers.LinkTypeLoop,
		layers.LinkTypeRaw, linkTypeRawOpenBSD, linkTypeRawBSDOS, linkTypeIPv4, linkTypeIPv6,
		layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2:
		return true
	}
	return false
}

// LinkName is the name of a link type as people know it.
func LinkName(lt layers.LinkType) string {
	switch lt {
	case layers.LinkTypeLinuxSLL:
		return "Linux cooked v1"
	case layers.LinkTypeLinuxSLL2:
		return "Linux cooked v2"
	case layers.LinkTypeRaw, linkTypeRawOpenBSD, linkTypeRawBSDOS:
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

// Frame is what DecodeLink found in a captured frame.
type Frame struct {
	// IP are the captured bytes from the IP header on.
	IP []byte
	// Version is the IP version the link layer announced (4 or 6).
	Version int
	// LinkLen is the number of link-layer bytes before IP, VLAN tags
	// included.
	LinkLen int
	// VLAN holds the outer and inner VLAN IDs, 12 bits each, outermost
	// first (one tag: its ID; 0: untagged).
	VLAN uint32
}

// Skip says why a frame carried no IP packet.
type Skip int

// Reasons DecodeLink gives.
const (
	SkipNone    Skip = iota
	SkipShort        // the link header is cut short
	SkipNotIP        // the frame carries another protocol (ARP, LLDP, ...)
	SkipUnknown      // the link type is not one DecodeLink reads
)

// DecodeLink walks the link layer of a frame of link type lt to its IP
// header. A BSD loopback header holds the address family in the capturing
// host's byte order (DLT_NULL) or big-endian (DLT_LOOP); families are small
// numbers, so a zero first byte means big-endian.
func DecodeLink(lt layers.LinkType, data []byte) (Frame, Skip) {
	var etype uint16
	var off int
	switch lt {
	case layers.LinkTypeEthernet:
		if len(data) < 14 {
			return Frame{}, SkipShort
		}
		etype, off = binary.BigEndian.Uint16(data[12:14]), 14
	case layers.LinkTypeLinuxSLL:
		if len(data) < 16 {
			return Frame{}, SkipShort
		}
		etype, off = binary.BigEndian.Uint16(data[14:16]), 16
	case layers.LinkTypeLinuxSLL2:
		if len(data) < 20 {
			return Frame{}, SkipShort
		}
		etype, off = binary.BigEndian.Uint16(data[0:2]), 20
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(data) < 4 {
			return Frame{}, SkipShort
		}
		fam := binary.LittleEndian.Uint32(data[0:4])
		if lt == layers.LinkTypeLoop || data[0] == 0 {
			fam = binary.BigEndian.Uint32(data[0:4])
		}
		switch fam {
		case 2:
			etype = etherIPv4
		case 10, 24, 28, 30: // AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, Darwin
			etype = etherIPv6
		default:
			return Frame{}, SkipNotIP
		}
		off = 4
	case layers.LinkTypeRaw, linkTypeRawOpenBSD, linkTypeRawBSDOS, linkTypeIPv4, linkTypeIPv6:
		if len(data) < 1 {
			return Frame{}, SkipShort
		}
		switch data[0] >> 4 {
		case 4:
			etype = etherIPv4
		case 6:
			etype = etherIPv6
		default:
			return Frame{}, SkipNotIP
		}
	default:
		return Frame{}, SkipUnknown
	}
	var f Frame
	for depth := 0; etype == ether8021Q || etype == ether8021A || etype == etherQinQ; depth++ {
		if depth == maxVLANTags {
			return Frame{}, SkipNotIP
		}
		if len(data) < off+4 {
			return Frame{}, SkipShort
		}
		if depth < 2 {
			f.VLAN = f.VLAN<<12 | uint32(binary.BigEndian.Uint16(data[off:off+2])&0x0fff)
		}
		etype = binary.BigEndian.Uint16(data[off+2 : off+4])
		off += 4
	}
	switch etype {
	case etherIPv4:
		f.Version = 4
	case etherIPv6:
		f.Version = 6
	default:
		return Frame{}, SkipNotIP
	}
	f.IP, f.LinkLen = data[off:], off
	return f, SkipNone
}
