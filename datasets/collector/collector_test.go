package collector

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/internal/testuser"
	"github.com/fingerflow/fingerflow/datasets/netflow"
)

func TestParseListen(t *testing.T) {
	for _, tc := range []struct {
		in, network, address string
		bad                  bool
	}{
		{in: ":2055", network: "udp", address: ":2055"},
		{in: "2055", network: "udp", address: ":2055"},
		{in: "0.0.0.0:2055", network: "udp4", address: "0.0.0.0:2055"},
		{in: "127.0.0.1:0", network: "udp4", address: "127.0.0.1:0"},
		{in: "[::]:2055", network: "udp6", address: "[::]:2055"},
		{in: "[::1]:9995", network: "udp6", address: "[::1]:9995"},
		{in: "[fe80::1%eth0]:2055", network: "udp6", address: "[fe80::1%eth0]:2055"},
		{in: "[::ffff:127.0.0.1]:2055", network: "udp4", address: "[::ffff:127.0.0.1]:2055"},
		{in: "", bad: true},
		{in: "2055:", bad: true},
		{in: ":70000", bad: true},
		{in: ":http", bad: true},
		{in: "localhost:2055", bad: true},
		{in: "::1:2055", bad: true},
		{in: "1.2.3.4", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			network, address, err := ParseListen(tc.in)
			if tc.bad {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("err = %v, want ErrConfig", err)
				}
				return
			}
			if err != nil || network != tc.network || address != tc.address {
				t.Fatalf("got %q %q %v, want %q %q", network, address, err, tc.network, tc.address)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"8388608", 8 << 20}, {"512K", 512 << 10}, {"8M", 8 << 20}, {"8MiB", 8 << 20},
		{"8mb", 8 << 20}, {"1G", 1 << 30}, {"2G", -1}, {"", -1}, {"-1", -1}, {"8T", -1}, {"M", -1},
	} {
		got, err := ParseSize(tc.in)
		if tc.want < 0 {
			if !errors.Is(err, ErrConfig) {
				t.Errorf("%q: %d, %v, want ErrConfig", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %d, %v, want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestCheckRotate(t *testing.T) {
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{
		{time.Second, true}, {5 * time.Minute, true}, {time.Hour, true}, {24 * time.Hour, true},
		{90 * time.Second, true}, {7 * time.Minute, false}, {1500 * time.Millisecond, false},
		{0, false}, {-time.Minute, false}, {48 * time.Hour, false},
	} {
		if err := CheckRotate(tc.d); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrConfig)) {
			t.Errorf("%v: %v", tc.d, err)
		}
	}
}

func TestIntervalStart(t *testing.T) {
	at := func(s string) time.Time { return must(time.Parse(time.RFC3339Nano, s)) }
	for _, tc := range []struct {
		t     string
		d     time.Duration
		start string
	}{
		{"2027-01-11T12:04:59.999Z", 5 * time.Minute, "2027-01-11T12:00:00Z"},
		{"2027-01-11T12:05:00Z", 5 * time.Minute, "2027-01-11T12:05:00Z"},
		{"2027-01-11T13:05:00+01:00", 5 * time.Minute, "2027-01-11T12:05:00Z"},
		{"2027-01-11T23:59:59Z", time.Hour, "2027-01-11T23:00:00Z"},
		{"2027-01-11T00:00:44Z", 15 * time.Second, "2027-01-11T00:00:30Z"},
		{"1969-12-31T23:59:01Z", time.Minute, "1969-12-31T23:59:00Z"},
	} {
		if got := intervalStart(at(tc.t), tc.d); !got.Equal(at(tc.start)) || got.Location() != time.UTC {
			t.Errorf("%s / %v: %v, want %s", tc.t, tc.d, got, tc.start)
		}
	}
}

var discard = slog.New(slog.DiscardHandler)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestSequence(t *testing.T) {
	type step struct {
		seq, advance uint32
		known        bool
		gap          bool
		skipped      uint64
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"in order", []step{{100, 30, true, false, 0}, {130, 30, true, false, 0}, {160, 1, true, false, 0}}},
		{"one lost", []step{{1, 1, true, false, 0}, {3, 1, true, true, 1}, {4, 1, true, false, 0}}},
		{"wraps", []step{{0xfffffffe, 2, true, false, 0}, {0, 5, true, false, 0}, {5, 1, true, false, 0}}},
		{"lost across the wrap", []step{{0xfffffff0, 0x10, true, false, 0}, {7, 1, true, true, 7}}},
		{"restart", []step{{5000, 10, true, false, 0}, {0, 10, true, true, 0}, {10, 1, true, false, 0}}},
		{"advance unknown", []step{{10, 0, false, false, 0}, {99, 1, true, false, 0}, {100, 1, true, false, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s seqState
			for i, st := range tc.steps {
				gap, skipped := s.follow(&netflow.Datagram{Sequence: st.seq, Advance: st.advance, AdvanceKnown: st.known})
				if gap != st.gap || skipped != st.skipped {
					t.Errorf("step %d: gap %v skipped %d, want %v %d", i, gap, skipped, st.gap, st.skipped)
				}
			}
		})
	}
}

// Files land in the date tree of their interval's start (UTC), named so
// datasets.FileTime reads that time; a name already taken (a restart within
// the interval) gets the second the file was opened at.
func TestSinkNames(t *testing.T) {
	dir := t.TempDir()
	at := func(s string) time.Time { return must(time.Parse(time.RFC3339, s)) }
	s := &sink{dir: dir, rotate: 5 * time.Minute, log: discard}
	fl := []datasets.Flow{{SrcAddr: netip.MustParseAddr("10.0.0.1"), Packets: 1, Bytes: 40}}
	cs := counterSet{netip.MustParseAddr("192.0.2.1"): {Datagrams: 1, Flows: 1}}
	for _, now := range []string{"2026-12-31T23:58:00Z", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z", "2027-01-01T01:03:00+01:00"} {
		if err := s.write(at(now), fl, cs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	// later runs within the 00:00 interval
	s = &sink{dir: dir, rotate: 5 * time.Minute, log: discard}
	for _, now := range []string{"2027-01-01T00:02:17Z", "2027-01-01T00:04:00Z", "2027-01-01T00:04:00Z"} {
		if err := s.write(at(now), fl, cs); err != nil {
			t.Fatal(err)
		}
		if err := s.close(); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got = append(got, must(filepath.Rel(dir, p)))
		}
		return err
	})
	want := []string{
		"2026/12/31/flows.202612312355",
		"2027/01/01/flows.202701010000",
		"2027/01/01/flows.20270101000217",
		"2027/01/01/flows.20270101000400",
		"2027/01/01/flows.20270101000401",
	}
	wantTimes := []string{"2026-12-31T23:55:00Z", "2027-01-01T00:00:00Z", "2027-01-01T00:02:17Z", "2027-01-01T00:04:00Z", "2027-01-01T00:04:01Z"}
	for i, name := range want {
		ft, ok := datasets.FileTime(name)
		if !ok || !ft.Equal(at(wantTimes[i])) {
			t.Errorf("FileTime(%s) = %v %v, want %s", name, ft, ok, wantTimes[i])
		}
	}
	m, err := ReadFileMeta(context.Background(), filepath.Join(dir, want[1]))
	if err != nil {
		t.Fatal(err)
	}
	wantMeta := FileMeta{
		Start: at("2027-01-01T00:00:00Z"), End: at("2027-01-01T00:05:00Z"),
		Exporters: []ExporterCounters{{netip.MustParseAddr("192.0.2.1"), Counters{Datagrams: 2, Flows: 2}}},
	}
	if diff := cmp.Diff(wantMeta, m, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	// Seconds in the name when the interval is not whole minutes.
	s = &sink{dir: dir, rotate: 30 * time.Second, log: discard}
	if s.name(at("2027-01-01T00:00:30Z")) != "flows.20270101000030" {
		t.Errorf("30s interval name %s", s.name(at("2027-01-01T00:00:30Z")))
	}
}

// The collector with an injected clock: files appear in the date tree
// only when their interval ends, never under a name a reader would open
// before that, and cancelling Run completes the open file.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Date(2026, 12, 31, 23, 57, 10, 0, time.UTC)}
	c, stop := start(t, Config{Listen: []string{"127.0.0.1:0"}, Dir: dir, Now: clock.Now, tick: 5 * time.Millisecond, Workers: 2})
	to := c.Addrs()[0]
	v5 := realDatagrams(t, "v5.pcap")
	v9 := realDatagrams(t, "v9.pcap")
	s := sender(t, "127.0.0.1:0")

	send(t, s, to, v5...)
	waitFor(t, "the v5 datagrams", func() bool { return total(c.Totals()).Datagrams == uint64(len(v5)) })
	perV5 := total(c.Totals()).Flows
	if perV5 == 0 {
		t.Fatal("no flows")
	}
	// open, but invisible: a directory walk finds nothing to read
	files, flows := readDir(t, dir)
	if len(files) != 0 || len(flows) != 0 {
		t.Fatalf("open interval visible: %v", files)
	}
	var hidden []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".") {
			hidden = append(hidden, p)
		}
		return err
	})
	if len(hidden) != 1 || !strings.Contains(hidden[0], filepath.Join("2026", "12", "31", ".flows.202612312355.tmp-")) {
		t.Fatalf("temporary files %v", hidden)
	}

	// the interval ends with nothing arriving: the tick closes it
	clock.Set(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	waitFor(t, "the first file", func() bool { return c.Files() == 1 })
	first := filepath.Join(dir, "2026", "12", "31", "flows.202612312355")
	files, flows = readDir(t, dir)
	if diff := cmp.Diff([]string{first}, files); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
	if uint64(len(flows)) != perV5 {
		t.Errorf("%d flows in %s, want %d", len(flows), first, perV5)
	}

	// an interval with no datagram writes no file; the next one is
	// written on interrupt
	clock.Set(time.Date(2027, 1, 1, 0, 12, 0, 0, time.UTC))
	send(t, s, to, v9...)
	send(t, s, to, v5...)
	waitFor(t, "the second batch", func() bool { return total(c.Totals()).Datagrams == uint64(2*len(v5)+len(v9)) })
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	second := filepath.Join(dir, "2027", "01", "01", "flows.202701010010")
	files, flows = readDir(t, dir)
	if diff := cmp.Diff([]string{first, second}, files); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
	tot := total(c.Totals())
	if uint64(len(flows)) != tot.Flows {
		t.Errorf("%d flows in the files, counters say %d", len(flows), tot.Flows)
	}
	m, err := ReadFileMeta(context.Background(), second)
	if err != nil {
		t.Fatal(err)
	}
	got := total(m.Exporters)
	if got.Datagrams != uint64(len(v5)+len(v9)) || got.Flows != tot.Flows-perV5 {
		t.Errorf("second file's counters %+v", got)
	}
	if len(m.Exporters) != 1 || m.Exporters[0].Exporter != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("exporters %+v", m.Exporters)
	}
	if !m.Start.Equal(time.Date(2027, 1, 1, 0, 10, 0, 0, time.UTC)) || m.End.Sub(m.Start) != DefaultRotate {
		t.Errorf("interval %v-%v", m.Start, m.End)
	}
}

