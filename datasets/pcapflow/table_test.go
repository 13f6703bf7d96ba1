package pcapflow

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// tp is a packet at a time offset in seconds, for flow-table tests.
type tp struct {
	at    float64
	src   string
	dst   string
	sport uint16
	dport uint16
	proto uint8
	flags uint8
	bytes uint64
}

// summary is what the timeout tests compare: who, when, how much.
type summary struct {
	Src      string
	Start    float64
	Packets  uint64
	Bytes    uint64
	TCPFlags string
}

var t0 = time.Date(2026, 11, 22, 19, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// run feeds pkts through a flow table and returns the flows in emission
// order, with the capture time (seconds) at which each came out.
func run(cfg Config, pkts []tp) (flows []summary, emittedAt []float64) {
	tbl := newTable(cfg.withDefaults())
	emit := func(now float64) {
		for _, e := range tbl.drain() {
			for _, f := range appendFlows(nil, e, cfg.Bidirectional) {
				flows = append(flows, summary{f.SrcAddr.String(), f.Start.Sub(t0).Seconds(), f.Packets, f.Bytes, datasets.FlagString(f.TCPFlags)})
				emittedAt = append(emittedAt, now)
			}
		}
	}
	for _, p := range pkts {
		tbl.add(&packet{src: ip4(p.src), dst: ip4(p.dst), sport: p.sport, dport: p.dport,
			proto: p.proto, flags: p.flags, bytes: p.bytes, ttl: 64}, at(p.at))
		emit(p.at)
	}
	tbl.flush()
	emit(-1)
	return flows, emittedAt
}

const (
	cli = "10.0.0.1"
	srv = "10.0.0.2"
	syn = datasets.FlagSYN
	ack = datasets.FlagACK
	fin = datasets.FlagFIN | datasets.FlagACK
	rst = datasets.FlagRST
)

func up(at float64, flags uint8) tp   { return tp{at, cli, srv, 40000, 80, 6, flags, 60} }
func down(at float64, flags uint8) tp { return tp{at, srv, cli, 80, 40000, 6, flags, 1500} }

func TestTimeouts(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		pkts      []tp
		want      []summary
		emittedAt []float64 // capture time each flow came out; -1: at the end
	}{
		{
			name: "udp idle timeout splits",
			pkts: []tp{
				{0, cli, srv, 5000, 53, 17, 0, 100},
				{10, cli, srv, 5000, 53, 17, 0, 100},
				{310, cli, srv, 5000, 53, 17, 0, 100}, // 300 s after the last: new flow
				{311, srv, cli, 53, 5000, 17, 0, 200},
			},
			want: []summary{
				{cli, 0, 2, 200, "........"},
				{cli, 310, 1, 100, "........"},
				{srv, 311, 1, 200, "........"},
			},
			emittedAt: []float64{310, -1, -1},
		},
		{
			name: "tcp idle timeout configured",
			cfg:  Config{IdleTimeout: 30 * time.Second},
			pkts: []tp{up(0, syn), down(1, syn|ack), up(29, ack), up(60, ack), {90, "10.9.9.9", srv, 1, 2, 6, syn, 60}},
			want: []summary{
				{cli, 0, 2, 120, "...A..S."},
				{srv, 1, 1, 1500, "...A..S."},
				{cli, 60, 1, 60, "...A...."},
				{"10.9.9.9", 90, 1, 60, "......S."},
			},
			emittedAt: []float64{60, 60, 90, -1},
		},
		{
			name: "active timeout splits a busy flow",
			cfg:  Config{ActiveTimeout: 300 * time.Second},
			pkts: []tp{up(0, syn), up(100, ack), up(200, ack), up(300, ack), up(400, ack), up(500, ack),
				up(600, ack), up(700, ack), up(800, ack), up(900, ack), up(1000, ack)},
			want: []summary{
				{cli, 0, 3, 180, "...A..S."},
				{cli, 300, 3, 180, "...A...."},
				{cli, 600, 3, 180, "...A...."},
				{cli, 900, 2, 120, "...A...."},
			},
			emittedAt: []float64{300, 600, 900, -1},
		},
		{
			name: "fin both ways lingers for the last ack (softflowd)",
			pkts: []tp{up(0, syn), down(0.1, syn|ack), up(0.2, ack), down(0.3, fin), up(0.4, fin), down(0.5, ack),
				up(100, syn)}, // port reused within tcp.fin: same flow, as softflowd counts it
			want: []summary{
				{cli, 0, 4, 240, "...A..SF"},
				{srv, 0.1, 3, 4500, "...A..SF"},
			},
			emittedAt: []float64{-1, -1},
		},
		{
			name: "fin both ways ends the flow",
			cfg:  Config{FINTimeout: time.Nanosecond},
			pkts: []tp{up(0, syn), down(0.1, syn|ack), up(0.2, ack), down(0.3, fin), up(0.4, fin), down(0.5, ack),
				up(100, syn)},
			want: []summary{
				{cli, 0, 3, 180, "...A..SF"},
				{srv, 0.1, 2, 3000, "...A..SF"},
				{srv, 0.5, 1, 1500, "...A...."},
				{cli, 100, 1, 60, "......S."},
			},
			// The SYN at 100 is the reverse direction of the flow the
			// last ACK opened: both end with the capture.
			emittedAt: []float64{0.5, 0.5, -1, -1},
		},
		{
			name: "fin one way does not end the flow",
			cfg:  Config{FINTimeout: time.Nanosecond},
			pkts: []tp{up(0, syn), down(0.1, fin), up(0.2, ack), up(5, ack)},
			want: []summary{
				{cli, 0, 3, 180, "...A..S."},
				{srv, 0.1, 1, 1500, "...A...F"},
			},
			emittedAt: []float64{-1, -1},
		},
		{
			name: "rst ends the flow after tcp.rst",
			pkts: []tp{up(0, syn), down(0.1, rst), up(60, syn), up(200, syn)},
			want: []summary{
				{cli, 0, 2, 120, "......S."},
				{srv, 0.1, 1, 1500, ".....R.."},
				{cli, 200, 1, 60, "......S."},
			},
			emittedAt: []float64{200, 200, -1},
		},
		{
			name: "bidirectional pairs directions",
			cfg:  Config{Bidirectional: true},
			pkts: []tp{up(0, syn), down(0.1, syn|ack), up(0.2, ack), down(0.3, fin), up(0.4, fin)},
			want: []summary{
				{cli, 0, 3, 180, "...A..SF"},
			},
			emittedAt: []float64{-1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, when := run(tt.cfg, tt.pkts)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("flows (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.emittedAt, when); diff != "" {
				t.Errorf("emission times (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBidirectionalReverse(t *testing.T) {
	tbl := newTable(Config{Bidirectional: true}.withDefaults())
	for _, p := range []tp{down(0, syn), up(1, syn|ack), up(2, ack)} {
		tbl.add(&packet{src: ip4(p.src), dst: ip4(p.dst), sport: p.sport, dport: p.dport, proto: p.proto, flags: p.flags, bytes: p.bytes}, at(p.at))
	}
	tbl.flush()
	fl := appendFlows(nil, tbl.drain()[0], true)
	want := []datasets.Flow{{Start: at(0), End: at(2), SrcAddr: ip4(srv), DstAddr: ip4(cli), SrcPort: 80, DstPort: 40000,
		Proto: 6, TCPFlags: syn | ack, Packets: 1, Bytes: 1500, HasReverse: true, RevPackets: 2, RevBytes: 120, SamplingRate: 1}}
	if diff := cmp.Diff(want, fl, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("biflow (-want +got):\n%s", diff)
	}
}

// TestMaxFlows: the table never holds more than MaxFlows, and no packet is
// lost when flows are shed.
func TestMaxFlows(t *testing.T) {
	tbl := newTable(Config{MaxFlows: 10}.withDefaults())
	var pkts, emitted uint64
	for i := range 1000 {
		p := packet{src: ip4(cli), dst: ip4(srv), sport: uint16(1000 + i%37), dport: 80, proto: 17, bytes: 100}
		tbl.add(&p, at(float64(i)/10))
		pkts++
		if len(tbl.flows) > 10 {
			t.Fatalf("packet %d: %d flows in the table", i, len(tbl.flows))
		}
		for _, e := range tbl.drain() {
			emitted += e.d[0].packets + e.d[1].packets
		}
	}
	tbl.flush()
	for _, e := range tbl.drain() {
		emitted += e.d[0].packets + e.d[1].packets
	}
	if emitted != pkts {
		t.Errorf("%d packets in emitted flows, want %d", emitted, pkts)
	}
}

// TestStreaming: on a long capture, flows come out as capture time passes
// them, not all at the end. Two copies of the sample, the second shifted
// past the idle timeout, must emit the first copy's flows before reading
// the second.
func TestStreaming(t *testing.T) {
	src, err := os.ReadFile(samplePcap)
	if err != nil {
		t.Fatal(err)
	}
	// Second copy: same records, timestamps + 2 hours (little-endian pcap).
	recs := src[24:]
	shifted := append([]byte(nil), recs...)
	for off := 0; off+16 <= len(shifted); {
		sec := uint32(shifted[off]) | uint32(shifted[off+1])<<8 | uint32(shifted[off+2])<<16 | uint32(shifted[off+3])<<24
		sec += 7200
		shifted[off], shifted[off+1], shifted[off+2], shifted[off+3] = byte(sec), byte(sec>>8), byte(sec>>16), byte(sec>>24)
		caplen := int(shifted[off+8]) | int(shifted[off+9])<<8
		off += 16 + caplen
	}
	path := filepath.Join(t.TempDir(), "twice.pcap")
	if err := os.WriteFile(path, append(append([]byte(nil), src...), shifted...), 0o644); err != nil {
		t.Fatal(err)
	}
	var starts []time.Time
	for f, err := range New(Config{}).Flows(context.Background(), path) {
		if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, f.Start)
	}
	if len(starts) != 24 {
		t.Fatalf("%d flows, want 24", len(starts))
	}
	for i := 1; i < len(starts); i++ {
		if starts[i].Before(starts[i-1]) {
			t.Errorf("flow %d starts at %v before flow %d at %v", i, starts[i], i-1, starts[i-1])
		}
	}
}
