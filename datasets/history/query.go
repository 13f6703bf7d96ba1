package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// readTx runs f in a read transaction: every query f makes sees the same
// nights, even while another process writes one.
func (d *DB) readTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("%s: %w", d.path, err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		if errors.Is(err, ErrNoRun) || errors.Is(err, ErrUnknownEntry) {
			return err
		}
		return fmt.Errorf("%s: %w", d.path, err)
	}
	return nil
}

const runColumns = `night, first_flow, last_flow, started, finished, flows, files_read, files_skipped,
	hosts, downloads, named, fingerflow_version, model_path, model_hash, catalog_path, catalog_hash, schema_version`

func scanRun(s interface{ Scan(...any) error }) (RunInfo, error) {
	var r RunInfo
	var times [4]sql.NullString
	var flows int64
	err := s.Scan(&r.Night, &times[0], &times[1], &times[2], &times[3], &flows, &r.FilesRead, &r.FilesSkipped,
		&r.Hosts, &r.Downloads, &r.Named, &r.Version, &r.Model.Path, &r.Model.Hash,
		&r.Catalog.Path, &r.Catalog.Hash, &r.SchemaVersion)
	if err != nil {
		return r, err
	}
	r.Flows = uint64(flows)
	for i, p := range []*time.Time{&r.FirstFlow, &r.LastFlow, &r.Started, &r.Finished} {
		if *p, err = parseTime(times[i]); err != nil {
			return r, fmt.Errorf("night %s: %w", r.Night, err)
		}
	}
	return r, nil
}

// Runs returns every night written, in night order.
func (d *DB) Runs(ctx context.Context) ([]RunInfo, error) {
	var out []RunInfo
	err := d.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT "+runColumns+" FROM runs ORDER BY night")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRun(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

// PreviousRun returns the latest night before the night keyed
// beforeNight (which need not exist), or an error wrapping ErrNoRun.
func (d *DB) PreviousRun(ctx context.Context, beforeNight string) (RunInfo, error) {
	var r RunInfo
	err := d.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = scanRun(tx.QueryRowContext(ctx, "SELECT "+runColumns+" FROM runs WHERE night < ? ORDER BY night DESC LIMIT 1", beforeNight))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%s: no night before %s: %w", d.path, beforeNight, ErrNoRun)
		}
		return err
	})
	return r, err
}

// HostNight is what one night said of a host.
type HostNight struct {
	Night   string
	Host    Host
	Fetches []Fetch // the catalog files it fetched that night, by time then entry
	// Possible are the catalog files it may have fetched that night, by
	// entry.
	Possible []Possible
}

const hostColumns = `h.addr, h.first_seen, h.last_seen, h.os, h.os_version, h.confidence, h.evidence,
	h.cluster, h.cluster_description, h.bytes_in, h.bytes_out, h.flows`

func scanHost(s interface{ Scan(...any) error }, lead ...any) (Host, error) {
	var h Host
	var addr string
	var first, last sql.NullString
	var cluster sql.NullInt64
	var in, out, flows int64
	err := s.Scan(append(lead, &addr, &first, &last, &h.OS, &h.OSVersion, &h.Confidence, &h.Evidence,
		&cluster, &h.ClusterDescription, &in, &out, &flows)...)
	if err != nil {
		return h, err
	}
	if h.Addr, err = netip.ParseAddr(addr); err != nil {
		return h, fmt.Errorf("stored address: %w", err)
	}
	if h.FirstSeen, err = parseTime(first); err != nil {
		return h, err
	}
	if h.LastSeen, err = parseTime(last); err != nil {
		return h, err
	}
	h.Cluster = -1
	if cluster.Valid {
		h.Cluster = int(cluster.Int64)
	}
	h.BytesIn, h.BytesOut, h.Flows = uint64(in), uint64(out), uint64(flows)
	return h, nil
}

// fetchColumns are read from fetches f joined with catalog c.
const fetchColumns = "f.addr, c.entry, c.product, c.version, c.os, f.fetched, f.chance, f.method"

