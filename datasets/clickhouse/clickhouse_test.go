package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/argus"
	"github.com/fingerflow/fingerflow/datasets/clickhouse/chtest"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
)

var servers chtest.Servers

func TestMain(m *testing.M) { os.Exit(chtest.Main(m, &servers, 1)) }

var registry = datasets.NewRegistry(&nfcapd.Reader{}, &argus.Reader{})

// labFile is one shipped lab file; v9 runs are directories of one
// rotated file.
func labFile(t testing.TB, rel string) string {
	t.Helper()
	path := filepath.Join("..", rel)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.IsDir() {
		m, _ := filepath.Glob(filepath.Join(path, "nfcapd.*"))
		if len(m) != 1 {
			t.Fatalf("%s: %d rotated files", path, len(m))
		}
		path = m[0]
	}
	return path
}

func readAll(t testing.TB, path string) []datasets.Flow {
	t.Helper()
	rd, err := registry.Detect(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var out []datasets.Flow
	for f, err := range rd.Flows(context.Background(), path) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func flowsOf(ctx context.Context, path string) func(func(datasets.Flow, error) bool) {
	return func(yield func(datasets.Flow, error) bool) {
		rd, err := registry.Detect(ctx, path)
		if err != nil {
			yield(datasets.Flow{}, err)
			return
		}
		for f, err := range rd.Flows(ctx, path) {
			if !yield(f, err) || err != nil {
				return
			}
		}
	}
}

// newStore opens a fresh database named after the test.
func newStore(t *testing.T, srv *chtest.Server, params ...string) *Store {
	t.Helper()
	db := "t_" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
	cfg, err := ParseDSN(srv.DSN(db, params...))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSchema(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func load(t *testing.T, s *Store, path string) Loaded {
	t.Helper()
	ctx := context.Background()
	id, err := Identify(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Load(ctx, id, flowsOf(ctx, path))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func stored(t *testing.T, s *Store) []datasets.Flow {
	t.Helper()
	var out []datasets.Flow
	for f, err := range s.Flows(context.Background(), Window{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func TestParseDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want Config
		err  string
	}{
		{dsn: "clickhouse://db1:9000/night", want: Config{Addr: "db1:9000", Database: "night", User: "default", Table: "flows", FilesTable: "flows_files"}},
		{dsn: "clickhouse://ff:secret@db1/night?table=flows_all&files=flows_files",
			want: Config{Addr: "db1:9000", Database: "night", User: "ff", Password: "secret", Table: "flows_all", FilesTable: "flows_files"}},
		{dsn: "clickhouse://127.0.0.1:19000?table=akvorado_flows", want: Config{Addr: "127.0.0.1:19000", Database: "default", User: "default", Table: "akvorado_flows", FilesTable: "akvorado_flows_files"}},
		{dsn: "http://db1:8123/night", err: "scheme must be clickhouse://"},
		{dsn: "clickhouse://db1/night?tabel=x", err: `unknown parameter "tabel"`},
		{dsn: "clickhouse://db1/night?table=x-drop", err: "letters, digits and _ only"},
		{dsn: "clickhouse://u:pw@/night", err: "no host"},
	} {
		t.Run(tc.dsn, func(t *testing.T) {
			got, err := ParseDSN(tc.dsn)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrDSN) {
					t.Fatalf("err = %v, want one with %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "pw") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// TestRoundTrip loads lab runs of each binary format and reads back
// exactly the flows the readers give.
func TestRoundTrip(t *testing.T) {
	srv := servers.Need(t, 1)[0]
	for _, rel := range []string{"lab-dev/test-near.v9", "lab-dev/test-near.argus", "lab-extra/dev-ipv6.v9"} {
		t.Run(rel, func(t *testing.T) {
			s := newStore(t, srv)
			path := labFile(t, rel)
			want := readAll(t, path)
			res := load(t, s, path)
			if res.Already || res.Records != uint64(len(want)) {
				t.Fatalf("loaded %+v, want %d records", res, len(want))
			}
			got := stored(t, s)
			sortFlows(want)
			sortFlows(got)
			if d := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func sortFlows(fs []datasets.Flow) {
	key := func(f datasets.Flow) string {
		return fmt.Sprintf("%020d %020d %v %v %d %d %d %d %d", f.Start.UnixNano(), f.End.UnixNano(), f.SrcAddr, f.DstAddr, f.SrcPort, f.DstPort, f.Proto, f.Bytes, f.RevBytes)
	}
	slices.SortFunc(fs, func(a, b datasets.Flow) int { return strings.Compare(key(a), key(b)) })
}

// TestLoadTwice: the same content loaded twice, under another name too,
// is stored once.
func TestLoadTwice(t *testing.T) {
	srv := servers.Need(t, 1)[0]
	s := newStore(t, srv)
	path := labFile(t, "population/pop-near-24h-s1007.v9")
	first := load(t, s, path)
	copyPath := filepath.Join(t.TempDir(), "nfcapd.202612011700")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, copyPath} {
		if again := load(t, s, p); !again.Already {
			t.Errorf("%s: loaded again: %+v", p, again)
		}
	}
	n, err := s.Count(context.Background(), Window{})
	if err != nil {
		t.Fatal(err)
	}
	if n != first.Records || n == 0 {
		t.Errorf("%d flows stored, want %d", n, first.Records)
	}
}

// TestAbandonedLoad: a load stopped between blocks without cleaning up
// (a killed process) leaves rows no query sees; the next
// DiscardAbandoned deletes them, and the file then loads whole.
func TestAbandonedLoad(t *testing.T) {
	srv := servers.Need(t, 1)[0]
	s := newStore(t, srv)
	s.rowsPerBlock = 100
	ctx := context.Background()
	path := labFile(t, "lab-dev/train-near.v9")
	id, err := Identify(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.load(ctx, id, flowsOf(ctx, path), loadHooks{afterBlock: func(n int) bool { return n == 3 }})
	if err == nil {
		t.Fatal("abandoned load reported no error")
	}
	var raw uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.Table()).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if raw != 300 {
		t.Fatalf("%d rows in the table after three blocks, want 300", raw)
	}
	if n, err := s.Count(ctx, Window{}); err != nil || n != 0 {
		t.Fatalf("%d rows visible (%v), want none", n, err)
	}
	d, err := s.DiscardAbandoned(ctx)
	if err != nil || d != 1 {
		t.Fatalf("discarded %d loads (%v), want 1", d, err)
	}
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.Table()).Scan(&raw); err != nil || raw != 0 {
		t.Fatalf("%d rows left after discarding (%v)", raw, err)
	}
	res := load(t, s, path)
	if n, err := s.Count(ctx, Window{}); err != nil || n != res.Records || n != uint64(len(readAll(t, path))) {
		t.Fatalf("%d rows visible (%v) after the reload, want %d", n, err, res.Records)
	}
}

// TestCancelledLoad: a load whose context is cancelled between blocks
// deletes what it inserted.
func TestCancelledLoad(t *testing.T) {
	srv := servers.Need(t, 1)[0]
	s := newStore(t, srv)
	s.rowsPerBlock = 100
	ctx, cancel := context.WithCancel(context.Background())
	path := labFile(t, "lab-dev/train-near.v9")
	id, err := Identify(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.load(ctx, id, flowsOf(context.Background(), path), loadHooks{afterBlock: func(n int) bool {
		if n == 2 {
			cancel()
		}
		return false
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want cancelled", err)
	}
	var raw uint64
	if err := s.conn.QueryRow(context.Background(), "SELECT count() FROM "+s.Table()).Scan(&raw); err != nil || raw != 0 {
		t.Fatalf("%d rows left (%v), want none", raw, err)
	}
	if d, err := s.DiscardAbandoned(context.Background()); err != nil || d != 0 {
		t.Fatalf("discarded %d (%v) after a cleaned-up load", d, err)
	}
}

// TestDamagedFile: a file whose reader fails half-way loads none of its
// rows, and the error names it.
func TestDamagedFile(t *testing.T) {
	srv := servers.Need(t, 1)[0]
	s := newStore(t, srv)
	s.rowsPerBlock = 100
	ctx := context.Background()
	src := labFile(t, "lab-dev/train-near.argus")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "train-near.argus")
	if err := os.WriteFile(path, b[:len(b)*2/3+7], 0o644); err != nil {
		t.Fatal(err)
	}
	var good int
	for _, err := range flowsOf(ctx, path) {
		if err != nil {
			break
		}
		good++
	}
	if good < 300 {
		t.Fatalf("the truncated file gives %d flows before its error; the test needs several blocks", good)
	}
	id, err := Identify(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Load(ctx, id, flowsOf(ctx, path))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want one naming %s", err, path)
	}
	var raw uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.Table()).Scan(&raw); err != nil || raw != 0 {
		t.Fatalf("%d rows left (%v), want none", raw, err)
	}
}

// TestBadInput: each way of pointing at the wrong place gives one line
// saying what is wrong.
func TestBadInput(t *testing.T) {
	srv := servers.Need(t, 1)[0]
	ctx := context.Background()
	s := newStore(t, srv)
	if err := s.conn.Exec(ctx, "CREATE TABLE "+s.Ident("other")+" (TimeReceived DateTime, SrcAddr String, Bytes UInt64, Packets Int64) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	db := s.cfg.Database
	for _, tc := range []struct {
		name, dsn string
		want      []string
		is        error
	}{
		{"unreachable", "clickhouse://127.0.0.1:1/" + db, []string{"cannot reach ClickHouse at 127.0.0.1:1", "refused"}, ErrConnect},
		{"wrong password", "clickhouse://default:nope@" + srv.Addr + "/" + db, []string{"wrong user or password"}, ErrConnect},
		{"no table", srv.DSN(db, "table=nothing"), []string{db + ".nothing does not exist"}, ErrSchema},
		{"other columns", srv.DSN(db, "table=other"), []string{"missing TimeFlowStartNs", "SrcAddr is String, not FixedString(16)", "Packets is Int64, not UInt8/16/32/64"}, ErrSchema},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseDSN(tc.dsn)
			if err != nil {
				t.Fatal(err)
			}
			st, err := Open(ctx, cfg)
			if err == nil {
				defer st.Close()
				err = st.Check(ctx)
			}
			if err == nil || !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error has several lines: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

// TestWindow: a window's flows read back are those datasets.Filter keeps.
func TestWindow(t *testing.T) {
	srv := servers.Need(t, 1)[0]
	s := newStore(t, srv)
	path := labFile(t, "population/pop-near-24h-s1007.v9")
	all := readAll(t, path)
	load(t, s, path)
	first, last := all[0].Start, all[0].End
	for _, f := range all {
		if f.Start.Before(first) {
			first = f.Start
		}
		if f.End.After(last) {
			last = f.End
		}
	}
	span := last.Sub(first)
	for _, w := range []Window{
		{Since: first.Add(span / 3), Until: first.Add(span / 2)},
		{Since: first.Add(span / 2)},
		{Until: first.Add(span/4 + 1234567)},
	} {
		t.Run(fmt.Sprintf("%v-%v", w.Since.Format(time.TimeOnly), w.Until.Format(time.TimeOnly)), func(t *testing.T) {
			flt := datasets.Filter{Since: w.Since, Until: w.Until}
			var want []datasets.Flow
			for _, f := range all {
				if flt.InWindow(&f) {
					want = append(want, f)
				}
			}
			var got []datasets.Flow
			for f, err := range s.Flows(context.Background(), w) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, f)
			}
			if len(want) == 0 || len(want) == len(all) {
				t.Fatalf("window keeps %d of %d flows: it tests nothing", len(want), len(all))
			}
			sortFlows(want)
			sortFlows(got)
			if d := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// TestTooOld: a server that lacks a function the queries use is refused
// with one line naming it.
func TestTooOld(t *testing.T) {
	srv := servers.Need(t, 1)[0]
	saved := RequiredFunctions
	RequiredFunctions = append(slices.Clip(saved), "noSuchFunctionForTest")
	defer func() { RequiredFunctions = saved }()
	cfg, err := ParseDSN(srv.DSN("default"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), cfg)
	if !errors.Is(err, ErrTooOld) || !strings.Contains(err.Error(), "lacks noSuchFunctionForTest") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v, want one line saying the server lacks noSuchFunctionForTest", err)
	}
}

// TestCancelledQuery: a query stopped by a cancelled context says so in
// one line and is still a context.Canceled, which the command reports as
// an interruption.
func TestCancelledQuery(t *testing.T) {
	s := newStore(t, servers.Need(t, 1)[0])
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Count(ctx, Window{})
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "\n") {
		t.Errorf("count with a cancelled context: %v, want a context.Canceled in one line", err)
	}
}
