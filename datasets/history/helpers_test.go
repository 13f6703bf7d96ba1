package history

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// eq compares addresses (netip.Addr) by value and NaN chances as equal.
var eq = cmp.Options{cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateNaNs()}

// at is a UTC time given as "2006-01-02T15:04:05".
func at(s string) time.Time {
	t, err := time.Parse("2006-01-02T15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t
}

// Catalog entries of the scenario.
var (
	openssl14 = CatalogEntry{Entry: "openssl_3.0.14-1~deb12u1_amd64.deb", Size: 2100000, Product: "openssl", Version: "3.0.14-1~deb12u1", OS: "debian", OSVersion: "12"}
	openssl15 = CatalogEntry{Entry: "openssl_3.0.15-1~deb12u1_amd64.deb", Size: 2110000, Product: "openssl", Version: "3.0.15-1~deb12u1", OS: "debian", OSVersion: "12"}
	curl      = CatalogEntry{Entry: "curl_7.88.1-10+deb12u7_amd64.deb", Size: 315000, Product: "curl", Version: "7.88.1-10+deb12u7", OS: "debian", OSVersion: "12"}
	kb13      = CatalogEntry{Entry: "windows11.0-kb5046613-x64.msu", Size: 690000000, Product: "windows11-cumulative", Version: "KB5046613", OS: "windows", OSVersion: "11", Released: at("2026-11-12T00:00:00")}
	kb17      = CatalogEntry{Entry: "windows11.0-kb5046617-x64.msu", Size: 701000000, Product: "windows11-cumulative", Version: "KB5046617", OS: "windows", OSVersion: "11", Released: at("2026-11-22T00:00:00")}
)

// host is a host row of night n (a date), seen from 19:00 to 06:00.
func host(n, addr, os, ver string, conf float64) Host {
	d := at(n + "T00:00:00")
	return Host{
		Addr: netip.MustParseAddr(addr), FirstSeen: d.Add(19*time.Hour + time.Minute), LastSeen: d.Add(30*time.Hour + 59*time.Minute),
		OS: os, OSVersion: ver, Confidence: conf, Evidence: "evidence for " + addr,
		Cluster: 0, ClusterDescription: "quiet clients", BytesIn: 1000, BytesOut: 200000, Flows: 40,
	}
}

// fetch is a single download of e by addr at time t.
func fetch(addr string, e CatalogEntry, t string) Fetch {
	return Fetch{Addr: netip.MustParseAddr(addr), Entry: e.Entry, Product: e.Product, Version: e.Version, OS: e.OS,
		Fetched: at(t), Chance: 0.001, Method: Single}
}

// info is the summary of night n.
func info(n string, flows uint64) RunInfo {
	d := at(n + "T00:00:00")
	return RunInfo{
		Night: n, FirstFlow: d.Add(19 * time.Hour), LastFlow: d.Add(31*time.Hour - time.Second),
		Started: d.Add(31*time.Hour + 5*time.Minute), Finished: d.Add(31*time.Hour + 6*time.Minute),
		Flows: flows, FilesRead: 144, Hosts: 6, Downloads: 10, Named: 4, Version: "0.1.0",
		Model:   Identity{Path: "lab.ffm", Hash: "sha256:aa"},
		Catalog: Identity{Path: "catalog.csv", Hash: "sha256:c1"},
	}
}

// scenario is three nights of a small site:
//   - 10.0.0.5, debian 12, fetches openssl 3.0.14 and curl, then 3.0.15;
//   - 10.0.0.6, debian 12, fetches 3.0.14 but never 3.0.15;
//   - 10.0.0.7, never a verdict;
//   - 10.0.0.8, windows 11, unknown on the last night, fetches nothing;
//   - 10.0.0.9, debian, seen on the first night only;
//   - 10.0.0.10, unknown and then windows 11, fetches KB5046613 on the 21st;
//   - fd00::20, debian 12, seen on the last night only.
//
// openssl 3.0.15 and KB5046617 are listed from the 22nd.
func scenario() []Run {
	catA := []CatalogEntry{openssl14, curl, kb13}
	catB := []CatalogEntry{openssl14, openssl15, curl, kb13, kb17}
	n20 := Run{
		Info: info("2026-11-20", 1000),
		Hosts: []Host{
			host("2026-11-20", "10.0.0.5", "debian", "12", 0.9),
			host("2026-11-20", "10.0.0.6", "debian", "12", 0.8),
			host("2026-11-20", "10.0.0.7", "", "", 0),
			host("2026-11-20", "10.0.0.8", "windows", "11", 0.85),
			host("2026-11-20", "10.0.0.9", "debian", "", 0.6),
			host("2026-11-20", "10.0.0.10", "", "", 0),
		},
		Fetches: []Fetch{
			fetch("10.0.0.5", openssl14, "2026-11-20T20:00:00"),
			fetch("10.0.0.5", curl, "2026-11-20T20:00:05"),
			fetch("10.0.0.6", openssl14, "2026-11-20T21:00:00"),
		},
		Catalog: catA,
		Metrics: []Metric{{"flows_per_port", "443/tcp", 700}, {"flows_per_port", "80/tcp", 300}},
	}
	n21 := Run{
		Info: info("2026-11-21", 1100),
		Hosts: []Host{
			host("2026-11-21", "10.0.0.5", "debian", "12", 0.9),
			host("2026-11-21", "10.0.0.6", "debian", "12", 0.7),
			host("2026-11-21", "10.0.0.7", "", "", 0),
			host("2026-11-21", "10.0.0.8", "windows", "11", 0.85),
			host("2026-11-21", "10.0.0.10", "windows", "11", 0.75),
		},
		Fetches: []Fetch{
			fetch("10.0.0.10", kb13, "2026-11-21T22:00:00"),
		},
		// 10.0.0.7, of no known OS, has a download that fits curl
		// among other combinations.
		Possible: []Possible{
			{Addr: netip.MustParseAddr("10.0.0.7"), Entry: curl.Entry, Product: "curl", Version: curl.Version, OS: "debian", At: at("2026-11-21T21:30:00")},
		},
		Catalog: catA,
		Metrics: []Metric{{"flows_per_port", "443/tcp", 800}, {"flows_per_port", "80/tcp", 300}},
	}
	n22 := Run{
		Info: info("2026-11-22", 900),
		Hosts: []Host{
			host("2026-11-22", "10.0.0.5", "debian", "12", 0.95),
			host("2026-11-22", "10.0.0.6", "debian", "12", 0.7),
			host("2026-11-22", "10.0.0.8", "", "", 0),
			host("2026-11-22", "10.0.0.10", "windows", "11", 0.8),
			host("2026-11-22", "fd00::20", "debian", "12", 0.9),
		},
		Fetches: []Fetch{
			{Addr: netip.MustParseAddr("10.0.0.5"), Entry: openssl15.Entry, Product: "openssl", Version: openssl15.Version,
				OS: "debian", Fetched: at("2026-11-22T20:00:00"), Chance: 0.02, Method: Connection},
		},
		// fd00::20's lossy keep-alive connection fits openssl 3.0.15
		// among other combinations; twice, the earlier kept.
		Possible: []Possible{
			{Addr: netip.MustParseAddr("fd00::20"), Entry: openssl15.Entry, Product: "openssl", Version: openssl15.Version, OS: "debian", At: at("2026-11-22T23:10:00")},
			{Addr: netip.MustParseAddr("fd00::20"), Entry: openssl15.Entry, Product: "openssl", Version: openssl15.Version, OS: "debian", At: at("2026-11-22T21:10:00")},
			{Addr: netip.MustParseAddr("fd00::20"), Entry: curl.Entry, Product: "curl", Version: curl.Version, OS: "debian", At: at("2026-11-22T21:10:00")},
		},
		Catalog: catB,
		Metrics: []Metric{{"flows_per_port", "443/tcp", 650}, {"flows_per_port", "80/tcp", 250}, {"flows_per_port", "53/udp", 10}},
	}
	return []Run{n20, n21, n22}
}

// create opens a new database in a temporary directory and writes runs.
func create(t testing.TB, runs ...Run) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fingerflow.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, r := range runs {
		if err := db.WriteRun(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	return db, path
}

// dump is every row of the database as text, run, listing and catalog
// ids replaced by what they stand for (night keys, digests, entry names),
// sorted: two databases holding the same nights dump the same.
func dump(t testing.TB, path string) string {
	t.Helper()
	db, err := sqlOpen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	for _, q := range []string{
		"PRAGMA application_id", "PRAGMA user_version",
		"SELECT r.night, r.first_flow, r.last_flow, r.started, r.finished, r.flows, r.files_read, r.files_skipped, r.hosts, r.downloads, r.named, r.fingerflow_version, r.model_path, r.model_hash, r.catalog_path, r.catalog_hash, r.schema_version, l.digest FROM runs r LEFT JOIN listings l ON l.id = r.listing",
		"SELECT r.night, h.addr, h.first_seen, h.last_seen, h.os, h.os_version, h.confidence, h.evidence, h.cluster, h.cluster_description, h.bytes_in, h.bytes_out, h.flows FROM hosts h JOIN runs r ON r.id = h.run",
		"SELECT r.night, f.addr, c.entry, f.fetched, f.chance, f.method FROM fetches f JOIN runs r ON r.id = f.run JOIN catalog c ON c.id = f.entry",
		"SELECT r.night, p.addr, c.entry, p.at FROM possible p JOIN runs r ON r.id = p.run JOIN catalog c ON c.id = p.entry",
		"SELECT addr, last_night, last_seen, known_night, os, os_version FROM host_latest",
		"SELECT entry, size, product, version, os, os_version, released FROM catalog",
		"SELECT l.digest, c.entry FROM listing_entries le JOIN listings l ON l.id = le.listing JOIN catalog c ON c.id = le.entry",
		"SELECT r.night, m.metric, m.key, m.value FROM metrics m JOIN runs r ON r.id = m.run",
		"SELECT entry, first_night, appeared FROM catalog_appeared",
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprint(vals...))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		slices.Sort(lines)
		fmt.Fprintf(&b, "%s\n  %s\n", q, strings.Join(lines, "\n  "))
	}
	return b.String()
}

// checkLatest checks that host_latest holds what its definition, a query
// over hosts, gives.
func checkLatest(t testing.TB, path string) {
	t.Helper()
	db, err := sqlOpen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	read := func(q string) []string {
		rows, err := conn.QueryContext(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var v [6]sql.NullString
			if err := rows.Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5]); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(v))
		}
		return out
	}
	for _, q := range []string{
		"CREATE TEMP TABLE affected (addr TEXT PRIMARY KEY) WITHOUT ROWID",
		"INSERT INTO temp.affected SELECT DISTINCT addr FROM hosts",
	} {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	want := read("SELECT * FROM (" + latestQuery + ") ORDER BY 1")
	got := read("SELECT addr, last_night, last_seen, known_night, os, os_version FROM host_latest ORDER BY addr")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("host_latest is not what hosts give (-hosts +host_latest):\n%s", diff)
	}
}