func scanFetch(s interface{ Scan(...any) error }, lead ...any) (Fetch, error) {
	var f Fetch
	var addr, method string
	var fetched sql.NullString
	var chance sql.NullFloat64
	err := s.Scan(append(lead, &addr, &f.Entry, &f.Product, &f.Version, &f.OS, &fetched, &chance, &method)...)
	if err != nil {
		return f, err
	}
	if f.Addr, err = netip.ParseAddr(addr); err != nil {
		return f, fmt.Errorf("stored address: %w", err)
	}
	if f.Fetched, err = parseTime(fetched); err != nil {
		return f, err
	}
	f.Chance = math.NaN()
	if chance.Valid {
		f.Chance = chance.Float64
	}
	f.Method = Method(method)
	return f, nil
}

// HostHistory returns what each night said of the host at addr, in night
// order; none when no night saw it.
func (d *DB) HostHistory(ctx context.Context, addr netip.Addr) ([]HostNight, error) {
	key := addr.Unmap().WithZone("").String()
	var out []HostNight
	err := d.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT r.night, `+hostColumns+`
			FROM hosts h JOIN runs r ON r.id = h.run WHERE h.addr = ? ORDER BY r.night`, key)
		if err != nil {
			return err
		}
		defer rows.Close()
		at := make(map[string]int)
		for rows.Next() {
			var night string
			h, err := scanHost(rows, &night)
			if err != nil {
				return err
			}
			at[night] = len(out)
			out = append(out, HostNight{Night: night, Host: h})
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT r.night, `+fetchColumns+`
			FROM hosts h JOIN runs r ON r.id = h.run
			JOIN fetches f ON f.run = h.run AND f.addr = h.addr
			JOIN catalog c ON c.id = f.entry
			WHERE h.addr = ? ORDER BY r.night, f.fetched, c.entry`, key)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var night string
			f, err := scanFetch(rows, &night)
			if err != nil {
				return err
			}
			n := &out[at[night]]
			n.Fetches = append(n.Fetches, f)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT r.night, p.addr, c.entry, c.product, c.version, c.os, p.at
			FROM possible p JOIN runs r ON r.id = p.run JOIN catalog c ON c.id = p.entry
			WHERE p.addr = ? ORDER BY r.night, c.entry`, key)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var night, a string
			var p Possible
			var when sql.NullString
			if err := rows.Scan(&night, &a, &p.Entry, &p.Product, &p.Version, &p.OS, &when); err != nil {
				return err
			}
			if p.Addr, err = netip.ParseAddr(a); err != nil {
				return fmt.Errorf("stored address: %w", err)
			}
			if p.At, err = parseTime(when); err != nil {
				return err
			}
			if i, ok := at[night]; ok {
				out[i].Possible = append(out[i].Possible, p)
			}
		}
		return rows.Err()
	})
	return out, err
}

// MissingUpdate is a catalog entry and the hosts missing it.
type MissingUpdate struct {
	Entry CatalogEntry
	// FirstNight is the first night whose catalog listed the entry.
	FirstNight string
	// Appeared is when the entry appeared: its release date if the
	// catalog gives one, else the start of FirstNight.
	Appeared time.Time
	Hosts    []MissingHost // by address
	// Possible are the hosts of the entry's OS, seen since it appeared,
	// that have not fetched it for certain but may have: a download or
	// connection of theirs since then fits it among other combinations.
	// They are not missing it; by address.
	Possible []MissingHost
	// Unidentified are the hosts seen since the entry appeared, and
	// that have not fetched it since, whose OS no night has named: flow
	// counters could not tell their family, so they are in neither list
	// above, though any of them may run the entry's OS and lack it. Those
	// with a download since then that may be the entry have
	// MayHaveFetched set. Empty for an entry of no OS; by address.
	Unidentified []MissingHost
}

// MissingHost is a host that has not fetched an update since it appeared.
type MissingHost struct {
	Addr      netip.Addr
	OS        string // the host's latest known OS family: the entry's
	OSVersion string // as the same night gave it
	LastSeen  time.Time
	LastNight string // the last night that saw it
	// Others are the other versions of the entry's product (same OS) it
	// fetched, each entry once with its latest fetch, latest last.
	Others []Fetch
	// MayHaveFetched, for a host of MissingUpdate.Unidentified, says that
	// a download of it since the entry appeared may be the entry.
	MayHaveFetched bool
	// Why, for a host of MissingUpdate.Unidentified, is its last night's
	// reason for giving it no OS, in words ("" when that night gave none).
	Why string
}

// Missing returns the hosts whose latest known OS family is the entry's
// and that have not fetched it since it appeared and could not have, among
// the hosts seen since then; those that may have (possible fetches) are
// listed apart. An entry no night's catalog listed is an error wrapping
// ErrUnknownEntry.
func (d *DB) Missing(ctx context.Context, entry string) (MissingUpdate, error) {
	var out MissingUpdate
	err := d.readTx(ctx, func(tx *sql.Tx) error {
		es, err := appeared(ctx, tx, "entry = ?", entry)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return fmt.Errorf("%s: %w", entry, ErrUnknownEntry)
		}
		out = es[0]
		cands, unknown, err := candidates(ctx, tx, out.Entry.OS)
		if err != nil {
			return err
		}
		return missingHosts(ctx, tx, &out, cands, unknown)
	})
	return out, err
}

// Families are the OS families the catalog entries of every night name,
// sorted.
func (d *DB) Families(ctx context.Context) ([]string, error) {
	var out []string
	err := d.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT os FROM catalog WHERE os != '' ORDER BY os`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var os string
			if err := rows.Scan(&os); err != nil {
				return err
			}
			out = append(out, os)
		}
		return rows.Err()
	})
	return out, err
}

