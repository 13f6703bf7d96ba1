package history

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Run is one night as a nightly run saw it: what WriteRun stores.
type Run struct {
	Info    RunInfo
	Hosts   []Host
	Fetches []Fetch // every fetch's host is in Hosts
	// Possible are the catalog files hosts may have fetched without their
	// traffic showing it (neither fetched nor missing); every host is in
	// Hosts.
	Possible []Possible
	// Catalog is what the run's catalog listed. It decides when an entry
	// appeared (the first night listing it) unless the entry has a release
	// date. Nil when not known: the night then lists nothing.
	Catalog []CatalogEntry
	Metrics []Metric
}

// RunInfo is a night's summary.
type RunInfo struct {
	// Night is the night's key: writing a night with the same key
	// replaces it. Keys must sort in time order; "" is NightKey(FirstFlow,
	// LastFlow).
	Night string

	FirstFlow, LastFlow time.Time // earliest flow start, latest flow end
	Started, Finished   time.Time // wall clock of the run

	Flows        uint64
	FilesRead    int
	FilesSkipped int
	Hosts        int // hosts seen, as the run counts them
	Downloads    int // downloads found
	Named        int // downloads named as a catalog entry

	Version string   // fingerflow version
	Model   Identity // the model file used
	Catalog Identity // the catalog file used

	// SchemaVersion is the schema version of the code that wrote the
	// night; WriteRun sets it.
	SchemaVersion int
}

// Identity names a file a run used: its path and a hash of its content
// ("sha256:..." by convention).
type Identity struct {
	Path string
	Hash string
}

// Host is what a night says of one internal host.
type Host struct {
	Addr                netip.Addr
	FirstSeen, LastSeen time.Time // its first and last flow that night
	OS                  string    // likely OS family, lower case; "" unknown
	OSVersion           string    // "" when the evidence does not say
	Confidence          float64   // 0..1
	Evidence            string    // the evidence behind the verdict, in words
	Cluster             int       // host cluster number; -1 not clustered
	ClusterDescription  string
	BytesIn, BytesOut   uint64
	Flows               uint64
}

// Method is how a fetch was recognised.
type Method string

// The ways a fetch is recognised.
const (
	// Single: one download whose size fits the catalog file.
	Single Method = "single"
	// Connection: one of several files fetched over one connection.
	Connection Method = "connection"
	// OSSearch: found by searching among the files of the host's likely OS.
	OSSearch Method = "os-search"
)

// Fetch is one catalog file a host fetched. Product, Version and OS are
// the entry's as the catalog describes it; WriteRun uses them only for an
// entry that no night's catalog listed.
type Fetch struct {
	Addr    netip.Addr
	Entry   string // catalog entry (file name)
	Product string
	Version string
	OS      string // the entry's OS family, lower case
	Fetched time.Time
	// Chance is the estimated chance, 0..1, that the download fits the
	// entry by coincidence; NaN when not estimated (schema version 1 did
	// not).
	Chance float64
	Method Method // "" is Single
}

// Possible is a catalog file a host may have fetched: a download or
// connection of its that fits the file among other combinations. Product,
// Version and OS are as for Fetch.
type Possible struct {
	Addr    netip.Addr
	Entry   string
	Product string
	Version string
	OS      string
	At      time.Time // when the earliest download that could hold it started
}

// CatalogEntry is one file a night's catalog listed.
type CatalogEntry struct {
	Entry     string // file name, unique in a catalog
	Size      uint64
	Product   string
	Version   string
	OS        string // OS family, lower case; "" when the catalog gives none
	OSVersion string
	Released  time.Time // zero when the catalog gives no date
}

// Metric is one baseline value of a night, such as flows on one service
// port (Metric "flows_per_port", Key "443/tcp").
type Metric struct {
	Metric string
	Key    string
	Value  float64
}

// ErrNoFlowTimes refuses a night without the times of its first and last
// flow: a night key is never derived from zero times.
var ErrNoFlowTimes = errors.New("no flow times (a run that read no flow is not a night)")

