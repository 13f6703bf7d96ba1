package netflow

import (
	"bytes"
	"context"
	"encoding/binary"
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

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixtures made by testdata/gen.sh: capture → nfdump CSV of the same export
// as nfcapd collected it, and the sampling rate softflowd announced (v9 and
// IPFIX always send an options record; v1 and v5 say nothing).
var fixtures = []struct {
	file, nfdump string
	version      uint16
	linkType     string
	rate         uint32
}{
	{"v1.pcap", "v1.nfdump.csv", 1, "Ethernet", 0},
	{"v5.pcap", "v5.nfdump.csv", 5, "Ethernet", 0},
	{"v9.pcap", "v9.nfdump.csv", 9, "Linux cooked v2", 1},
	{"ipfix.pcap", "ipfix.nfdump.csv", 10, "Ethernet", 1},
	{"ipfix.pcapng", "ipfix.nfdump.csv", 10, "Ethernet", 1},
	{"v9-sampled.pcap", "v9-sampled.nfdump.csv", 9, "Ethernet", 4},
	{"ipfix-sampled.pcap", "ipfix-sampled.nfdump.csv", 10, "Ethernet", 4},
}

func readAll(t testing.TB, path string) ([]datasets.Flow, error) {
	t.Helper()
	var r Reader
	var flows []datasets.Flow
	for f, err := range r.Flows(context.Background(), path) {
		if err != nil {
			return flows, err
		}
		flows = append(flows, f)
	}
	return flows, nil
}

func decodeFile(t testing.TB, path string) ([]datasets.Flow, Stats, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r Reader
	var flows []datasets.Flow
	st, err := r.Decode(context.Background(), path, f, func(fl *datasets.Flow) bool {
		flows = append(flows, *fl)
		return true
	})
	return flows, st, err
}

func render(flows []datasets.Flow) string {
	var b strings.Builder
	for _, f := range flows {
		fmt.Fprintf(&b, "%s %s %s %s:%d > %s:%d %s pkts=%d bytes=%d exp=%s rate=%d",
			f.Start.Format("2006-01-02T15:04:05.000"), f.End.Format("15:04:05.000"),
			datasets.ProtoName(f.Proto), f.SrcAddr, f.SrcPort, f.DstAddr, f.DstPort,
			datasets.FlagString(f.TCPFlags), f.Packets, f.Bytes, f.Exporter, f.SamplingRate)
		if f.HasReverse {
			fmt.Fprintf(&b, " rev_pkts=%d rev_bytes=%d", f.RevPackets, f.RevBytes)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			path := filepath.Join("testdata", fx.file)
			flows, err := readAll(t, path)
			if err != nil {
				t.Fatal(err)
			}
			if len(flows) == 0 {
				t.Fatal("no flows")
			}
			got := render(flows)
			golden := path + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("flows differ from %s (-want +got):\n%s", golden, diff)
			}
			for _, f := range flows {
				if f.SamplingRate != fx.rate {
					t.Fatalf("sampling rate %d, want %d", f.SamplingRate, fx.rate)
				}
				if f.Exporter.String() != "127.0.0.1" && f.Exporter.String() != "::1" {
					t.Fatalf("exporter %s", f.Exporter)
				}
			}
		})
	}
}

// nfRecord is the part of an nfdump CSV line both sides know.
type nfRecord struct {
	Start, End       string // UTC, second resolution
	Src, Dst         string
	SrcPort, DstPort uint16
	Proto            string
	Flags            string
	Packets, Bytes   uint64
}

func readNfdumpCSV(t *testing.T, path string) []nfRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	var out []nfRecord
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(rec) < 13 || rec[0] == "ts" {
			continue // header or summary line
		}
		num := func(s string) uint64 {
			n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", path, s, err)
			}
			return n
		}
		out = append(out, nfRecord{
			Start: rec[0], End: rec[1], Src: rec[3], Dst: rec[4],
			SrcPort: uint16(num(rec[5])), DstPort: uint16(num(rec[6])),
			Proto: rec[7], Flags: rec[8], Packets: num(rec[11]), Bytes: num(rec[12]),
		})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no records", path)
	}
	return out
}

