package pcapflow

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

var update = flag.Bool("update", false, "rewrite testdata/*.flows.golden from this reader's output")

const (
	samplePcap   = "../lab-dev/sample.pcap"
	sampleLabels = "../lab-dev/sample.labels.csv"
)

// row is one unidirectional flow as softflowd's golden CSVs list it.
type row struct {
	Src, Dst         string
	SrcPort, DstPort string
	Proto, Flags     string
	Packets, Bytes   uint64
}

func (r row) String() string {
	return strings.Join([]string{r.Src, r.Dst, r.SrcPort, r.DstPort, r.Proto, r.Flags,
		strconv.FormatUint(r.Packets, 10), strconv.FormatUint(r.Bytes, 10)}, ",")
}

// readGolden reads a CSV made by testdata/gen.sh (nfdump -o csv columns
// sa,da,sp,dp,pr,flg,ipkt,ibyt).
func readGolden(t *testing.T, path string) []row {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(recs) < 2 || strings.Join(recs[0], ",") != "sa,da,sp,dp,pr,flg,ipkt,ibyt" {
		t.Fatalf("%s: unexpected header or no rows", path)
	}
	var rows []row
	for _, r := range recs[1:] {
		pk, err1 := strconv.ParseUint(r[6], 10, 64)
		by, err2 := strconv.ParseUint(r[7], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rows = append(rows, row{r[0], r[1], r[2], r[3], r[4], r[5], pk, by})
	}
	return rows
}

// readAll reads every flow of path, failing the test on an error.
func readAll(t testing.TB, cfg Config, path string) []datasets.Flow {
	t.Helper()
	var out []datasets.Flow
	for f, err := range New(cfg).Flows(context.Background(), path) {
		if err != nil {
			t.Fatalf("Flows: %v", err)
		}
		out = append(out, f)
	}
	return out
}

// softflowdRows renders flows as softflowd's nfdump CSV does, with the two
// places where softflowd 1.1.0's NetFlow v9 export loses information
// mapped to what it writes: ICMPv6 type and code are exported as port 0,
// and later IPv6 fragments as protocol 0 (the fixtures fragment only UDP).
func softflowdRows(flows []datasets.Flow) []string {
	var out []string
	for _, f := range flows {
		r := row{f.SrcAddr.String(), f.DstAddr.String(), strconv.Itoa(int(f.SrcPort)), strconv.Itoa(int(f.DstPort)),
			datasets.ProtoName(f.Proto), datasets.FlagString(f.TCPFlags), f.Packets, f.Bytes}
		if f.SrcAddr.Is6() && f.Proto == datasets.ProtoICMPv6 {
			r.DstPort = "0"
		}
		if f.SrcAddr.Is6() && f.Proto == datasets.ProtoUDP && f.SrcPort == 0 && f.DstPort == 0 {
			r.Proto = "0"
		}
		out = append(out, r.String())
	}
	slices.Sort(out)
	return out
}

func TestSoftflowdGolden(t *testing.T) {
	tests := []struct {
		capture, golden string
	}{
		{samplePcap, "sample.softflowd.csv"},       // Ethernet, snaplen 96
		{"testdata/eth.pcap", "eth.softflowd.csv"}, // Ethernet, IPv4+IPv6, fragments, ext. headers
		{"testdata/vlan.pcap", "eth.softflowd.csv"},
		{"testdata/vlan.pcapng", "eth.softflowd.csv"},
		{"testdata/sll.pcap", "sll.softflowd.csv"}, // Linux cooked v1, snaplen 96
		{"testdata/sll2.pcap", "raw.softflowd.csv"},
		{"testdata/raw.pcap", "raw.softflowd.csv"},
		{"testdata/null.pcap", "raw.softflowd.csv"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.capture), func(t *testing.T) {
			var want []string
			for _, r := range readGolden(t, filepath.Join("testdata", tt.golden)) {
				want = append(want, r.String())
			}
			slices.Sort(want)
			got := softflowdRows(readAll(t, Config{}, tt.capture))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: flows differ from softflowd's %s (-want +got):\n%s", tt.capture, tt.golden, diff)
			}
		})
	}
}

