package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/axiomhq/hyperloglog"

	flowstore "github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/features"
)

// exactDistinct is how many distinct peers or ports HostAggregator counts
// exactly before its HyperLogLog sketch takes over.
const exactDistinct = 16

// Hosts computes in the server the features features.HostAggregator
// gives for the window's flows: one row per internal host, sorted by
// address, and the site's totals and series. How they compare with the
// local aggregator's:
//
//   - Equal: every total (bytes, packets and flows in and out, protocol
//     bytes, flow duration, first and last, TTL counts), the site share,
//     the series' spans and means, distinct peers and ports (counted
//     exactly up to sixteen, beyond by registers equal to the local
//     HyperLogLog sketch's: the same hashes, the same estimate), and each
//     service port's flows, answers and peers (the same 256-bit bitmap).
//   - Within floating-point rounding: the per-second and per-minute values
//     (the server adds each second's shares in float64 in its own order;
//     the aggregator keeps a host's seconds in float32) and the site's
//     95th percentiles.
//   - A host's 95th percentiles: the order statistics are exact here and
//     stand for their bins of the aggregator's DDSketch
//     (features.SketchRounding), so the two agree but where the float
//     rounding of a second's sum puts it across a bin boundary. There
//     are no late records: every
//     record's seconds are placed exactly, whatever order the flows were
//     loaded in (LateRecords is 0).
//   - Order-dependent in the aggregator, so only equal when a host has few
//     enough values: the TTLs (the first four values seen are kept; here
//     the four seen earliest by flow start) and the service ports (the
//     aggregator keeps HostConfig.ServiceSlots by space-saving; here the
//     ports with answers first, then by flows).
func Hosts(ctx context.Context, st *flowstore.Store, w flowstore.Window, cfg features.HostConfig) ([]features.HostStats, features.SiteStats, Stats, error) {
	var stats Stats
	started := time.Now()
	if !st.Checked() {
		if err := st.Check(ctx); err != nil {
			return nil, features.SiteStats{}, stats, err
		}
	}
	if _, err := features.NewHostAggregator(cfg); err != nil {
		return nil, features.SiteStats{}, stats, err
	}
	q := &hostQueries{st: st, cfg: cfg, base: baseSQL(st.Table(), st.Where(w), cfg), sides: sidesSQL(st.Table(), st.Where(w), cfg),
		hosts: map[netip.Addr]*features.HostStats{}}
	var site features.SiteStats
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"site totals", func(ctx context.Context) error { return q.site(ctx, &site) }},
		{"host totals", q.totals}, {"TTLs", q.ttls}, {"distinct peers", q.peers}, {"distinct ports", q.ports},
		{"services", q.services},
		{"per-second series", func(ctx context.Context) error { return q.series(ctx, &site) }},
	}
	for _, step := range steps {
		t0, r0 := time.Now(), q.rows
		if err := step.run(ctx); err != nil {
			return nil, features.SiteStats{}, stats, err
		}
		stats.Steps = append(stats.Steps, Step{step.name, q.rows - r0, time.Since(t0)})
	}
	out := make([]features.HostStats, 0, len(q.hosts))
	for _, h := range q.hosts {
		if site.Bytes > 0 {
			h.SiteShare = float64(h.BytesIn+h.BytesOut) / float64(site.Bytes)
		}
		out = append(out, *h)
	}
	slices.SortFunc(out, func(x, y features.HostStats) int { return x.Addr.Compare(y.Addr) })
	site.Hosts = len(out)
	stats.Rows = q.rows
	stats.Elapsed = time.Since(started)
	return out, site, stats, nil
}

type hostQueries struct {
	st          *flowstore.Store
	cfg         features.HostConfig
	base, sides string
	hosts       map[netip.Addr]*features.HostStats
	seriesPks   map[netip.Addr]uint64
	rows        uint64
}

// query runs q and calls scan for each row.
func (q *hostQueries) query(ctx context.Context, what, sql string, scan func(scan func(dest ...any) error) error) error {
	n, err := q.st.Each(ctx, what, sql, scan)
	q.rows += n
	return err
}

