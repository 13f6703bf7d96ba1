// Package clickhouse keeps flows in a ClickHouse table and reads them back:
// the DSN that names a server, database and table; the connection (the
// native protocol, through clickhouse-go); the flows table's schema and the
// table of loaded files beside it; an all-or-nothing, idempotent load of
// one flow file; a streaming reader of a time window's flows; and the
// checks that a table (fingerflow's own, a view over another collector's
// table, or a Distributed table) has the columns the night needs and that
// the server has the functions its queries use.
//
// The SQL runs on ClickHouse 18.16 (Debian 12's package) and on current
// servers: no window functions, no IPv6 or DateTime64 types, no
// lightweight deletes.
package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DefaultTable is the flows table a DSN without ?table= names.
const DefaultTable = "flows"

// DefaultPort is ClickHouse's native protocol port.
const DefaultPort = "9000"

// Config says where the flows are.
type Config struct {
	Addr     string // host:port of the native protocol
	Database string
	User     string
	Password string
	// Table is the flows table, a view with its columns, or a
	// Distributed table over such tables.
	Table string
	// FilesTable is the table of loaded files beside Table (Table +
	// "_files" unless the DSN says files=). Under a Distributed table it
	// names each shard's local files table.
	FilesTable string
	// DialTimeout bounds connecting (5 s when zero).
	DialTimeout time.Duration
}

// ErrDSN is wrapped by ParseDSN's errors.
var ErrDSN = errors.New("invalid ClickHouse DSN")

// ParseDSN reads clickhouse://[user[:password]@]host[:port][/database][?table=T&files=F].
// The port defaults to 9000 (the native protocol; the HTTP port does not
// work), the database to "default", the table to "flows" and the files
// table to the table's name with "_files" appended.
func ParseDSN(dsn string) (Config, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrDSN, err)
	}
	if u.Scheme != "clickhouse" && u.Scheme != "tcp" {
		return Config{}, fmt.Errorf("%w %q: scheme must be clickhouse:// (native protocol)", ErrDSN, redact(u))
	}
	if u.Host == "" {
		return Config{}, fmt.Errorf("%w %q: no host", ErrDSN, redact(u))
	}
	cfg := Config{Addr: u.Host, Database: strings.TrimPrefix(u.Path, "/"), User: "default", Table: DefaultTable}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		cfg.Addr = net.JoinHostPort(u.Hostname(), DefaultPort)
	}
	if cfg.Database == "" {
		cfg.Database = "default"
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, fmt.Errorf("%w %q: %v", ErrDSN, redact(u), err)
	}
	for k, vs := range query {
		v := vs[len(vs)-1]
		switch k {
		case "table":
			cfg.Table = v
		case "files":
			cfg.FilesTable = v
		case "dial_timeout":
			d, err := time.ParseDuration(v)
			if err != nil {
				return Config{}, fmt.Errorf("%w %q: dial_timeout: %v", ErrDSN, redact(u), err)
			}
			cfg.DialTimeout = d
		default:
			return Config{}, fmt.Errorf("%w %q: unknown parameter %q (known: table, files, dial_timeout)", ErrDSN, redact(u), k)
		}
	}
	if cfg.FilesTable == "" {
		cfg.FilesTable = cfg.Table + "_files"
	}
	for _, name := range []string{cfg.Database, cfg.Table, cfg.FilesTable} {
		if !validName(name) {
			return Config{}, fmt.Errorf("%w %q: name %q: letters, digits and _ only", ErrDSN, redact(u), name)
		}
	}
	return cfg, nil
}