func toNfRecords(flows []datasets.Flow) []nfRecord {
	out := make([]nfRecord, len(flows))
	for i, f := range flows {
		out[i] = nfRecord{
			Start: f.Start.UTC().Format("2006-01-02 15:04:05"), End: f.End.UTC().Format("2006-01-02 15:04:05"),
			Src: f.SrcAddr.String(), Dst: f.DstAddr.String(), SrcPort: f.SrcPort, DstPort: f.DstPort,
			Proto: datasets.ProtoName(f.Proto), Flags: datasets.FlagString(f.TCPFlags),
			Packets: f.Packets, Bytes: f.Bytes,
		}
	}
	return out
}

func sortRecords(rs []nfRecord) {
	slices.SortFunc(rs, func(a, b nfRecord) int {
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	})
}

// nfdumpWrap is how much later nfdump 1.7.1 puts softflowd's v9 and IPFIX
// flows: it reads the wrapped 32-bit uptime of flows that started before
// softflowd did as unsigned (see timeBase.sinceInit).
const nfdumpWrap = (1 << 32) * time.Millisecond

// compareNfdump returns the differences between flows and nfdump's records,
// both the flow list and the totals. shift is added to the flow times first.
func compareNfdump(flows []datasets.Flow, want []nfRecord, shift time.Duration) string {
	shifted := slices.Clone(flows)
	for i := range shifted {
		shifted[i].Start = shifted[i].Start.Add(shift)
		shifted[i].End = shifted[i].End.Add(shift)
	}
	got := toNfRecords(shifted)
	want = slices.Clone(want)
	sortRecords(got)
	sortRecords(want)
	var diff string
	if d := cmp.Diff(want, got); d != "" {
		diff += d
	}
	var wp, wb, gp, gb uint64
	for _, r := range want {
		wp, wb = wp+r.Packets, wb+r.Bytes
	}
	for _, r := range got {
		gp, gb = gp+r.Packets, gb+r.Bytes
	}
	if wp != gp || wb != gb {
		diff += fmt.Sprintf("totals: nfdump %d packets %d bytes, got %d packets %d bytes\n", wp, wb, gp, gb)
	}
	return diff
}

func TestMatchesNfdump(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			flows, err := readAll(t, filepath.Join("testdata", fx.file))
			if err != nil {
				t.Fatal(err)
			}
			want := readNfdumpCSV(t, filepath.Join("testdata", fx.nfdump))
			var shift time.Duration
			if fx.version >= 9 {
				shift = nfdumpWrap
			}
			if d := compareNfdump(flows, want, shift); d != "" {
				t.Errorf("differs from nfdump's view of the same export (-want +got):\n%s", d)
			}
		})
	}
}

// A wrong byte count in one record must show up in the comparison.
func TestCompareNfdumpCatchesWrongBytes(t *testing.T) {
	flows, err := readAll(t, "testdata/v5.pcap")
	if err != nil {
		t.Fatal(err)
	}
	want := readNfdumpCSV(t, "testdata/v5.nfdump.csv")
	if d := compareNfdump(flows, want, 1); d != "" {
		t.Fatalf("unmodified flows differ: %s", d)
	}
	flows[0].Bytes++
	if d := compareNfdump(flows, want, 1); !strings.Contains(d, "totals") {
		t.Fatalf("one extra byte not detected: %q", d)
	}
}

func TestSniff(t *testing.T) {
	var r Reader
	cases := []struct {
		path string
		want bool
	}{
		{"../lab-dev/sample.pcap", false},
		{"testdata/v9.pcap", true},
	}
	for _, fx := range fixtures {
		cases = append(cases, struct {
			path string
			want bool
		}{filepath.Join("testdata", fx.file), true})
	}
	if m, _ := filepath.Glob("../lab-dev/test-near.v9/nfcapd.*"); len(m) > 0 {
		cases = append(cases, struct {
			path string
			want bool
		}{m[0], false})
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			head := readHead(t, c.path)
			if got := r.Sniff(head); got != c.want {
				t.Errorf("Sniff(%s) = %v, want %v", c.path, got, c.want)
			}
		})
	}
	for _, head := range [][]byte{nil, {0xd4, 0xc3}, []byte("ts,te,td,sa,da\n")} {
		if r.Sniff(head) {
			t.Errorf("Sniff(%q) = true", head)
		}
	}
}

func readHead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b[:min(len(b), datasets.SniffLen)]
}

