package inventory

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

func TestShippedHintsParse(t *testing.T) {
	rs, err := LoadRules("")
	if err != nil {
		t.Fatal(err)
	}
	if rs.Len() < 10 {
		t.Errorf("%d shipped rules, want the documented set", rs.Len())
	}
}

func TestReadRulesErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ttl,63,linux,0.2,x\n", "line 1: ttl \"63\""},
		{"# c\ntalks,icmp/3,windows,0.1,x\n", "line 2: port"},
		{"net,10.0.0.0/33,windows,0.1,x\n", "want a CIDR"},
		{"serves,tcp/445,,0.1,x\n", "no OS family"},
		{"serves,tcp/445,windows,9,x\n", "weight"},
		{"smell,tcp/445,windows,0.1,x\n", "kind"},
		{"serves,tcp/445,windows\n", "want kind,match,os,weight,text"},
		{"ttl,64,!windows,0.3,a\nttl,64,debian,0.2,b\n", "line 2: a second rule for TTL 64"},
		{"serves,tcp/445,!windows,0.1,x\n", "only a ttl rule rules families out"},
		{"ttl,64,debian/!windows,0.1,x\n", "both named and ruled out"},
	} {
		_, err := ReadRules(strings.NewReader(tc.in), "h.csv")
		if !errors.Is(err, ErrHints) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "h.csv: line") {
			t.Errorf("%q: err = %v, want ErrHints naming h.csv, the line and %q", tc.in, err, tc.want)
		}
	}
}

func TestHintCounter(t *testing.T) {
	rs, err := LoadRules("")
	if err != nil {
		t.Fatal(err)
	}
	internal := netip.MustParsePrefix("10.0.0.0/8").Contains
	hc := rs.NewHintCounter(internal)
	host, peer := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("10.9.9.9")
	now := time.Now()
	flows := []datasets.Flow{
		{Start: now, End: now, SrcAddr: host, DstAddr: peer, SrcPort: 137, DstPort: 137, Proto: datasets.ProtoUDP},
		{Start: now, End: now, SrcAddr: host, DstAddr: peer, SrcPort: 137, DstPort: 137, Proto: datasets.ProtoUDP},
		{Start: now, End: now, SrcAddr: host, DstAddr: peer, SrcPort: 445, DstPort: 50123, Proto: datasets.ProtoTCP},
		{Start: now, End: now, SrcAddr: host, DstAddr: netip.MustParseAddr("17.253.1.1"), SrcPort: 50000, DstPort: 443, Proto: datasets.ProtoTCP},
		// An external source matches nothing; a client talking to
		// port 445 does not serve it.
		{Start: now, End: now, SrcAddr: netip.MustParseAddr("192.0.2.1"), DstAddr: host, SrcPort: 137, DstPort: 137, Proto: datasets.ProtoUDP},
		{Start: now, End: now, SrcAddr: peer, DstAddr: host, SrcPort: 50123, DstPort: 445, Proto: datasets.ProtoTCP},
	}
	for i := range flows {
		hc.Add(&flows[i])
	}
	var got []string
	for _, h := range hc.Hints(host, map[uint8]uint64{128: 30, 64: 1}) {
		got = append(got, string(h.Kind)+":"+h.Text)
	}
	// One line per fact: the TTL class once, never two that contradict.
	want := []string{
		"hint:NetBIOS name service (Windows, Samba) (2 flows)",
		"hint:answers SMB (Windows file sharing, Samba) (1 flows)",
		"hint:talks to Apple's network (17.0.0.0/8) (1 flows)",
		"ttl:initial TTL 128 (Windows sends 128)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("hints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if hs := hc.Hints(peer, nil); len(hs) != 0 {
		t.Errorf("peer hints %v: a client of SMB serves nothing", hs)
	}
	if hs := rs.TTLHints(nil); hs != nil {
		t.Errorf("TTL hints without TTLs: %v", hs)
	}
	// Mixed TTLs (a NAT gateway) are said once and decide nothing.
	mixed := rs.TTLHints(map[uint8]uint64{128: 3, 64: 1})
	if len(mixed) != 1 || mixed[0].Class || mixed[0].Weight != 0 || !strings.Contains(mixed[0].Text, "64 (1 flows), 128 (3 flows)") {
		t.Errorf("mixed TTLs: %+v", mixed)
	}
	for ttl, class := range map[uint8]string{64: "not windows", 128: "windows", 255: "not windows"} {
		hs := rs.TTLHints(map[uint8]uint64{ttl: 10})
		if len(hs) != 1 || !hs[0].Class {
			t.Fatalf("TTL %d: %+v, want one class", ttl, hs)
		}
		names := strings.Join(hs[0].OS, "/") == "windows"
		if names != (class == "windows") || hs[0].allows("windows") != (class == "windows") || hs[0].allows("debian") != (class != "windows") {
			t.Errorf("TTL %d: class %+v, want %s", ttl, hs[0], class)
		}
	}
}

func TestClusterHints(t *testing.T) {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	cluster := map[netip.Addr]int{
		a("10.0.0.1"): 0, a("10.0.0.2"): 0, a("10.0.0.3"): 0, a("10.0.0.4"): 0, a("10.0.0.5"): 0,
		a("10.0.1.1"): 1, a("10.0.1.2"): 1, a("10.0.1.3"): 1, a("10.0.1.4"): 1,
	}
	verdicts := map[netip.Addr]Verdict{
		a("10.0.0.1"): {OS: "debian"}, a("10.0.0.2"): {OS: "debian"}, a("10.0.0.3"): {OS: "windows"}, a("10.0.0.4"): {OS: Unknown},
		a("10.0.1.1"): {OS: "debian"}, a("10.0.1.2"): {OS: "windows"},
	}
	hs := ClusterHints(cluster, []string{"quiet clients", "heavy downloaders"}, verdicts)
	if len(hs) != 5 {
		t.Fatalf("%d hints, want one per host of cluster 0 (cluster 1 has too few hosts with an OS)", len(hs))
	}
	h := hs[a("10.0.0.4")]
	if h.Kind != KindCluster || len(h.OS) != 1 || h.OS[0] != "debian" || h.Weight < 0.19 || h.Weight > 0.21 ||
		h.Text != "cluster 0 (quiet clients): 2 of its 3 hosts with an OS run debian" {
		t.Errorf("hint %+v", h)
	}
}

// endless is an io.Reader of the same byte for ever.
type endless byte

func (b endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestReadRulesLongLine: a hints file whose last line lacks its newline
// (64 MiB of one byte, made as it is read) is refused after
// datasets.MaxLine bytes of that line, naming the file and the line.
func TestReadRulesLongLine(t *testing.T) {
	shipped := DefaultHints()
	r := io.MultiReader(bytes.NewReader(shipped), io.LimitReader(endless('a'), 64<<20))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadRules(r, "hints.csv")
	runtime.ReadMemStats(&after)
	want := "hints.csv: line " + strconv.Itoa(bytes.Count(shipped, []byte{'\n'})+1) + ": longer than 1 MiB without a newline: bad hints file"
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
	if !errors.Is(err, ErrHints) || !errors.Is(err, datasets.ErrLineTooLong) {
		t.Errorf("error %v is not ErrHints and ErrLineTooLong", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("allocated %d MiB", alloc>>20)
	}
}
