package floods

import (
	"cmp"
	"net/netip"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/datasets"
)

var (
	t0     = time.Date(2027, 1, 20, 11, 0, 0, 0, time.UTC)
	victim = netip.MustParseAddr("10.0.0.1")
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestBogonTable(t *testing.T) {
	for _, c := range []struct {
		addr    string
		private bool
		except  string
		want    string // range, "" for none
	}{
		{addr: "0.1.2.3", want: "0.0.0.0/8"},
		{addr: "127.0.0.2", want: "127.0.0.0/8"},
		{addr: "100.127.255.255", want: "100.64.0.0/10"},
		{addr: "100.128.0.1"},
		{addr: "192.0.2.10", want: "192.0.2.0/24"},
		{addr: "198.19.255.1", want: "198.18.0.0/15"},
		{addr: "224.1.1.1", want: "224.0.0.0/4"},
		{addr: "255.255.255.255", want: "240.0.0.0/4"},
		{addr: "8.8.8.8"},
		{addr: "10.77.1.2"},
		{addr: "10.77.1.2", private: true, want: "10.0.0.0/8"},
		{addr: "198.18.7.7", except: "198.18.0.0/15"},
		{addr: "2001:db8::1", want: "2001:db8::/32"},
		{addr: "fe80::1", want: "fe80::/10"},
		{addr: "ff02::1", want: "ff00::/8"},
		{addr: "fd77::1"},
		{addr: "2a00:1450::1"},
		{addr: "::ffff:10.0.0.1", want: "::ffff:0.0.0.0/96"},
	} {
		var except []netip.Prefix
		if c.except != "" {
			except = []netip.Prefix{netip.MustParsePrefix(c.except)}
		}
		tab, kept := newBogonTable(Bogons(), c.private, except)
		i := tab.lookup(addr(c.addr), kept)
		got := ""
		if i >= 0 {
			got = kept[i].Prefix.String()
		}
		if got != c.want {
			t.Errorf("%s (private %v, except %q): %q, want %q", c.addr, c.private, c.except, got, c.want)
		}
	}
}

// flood adds n one-packet TCP records with flags from src to victim:80,
// rate a second from start.
func flood(d *Detector, src string, flags uint8, n int, rate float64, start time.Time) {
	for i := range n {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		d.Add(&datasets.Flow{Start: at, End: at, SrcAddr: addr(src), DstAddr: victim, SrcPort: uint16(1000 + i),
			DstPort: 80, Proto: datasets.ProtoTCP, TCPFlags: flags, Packets: 1, Bytes: 40})
	}
}

func TestSignatures(t *testing.T) {
	const syn, ack, rst, fin, psh = datasets.FlagSYN, datasets.FlagACK, datasets.FlagRST, datasets.FlagFIN, datasets.FlagPSH
	for _, c := range []struct {
		name  string
		flags uint8
		rate  float64
		n     int
		want  Signature // NumSignatures: none
	}{
		{"SYN flood", syn, 1000, 1000, SYNFlood},
		{"completed connections", syn | ack | psh | fin, 1000, 1000, NumSignatures},
		{"slow SYNs", syn, 50, 1000, NumSignatures},
		{"short SYN burst", syn, 1000, 300, NumSignatures},
		{"RST flood", rst, 1000, 1000, RSTFlood},
		{"closed-port answers", rst | ack, 1000, 1000, NumSignatures},
		{"FIN flood", fin, 1000, 1000, FINFlood},
	} {
		d, err := New(DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		flood(d, "10.9.9.9", c.flags, c.n, c.rate, t0)
		alarms := d.Alarms()
		if c.want == NumSignatures {
			if len(alarms) > 0 {
				t.Errorf("%s: %d alarms, want none: %+v", c.name, len(alarms), alarms[0])
			}
			continue
		}
		if len(alarms) != 1 || alarms[0].Signature != c.want || alarms[0].Packets != float64(c.n) ||
			alarms[0].Sources[0].Addr != addr("10.9.9.9") || !alarms[0].Start.Equal(t0) {
			t.Errorf("%s: %+v, want one %v alarm of %d packets from 10.9.9.9 at %v", c.name, alarms, c.want, c.n, t0)
		}
	}
}

// TestEpisodes: two bursts more than Gap seconds apart are two alarms;
// records late by less than the horizon still count; a long UDP record is
// spread over its seconds.
func TestEpisodes(t *testing.T) {
	d, _ := New(DefaultConfig())
	flood(d, "10.9.9.9", datasets.FlagSYN, 600, 1000, t0)
	flood(d, "10.9.9.9", datasets.FlagSYN, 600, 1000, t0.Add(10*time.Second))
	// Ten minutes later a record that started during the first burst.
	d.Add(&datasets.Flow{Start: t0.Add(10 * time.Minute), End: t0.Add(10 * time.Minute), SrcAddr: addr("10.1.1.1"), DstAddr: addr("10.2.2.2"), Proto: datasets.ProtoUDP, Packets: 1})
	flood(d, "10.8.8.8", datasets.FlagSYN, 1, 1, t0.Add(300*time.Millisecond))
	// A UDP flood of 10,000 packets in one record over 4 s.
	d.Add(&datasets.Flow{Start: t0.Add(time.Hour), End: t0.Add(time.Hour + 4*time.Second), SrcAddr: addr("10.7.7.7"),
		DstAddr: victim, SrcPort: 5353, DstPort: 53, Proto: datasets.ProtoUDP, Packets: 10000})
	alarms := d.Alarms()
	if len(alarms) != 3 {
		t.Fatalf("%d alarms, want 3: %+v", len(alarms), alarms)
	}
	if a := alarms[0]; a.Packets != 601 || a.Spoofing.Distinct != 2 {
		t.Errorf("first burst: %v packets from %d sources, want 601 from 2 (a late record)", a.Packets, a.Spoofing.Distinct)
	}
	if a := alarms[2]; a.Signature != UDPFlood || a.Packets != 10000 || a.PeakRate != 2500 || a.MeanRate != 2500 || a.Ports[0] != 53 {
		t.Errorf("UDP flood: %+v", a)
	}
}

// TestSpoofed: a flood with a made-up source per packet is told apart from
// one from a crowd of real hosts.
func TestSpoofed(t *testing.T) {
	d, _ := New(DefaultConfig())
	for i := range 1000 {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		src := netip.AddrFrom4([4]byte{byte(i * 37 % 223), byte(i), byte(i >> 3), 7})
		d.Add(&datasets.Flow{Start: at, End: at, SrcAddr: src, DstAddr: victim, SrcPort: 1, DstPort: 443,
			Proto: datasets.ProtoTCP, TCPFlags: datasets.FlagSYN, Packets: 1})
	}
	for i := range 1000 {
		at := t0.Add(time.Minute + time.Duration(i)*time.Millisecond)
		src := netip.AddrFrom4([4]byte{byte(i % 50 * 4), 1, 1, 1})
		d.Add(&datasets.Flow{Start: at, End: at, SrcAddr: src, DstAddr: victim, SrcPort: 1, DstPort: 80,
			Proto: datasets.ProtoTCP, TCPFlags: datasets.FlagSYN, Packets: 1})
	}
	alarms := d.Alarms()
	if len(alarms) < 2 {
		t.Fatalf("%d alarms", len(alarms))
	}
	var spoofed, crowd *Alarm
	for i := range alarms {
		switch alarms[i].Port {
		case 443:
			spoofed = &alarms[i]
		case 80:
			crowd = &alarms[i]
		}
	}
	if spoofed == nil || !spoofed.Spoofing.Spoofed {
		t.Errorf("random sources: %+v", spoofed)
	}
	if crowd == nil || crowd.Spoofing.Spoofed || crowd.Spoofing.Distinct != 50 {
		t.Errorf("50 hosts, 20 SYNs each: %+v", crowd)
	}
}

// TestMaxAlarms: beyond MaxAlarms a signature keeps its biggest alarms and
// counts the others.
func TestMaxAlarms(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxAlarms = 2
	d, _ := New(cfg)
	for i, n := range []int{10, 50, 20, 40, 30} {
		dst := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
		at := t0.Add(time.Duration(i) * time.Minute)
		d.Add(&datasets.Flow{Start: at, End: at, SrcAddr: addr("192.0.2.1"), DstAddr: dst, Proto: datasets.ProtoUDP, Packets: uint64(n)})
	}
	alarms := d.Alarms()
	if len(alarms) != 2 || alarms[0].Packets != 50 || alarms[1].Packets != 40 || d.Dropped()[BogonSource] != 3 {
		t.Errorf("%d alarms (%v), %d dropped; want the 50 and 40 packet ones, 3 dropped", len(alarms), alarms, d.Dropped()[BogonSource])
	}
}

// TestFloodPorts: a UDP flood's ports are counted for the first 64 a
// source sends to, each record to its own port's count, and the alarm
// lists the five with the most packets. Two sources cover the index a
// source's ports are looked up through once it has eight of them: one
// repeats its ports in order, the other in an order of its own.
func TestFloodPorts(t *testing.T) {
	d, _ := New(DefaultConfig())
	want := map[uint16]float64{}
	add := func(src string, port uint16, packets uint64, at time.Time) {
		d.Add(&datasets.Flow{Start: at, End: at, SrcAddr: addr(src), DstAddr: victim, SrcPort: 40000,
			DstPort: port, Proto: datasets.ProtoUDP, Packets: packets})
	}
	for i := range 1000 {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		// 10.1.1.1: ports 2000-2099 round-robin with packets growing with
		// the port; only 2000-2063 are counted.
		p := uint16(2000 + i%100)
		add("10.1.1.1", p, uint64(p-1990), at)
		if p < 2064 {
			want[p] += float64(p - 1990)
		}
		// 10.2.2.2: ports 3000-3199 in a scattered order, ten packets each
		// record; its first 64 distinct ports are counted.
		q := uint16(3000 + i*37%200)
		add("10.2.2.2", q, 10, at)
	}
	seen := map[uint16]bool{}
	for i := range 1000 {
		q := uint16(3000 + i*37%200)
		if !seen[q] && len(seen) == 64 {
			continue
		}
		seen[q] = true
		want[q] += 10
	}
	alarms := d.Alarms()
	if len(alarms) != 1 || alarms[0].Signature != UDPFlood {
		t.Fatalf("alarms %+v, want one UDP flood", alarms)
	}
	var top []uint16
	for p := range want {
		top = append(top, p)
	}
	slices.SortFunc(top, func(x, y uint16) int { return cmp.Or(cmp.Compare(want[y], want[x]), cmp.Compare(x, y)) })
	if diff := gocmp.Diff(top[:5], alarms[0].Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
}