func TestRegistryPicksNetflow(t *testing.T) {
	reg := datasets.NewRegistry(&Reader{})
	for _, fx := range fixtures {
		rd, err := reg.Detect(context.Background(), filepath.Join("testdata", fx.file))
		if err != nil || rd.Format() != Format {
			t.Errorf("%s: Detect = %v, %v", fx.file, rd, err)
		}
	}
	if _, err := reg.Detect(context.Background(), "../lab-dev/sample.pcap"); !errors.Is(err, datasets.ErrUnknownFormat) {
		t.Errorf("sample.pcap: Detect error %v, want ErrUnknownFormat", err)
	}
}

func TestDescribe(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			reg := datasets.NewRegistry(&Reader{})
			info, err := reg.Inspect(context.Background(), filepath.Join("testdata", fx.file))
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("NetFlow v%d", fx.version)
			if fx.version == 10 {
				name = "IPFIX"
			}
			if !strings.HasPrefix(info.Version, name+" (") {
				t.Errorf("Version = %q, want %s", info.Version, name)
			}
			if info.Ident != "link type "+fx.linkType {
				t.Errorf("Ident = %q, want link type %s", info.Ident, fx.linkType)
			}
			if len(info.Exporters) != 1 {
				t.Errorf("Exporters = %v", info.Exporters)
			}
			if !slices.Equal(info.SamplingRates, []uint32{fx.rate}) {
				t.Errorf("SamplingRates = %v, want [%d]", info.SamplingRates, fx.rate)
			}
			notes := strings.Join(info.Notes, "\n")
			if fx.version >= 9 && (!strings.Contains(notes, "templates: ") || !strings.Contains(notes, "observation domains: ")) {
				t.Errorf("notes lack templates/domains: %q", notes)
			}
			want := readNfdumpCSV(t, filepath.Join("testdata", fx.nfdump))
			var bytes uint64
			for _, r := range want {
				bytes += r.Bytes
			}
			if got := info.Bytes; got != bytes {
				t.Errorf("Bytes = %d nfdump says %d", got, bytes)
			}
		})
	}
}

// frames reads every frame of a capture.
func frames(t testing.TB, path string) (layers.LinkType, [][]byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return r.LinkType(), out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
}

// writePcap writes frames to a new capture file in a temporary directory.
func writePcap(t testing.TB, name string, lt layers.LinkType, fs [][]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, lt); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 22, 19, 0, 0, 0, time.UTC)
	for i, data := range fs {
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Second), CaptureLength: len(data), Length: len(data)}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// udpPayload returns the UDP payload of a frame and its source address.
func udpPayload(t testing.TB, lt layers.LinkType, frame []byte) (netip.Addr, []byte) {
	t.Helper()
	u, skip := decodeFrame(lt, frame)
	if skip != skipNone {
		t.Fatalf("frame does not decode: %v", skip)
	}
	return u.Src, u.Payload
}

// rawIPv4 builds a raw-IP (link type 101) frame carrying payload in UDP
// from src:9995 to 127.0.0.1:2055.
func rawIPv4(src netip.Addr, payload []byte) []byte {
	b := make([]byte, 28+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	b[8] = 64
	b[9] = 17
	s := src.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], []byte{127, 0, 0, 1})
	binary.BigEndian.PutUint16(b[20:22], 9995)
	binary.BigEndian.PutUint16(b[22:24], 2055)
	binary.BigEndian.PutUint16(b[24:26], uint16(8+len(payload)))
	copy(b[28:], payload)
	return b
}

// dataOnly strips the template and options template sets from a v9/IPFIX
// export packet, keeping its data sets.
func dataOnly(t testing.TB, p []byte) []byte {
	t.Helper()
	version := binary.BigEndian.Uint16(p)
	hdr := 20
	if version == 10 {
		hdr = 16
	}
	out := slices.Clone(p[:hdr])
	for off := hdr; off+4 <= len(p); {
		id := binary.BigEndian.Uint16(p[off:])
		l := int(binary.BigEndian.Uint16(p[off+2:]))
		if l < 4 || off+l > len(p) {
			t.Fatalf("bad set at %d", off)
		}
		if id >= 256 {
			out = append(out, p[off:off+l]...)
		}
		off += l
	}
	if version == 10 {
		binary.BigEndian.PutUint16(out[2:4], uint16(len(out)))
	}
	return out
}

