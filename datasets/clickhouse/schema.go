package clickhouse

import (
	"context"
	"fmt"
	"strings"
)

// FlowsDDL is the statement that creates fingerflow's flows table named
// table (qualified): partitioned by day, sorted by hour, then source and
// destination address, so that a time window reads only its days and a
// host's flows lie together within each hour.
func FlowsDDL(table string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (\n", table)
	for _, c := range Columns {
		fmt.Fprintf(&b, "    %s %s,\n", c.Name, c.typ)
	}
	fmt.Fprintf(&b, "    %s UInt64\n", LoadColumn)
	b.WriteString(") ENGINE = MergeTree\nPARTITION BY toYYYYMMDD(TimeReceived)\nORDER BY (toStartOfHour(TimeReceived), SrcAddr, DstAddr, TimeReceived)")
	return b.String()
}

// FilesDDL creates the table of loaded files named table (qualified). A
// load writes a row with State 'loading' before its first flow and one
// with 'loaded' after its last; a load that failed, or was killed, is
// 'discarded' once its rows are deleted.
func FilesDDL(table string) string {
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
    FileHash String,
    Path String,
    Size UInt64,
    Format String,
    Records UInt64,
    LoadId UInt64,
    State Enum8('loading' = 1, 'loaded' = 2, 'discarded' = 3),
    Time DateTime
) ENGINE = MergeTree
ORDER BY (FileHash, LoadId)`, table)
}

// CreateSchema creates the database, the flows table and the files table
// where they do not exist yet, and checks them.
func (s *Store) CreateSchema(ctx context.Context) error {
	stmts := []string{
		fmt.Sprintf("CREATE DATABASE IF NOT EXISTS `%s`", s.cfg.Database),
		FlowsDDL(s.Table()),
		FilesDDL(s.Ident(s.cfg.FilesTable)),
	}
	for _, q := range stmts {
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("clickhouse %s: creating %s.%s: %w", s.cfg.Addr, s.cfg.Database, s.cfg.Table, reason(err))
		}
	}
	return s.Check(ctx)
}