// Random and malformed datagrams are counted and dropped; real ones
// around them decode.
func TestMalformed(t *testing.T) {
	dir := t.TempDir()
	c, stop := start(t, Config{Listen: []string{"127.0.0.1:0"}, Dir: dir})
	to := c.Addrs()[0]
	rng := rand.New(rand.NewPCG(1, 2))
	var bad [][]byte
	for range 200 {
		p := make([]byte, rng.IntN(1500))
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		if len(p) > 0 && p[0] == 0 {
			p[0] = 1 // not a NetFlow/IPFIX version number
		}
		bad = append(bad, p)
	}
	var good [][]byte
	for _, name := range exportCaptures {
		ds := realDatagrams(t, name)
		good = append(good, ds...)
		for _, d := range ds {
			// cut short, and with lengths that lie
			bad = append(bad, d[:len(d)/2])
			lie := slices.Clone(d)
			if lie[1] == 9 {
				lie[23] = 2 // first set shorter than its header
			} else {
				lie[3] ^= 0x40 // count or length
			}
			bad = append(bad, lie)
		}
	}
	bs := sender(t, "127.0.0.2:0")
	gs := sender(t, "127.0.0.1:0")
	send(t, bs, to, bad...)
	send(t, gs, to, good...)
	waitFor(t, "every datagram", func() bool { return total(c.Totals()).Datagrams == uint64(len(bad)+len(good)) })
	byAddr := map[string]Counters{}
	for _, ec := range c.Totals() {
		byAddr[ec.Exporter.String()] = ec.Counters
	}
	if g := byAddr["127.0.0.2"]; g.Malformed != uint64(len(bad)) || g.Flows != 0 {
		t.Errorf("bad sender: %+v, want %d malformed", g, len(bad))
	}
	if g := byAddr["127.0.0.1"]; g.Malformed != 0 || g.Flows == 0 || g.NoTemplate != 0 {
		t.Errorf("good sender: %+v", g)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	_, flows := readDir(t, dir)
	if uint64(len(flows)) != byAddr["127.0.0.1"].Flows {
		t.Errorf("%d flows written, %d counted", len(flows), byAddr["127.0.0.1"].Flows)
	}
}

// IPv6 sockets: an IPv6-only socket and a dual-stack one, which reports
// IPv4 exporters by their IPv4 address.
func TestIPv6(t *testing.T) {
	dir := t.TempDir()
	c, stop := start(t, Config{Listen: []string{"[::1]:0", ":0"}, Dir: dir})
	v9 := realDatagrams(t, "v9.pcap")
	send(t, sender(t, "[::1]:0"), c.Addrs()[0], v9...)
	dual := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), c.Addrs()[1].Port())
	send(t, sender(t, "127.0.0.1:0"), dual, v9...)
	waitFor(t, "both exporters", func() bool { return len(c.Totals()) == 2 })
	waitFor(t, "every datagram", func() bool { return total(c.Totals()).Datagrams == uint64(2*len(v9)) })
	got := c.Totals()
	if got[0].Exporter != netip.MustParseAddr("127.0.0.1") || got[1].Exporter != netip.MustParseAddr("::1") {
		t.Errorf("exporters %v %v", got[0].Exporter, got[1].Exporter)
	}
	if got[0].Flows != got[1].Flows || got[0].Flows == 0 {
		t.Errorf("flows %d and %d", got[0].Flows, got[1].Flows)
	}
	stop()
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		cfg    Config
		config bool // wraps ErrConfig
	}{
		{"no listen", Config{Dir: dir}, true},
		{"no dir", Config{Listen: []string{"127.0.0.1:0"}}, true},
		{"bad rotate", Config{Listen: []string{"127.0.0.1:0"}, Dir: dir, Rotate: 7 * time.Minute}, true},
		{"bad listen", Config{Listen: []string{"127.0.0.1:0", "nowhere:2055"}, Dir: dir}, true},
		{"negative stats", Config{Listen: []string{"127.0.0.1:0"}, Dir: dir, Stats: -time.Second}, true},
		{"address not here", Config{Listen: []string{"192.0.2.1:0"}, Dir: dir}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			if err == nil {
				c.Close()
				t.Fatal("no error")
			}
			if errors.Is(err, ErrConfig) != tc.config {
				t.Errorf("%v: ErrConfig %v, want %v", err, errors.Is(err, ErrConfig), tc.config)
			}
		})
	}
	// a port in use
	c, err := New(Config{Listen: []string{"127.0.0.1:0"}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := New(Config{Listen: []string{c.Addrs()[0].String()}, Dir: dir}); err == nil || errors.Is(err, ErrConfig) {
		t.Errorf("port in use: %v", err)
	}
}

// TestUnwritableDir: an output directory that cannot be made or written
// is refused by New, before any socket is bound, with a message naming
// it; it is not an error of the configuration (the command exits 1, not
// 2). The permission cases need a user whom permissions stop: as root
// they run again as nobody in a child process.
func TestUnwritableDir(t *testing.T) {
	cases := []struct {
		name        string
		permissions bool
		setup       func(t *testing.T, tmp string) (dir, want string)
	}{
		{"a file", false, func(t *testing.T, tmp string) (string, string) {
			dir := filepath.Join(tmp, "flows")
			if err := os.WriteFile(dir, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return dir, dir + ": not a directory"
		}},
		{"under a file", false, func(t *testing.T, tmp string) (string, string) {
			file := filepath.Join(tmp, "flows")
			if err := os.WriteFile(file, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(file, "2055")
			return dir, dir + ": cannot create the output directory: mkdir " + file + ": not a directory"
		}},
		{"read-only", true, func(t *testing.T, tmp string) (string, string) {
			dir := filepath.Join(tmp, "flows")
			if err := os.Mkdir(dir, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o755) })
			return dir, dir + ": the output directory is not writable: permission denied"
		}},
		{"in a read-only directory", true, func(t *testing.T, tmp string) (string, string) {
			ro := filepath.Join(tmp, "ro")
			if err := os.Mkdir(ro, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(ro, 0o755) })
			dir := filepath.Join(ro, "flows")
			return dir, dir + ": cannot create the output directory: mkdir " + dir + ": permission denied"
		}},
	}
	unprivileged := testuser.Unprivileged(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.permissions && !unprivileged {
				return // run as nobody above
			}
			dir, want := tc.setup(t, t.TempDir())
			lo := netip.MustParseAddr("127.0.0.1")
			port := netip.AddrPortFrom(lo, uint16(freePort(t, lo)))
			c, err := New(Config{Listen: []string{port.String()}, Dir: dir})
			if err == nil {
				c.Close()
				t.Fatal("no error")
			}
			if err.Error() != want || errors.Is(err, ErrConfig) {
				t.Errorf("error %q (ErrConfig %v)\nwant %q", err, errors.Is(err, ErrConfig), want)
			}
			// Nothing listens on the port.
			c, err = New(Config{Listen: []string{port.String()}, Dir: t.TempDir()})
			if err != nil {
				t.Fatalf("the port stayed bound: %v", err)
			}
			c.Close()
		})
	}
}