// TestSampleDownloads checks the six labelled downloads of the lab sample:
// the server→client flow of each must match softflowd's exactly, and the
// bidirectional view must pair it with the client's request direction.
func TestSampleDownloads(t *testing.T) {
	golden := map[string]row{}
	for _, r := range readGolden(t, "testdata/sample.softflowd.csv") {
		golden[r.Src+":"+r.SrcPort+">"+r.Dst+":"+r.DstPort] = r
	}
	f, err := os.Open(sampleLabels)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	labels, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	uni := map[string]datasets.Flow{}
	for _, fl := range readAll(t, Config{}, samplePcap) {
		uni[fmt.Sprintf("%s:%d>%s:%d", fl.SrcAddr, fl.SrcPort, fl.DstAddr, fl.DstPort)] = fl
	}
	bi := map[string]datasets.Flow{}
	for _, fl := range readAll(t, Config{Bidirectional: true}, samplePcap) {
		bi[fmt.Sprintf("%s:%d", fl.SrcAddr, fl.SrcPort)] = fl
	}
	if len(labels) != 7 {
		t.Fatalf("%s: %d rows, want 6 downloads", sampleLabels, len(labels)-1)
	}
	for _, l := range labels[1:] {
		client, port, sport, file := l[0], l[1], l[2], l[3]
		t.Run(file+"/"+port, func(t *testing.T) {
			down := "10.77.0.1:" + sport + ">" + client + ":" + port
			up := client + ":" + port + ">10.77.0.1:" + sport
			want, ok := golden[down]
			if !ok {
				t.Fatalf("softflowd has no flow %s", down)
			}
			got, ok := uni[down]
			if !ok {
				t.Fatalf("no flow %s", down)
			}
			if got.Packets != want.Packets || got.Bytes != want.Bytes {
				t.Errorf("%s: %d packets %d bytes, softflowd %d packets %d bytes",
					down, got.Packets, got.Bytes, want.Packets, want.Bytes)
			}
			b, ok := bi[client+":"+port]
			if !ok {
				t.Fatalf("no biflow from %s:%s", client, port)
			}
			wantUp := golden[up]
			if !b.HasReverse || b.RevPackets != want.Packets || b.RevBytes != want.Bytes ||
				b.Packets != wantUp.Packets || b.Bytes != wantUp.Bytes {
				t.Errorf("biflow %s: %d/%d packets, %d/%d bytes (rev %v), want %d/%d, %d/%d",
					client+":"+port, b.Packets, b.RevPackets, b.Bytes, b.RevBytes, b.HasReverse,
					wantUp.Packets, want.Packets, wantUp.Bytes, want.Bytes)
			}
		})
	}
}