func (q *hostQueries) host(h string) *features.HostStats {
	a := flowstore.AddrOf(h)
	hs := q.hosts[a]
	if hs == nil {
		hs = &features.HostStats{Addr: a}
		q.hosts[a] = hs
	}
	return hs
}

func (q *hostQueries) site(ctx context.Context, site *features.SiteStats) error {
	maxDur := q.cfg.MaxFlowDuration.Nanoseconds()
	sql := fmt.Sprintf(`
SELECT sumIf(1 + rev, si OR di), sumIf(by + rb, si OR di), sumIf(pk + rp, si OR di),
       minIf(s, si OR di), maxIf(e, si OR di), countIf(NOT si AND NOT di), countIf((si OR di) AND e - s > %d)
FROM (%s)`, maxDur, q.base)
	return q.query(ctx, "site totals", sql, func(scan func(...any) error) error {
		var first, last int64
		if err := scan(&site.Flows, &site.Bytes, &site.Packets, &first, &last, &site.ForeignFlows, &site.ClippedRecords); err != nil {
			return err
		}
		if site.Flows > 0 {
			site.First, site.Last = unixNano(first), unixNano(last)
		}
		return nil
	})
}

func (q *hostQueries) totals(ctx context.Context) error {
	var cls []string
	for i, c := range []string{"pr = 6", "pr = 17", "pr IN (1, 58)", "pr NOT IN (1, 6, 17, 58)"} {
		cls = append(cls, fmt.Sprintf("sumIf(by + rb, %s AND NOT (side = 2 AND same)) AS proto%d", c, i))
	}
	sql := fmt.Sprintf(`
SELECT h, min(s), max(e),
       sum(if(side = 1, by, rb)), sum(if(side = 1, rb, by)),
       sum(if(side = 1, pk, rp)), sum(if(side = 1, rp, pk)),
       sum(if(side = 1, toUInt64(1), toUInt64(rev))), sum(if(side = 1, toUInt64(rev), toUInt64(1))),
       sum(if(side = 1 OR rev = 1, e - s, 0)),
       sum(if(side = 1, toUInt64(t = 0), toUInt64(rev))),
       %s,
       sumIf(pk + rp, NOT (side = 2 AND same))
FROM (%s)
GROUP BY h`, strings.Join(cls, ", "), q.sides)
	q.seriesPks = map[netip.Addr]uint64{}
	return q.query(ctx, "host totals", sql, func(scan func(...any) error) error {
		var h string
		var first, last, dur int64
		var spk uint64
		var s features.HostStats
		if err := scan(&h, &first, &last, &s.BytesOut, &s.BytesIn, &s.PacketsOut, &s.PacketsIn, &s.FlowsOut, &s.FlowsIn,
			&dur, &s.NoTTLFlows, &s.ProtoBytes[0], &s.ProtoBytes[1], &s.ProtoBytes[2], &s.ProtoBytes[3], &spk); err != nil {
			return err
		}
		hs := q.host(h)
		s.Addr = hs.Addr
		s.First, s.Last = unixNano(first), unixNano(last)
		s.DurationOut = time.Duration(dur)
		*hs = s
		q.seriesPks[hs.Addr] = spk
		return nil
	})
}

func (q *hostQueries) ttls(ctx context.Context) error {
	sql := fmt.Sprintf(`
SELECT h, t, count(), min(s)
FROM (%s)
WHERE side = 1 AND t != 0
GROUP BY h, t
ORDER BY h, min(s), t`, q.sides)
	seen := map[netip.Addr]int{}
	err := q.query(ctx, "TTLs", sql, func(scan func(...any) error) error {
		var h string
		var t uint8
		var n uint64
		var first int64
		if err := scan(&h, &t, &n, &first); err != nil {
			return err
		}
		hs := q.host(h)
		if seen[hs.Addr]++; seen[hs.Addr] > 4 {
			hs.TTLOther += n
			return nil
		}
		hs.TTLs = append(hs.TTLs, features.TTLCount{TTL: t, Flows: n})
		return nil
	})
	for _, hs := range q.hosts {
		slices.SortFunc(hs.TTLs, func(x, y features.TTLCount) int {
			return cmp.Or(cmp.Compare(y.Flows, x.Flows), cmp.Compare(x.TTL, y.TTL))
		})
	}
	return err
}

