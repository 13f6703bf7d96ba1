package features

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/argus"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
	"github.com/fingerflow/fingerflow/datasets/pcapflow"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var t0 = time.Date(2027, 1, 11, 12, 0, 0, 0, time.UTC)

// at is t0 plus s seconds.
func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// fl makes a unidirectional flow.
func fl(src string, sport uint16, dst string, dport uint16, proto uint8, start, end float64, packets, bytes uint64) datasets.Flow {
	return datasets.Flow{
		Start: at(start), End: at(end),
		SrcAddr: ip(src), DstAddr: ip(dst), SrcPort: sport, DstPort: dport, Proto: proto,
		Packets: packets, Bytes: bytes,
	}
}

func biflow(f datasets.Flow, revPackets, revBytes uint64) datasets.Flow {
	f.HasReverse, f.RevPackets, f.RevBytes = true, revPackets, revBytes
	return f
}

func ttl(f datasets.Flow, min, max uint8) datasets.Flow {
	f.MinTTL, f.MaxTTL = min, max
	return f
}

func aggregate(t *testing.T, cfg HostConfig, flows ...datasets.Flow) *HostAggregator {
	t.Helper()
	a, err := NewHostAggregator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range flows {
		a.Add(&flows[i])
	}
	return a
}

// counters is the part of HostStats the table compares exactly.
type counters struct {
	BytesOut, BytesIn, PacketsOut, PacketsIn, FlowsOut, FlowsIn uint64
	Peers, Ports                                                uint64
	ProtoBytes                                                  [4]uint64
	DurationOut                                                 time.Duration
	SiteShare                                                   float64
	Seconds                                                     int64
	BytesMean, PacketsMean                                      float64
}

func countersOf(h HostStats) counters {
	return counters{
		h.BytesOut, h.BytesIn, h.PacketsOut, h.PacketsIn, h.FlowsOut, h.FlowsIn,
		h.Peers, h.Ports, h.ProtoBytes, h.DurationOut, h.SiteShare,
		h.Rates.Seconds, h.Rates.BytesMean, h.Rates.PacketsMean,
	}
}