// An output directory that cannot be written any more ends Run with the
// error.
func TestWriteError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "flows")
	c, err := New(Config{Listen: []string{"127.0.0.1:0"}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// The directory goes away and a file takes its name.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	send(t, sender(t, "127.0.0.1:0"), c.Addrs()[0], realDatagrams(t, "v5.pcap")...)
	select {
	case err := <-done:
		if err == nil || errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v, want the write error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not end")
	}
}

// FuzzHandle feeds arbitrary datagrams, seeded with real ones, through a
// decoding worker: every datagram is counted once, a malformed one gives
// no flow, and nothing panics.
func FuzzHandle(f *testing.F) {
	for _, name := range exportCaptures {
		for _, d := range realDatagrams(f, name) {
			f.Add(d)
		}
	}
	c := &Collector{}
	c.batches.New = func() any { return &batch{counters: counterSet{}} }
	c.bufs.New = func() any { b := make([]byte, smallDatagram); return &b }
	c.log = discard
	w := &worker{c: c, dec: netflow.NewDatagramDecoder(), seq: map[seqKey]*seqState{}, sources: map[netip.Addr]bool{}, maxSources: 1}
	src := netip.MustParseAddr("192.0.2.1")
	f.Fuzz(func(t *testing.T, p []byte) {
		b := make([]byte, len(p))
		copy(b, p)
		w.handle(datagram{src: src, buf: &b, n: len(b)})
		cnt := w.cur.counters[src]
		if cnt == nil || cnt.Datagrams != 1 || cnt.Bytes != uint64(len(p)) || cnt.Flows != uint64(len(w.cur.flows)) {
			t.Fatalf("counters %+v, %d flows", cnt, len(w.cur.flows))
		}
		if cnt.Malformed == 1 && cnt.Flows != 0 {
			t.Fatalf("flows from a malformed datagram: %+v", cnt)
		}
		c.release(w.cur)
		w.cur = nil
	})
}

// An interval with datagrams but no flows still writes its file, with no
// rows and its counters.
func TestNoFlowsFile(t *testing.T) {
	dir := t.TempDir()
	c, stop := start(t, Config{Listen: []string{"127.0.0.1:0"}, Dir: dir})
	send(t, sender(t, "127.0.0.1:0"), c.Addrs()[0], []byte("not netflow"), []byte{0, 9, 0, 1})
	waitFor(t, "both datagrams", func() bool { return total(c.Totals()).Datagrams == 2 })
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	files, flows := readDir(t, dir)
	if len(files) != 1 || len(flows) != 0 {
		t.Fatalf("files %v, %d flows", files, len(flows))
	}
	m, err := ReadFileMeta(context.Background(), files[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := total(m.Exporters); got.Malformed != 2 || got.Datagrams != 2 {
		t.Errorf("counters %+v", got)
	}
}

// Sources beyond the bound are counted together, so a flood from spoofed
// addresses cannot grow the counters without end.
func TestManySources(t *testing.T) {
	c, stop := start(t, Config{Listen: []string{"127.0.0.1:0"}, Dir: t.TempDir(), Workers: 1, maxSources: 4})
	v5 := realDatagrams(t, "v5.pcap")
	for i := range 10 {
		send(t, sender(t, fmt.Sprintf("127.0.0.%d:0", 10+i)), c.Addrs()[0], []byte("noise"), v5[0])
	}
	waitFor(t, "every datagram", func() bool { return total(c.Totals()).Datagrams == 20 })
	stop()
	got := c.Totals()
	if len(got) != 5 || got[4].Exporter != Overflow || got[4].Datagrams != 12 || got[4].Malformed != 6 {
		t.Fatalf("counters %+v", got)
	}
	_, flows := readDir(t, c.cfg.Dir)
	exporters := map[netip.Addr]bool{}
	for _, f := range flows {
		exporters[f.Exporter] = true
	}
	if len(exporters) != 10 {
		t.Errorf("flows from %d exporters, want 10", len(exporters))
	}
}