// distinctSQL counts the distinct values of the hash hashOf of the
// column col per host, with the HyperLogLog registers of the hashes.
func (q *hostQueries) distinctSQL(col, cond string, hashOf func(defs *[]string) string) string {
	var defs []string
	h := hashOf(&defs)
	reg, rho := hllRegister(&defs, "hll", h, q.cfg.DistinctPrecision)
	return fmt.Sprintf(`
SELECT h, sum(c), groupArray((%[1]s, r))
FROM (
  SELECT h, %[1]s, max(%[2]s) AS r, count() AS c
  FROM (
    SELECT h, %[3]s, %[4]s
    FROM (SELECT DISTINCT h, %[3]s FROM (%[5]s) WHERE %[6]s)
  )
  GROUP BY h, %[1]s
)
GROUP BY h`, reg, rho, col, strings.Join(defs, ",\n    "), q.sides, cond)
}

// estimate is the distinct count HostAggregator reports for n distinct
// hashes with the given HyperLogLog registers.
func (q *hostQueries) estimate(n uint64, regs [][]any) (uint64, error) {
	if n <= exactDistinct {
		return n, nil
	}
	sk, err := hyperloglog.NewSketch(q.cfg.DistinctPrecision, false)
	if err != nil {
		return 0, err
	}
	rest := 64 - uint(q.cfg.DistinctPrecision)
	for _, r := range regs {
		reg, rho := r[0].(uint64), uint(r[1].(uint8))
		x := reg << rest
		if rho <= rest {
			x |= 1 << (rest - rho)
		}
		sk.InsertHash(x)
	}
	return sk.Estimate(), nil
}

func (q *hostQueries) distinct(ctx context.Context, what, sql string, set func(*features.HostStats, uint64)) error {
	return q.query(ctx, what, sql, func(scan func(...any) error) error {
		var h string
		var n uint64
		var regs [][]any
		if err := scan(&h, &n, &regs); err != nil {
			return err
		}
		est, err := q.estimate(n, regs)
		if err != nil {
			return err
		}
		set(q.host(h), est)
		return nil
	})
}

func (q *hostQueries) peers(ctx context.Context) error {
	sql := q.distinctSQL("peer", "1", func(defs *[]string) string { return addrHash(defs, "ph", "peer") })
	return q.distinct(ctx, "distinct peers", sql, func(h *features.HostStats, n uint64) { h.Peers = n })
}

func (q *hostQueries) ports(ctx context.Context) error {
	cond := fmt.Sprintf("(side = 1 OR rev = 1) AND pr IN (6, 17, 132) AND NOT %s", serviceSQL("hp", "pp", q.cfg.ServicePorts))
	sql := q.distinctSQL("pp", cond, func(defs *[]string) string { return portHash(defs, "pt", "pp") })
	return q.distinct(ctx, "distinct ports", sql, func(h *features.HostStats, n uint64) { h.Ports = n })
}

