package collector

import (
	"net/netip"
	"slices"

	"github.com/fingerflow/fingerflow/datasets/netflow"
)

// Counters are what the collector counted for one exporter address.
type Counters struct {
	Datagrams uint64 `json:"datagrams"` // UDP datagrams received
	Bytes     uint64 `json:"bytes"`     // their UDP payload bytes
	Flows     uint64 `json:"flows"`     // flow records decoded and written

	// SequenceGaps counts datagrams whose header sequence number was not
	// the one the exporter's previous datagram (same version and
	// observation domain) announced: export packets lost, reordered, or
	// an exporter that restarted.
	SequenceGaps uint64 `json:"sequence_gaps"`
	// LostPackets and LostRecords are what the forward gaps skipped:
	// NetFlow v9 sequence numbers count export packets, NetFlow v5 and
	// IPFIX ones flow records.
	LostPackets uint64 `json:"lost_packets"`
	LostRecords uint64 `json:"lost_records"`

	// NoTemplate counts v9/IPFIX data sets dropped because their template
	// had not arrived yet.
	NoTemplate uint64 `json:"no_template"`
	// Malformed counts datagrams that are not NetFlow/IPFIX export
	// packets or did not decode; they are dropped whole.
	Malformed uint64 `json:"malformed"`
}

// Add adds o to c.
func (c *Counters) Add(o *Counters) {
	c.Datagrams += o.Datagrams
	c.Bytes += o.Bytes
	c.Flows += o.Flows
	c.SequenceGaps += o.SequenceGaps
	c.LostPackets += o.LostPackets
	c.LostRecords += o.LostRecords
	c.NoTemplate += o.NoTemplate
	c.Malformed += o.Malformed
}

// sub returns c-o (counters only grow, so o is an earlier copy of c).
func (c Counters) sub(o Counters) Counters {
	return Counters{
		Datagrams:    c.Datagrams - o.Datagrams,
		Bytes:        c.Bytes - o.Bytes,
		Flows:        c.Flows - o.Flows,
		SequenceGaps: c.SequenceGaps - o.SequenceGaps,
		LostPackets:  c.LostPackets - o.LostPackets,
		LostRecords:  c.LostRecords - o.LostRecords,
		NoTemplate:   c.NoTemplate - o.NoTemplate,
		Malformed:    c.Malformed - o.Malformed,
	}
}

// ExporterCounters are the counters of one exporter address.
type ExporterCounters struct {
	Exporter netip.Addr `json:"exporter"`
	Counters
}

// counterSet maps exporter addresses to their counters.
type counterSet map[netip.Addr]*Counters

func (cs counterSet) get(a netip.Addr) *Counters {
	c := cs[a]
	if c == nil {
		c = &Counters{}
		cs[a] = c
	}
	return c
}

func (cs counterSet) add(o counterSet) {
	for a, c := range o {
		cs.get(a).Add(c)
	}
}

// list returns the counters ordered by exporter address.
func (cs counterSet) list() []ExporterCounters {
	out := make([]ExporterCounters, 0, len(cs))
	for a, c := range cs {
		out = append(out, ExporterCounters{Exporter: a, Counters: *c})
	}
	slices.SortFunc(out, func(x, y ExporterCounters) int { return x.Exporter.Compare(y.Exporter) })
	return out
}

// seqKey names one export stream: the sequence numbers of NetFlow v5, v9
// and IPFIX are kept per exporter, version and observation domain (v9
// source ID, v5 engine type and ID).
type seqKey struct {
	exporter netip.Addr
	version  uint16
	domain   uint32
}

// seqState is where an export stream's sequence should continue.
type seqState struct {
	next  uint32
	valid bool
}

// follow checks the sequence number of datagram d against the stream's
// expectation and moves the expectation past d. It reports whether d did
// not follow on and, for a forward jump, how many sequence units (packets
// or records) were skipped; a backward jump (reordering, an exporter
// restart) skips none. A datagram whose own advance is unknown leaves the
// next one unchecked.
func (s *seqState) follow(d *netflow.Datagram) (gap bool, skipped uint64) {
	if s.valid && d.Sequence != s.next {
		gap = true
		if diff := d.Sequence - s.next; diff < 1<<31 {
			skipped = uint64(diff)
		}
	}
	s.next, s.valid = d.Sequence+d.Advance, d.AdvanceKnown
	return gap, skipped
}