// redact is the DSN without its password, for messages.
func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		if _, ok := c.User.Password(); ok {
			c.User = url.UserPassword(c.User.Username(), "xxx")
		}
	}
	return c.String()
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// String is the DSN, without the password.
func (c Config) String() string {
	u := url.URL{Scheme: "clickhouse", Host: c.Addr, Path: "/" + c.Database, User: url.User(c.User)}
	q := url.Values{"table": {c.Table}}
	if c.FilesTable != c.Table+"_files" {
		q.Set("files", c.FilesTable)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Store is a connection to the server that holds the flows.
type Store struct {
	cfg     Config
	conn    driver.Conn
	version string
	own     bool // the table has LoadId: rows are visible once their file is loaded
	checked bool
	// rowsPerBlock overrides BlockRows (tests).
	rowsPerBlock int
}

// Sentinel errors callers test with errors.Is.
var (
	// ErrConnect: the server could not be reached or refused the login.
	ErrConnect = errors.New("cannot reach ClickHouse")
	// ErrTooOld: the server lacks a function the queries use.
	ErrTooOld = errors.New("ClickHouse server too old")
	// ErrSchema: the table is missing or lacks columns of the right types.
	ErrSchema = errors.New("flows table does not fit")
)

// Open connects to the server cfg names, checks that it answers and that
// it has the functions the queries use. Errors are one line naming the
// server.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	timeout := cfg.DialTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{cfg.Addr},
		// No database at login: it may not exist yet (load creates
		// it); every query names it.
		Auth:         clickhouse.Auth{Username: cfg.User, Password: cfg.Password},
		DialTimeout:  timeout,
		ReadTimeout:  time.Hour,
		MaxOpenConns: 4,
		Compression:  &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
	})
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrConnect, cfg.Addr, oneLine(err))
	}
	s := &Store{cfg: cfg, conn: conn}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w at %s as user %s: %w", ErrConnect, cfg.Addr, cfg.User, reason(err))
	}
	if err := s.checkServer(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// describe turns a driver error into a short reason.
func describe(err error) string {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 192, 193, 516:
			return fmt.Sprintf("wrong user or password (server code %d)", ex.Code)
		case 81:
			return fmt.Sprintf("no such database (server code %d)", ex.Code)
		}
		return fmt.Sprintf("server code %d: %s", ex.Code, firstLine(ex.Message))
	}
	return oneLine(err)
}

// Describe is a driver error in one line: the server's code and first
// line of its message, or the connection's error.
func Describe(err error) string { return describe(err) }

// reason is err said in one line (describe) that still unwraps to err,
// so that a cancelled query stays a context.Canceled.
func reason(err error) error { return &driverError{msg: describe(err), err: err} }

// driverError is a driver error in one line.
type driverError struct {
	msg string
	err error
}

func (e *driverError) Error() string { return e.msg }
func (e *driverError) Unwrap() error { return e.err }

