// Package history is the database nightly runs append to, and the
// questions it answers across nights: what is known of a host over time
// (HostHistory), which hosts have not fetched an update since it appeared
// (Missing, MissingForOS), what changed since an earlier night
// (PreviousRun, Changes) and the baselines earlier nights measured
// (Metrics).
//
// The database is one SQLite file (modernc.org/sqlite, no cgo), marked as
// fingerflow's by PRAGMA application_id and versioned by PRAGMA
// user_version. Its tables, in full with their columns in schema.sql:
//
//	runs             one row per night: its key, flow and wall-clock times, counts,
//	                 fingerflow version, model and catalog identities (path, hash)
//	hosts            per night and internal host: first/last seen, OS family and
//	                 version, confidence, evidence in words, cluster, byte and flow counts
//	fetches          per night: host, catalog entry, when, chance-fit estimate,
//	                 how it was recognised
//	catalog          every entry listed or fetched: size, product, version, OS,
//	                 OS version, release date
//	listings         what each distinct catalog listed (with listing_entries)
//	metrics          per night (metric, key, value) baselines
//	host_latest      per address, its latest night, last seen and latest OS verdict:
//	                 what a query over hosts gives, kept so as not to read every night
//
// What the package promises:
//   - WriteRun writes a night in one transaction, replacing the night if it
//     was written before: re-running a night counts nothing twice, and
//     first-seen dates, fetch counts and first-listed nights are always
//     queries over the nights, never running totals.
//   - A run killed at any point leaves the database as it was before.
//   - Open refuses a file that is not SQLite, is another application's, or
//     has a newer schema, before writing anything, so a refused file is left
//     byte for byte as it was. An older schema is migrated in one
//     transaction.
//   - Two processes sharing a database wait for each other (busy timeout)
//     instead of failing.
//
// The package knows nothing of models or reports: it stores plain records
// that the command layer fills from model results.
package history

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SchemaVersion is the schema version this package writes (PRAGMA
// user_version). Older versions (1, the first release, and 2) are
// migrated.
const SchemaVersion = 3

// ApplicationID is the PRAGMA application_id of a fingerflow history
// database: "FFLW".
const ApplicationID = 0x46464C57

// BusyTimeout is how long a database call waits for another process's
// transaction before giving up.
const BusyTimeout = 60 * time.Second

// Sentinel errors callers test with errors.Is.
var (
	// ErrNotHistory: the file is not a fingerflow history database (not
	// SQLite, or another application's SQLite database).
	ErrNotHistory = errors.New("not a fingerflow history database")
	// ErrNewerSchema: the database was written by a newer fingerflow.
	ErrNewerSchema = errors.New("written by a newer fingerflow")
	// ErrUnknownEntry: no night's catalog listed the entry.
	ErrUnknownEntry = errors.New("not listed in the catalog of any night")
	// ErrNoRun: no night with that key, or none before it.
	ErrNoRun = errors.New("no such night")
)

//go:embed schema.sql
var schemaSQL string

// migrations[v] turns a version v database into version v+1.
//
//go:embed migrate_2.sql
var migrate2SQL string

//go:embed migrate_3.sql
var migrate3SQL string

var migrations = map[int]string{1: migrate2SQL, 2: migrate3SQL}

// DB is an open history database. Its methods may be called from several
// goroutines; they take turns on one connection.
type DB struct {
	path string
	db   *sql.DB

	// hook, when set, is called at named points inside write transactions
	// ("deleted", "hosts", "fetches", "commit", "migrated"); the tests use
	// it to kill a writer in the middle of a transaction.
	hook func(point string)
}

// Open opens the history database at path, creating it if it does not
// exist and migrating it if an older fingerflow wrote it. A file that is
// not a fingerflow history database, or has a newer schema, is refused
// (ErrNotHistory, ErrNewerSchema) without being written to.
func Open(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, true, nil)
}

// OpenExisting is Open for a database that must exist already: a missing
// file is an error wrapping fs.ErrNotExist and is not created.
func OpenExisting(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, false, nil)
}