func TestHostCounters(t *testing.T) {
	tcp, udp := uint8(datasets.ProtoTCP), uint8(datasets.ProtoUDP)
	for _, tc := range []struct {
		name  string
		flows []datasets.Flow
		want  map[string]counters
		site  [3]uint64 // flows, packets, bytes
	}{{
		name:  "outbound flow over three seconds",
		flows: []datasets.Flow{fl("10.0.0.1", 50000, "8.8.8.8", 443, tcp, 0.5, 2.5, 4, 4000)},
		want: map[string]counters{"10.0.0.1": {
			BytesOut: 4000, PacketsOut: 4, FlowsOut: 1, Peers: 1, Ports: 1,
			ProtoBytes: [4]uint64{4000, 0, 0, 0}, DurationOut: 2 * time.Second, SiteShare: 1,
			Seconds: 3, BytesMean: 4000.0 / 3, PacketsMean: 4.0 / 3,
		}},
		site: [3]uint64{1, 4, 4000},
	}, {
		name:  "zero-length flow in its start second",
		flows: []datasets.Flow{fl("8.8.8.8", 53, "192.168.1.7", 40000, udp, 5.7, 5.7, 1, 120)},
		want: map[string]counters{"192.168.1.7": {
			BytesIn: 120, PacketsIn: 1, FlowsIn: 1, Peers: 1, ProtoBytes: [4]uint64{0, 120, 0, 0},
			SiteShare: 1, Seconds: 1, BytesMean: 120, PacketsMean: 1,
		}},
		site: [3]uint64{1, 1, 120},
	}, {
		name:  "between two internal hosts: counts for both, once for the site",
		flows: []datasets.Flow{fl("10.0.0.1", 40000, "10.0.0.2", 8080, tcp, 0, 1, 10, 1000)},
		want: map[string]counters{
			"10.0.0.1": {BytesOut: 1000, PacketsOut: 10, FlowsOut: 1, Peers: 1, Ports: 1, ProtoBytes: [4]uint64{1000}, DurationOut: time.Second, SiteShare: 1, Seconds: 1, BytesMean: 1000, PacketsMean: 10},
			"10.0.0.2": {BytesIn: 1000, PacketsIn: 10, FlowsIn: 1, Peers: 1, ProtoBytes: [4]uint64{1000}, SiteShare: 1, Seconds: 1, BytesMean: 1000, PacketsMean: 10},
		},
		site: [3]uint64{1, 10, 1000},
	}, {
		name:  "biflow: reverse counters the other way",
		flows: []datasets.Flow{biflow(fl("172.16.3.4", 50000, "1.1.1.1", 443, tcp, 0, 4, 2, 100), 5, 5000)},
		want: map[string]counters{"172.16.3.4": {
			BytesOut: 100, PacketsOut: 2, BytesIn: 5000, PacketsIn: 5, FlowsOut: 1, FlowsIn: 1, Peers: 1, Ports: 1,
			ProtoBytes: [4]uint64{5100}, DurationOut: 4 * time.Second, SiteShare: 1, Seconds: 4, BytesMean: 5100.0 / 4, PacketsMean: 7.0 / 4,
		}},
		site: [3]uint64{2, 7, 5100},
	}, {
		name:  "biflow to an internal server: the server sends the reverse",
		flows: []datasets.Flow{biflow(fl("1.1.1.1", 50000, "10.9.9.9", 22, tcp, 0, 2, 3, 300), 4, 4000)},
		want: map[string]counters{"10.9.9.9": {
			BytesIn: 300, PacketsIn: 3, BytesOut: 4000, PacketsOut: 4, FlowsOut: 1, FlowsIn: 1, Peers: 1,
			ProtoBytes: [4]uint64{4300}, DurationOut: 2 * time.Second, SiteShare: 1, Seconds: 2, BytesMean: 2150, PacketsMean: 3.5,
		}},
		site: [3]uint64{2, 7, 4300},
	}, {
		name:  "empty reverse of a biflow is no flow",
		flows: []datasets.Flow{biflow(fl("10.0.0.1", 50000, "9.9.9.9", 53, udp, 0, 0, 1, 70), 0, 0)},
		want: map[string]counters{"10.0.0.1": {
			BytesOut: 70, PacketsOut: 1, FlowsOut: 1, Peers: 1, Ports: 1, ProtoBytes: [4]uint64{0, 70}, SiteShare: 1, Seconds: 1, BytesMean: 70, PacketsMean: 1,
		}},
		site: [3]uint64{1, 1, 70},
	}, {
		name: "IPv6: ULA internal, link-local and global not; IPv4-mapped is IPv4",
		flows: []datasets.Flow{
			fl("fd00::1", 50000, "2001:db8::1", 443, tcp, 0, 1, 2, 200),
			fl("fe80::1", 546, "fd00::1", 547, udp, 0, 0, 1, 100),
			fl("::ffff:10.1.1.1", 123, "2001:db8::2", 123, udp, 0, 0, 1, 76),
		},
		want: map[string]counters{
			"fd00::1":  {BytesOut: 200, BytesIn: 100, PacketsOut: 2, PacketsIn: 1, FlowsOut: 1, FlowsIn: 1, Peers: 2, Ports: 1, ProtoBytes: [4]uint64{200, 100}, DurationOut: time.Second, SiteShare: 300.0 / 376, Seconds: 1, BytesMean: 300, PacketsMean: 3},
			"10.1.1.1": {BytesOut: 76, PacketsOut: 1, FlowsOut: 1, Peers: 1, Ports: 1, ProtoBytes: [4]uint64{0, 76}, SiteShare: 76.0 / 376, Seconds: 1, BytesMean: 76, PacketsMean: 1},
		},
		site: [3]uint64{3, 4, 376},
	}, {
		name: "end stamped before start, ICMP and GRE",
		flows: []datasets.Flow{
			fl("192.168.0.9", 0, "8.8.8.8", 0x0800, datasets.ProtoICMP, 3, 1, 2, 168),
			fl("192.168.0.9", 0, "8.8.4.4", 0, 47, 1, 1, 1, 32),
		},
		want: map[string]counters{"192.168.0.9": {
			BytesOut: 200, PacketsOut: 3, FlowsOut: 2, Peers: 2, ProtoBytes: [4]uint64{0, 0, 168, 32},
			DurationOut: 2 * time.Second, SiteShare: 1, Seconds: 2, BytesMean: 100, PacketsMean: 1.5,
		}},
		site: [3]uint64{2, 3, 200},
	}, {
		name: "repeated peers and ports are counted once",
		flows: []datasets.Flow{
			fl("10.0.0.1", 50000, "8.8.8.8", 53, udp, 0, 0, 1, 60),
			fl("10.0.0.1", 50001, "8.8.4.4", 53, udp, 0, 0, 1, 60),
			fl("10.0.0.1", 50002, "8.8.8.8", 53, udp, 0, 0, 1, 60),
			fl("10.0.0.1", 50003, "8.8.8.8", 853, tcp, 0, 0, 1, 60),
		},
		want: map[string]counters{"10.0.0.1": {
			BytesOut: 240, PacketsOut: 4, FlowsOut: 4, Peers: 2, Ports: 2, ProtoBytes: [4]uint64{60, 180},
			SiteShare: 1, Seconds: 1, BytesMean: 240, PacketsMean: 4,
		}},
		site: [3]uint64{4, 4, 240},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			a := aggregate(t, DefaultHostConfig(), tc.flows...)
			got := map[string]counters{}
			for _, h := range a.Hosts() {
				got[h.Addr.String()] = countersOf(h)
			}
			if d := cmp.Diff(tc.want, got, cmpopts.EquateApprox(1e-12, 0)); d != "" {
				t.Errorf("hosts (-want +got):\n%s", d)
			}
			s := a.Site()
			if g := [3]uint64{s.Flows, s.Packets, s.Bytes}; g != tc.site {
				t.Errorf("site flows, packets, bytes = %v, want %v", g, tc.site)
			}
		})
	}
}

