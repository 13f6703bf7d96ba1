// Package argus reads Argus flow data: the binary .argus files the argus
// sensor writes (argus 3.x records, format "argus") and the text argus-client's
// ra prints with a field separator (format "argus-csv"). No Go library reads
// Argus data, so both are decoded here, the binary records from the layout
// in argus-client's argus_def.h and argus_out.h.
package argus

import (
	"github.com/fingerflow/fingerflow/datasets"
)

// Encapsulation bits of argus's encapsulation record (argus_encapsulations.h).
const (
	encapsMPLS  = 0x01
	encapsEther = 0x02
	encaps8021Q = 0x04
	encapsSLL   = 0x2000
)

// linkOverhead is the per-packet link-layer header length argus included in
// its byte counts for a flow with the given encapsulation mask, and false
// when it cannot be told.
//
// Byte counts: argus counts whole frames, link-layer header included. Flow
// counts IP-layer bytes, so the link header of every packet is taken off
// where the encapsulation says how long it is: 14 bytes for Ethernet, 18
// with an 802.1Q tag, 16 for Linux cooked capture (SLL), nothing for raw
// IP. Other encapsulations (MPLS, PPP, 802.11, ...) keep argus's count.
// On the lab data this gives exactly the byte counts nfdump reports for the
// same traffic (see the tests).
func linkOverhead(mask uint32) (uint64, bool) {
	switch {
	case mask == 0:
		return 0, true
	case mask == encapsEther:
		return 14, true
	case mask == encapsEther|encaps8021Q:
		return 18, true
	case mask == encapsSLL:
		return 16, true
	}
	return 0, false
}

// ipBytes turns argus's frame byte count into IP-layer bytes.
func ipBytes(bytes, pkts, overhead uint64) uint64 {
	if o := overhead * pkts; o <= bytes {
		return bytes - o
	}
	return bytes
}

// icmpPorts places an ICMP type and code the way nfdump does.
func icmpPorts(f *datasets.Flow, typ, code uint8) {
	f.SrcPort = 0
	f.DstPort = uint16(typ)<<8 | uint16(code)
}

// tcpFlagBits maps the letters ra prints for TCP flags (state column with
// -Z b) to flag bits.
func tcpFlagBits(c byte) uint8 {
	switch c {
	case 'F':
		return datasets.FlagFIN
	case 'S':
		return datasets.FlagSYN
	case 'R':
		return datasets.FlagRST
	case 'P':
		return datasets.FlagPSH
	case 'A':
		return datasets.FlagACK
	case 'U':
		return datasets.FlagURG
	case 'E':
		return datasets.FlagECE
	case 'C', 'W':
		return datasets.FlagCWR
	}
	return 0
}