// MissingForOS returns, for every catalog entry of OS family os that
// appeared at or after since (any time when since is zero), the hosts
// missing it as Missing gives them; by time of appearance, then entry.
func (d *DB) MissingForOS(ctx context.Context, os string, since time.Time) ([]MissingUpdate, error) {
	var out []MissingUpdate
	err := d.readTx(ctx, func(tx *sql.Tx) error {
		from := "" // before any time
		if !since.IsZero() {
			from = since.UTC().Format(timeLayout)
		}
		es, err := appeared(ctx, tx, "os = ? AND appeared >= ?", normOS(os), from)
		if err != nil {
			return err
		}
		cands, unknown, err := candidates(ctx, tx, normOS(os))
		if err != nil {
			return err
		}
		for i := range es {
			if err := missingHosts(ctx, tx, &es[i], cands, unknown); err != nil {
				return err
			}
		}
		out = es
		return nil
	})
	return out, err
}

// appeared reads catalog entries from the catalog_appeared view.
func appeared(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]MissingUpdate, error) {
	rows, err := tx.QueryContext(ctx, `SELECT entry, size, product, version, os, os_version, released,
		first_night, appeared FROM catalog_appeared WHERE `+where+` ORDER BY appeared, entry`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MissingUpdate
	for rows.Next() {
		var m MissingUpdate
		var size sql.NullInt64
		var released, app sql.NullString
		e := &m.Entry
		if err := rows.Scan(&e.Entry, &size, &e.Product, &e.Version, &e.OS, &e.OSVersion, &released,
			&m.FirstNight, &app); err != nil {
			return nil, err
		}
		e.Size = uint64(size.Int64)
		if e.Released, err = parseTime(released); err != nil {
			return nil, err
		}
		if m.Appeared, err = parseTime(app); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// candidates are the hosts whose latest known OS family is os and, for an
// os that is not empty, the hosts no night gave an OS.
func candidates(ctx context.Context, tx *sql.Tx, os string) (cands, unknown []MissingHost, err error) {
	if cands, err = latestOS(ctx, tx, os); err != nil || os == "" {
		return cands, nil, err
	}
	unknown, err = latestOS(ctx, tx, "")
	return cands, unknown, err
}

// WhyPrefix begins the evidence of a host a night gave no OS, when that
// night said why.
const WhyPrefix = "not identified"

// latestOS returns the hosts whose latest known OS family (their latest
// night with a verdict) is os, with when they were last seen; for os ""
// (no night gave one) with their last night's reason (Why), which that
// night stored first in its evidence.
func latestOS(ctx context.Context, tx *sql.Tx, os string) ([]MissingHost, error) {
	rows, err := tx.QueryContext(ctx, `SELECT l.addr, l.os, l.os_version, l.last_seen, l.last_night,
		CASE WHEN l.os = '' THEN (SELECT h.evidence FROM runs r JOIN hosts h ON h.run = r.id
		                          WHERE r.night = l.last_night AND h.addr = l.addr) END
		FROM host_latest l WHERE l.os = ?`, os)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MissingHost
	for rows.Next() {
		var h MissingHost
		var addr string
		var last, evidence sql.NullString
		if err := rows.Scan(&addr, &h.OS, &h.OSVersion, &last, &h.LastNight, &evidence); err != nil {
			return nil, err
		}
		if strings.HasPrefix(evidence.String, WhyPrefix) {
			h.Why = evidence.String
		}
		if h.Addr, err = netip.ParseAddr(addr); err != nil {
			return nil, fmt.Errorf("stored address: %w", err)
		}
		if h.LastSeen, err = parseTime(last); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b MissingHost) int { return a.Addr.Compare(b.Addr) })
	return out, rows.Err()
}

// missingHosts fills m.Hosts and m.Possible from the candidates, and
// m.Unidentified from the hosts of no known OS: those seen since m
// appeared that have not fetched m's entry since.
func missingHosts(ctx context.Context, tx *sql.Tx, m *MissingUpdate, cands, unknown []MissingHost) error {
	since := m.Appeared.UTC().Format(timeLayout)
	addrs := func(q string) (map[netip.Addr]bool, error) {
		rows, err := tx.QueryContext(ctx, q, m.Entry.Entry, since)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := make(map[netip.Addr]bool)
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				return nil, err
			}
			ip, err := netip.ParseAddr(a)
			if err != nil {
				return nil, fmt.Errorf("stored address: %w", err)
			}
			out[ip] = true
		}
		return out, rows.Err()
	}
	fetched, err := addrs(`SELECT DISTINCT addr FROM fetches
		WHERE entry = (SELECT id FROM catalog WHERE entry = ?) AND fetched >= ?`)
	if err != nil {
		return err
	}
	possible, err := addrs(`SELECT DISTINCT addr FROM possible
		WHERE entry = (SELECT id FROM catalog WHERE entry = ?) AND at >= ?`)
	if err != nil {
		return err
	}
	others := make(map[netip.Addr][]Fetch)
	if m.Entry.Product != "" {
		rows, err := tx.QueryContext(ctx, `SELECT `+fetchColumns+` FROM catalog c JOIN fetches f ON f.entry = c.id
			WHERE c.product = ? AND c.os = ? AND c.entry != ?
			AND f.fetched = (SELECT max(g.fetched) FROM fetches g WHERE g.entry = f.entry AND g.addr = f.addr)
			ORDER BY f.addr, f.fetched, c.entry`, m.Entry.Product, m.Entry.OS, m.Entry.Entry)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			f, err := scanFetch(rows)
			if err != nil {
				return err
			}
			if n := len(others[f.Addr]); n > 0 && others[f.Addr][n-1].Entry == f.Entry {
				continue // the same latest time in two nights' rows
			}
			others[f.Addr] = append(others[f.Addr], f)
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	m.Hosts, m.Possible, m.Unidentified = nil, nil, nil
	for _, h := range unknown {
		if fetched[h.Addr] || h.LastSeen.Before(m.Appeared) {
			continue
		}
		h.MayHaveFetched = possible[h.Addr]
		m.Unidentified = append(m.Unidentified, h)
	}
	for _, h := range cands {
		if fetched[h.Addr] || h.LastSeen.Before(m.Appeared) {
			continue
		}
		h.Others = others[h.Addr]
		if possible[h.Addr] {
			m.Possible = append(m.Possible, h)
			continue
		}
		m.Hosts = append(m.Hosts, h)
	}
	return nil
}

// HostChange is how a host's record changed between two nights.
type HostChange struct {
	Addr         netip.Addr
	InFrom, InTo bool   // whether each night saw the host
	OSFrom, OSTo string // OS family each night ("" unknown or not seen)
	VersionFrom  string // OS version each night
	VersionTo    string
	OSChanged    bool     // family or version differ, both nights having seen the host
	NewUpdates   []string // entries fetched in the later night and in no night up to the earlier one
}

// Changes returns, for every host either night saw, how it changed from
// night from to night to (from before to), by address. Both nights must
// exist (else an error wrapping ErrNoRun).
func (d *DB) Changes(ctx context.Context, from, to string) ([]HostChange, error) {
	return d.changes(ctx, from, to, "")
}

// HostChanges is Changes for one host; ok is false when neither night saw
// it.
func (d *DB) HostChanges(ctx context.Context, addr netip.Addr, from, to string) (c HostChange, ok bool, err error) {
	cs, err := d.changes(ctx, from, to, addr.Unmap().WithZone("").String())
	if err != nil || len(cs) == 0 {
		return HostChange{}, false, err
	}
	return cs[0], true, nil
}

func (d *DB) changes(ctx context.Context, from, to, addr string) ([]HostChange, error) {
	var out []HostChange
	err := d.readTx(ctx, func(tx *sql.Tx) error {
		ids := make(map[string]int64)
		for _, n := range []string{from, to} {
			var id int64
			if err := tx.QueryRowContext(ctx, "SELECT id FROM runs WHERE night = ?", n).Scan(&id); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("%s: night %s: %w", d.path, n, ErrNoRun)
				}
				return err
			}
			ids[n] = id
		}
		byAddr := make(map[string]*HostChange)
		for _, side := range []string{from, to} {
			rows, err := tx.QueryContext(ctx, "SELECT addr, os, os_version FROM hosts WHERE run = ? AND (? = '' OR addr = ?)", ids[side], addr, addr)
			if err != nil {
				return err
			}
			for rows.Next() {
				var a, os, ver string
				if err := rows.Scan(&a, &os, &ver); err != nil {
					rows.Close()
					return err
				}
				c := byAddr[a]
				if c == nil {
					ip, err := netip.ParseAddr(a)
					if err != nil {
						rows.Close()
						return fmt.Errorf("stored address: %w", err)
					}
					c = &HostChange{Addr: ip}
					byAddr[a] = c
				}
				if side == from {
					c.InFrom, c.OSFrom, c.VersionFrom = true, os, ver
				} else {
					c.InTo, c.OSTo, c.VersionTo = true, os, ver
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT f.addr, c.entry FROM fetches f JOIN catalog c ON c.id = f.entry
			WHERE f.run = ? AND (? = '' OR f.addr = ?) AND NOT EXISTS (
				SELECT 1 FROM fetches g JOIN runs r ON r.id = g.run
				WHERE g.entry = f.entry AND g.addr = f.addr AND r.night <= ?)
			ORDER BY f.addr, c.entry`, ids[to], addr, addr, from)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a, e string
			if err := rows.Scan(&a, &e); err != nil {
				return err
			}
			if c := byAddr[a]; c != nil {
				c.NewUpdates = append(c.NewUpdates, e)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range byAddr {
			c.OSChanged = c.InFrom && c.InTo && (c.OSFrom != c.OSTo || c.VersionFrom != c.VersionTo)
			out = append(out, *c)
		}
		slices.SortFunc(out, func(a, b HostChange) int { return a.Addr.Compare(b.Addr) })
		return nil
	})
	return out, err
}

// MetricValue is one value of a metric on one night.
type MetricValue struct {
	Night string
	Key   string
	Value float64
}

// Metrics returns the values of metric on the last lastN nights that
// recorded it (all of them when lastN <= 0), by night then key.
func (d *DB) Metrics(ctx context.Context, metric string, lastN int) ([]MetricValue, error) {
	if lastN <= 0 {
		lastN = -1 // no LIMIT
	}
	var out []MetricValue
	err := d.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT r.night, m.key, m.value FROM metrics m JOIN runs r ON r.id = m.run
			WHERE m.metric = ? AND m.run IN (
				SELECT r2.id FROM runs r2 WHERE EXISTS (SELECT 1 FROM metrics m2 WHERE m2.metric = ? AND m2.run = r2.id)
				ORDER BY r2.night DESC LIMIT ?)
			ORDER BY r.night, m.key`, metric, metric, lastN)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v MetricValue
			if err := rows.Scan(&v.Night, &v.Key, &v.Value); err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	return out, err
}