func hasTemplateSet(p []byte) bool {
	hdr := 20
	if binary.BigEndian.Uint16(p) == 10 {
		hdr = 16
	}
	for off := hdr; off+4 <= len(p); {
		id := binary.BigEndian.Uint16(p[off:])
		l := int(binary.BigEndian.Uint16(p[off+2:]))
		if id < 256 {
			return true
		}
		if l < 4 {
			return false
		}
		off += l
	}
	return false
}

// Data that arrives before its template is dropped and counted; the same
// data after the template decodes.
func TestTemplateBeforeData(t *testing.T) {
	for _, name := range []string{"v9.pcap", "ipfix.pcap"} {
		t.Run(name, func(t *testing.T) {
			lt, fs := frames(t, filepath.Join("testdata", name))
			want, _, err := decodeFile(t, filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			// the first packet that defines a template and carries data
			var first []byte
			for _, fr := range fs {
				_, p := udpPayload(t, lt, fr)
				if hasTemplateSet(p) && len(dataOnly(t, p)) > 20 {
					first = p
					break
				}
			}
			if first == nil {
				t.Fatal("no packet with template and data")
			}
			src := netip.MustParseAddr("192.0.2.7")
			noTmpl := dataOnly(t, first)
			path := writePcap(t, "order.pcap", layers.LinkTypeRaw, [][]byte{
				rawIPv4(src, noTmpl), rawIPv4(src, first), rawIPv4(src, noTmpl),
			})
			got, st, err := decodeFile(t, path)
			if err != nil {
				t.Fatal(err)
			}
			if st.NoTemplateSets == 0 {
				t.Errorf("NoTemplateSets = 0, want the data sets of the first packet counted")
			}
			per := 0 // flows the original first packet gave
			one, _, err := decodeFile(t, writePcap(t, "one.pcap", layers.LinkTypeRaw, [][]byte{rawIPv4(src, first)}))
			if err != nil {
				t.Fatal(err)
			}
			per = len(one)
			if per == 0 || len(got) != 2*per {
				t.Fatalf("got %d flows, want 2×%d (template packet and the data after it)", len(got), per)
			}
			for i := range got {
				got[i].Exporter = want[0].Exporter
			}
			if diff := cmp.Diff(render(want[:per]), render(got[:per])); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// The data-only copy after the template decodes to the same
			// records (times may differ only through the header, which is
			// the same).
			if diff := cmp.Diff(render(got[:per]), render(got[per:])); diff != "" {
				t.Errorf("data after template (-want +got):\n%s", diff)
			}
			// templates are per exporter: the same data from another
			// exporter is not decoded with 192.0.2.7's template
			other := netip.MustParseAddr("192.0.2.8")
			path = writePcap(t, "two.pcap", layers.LinkTypeRaw, [][]byte{rawIPv4(src, first), rawIPv4(other, noTmpl)})
			got, st, err = decodeFile(t, path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != per || st.NoTemplateSets == 0 || len(st.Exporters) != 2 {
				t.Errorf("other exporter: %d flows, %d sets without template, exporters %v", len(got), st.NoTemplateSets, st.Exporters)
			}
		})
	}
}

func TestTruncatedCapture(t *testing.T) {
	data, err := os.ReadFile("testdata/v5.pcap")
	if err != nil {
		t.Fatal(err)
	}
	lt, fs := frames(t, "testdata/v5.pcap")
	// two good records, then the third cut in the middle of its data
	full := writePcap(t, "full.pcap", lt, [][]byte{fs[0], fs[0], fs[0]})
	data, err = os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	third := 24 + 2*(16+len(fs[0]))
	for _, cut := range []int{third + 10, third + 16 + 30, 20} {
		t.Run(strconv.Itoa(cut), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cut.pcap")
			if err := os.WriteFile(path, data[:cut], 0o644); err != nil {
				t.Fatal(err)
			}
			flows, err := readAll(t, path)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
			}
			wantOff := "offset 0"
			if cut > 24 {
				wantOff = fmt.Sprintf("offset %d: packet 3", third) // packets count from 1
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), wantOff) {
				t.Errorf("error %q does not name the file and %s", err, wantOff)
			}
			n, _, _ := decodeFile(t, "testdata/v5.pcap")
			if cut > 24 && len(flows) != 2*len(n) {
				t.Errorf("%d flows before the cut, want %d", len(flows), 2*len(n))
			}
		})
	}
}

