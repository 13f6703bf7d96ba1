package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/datasets/history"
)

// Catalog entries of the nights historyNights writes.
var (
	sslOld = history.CatalogEntry{Entry: "openssl_3.0.14-1~deb12u1_amd64.deb", Size: 2100000, Product: "openssl", Version: "3.0.14-1~deb12u1", OS: "debian", OSVersion: "12"}
	sslNew = history.CatalogEntry{Entry: "openssl_3.0.15-1~deb12u1_amd64.deb", Size: 2110000, Product: "openssl", Version: "3.0.15-1~deb12u1", OS: "debian", OSVersion: "12"}
	curl   = history.CatalogEntry{Entry: "curl_7.88.1-10+deb12u7_amd64.deb", Size: 315000, Product: "curl", Version: "7.88.1-10+deb12u7", OS: "debian", OSVersion: "12"}
	kb13   = history.CatalogEntry{Entry: "windows11.0-kb5046613-x64.msu", Size: 690000000, Product: "windows11-cumulative", Version: "KB5046613", OS: "windows", OSVersion: "11", Released: time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)}
	kb17   = history.CatalogEntry{Entry: "windows11.0-kb5046617-x64.msu", Size: 701000000, Product: "windows11-cumulative", Version: "KB5046617", OS: "windows", OSVersion: "11", Released: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}
)

// historyNights are three nights of a small site: debian hosts 10.0.0.5
// (which fetches every openssl) and 10.0.0.6 (which stops at 3.0.14),
// windows hosts 10.0.0.8 (no verdict on the last night) and 10.0.0.10
// (unknown at first), and fd00::20, a debian host seen on the last night
// only. openssl 3.0.15 is listed from the 22nd.
func historyNights() []history.Run {
	night := func(date string, catalog []history.CatalogEntry, hosts [][3]string, fetches [][3]string) history.Run {
		d, err := time.Parse(time.DateOnly, date)
		if err != nil {
			panic(err)
		}
		r := history.Run{
			Info: history.RunInfo{
				Night: date, FirstFlow: d.Add(19 * time.Hour), LastFlow: d.Add(31*time.Hour - time.Second),
				Started: d.Add(31*time.Hour + 5*time.Minute), Finished: d.Add(31*time.Hour + 7*time.Minute),
				Flows: 120000, FilesRead: 144, Hosts: len(hosts), Downloads: 40, Named: len(fetches), Version: version,
				Model:   history.Identity{Path: "lab.ffm", Hash: "sha256:9f2c"},
				Catalog: history.Identity{Path: "catalog.csv", Hash: "sha256:41d7"},
			},
			Catalog: catalog,
		}
		for i, h := range hosts {
			var conf float64
			ev := "catalog files of " + h[1] + "; TTL 64"
			if h[1] != "" {
				conf = 0.6 + 0.05*float64(i)
			} else {
				ev = "not identified: 1 download of catalog size (0 connections of several responses or of an unknown count, 1 lossy single transfer) fits catalog files among many other combinations; flow counters cannot tell which (see possibly fetched)"
			}
			r.Hosts = append(r.Hosts, history.Host{
				Addr: netip.MustParseAddr(h[0]), FirstSeen: d.Add(19*time.Hour + time.Duration(i+1)*time.Minute),
				LastSeen: d.Add(30*time.Hour + time.Duration(50+i)*time.Minute), OS: h[1], OSVersion: h[2],
				Confidence: conf, Evidence: ev, Cluster: i % 2,
				ClusterDescription: []string{"quiet clients", "heavy downloaders"}[i%2],
				BytesIn:            uint64(1000 * (i + 1)), BytesOut: uint64(2000000 * (i + 1)), Flows: uint64(40 * (i + 1)),
			})
		}
		for _, f := range fetches {
			e := map[string]history.CatalogEntry{"old": sslOld, "new": sslNew, "curl": curl, "kb13": kb13}[f[1]]
			at, err := time.Parse("2006-01-02 15:04", f[2])
			if err != nil {
				panic(err)
			}
			r.Fetches = append(r.Fetches, history.Fetch{Addr: netip.MustParseAddr(f[0]), Entry: e.Entry, Product: e.Product,
				Version: e.Version, OS: e.OS, Fetched: at, Chance: 0.002, Method: history.Single})
		}
		return r
	}
	older := []history.CatalogEntry{sslOld, curl, kb13, kb17}
	newer := []history.CatalogEntry{sslOld, sslNew, curl, kb13, kb17}
	// 10.0.0.12, whose OS no night names, has a lossy download on the
	// 22nd that may be openssl 3.0.15.
	n22 := night("2026-11-22", newer,
		[][3]string{{"10.0.0.5", "debian", "12"}, {"10.0.0.6", "debian", "12"}, {"10.0.0.8", "", ""}, {"10.0.0.10", "windows", "11"}, {"fd00::20", "debian", "12"}, {"10.0.0.12", "", ""}},
		[][3]string{{"10.0.0.5", "new", "2026-11-22 20:05"}})
	n22.Possible = []history.Possible{{Addr: netip.MustParseAddr("10.0.0.12"), Entry: sslNew.Entry, Product: sslNew.Product,
		Version: sslNew.Version, OS: sslNew.OS, At: time.Date(2026, 11, 22, 21, 40, 0, 0, time.UTC)}}
	return []history.Run{
		night("2026-11-20", older,
			[][3]string{{"10.0.0.5", "debian", "12"}, {"10.0.0.6", "debian", "12"}, {"10.0.0.8", "windows", "11"}, {"10.0.0.10", "", ""}},
			[][3]string{{"10.0.0.5", "old", "2026-11-20 20:00"}, {"10.0.0.5", "curl", "2026-11-20 20:01"}, {"10.0.0.6", "old", "2026-11-20 21:30"}}),
		night("2026-11-21", older,
			[][3]string{{"10.0.0.5", "debian", "12"}, {"10.0.0.6", "debian", "12"}, {"10.0.0.8", "windows", "11"}, {"10.0.0.10", "windows", "11"}},
			[][3]string{{"10.0.0.10", "kb13", "2026-11-21 22:15"}}),
		n22,
	}
}

