package netflow

import (
	"encoding/binary"
	"net/netip"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"github.com/fingerflow/fingerflow/datasets"
)

// DatagramDecoder decodes export datagrams one at a time, as a collector
// receives them from the network, with the same decoding as Reader: one
// template store per exporter address (and, inside it, per version,
// observation domain and template ID), sampling intervals from options
// records. It holds the state of every exporter it has seen; it is not safe
// for concurrent use, so a collector that decodes in parallel gives each
// exporter address to one DatagramDecoder.
type DatagramDecoder struct {
	st Stats
	d  *decoder
}

// NewDatagramDecoder returns a decoder with no exporter state.
func NewDatagramDecoder() *DatagramDecoder {
	dd := &DatagramDecoder{}
	dd.d = newDecoder(&dd.st)
	return dd
}

// Datagram is what decoding one datagram told besides its flows: enough for
// a collector to count per exporter and to follow the export sequence.
type Datagram struct {
	// Version is 1, 5, 9 or 10 (IPFIX), or 0 when the payload is not a
	// NetFlow/IPFIX export packet at all.
	Version uint16
	// Malformed is true when the datagram is not an export packet or did
	// not decode; it gave no flows.
	Malformed bool

	// Domain is the NetFlow v9 source ID or IPFIX observation domain; for
	// NetFlow v5 the engine type and ID (type<<8 | id); 0 for v1.
	Domain uint32
	// Sequence is the header's sequence number (not in NetFlow v1): v5
	// counts flow records, v9 export packets, IPFIX data records.
	Sequence uint32
	// Advance is how far this datagram moves the exporter's sequence: its
	// flow records (v5), 1 (v9), its data records including options
	// records (IPFIX). AdvanceKnown is false when that cannot be told
	// (IPFIX data sets whose template is not known yet, NetFlow v1).
	Advance      uint32
	AdvanceKnown bool

	Flows int // flows passed to emit

	// NoTemplateSets counts data sets dropped because their template had
	// not arrived (NoTemplateBytes their bytes).
	NoTemplateSets  int
	NoTemplateBytes int
}

// Decode decodes the UDP payload p that src sent and passes each flow to
// emit, which returns false to drop the rest of the datagram's flows. The
// Flow is only valid during the call; p is not retained. Anything that is
// not a well-formed export packet is reported as Malformed, never a panic.
func (dd *DatagramDecoder) Decode(src netip.Addr, p []byte, emit func(*datasets.Flow) bool) Datagram {
	src = src.Unmap()
	var out Datagram
	if !setsFit(p) {
		return Datagram{Version: binary.BigEndian.Uint16(p), Malformed: true}
	}
	before := dd.st
	dd.d.packet(src, p, func(f *datasets.Flow) bool {
		out.Flows++
		return emit(f)
	})
	if dd.st.Corrupt != before.Corrupt || dd.st.NotExport != before.NotExport {
		out.Malformed = true
		if dd.st.Corrupt != before.Corrupt {
			out.Version = binary.BigEndian.Uint16(p)
		}
		return out
	}
	out.NoTemplateSets = int(dd.st.NoTemplateSets - before.NoTemplateSets)
	out.NoTemplateBytes = int(dd.st.NoTemplateBytes - before.NoTemplateBytes)
	out.Version = binary.BigEndian.Uint16(p)
	switch out.Version {
	case 5:
		v5 := &dd.d.v5
		out.Domain = uint32(v5.EngineType)<<8 | uint32(v5.EngineId)
		out.Sequence = v5.FlowSequence
		out.Advance, out.AdvanceKnown = uint32(v5.Count), true
	case 9:
		out.Domain = dd.d.v9.SourceId
		out.Sequence = dd.d.v9.SequenceNumber
		out.Advance, out.AdvanceKnown = 1, true
	case 10:
		ip := &dd.d.ipfix
		out.Domain = ip.ObservationDomainId
		out.Sequence = ip.SequenceNumber
		out.AdvanceKnown = out.NoTemplateSets == 0
		for _, s := range ip.FlowSets {
			switch s := s.(type) {
			case netflow.DataFlowSet:
				out.Advance += uint32(len(s.Records))
			case netflow.OptionsDataFlowSet:
				out.Advance += uint32(len(s.Records))
			}
		}
	}
	return out
}

// setsFit reports false for a NetFlow v9 or IPFIX datagram whose sets do
// not tile it: a set shorter than its own header or running past the end
// (a datagram cut short). goflow2 would decode the records that are there
// and stop silently; a collector counts such a datagram as malformed
// instead. Other payloads pass (the decoder judges them).
func setsFit(p []byte) bool {
	if len(p) < 2 {
		return true
	}
	off := 0
	switch binary.BigEndian.Uint16(p) {
	case 9:
		off = 20
	case 10:
		off = 16
	default:
		return true
	}
	if len(p) < off {
		return true
	}
	for off+4 <= len(p) {
		l := int(binary.BigEndian.Uint16(p[off+2:]))
		if l < 4 || l > len(p)-off {
			return false
		}
		off += l
	}
	return true
}

// countV9Sets rewrites the record count of a NetFlow v9 header in p to the
// number of whole sets that follow it. goflow2 decodes at most count sets,
// but the count is one of records (RFC 3954), and an exporter may count
// fewer records than it sends sets: softflowd 1.1.0 sampling (-s) puts
// each data record in a set of its own and counts some of them only, so
// the last sets were dropped. nfcapd walks every set; so does this. A set
// whose length does not fit is counted, so goflow2 reaches it and fails.
func countV9Sets(p []byte) {
	if len(p) < 20 || binary.BigEndian.Uint16(p) != 9 {
		return
	}
	n := 0
	for off := 20; off+4 <= len(p) && n < 0xffff; {
		n++
		l := int(binary.BigEndian.Uint16(p[off+2:]))
		if l < 4 || l > len(p)-off {
			break
		}
		off += l
	}
	binary.BigEndian.PutUint16(p[2:4], uint16(n))
}

// Exporters is the number of exporter addresses the decoder keeps template
// and sampling state for.
func (dd *DatagramDecoder) Exporters() int { return len(dd.d.exporters) }