// Path is the file the database was opened from.
func (d *DB) Path() string { return d.path }

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

func open(ctx context.Context, path string, create bool, hook func(string)) (*DB, error) {
	version, err := checkHeader(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		if !create {
			if errors.Is(err, syscall.ENOTDIR) {
				return nil, fmt.Errorf("%s: no such history database (%s is not a directory): %w", path, filepath.Dir(path), fs.ErrNotExist)
			}
			return nil, fmt.Errorf("%s: no such history database: %w", path, fs.ErrNotExist)
		}
		if err := createDB(ctx, path); err != nil {
			return nil, err
		}
		version, err = checkHeader(path)
	} else if err == nil && create {
		err = checkWritable(path)
	}
	if err != nil {
		return nil, err
	}
	d := &DB{path: path, hook: hook}
	if d.db, err = sqlOpen(path); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// The header passed; SQLite has the last word (it may just have rolled
	// back an interrupted write of our own).
	if version, err = d.checkVersion(ctx, d.db); err == nil && version < SchemaVersion {
		err = d.migrate(ctx)
	}
	if err != nil {
		d.db.Close()
		return nil, err
	}
	return d, nil
}

// sqlOpen opens an existing SQLite file for reading and writing (never
// creating it) on one connection that waits for other processes' locks.
func sqlOpen(path string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// An SQLite URI: '?', '#' and '%' in the path are escaped.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs))
	dsn := fmt.Sprintf("file:%s?mode=rw&_txlock=immediate&_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=cache_size(-65536)",
		esc, BusyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// checkHeader reads the 100-byte SQLite header of path without opening it
// as a database, and refuses what is not a fingerflow history database of a
// version this code knows. It returns the schema version the header gives.
func checkHeader(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var h [100]byte
	n, err := io.ReadFull(f, h[:])
	switch {
	case n == 0 && err == io.EOF:
		return 0, fmt.Errorf("%s: %w: empty file; left untouched, remove it or choose another database file", path, ErrNotHistory)
	case err == io.ErrUnexpectedEOF || err == nil && string(h[:16]) != sqliteMagic:
		return 0, fmt.Errorf("%s: %w: not an SQLite file; left untouched, choose another database file", path, ErrNotHistory)
	case err != nil:
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return versionOf(path, binary.BigEndian.Uint32(h[68:72]), int32(binary.BigEndian.Uint32(h[60:64])))
}

// versionOf refuses what application id app and schema version v say is
// not a fingerflow history database this code can use.
func versionOf(path string, app uint32, v int32) (int, error) {
	switch {
	case app == 0:
		return 0, fmt.Errorf("%s: %w: an SQLite database without fingerflow's application_id; left untouched, choose another database file",
			path, ErrNotHistory)
	case app != ApplicationID:
		return 0, fmt.Errorf("%s: %w: an SQLite database of another application (application_id %#x); left untouched, choose another database file",
			path, ErrNotHistory, app)
	case v > SchemaVersion:
		return 0, fmt.Errorf("%s: %w: schema version %d, this one knows up to %d; left untouched, use a newer fingerflow",
			path, ErrNewerSchema, v, SchemaVersion)
	case v < 1:
		return 0, fmt.Errorf("%s: %w: schema version %d; left untouched, choose another database file", path, ErrNotHistory, v)
	}
	return int(v), nil
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// checkVersion reads the application id and schema version through SQLite
// and refuses what checkHeader refuses.
func (d *DB) checkVersion(ctx context.Context, q querier) (int, error) {
	var app int64
	var v int32
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&app); err != nil {
		return 0, fmt.Errorf("%s: %w", d.path, err)
	}
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("%s: %w", d.path, err)
	}
	return versionOf(d.path, uint32(app), v)
}

// cause is the system's reason behind a file operation's error, without
// the file names it carries: the temporary names of createDB and
// checkWritable mean nothing to the person who reads the error.
func cause(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}

// checkWritable checks, before anything is written, that an existing
// database at path can be written: the file itself, and its directory,
// where SQLite creates the journal of every write transaction (a probe
// file is created there and removed).
func checkWritable(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("%s: the history database cannot be written: %w", path, cause(err))
	}
	f.Close()
	dir := filepath.Dir(path)
	probe, err := os.CreateTemp(dir, "."+filepath.Base(path)+".probe-*")
	if err != nil {
		return fmt.Errorf("%s: the history database cannot be written: directory %s (where SQLite keeps the database's journal): %w",
			path, dir, cause(err))
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// createDB creates a new database at path atomically: it is built under a
// temporary name beside path and linked into place only when complete, so
// a creation that fails or is killed leaves no half-made file at path. If
// another process created path meanwhile, its database is kept. Its
// errors name path and its directory, not the temporary file.
func createDB(ctx context.Context, path string) (err error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	f, err := os.CreateTemp(dir, "."+base+".new-*")
	if err != nil {
		return fmt.Errorf("%s: cannot create the history database: directory %s: %w", path, dir, cause(err))
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	db, err := sqlOpen(tmp)
	if err != nil {
		return fmt.Errorf("%s: cannot create the history database: %w", path, cause(err))
	}
	defer db.Close()
	ddl := fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d;\n", ApplicationID, SchemaVersion) + schemaSQL
	if err := inTx(ctx, db, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, ddl)
		return err
	}); err != nil {
		return fmt.Errorf("%s: creating the schema: %w", path, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("%s: cannot create the history database: %w", path, cause(err))
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		// A file system without hard links: rename instead.
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("%s: cannot create the history database: %w", path, cause(err))
		}
	}
	return nil
}

// migrate brings an older database to SchemaVersion in one transaction,
// re-reading the version inside it: another process may have migrated it
// meanwhile.
func (d *DB) migrate(ctx context.Context) error {
	return inTx(ctx, d.db, func(tx *sql.Tx) error {
		v, err := d.checkVersion(ctx, tx)
		if err != nil || v == SchemaVersion {
			return err // refused, or migrated by another process meanwhile
		}
		for ; v < SchemaVersion; v++ {
			step, ok := migrations[v]
			if !ok {
				return fmt.Errorf("%s: no migration from schema version %d", d.path, v)
			}
			if _, err := tx.ExecContext(ctx, step); err != nil {
				return fmt.Errorf("%s: migrating schema version %d to %d: %w", d.path, v, v+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion)); err != nil {
			return fmt.Errorf("%s: %w", d.path, err)
		}
		// Foreign keys are not checked by ALTER TABLE: check them now.
		if err := foreignKeyCheck(ctx, tx); err != nil {
			return fmt.Errorf("%s: migrating: %w", d.path, err)
		}
		d.at("migrated")
		return nil
	})
}

func foreignKeyCheck(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		var table string
		var rowid sql.NullInt64
		var parent string
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return err
		}
		return fmt.Errorf("table %s refers to a missing row of %s", table, parent)
	}
	return rows.Err()
}

// at calls the test hook, if any.
func (d *DB) at(point string) {
	if d.hook != nil {
		d.hook(point)
	}
}

// inTx runs f in a write transaction (BEGIN IMMEDIATE: it waits for other
// writers first) and commits it if f returns nil.
func inTx(ctx context.Context, db *sql.DB, f func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		if cerr := ctx.Err(); cerr != nil {
			// A cancelled context rolls the transaction back and closes
			// its statements underneath f, which then fails with
			// "statement is closed": the cancellation is the cause.
			return cerr
		}
		return err
	}
	return tx.Commit()
}

// timeLayout is how times are kept: UTC, milliseconds, sortable as text.
const timeLayout = "2006-01-02T15:04:05.000Z"

// fmtTime is t as stored; the zero time is NULL.
func fmtTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// parseTime reads a stored time; NULL is the zero time.
func parseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	t, err := time.Parse(timeLayout, s.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s.String, err)
	}
	return t, nil
}
