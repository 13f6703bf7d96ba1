// Package clickhouse computes the night's per-flow features inside
// ClickHouse, over a table that datasets/clickhouse describes: the
// download candidates (server-to-client TCP transfers, the records of
// each connection joined across active-timeout splits, with the reverse
// direction) and the per-host feature rows and site series that
// features.HostAggregator gives locally. Only those come back; the
// flows stay in the server. What the local code computes with sketches
// (quantiles, distinct counts beyond sixteen) or in the order the flows
// arrive is documented where the two differ (see Hosts).
package clickhouse

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	flowstore "github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/features"
)

// Stats says what a query read and returned.
type Stats struct {
	Rows    uint64        // rows returned to the client
	Elapsed time.Duration // wall time of the queries
	Steps   []Step        // each query's share
}

// Step is one query's rows and time.
type Step struct {
	Name    string
	Rows    uint64
	Elapsed time.Duration
}

// connectionsSQL assembles the window's TCP connections in the server.
//
// Records are made direction-free (a is the lesser endpoint, d is 1 when
// the record runs b → a) and grouped per exporter and 5-tuple (keyed by
// two 64-bit hashes of it, which old servers group far faster than the
// 52 bytes themselves); within a group, duplicates are dropped (a file
// and its copy, an export collected twice). Groups whose records carry
// both directions and fewer than MinBytes in all are left out at once:
// none of their connections can be a download, nor, having both
// directions, a NAT partner (but for a 5-tuple reused after a gap with
// one direction missing from one use, which this drops). Within a group, sorted by start, a record starts a new
// connection when it starts after every earlier record ended (a gap)
// and either the gap exceeds Gap or a record since the previous gap
// closed the connection (FIN or RST). The running maximum of the ends is
// computed without a recursive step: with D_i = M_i - end_i,
// D_i = max(D_{i-1} + end_{i-1} - end_i, 0), which arrayCumSumNonNegative
// gives. Each connection is then one row with both halves, and rows are
// kept when they can give a download: two-way connections with MinBytes
// in one direction, one-way connections with MinBytes or another one-way
// connection sharing the server endpoint and client port (a NAT partner,
// paired by features.DownloadsOf).
const connectionsSQL = `
SELECT m.1, m.2, m.3, m.4, m.5, m.6, m.7, m.8, m.9,
       m.10, m.11, m.12, m.13, m.14, m.15, m.16, m.17, m.18
FROM (
  SELECT groupArray((ka, kap, kb, kbp, kexp, sid, cstart, cend, nrec, samp,
                     seen0, pk0, by0, fl0, seen1, pk1, by1, fl1)) AS members,
         max(greatest(by0, by1)) AS big, count() AS n
  FROM (
    SELECT k1, k2, sid, any(xa) AS ka, any(xap) AS kap, any(xb) AS kb, any(xbp) AS kbp, any(xexp) AS kexp,
           min(r.1) AS cstart, max(r.2) AS cend, count() AS nrec, argMin(r.10, idx) AS samp,
           countIf(r.3 = 0 OR r.7 = 1) > 0 AS seen0,
           sumIf(r.5, r.3 = 0) + sumIf(r.8, r.3 = 1 AND r.7 = 1) AS pk0,
           sumIf(r.6, r.3 = 0) + sumIf(r.9, r.3 = 1 AND r.7 = 1) AS by0,
           groupBitOrIf(r.4, r.3 = 0 OR r.7 = 1) AS fl0,
           countIf(r.3 = 1 OR r.7 = 1) > 0 AS seen1,
           sumIf(r.5, r.3 = 1) + sumIf(r.8, r.3 = 0 AND r.7 = 1) AS pk1,
           sumIf(r.6, r.3 = 1) + sumIf(r.9, r.3 = 0 AND r.7 = 1) AS by1,
           groupBitOrIf(r.4, r.3 = 1 OR r.7 = 1) AS fl1
    FROM (
      SELECT k1, k2, xa, xap, xb, xbp, xexp, recs,
             arrayMap(x -> x.1, recs) AS ss,
             arrayMap(x -> x.2, recs) AS es,
             arrayEnumerate(recs) AS ix,
             arrayMap(x -> bitAnd(x.4, 5) != 0, recs) AS closes,
             arrayCumSumNonNegative(arrayMap((y, j) -> if(j = 1, toInt64(0), es[j - 1] - y), es, ix)) AS dd,
             arrayMap((x, v) -> x + v, es, dd) AS runmax,
             arrayMap(i -> i = 1 OR ss[i] > runmax[i - 1], ix) AS gap,
             arrayMap(i -> i > 1 AND ss[i] > runmax[i - 1] + %[2]d, ix) AS hard,
             arrayCumSum(closes) AS ccl,
             arrayFilter(i -> gap[i] = 1, ix) AS gpos,
             arrayMap(j -> j = 1 OR hard[gpos[j]] = 1 OR (ccl[gpos[j] - 1] - if(gpos[j - 1] <= 1, toUInt64(0), ccl[gpos[j - 1] - 1])) > 0,
                      arrayEnumerate(gpos)) AS gbound,
             arrayCumSum(gap) AS gidx,
             arrayCumSum(arrayMap(i -> gap[i] = 1 AND gbound[gidx[i]] = 1, ix)) AS sids
      FROM (
        SELECT k1, k2, xa, xap, xb, xbp, xexp, arrayFilter((x, u) -> u = 1, sorted, arrayEnumerateUniq(sorted)) AS recs
        FROM (
          SELECT cityHash64(ka, kap, kb, kbp, kexp) AS k1, sipHash64(ka, kap, kb, kbp, kexp) AS k2,
                 any(ka) AS xa, any(kap) AS xap, any(kb) AS xb, any(kbp) AS xbp, any(kexp) AS xexp,
                 arraySort(groupArray((s, e, d, flags, pk, by, rev, rpk, rby, sampling))) AS sorted
          FROM (
            SELECT DstAddr < SrcAddr OR (DstAddr = SrcAddr AND toUInt16(DstPort) < toUInt16(SrcPort)) AS d,
                   if(d, DstAddr, SrcAddr) AS ka, if(d, toUInt16(DstPort), toUInt16(SrcPort)) AS kap,
                   if(d, SrcAddr, DstAddr) AS kb, if(d, toUInt16(SrcPort), toUInt16(DstPort)) AS kbp,
                   ExporterAddress AS kexp,
                   least(toInt64(TimeFlowStartNs), toInt64(TimeFlowEndNs)) AS s,
                   greatest(toInt64(TimeFlowStartNs), toInt64(TimeFlowEndNs)) AS e,
                   toUInt8(TCPFlags) AS flags, toUInt64(Packets) AS pk, toUInt64(Bytes) AS by,
                   toUInt8(HasReverse != 0) AS rev, toUInt64(RevPackets) AS rpk, toUInt64(RevBytes) AS rby,
                   toUInt32(SamplingRate) AS sampling
            FROM %[1]s
            WHERE toUInt8(Proto) = 6 AND %[3]s
          )
          GROUP BY k1, k2
          HAVING sum(by + rby) >= %[4]d OR (min(d) = max(d) AND max(rev) = 0)
        )
      )
    )
    ARRAY JOIN recs AS r, sids AS sid, ix AS idx
    -- ClickHouse 18.16 does not see the arrays a lambda reads by index
    -- as needed, and leaves them out when this level does not name them.
    WHERE length(ss) + length(es) + length(runmax) + length(gap) + length(hard)
          + length(ccl) + length(gpos) + length(gbound) + length(gidx) > 0
    GROUP BY k1, k2, sid
    HAVING NOT (seen0 AND seen1) OR greatest(by0, by1) >= %[4]d
  )
  ARRAY JOIN if(seen0 AND seen1,
                [(toUInt8(2), k1, k2, sid)],
                [(toUInt8(1), cityHash64(ka, kap, kbp), sipHash64(ka, kap, kbp), toUInt64(0)),
                 (toUInt8(1), cityHash64(kb, kbp, kap), sipHash64(kb, kbp, kap), toUInt64(0))]) AS nk
  GROUP BY nk
  HAVING big >= %[4]d OR (nk.1 = 1 AND n > 1)
)
ARRAY JOIN members AS m
`

