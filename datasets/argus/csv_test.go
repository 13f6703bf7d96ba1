package argus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const labDir = "../lab-dev"

func readAll(t testing.TB, r datasets.Reader, path string) ([]datasets.Flow, error) {
	t.Helper()
	var out []datasets.Flow
	for f, err := range r.Flows(context.Background(), path) {
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
	return out, nil
}

// checkGolden compares flows with testdata/NAME.golden.json.
func checkGolden(t *testing.T, name string, flows []datasets.Flow) {
	t.Helper()
	got, err := json.MarshalIndent(flows, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	var want []datasets.Flow
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, flows, cmpOpts...); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestCSVGolden(t *testing.T) {
	for _, name := range []string{"sample", "mixed"} {
		t.Run(name, func(t *testing.T) {
			flows, err := readAll(t, &CSVReader{}, filepath.Join("testdata", name+".csv"))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name, flows)
		})
	}
}

// nfKey identifies one direction of a conversation in nfdump's output.
type nfKey struct {
	sa, da string
	sp, dp uint16
}

type nfCount struct{ pkts, bytes uint64 }

// readNfdump loads the per-direction packet and byte counts of an
// `nfdump -o csv` file.
func readNfdump(t *testing.T, path string) map[nfKey]nfCount {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("lab data not available: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	col := map[string]int{}
	for i, h := range strings.Split(sc.Text(), ",") {
		col[h] = i
	}
	out := map[nfKey]nfCount{}
	for sc.Scan() {
		v := strings.Split(sc.Text(), ",")
		if len(v) < len(col) {
			continue // summary lines
		}
		sp, _ := strconv.ParseUint(v[col["sp"]], 10, 16)
		dp, _ := strconv.ParseUint(v[col["dp"]], 10, 16)
		pk, _ := strconv.ParseUint(v[col["ipkt"]], 10, 64)
		by, _ := strconv.ParseUint(v[col["ibyt"]], 10, 64)
		out[nfKey{v[col["sa"]], v[col["da"]], uint16(sp), uint16(dp)}] = nfCount{pk, by}
	}
	return out
}

// checkAgainstNfdump asserts that every flow's packets and IP-layer bytes,
// both directions, equal what nfdump reports for the same traffic.
func checkAgainstNfdump(t *testing.T, flows []datasets.Flow) {
	t.Helper()
	nf := readNfdump(t, filepath.Join(labDir, "test-near.nfdump.csv"))
	if len(flows) != 300 {
		t.Errorf("got %d flows, want 300 (one per download)", len(flows))
	}
	var total uint64
	for _, f := range flows {
		fwd, ok1 := nf[nfKey{f.SrcAddr.String(), f.DstAddr.String(), f.SrcPort, f.DstPort}]
		rev, ok2 := nf[nfKey{f.DstAddr.String(), f.SrcAddr.String(), f.DstPort, f.SrcPort}]
		if !ok1 || !ok2 {
			t.Errorf("%v:%d→%v:%d: not in nfdump output", f.SrcAddr, f.SrcPort, f.DstAddr, f.DstPort)
			continue
		}
		got := [4]uint64{f.Packets, f.Bytes, f.RevPackets, f.RevBytes}
		want := [4]uint64{fwd.pkts, fwd.bytes, rev.pkts, rev.bytes}
		if got != want {
			t.Errorf("%v:%d: pkts, bytes, rev pkts, rev bytes = %v, nfdump says %v", f.SrcAddr, f.SrcPort, got, want)
		}
		total += f.Bytes + f.RevBytes
	}
	t.Logf("%d flows, %d IP bytes, all equal to nfdump", len(flows), total)
}

// checkAgainstLabels asserts that each labelled download's flow carried at
// least the file's bytes from server to client.
func checkAgainstLabels(t *testing.T, flows []datasets.Flow) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(labDir, "test-near.labels.csv"))
	if err != nil {
		t.Skipf("lab data not available: %v", err)
	}
	byPort := map[uint16]datasets.Flow{}
	for _, f := range flows {
		byPort[f.SrcPort] = f
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")[1:]
	for _, l := range lines {
		v := strings.Split(l, ",")
		port, _ := strconv.ParseUint(v[1], 10, 16)
		size, _ := strconv.ParseUint(v[4], 10, 64)
		f, ok := byPort[uint16(port)]
		if !ok || f.SrcAddr.String() != v[0] {
			t.Errorf("label %s:%s: no flow", v[0], v[1])
			continue
		}
		// Headers add 40-100 bytes a packet; TCP retransmissions (the lab's
		// queues overflow now and then) add up to a fifth.
		if f.RevBytes < size+f.RevPackets*40 || f.RevBytes > size*12/10+f.RevPackets*100 {
			t.Errorf("port %d: %d bytes server→client in %d packets for a file of %d", port, f.RevBytes, f.RevPackets, size)
		}
	}
	if len(lines) != 300 {
		t.Errorf("%d labels, want 300", len(lines))
	}
}

func TestCSVMatchesNfdump(t *testing.T) {
	flows, err := readAll(t, &CSVReader{}, filepath.Join("testdata", "test-near.csv"))
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstNfdump(t, flows)
	checkAgainstLabels(t, flows)
}

func TestCSVFirstRecord(t *testing.T) {
	flows, err := readAll(t, &CSVReader{}, filepath.Join("testdata", "sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// ra: 1795374245.155365,1795374245.184468,10.77.1.2,60972,10.77.0.1,80,
	// tcp, e ,FSPA_FSPA,1035,2441,68401,3677665,63,64,0
	want := datasets.Flow{
		Start:   time.Unix(1795374245, 155365000).UTC(),
		End:     time.Unix(1795374245, 184468000).UTC(),
		SrcAddr: mustAddr("10.77.1.2"), DstAddr: mustAddr("10.77.0.1"),
		SrcPort: 60972, DstPort: 80, Proto: 6,
		TCPFlags: datasets.FlagFIN | datasets.FlagSYN | datasets.FlagPSH | datasets.FlagACK,
		Packets:  1035, Bytes: 68401 - 14*1035,
		HasReverse: true, RevPackets: 2441, RevBytes: 3677665 - 14*2441,
		MinTTL: 63, MaxTTL: 63,
	}
	if diff := cmp.Diff(want, flows[0], cmpOpts...); diff != "" {
		t.Errorf("first flow (-want +got):\n%s", diff)
	}
	if len(flows) != 6 {
		t.Errorf("%d flows, want 6 (the six downloads of sample.pcap)", len(flows))
	}
}

func TestCSVReordered(t *testing.T) {
	full, err := readAll(t, &CSVReader{}, filepath.Join("testdata", "sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, &CSVReader{}, filepath.Join("testdata", "sample-reordered.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// The reordered file has no TCP flags (-Z b), TTL or ToS columns.
	for i := range full {
		full[i].TCPFlags, full[i].MinTTL, full[i].MaxTTL, full[i].ToS = 0, 0, 0, 0
	}
	if diff := cmp.Diff(full, got, cmpOpts...); diff != "" {
		t.Errorf("semicolon, reordered, Dur instead of LastTime (-want +got):\n%s", diff)
	}
}

func TestCSVMixedProtocols(t *testing.T) {
	flows, err := readAll(t, &CSVReader{}, filepath.Join("testdata", "mixed.csv"))
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Proto            uint8
		Src, Dst         string
		SrcPort, DstPort uint16
		Pkts, Bytes      uint64
		Flags            uint8
	}
	var got []summary
	for _, f := range flows {
		got = append(got, summary{f.Proto, f.SrcAddr.String(), f.DstAddr.String(), f.SrcPort, f.DstPort, f.Packets, f.Bytes, f.TCPFlags})
	}
	want := []summary{
		// 100- and 300-byte payloads + UDP 8 + IPv4 20.
		{17, "127.0.0.1", "127.0.0.1", 45786, 5353, 2, 128 + 328, 0},
		// port unreachable: type 3 code 3.
		{1, "127.0.0.1", "127.0.0.1", 0, 0x0303, 2, 540 - 28, 0},
		// 50-byte payload + UDP 8 + IPv6 40.
		{17, "::1", "::1", 38361, 5454, 1, 98, 0},
		// ICMPv6 destination unreachable (1), port unreachable (4).
		{58, "::1", "::1", 0, 0x0104, 1, 160 - 14, 0},
		{6, "127.0.0.1", "127.0.0.1", 46460, 8099, 6, 482 - 6*14, 0x1b},
		{6, "::1", "::1", 32932, 8099, 7, 684 - 7*14, 0x1b},
		{6, "::1", "::1", 8099, 32932, 5, 825 - 5*14, 0x1b},
		{6, "127.0.0.1", "127.0.0.1", 52084, 8098, 1, 74 - 14, datasets.FlagSYN | datasets.FlagRST | datasets.FlagACK},
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCSVSniff(t *testing.T) {
	tests := []struct {
		name string
		head string
		want bool
	}{
		{"ra comma", "StartTime,LastTime,SrcAddr,Sport,DstAddr,Dport\n", true},
		{"ra default", "StartTime,Flgs,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,TotPkts,TotBytes,State\n", true},
		{"ra semicolon", "Proto;SrcAddr;Sport;DstAddr;Dport;StartTime\n", true},
		{"ra tab", "StartTime\tSrcAddr\tDstAddr\n", true},
		{"nfdump csv", "ts,te,td,sa,da,sp,dp,pr,flg\n", false},
		{"ra columns, no delimiter", "         StartTime      Flgs  Proto            SrcAddr  Sport   Dir            DstAddr\n", false},
		{"binary", "\x83\x10\x00\x20StartTime,SrcAddr,DstAddr", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (&CSVReader{}).Sniff([]byte(tc.head)); got != tc.want {
				t.Errorf("Sniff = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCSVErrors(t *testing.T) {
	const hdr = "StartTime,LastTime,SrcAddr,Sport,DstAddr,Dport,Proto,Flgs,State,SrcPkts,DstPkts,SrcBytes,DstBytes\n"
	const good = "1795374245.155365,1795374245.184468,10.77.1.2,60972,10.77.0.1,80,tcp, e        ,FSPA_FSPA,1035,2441,68401,3677665\n"
	tests := []struct {
		name    string
		content string
		is      error
		msg     []string // substrings the message must contain
	}{
		{"default columns", "", datasets.ErrUnsupported, []string{"SrcPkts, DstPkts, SrcBytes, DstBytes", "ra -r FILE"}},
		{"bad bytes", hdr + good + strings.Replace(good, "68401", "68x01", 1), datasets.ErrCorrupt, []string{"line 3", "offset " + strconv.Itoa(len(hdr+good)), "SrcBytes"}},
		{"bad address", hdr + strings.Replace(good, "10.77.1.2", "10.77.1", 1), datasets.ErrCorrupt, []string{"line 2", "SrcAddr"}},
		{"time of day", hdr + strings.Replace(good, "1795374245.155365", "19:04:05.155365", 1), datasets.ErrCorrupt, []string{"ra -u"}},
		{"short row", hdr + good[:40] + "\n", datasets.ErrCorrupt, []string{"line 2", "fields"}},
		{"not a header", "hello,world\n" + good, datasets.ErrCorrupt, []string{"line 1"}},
		{"empty", "", datasets.ErrEmpty, nil},
		{"huge line", hdr + strings.Repeat("1", maxLine+10), datasets.ErrCorrupt, []string{"longer than"}},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "x.csv")
			content := tc.content
			if tc.name == "default columns" {
				b, err := os.ReadFile(filepath.Join("testdata", "sample-default.csv"))
				if err != nil {
					t.Fatal(err)
				}
				content = string(b)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			flows, err := readAll(t, &CSVReader{}, path)
			if !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v (after %d flows)", err, tc.is, len(flows))
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file", msg)
			}
			for _, s := range tc.msg {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q lacks %q", msg, s)
				}
			}
		})
	}
}

func TestCSVCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var buf bytes.Buffer
	buf.WriteString("StartTime,SrcAddr,Sport,DstAddr,Dport,Proto,Flgs,SrcPkts,DstPkts,SrcBytes,DstBytes\n")
	for range 3000 {
		buf.WriteString("1.5,10.0.0.1,1,10.0.0.2,2,udp, e ,1,1,100,100\n")
	}
	n := 0
	var last error
	for _, err := range readCSV(ctx, "x", &buf) {
		last = err
		n++
	}
	if !errors.Is(last, context.Canceled) || n > 1024 {
		t.Errorf("after %d items err = %v, want context.Canceled within one batch", n, last)
	}
}

func FuzzCSV(f *testing.F) {
	for _, name := range []string{"sample.csv", "mixed.csv", "sample-reordered.csv", "sample-default.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		(&CSVReader{}).Sniff(data)
		for fl, err := range readCSV(context.Background(), "fuzz", bytes.NewReader(data)) {
			if err != nil {
				if !strings.HasPrefix(err.Error(), "fuzz") {
					t.Fatalf("error %q does not name the file", err)
				}
				break
			}
			if !fl.SrcAddr.IsValid() || !fl.DstAddr.IsValid() {
				t.Fatalf("flow without addresses: %+v", fl)
			}
		}
	})
}

// BenchmarkCSV reads the text of the same run: about 0.8 million flows/s
// on two cores.
func BenchmarkCSV(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "test-near.csv"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	var n int
	start := time.Now()
	for b.Loop() {
		for _, err := range readCSV(context.Background(), "bench", bytes.NewReader(raw)) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "flows/s")
}

var _ io.Reader = (*bytes.Reader)(nil)
