package history

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/datasets/internal/testuser"
)

var updateFixture = flag.Bool("update-fixture", false, "rewrite testdata/v1.db from testdata/v1.sql")

func TestOpenCreates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fingerflow.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	names := files(t, dir)
	if len(names) != 1 || names["fingerflow.db"] == "" {
		t.Errorf("directory holds %d files, want only fingerflow.db: %v", len(names), keys(names))
	}
	if v, err := checkHeader(path); err != nil || v != SchemaVersion {
		t.Errorf("header: version %d, %v; want %d", v, err, SchemaVersion)
	}
	// Opening again changes nothing.
	before := names["fingerflow.db"]
	db, err = Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if files(t, dir)["fingerflow.db"] != before {
		t.Error("opening an up-to-date database changed it")
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestOpenExistingMissing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fingerflow.db")
	_, err := OpenExisting(context.Background(), path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v, want one naming %s and wrapping fs.ErrNotExist", err, path)
	}
	if n := len(files(t, dir)); n != 0 {
		t.Errorf("OpenExisting of a missing file left %d files", n)
	}
}

// TestRefused checks that what is not a fingerflow history database of a
// known version is refused with one line naming the file, by Open and
// OpenExisting alike, and left byte for byte as it was, with no file
// created beside it.
func TestRefused(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		make func(t *testing.T, path string)
		want error
		says string
	}{
		{"text", func(t *testing.T, path string) {
			os.WriteFile(path, []byte("night,host,os\n2026-11-22,10.0.0.5,debian\n"), 0o644)
		}, ErrNotHistory, "not an SQLite file"},
		{"short", func(t *testing.T, path string) {
			os.WriteFile(path, []byte("SQLite format 3\x00"), 0o644)
		}, ErrNotHistory, "not an SQLite file"},
		{"empty", func(t *testing.T, path string) {
			os.WriteFile(path, nil, 0o644)
		}, ErrNotHistory, "empty file"},
		{"foreign", func(t *testing.T, path string) {
			db := rawDB(t, path)
			if _, err := db.Exec("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT); INSERT INTO moz_places (url) VALUES ('https://example.org/')"); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}, ErrNotHistory, "an SQLite database without fingerflow's application_id"},
		{"other-application-id", func(t *testing.T, path string) {
			db := rawDB(t, path)
			if _, err := db.Exec("PRAGMA application_id = 1; PRAGMA user_version = 2; CREATE TABLE runs (id INTEGER)"); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}, ErrNotHistory, "an SQLite database of another application (application_id 0x1)"},
		{"newer", func(t *testing.T, path string) {
			_, p := create(t, scenario()...)
			db := rawDB(t, p)
			if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion+1)); err != nil {
				t.Fatal(err)
			}
			db.Close()
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(path, data, 0o644)
		}, ErrNewerSchema, fmt.Sprintf("written by a newer fingerflow: schema version %d, this one knows up to %d; left untouched, use a newer fingerflow", SchemaVersion+1, SchemaVersion)},
	} {
		for _, opener := range []struct {
			name string
			open func(context.Context, string) (*DB, error)
		}{{"Open", Open}, {"OpenExisting", OpenExisting}} {
			t.Run(c.name+"/"+opener.name, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "history.db")
				c.make(t, path)
				before := files(t, dir)
				db, err := opener.open(ctx, path)
				if err == nil {
					db.Close()
					t.Fatal("opened")
				}
				if !errors.Is(err, c.want) {
					t.Errorf("error %v, want %v", err, c.want)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, c.says) || strings.Contains(msg, "\n") {
					t.Errorf("message %q: want one line starting with the path and saying %q", msg, c.says)
				}
				if diff := cmp.Diff(before, files(t, dir)); diff != "" {
					t.Errorf("directory changed (-before +after):\n%s", diff)
				}
			})
		}
	}
}