// Connections returns the window's connections that can give a download
// (see connectionsSQL), assembled in the server.
func Connections(ctx context.Context, st *flowstore.Store, w flowstore.Window, cfg features.Config) ([]features.Connection, Stats, error) {
	started := time.Now()
	if !st.Checked() {
		if err := st.Check(ctx); err != nil {
			return nil, Stats{}, err
		}
	}
	q := fmt.Sprintf(connectionsSQL, st.Table(), cfg.Gap.Nanoseconds(), st.Where(w), cfg.MinBytes)
	type key struct {
		a, b     netip.AddrPort
		exporter netip.Addr
		sid      uint64
	}
	seen := map[key]bool{}
	var out []features.Connection
	var stats Stats
	n, err := st.Each(ctx, "download candidates", q, func(scan func(...any) error) error {
		var (
			ka, kb, kexp       string
			kap, kbp           uint16
			sid, nrec          uint64
			cstart, cend       int64
			samp               uint32
			seen0, seen1       uint8
			pk0, by0, pk1, by1 uint64
			fl0, fl1           uint8
		)
		if err := scan(&ka, &kap, &kb, &kbp, &kexp, &sid, &cstart, &cend, &nrec, &samp,
			&seen0, &pk0, &by0, &fl0, &seen1, &pk1, &by1, &fl1); err != nil {
			return err
		}
		c := features.Connection{
			A:        netip.AddrPortFrom(flowstore.AddrOf(ka), kap),
			B:        netip.AddrPortFrom(flowstore.AddrOf(kb), kbp),
			Exporter: flowstore.AddrOf(kexp),
			Records:  int(nrec), Sampling: samp,
			Start: unixNano(cstart), End: unixNano(cend),
			Dir: [2]features.ConnectionHalf{
				{Seen: seen0 != 0, Packets: pk0, Bytes: by0, Flags: fl0},
				{Seen: seen1 != 0, Packets: pk1, Bytes: by1, Flags: fl1},
			},
		}
		k := key{c.A, c.B, c.Exporter, sid}
		if seen[k] {
			return nil // a one-way connection kept under both of its roles
		}
		seen[k] = true
		out = append(out, c)
		return nil
	})
	stats.Rows = n
	if err != nil {
		return nil, stats, err
	}
	stats.Elapsed = time.Since(started)
	stats.Steps = []Step{{"download candidates", stats.Rows, stats.Elapsed}}
	return out, stats, nil
}

// Downloads are the window's downloads, as features.Extractor finds them
// in the same flows: the connections assembled in the server, paired and
// selected by features.DownloadsOf.
func Downloads(ctx context.Context, st *flowstore.Store, w flowstore.Window, cfg features.Config) ([]features.Download, Stats, error) {
	cs, stats, err := Connections(ctx, st, w, cfg)
	if err != nil {
		return nil, stats, err
	}
	return features.DownloadsOf(cfg, cs), stats, nil
}

func unixNano(ns int64) time.Time { return time.Unix(0, ns).UTC() }