func (q *hostQueries) services(ctx context.Context) error {
	var defs []string
	h := addrHash(&defs, "sv", "peer")
	defs = append(defs, fmt.Sprintf("bitShiftRight(%s, 56) AS pb", h))
	var words []string
	for i := 0; i < 4; i++ {
		words = append(words, fmt.Sprintf("groupBitOr(if(intDiv(pb, 64) = %d, bitShiftLeft(toUInt64(1), pb %% 64), toUInt64(0)))", i))
	}
	sql := fmt.Sprintf(`
SELECT h, hp, pr, sum(1 + rev) AS flows, sum(answered AND NOT closed) AS answers, sum(answered AND closed) AS resets, %[1]s
FROM (
  SELECT h, hp, pr, rev, side = 1 OR rev = 1 AS answered,
         pr = 6 AND bitAnd(fl, 4) != 0 AND bitAnd(fl, 9) = 0 AS closed,
         %[2]s
  FROM (%[3]s)
  WHERE pr IN (6, 17, 132) AND %[4]s
)
GROUP BY h, hp, pr
ORDER BY h, answers > 0 DESC, flows DESC, hp, pr
LIMIT %[5]d BY h`, strings.Join(words, ", "), strings.Join(defs, ",\n         "), q.sides,
		serviceSQL("hp", "pp", q.cfg.ServicePorts), q.cfg.ServiceSlots)
	err := q.query(ctx, "services", sql, func(scan func(...any) error) error {
		var h string
		var port uint16
		var proto uint8
		var flows, answers, resets uint64
		var w [4]uint64
		if err := scan(&h, &port, &proto, &flows, &answers, &resets, &w[0], &w[1], &w[2], &w[3]); err != nil {
			return err
		}
		peers := features.LinearEstimate(w)
		if answers == 0 && (peers < q.cfg.MinServicePeers || resets > 0) {
			return nil
		}
		hs := q.host(h)
		hs.Services = append(hs.Services, features.Service{Port: port, Proto: proto, Peers: peers, Flows: flows, Answers: answers})
		return nil
	})
	for _, hs := range q.hosts {
		slices.SortFunc(hs.Services, func(x, y features.Service) int {
			return cmp.Or(cmp.Compare(y.Peers, x.Peers), cmp.Compare(y.Flows, x.Flows), cmp.Compare(x.Port, y.Port), cmp.Compare(x.Proto, y.Proto))
		})
	}
	return err
}

// series spreads every record's bytes and packets over its seconds as
// HostAggregator does, per host and for the site (host: 16 zero bytes),
// and returns per host the span, the minutes and the order statistics
// around the 95th percentile, and for the site every active second.
func (q *hostQueries) series(ctx context.Context, site *features.SiteStats) error {
	maxDur := q.cfg.MaxFlowDuration.Nanoseconds()
	zero := fixed(zero16)
	sql := fmt.Sprintf(`
SELECT h, s0, n, minutes, bytesLo, bytesHi, pktsLo, pktsHi, site
FROM (
  SELECT h, min(m0) AS s0, toUInt64(max(m1) - s0 + 1) AS n,
         groupArray((m, mb, mp)) AS minutes,
         arraySort(groupArrayArray(bs)) AS pb,
         arraySort(groupArrayArray(ps)) AS pp,
         toInt64(floor(0.95 * (n - 1))) AS lo,
         toInt64(n) - toInt64(length(pb)) AS zb,
         toInt64(n) - toInt64(length(pp)) AS zp,
         if(lo < zb, 0., pb[lo - zb + 1]) AS bytesLo, if(lo + 1 < zb, 0., pb[lo + 1 - zb + 1]) AS bytesHi,
         if(lo < zp, 0., pp[lo - zp + 1]) AS pktsLo, if(lo + 1 < zp, 0., pp[lo + 1 - zp + 1]) AS pktsHi,
         groupArrayArray(sitesecs) AS site
  FROM (
    SELECT h, intDiv(sec, 60) AS m, sum(b) AS mb, sum(p) AS mp, min(sec) AS m0, max(sec) AS m1,
           groupArrayIf(b, b > 0) AS bs, groupArrayIf(p, p > 0) AS ps,
           groupArrayIf((sec, b, p), h = %[2]s) AS sitesecs
  FROM (
      SELECT h, sec, sum(vb) AS b, sum(vp) AS p
      FROM (
        SELECT targets, s0 + k AS sec,
               least(e, (sec + 1) * 1000000000) - greatest(s2, sec * 1000000000) AS ov,
               if(d = 0, B, B * toFloat64(ov) / toFloat64(d)) AS vb,
               if(d = 0, P, P * toFloat64(ov) / toFloat64(d)) AS vp
        FROM (
          SELECT e, if(e - s > %[3]d, e - %[3]d, s) AS s2, e - s2 AS d,
                 toFloat64(by + rb) AS B, toFloat64(pk + rp) AS P,
                 intDiv(s2, 1000000000) AS s0, if(d > 0, intDiv(e - 1, 1000000000), s0) AS s1,
                 arrayConcat([%[2]s], arrayResize([sa], toUInt8(si)), arrayResize([da], toUInt8(di = 1 AND da != sa))) AS targets
          FROM (%[1]s AND (si OR di))
        )
        ARRAY JOIN range(toUInt64(s1 - s0 + 1)) AS k
      )
      ARRAY JOIN targets AS h
      GROUP BY h, sec
    )
    GROUP BY h, m
  )
  GROUP BY h
)`, q.base, zero, maxDur)
	round, err := features.SketchRounding(q.cfg.RelativeAccuracy)
	if err != nil {
		return err
	}
	return q.query(ctx, "per-second series", sql, func(scan func(...any) error) error {
		var h string
		var s0 int64
		var n uint64
		var minutes [][]any
		var bLo, bHi, pLo, pHi float64
		var secs [][]any
		if err := scan(&h, &s0, &n, &minutes, &bLo, &bHi, &pLo, &pHi, &secs); err != nil {
			return err
		}
		rank := 0.95 * float64(n-1)
		lerp := func(lo, hi float64) float64 {
			f := math.Floor(rank)
			if rank == f || n == 1 {
				return lo
			}
			return lo + (rank-f)*(hi-lo)
		}
		if h == string(zero16[:]) {
			return q.siteSeries(site, s0, int64(n), secs)
		}
		hs := q.host(h)
		var bytes uint64
		for _, b := range hs.ProtoBytes {
			bytes += b
		}
		hs.Rates = features.Rates{
			Start: time.Unix(s0, 0).UTC(), Seconds: int64(n),
			BytesMean: float64(bytes) / float64(n), PacketsMean: float64(q.seriesPks[hs.Addr]) / float64(n),
			BytesP95: lerp(round(bLo), round(bHi)), PacketsP95: lerp(round(pLo), round(pHi)),
		}
		for _, m := range minutes {
			mb, mp := m[1].(float64), m[2].(float64)
			if mb > 0 || mp > 0 {
				hs.Minutes = append(hs.Minutes, features.MinuteRate{Start: time.Unix(m[0].(int64)*60, 0).UTC(), Bytes: mb, Packets: mp})
			}
		}
		slices.SortFunc(hs.Minutes, func(x, y features.MinuteRate) int { return x.Start.Compare(y.Start) })
		return nil
	})
}

