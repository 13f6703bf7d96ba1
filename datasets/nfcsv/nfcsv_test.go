package nfcsv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite golden files")

var addrs = cmpopts.EquateComparable(netip.Addr{})

func readAll(t testing.TB, r *Reader, path string) ([]datasets.Flow, error) {
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

// footer returns the flows, bytes and packets of nfdump's summary footer.
func footer(t *testing.T, path string) (flows, bytes, packets uint64, ok bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "flows,bytes,packets") && sc.Scan() {
			v := strings.Split(sc.Text(), ",")
			n := func(s string) uint64 {
				u, err := strconv.ParseUint(s, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return u
			}
			return n(v[0]), n(v[1]), n(v[2]), true
		}
	}
	return 0, 0, 0, false
}

// TestTotalsMatchNfdump checks flow, byte and packet totals against the
// summary nfdump printed under its own records.
func TestTotalsMatchNfdump(t *testing.T) {
	for _, tc := range []struct {
		file       string
		countFlows bool // the footer's flow count is the record count
	}{
		{"v9.csv", true},
		{"berlin.csv", true},
		{"ipfix.csv", true},
		{"agg.csv", false}, // footer counts flows before aggregation
		{"bidir.csv", false},
		{"nomatch.csv", true},
		{"v6.csv", true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			if _, err := os.Stat(path); err != nil {
				t.Fatal(err)
			}
			wantFlows, wantBytes, wantPkts, ok := footer(t, path)
			if !ok {
				t.Fatal("no summary footer")
			}
			flows, err := readAll(t, &Reader{}, path)
			if err != nil {
				t.Fatal(err)
			}
			var b, p uint64
			for _, f := range flows {
				b += f.Bytes + f.RevBytes
				p += f.Packets + f.RevPackets
			}
			if b != wantBytes || p != wantPkts {
				t.Errorf("bytes, packets = %d, %d; nfdump summary says %d, %d", b, p, wantBytes, wantPkts)
			}
			if tc.countFlows && uint64(len(flows)) != wantFlows {
				t.Errorf("%d flows; nfdump summary says %d", len(flows), wantFlows)
			}
		})
	}
}