// TestFlowsGolden pins every field of the flows of the Ethernet fixture,
// both views (timestamps, TTLs, ToS, flags), against this reader's own
// reviewed output. Refresh with go test -run TestFlowsGolden -update.
func TestFlowsGolden(t *testing.T) {
	for _, bidir := range []bool{false, true} {
		name := "eth.flows.golden"
		if bidir {
			name = "eth.biflows.golden"
		}
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			for _, f := range readAll(t, Config{Bidirectional: bidir}, "testdata/eth.pcap") {
				fmt.Fprintf(&b, "%s %s %s > %s %s %s pkts=%d bytes=%d",
					f.Start.Format(time.RFC3339Nano), f.End.Format(time.RFC3339Nano),
					netip.AddrPortFrom(f.SrcAddr, f.SrcPort), netip.AddrPortFrom(f.DstAddr, f.DstPort), datasets.ProtoName(f.Proto),
					datasets.FlagString(f.TCPFlags), f.Packets, f.Bytes)
				if f.HasReverse {
					fmt.Fprintf(&b, " rev_pkts=%d rev_bytes=%d", f.RevPackets, f.RevBytes)
				}
				fmt.Fprintf(&b, " tos=%d ttl=%d-%d\n", f.ToS, f.MinTTL, f.MaxTTL)
			}
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	head := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b[:min(len(b), datasets.SniffLen)]
	}
	tests := []struct {
		name string
		head []byte
		want bool
	}{
		{"pcap", head(samplePcap), true},
		{"pcapng", head("testdata/vlan.pcapng"), true},
		{"sll2 pcap", head("testdata/sll2.pcap"), true},
		{"csv", head("testdata/eth.softflowd.csv"), false},
		{"short", head(samplePcap)[:10], false},
		{"pcap version 1", append([]byte{0xd4, 0xc3, 0xb2, 0xa1, 1, 0}, make([]byte, 18)...), false},
		{"pcapng bad byte order", append([]byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4}, make([]byte, 16)...), false},
	}
	r := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Sniff(tt.head); got != tt.want {
				t.Errorf("Sniff = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		path string
		want datasets.FileInfo
	}{
		{samplePcap, datasets.FileInfo{Version: "pcap 2.4", Ident: "Ethernet",
			Notes: []string{"snaplen 96", "14266 packets, 0 non-IP skipped",
				"11650 packets truncated by the snaplen: bytes counted from their IP headers"}}},
		{"testdata/vlan.pcapng", datasets.FileInfo{Version: "pcapng", Ident: "Ethernet",
			Notes: []string{"no snaplen", "74 packets, 4 non-IP skipped"}}},
		{"testdata/sll2.pcap", datasets.FileInfo{Version: "pcap 2.4", Ident: "Linux cooked v2",
			Notes: []string{"snaplen 262144", "62 packets, 0 non-IP skipped"}}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			var got datasets.FileInfo
			if err := New(Config{}).Describe(context.Background(), tt.path, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Describe (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTruncated cuts real captures mid-record: the flows read so far come
// out, then io.ErrUnexpectedEOF naming the file and the record's offset.
func TestTruncated(t *testing.T) {
	sample, err := os.ReadFile(samplePcap)
	if err != nil {
		t.Fatal(err)
	}
	ng, err := os.ReadFile("testdata/vlan.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	// sample.pcap: 24-byte header, then 16-byte record headers and at most
	// 96 bytes of packet; the first record is 16+74 bytes.
	tests := []struct {
		name     string
		data     []byte
		wantErr  string // substring after the file name
		minFlows int
	}{
		{"file header", sample[:10], "offset 0: file header: unexpected EOF", 0},
		{"record header", sample[:24+90+5], "offset 114: packet 2: unexpected EOF", 1},
		{"record data", sample[:24+90+20], "offset 114: packet 2: unexpected EOF", 1},
		{"half the file", sample[:len(sample)/2], ": unexpected EOF", 6},
		{"pcapng block", ng[:len(ng)-30], ": unexpected EOF", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cut.pcap")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			var n int
			var last error
			for _, err := range New(Config{}).Flows(context.Background(), path) {
				if err != nil {
					last = err
					continue
				}
				if last != nil {
					t.Fatal("flow after the error")
				}
				n++
			}
			if !errors.Is(last, io.ErrUnexpectedEOF) {
				t.Fatalf("error %v, want io.ErrUnexpectedEOF", last)
			}
			if !strings.HasPrefix(last.Error(), path+": ") || !strings.Contains(last.Error(), tt.wantErr) {
				t.Errorf("error %q, want %q after the file name", last, tt.wantErr)
			}
			if n < tt.minFlows {
				t.Errorf("%d flows before the error, want at least %d", n, tt.minFlows)
			}
		})
	}
}

func TestCorrupt(t *testing.T) {
	sample, err := os.ReadFile(samplePcap)
	if err != nil {
		t.Fatal(err)
	}
	huge := slices.Clone(sample[:24+16])
	huge[24+8], huge[24+9], huge[24+10], huge[24+11] = 0xff, 0xff, 0xff, 0x7f // caplen 2 GiB
	badLink := slices.Clone(sample[:24])
	badLink[20] = 105 // 802.11
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"capture length over snaplen", huge, datasets.ErrCorrupt},
		{"bad version", append([]byte{0xd4, 0xc3, 0xb2, 0xa1, 9, 0}, sample[6:100]...), datasets.ErrCorrupt},
		{"link type", badLink, datasets.ErrUnsupported},
		{"empty", nil, datasets.ErrEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.pcap")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			var last error
			for _, err := range New(Config{}).Flows(context.Background(), path) {
				last = err
			}
			if !errors.Is(last, tt.want) || !strings.HasPrefix(last.Error(), path+": ") {
				t.Errorf("error %v, want %v naming the file", last, tt.want)
			}
		})
	}
}

// TestSplitVLANs duplicates every IPv4 frame of the Ethernet fixture on two
// VLANs, as a capture of a router-on-a-stick trunk shows a routed packet:
// ignoring VLANs doubles each flow's counts, keying by VLAN doubles the flows.
func TestSplitVLANs(t *testing.T) {
	in, err := os.Open("testdata/eth.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "trunk.pcap")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(out)
	if err := w.WriteFileHeader(r.Snaplen(), layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if data[12] != 0x08 || data[13] != 0x00 {
			continue
		}
		for _, vid := range []byte{10, 20} {
			pkt := slices.Concat(data[:12], []byte{0x81, 0x00, 0, vid}, data[12:])
			if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ci.Timestamp,
				CaptureLength: len(pkt), Length: ci.Length + 4}, pkt); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	var base []datasets.Flow
	for _, f := range readAll(t, Config{}, "testdata/eth.pcap") {
		if f.SrcAddr.Is4() {
			base = append(base, f)
		}
	}
	merged := readAll(t, Config{}, path)
	split := readAll(t, Config{SplitVLANs: true}, path)
	if len(merged) != len(base) || len(split) != 2*len(base) {
		t.Fatalf("%d flows merged, %d split, want %d and %d", len(merged), len(split), len(base), 2*len(base))
	}
	for i, f := range base {
		if m := merged[i]; m.Packets != 2*f.Packets || m.Bytes != 2*f.Bytes {
			t.Errorf("merged %v: %d packets %d bytes, want twice %d, %d", m.SrcAddr, m.Packets, m.Bytes, f.Packets, f.Bytes)
		}
	}
	var sum, want uint64
	for _, f := range split {
		sum += f.Bytes
	}
	for _, f := range base {
		want += 2 * f.Bytes
	}
	if sum != want {
		t.Errorf("split flows carry %d bytes, want %d", sum, want)
	}
}

func TestContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var last error
	for _, err := range New(Config{}).Flows(ctx, samplePcap) {
		last = err
	}
	if !errors.Is(last, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", last)
	}
}

// ip4 is a short helper for table tests of the flow table.
func ip4(s string) netip.Addr { return netip.MustParseAddr(s) }