func TestHostSeries(t *testing.T) {
	a := aggregate(t, DefaultHostConfig(),
		fl("10.0.0.1", 50000, "8.8.8.8", 443, datasets.ProtoTCP, 0.5, 2.5, 4, 4000), // 1000, 2000, 1000
		fl("10.0.0.1", 50000, "8.8.8.8", 443, datasets.ProtoTCP, 5.7, 5.7, 2, 600),  // second 5
		fl("10.0.0.2", 50000, "8.8.8.8", 443, datasets.ProtoTCP, 59, 61, 6, 6000),   // across a minute
	)
	s := a.Site()
	wantB := []float64{1000, 2000, 1000, 0, 0, 600}
	wantB = append(wantB, make([]float64, 53)...)
	wantB = append(wantB, 3000, 3000)
	if d := cmp.Diff(wantB, s.BytesPerSecond); d != "" {
		t.Errorf("site bytes per second (-want +got):\n%s", d)
	}
	if !s.Rates.Start.Equal(t0) || s.Rates.Seconds != 61 {
		t.Errorf("site series from %v for %d s, want %v for 61 s", s.Rates.Start, s.Rates.Seconds, t0)
	}
	if d := cmp.Diff([]float64{4600 + 3000, 3000}, s.BytesPerMinute); d != "" {
		t.Errorf("site bytes per minute (-want +got):\n%s", d)
	}
	// pandas: the 61 values' 95th percentile, linear interpolation at
	// rank 0.95*60 = 57 of the sorted values (55 zeros, 600, 1000, 1000,
	// 2000, 3000, 3000); the packets' at the same rank.
	if s.Rates.BytesP95 != 1000 || s.Rates.PacketsP95 != 2 {
		t.Errorf("site P95 %v bytes, %v packets; want 1000, 2", s.Rates.BytesP95, s.Rates.PacketsP95)
	}
	if got, want := s.Rates.BytesMean, 10600.0/61; math.Abs(got-want) > 1e-9 {
		t.Errorf("site mean %v, want %v", got, want)
	}

	h, _ := a.Host(ip("10.0.0.1"))
	if h.Rates.Seconds != 6 || h.Rates.BytesMean != 4600.0/6 {
		t.Errorf("10.0.0.1: %d s, mean %v; want 6 s, mean %v", h.Rates.Seconds, h.Rates.BytesMean, 4600.0/6)
	}
	// sorted: 0, 0, 600, 1000, 1000, 2000; rank 4.75: 1000 + 0.75*1000
	if !within(h.Rates.BytesP95, 1750, 0.01) {
		t.Errorf("10.0.0.1 P95 %v, want 1750 within 1%%", h.Rates.BytesP95)
	}
	wantMin := []MinuteRate{{t0, 4600, 6}}
	if d := cmp.Diff(wantMin, h.Minutes); d != "" {
		t.Errorf("10.0.0.1 minutes (-want +got):\n%s", d)
	}
	h, _ = a.Host(ip("10.0.0.2"))
	wantMin = []MinuteRate{{t0, 3000, 3}, {t0.Add(time.Minute), 3000, 3}}
	if d := cmp.Diff(wantMin, h.Minutes); d != "" {
		t.Errorf("10.0.0.2 minutes (-want +got):\n%s", d)
	}
	if !h.Rates.Start.Equal(at(59)) || h.Rates.Seconds != 2 {
		t.Errorf("10.0.0.2 span from %v for %d s", h.Rates.Start, h.Rates.Seconds)
	}
}

func within(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)
}