func TestGolden(t *testing.T) {
	for _, name := range []string{"v9", "ipfix", "agg", "bidir", "v6"} {
		t.Run(name, func(t *testing.T) {
			flows, err := readAll(t, &Reader{}, filepath.Join("testdata", name+".csv"))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			for _, f := range flows {
				if err := enc.Encode(f); err != nil {
					t.Fatal(err)
				}
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), buf.String()); diff != "" {
				t.Errorf("flows differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestFirstRecord pins the mapping of each column of one known record
// (the first line of v9.csv).
func TestFirstRecord(t *testing.T) {
	flows, err := readAll(t, &Reader{}, "testdata/v9.csv")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2027, 1, 11, 12, 6, 51, 0, time.UTC)
	want := datasets.Flow{
		Start:    start,
		End:      start.Add(69 * time.Millisecond),
		SrcAddr:  netip.MustParseAddr("10.77.0.1"),
		DstAddr:  netip.MustParseAddr("10.77.1.2"),
		SrcPort:  80,
		DstPort:  60904,
		Proto:    datasets.ProtoTCP,
		TCPFlags: datasets.FlagACK | datasets.FlagPSH | datasets.FlagSYN | datasets.FlagFIN,
		Packets:  17099,
		Bytes:    25590675,
		Exporter: netip.MustParseAddr("127.0.0.1"),
	}
	if diff := cmp.Diff(want, flows[0], addrs); diff != "" {
		t.Errorf("first record (-want +got):\n%s", diff)
	}
}

// TestVariants reads the same records printed without header (-q) and in
// another time zone, and expects the flows of v9.csv.
func TestVariants(t *testing.T) {
	want, err := readAll(t, &Reader{}, "testdata/v9.csv")
	if err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	for _, tc := range []struct {
		name string
		r    *Reader
		file string
	}{
		{"quiet", &Reader{}, "quiet.csv"},
		{"berlin", &Reader{Location: berlin}, "berlin.csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t, tc.r, filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			// Compare instants, not locations.
			for i := range got {
				got[i].Start, got[i].End = got[i].Start.UTC(), got[i].End.UTC()
			}
			if diff := cmp.Diff(want, got, addrs); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestReverseCounters(t *testing.T) {
	flows, err := readAll(t, &Reader{}, "testdata/bidir.csv")
	if err != nil {
		t.Fatal(err)
	}
	// `nfdump -b` joined 10.77.0.1:80 → 10.77.1.2:60904 (17099 packets,
	// 25590675 bytes) with its reverse (1792 packets, 93276 bytes).
	found := false
	for _, f := range flows {
		if f.DstPort != 60904 {
			continue
		}
		found = true
		if !f.HasReverse || f.Packets != 17099 || f.Bytes != 25590675 || f.RevPackets != 1792 || f.RevBytes != 93276 {
			t.Errorf("got %+v", f)
		}
	}
	if !found {
		t.Fatal("no flow to port 60904")
	}
	uni, err := readAll(t, &Reader{}, "testdata/v9.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range uni {
		if f.HasReverse {
			t.Errorf("unidirectional record has HasReverse: %+v", f)
		}
	}
}

func TestSniff(t *testing.T) {
	v9, err := os.ReadFile("testdata/v9.csv")
	if err != nil {
		t.Fatal(err)
	}
	quiet, err := os.ReadFile("testdata/quiet.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		head string
		want bool
	}{
		{"nfdump header", string(v9[:datasets.SniffLen]), true},
		{"headerless", string(quiet[:datasets.SniffLen]), true},
		{"custom columns", "ts,sa,da,ibyt\n2027-01-11 12:00:00,1.2.3.4,5.6.7.8,10\n", true},
		{"header without addresses", "ts,te,ibyt\n", false},
		{"other csv", "client_ip,client_port,file\n10.0.0.1,80,x\n", false},
		{"argus csv", "StartTime,SrcAddr,DstAddr\n", false},
		{"binary", "\xa5\x0c\x02\x00", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (&Reader{}).Sniff([]byte(tc.head)); got != tc.want {
				t.Errorf("Sniff = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	const hdr = "ts,te,td,sa,da,sp,dp,pr,flg,ipkt,ibyt\n"
	const rec = "2027-01-11 12:06:51,2027-01-11 12:06:51,0.069,10.77.0.1,10.77.1.2,80,60904,TCP,...AP.SF,17099,25590675\n"
	for _, tc := range []struct {
		name  string
		in    string
		flows int
		want  error
		line  string
	}{
		{"truncated last record", hdr + rec + rec[:40], 1, io.ErrUnexpectedEOF, "line 3"},
		{"short record inside", hdr + rec[:40] + "\n" + rec, 0, datasets.ErrCorrupt, "line 2"},
		{"extra field", hdr + strings.TrimSuffix(rec, "\n") + ",1\n", 0, datasets.ErrCorrupt, "line 2"},
		{"bad address", hdr + strings.Replace(rec, "10.77.0.1", "10.77.0.300", 1), 0, datasets.ErrCorrupt, "column sa"},
		{"bad protocol", hdr + strings.Replace(rec, "TCP", "XYZZY", 1), 0, datasets.ErrCorrupt, "column pr"},
		{"bad flags", hdr + strings.Replace(rec, "...AP.SF", "...XP.SF", 1), 0, datasets.ErrCorrupt, "column flg"},
		{"bad counter", hdr + strings.Replace(rec, "17099", "-1", 1), 0, datasets.ErrCorrupt, "column ipkt"},
		{"no address columns", "ts,te,ibyt\n" + "2027-01-11 12:06:51,2027-01-11 12:06:51,1\n", 0, datasets.ErrUnsupported, "line 1"},
		{"long line", hdr + strings.Repeat("x", maxLine+1), 0, datasets.ErrCorrupt, "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n int
			var err error
			for _, e := range read(context.Background(), "x.csv", strings.NewReader(tc.in), time.UTC) {
				if e != nil {
					err = e
					break
				}
				n++
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "x.csv: ") || !strings.Contains(err.Error(), tc.line) {
				t.Errorf("error %q does not name the file and %q", err, tc.line)
			}
			if n != tc.flows {
				t.Errorf("%d flows before the error, want %d", n, tc.flows)
			}
		})
	}
}

func TestProtocolsAndPorts(t *testing.T) {
	for _, tc := range []struct {
		in    string
		proto uint8
	}{{"TCP", 6}, {"udp", 17}, {"ICMP6", 58}, {"IDPR", 35}, {"0", 0}, {"255  ", 255}, {"MPLS", 137}} {
		const hdr = "sa,da,pr,dp\n"
		var got datasets.Flow
		for f, err := range read(context.Background(), "x", strings.NewReader(hdr+"::1,::2,"+tc.in+",3.1\n"), time.UTC) {
			if err != nil {
				t.Fatalf("%q: %v", tc.in, err)
			}
			got = f
		}
		if got.Proto != tc.proto || got.DstPort != 3<<8|1 {
			t.Errorf("%q: proto %d dport %d, want %d %d", tc.in, got.Proto, got.DstPort, tc.proto, 3<<8|1)
		}
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var err error
	for _, e := range (&Reader{}).Flows(ctx, "testdata/v9.csv") {
		err = e
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func FuzzRead(f *testing.F) {
	for _, name := range []string{"v9.csv", "quiet.csv", "agg.csv", "bidir.csv", "ipfix.csv", "nomatch.csv", "v6.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &Reader{}
		r.Sniff(data)
		for _, err := range read(context.Background(), "fuzz", bytes.NewReader(data), time.UTC) {
			if err != nil {
				if !strings.HasPrefix(err.Error(), "fuzz: ") {
					t.Fatalf("error does not name the file: %v", err)
				}
				break
			}
		}
	})
}

func BenchmarkRead(b *testing.B) {
	path := "../lab-dev/train-near.nfdump.csv"
	st, err := os.Stat(path)
	if err != nil {
		b.Skip(err)
	}
	r := &Reader{}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	var n int
	for b.Loop() {
		flows, err := readAll(b, r, path)
		if err != nil {
			b.Fatal(err)
		}
		n += len(flows)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "flows/s")
}