// TestMigrateV1 migrates the committed version 1 database (the first
// release's schema with three nights) and checks that it answers as
// version 1 did, with the same tables as a new database, and that a second
// Open changes nothing.
func TestMigrateV1(t *testing.T) {
	ctx := context.Background()
	fixture := filepath.Join("testdata", "v1.db")
	if *updateFixture {
		ddl, err := os.ReadFile(filepath.Join("testdata", "v1.sql"))
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(fixture)
		db := rawDB(t, fixture)
		if _, err := db.Exec(string(ddl)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("VACUUM"); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "fingerflow.db")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err := checkHeader(path); err != nil || v != 1 {
		t.Fatalf("fixture: version %d, %v; want 1", v, err)
	}
	db, err := OpenExisting(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := checkHeader(path); err != nil || v != SchemaVersion {
		t.Errorf("after Open: version %d, %v; want %d", v, err, SchemaVersion)
	}

	// The same tables, columns and indexes as a new database.
	_, fresh := create(t)
	if diff := cmp.Diff(schemaOf(t, fresh), schemaOf(t, path)); diff != "" {
		t.Errorf("migrated schema (-new +migrated):\n%s", diff)
	}

	// Version 1 answers, kept.
	hist, err := db.HostHistory(ctx, netip.MustParseAddr("10.0.0.5"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range hist {
		for _, f := range n.Fetches {
			got = append(got, n.Night+" "+f.Entry+" "+string(f.Method)+" "+chanceText(f.Chance))
		}
	}
	checkLatest(t, path)
	want := []string{
		"2026-11-20 openssl_3.0.14-1~deb12u1_amd64.deb single not estimated",
		"2026-11-20 curl_7.88.1-10+deb12u7_amd64.deb single not estimated",
		"2026-11-21 openssl_3.0.15-1~deb12u1_amd64.deb single not estimated",
		"2026-11-22 openssl_3.0.15-1~deb12u1_amd64.deb single not estimated",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("10.0.0.5's fetches (-want +got):\n%s", diff)
	}
	m, err := db.Missing(ctx, "openssl_3.0.15-1~deb12u1_amd64.deb")
	if err != nil {
		t.Fatal(err)
	}
	if m.FirstNight != "2026-11-21" || m.Appeared != at("2026-11-21T19:00:00") {
		t.Errorf("openssl 3.0.15 first listed %s, appeared %v; version 1 said 2026-11-21, 19:00", m.FirstNight, m.Appeared)
	}
	if len(m.Hosts) != 1 || m.Hosts[0].Addr != netip.MustParseAddr("10.0.0.6") || len(m.Hosts[0].Others) != 1 ||
		m.Hosts[0].Others[0].Entry != "openssl_3.0.14-1~deb12u1_amd64.deb" {
		t.Errorf("missing openssl 3.0.15: %+v, want 10.0.0.6 having fetched 3.0.14", m.Hosts)
	}
	// An entry fetched but never listed keeps its description, and is
	// not an update anything can miss.
	six, err := db.HostHistory(ctx, netip.MustParseAddr("10.0.0.6"))
	if err != nil {
		t.Fatal(err)
	}
	if n := six[len(six)-1]; len(n.Fetches) != 1 || n.Fetches[0].Product != "glibc" || n.Fetches[0].Version != "2.36-9+deb12u9" {
		t.Errorf("10.0.0.6 on %s fetched %+v, want glibc 2.36-9+deb12u9", n.Night, n.Fetches)
	}
	if _, err := db.Missing(ctx, "libc6_2.36-9+deb12u9_amd64.deb"); !errors.Is(err, ErrUnknownEntry) {
		t.Errorf("an entry never listed: %v, want ErrUnknownEntry", err)
	}
	kb, err := db.Missing(ctx, "KB5046613.msu")
	if err != nil {
		t.Fatal(err)
	}
	if kb.FirstNight != "2026-11-21" || kb.Appeared != at("2026-11-12T00:00:00") || len(kb.Hosts) != 0 {
		t.Errorf("KB5046613: %+v", kb)
	}

	// The migrated database takes new nights, and opening it again
	// changes nothing.
	if err := db.WriteRun(ctx, scenario()[2]); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before := dump(t, path)
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if after := dump(t, path); after != before {
		t.Errorf("second Open changed the database:\n%s", cmp.Diff(before, after))
	}
}

// chanceText is a chance as the migration test prints it.
func chanceText(chance float64) string {
	if chance != chance {
		return "not estimated"
	}
	return "estimated"
}

// TestMigrationAtomic makes the migration fail half-way (a table it
// creates exists already) and checks that the file is left as it was.
func TestMigrationAtomic(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "v1.db"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "fingerflow.db")
	os.WriteFile(path, data, 0o644)
	raw := rawDB(t, path)
	if _, err := raw.Exec("CREATE TABLE metrics (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	before := files(t, dir)
	if db, err := Open(context.Background(), path); err == nil {
		db.Close()
		t.Fatal("opened")
	} else if !strings.Contains(err.Error(), "migrating schema version 1 to 2") {
		t.Errorf("error %v", err)
	}
	if diff := cmp.Diff(before, files(t, dir)); diff != "" {
		t.Errorf("a failed migration changed the directory (-before +after):\n%s", diff)
	}
}

// schemaOf is every table's and view's columns and every index's columns.
func schemaOf(t *testing.T, path string) []string {
	db := rawDB(t, path)
	rows, err := db.Query("SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
	if err != nil {
		t.Fatal(err)
	}
	type obj struct{ typ, name string }
	var objs []obj
	for rows.Next() {
		var o obj
		rows.Scan(&o.typ, &o.name)
		objs = append(objs, o)
	}
	rows.Close()
	var out []string
	for _, o := range objs {
		pragmas := []string{"table_xinfo", "foreign_key_list"}
		if o.typ == "index" {
			pragmas = []string{"index_xinfo"}
		}
		for _, pragma := range pragmas {
			cols, err := db.Query("SELECT * FROM pragma_" + pragma + "('" + o.name + "')")
			if err != nil {
				t.Fatal(err)
			}
			names, _ := cols.Columns()
			for cols.Next() {
				vals := make([]any, len(names))
				ptrs := make([]any, len(names))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				cols.Scan(ptrs...)
				out = append(out, fmt.Sprint(o.typ, " ", o.name, " ", pragma, " ", vals))
			}
			cols.Close()
		}
	}
	return out
}

// TestOpenOddPath opens databases whose names hold characters that mean
// something in an SQLite URI.
func TestOpenOddPath(t *testing.T) {
	for _, name := range []string{"a?mode=ro.db", "b#1.db", "c%20d.db", "e f.db"} {
		path := filepath.Join(t.TempDir(), name)
		db, err := Open(context.Background(), path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := db.WriteRun(context.Background(), scenario()[0]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		db.Close()
		if v, err := checkHeader(path); err != nil || v != SchemaVersion {
			t.Errorf("%s: version %d, %v", name, v, err)
		}
	}
}

// TestConcurrentCreate has several handles create the same new database
// at once: one creates it, the others open it.
func TestConcurrentCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fingerflow.db")
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := Open(context.Background(), path)
			if err == nil {
				err = db.WriteRun(context.Background(), scenario()[0])
				db.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if names := keys(files(t, dir)); len(names) != 1 {
		t.Errorf("directory holds %v, want only fingerflow.db", names)
	}
}

// TestConcurrentMigration has several handles open a version 1 database
// at once: one migrates it, the others wait and find it migrated.
func TestConcurrentMigration(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "v1.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fingerflow.db")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := OpenExisting(context.Background(), path)
			if err == nil {
				_, err = db.Missing(context.Background(), "openssl_3.0.15-1~deb12u1_amd64.deb")
				db.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	checkLatest(t, path)
}

// TestOpenUnwritable: a database that cannot be created or written is
// refused when opened, before a night's work, with a message that names
// the database and the directory or file at fault, never the temporary
// file a new database is built in. The permission cases need a user whom
// permissions stop: as root they run again as nobody in a child process.
func TestOpenUnwritable(t *testing.T) {
	readOnly := func(t *testing.T, path string, mode os.FileMode) {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		// Give the temporary directory back to its cleanup.
		t.Cleanup(func() { os.Chmod(path, 0o755) })
	}
	cases := []struct {
		name        string
		permissions bool // needs a user whom file permissions stop
		// setup prepares a temporary directory and returns the database
		// path to open and the message Open must fail with.
		setup func(t *testing.T, dir string) (path, want string)
		is    error
	}{
		{"no directory", false, func(t *testing.T, dir string) (string, string) {
			sub := filepath.Join(dir, "nosuch")
			path := filepath.Join(sub, "fingerflow.db")
			return path, path + ": cannot create the history database: directory " + sub + ": no such file or directory"
		}, fs.ErrNotExist},
		{"directory is a file", false, func(t *testing.T, dir string) (string, string) {
			sub := filepath.Join(dir, "night")
			if err := os.WriteFile(sub, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(sub, "fingerflow.db")
			return path, path + ": cannot create the history database: directory " + sub + ": not a directory"
		}, nil},
		{"read-only directory", true, func(t *testing.T, dir string) (string, string) {
			sub := filepath.Join(dir, "ro2")
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			readOnly(t, sub, 0o555)
			path := filepath.Join(sub, "fingerflow.db")
			return path, path + ": cannot create the history database: directory " + sub + ": permission denied"
		}, fs.ErrPermission},
		{"read-only directory, database exists", true, func(t *testing.T, dir string) (string, string) {
			sub := filepath.Join(dir, "ro2")
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			db, path := create(t, scenario()...)
			db.Close()
			path2 := filepath.Join(sub, "fingerflow.db")
			if err := os.Rename(path, path2); err != nil {
				t.Fatal(err)
			}
			readOnly(t, sub, 0o555)
			return path2, path2 + ": the history database cannot be written: directory " + sub +
				" (where SQLite keeps the database's journal): permission denied"
		}, fs.ErrPermission},
		{"read-only database", true, func(t *testing.T, dir string) (string, string) {
			db, path := create(t, scenario()...)
			db.Close()
			path2 := filepath.Join(dir, "fingerflow.db")
			if err := os.Rename(path, path2); err != nil {
				t.Fatal(err)
			}
			readOnly(t, path2, 0o444)
			return path2, path2 + ": the history database cannot be written: permission denied"
		}, fs.ErrPermission},
	}
	unprivileged := testuser.Unprivileged(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.permissions && !unprivileged {
				return // run as nobody above
			}
			dir := t.TempDir()
			path, want := c.setup(t, dir)
			listing := func() map[string]string {
				if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
					return nil
				}
				return files(t, filepath.Dir(path))
			}
			before := listing()
			db, err := Open(context.Background(), path)
			if err == nil {
				db.Close()
				t.Fatalf("opened %s", path)
			}
			if err.Error() != want {
				t.Errorf("error\n%s\nwant\n%s", err, want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			if after := listing(); !cmp.Equal(before, after) {
				t.Errorf("the directory changed (-before +after):\n%s", cmp.Diff(before, after))
			}
			// A reader finds no database where none can be, and still
			// answers from a database it cannot write.
			if before == nil {
				if _, err := OpenExisting(context.Background(), path); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("reading: %v, want no such history database", err)
				}
			}
			if before[filepath.Base(path)] != "" {
				db, err := OpenExisting(context.Background(), path)
				if err != nil {
					t.Fatalf("reading: %v", err)
				}
				defer db.Close()
				if _, err := db.Runs(context.Background()); err != nil {
					t.Errorf("reading: %v", err)
				}
			}
		})
	}
}