// A long-running stream folds old minutes; a record beyond the horizon still
// counts in totals and is counted as late.
func TestHostHorizon(t *testing.T) {
	cfg := DefaultHostConfig()
	cfg.Horizon = 2 * time.Minute
	tcp := uint8(datasets.ProtoTCP)
	var flows []datasets.Flow
	for s := 0; s < 600; s += 10 {
		flows = append(flows, fl("10.0.0.1", 50000, "8.8.8.8", 443, tcp, float64(s), float64(s), 1, 1000))
	}
	flows = append(flows,
		fl("10.0.0.1", 50000, "8.8.8.8", 443, tcp, 5, 5, 1, 500),        // late: folded minute
		fl("10.0.0.1", 50000, "8.8.8.8", 443, tcp, 590.5, 590.5, 1, 10), // not late
	)
	a := aggregate(t, cfg, flows...)
	if n := len(a.all[0].pages); n > 4 || len(a.queue)-a.head != n {
		t.Errorf("%d pages, %d queued: old minutes were not folded", n, len(a.queue)-a.head)
	}
	h, _ := a.Host(ip("10.0.0.1"))
	if h.LateRecords != 1 || a.Site().LateRecords != 1 {
		t.Errorf("late records: host %d, site %d; want 1", h.LateRecords, a.Site().LateRecords)
	}
	if h.BytesOut != 60*1000+510 || h.Rates.BytesMean != float64(60*1000+510)/591 {
		t.Errorf("bytes %d, mean %v", h.BytesOut, h.Rates.BytesMean)
	}
	// 61 positive seconds (the late one folded as a value of its own) and
	// 530 zeros over 591: the 95th percentile is 1000.
	if !within(h.Rates.BytesP95, 1000, 0.01) {
		t.Errorf("P95 %v", h.Rates.BytesP95)
	}
	if h.Minutes[0].Bytes != 6500 {
		t.Errorf("first minute %v bytes, want 6500", h.Minutes[0].Bytes)
	}
}

