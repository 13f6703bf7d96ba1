// Package clickhouse counts talkers' statistics in a ClickHouse flows
// table (datasets/clickhouse) instead of in Go: the totals, the top N
// entries of each statistic in each order and the sources by accumulated
// duration, as talkers.Table counts them from the same flows, computed by
// the server with GROUP BY so that only the entries listed come back.
//
// Each record counts as in talkers: once, and once more for the reverse
// direction of a biflow that reports reverse packets (with its ports
// swapped, and zero for ICMP, whose answer type is not recorded). Ties
// are broken by the same key order, so the N entries listed are the
// same too; rates (pps, bps) are nfdump's integer rates over an entry's
// first and last millisecond, computed with the same floating-point
// operations.
package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	flowstore "github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/models/talkers"
)

// Stats says what the queries returned.
type Stats struct {
	Queries int
	Rows    uint64 // rows the server sent back
	Elapsed time.Duration
}

// Count computes cfg's statistics over the window's flows of st.
func Count(ctx context.Context, st *flowstore.Store, w flowstore.Window, cfg talkers.Config) (talkers.Result, Stats, error) {
	started := time.Now()
	q := &queries{st: st, dirs: dirsSQL(st.Table(), st.Where(w))}
	var res talkers.Result
	if _, err := talkers.New(cfg); err != nil {
		return res, q.stats, err
	}
	if !st.Checked() {
		if err := st.Check(ctx); err != nil {
			return res, q.stats, err
		}
	}
	if err := q.totals(ctx, &res.Totals); err != nil {
		return res, q.stats, err
	}
	for _, s := range cfg.Stats {
		k := keyed(s, q.dirs)
		distinct, err := q.distinct(ctx, k)
		if err != nil {
			return res, q.stats, err
		}
		for _, o := range s.Orders {
			entries, err := q.top(ctx, k, o, cfg.N)
			if err != nil {
				return res, q.stats, err
			}
			res.Tops = append(res.Tops, talkers.Top{Stat: s, Order: o, Entries: entries, Distinct: distinct})
		}
	}
	if cfg.Sources > 0 {
		if err := q.sources(ctx, cfg.Sources, &res); err != nil {
			return res, q.stats, err
		}
	}
	q.stats.Elapsed = time.Since(started)
	return res, q.stats, nil
}

// dirsSQL is one row per direction talkers counts: a for the sender, b
// for the receiver, their ports ap and bp, the protocol pr, the
// direction's packets pk and bytes by, and the record's start s and end
// e in ns.
func dirsSQL(table, where string) string {
	return fmt.Sprintf(`
SELECT if(r = 0, SrcAddr, DstAddr) AS a, if(r = 0, DstAddr, SrcAddr) AS b,
       toUInt16(if(r = 0, toUInt64(SrcPort), if(ic, toUInt64(0), toUInt64(DstPort)))) AS ap,
       toUInt16(if(r = 0, toUInt64(DstPort), if(ic, toUInt64(0), toUInt64(SrcPort)))) AS bp,
       toUInt8(Proto) AS pr,
       if(r = 0, toUInt64(Packets), toUInt64(RevPackets)) AS pk, if(r = 0, toUInt64(Bytes), toUInt64(RevBytes)) AS by,
       toInt64(TimeFlowStartNs) AS s, toInt64(TimeFlowEndNs) AS e
FROM (
  SELECT SrcAddr, DstAddr, SrcPort, DstPort, Proto, Packets, Bytes, RevPackets, RevBytes,
         TimeFlowStartNs, TimeFlowEndNs, toUInt8(Proto) IN (1, 58) AS ic,
         arrayJoin(if(HasReverse != 0 AND RevPackets > 0, [0, 1], [0])) AS r
  FROM %s
  WHERE %s)`, table, where)
}

// keyedQuery is a statistic's rows: the key columns (ka the address, kp
// the port, kpr the protocol, kd and kdp the conversation's destination)
// that it uses, beside the direction's counters.
type keyedQuery struct {
	sql  string
	cols []string // the key columns used, in talkers' key order
	addr map[string]bool
}