// NightKey is the key of a night whose flows span first to last: the UTC
// date ("2026-11-22"), or the first and last dates joined by a slash
// ("2026-11-22/2026-11-23") when they differ.
func NightKey(first, last time.Time) string {
	a, b := first.UTC().Format(time.DateOnly), last.UTC().Format(time.DateOnly)
	if a == b || last.IsZero() {
		return a
	}
	return a + "/" + b
}

// normOS is how OS families are kept: trimmed, lower case, "" for unknown.
func normOS(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "unknown" {
		return ""
	}
	return s
}

// checked validates r and returns it normalised: addresses unmapped, OS
// families lower case, the night key derived when empty, hosts, fetches,
// catalog and metrics sorted (so that what is stored does not depend on
// the order given).
func checked(r Run) (Run, error) {
	// A night is the flows it holds: one without flow times (a run that
	// read nothing) is never kept, whatever key it was given.
	if r.Info.FirstFlow.IsZero() || r.Info.LastFlow.IsZero() || r.Info.LastFlow.Before(r.Info.FirstFlow) {
		return r, fmt.Errorf("night %q: %w", r.Info.Night, ErrNoFlowTimes)
	}
	if r.Info.Night == "" {
		r.Info.Night = NightKey(r.Info.FirstFlow, r.Info.LastFlow)
	}
	night := r.Info.Night
	for _, c := range []struct {
		name string
		v    uint64
	}{{"flows", r.Info.Flows}} {
		if c.v > math.MaxInt64 {
			return r, fmt.Errorf("night %s: %s %d too large", night, c.name, c.v)
		}
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"files read", r.Info.FilesRead}, {"files skipped", r.Info.FilesSkipped}, {"hosts", r.Info.Hosts},
		{"downloads", r.Info.Downloads}, {"named", r.Info.Named}} {
		if c.v < 0 {
			return r, fmt.Errorf("night %s: negative %s %d", night, c.name, c.v)
		}
	}
	r.Info.SchemaVersion = SchemaVersion

	r.Hosts = slices.Clone(r.Hosts)
	hosts := make(map[netip.Addr]bool, len(r.Hosts))
	for i := range r.Hosts {
		h := &r.Hosts[i]
		if !h.Addr.IsValid() {
			return r, fmt.Errorf("night %s: host %d: no address", night, i)
		}
		h.Addr = h.Addr.Unmap().WithZone("")
		if hosts[h.Addr] {
			return r, fmt.Errorf("night %s: host %s given twice", night, h.Addr)
		}
		hosts[h.Addr] = true
		h.OS = normOS(h.OS)
		if !(h.Confidence >= 0 && h.Confidence <= 1) {
			return r, fmt.Errorf("night %s: host %s: confidence %v outside 0..1", night, h.Addr, h.Confidence)
		}
		if h.Cluster < -1 {
			return r, fmt.Errorf("night %s: host %s: cluster %d", night, h.Addr, h.Cluster)
		}
		if h.BytesIn > math.MaxInt64 || h.BytesOut > math.MaxInt64 || h.Flows > math.MaxInt64 {
			return r, fmt.Errorf("night %s: host %s: counter too large", night, h.Addr)
		}
	}
	slices.SortFunc(r.Hosts, func(a, b Host) int { return a.Addr.Compare(b.Addr) })

	r.Fetches = slices.Clone(r.Fetches)
	for i := range r.Fetches {
		f := &r.Fetches[i]
		if err := checkRef(hosts, &f.Addr, f.Entry, f.Fetched); err != nil {
			return r, fmt.Errorf("night %s: fetch %d: %w", night, i, err)
		}
		f.OS = normOS(f.OS)
		if f.Method == "" {
			f.Method = Single
		}
		if f.Method != Single && f.Method != Connection && f.Method != OSSearch {
			return r, fmt.Errorf("night %s: fetch %d: unknown method %q", night, i, f.Method)
		}
		if !math.IsNaN(f.Chance) && !(f.Chance >= 0 && f.Chance <= 1) {
			return r, fmt.Errorf("night %s: fetch %d: chance %v outside 0..1", night, i, f.Chance)
		}
	}
	slices.SortFunc(r.Fetches, compareFetches)

	// Possible fetches: one per host and entry, the earliest.
	r.Possible = slices.Clone(r.Possible)
	for i := range r.Possible {
		p := &r.Possible[i]
		if err := checkRef(hosts, &p.Addr, p.Entry, p.At); err != nil {
			return r, fmt.Errorf("night %s: possible fetch %d: %w", night, i, err)
		}
		p.OS = normOS(p.OS)
	}
	slices.SortFunc(r.Possible, func(a, b Possible) int {
		return cmp.Or(a.Addr.Compare(b.Addr), strings.Compare(a.Entry, b.Entry), a.At.Compare(b.At))
	})
	r.Possible = slices.CompactFunc(r.Possible, func(a, b Possible) bool { return a.Addr == b.Addr && a.Entry == b.Entry })

	r.Catalog = slices.Clone(r.Catalog)
	for i := range r.Catalog {
		e := &r.Catalog[i]
		if e.Entry == "" {
			return r, fmt.Errorf("night %s: catalog entry %d: no name", night, i)
		}
		if e.Size > math.MaxInt64 {
			return r, fmt.Errorf("night %s: catalog entry %s: size too large", night, e.Entry)
		}
		e.OS = normOS(e.OS)
	}
	slices.SortFunc(r.Catalog, func(a, b CatalogEntry) int { return strings.Compare(a.Entry, b.Entry) })
	for i := 1; i < len(r.Catalog); i++ {
		if r.Catalog[i].Entry == r.Catalog[i-1].Entry {
			return r, fmt.Errorf("night %s: catalog entry %s given twice", night, r.Catalog[i].Entry)
		}
	}

	r.Metrics = slices.Clone(r.Metrics)
	for i, m := range r.Metrics {
		if m.Metric == "" {
			return r, fmt.Errorf("night %s: metric %d: no name", night, i)
		}
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			return r, fmt.Errorf("night %s: metric %s %q: value %v", night, m.Metric, m.Key, m.Value)
		}
	}
	slices.SortFunc(r.Metrics, func(a, b Metric) int {
		return cmp.Or(strings.Compare(a.Metric, b.Metric), strings.Compare(a.Key, b.Key))
	})
	for i := 1; i < len(r.Metrics); i++ {
		if r.Metrics[i].Metric == r.Metrics[i-1].Metric && r.Metrics[i].Key == r.Metrics[i-1].Key {
			return r, fmt.Errorf("night %s: metric %s %q given twice", night, r.Metrics[i].Metric, r.Metrics[i].Key)
		}
	}
	return r, nil
}