// siteSeries fills the site's rates and dense series from its active
// seconds, as HostAggregator.Site does.
func (q *hostQueries) siteSeries(site *features.SiteStats, s0, n int64, secs [][]any) error {
	site.Rates = features.Rates{
		Start: time.Unix(s0, 0).UTC(), Seconds: n,
		BytesMean: float64(site.Bytes) / float64(n), PacketsMean: float64(site.Packets) / float64(n),
	}
	var bs, ps []float64
	for _, x := range secs {
		if b := x[1].(float64); b > 0 {
			bs = append(bs, b)
		}
		if p := x[2].(float64); p > 0 {
			ps = append(ps, p)
		}
	}
	slices.Sort(bs)
	slices.Sort(ps)
	site.Rates.BytesP95 = features.ExactQuantile(bs, int(n)-len(bs), 0.95)
	site.Rates.PacketsP95 = features.ExactQuantile(ps, int(n)-len(ps), 0.95)
	if n > int64(q.cfg.MaxSeriesSpan/time.Second) {
		site.SeriesOmitted = true
		return nil
	}
	site.BytesPerSecond = make([]float64, n)
	site.PacketsPerSecond = make([]float64, n)
	for _, x := range secs {
		k := x[0].(int64) - s0
		site.BytesPerSecond[k] = x[1].(float64)
		site.PacketsPerSecond[k] = x[2].(float64)
	}
	m0, m1 := features.FloorDiv(s0, 60), features.FloorDiv(s0+n-1, 60)
	site.MinuteStart = time.Unix(m0*60, 0).UTC()
	site.BytesPerMinute = make([]float64, m1-m0+1)
	site.PacketsPerMinute = make([]float64, m1-m0+1)
	for k, v := range site.BytesPerSecond {
		site.BytesPerMinute[features.FloorDiv(s0+int64(k), 60)-m0] += v
	}
	for k, v := range site.PacketsPerSecond {
		site.PacketsPerMinute[features.FloorDiv(s0+int64(k), 60)-m0] += v
	}
	return nil
}