// keyed is the rows statistic s counts: one per direction, two for the
// elements that count a direction under both its ends (ip, port).
func keyed(s talkers.Stat, dirs string) keyedQuery {
	var sel []string
	k := keyedQuery{addr: map[string]bool{}}
	add := func(expr, col string, addr bool) {
		sel = append(sel, expr+" AS "+col)
		k.cols = append(k.cols, col)
		k.addr[col] = addr
	}
	switch s.Element {
	case talkers.SrcIP:
		add("a", "ka", true)
	case talkers.DstIP:
		add("b", "ka", true)
	case talkers.IP:
		add("arrayJoin([a, b])", "ka", true)
	case talkers.SrcPort:
		add("ap", "kp", false)
	case talkers.DstPort:
		add("bp", "kp", false)
	case talkers.Port:
		add("arrayJoin([ap, bp])", "kp", false)
	case talkers.Service:
		add("if(pr IN (6, 17, 132), least(ap, bp), toUInt16(0))", "kp", false)
	case talkers.Record:
		add("a", "ka", true)
		add("ap", "kp", false)
	}
	if s.ByProto || s.Element == talkers.Service || s.Element == talkers.Proto || s.Element == talkers.Record {
		add("pr", "kpr", false)
	}
	if s.Element == talkers.Record {
		add("b", "kd", true)
		add("bp", "kdp", false)
	}
	k.sql = fmt.Sprintf("SELECT %s, pk, by, s, e FROM (%s)", strings.Join(sel, ", "), dirs)
	return k
}

// order is the ORDER BY of the key columns as talkers compares keys:
// addresses by family (none, IPv4, IPv6), then bytes.
func (k keyedQuery) order() string {
	var parts []string
	for _, c := range k.cols {
		if k.addr[c] {
			parts = append(parts, familySQL(c))
		}
		parts = append(parts, c)
	}
	return strings.Join(parts, ", ")
}

// familySQL orders the 16-byte address column col as netip.Addr.Compare
// orders addresses: none (all zero bytes) first, then IPv4 (stored
// mapped), then IPv6.
func familySQL(col string) string {
	return fmt.Sprintf("multiIf(%[1]s = toFixedString(unhex('00000000000000000000000000000000'), 16), 0, substring(%[1]s, 1, 12) = unhex('00000000000000000000FFFF'), 1, 2)", col)
}

// valueSQL is the value of order o over the aggregates fl (flows), pks,
// bys, and ms (the entry's last less first millisecond).
func valueSQL(o talkers.Order) string {
	switch o {
	case talkers.Packets:
		return "pks"
	case talkers.Bytes:
		return "bys"
	case talkers.PPS:
		return "if(ms <= 0, toUInt64(0), toUInt64(pks / (ms / 1000)))"
	case talkers.BPS:
		return "if(ms <= 0, toUInt64(0), toUInt64((8 * bys) / (ms / 1000)))"
	case talkers.BPP:
		return "if(pks = 0, toUInt64(0), intDiv(bys, pks))"
	}
	return "fl"
}

type queries struct {
	st    *flowstore.Store
	dirs  string
	stats Stats
}

// query runs sql and calls scan for each row.
func (q *queries) query(ctx context.Context, what, sql string, scan func(scan func(dest ...any) error) error) error {
	q.stats.Queries++
	n, err := q.st.Each(ctx, what, sql, scan)
	q.stats.Rows += n
	return err
}

func (q *queries) totals(ctx context.Context, c *talkers.Counts) error {
	return q.query(ctx, "totals", fmt.Sprintf("SELECT count(), sum(pk), sum(by), min(s), max(e) FROM (%s)", q.dirs),
		func(scan func(...any) error) error {
			var first, last int64
			if err := scan(&c.Flows, &c.Packets, &c.Bytes, &first, &last); err != nil {
				return err
			}
			if c.Flows > 0 {
				c.First, c.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
			}
			return nil
		})
}