func compareFetches(a, b Fetch) int {
	return cmp.Or(a.Addr.Compare(b.Addr), a.Fetched.Compare(b.Fetched), strings.Compare(a.Entry, b.Entry))
}

// WriteRun stores a night in one transaction. A night with the same key
// written before is replaced (deleted and written anew in the same
// transaction), so writing a night twice is the same as writing it once,
// and a corrected rerun replaces the first. The run is validated before
// anything is written. If the process dies or ctx is cancelled before
// WriteRun returns, the database is as it was before.
func (d *DB) WriteRun(ctx context.Context, r Run) error {
	r, err := checked(r)
	if err != nil {
		return fmt.Errorf("%s: %w", d.path, err)
	}
	err = inTx(ctx, d.db, func(tx *sql.Tx) error { return d.writeRun(ctx, tx, r) })
	if err != nil {
		return fmt.Errorf("%s: writing night %s: %w", d.path, r.Info.Night, err)
	}
	return nil
}

func (d *DB) writeRun(ctx context.Context, tx *sql.Tx, r Run) error {
	var old int64
	switch err := tx.QueryRowContext(ctx, "SELECT id FROM runs WHERE night = ?", r.Info.Night).Scan(&old); {
	case err == nil:
		// The hosts of the night replaced are recomputed in host_latest.
		for _, q := range []string{
			"CREATE TEMP TABLE IF NOT EXISTS affected (addr TEXT PRIMARY KEY) WITHOUT ROWID",
			"DELETE FROM temp.affected",
			"INSERT INTO temp.affected SELECT addr FROM hosts WHERE run = ?",
			"DELETE FROM fetches WHERE run = ?", "DELETE FROM possible WHERE run = ?", "DELETE FROM hosts WHERE run = ?",
			"DELETE FROM metrics WHERE run = ?", "DELETE FROM runs WHERE id = ?",
		} {
			var args []any
			if strings.Contains(q, "?") {
				args = []any{old}
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	d.at("deleted")

	listing, entryIDs, err := writeListing(ctx, tx, r.Catalog)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	in := r.Info
	res, err := tx.ExecContext(ctx, `INSERT INTO runs (night, first_flow, last_flow, started, finished,
		flows, files_read, files_skipped, hosts, downloads, named, fingerflow_version,
		model_path, model_hash, catalog_path, catalog_hash, schema_version, listing)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		in.Night, fmtTime(in.FirstFlow), fmtTime(in.LastFlow), fmtTime(in.Started), fmtTime(in.Finished),
		int64(in.Flows), in.FilesRead, in.FilesSkipped, in.Hosts, in.Downloads, in.Named, in.Version,
		in.Model.Path, in.Model.Hash, in.Catalog.Path, in.Catalog.Hash, in.SchemaVersion, listing)
	if err != nil {
		return err
	}
	run, err := res.LastInsertId()
	if err != nil {
		return err
	}

	hs, err := tx.PrepareContext(ctx, `INSERT INTO hosts (run, addr, first_seen, last_seen, os, os_version,
		confidence, evidence, cluster, cluster_description, bytes_in, bytes_out, flows)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer hs.Close()
	for i, h := range r.Hosts {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var cluster any
		if h.Cluster >= 0 {
			cluster = h.Cluster
		}
		if _, err := hs.ExecContext(ctx, run, h.Addr.String(), fmtTime(h.FirstSeen), fmtTime(h.LastSeen),
			h.OS, h.OSVersion, h.Confidence, h.Evidence, cluster, h.ClusterDescription,
			int64(h.BytesIn), int64(h.BytesOut), int64(h.Flows)); err != nil {
			return fmt.Errorf("host %s: %w", h.Addr, err)
		}
	}
	d.at("hosts")

	fs, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO fetches (run, addr, entry, fetched, chance, method)
		VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer fs.Close()
	for i, f := range r.Fetches {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if i == len(r.Fetches)/2 {
			d.at("fetches")
		}
		id, ok := entryIDs[f.Entry]
		if !ok {
			if id, err = fetchedEntry(ctx, tx, f); err != nil {
				return fmt.Errorf("fetch of %s by %s: %w", f.Entry, f.Addr, err)
			}
			entryIDs[f.Entry] = id
		}
		var chance any
		if !math.IsNaN(f.Chance) {
			chance = f.Chance
		}
		if _, err := fs.ExecContext(ctx, run, f.Addr.String(), id, fmtTime(f.Fetched), chance, string(f.Method)); err != nil {
			return fmt.Errorf("fetch of %s by %s: %w", f.Entry, f.Addr, err)
		}
	}

	ps, err := tx.PrepareContext(ctx, "INSERT INTO possible (run, addr, entry, at) VALUES (?, ?, ?, ?)")
	if err != nil {
		return err
	}
	defer ps.Close()
	for i, p := range r.Possible {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		id, ok := entryIDs[p.Entry]
		if !ok {
			f := Fetch{Entry: p.Entry, Product: p.Product, Version: p.Version, OS: p.OS}
			if id, err = fetchedEntry(ctx, tx, f); err != nil {
				return fmt.Errorf("possible fetch of %s by %s: %w", p.Entry, p.Addr, err)
			}
			entryIDs[p.Entry] = id
		}
		if _, err := ps.ExecContext(ctx, run, p.Addr.String(), id, fmtTime(p.At)); err != nil {
			return fmt.Errorf("possible fetch of %s by %s: %w", p.Entry, p.Addr, err)
		}
	}

	ms, err := tx.PrepareContext(ctx, "INSERT INTO metrics (run, metric, key, value) VALUES (?, ?, ?, ?)")
	if err != nil {
		return err
	}
	defer ms.Close()
	for _, m := range r.Metrics {
		if _, err := ms.ExecContext(ctx, run, m.Metric, m.Key, m.Value); err != nil {
			return fmt.Errorf("metric %s %q: %w", m.Metric, m.Key, err)
		}
	}

	if err := updateLatest(ctx, tx, run, r.Info.Night, old != 0); err != nil {
		return fmt.Errorf("host_latest: %w", err)
	}

	// What no night refers to any more goes: listings of replaced nights,
	// and catalog entries neither listed nor fetched.
	for _, q := range []string{
		"DELETE FROM listing_entries WHERE listing NOT IN (SELECT listing FROM runs WHERE listing IS NOT NULL)",
		"DELETE FROM listings WHERE id NOT IN (SELECT listing FROM runs WHERE listing IS NOT NULL)",
		`DELETE FROM catalog WHERE NOT EXISTS (SELECT 1 FROM listing_entries le WHERE le.entry = catalog.id)
			AND NOT EXISTS (SELECT 1 FROM fetches f WHERE f.entry = catalog.id)
			AND NOT EXISTS (SELECT 1 FROM possible p WHERE p.entry = catalog.id)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	d.at("commit")
	return ctx.Err()
}

// fetchedEntry returns the catalog id of a fetched entry the night's
// catalog did not list, adding it, as the fetch describes it, if no night
// listed or fetched it before.
func fetchedEntry(ctx context.Context, tx *sql.Tx, f Fetch) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, "SELECT id FROM catalog WHERE entry = ?", f.Entry).Scan(&id)
	if !errors.Is(err, sql.ErrNoRows) {
		return id, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO catalog (entry, size, product, version, os, os_version)
		VALUES (?, NULL, ?, ?, ?, '')`, f.Entry, f.Product, f.Version, f.OS)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// latestQuery is host_latest's definition (see schema.sql) for the
// addresses in temp.affected.
const latestQuery = `
	SELECT a.addr, a.last_night, a.last_seen, a.known_night, COALESCE(k.os, ''), COALESCE(k.os_version, '')
	FROM (SELECT h.addr, max(r.night) AS last_night,
	             max(COALESCE(h.last_seen, r.last_flow, r.started)) AS last_seen,
	             max(CASE WHEN h.os != '' THEN r.night END) AS known_night
	      FROM hosts h JOIN runs r ON r.id = h.run
	      WHERE h.addr IN (SELECT addr FROM temp.affected) GROUP BY h.addr) a
	LEFT JOIN runs kr ON kr.night = a.known_night
	LEFT JOIN hosts k ON k.run = kr.id AND k.addr = a.addr`

// updateLatest brings host_latest up to date with night (run id run). A
// new night later than every other is merged in: it is the latest night of
// each of its hosts. Otherwise (a night replaced, or written out of order)
// the rows of the night's hosts, and of the hosts of the night it
// replaced, are recomputed from hosts.
func updateLatest(ctx context.Context, tx *sql.Tx, run int64, night string, replaced bool) error {
	var later bool
	if err := tx.QueryRowContext(ctx, "SELECT NOT EXISTS (SELECT 1 FROM runs WHERE night > ?)", night).Scan(&later); err != nil {
		return err
	}
	if later && !replaced {
		_, err := tx.ExecContext(ctx, `INSERT INTO host_latest (addr, last_night, last_seen, known_night, os, os_version)
			SELECT h.addr, r.night, COALESCE(h.last_seen, r.last_flow, r.started),
			       CASE WHEN h.os != '' THEN r.night END, h.os, h.os_version
			FROM hosts h JOIN runs r ON r.id = h.run WHERE h.run = ?
			ON CONFLICT (addr) DO UPDATE SET
				last_night = excluded.last_night,
				last_seen = CASE WHEN host_latest.last_seen IS NULL OR excluded.last_seen > host_latest.last_seen
				                 THEN excluded.last_seen ELSE host_latest.last_seen END,
				known_night = COALESCE(excluded.known_night, host_latest.known_night),
				os = CASE WHEN excluded.known_night IS NULL THEN host_latest.os ELSE excluded.os END,
				os_version = CASE WHEN excluded.known_night IS NULL THEN host_latest.os_version ELSE excluded.os_version END`, run)
		return err
	}
	for _, q := range []string{
		"CREATE TEMP TABLE IF NOT EXISTS affected (addr TEXT PRIMARY KEY) WITHOUT ROWID",
		"INSERT OR IGNORE INTO temp.affected SELECT addr FROM hosts WHERE run = ?",
		"DELETE FROM host_latest WHERE addr IN (SELECT addr FROM temp.affected)",
		"INSERT INTO host_latest (addr, last_night, last_seen, known_night, os, os_version)" + latestQuery,
		"DELETE FROM temp.affected",
	} {
		var args []any
		if strings.Contains(q, "?") {
			args = []any{run}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// writeListing stores what a catalog listed, once per distinct content,
// and returns its listing id (NULL for no catalog) and the catalog ids of
// the entries it wrote.
func writeListing(ctx context.Context, tx *sql.Tx, entries []CatalogEntry) (any, map[string]int64, error) {
	ids := make(map[string]int64)
	if len(entries) == 0 {
		return nil, ids, nil
	}
	digest := listingDigest(entries)
	var id int64
	switch err := tx.QueryRowContext(ctx, "SELECT id FROM listings WHERE digest = ?", digest).Scan(&id); {
	case err == nil:
		return id, ids, nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, nil, err
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO listings (digest) VALUES (?)", digest)
	if err != nil {
		return nil, nil, err
	}
	if id, err = res.LastInsertId(); err != nil {
		return nil, nil, err
	}
	up, err := tx.PrepareContext(ctx, `INSERT INTO catalog (entry, size, product, version, os, os_version, released)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (entry) DO UPDATE SET size = excluded.size, product = excluded.product,
			version = excluded.version, os = excluded.os, os_version = excluded.os_version,
			released = excluded.released
		RETURNING id`)
	if err != nil {
		return nil, nil, err
	}
	defer up.Close()
	le, err := tx.PrepareContext(ctx, "INSERT INTO listing_entries (listing, entry) VALUES (?, ?)")
	if err != nil {
		return nil, nil, err
	}
	defer le.Close()
	for _, e := range entries {
		var eid int64
		if err := up.QueryRowContext(ctx, e.Entry, int64(e.Size), e.Product, e.Version, e.OS, e.OSVersion,
			fmtTime(e.Released)).Scan(&eid); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", e.Entry, err)
		}
		if _, err := le.ExecContext(ctx, id, eid); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", e.Entry, err)
		}
		ids[e.Entry] = eid
	}
	return id, ids, nil
}

// listingDigest identifies a catalog's content: SHA-256 over its sorted
// entries, every field length-prefixed.
func listingDigest(entries []CatalogEntry) string {
	h := sha256.New()
	var n [8]byte
	put := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	for _, e := range entries {
		put(e.Entry)
		binary.BigEndian.PutUint64(n[:], e.Size)
		h.Write(n[:])
		put(e.Product)
		put(e.Version)
		put(e.OS)
		put(e.OSVersion)
		if t := fmtTime(e.Released); t != nil {
			put(t.(string))
		} else {
			put("")
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// checkRef checks a fetch's or possible fetch's host (made plain IPv4 or
// IPv6, without zone, in place), catalog entry and time.
func checkRef(hosts map[netip.Addr]bool, addr *netip.Addr, entry string, at time.Time) error {
	if !addr.IsValid() {
		return errors.New("no address")
	}
	*addr = addr.Unmap().WithZone("")
	if !hosts[*addr] {
		return fmt.Errorf("host %s is not among the night's hosts", *addr)
	}
	if entry == "" {
		return errors.New("no catalog entry")
	}
	if at.IsZero() {
		return fmt.Errorf("no time (%s by %s)", entry, *addr)
	}
	return nil
}