func TestHostTTL(t *testing.T) {
	tcp := uint8(datasets.ProtoTCP)
	f := fl("10.0.0.1", 50000, "8.8.8.8", 443, tcp, 0, 1, 1, 100)
	a := aggregate(t, DefaultHostConfig(),
		ttl(f, 63, 63), ttl(f, 60, 63), ttl(f, 0, 63), ttl(f, 127, 127), f, f,
		ttl(fl("8.8.8.8", 443, "10.0.0.1", 50000, tcp, 0, 1, 1, 100), 50, 50), // the peer's TTL
		ttl(f, 1, 1), ttl(f, 2, 2), ttl(f, 255, 255), // beyond four values
	)
	h, _ := a.Host(ip("10.0.0.1"))
	want := []TTLCount{{63, 3}, {1, 1}, {2, 1}, {127, 1}}
	if d := cmp.Diff(want, h.TTLs); d != "" || h.NoTTLFlows != 2 || h.TTLOther != 1 {
		t.Errorf("TTLs (-want +got):\n%s; no TTL %d, other %d; want 2, 1", d, h.NoTTLFlows, h.TTLOther)
	}
	for _, c := range []struct{ in, want uint8 }{
		{0, 0}, {1, 32}, {32, 32}, {33, 64}, {57, 64}, {64, 64}, {65, 128}, {117, 128}, {128, 128}, {129, 255}, {255, 255},
	} {
		if got := InitialTTL(c.in); got != c.want {
			t.Errorf("InitialTTL(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestHostServices(t *testing.T) {
	tcp, udp := uint8(datasets.ProtoTCP), uint8(datasets.ProtoUDP)
	var flows []datasets.Flow
	// A DNS server seen answering (unidirectional export of the answers).
	for i, peer := range []string{"10.1.0.1", "10.1.0.2", "8.8.8.8", "10.1.0.1"} {
		flows = append(flows, fl("10.0.0.5", 53, peer, uint16(40000+i), udp, 0, 0, 1, 100))
	}
	// SSH requests from four peers, no answers exported: receive-only.
	for i, peer := range []string{"1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"} {
		flows = append(flows, fl(peer, uint16(50000+i), "10.0.0.6", 22, tcp, 0, 1, 5, 400))
	}
	// Two peers on port 25 without answers: too few.
	flows = append(flows,
		fl("1.1.1.1", 50000, "10.0.0.7", 25, tcp, 0, 1, 5, 400),
		fl("1.1.1.2", 50000, "10.0.0.7", 25, tcp, 0, 1, 5, 400),
	)
	// NTP between two service ports, a client to HTTPS and a biflow
	// answered by a web server on 8080.
	flows = append(flows,
		fl("10.0.0.8", 123, "1.2.3.4", 123, udp, 0, 0, 1, 76),
		fl("10.0.0.8", 50000, "1.2.3.4", 443, tcp, 0, 1, 10, 1000),
		biflow(fl("1.2.3.5", 51000, "10.0.0.9", 8080, tcp, 0, 1, 10, 1000), 20, 20000),
	)
	a := aggregate(t, DefaultHostConfig(), flows...)
	want := map[string][]Service{
		"10.0.0.5": {{Port: 53, Proto: udp, Peers: 3, Flows: 4, Answers: 4}},
		"10.0.0.6": {{Port: 22, Proto: tcp, Peers: 4, Flows: 4}},
		"10.0.0.9": {{Port: 8080, Proto: tcp, Peers: 1, Flows: 2, Answers: 1}},
	}
	got := map[string][]Service{}
	ports := map[string]uint64{}
	for _, h := range a.Hosts() {
		if len(h.Services) > 0 {
			got[h.Addr.String()] = h.Services
		}
		if h.Addr.As4()[1] == 0 {
			ports[h.Addr.String()] = h.Ports
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("services (-want +got):\n%s", d)
	}
	// Answers are not contacted ports; the NTP and HTTPS flows are.
	wantPorts := map[string]uint64{"10.0.0.5": 0, "10.0.0.6": 0, "10.0.0.7": 0, "10.0.0.8": 2, "10.0.0.9": 0}
	if d := cmp.Diff(wantPorts, ports); d != "" {
		t.Errorf("contacted ports (-want +got):\n%s", d)
	}
	if s := (Service{Port: 53, Proto: udp}).String(); s != "53/udp" {
		t.Errorf("Service.String() = %q", s)
	}
}

// The server-role table keeps the ports a host answers on when a scan sends
// one-off requests to hundreds of others; a port that only resets is closed
// however many peers try it.
func TestHostServicesUnderScan(t *testing.T) {
	tcp := uint8(datasets.ProtoTCP)
	var flows []datasets.Flow
	for i := 0; i < 50; i++ {
		peer := netip.AddrFrom4([4]byte{1, 1, byte(i / 256), byte(i)}).String()
		f := fl("10.0.0.6", 443, peer, 50000, tcp, 0, 1, 5, 4000)
		f.TCPFlags = datasets.FlagSYN | datasets.FlagACK | datasets.FlagPSH | datasets.FlagFIN
		flows = append(flows, f)
	}
	for p := 1; p < 1000; p++ {
		flows = append(flows, fl("6.6.6.6", 40000, "10.0.0.6", uint16(p), tcp, 2, 2, 1, 40))
	}
	for i := 0; i < 5; i++ {
		peer := netip.AddrFrom4([4]byte{7, 7, 7, byte(i)}).String()
		flows = append(flows, fl(peer, 40000, "10.0.0.6", 23, tcp, 3, 3, 1, 40))
		f := fl("10.0.0.6", 23, peer, 40000, tcp, 3, 3, 1, 40)
		f.TCPFlags = datasets.FlagRST | datasets.FlagACK
		flows = append(flows, f)
	}
	a := aggregate(t, DefaultHostConfig(), flows...)
	h, _ := a.Host(ip("10.0.0.6"))
	if len(h.Services) != 1 || h.Services[0].Port != 443 || !within(float64(h.Services[0].Peers), 50, 0.1) {
		t.Errorf("services %v, want 443/tcp with about 50 peers", h.Services)
	}
}

func TestHostDistinct(t *testing.T) {
	udp := uint8(datasets.ProtoUDP)
	var flows []datasets.Flow
	for i := 0; i < 5000; i++ {
		peer := netip.AddrFrom4([4]byte{100, byte(i >> 16), byte(i >> 8), byte(i)}).String()
		flows = append(flows, fl("10.0.0.1", 40000, peer, uint16(1000+i%300), udp, 0, 0, 1, 60))
	}
	a := aggregate(t, DefaultHostConfig(), flows...)
	h, _ := a.Host(ip("10.0.0.1"))
	// HyperLogLog precision 11: standard error 2.3%; allow about two.
	if !within(float64(h.Peers), 5000, 0.05) || !within(float64(h.Ports), 300, 0.05) {
		t.Errorf("peers %d (want about 5000), ports %d (want about 300)", h.Peers, h.Ports)
	}
}

func TestHostDownloadsAndFrame(t *testing.T) {
	a := aggregate(t, DefaultHostConfig(),
		ttl(fl("10.0.0.1", 50000, "8.8.8.8", 443, datasets.ProtoTCP, 0, 2, 10, 10000), 117, 117),
		fl("10.0.0.2", 53, "8.8.8.8", 40000, datasets.ProtoUDP, 0, 0, 1, 100),
	)
	if !a.AddDownloads(ip("10.0.0.1"), 3, 1) || !a.AddDownloads(ip("10.0.0.1"), 1, 0) {
		t.Error("AddDownloads refused an internal host")
	}
	if !a.AddDownloads(ip("10.0.0.3"), 0, 2) {
		t.Error("AddDownloads refused an internal host without flows")
	}
	if a.AddDownloads(ip("8.8.8.8"), 1, 0) {
		t.Error("AddDownloads took an external host")
	}
	df, err := a.Frame()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(HostColumns(), df.Names()); d != "" {
		t.Errorf("columns (-want +got):\n%s", d)
	}
	if df.Nrow() != 3 {
		t.Fatalf("%d rows, want 3", df.Nrow())
	}
	row := func(col string) []string { return df.Col(col).Records() }
	checks := map[string][]string{
		"address":           {"10.0.0.1", "10.0.0.2", "10.0.0.3"},
		"bytes_out":         {"10000", "100", "0"},
		"downloads_named":   {"4", "0", "0"},
		"downloads_unknown": {"1", "0", "2"},
		"ttl":               {"117", "0", "0"},
		"ttl_initial":       {"128", "0", "0"},
		"serves":            {"", "53/udp:1:1", ""},
		"span_s":            {"2", "1", "0"},
		"kbytes_s_mean":     {"5.000000", "0.100000", "0.000000"},
		"first_seen":        {"1799668800.000000", "1799668800.000000", "0.000000"},
	}
	for col, want := range checks {
		if d := cmp.Diff(want, row(col)); d != "" {
			t.Errorf("%s (-want +got):\n%s", col, d)
		}
	}
}

func TestHostConfigErrors(t *testing.T) {
	for _, mod := range []func(*HostConfig){
		func(c *HostConfig) { c.Internal = nil },
		func(c *HostConfig) { c.Horizon = time.Second },
		func(c *HostConfig) { c.RelativeAccuracy = 0 },
		func(c *HostConfig) { c.ServiceSlots = 0 },
		func(c *HostConfig) { c.MinServicePeers = 0 },
		func(c *HostConfig) { c.DistinctPrecision = 20 },
		func(c *HostConfig) { c.Internal = []netip.Prefix{{}} },
	} {
		cfg := DefaultHostConfig()
		mod(&cfg)
		if _, err := NewHostAggregator(cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	cfg := DefaultHostConfig()
	cfg.Internal = []netip.Prefix{netip.MustParsePrefix("10.77.1.0/24"), netip.MustParsePrefix("2001:db8:0:1::/64")}
	a, err := NewHostAggregator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"10.77.1.9": true, "10.77.0.1": false, "2001:db8:0:1::5": true, "2001:db8:0:2::5": false,
		"::ffff:10.77.1.2": true, "192.168.1.1": false,
	} {
		if got := a.Internal(ip(addr)); got != want {
			t.Errorf("Internal(%s) = %v", addr, got)
		}
	}
}

// The lab capture's TTLs, read as flows: the server sends with its initial
// 64 where the capture was made, the client's packets arrive one router hop
// later with 63. Read as biflows, only the initiator's TTL is recorded.
func TestHostTTLFromCapture(t *testing.T) {
	for _, tc := range []struct {
		bidir bool
		want  map[string][]TTLCount
		noTTL map[string]uint64
	}{
		{false, map[string][]TTLCount{"10.77.0.1": {{64, 6}}, "10.77.1.2": {{63, 6}}}, map[string]uint64{"10.77.0.1": 0, "10.77.1.2": 0}},
		{true, map[string][]TTLCount{"10.77.0.1": nil, "10.77.1.2": {{63, 6}}}, map[string]uint64{"10.77.0.1": 6, "10.77.1.2": 0}},
	} {
		flows := readFlows(t, pcapflow.New(pcapflow.Config{Bidirectional: tc.bidir}), "../datasets/lab-dev/sample.pcap")
		a := aggregate(t, DefaultHostConfig(), flows...)
		got, noTTL := map[string][]TTLCount{}, map[string]uint64{}
		for _, h := range a.Hosts() {
			got[h.Addr.String()] = h.TTLs
			noTTL[h.Addr.String()] = h.NoTTLFlows
			if len(h.TTLs) > 0 && InitialTTL(h.TTLs[0].TTL) != 64 {
				t.Errorf("%s: initial TTL %d, want 64 (Linux)", h.Addr, InitialTTL(h.TTLs[0].TTL))
			}
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("bidirectional %v: TTLs (-want +got):\n%s", tc.bidir, d)
		}
		if d := cmp.Diff(tc.noTTL, noTTL); d != "" {
			t.Errorf("bidirectional %v: flows without TTL (-want +got):\n%s", tc.bidir, d)
		}
	}
}

// The same records give the same table, byte for byte, and the same site
// series.
func TestHostDeterminism(t *testing.T) {
	var flows []datasets.Flow
	flows = append(flows, readFlows(t, &argus.Reader{}, "testdata/pop-near-40h-s1001.argus")...)
	for f := range synthFlows(300, 50000, 3*time.Hour, 7) {
		flows = append(flows, *f)
	}
	run := func() (string, SiteStats) {
		cfg := DefaultHostConfig()
		cfg.Horizon = time.Minute // records of flows longer than a minute arrive late
		a := aggregate(t, cfg, flows...)
		a.AddDownloads(ip("10.77.1.16"), 2, 1)
		df, err := a.Frame()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := df.WriteCSV(&b); err != nil {
			t.Fatal(err)
		}
		return b.String(), a.Site()
	}
	csv1, site1 := run()
	csv2, site2 := run()
	if csv1 != csv2 {
		t.Errorf("host tables differ:\n%s", cmp.Diff(csv1, csv2))
	}
	if d := cmp.Diff(site1, site2); d != "" {
		t.Errorf("site stats differ (-first +second):\n%s", d)
	}
	if n := strings.Count(csv1, "\n"); n < 340 {
		t.Errorf("%d lines in the table, want a row for each of 341 hosts", n)
	}
	if site1.LateRecords == 0 {
		t.Error("no late records: the horizon path is not exercised")
	}
}

func ExampleHostAggregator() {
	a, err := NewHostAggregator(DefaultHostConfig())
	if err != nil {
		panic(err)
	}
	start := time.Date(2027, 1, 11, 12, 0, 0, 500_000_000, time.UTC)
	for i, peer := range []string{"9.9.9.9", "9.9.9.9", "1.1.1.1"} {
		a.Add(&datasets.Flow{
			Start: start.Add(time.Duration(i) * time.Second), End: start.Add(time.Duration(i+2) * time.Second),
			SrcAddr: netip.MustParseAddr("192.168.1.20"), DstAddr: netip.MustParseAddr(peer),
			SrcPort: 50000, DstPort: 443, Proto: datasets.ProtoTCP, Packets: 20, Bytes: 20_000,
			HasReverse: true, RevPackets: 40, RevBytes: 60_000,
		})
	}
	for _, h := range a.Hosts() {
		fmt.Printf("%s: %d bytes out, %d in, %d peers, %d s active, %.1f kB/s mean, P95 %.1f kB/s\n",
			h.Addr, h.BytesOut, h.BytesIn, h.Peers, h.Rates.Seconds, h.Rates.BytesMean/1000, h.Rates.BytesP95/1000)
	}
	// The seconds carry 20, 60, 80, 60 and 20 kB: pandas' 95th percentile
	// is 76.0 kB/s, the sketch's within 1% of it.

	// Output:
	// 192.168.1.20: 60000 bytes out, 180000 in, 2 peers, 5 s active, 48.0 kB/s mean, P95 76.6 kB/s
}

// A stream spanning more than MaxSeriesSpan (a broken exporter clock) keeps
// its site mean and P95 but no dense series.
func TestSiteLongSpan(t *testing.T) {
	tcp := uint8(datasets.ProtoTCP)
	var flows []datasets.Flow
	for i := 0; i < 100; i++ {
		flows = append(flows, fl("10.0.0.1", 50000, "8.8.8.8", 443, tcp, float64(i), float64(i), 1, 100))
	}
	flows = append(flows, fl("10.0.0.1", 50000, "8.8.8.8", 443, tcp, 40*86400, 40*86400, 1, 100))
	a := aggregate(t, DefaultHostConfig(), flows...)
	s := a.Site()
	if !s.SeriesOmitted || s.BytesPerSecond != nil || s.BytesPerMinute != nil {
		t.Errorf("series omitted %v, %d seconds, %d minutes kept", s.SeriesOmitted, len(s.BytesPerSecond), len(s.BytesPerMinute))
	}
	if n := int64(40*86400 + 1); s.Rates.Seconds != n || s.Rates.BytesMean != 10100/float64(n) || s.Rates.BytesP95 != 0 {
		t.Errorf("site rates %+v", s.Rates)
	}
	h, ok := a.Host(ip("10.0.0.1"))
	if !ok || h.Rates.Seconds != s.Rates.Seconds || h.Rates.BytesP95 != 0 {
		t.Errorf("host rates %+v", h.Rates)
	}
	if _, ok := a.Host(ip("10.0.0.2")); ok {
		t.Error("Host found a host that sent nothing")
	}
}

// A record with an unknown start (the zero time) or a broken clock is
// spread over at most MaxFlowDuration and counted.
func TestHostClippedRecord(t *testing.T) {
	f := fl("10.0.0.1", 50000, "8.8.8.8", 443, datasets.ProtoTCP, 0, 10, 10, 1000)
	f.Start = time.Time{}
	a := aggregate(t, DefaultHostConfig(), f)
	s := a.Site()
	if s.ClippedRecords != 1 || s.Rates.Seconds != 86400 || s.Bytes != 1000 {
		t.Errorf("clipped %d, %d s, %d bytes; want 1, 86400, 1000", s.ClippedRecords, s.Rates.Seconds, s.Bytes)
	}
	if !s.Rates.Start.Equal(at(10).Add(-24 * time.Hour)) {
		t.Errorf("series starts %v", s.Rates.Start)
	}
}

// FuzzHostAdd feeds arbitrary records: nothing panics, the site's bytes are
// those of the records with an internal endpoint, and the hosts' series
// hold their bytes.
func FuzzHostAdd(f *testing.F) {
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13"))
	f.Add([]byte("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3\xf2\xf1\xf0\xef\xee\xed\xec\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	addrs := []netip.Addr{ip("10.0.0.1"), ip("10.0.0.2"), ip("192.168.5.5"), ip("fd00::1"), ip("8.8.8.8"), ip("2001:db8::1"), ip("::ffff:10.0.0.1"), {}}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := DefaultHostConfig()
		cfg.Horizon = time.Minute
		a, err := NewHostAggregator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var want uint64
		for len(data) >= 20 {
			d := data[:20]
			data = data[20:]
			start := t0.Add(time.Duration(int16(uint16(d[2])<<8|uint16(d[3]))) * time.Second)
			fl := datasets.Flow{
				Start: start, End: start.Add(time.Duration(d[4]) * 37 * time.Millisecond * time.Duration(1+d[5]%64)),
				SrcAddr: addrs[int(d[0])%len(addrs)], DstAddr: addrs[int(d[1])%len(addrs)],
				SrcPort: uint16(d[6]) << 4, DstPort: uint16(d[7]) << 8, Proto: d[8] % 20, TCPFlags: d[9],
				Packets: uint64(d[10]), Bytes: uint64(d[11]) << 6, HasReverse: d[12]&1 == 1,
				RevPackets: uint64(d[13]), RevBytes: uint64(d[14]) << 4, MinTTL: d[15], MaxTTL: d[16],
			}
			if d[17]%7 == 0 {
				fl.Start = time.Time{}
			}
			a.Add(&fl)
			if a.Internal(fl.SrcAddr) || a.Internal(fl.DstAddr) {
				want += fl.Bytes
				if fl.HasReverse {
					want += fl.RevBytes
				}
			}
		}
		hs := a.Hosts()
		s := a.Site()
		if s.Bytes != want {
			t.Errorf("site bytes %d, want %d", s.Bytes, want)
		}
		var in, out uint64
		for _, h := range hs {
			in += h.BytesIn
			out += h.BytesOut
			if h.Rates.BytesP95 < 0 || math.IsNaN(h.Rates.BytesP95) {
				t.Errorf("%s: P95 %v", h.Addr, h.Rates.BytesP95)
			}
		}
		if in > 2*want || out > 2*want {
			t.Errorf("hosts %d in, %d out of %d site bytes", in, out, want)
		}
		if _, err := a.Frame(); err != nil {
			t.Error(err)
		}
	})
}

// TestHostsWithoutMinutes: the host table without minutes is Hosts' with
// Minutes nil, and Minutes gives each host's as Hosts does.
func TestHostsWithoutMinutes(t *testing.T) {
	flows := readFlows(t, &nfcapd.Reader{}, "../datasets/population/pop-near-24h-s1007.v9")
	a := aggregate(t, DefaultHostConfig(), flows...)
	full, brief := a.Hosts(), a.HostsWithoutMinutes()
	if len(full) == 0 {
		t.Fatal("no hosts")
	}
	minutes := 0
	want := make([]HostStats, len(full))
	for i, h := range full {
		got, ok := a.Minutes(h.Addr)
		if !ok {
			t.Fatalf("%s: no minutes", h.Addr)
		}
		if d := cmp.Diff(h.Minutes, got); d != "" {
			t.Errorf("%s: minutes (-Hosts +Minutes):\n%s", h.Addr, d)
		}
		minutes += len(h.Minutes)
		h.Minutes = nil
		want[i] = h
	}
	if minutes == 0 {
		t.Fatal("no host has minutes")
	}
	if d := cmp.Diff(want, brief, cmpopts.EquateComparable(netip.Addr{})); d != "" {
		t.Errorf("HostsWithoutMinutes (-Hosts without minutes +got):\n%s", d)
	}
	if _, ok := a.Minutes(ip("192.0.2.1")); ok {
		t.Error("minutes of a host never seen")
	}
}
