package labels

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fingerflow/fingerflow/datasets/catalog"
)

// addrEq compares netip.Addr values by ==.
var addrEq = cmpopts.EquateComparable(netip.Addr{})

const (
	labDev   = "../lab-dev"
	labExtra = "../lab-extra"
)

// TestLoadLab loads the real lab label files. The counts come from
// awk -F, 'NR>1{n++; if($6==0)u++; c[$7]++; if($8>m)m=$8} END{print n,u,length(c),m}'.
func TestLoadLab(t *testing.T) {
	tests := []struct {
		file        string
		labels      int
		unknown     int
		conns       int
		maxPerConn  int
		first       Label
		serverPorts []uint16
	}{
		{"lab-dev/train-near.labels.csv", 1250, 0, 1250, 1,
			Label{Client: netip.MustParseAddr("10.77.1.2"), ClientPort: 52366, ServerPort: 80, File: "cat-018.bin", Size: 14963279, Known: true, Conn: 0, Rep: 0, Line: 2}, []uint16{80}},
		{"lab-dev/train-https.labels.csv", 500, 0, 500, 1,
			Label{Client: netip.MustParseAddr("10.77.1.2"), ClientPort: 60508, ServerPort: 443, File: "cat-019.bin", Size: 26589046, Known: true, Conn: 0, Rep: 0, Line: 2}, []uint16{443}},
		{"lab-dev/test-near.labels.csv", 300, 50, 300, 1,
			Label{Client: netip.MustParseAddr("10.77.1.2"), ClientPort: 60904, ServerPort: 80, File: "cat-040.bin", Size: 24700305, Known: true, Conn: 0, Rep: 0, Line: 2}, []uint16{80}},
		{"lab-dev/sample.labels.csv", 6, 1, 6, 1,
			Label{Client: netip.MustParseAddr("10.77.1.2"), ClientPort: 60972, ServerPort: 80, File: "bg-013.bin", Size: 3516291, Known: false, Conn: 8, Rep: 0, Line: 2}, []uint16{80}},
		{"lab-extra/dev-far.labels.csv", 300, 50, 300, 1,
			Label{Client: netip.MustParseAddr("10.77.6.2"), ClientPort: 58666, ServerPort: 80, File: "cat-015.bin", Size: 36782839, Known: true, Conn: 0, Rep: 0, Line: 2}, []uint16{80}},
		{"lab-extra/dev-keepalive.labels.csv", 300, 50, 89, 5,
			Label{Client: netip.MustParseAddr("10.77.1.2"), ClientPort: 49330, ServerPort: 80, File: "cat-034.bin", Size: 13575384, Known: true, Conn: 0, Rep: 0, Line: 2}, []uint16{80}},
	}
	cat, err := catalog.Load(context.Background(), filepath.Join(labDev, "cat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("..", tt.file)
			s, err := Load(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if s.Ordered {
				t.Error("lab file read as an ordered list")
			}
			unknown, ports := 0, map[uint16]bool{}
			for _, l := range s.Labels {
				if !l.Known {
					unknown++
				}
				ports[l.ServerPort] = true
			}
			conns := s.Connections()
			maxPer := 0
			for _, c := range conns {
				maxPer = max(maxPer, len(c))
			}
			got := []int{s.Len(), unknown, len(conns), maxPer}
			want := []int{tt.labels, tt.unknown, tt.conns, tt.maxPerConn}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("labels, unknown, connections, max per connection (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.first, s.Labels[0], addrEq); diff != "" {
				t.Errorf("first label (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.serverPorts, slices.Sorted(mapKeys(ports))); diff != "" {
				t.Errorf("server ports (-want +got):\n%s", diff)
			}
			// Every label is found again by its connection.
			for _, l := range s.Labels {
				if !slices.ContainsFunc(s.ByClient(l.Client, l.ClientPort), func(m Label) bool { return m.Line == l.Line }) {
					t.Fatalf("ByClient(%v, %d) lacks line %d", l.Client, l.ClientPort, l.Line)
				}
			}
			// Lab labels agree with the lab catalog (sizes, known flags).
			if err := s.Check(cat); err != nil {
				t.Errorf("Check: %v", err)
			}
		})
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestKeepAlive checks that the files of one keep-alive connection come back
// together, in download order.
func TestKeepAlive(t *testing.T) {
	s, err := Load(context.Background(), filepath.Join(labExtra, "dev-keepalive.labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// grep ',49330,' dev-keepalive.labels.csv
	got := s.ByClient(netip.MustParseAddr("10.77.1.2"), 49330)
	var files []string
	for _, l := range got {
		files = append(files, l.File)
	}
	if diff := cmp.Diff([]string{"cat-034.bin", "cat-047.bin"}, files); diff != "" {
		t.Errorf("ByClient(10.77.1.2, 49330) (-want +got):\n%s", diff)
	}
	if s.ByClient(netip.MustParseAddr("10.77.1.2"), 1) != nil {
		t.Error("ByClient found labels for an unused port")
	}
	total := 0
	for i, c := range s.Connections() {
		if c[0].Conn != i {
			t.Fatalf("group %d has conn %d", i, c[0].Conn)
		}
		for pos, l := range c {
			if l.Pos != pos || l.ClientPort != c[0].ClientPort {
				t.Fatalf("conn %d: label %d is pos %d port %d", i, pos, l.Pos, l.ClientPort)
			}
		}
		total += len(c)
	}
	if total != 300 {
		t.Errorf("connections hold %d labels, want 300", total)
	}
}

func TestConnectionsOrderIndependent(t *testing.T) {
	in := "client_ip,client_port,file,conn,pos\n" +
		"10.0.0.1,1002,c,1,1\n" +
		"10.0.0.1,1001,a,0,0\n" +
		"10.0.0.1,1002,b,1,0\n" +
		"10.0.0.1,1003,d,,\n"
	s, err := Read(context.Background(), strings.NewReader(in), "x.csv")
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, c := range s.Connections() {
		var g []string
		for _, l := range c {
			g = append(g, l.File)
		}
		got = append(got, g)
	}
	if diff := cmp.Diff([][]string{{"a"}, {"b", "c"}, {"d"}}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if l := s.ByClient(netip.MustParseAddr("10.0.0.1"), 1002); len(l) != 2 || l[0].File != "b" || l[1].File != "c" {
		t.Errorf("ByClient(1002) = %+v", l)
	}
}

func TestNATColumns(t *testing.T) {
	addr := netip.MustParseAddr
	tests := []struct {
		name string
		in   string
		want Label
	}{
		{"nat_ip", "client_ip,client_port,file,nat_ip,nat_port\n10.77.8.2,40000,a.bin,10.77.7.2,50000\n",
			Label{Client: addr("10.77.7.2"), ClientPort: 50000, File: "a.bin", Conn: -1, Rep: -1, OrigClient: addr("10.77.8.2"), OrigClientPort: 40000, Line: 2}},
		{"server_side_ip", "file,client_port,client_ip,server_side_port,server_side_ip\na.bin,40000,10.77.8.2,50000,10.77.7.2\n",
			Label{Client: addr("10.77.7.2"), ClientPort: 50000, File: "a.bin", Conn: -1, Rep: -1, OrigClient: addr("10.77.8.2"), OrigClientPort: 40000, Line: 2}},
		{"empty nat value keeps the client", "client_ip,client_port,file,nat_ip,nat_port\n10.77.8.2,40000,a.bin,,\n",
			Label{Client: addr("10.77.8.2"), ClientPort: 40000, File: "a.bin", Conn: -1, Rep: -1, Line: 2}},
		{"natjoin inner columns", "client_ip,client_port,server_port,file,size,known,conn,pos,rep,inner_client_ip,inner_client_port\n10.77.7.2,40000,80,a.bin,5,1,3,0,1,10.77.8.2,40000\n",
			Label{Client: addr("10.77.7.2"), ClientPort: 40000, ServerPort: 80, File: "a.bin", Size: 5, Known: true, Conn: 3, Rep: 1, OrigClient: addr("10.77.8.2"), OrigClientPort: 40000, Line: 2}},
		{"IPv6 and mapped IPv4", "client_ip,client_port,file,nat_ip,nat_port\n2001:db8::1,1,a.bin,::ffff:192.0.2.1,2\n",
			Label{Client: addr("192.0.2.1"), ClientPort: 2, File: "a.bin", Conn: -1, Rep: -1, OrigClient: addr("2001:db8::1"), OrigClientPort: 1, Line: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Read(context.Background(), strings.NewReader(tt.in), "nat.csv")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]Label{tt.want}, s.Labels, addrEq); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if len(s.ByClient(tt.want.Client, tt.want.ClientPort)) != 1 {
				t.Error("ByClient does not find the label by its flow-side address")
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	const h = "client_ip,client_port,server_port,file,size,known,conn,pos,rep\n"
	tests := []struct {
		name   string
		in     string
		is     error
		expect string
	}{
		{"empty", "", ErrEmpty, "m.csv"},
		{"header only", h, ErrEmpty, "m.csv"},
		{"bad address", h + "10.77.1.2,1,80,a,1,1,0,0,0\n10.77.1.300,1,80,a,1,1,1,0,0\n", ErrFormat, "m.csv: line 3: client_ip"},
		{"bad port", h + "10.77.1.2,70000,80,a,1,1,0,0,0\n", ErrFormat, "m.csv: line 2: client_port"},
		{"zero client port", h + "10.77.1.2,0,80,a,1,1,0,0,0\n", ErrFormat, "line 2: client_port"},
		{"bad server port", h + "10.77.1.2,1,http,a,1,1,0,0,0\n", ErrFormat, "line 2: server_port"},
		{"bad size", h + "10.77.1.2,1,80,a,1e6,1,0,0,0\n", ErrFormat, "line 2: size"},
		{"negative size", h + "10.77.1.2,1,80,a,-1,1,0,0,0\n", ErrFormat, "line 2: size"},
		{"bad known", h + "10.77.1.2,1,80,a,1,maybe,0,0,0\n", ErrFormat, "line 2: known"},
		{"bad conn", h + "10.77.1.2,1,80,a,1,1,-2,0,0\n", ErrFormat, "line 2: conn"},
		{"empty file", h + "10.77.1.2,1,80,,1,1,0,0,0\n", ErrFormat, "line 2: file"},
		{"short row", h + "10.77.1.2,1,80,a,1,1,0,0\n", ErrFormat, "m.csv: line 2: 8 fields, the header has 9"},
		{"long row", h + "10.77.1.2,1,80,a,1,1,0,0,0,9\n", ErrFormat, "line 2: 10 fields"},
		{"same conn and pos twice", h + "10.77.1.2,1,80,a,1,1,0,0,0\n10.77.1.2,1,80,b,1,1,0,0,0\n", ErrFormat, "m.csv: line 3: conn 0 pos 0 already labelled at line 2"},
		{"lab header without file", "client_ip,client_port,size\n10.0.0.1,1,2\n", ErrFormat, "m.csv: line 1: unknown column layout"},
		{"lab header without port", "client_ip,file\n10.0.0.1,a\n", ErrFormat, "line 1: unknown column layout"},
		{"nat_ip without nat_port", "client_ip,client_port,file,nat_ip\n10.0.0.1,1,a,10.0.0.2\n", ErrFormat, "line 1: column nat_ip"},
		{"bad nat address", "client_ip,client_port,file,nat_ip,nat_port\n10.0.0.1,1,a,x,2\n", ErrFormat, "line 2: nat_ip"},
		{"unknown header", "file,bytes,when\na,1,2\n", ErrFormat, "m.csv: line 1: unknown column layout"},
		{"ordered list with three fields", "a.bin\nb.bin,2027-01-11T12:06:52Z,x\n", ErrFormat, "m.csv: line 2: unknown column layout"},
		// Both accepted layouts are named, whichever the file was taken for.
		{"three fields, no header", "a.bin,2027-01-11T12:06:52Z,x\n", ErrFormat, "want lab labels (a header with client_ip,client_port,file"},
		{"three fields, no header, ordered list named", "a.bin,2027-01-11T12:06:52Z,x\n", ErrFormat, "or an ordered list (file or file,start per line)"},
		{"unknown header, both named", "file,bytes,when\na,1,2\n", ErrFormat, "client_ip,client_port,file"},
		{"ordered list bad time", "file,start\na.bin,yesterday\n", ErrFormat, "m.csv: line 2: start"},
		{"ordered list empty name", "file,start\n,2027-01-11T12:06:52Z\n", ErrFormat, "m.csv: line 2: file"},
		{"bare quote", h + "10.77.1.2,1,80,\"a,1,1,0,0,0\n", ErrFormat, "m.csv: line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Read(context.Background(), strings.NewReader(tt.in), "m.csv")
			if err == nil {
				t.Fatalf("no error; labels %+v", s.Labels)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.expect) {
				t.Errorf("err = %q, want it to contain %q", err, tt.expect)
			}
		})
	}
	if _, err := Load(context.Background(), filepath.Join(t.TempDir(), "none.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}

// TestCheck marks a background file as known and changes a size: Check names
// the label file and both lines.
func TestCheck(t *testing.T) {
	cat, err := catalog.Load(context.Background(), filepath.Join(labDev, "cat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(context.Background(), filepath.Join(labDev, "sample.labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(cat); err != nil {
		t.Fatalf("real labels: %v", err)
	}
	s.Labels[0].Known = true // bg-013.bin, line 2
	s.Labels[2].Size++       // cat-041.bin, line 4
	err = s.Check(cat)
	if !errors.Is(err, ErrCatalog) {
		t.Fatalf("err = %v, want ErrCatalog", err)
	}
	for _, want := range []string{
		"sample.labels.csv: line 2: bg-013.bin is marked known but is not in the catalog",
		"sample.labels.csv: line 4: cat-041.bin has size 4388856, the catalog says 4388855",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to contain %q", err, want)
		}
	}
	// Many problems: 20 listed, then a count.
	big, err := Load(context.Background(), filepath.Join(labDev, "train-near.labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := catalog.New([]catalog.Entry{{Name: "x", Size: 1}})
	if err != nil {
		t.Fatal(err)
	}
	err = big.Check(other)
	if got := strings.Count(err.Error(), "\n") + 1; got != 21 || !strings.Contains(err.Error(), "1230 more labels") {
		t.Errorf("Check listed %d lines: %.300q", got, err)
	}
}

func TestOrderedList(t *testing.T) {
	s, err := Load(context.Background(), "testdata/sample.ordered.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Ordered || s.Len() != 6 {
		t.Fatalf("Ordered = %v, %d labels; want true, 6", s.Ordered, s.Len())
	}
	want := Label{File: "cat-016.bin", Conn: -1, Rep: -1, Line: 3,
		Start: time.Date(2027, 1, 11, 12, 6, 52, 399e6, time.UTC)}
	if diff := cmp.Diff(want, s.Labels[1], addrEq); diff != "" {
		t.Errorf("second label (-want +got):\n%s", diff)
	}
	// Without addresses every label is its own connection, in list order.
	if c := s.Connections(); len(c) != 6 || c[5][0].Line != 7 {
		t.Errorf("Connections() = %d groups", len(c))
	}
	cat, err := catalog.Load(context.Background(), filepath.Join(labDev, "cat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	s.Resolve(cat)
	if s.Labels[0].Known || !s.Labels[1].Known || s.Labels[1].Size != 2794049 {
		t.Errorf("Resolve: %+v, %+v", s.Labels[0], s.Labels[1])
	}

	// A list without header and without times.
	s, err = Read(context.Background(), strings.NewReader("a.bin\nb.bin\n\n"), "plain.txt")
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 || s.Labels[1].File != "b.bin" || s.Labels[1].Line != 2 {
		t.Errorf("plain list: %+v", s.Labels)
	}
}

// flows reads testdata/test-near.flows.csv (nfdump's server->client flows of
// test-near) as start times and client keys.
func flows(t *testing.T) ([]time.Time, []netip.AddrPort) {
	t.Helper()
	f, err := os.Open("testdata/test-near.flows.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var starts []time.Time
	var keys []netip.AddrPort
	for _, r := range recs {
		ts, err := time.Parse("2006-01-02 15:04:05.000", r[0])
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.ParseUint(r[4], 10, 16)
		starts = append(starts, ts)
		keys = append(keys, netip.AddrPortFrom(netip.MustParseAddr(r[3]), uint16(port)))
	}
	return starts, keys
}

// TestMatchOrdered assigns test-near's ordered list to its real flows and
// checks each assignment against the lab labels.
func TestMatchOrdered(t *testing.T) {
	list, err := Load(context.Background(), "testdata/test-near.ordered.csv")
	if err != nil {
		t.Fatal(err)
	}
	truth, err := Load(context.Background(), filepath.Join(labDev, "test-near.labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	starts, keys := flows(t)
	if len(starts) != 300 || list.Len() != 300 {
		t.Fatalf("%d flows, %d labels; want 300 each", len(starts), list.Len())
	}
	correct := func(got []Label) int {
		n := 0
		for _, l := range got {
			if tl := truth.ByClient(l.Client, l.ClientPort); len(tl) == 1 && tl[0].File == l.File {
				n++
			}
		}
		return n
	}
	// Reverse the flows so that the matching has to sort them.
	rs, rk := slices.Clone(starts), slices.Clone(keys)
	slices.Reverse(rs)
	slices.Reverse(rk)
	got, err := MatchOrdered(list.Labels, rs, rk)
	if err != nil {
		t.Fatal(err)
	}
	if n := correct(got); n != 300 {
		t.Errorf("%d of 300 labels matched to the right connection, want all", n)
	}
	if got[7].Conn != 7 || got[7].Start.IsZero() {
		t.Errorf("label 7: conn %d start %v", got[7].Conn, got[7].Start)
	}

	// One lost flow (within the 1% tolerance): every later label shifts.
	ds := slices.Delete(slices.Clone(starts), 100, 101)
	dk := slices.Delete(slices.Clone(keys), 100, 101)
	got, err = MatchOrdered(list.Labels, ds, dk)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 299 {
		t.Errorf("%d labels matched, want 299", len(got))
	}
	if n := correct(got); n != 100 {
		t.Errorf("%d labels right after losing flow 100, want 100", n)
	}

	// Ten lost flows: beyond tolerance.
	_, err = MatchOrdered(list.Labels, starts[:290], keys[:290])
	if !errors.Is(err, ErrCount) || !strings.Contains(err.Error(), "300 labels") || !strings.Contains(err.Error(), "290 download flows") {
		t.Errorf("err = %v, want ErrCount naming 300 and 290", err)
	}
	if _, err := MatchOrdered(list.Labels, starts, keys[:1]); !errors.Is(err, ErrCount) {
		t.Errorf("mismatched flow slices: err = %v", err)
	}
	if _, err := MatchOrderedTolerance(list.Labels, starts[:290], keys[:290], 10); err != nil {
		t.Errorf("explicit tolerance 10: %v", err)
	}
}

// FuzzRead checks that Read never panics and that what it accepts is
// consistent: every label has a file, lab labels an address and a port that
// ByClient finds.
func FuzzRead(f *testing.F) {
	for _, p := range []string{
		filepath.Join(labDev, "sample.labels.csv"),
		"testdata/sample.ordered.csv",
	} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	if b, err := os.ReadFile(filepath.Join(labExtra, "dev-keepalive.labels.csv")); err == nil {
		f.Add(b[:min(len(b), 600)])
	}
	f.Add([]byte("client_ip,client_port,file,nat_ip,nat_port\n10.0.0.1,1,a,10.0.0.2,2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Read(context.Background(), bytes.NewReader(data), "fuzz.csv")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.csv") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if s.Len() == 0 {
			t.Fatal("empty set accepted")
		}
		n := 0
		for _, c := range s.Connections() {
			n += len(c)
		}
		if n != s.Len() {
			t.Fatalf("Connections hold %d of %d labels", n, s.Len())
		}
		for _, l := range s.Labels {
			if l.File == "" || l.Line < 1 {
				t.Fatalf("label %+v", l)
			}
			if s.Ordered {
				continue
			}
			if !l.Client.IsValid() || l.ClientPort == 0 {
				t.Fatalf("lab label without address: %+v", l)
			}
			if len(s.ByClient(l.Client, l.ClientPort)) == 0 {
				t.Fatalf("ByClient misses %+v", l)
			}
		}
	})
}

func BenchmarkLoadTrainNear(b *testing.B) {
	path := filepath.Join(labDev, "train-near.labels.csv")
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		s, err := Load(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		n += s.Len()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "labels/s")
}
