package scans

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

var t0 = time.Date(2027, 1, 20, 11, 0, 0, 0, time.UTC)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func tcp(at time.Duration, src, dst string, sport, dport uint16, flags uint8) *datasets.Flow {
	return &datasets.Flow{Start: t0.Add(at), End: t0.Add(at), SrcAddr: addr(src), DstAddr: addr(dst),
		SrcPort: sport, DstPort: dport, Proto: datasets.ProtoTCP, TCPFlags: flags, Packets: 1}
}

const syn, ack = datasets.FlagSYN, datasets.FlagACK

func TestThresholds(t *testing.T) {
	d, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	eta0, eta1 := d.Thresholds()
	if math.Abs(eta1-99) > 1e-9 || math.Abs(eta0-1.0/99) > 1e-12 {
		t.Errorf("eta0 %g, eta1 %g; want 1/99 and 99", eta0, eta1)
	}
}

// TestWalk: three failed first contacts are not enough, four are; a host
// whose first contacts succeed is never a scanner, even with some failures
// later; a vertical scan needs failures on distinct ports of one host.
func TestWalk(t *testing.T) {
	d, _ := New(DefaultConfig())
	// Three dead hosts: ratio 64, undecided.
	for i := range 3 {
		d.Add(tcp(time.Duration(i)*time.Second, "10.0.0.3", "10.0.1."+string(rune('1'+i)), 4000, 445, syn))
	}
	// Four: ratio 256, a sweep.
	for i := range 4 {
		d.Add(tcp(time.Duration(i)*time.Second, "10.0.0.4", "10.0.2."+string(rune('1'+i)), 4000, 445, syn))
	}
	// A client: five accepted connections (its records have SYN and
	// ACK), then three failures.
	for i := range 5 {
		d.Add(tcp(time.Duration(i)*time.Second, "10.0.0.5", "10.0.3."+string(rune('1'+i)), 4000+uint16(i), 443, syn|ack))
	}
	for i := range 3 {
		d.Add(tcp(time.Duration(10+i)*time.Second, "10.0.0.5", "10.0.4."+string(rune('1'+i)), 5000, 443, syn))
	}
	// Ports 20-29 of one host, all closed, and answered by SYN-ACK only
	// on 22 (half-open probe: the SYN-ACK is a success).
	for p := uint16(20); p < 30; p++ {
		d.Add(tcp(time.Duration(p)*time.Millisecond, "10.0.0.6", "10.0.5.1", 6000, p, syn))
	}
	d.Add(tcp(22*time.Millisecond, "10.0.5.1", "10.0.0.6", 22, 6000, syn|ack))
	alarms := d.Alarms()
	if len(alarms) != 2 {
		t.Fatalf("%d alarms, want 2: %+v", len(alarms), alarms)
	}
	h, v := alarms[0], alarms[1]
	if h.Kind == Vertical {
		h, v = v, h
	}
	if h.Kind != Horizontal || h.Source != addr("10.0.0.4") || h.DecidedAfter != 4 || h.Contacts != 4 || h.Failures != 4 || h.Ports[0].Port != 445 {
		t.Errorf("sweep: %+v", h)
	}
	if v.Kind != Vertical || v.Source != addr("10.0.0.6") || v.Target != addr("10.0.5.1") || v.Successes != 1 || v.Failures != 9 ||
		v.PortLow != 20 || v.PortHigh != 29 || math.Abs(v.Ratio-256) > 1e-9 {
		t.Errorf("port scan: %+v", v)
	}
}

// TestAnswers: UDP and ICMP attempts answered from the other side, and
// biflows with answers, are successes.
func TestAnswers(t *testing.T) {
	d, _ := New(DefaultConfig())
	for i := range 6 {
		dst := netip.AddrFrom4([4]byte{10, 0, 9, byte(i + 1)})
		at := t0.Add(time.Duration(i) * time.Second)
		d.Add(&datasets.Flow{Start: at, End: at, SrcAddr: addr("10.0.0.7"), DstAddr: dst, SrcPort: 5000, DstPort: 53, Proto: datasets.ProtoUDP, Packets: 1})
		d.Add(&datasets.Flow{Start: at, End: at, SrcAddr: dst, DstAddr: addr("10.0.0.7"), SrcPort: 53, DstPort: 5000, Proto: datasets.ProtoUDP, Packets: 1})
		d.Add(&datasets.Flow{Start: at, End: at, SrcAddr: addr("10.0.0.8"), DstAddr: dst, DstPort: 8 << 8, Proto: datasets.ProtoICMP, Packets: 1})
		d.Add(&datasets.Flow{Start: at, End: at, SrcAddr: dst, DstAddr: addr("10.0.0.8"), DstPort: 0, Proto: datasets.ProtoICMP, Packets: 1})
		d.Add(&datasets.Flow{Start: at, End: at, SrcAddr: addr("10.0.0.9"), DstAddr: dst, SrcPort: 5000, DstPort: 80, Proto: datasets.ProtoTCP,
			TCPFlags: syn | ack | datasets.FlagFIN, Packets: 5, HasReverse: true, RevPackets: 4})
		// nmap's half-open probe seen by Argus: SYN, SYN-ACK, RST.
		d.Add(&datasets.Flow{Start: at, End: at, SrcAddr: addr("10.0.0.10"), DstAddr: dst, SrcPort: 5000, DstPort: 80, Proto: datasets.ProtoTCP,
			TCPFlags: syn | ack | datasets.FlagRST, Packets: 2, HasReverse: true, RevPackets: 1})
		// Unanswered pings.
		d.Add(&datasets.Flow{Start: at, End: at, SrcAddr: addr("10.0.0.11"), DstAddr: dst, DstPort: 8 << 8, Proto: datasets.ProtoICMP, Packets: 1})
	}
	got := map[netip.Addr]bool{}
	for _, a := range d.Alarms() {
		got[a.Source] = true
	}
	for src, want := range map[string]bool{"10.0.0.7": false, "10.0.0.8": false, "10.0.0.9": false, "10.0.0.10": true, "10.0.0.11": true} {
		if got[addr(src)] != want {
			t.Errorf("%s: scanner %v, want %v", src, got[addr(src)], want)
		}
	}
}

// TestPack4: sources that differ only in their top bit keep walks of
// their own, as do pairs that differ in either address.
func TestPack4(t *testing.T) {
	a, b := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("138.1.2.3")
	d := netip.MustParseAddr("192.0.2.1")
	keys := map[uint64]pairKey{}
	for _, k := range []pairKey{{src: a}, {src: b}, {a, d}, {b, d}, {d, a}} {
		x, ok := pack4(k)
		if !ok {
			t.Fatalf("%v: not packed", k)
		}
		if o, dup := keys[x]; dup && (o.dst.IsValid() == k.dst.IsValid()) {
			t.Errorf("%v and %v share the key %#x", o, k, x)
		}
		keys[x] = k
	}
}