// A corrupt export packet inside a good capture is skipped and counted; the
// packets around it still give their flows.
func TestCorruptExportPacket(t *testing.T) {
	for _, name := range []string{"v1.pcap", "v5.pcap", "v9.pcap", "ipfix.pcap"} {
		t.Run(name, func(t *testing.T) {
			lt, fs := frames(t, filepath.Join("testdata", name))
			_, p := udpPayload(t, lt, fs[len(fs)-1])
			for _, fr := range fs {
				if _, q := udpPayload(t, lt, fr); hasTemplateSet(q) || binary.BigEndian.Uint16(q) < 9 {
					p = q
					break
				}
			}
			src := netip.MustParseAddr("192.0.2.7")
			bad := slices.Clone(p)
			switch binary.BigEndian.Uint16(p) {
			case 1, 5:
				bad = bad[:len(bad)-7] // record cut short
			case 9:
				binary.BigEndian.PutUint16(bad[22:24], 2) // set length below its header
			case 10:
				binary.BigEndian.PutUint16(bad[18:20], 2)
			}
			path := writePcap(t, "corrupt.pcap", layers.LinkTypeRaw, [][]byte{
				rawIPv4(src, p), rawIPv4(src, bad), rawIPv4(src, p),
			})
			got, st, err := decodeFile(t, path)
			if err != nil {
				t.Fatal(err)
			}
			one, _, _ := decodeFile(t, writePcap(t, "one.pcap", layers.LinkTypeRaw, [][]byte{rawIPv4(src, p)}))
			if st.Corrupt != 1 || len(got) != 2*len(one) || len(one) == 0 {
				t.Errorf("corrupt=%d flows=%d, want 1 and %d", st.Corrupt, len(got), 2*len(one))
			}
		})
	}
}

// Frames that are not export packets are counted, not fatal.
func TestSkippedFrames(t *testing.T) {
	lt, fs := frames(t, "testdata/v5.pcap")
	src, p := udpPayload(t, lt, fs[0])
	frag := rawIPv4(src, p)
	frag[6] = 0x20 // more fragments
	tcp := rawIPv4(src, p)
	tcp[9] = 6
	dns := rawIPv4(src, []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0})
	path := writePcap(t, "mixed.pcap", layers.LinkTypeRaw, [][]byte{frag, tcp, dns, rawIPv4(src, p), {0x45}})
	got, st, err := decodeFile(t, path)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Frames: 5, Fragments: 1, NotUDP: 1, NotExport: 1, Short: 1}
	gotSt := Stats{Frames: st.Frames, Fragments: st.Fragments, NotUDP: st.NotUDP, NotExport: st.NotExport, Short: st.Short}
	if diff := cmp.Diff(want, gotSt); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if len(got) == 0 {
		t.Error("the good packet gave no flows")
	}
}

func TestStopEarly(t *testing.T) {
	var r Reader
	n := 0
	for _, err := range r.Flows(context.Background(), "testdata/v5.pcap") {
		if err != nil {
			t.Fatal(err)
		}
		n++
		break
	}
	if n != 1 {
		t.Fatal(n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, err := range r.Flows(ctx, "testdata/v5.pcap") {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	m, _ := filepath.Glob("testdata/*.pcap*")
	for _, p := range m {
		if strings.HasSuffix(p, ".golden") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	var r Reader
	f.Fuzz(func(t *testing.T, b []byte) {
		r.Sniff(b[:min(len(b), datasets.SniffLen)])
		n := 0
		_, err := r.Decode(context.Background(), "fuzz", bytes.NewReader(b), func(*datasets.Flow) bool {
			n++
			return true
		})
		if n > len(b) {
			t.Fatalf("%d flows from %d bytes", n, len(b))
		}
		_ = err
	})
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"v5.pcap", "v9.pcap", "ipfix.pcap"} {
		b.Run(name, func(b *testing.B) {
			// the fixture's export packets repeated: a capture of 1000
			// exports, so that per-file setup does not dominate
			lt, fs := frames(b, filepath.Join("testdata", name))
			var many [][]byte
			for range 1000 {
				many = append(many, fs...)
			}
			data, err := os.ReadFile(writePcap(b, name, lt, many))
			if err != nil {
				b.Fatal(err)
			}
			var r Reader
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			flows := 0
			start := time.Now()
			for b.Loop() {
				_, err := r.Decode(context.Background(), name, bytes.NewReader(data), func(*datasets.Flow) bool {
					flows++
					return true
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(flows)/time.Since(start).Seconds(), "flows/s")
		})
	}
}