func oneLine(err error) string { return firstLine(err.Error()) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// Close closes the connection.
func (s *Store) Close() error { return s.conn.Close() }

// Conn is the connection, for queries of other packages.
func (s *Store) Conn() driver.Conn { return s.conn }

// Config is what the store was opened with.
func (s *Store) Config() Config { return s.cfg }

// Version is the server's version string ("18.16.1").
func (s *Store) Version() string { return s.version }

// RequiredFunctions are the functions the queries of this package and of
// features/clickhouse use that old servers may lack.
var RequiredFunctions = []string{
	"arrayCumSumNonNegative", "arrayCumSum", "arraySort", "arrayFilter", "arrayMap", "arrayEnumerate",
	"arrayReduce", "arrayElement", "groupArray", "groupBitOr", "uniqExact", "range", "arrayJoin",
	"bitShiftRight", "bitShiftLeft", "bitXor", "bitAnd", "reinterpretAsUInt64", "reinterpretAsUInt32",
	"toStartOfHour", "toYYYYMMDD", "exp2", "log2", "greatest", "least", "multiIf",
}

func (s *Store) checkServer(ctx context.Context) error {
	if err := s.conn.QueryRow(ctx, "SELECT version()").Scan(&s.version); err != nil {
		return fmt.Errorf("%w at %s: %w", ErrConnect, s.cfg.Addr, reason(err))
	}
	rows, err := s.conn.Query(ctx, "SELECT name FROM system.functions")
	if err != nil {
		return fmt.Errorf("clickhouse %s: listing functions: %w", s.cfg.Addr, reason(err))
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("clickhouse %s: listing functions: %w", s.cfg.Addr, reason(err))
		}
		have[name] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse %s: listing functions: %w", s.cfg.Addr, reason(err))
	}
	var missing []string
	for _, f := range RequiredFunctions {
		if !have[f] {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s (version %s) lacks %s", ErrTooOld, s.cfg.Addr, s.version, strings.Join(missing, ", "))
	}
	return nil
}

// Kind of a column's values, for the checks of a foreign table.
type kind int

const (
	kindUInt     kind = iota // any of UInt8, UInt16, UInt32, UInt64
	kindUInt64               // UInt64 only
	kindDateTime             // DateTime
	kindAddr                 // FixedString(16): IPv6, IPv4 mapped (::ffff:a.b.c.d)
)

func (k kind) String() string {
	switch k {
	case kindUInt64:
		return "UInt64"
	case kindDateTime:
		return "DateTime"
	case kindAddr:
		return "FixedString(16)"
	}
	return "UInt8/16/32/64"
}

func (k kind) accepts(typ string) bool {
	switch k {
	case kindUInt:
		return slices.Contains([]string{"UInt8", "UInt16", "UInt32", "UInt64"}, typ)
	case kindUInt64:
		return typ == "UInt64"
	case kindDateTime:
		return typ == "DateTime" || strings.HasPrefix(typ, "DateTime(")
	}
	return typ == "FixedString(16)"
}

// Column is one column the night needs.
type Column struct {
	Name string
	Kind string // the types accepted
	Doc  string
	kind kind
	typ  string // type in fingerflow's own table
}

// Columns are the columns the night reads, in the order of fingerflow's
// own table. A table (or view) needs all of them with a type of the
// given kind; it may have more.
var Columns = []Column{
	{Name: "TimeReceived", kind: kindDateTime, typ: "DateTime", Doc: "when the record was exported (loaded files: the second of the flow's end); partitions and sorts the table"},
	{Name: "TimeFlowStartNs", kind: kindUInt64, typ: "UInt64", Doc: "first packet, ns since 1970"},
	{Name: "TimeFlowEndNs", kind: kindUInt64, typ: "UInt64", Doc: "last packet, ns since 1970"},
	{Name: "ExporterAddress", kind: kindAddr, typ: "FixedString(16)", Doc: "exporting device, IPv6 or IPv4-mapped; 16 zero bytes when unknown"},
	{Name: "SamplingRate", kind: kindUInt, typ: "UInt32", Doc: "packet sampling interval (1 every packet, 0 unknown)"},
	{Name: "SrcAddr", kind: kindAddr, typ: "FixedString(16)", Doc: "source address, IPv6 or IPv4-mapped"},
	{Name: "DstAddr", kind: kindAddr, typ: "FixedString(16)", Doc: "destination address"},
	{Name: "SrcPort", kind: kindUInt, typ: "UInt16"},
	{Name: "DstPort", kind: kindUInt, typ: "UInt16"},
	{Name: "Proto", kind: kindUInt, typ: "UInt8", Doc: "IP protocol number"},
	{Name: "TCPFlags", kind: kindUInt, typ: "UInt8", Doc: "OR of the TCP flags seen (FIN 1, SYN 2, RST 4, ...)"},
	{Name: "Bytes", kind: kindUInt, typ: "UInt64", Doc: "IP-layer bytes, source to destination"},
	{Name: "Packets", kind: kindUInt, typ: "UInt64"},
	{Name: "HasReverse", kind: kindUInt, typ: "UInt8", Doc: "1 for biflow records that report the reverse direction"},
	{Name: "RevBytes", kind: kindUInt, typ: "UInt64", Doc: "bytes destination to source (biflows)"},
	{Name: "RevPackets", kind: kindUInt, typ: "UInt64"},
	{Name: "InIf", kind: kindUInt, typ: "UInt32"},
	{Name: "OutIf", kind: kindUInt, typ: "UInt32"},
	{Name: "IPTos", kind: kindUInt, typ: "UInt8"},
	{Name: "MinTTL", kind: kindUInt, typ: "UInt8", Doc: "smallest IP TTL seen (0 unknown)"},
	{Name: "MaxTTL", kind: kindUInt, typ: "UInt8", Doc: "largest IP TTL seen (0 unknown)"},
}

// LoadColumn tags the rows of fingerflow's own table with the load that
// inserted them; a table without it is read as it is.
const LoadColumn = "LoadId"

// Check verifies that the table exists and has every column of Columns
// with an accepted type. The error names every missing or mistyped
// column on one line.
func (s *Store) Check(ctx context.Context) error {
	rows, err := s.conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", s.cfg.Database, s.cfg.Table)
	if err != nil {
		return fmt.Errorf("clickhouse %s: %s.%s: %w", s.cfg.Addr, s.cfg.Database, s.cfg.Table, reason(err))
	}
	defer rows.Close()
	types := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return fmt.Errorf("clickhouse %s: %s.%s: %w", s.cfg.Addr, s.cfg.Database, s.cfg.Table, reason(err))
		}
		types[name] = typ
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse %s: %s.%s: %w", s.cfg.Addr, s.cfg.Database, s.cfg.Table, reason(err))
	}
	if len(types) == 0 {
		return fmt.Errorf("%w: %s.%s does not exist on %s (fingerflow load --clickhouse creates it)", ErrSchema, s.cfg.Database, s.cfg.Table, s.cfg.Addr)
	}
	var missing, wrong []string
	for _, c := range Columns {
		typ, ok := types[c.Name]
		switch {
		case !ok:
			missing = append(missing, c.Name)
		case !c.kind.accepts(typ):
			wrong = append(wrong, fmt.Sprintf("%s is %s, not %s", c.Name, typ, c.kind))
		}
	}
	if len(missing)+len(wrong) > 0 {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "missing "+strings.Join(missing, ", "))
		}
		parts = append(parts, wrong...)
		return fmt.Errorf("%w: %s.%s: %s", ErrSchema, s.cfg.Database, s.cfg.Table, strings.Join(parts, "; "))
	}
	s.own = types[LoadColumn] == "UInt64"
	if s.own {
		if err := s.checkFiles(ctx); err != nil {
			return err
		}
	}
	s.checked = true
	return nil
}