// answers is what the queries say about the scenario's hosts and entries.
func answers(t testing.TB, db *DB) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, a := range []string{"10.0.0.5", "10.0.0.6", "10.0.0.8", "10.0.0.10", "fd00::20"} {
		h, err := db.HostHistory(ctx, netip.MustParseAddr(a))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "history %s: %+v\n", a, h)
	}
	for _, os := range []string{"debian", "windows"} {
		m, err := db.MissingForOS(ctx, os, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "missing %s: %+v\n", os, m)
	}
	runs, err := db.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "runs: %+v\n", runs)
	m, err := db.Metrics(ctx, "flows_per_port", 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "metrics: %+v\n", m)
	return b.String()
}

// bigRun is a generated night of hosts hosts and fetches fetches over a
// catalog of entries entries (a third debian, a third windows, a third
// rhel), seeded so that the same arguments give the same night.
func bigRun(night string, hosts, fetches, entries int, seed uint64) Run {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := at(night + "T00:00:00")
	oses := []string{"debian", "windows", "rhel"}
	cat := make([]CatalogEntry, entries)
	for i := range cat {
		os := oses[i%3]
		cat[i] = CatalogEntry{
			Entry: fmt.Sprintf("%s-pkg%04d_1.%d_amd64", os, i/3, i%7), Size: uint64(1000 + i*37),
			Product: fmt.Sprintf("%s-pkg%04d", os, i/3), Version: fmt.Sprintf("1.%d", i%7), OS: os, OSVersion: "1",
		}
	}
	r := Run{Info: info(night, uint64(hosts)*2000), Catalog: cat}
	r.Info.Hosts = hosts
	for i := range hosts {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		r.Hosts = append(r.Hosts, Host{
			Addr: a, FirstSeen: d.Add(19*time.Hour + time.Duration(rng.IntN(3600))*time.Second),
			LastSeen: d.Add(30*time.Hour + time.Duration(rng.IntN(3600))*time.Second),
			OS:       oses[i%3], OSVersion: "1", Confidence: 0.5 + rng.Float64()/2,
			Evidence: fmt.Sprintf("fetched %d %s catalog files; TTL 64", rng.IntN(20), oses[i%3]),
			Cluster:  rng.IntN(5), ClusterDescription: "heavy downloaders",
			BytesIn: rng.Uint64N(1 << 30), BytesOut: rng.Uint64N(1 << 32), Flows: rng.Uint64N(100000),
		})
	}
	for i := range fetches {
		h := rng.IntN(hosts)
		e := cat[(h%3)+3*rng.IntN(entries/3)]
		r.Fetches = append(r.Fetches, Fetch{
			Addr: r.Hosts[h].Addr, Entry: e.Entry, Product: e.Product, Version: e.Version, OS: e.OS,
			Fetched: d.Add(19*time.Hour + time.Duration(i)*time.Millisecond*100),
			Chance:  math.Round(rng.Float64()*1000) / 1e6, Method: []Method{Single, Connection, OSSearch}[i%3],
		})
	}
	for p := range 50 {
		r.Metrics = append(r.Metrics, Metric{"flows_per_port", fmt.Sprintf("%d/tcp", 1000+p), float64(rng.IntN(100000))})
	}
	return r
}

// rawDB opens path with no checks, for making odd files in tests.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// files lists the names in dir with their contents.
func files(t testing.TB, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string)
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(data)
	}
	return m
}