func (q *queries) distinct(ctx context.Context, k keyedQuery) (int, error) {
	var n uint64
	err := q.query(ctx, "distinct entries", fmt.Sprintf("SELECT uniqExact(%s) FROM (%s)", strings.Join(k.cols, ", "), k.sql),
		func(scan func(...any) error) error { return scan(&n) })
	return int(n), err
}

// top reads the n first entries of k in order o (all when n is 0).
func (q *queries) top(ctx context.Context, k keyedQuery, o talkers.Order, n int) ([]talkers.Entry, error) {
	limit := ""
	if n > 0 {
		limit = fmt.Sprintf(" LIMIT %d", n)
	}
	sql := fmt.Sprintf(`
SELECT %[1]s, fl, pks, bys, f, l
FROM (
  SELECT %[1]s, count() AS fl, sum(pk) AS pks, sum(by) AS bys, min(s) AS f, max(e) AS l,
         intDiv(l, 1000000) - intDiv(f, 1000000) AS ms, %[2]s AS v
  FROM (%[3]s)
  GROUP BY %[1]s)
ORDER BY v DESC, %[4]s%[5]s`, strings.Join(k.cols, ", "), valueSQL(o), k.sql, k.order(), limit)
	var out []talkers.Entry
	dest := make([]any, len(k.cols)+5)
	strs := make([]string, len(k.cols))
	ports := make([]uint16, len(k.cols))
	var proto uint8
	for i, c := range k.cols {
		switch {
		case k.addr[c]:
			dest[i] = &strs[i]
		case c == "kpr":
			dest[i] = &proto
		default:
			dest[i] = &ports[i]
		}
	}
	var e talkers.Entry
	var first, last int64
	dest[len(k.cols)], dest[len(k.cols)+1], dest[len(k.cols)+2] = &e.Flows, &e.Packets, &e.Bytes
	dest[len(k.cols)+3], dest[len(k.cols)+4] = &first, &last
	err := q.query(ctx, "top entries", sql, func(scan func(...any) error) error {
		if err := scan(dest...); err != nil {
			return err
		}
		var key talkers.Key
		for i, c := range k.cols {
			switch c {
			case "ka":
				key.Addr = flowstore.AddrOf(strs[i])
			case "kd":
				key.Dst = flowstore.AddrOf(strs[i])
			case "kp":
				key.Port = ports[i]
			case "kdp":
				key.DstPort = ports[i]
			case "kpr":
				key.Proto = proto
			}
		}
		x := e
		x.Key = key
		x.First, x.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		out = append(out, x)
		return nil
	})
	return out, err
}

// sources reads the n sources of the longest accumulated duration (ties:
// more flows, then the smaller address) and how many there are.
func (q *queries) sources(ctx context.Context, n int, res *talkers.Result) error {
	var distinct uint64
	if err := q.query(ctx, "distinct sources", fmt.Sprintf("SELECT uniqExact(a) FROM (%s)", q.dirs),
		func(scan func(...any) error) error { return scan(&distinct) }); err != nil {
		return err
	}
	res.SourcesDistinct = int(distinct)
	sql := fmt.Sprintf(`
SELECT a, d, c, pks, bys
FROM (
  SELECT a, sum(if(e >= s, e - s, s - e)) AS d, count() AS c, sum(pk) AS pks, sum(by) AS bys
  FROM (%s)
  GROUP BY a)
ORDER BY d DESC, c DESC, %s, a
LIMIT %d`, q.dirs, familySQL("a"), n)
	return q.query(ctx, "sources", sql, func(scan func(...any) error) error {
		var a string
		var d int64
		var s talkers.Source
		if err := scan(&a, &d, &s.Count, &s.Packets, &s.Bytes); err != nil {
			return err
		}
		s.Addr, s.Duration = flowstore.AddrOf(a), time.Duration(d)
		res.Sources = append(res.Sources, s)
		return nil
	})
}
