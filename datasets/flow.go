// Package datasets is where fingerflow's data comes from: the one Flow
// record every input format is normalised to, the Registry that picks a
// format's reader by content, filters, argument expansion and batch
// reading, and protocol names. Each format's reader is a sub-package, as
// are the capture layer they share and the catalog and label readers; the
// sample data the quick start runs on lives in sub-folders.
package datasets

import (
	"net/netip"
	"time"
)

// Flow is one unidirectional (or, where the source is bidirectional, one
// biflow) flow record normalised from any input format.
//
// Counters that a source does not carry are zero; where zero is a legal value
// that must be told apart from "unknown", a separate field says so
// (SamplingRate 0 means unknown, HasReverse says whether the Rev* counters
// were reported at all).
type Flow struct {
	Start time.Time // first packet
	End   time.Time // last packet

	SrcAddr netip.Addr
	DstAddr netip.Addr
	SrcPort uint16
	DstPort uint16
	Proto   uint8 // IP protocol number (6 TCP, 17 UDP, ...)

	// TCPFlags is the OR of the TCP flags seen (FIN 0x01, SYN 0x02, RST 0x04,
	// PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80).
	TCPFlags uint8

	Packets uint64 // packets from SrcAddr to DstAddr
	Bytes   uint64 // IP-layer bytes (IP header included) from SrcAddr to DstAddr

	// HasReverse is true for bidirectional sources (Argus, biflow IPFIX,
	// packet captures read as biflows) that report the reverse direction.
	HasReverse bool
	RevPackets uint64 // packets from DstAddr to SrcAddr
	RevBytes   uint64 // bytes from DstAddr to SrcAddr

	Exporter netip.Addr // exporting device, invalid when unknown

	// SamplingRate is the packet sampling interval in force (1 = every
	// packet); 0 means the source did not say.
	SamplingRate uint32

	InIf  uint32 // input interface index (SNMP ifIndex), 0 when unknown
	OutIf uint32 // output interface index, 0 when unknown
	ToS   uint8  // IP type of service / DSCP+ECN byte of the first packet

	// MinTTL and MaxTTL are the smallest and largest IP TTL (hop limit) seen;
	// both zero when the source does not report them.
	MinTTL uint8
	MaxTTL uint8
}

// IP protocol numbers used across the project.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// TCP flag bits as they appear in Flow.TCPFlags.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagPSH = 0x08
	FlagACK = 0x10
	FlagURG = 0x20
	FlagECE = 0x40
	FlagCWR = 0x80
)

// Duration is End-Start.
func (f *Flow) Duration() time.Duration { return f.End.Sub(f.Start) }

// FlagString renders TCP flags the way nfdump does ("...AP.SF": CWR, ECE,
// URG, ACK, PSH, RST, SYN, FIN).
func FlagString(flags uint8) string {
	const letters = "CEUAPRSF"
	b := []byte("........")
	for i := 0; i < 8; i++ {
		if flags&(0x80>>i) != 0 {
			b[i] = letters[i]
		}
	}
	return string(b)
}