// checkFiles verifies that the files table of an own table exists.
func (s *Store) checkFiles(ctx context.Context) error {
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name IN ('LoadId', 'State')",
		s.cfg.Database, s.cfg.FilesTable).Scan(&n); err != nil {
		return fmt.Errorf("clickhouse %s: %s.%s: %w", s.cfg.Addr, s.cfg.Database, s.cfg.FilesTable, reason(err))
	}
	if n != 2 {
		return fmt.Errorf("%w: %s.%s has a LoadId column but %s.%s is no table of loaded files (name it with ?files=)",
			ErrSchema, s.cfg.Database, s.cfg.Table, s.cfg.Database, s.cfg.FilesTable)
	}
	return nil
}

// Window is a time window of flows: those ending at or after Since and
// starting before Until (zero: no bound), as datasets.Filter keeps them.
type Window struct {
	Since, Until time.Time
	// Slack bounds how long after Until a flow of the window may have
	// been received (TimeReceived): it lets the server skip the later
	// days' partitions. Zero means a day, the longest flow the night
	// spreads over its seconds.
	Slack time.Duration
}

// Where is the SQL condition selecting the window's rows of the table,
// and of those only the rows of completely loaded files. It reads the
// columns by their names, unqualified.
func (s *Store) Where(w Window) string {
	var conds []string
	if !w.Since.IsZero() {
		ns := w.Since.UnixNano()
		conds = append(conds,
			fmt.Sprintf("TimeReceived >= toDateTime(%d)", floorSec(ns)),
			fmt.Sprintf("TimeFlowEndNs >= %d", max(ns, 0)))
	}
	if !w.Until.IsZero() {
		slack := w.Slack
		if slack == 0 {
			slack = 24 * time.Hour
		}
		ns := w.Until.UnixNano()
		conds = append(conds,
			fmt.Sprintf("TimeReceived < toDateTime(%d)", floorSec(ns)+int64(slack/time.Second)+1),
			fmt.Sprintf("TimeFlowStartNs < %d", max(ns, 0)))
	}
	if s.own {
		conds = append(conds, fmt.Sprintf("LoadId IN (SELECT LoadId FROM %s WHERE State = 'loaded')", s.Ident(s.cfg.FilesTable)))
	}
	if len(conds) == 0 {
		return "1"
	}
	return strings.Join(conds, " AND ")
}

func floorSec(ns int64) int64 {
	s := ns / 1e9
	if ns < 0 && ns%1e9 != 0 {
		s--
	}
	return max(s, 0)
}

// Table is the flows table's qualified name for a query.
func (s *Store) Table() string { return s.Ident(s.cfg.Table) }

// Ident is a table of the store's database, qualified and quoted.
func (s *Store) Ident(table string) string {
	return "`" + s.cfg.Database + "`.`" + table + "`"
}

// Checked reports whether Check passed.
func (s *Store) Checked() bool { return s.checked }