// historyDir makes a temporary directory holding fingerflow.db with
// historyNights, and makes it the current directory.
func historyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	db, err := history.Open(context.Background(), "fingerflow.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, r := range historyNights() {
		if err := db.WriteRun(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestGoldenHistory pins what history prints of a host, as a table and
// as JSON, from the default database in the current directory; a host no
// night saw is an answer of nothing (exit status 1).
func TestGoldenHistory(t *testing.T) {
	golden, err := filepath.Abs(filepath.Join("testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	historyDir(t)
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"history-10.0.0.10.txt", []string{"history", "10.0.0.10"}, exitOK},
		{"history-10.0.0.6.json", []string{"history", "--json", "10.0.0.6"}, exitOK},
		{"history-unseen.txt", []string{"history", "::ffff:192.0.2.7"}, exitNotFound},
		{"history-unseen.json", []string{"history", "--json", "192.0.2.7"}, exitNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := run(t, context.Background(), c.args...)
			if code != c.code {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			checkGoldenAt(t, golden, c.name, stdout+"--- stderr\n"+stderr)
		})
	}
}

// checkGoldenAt is checkGolden for tests that change the current
// directory: dir is the absolute path of testdata/golden.
func checkGoldenAt(t *testing.T, dir, name, got string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/fingerflow -run %s -update)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// TestHistoryRefusals checks the exit status and the one-line message of
// history and missing on a database they must not use, and that the file
// is left as it was (and a missing one is not created).
func TestHistoryRefusals(t *testing.T) {
	golden, err := filepath.Abs(filepath.Join("testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	dir := historyDir(t)
	mustExec := func(path, q string) {
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	mustExec("foreign.db", "CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
	mustExec("other-app.db", "PRAGMA application_id = 1234; CREATE TABLE t (x)")
	data, err := os.ReadFile("fingerflow.db")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile("newer.db", data, 0o644)
	mustExec("newer.db", "PRAGMA user_version = 7")
	os.WriteFile("notes.db", []byte("hosts to patch: 10.0.0.6\n"), 0o644)

	before := snapshot(t, dir)
	var out strings.Builder
	for _, args := range [][]string{
		{"history", "--db", "absent.db", "10.0.0.6"},
		{"missing", "--db", "absent.db", "--os", "debian"},
		{"history", "--db", "notes.db", "10.0.0.6"},
		{"history", "--db", "foreign.db", "10.0.0.6"},
		{"missing", "--db", "other-app.db", "--update", sslNew.Entry},
		{"history", "--db", "newer.db", "10.0.0.6"},
		{"missing", "--db", "newer.db", "--os", "debian", "--json"},
	} {
		stdout, stderr, code := run(t, context.Background(), args...)
		fmt.Fprintf(&out, "$ fingerflow %s\nexit %d\n%s%s\n", strings.Join(args, " "), code, stdout, stderr)
		if code != exitError {
			t.Errorf("%v: exit %d, want %d", args, code, exitError)
		}
		if stdout != "" {
			t.Errorf("%v: printed %q", args, stdout)
		}
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("the directory changed (-before +after):\n%s", diff)
	}
	checkGoldenAt(t, golden, "history-refusals.txt", out.String())
}

// snapshot is the name and content of every file in dir.
func snapshot(t *testing.T, dir string) map[string]string {
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

// TestHistoryUsage checks that history's usage errors exit with status 2.
func TestHistoryUsage(t *testing.T) {
	historyDir(t)
	for _, args := range [][]string{
		{"history"},
		{"history", "10.0.0.5", "10.0.0.6"},
		{"history", "host-5.example.org"},
		{"history", "--since", "2026-11-20", "10.0.0.5"},
	} {
		_, stderr, code := run(t, context.Background(), args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr)
		}
	}
}

// TestHistoryMigrates reads a database of the first release (schema
// version 1): it is migrated and answered from.
func TestHistoryMigrates(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "datasets", "history", "testdata", "v1.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if err := os.WriteFile("fingerflow.db", data, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, context.Background(), "missing", "--update", sslNew.Entry)
	if code != exitOK || !strings.Contains(stdout, "10.0.0.6") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 10.0.0.6 missing it", code, stdout, stderr)
	}
	db, err := sql.Open("sqlite", "file:fingerflow.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != history.SchemaVersion {
		t.Errorf("schema version %d, %v; want %d", v, err, history.SchemaVersion)
	}
}
