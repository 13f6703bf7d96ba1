package clickhouse

import (
	"context"
	"fmt"
	"iter"
	"net/netip"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// Flows streams the window's flows in the order they were received. The
// first error ends the iteration.
func (s *Store) Flows(ctx context.Context, w Window) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		if !s.checked {
			if err := s.Check(ctx); err != nil {
				yield(datasets.Flow{}, err)
				return
			}
		}
		cols := make([]string, len(Columns))
		for i, c := range Columns {
			cols[i] = c.Name
			switch c.kind {
			case kindUInt:
				cols[i] = fmt.Sprintf("toUInt64(%s)", c.Name)
			case kindDateTime:
				cols[i] = fmt.Sprintf("toUInt32(%s)", c.Name)
			}
		}
		q := fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY TimeReceived, TimeFlowStartNs",
			strings.Join(cols, ", "), s.Table(), s.Where(w))
		rows, err := s.conn.Query(ctx, q)
		if err != nil {
			yield(datasets.Flow{}, fmt.Errorf("clickhouse %s: %s.%s: %w", s.cfg.Addr, s.cfg.Database, s.cfg.Table, reason(err)))
			return
		}
		defer rows.Close()
		var (
			recv                                uint32
			start, end                          uint64
			exporter, src, dst                  string
			sampling, sport, dport, proto, flgs uint64
			by, pk, hasRev, rby, rpk            uint64
			inIf, outIf, tos, minTTL, maxTTL    uint64
		)
		for rows.Next() {
			if err := rows.Scan(&recv, &start, &end, &exporter, &sampling, &src, &dst, &sport, &dport, &proto, &flgs,
				&by, &pk, &hasRev, &rby, &rpk, &inIf, &outIf, &tos, &minTTL, &maxTTL); err != nil {
				yield(datasets.Flow{}, fmt.Errorf("clickhouse %s: %s.%s: %w", s.cfg.Addr, s.cfg.Database, s.cfg.Table, reason(err)))
				return
			}
			f := datasets.Flow{
				Start: time.Unix(0, int64(start)).UTC(), End: time.Unix(0, int64(end)).UTC(),
				SrcAddr: addrOf(src), DstAddr: addrOf(dst), SrcPort: uint16(sport), DstPort: uint16(dport),
				Proto: uint8(proto), TCPFlags: uint8(flgs), Packets: pk, Bytes: by,
				HasReverse: hasRev != 0, RevPackets: rpk, RevBytes: rby,
				Exporter: addrOf(exporter), SamplingRate: uint32(sampling),
				InIf: uint32(inIf), OutIf: uint32(outIf), ToS: uint8(tos), MinTTL: uint8(minTTL), MaxTTL: uint8(maxTTL),
			}
			if !yield(f, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(datasets.Flow{}, fmt.Errorf("clickhouse %s: %s.%s: %w", s.cfg.Addr, s.cfg.Database, s.cfg.Table, reason(err)))
		}
	}
}

// addrOf is the address a FixedString(16) value stands for (see Addr).
func addrOf(s string) netip.Addr {
	var b [16]byte
	copy(b[:], s)
	return Addr(b)
}

// AddrOf is addrOf for the query packages: a FixedString(16) value read
// as a string.
func AddrOf(s string) netip.Addr { return addrOf(s) }

// Count is the number of the window's flows.
func (s *Store) Count(ctx context.Context, w Window) (uint64, error) {
	if !s.checked {
		if err := s.Check(ctx); err != nil {
			return 0, err
		}
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s WHERE %s", s.Table(), s.Where(w))).Scan(&n); err != nil {
		return 0, fmt.Errorf("clickhouse %s: %s.%s: %w", s.cfg.Addr, s.cfg.Database, s.cfg.Table, reason(err))
	}
	return n, nil
}

// Sampling is one exporter's packet sampling in a window.
type Sampling struct {
	Exporter netip.Addr
	Rate     uint32 // the largest rate seen
	Flows    uint64 // flows with a rate above 1
}

// Sampled lists the exporters whose flows in the window were sampled
// (SamplingRate above 1): their bytes cannot be matched against file
// sizes, and the night says so as it does for sampled files.
func (s *Store) Sampled(ctx context.Context, w Window) ([]Sampling, error) {
	if !s.checked {
		if err := s.Check(ctx); err != nil {
			return nil, err
		}
	}
	q := fmt.Sprintf("SELECT ExporterAddress, toUInt32(max(SamplingRate)), count() FROM %s WHERE %s AND SamplingRate > 1 GROUP BY ExporterAddress ORDER BY ExporterAddress",
		s.Table(), s.Where(w))
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %s.%s: %w", s.cfg.Addr, s.cfg.Database, s.cfg.Table, reason(err))
	}
	defer rows.Close()
	var out []Sampling
	for rows.Next() {
		var exp string
		var sm Sampling
		if err := rows.Scan(&exp, &sm.Rate, &sm.Flows); err != nil {
			return nil, fmt.Errorf("clickhouse %s: %w", s.cfg.Addr, reason(err))
		}
		sm.Exporter = addrOf(exp)
		out = append(out, sm)
	}
	return out, rows.Err()
}

// Files is the number of loaded files with flows in the window; 0 for a
// table fingerflow did not load (no LoadId column).
func (s *Store) Files(ctx context.Context, w Window) (int, error) {
	if !s.checked {
		if err := s.Check(ctx); err != nil {
			return 0, err
		}
	}
	if !s.own {
		return 0, nil
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT uniqExact(%s) FROM %s WHERE %s", LoadColumn, s.Table(), s.Where(w))).Scan(&n); err != nil {
		return 0, fmt.Errorf("clickhouse %s: %s.%s: %w", s.cfg.Addr, s.cfg.Database, s.cfg.Table, reason(err))
	}
	return int(n), nil
}

// Each runs the query q on the store's server and calls scan for each
// row, with the driver's Scan; it returns how many rows came back. An
// error of the query, the driver or scan is QueryError's, what saying
// what the query was for.
func (s *Store) Each(ctx context.Context, what, q string, scan func(scan func(dest ...any) error) error) (uint64, error) {
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return 0, s.QueryError(what, err)
	}
	defer rows.Close()
	var n uint64
	for rows.Next() {
		n++
		if err := scan(rows.Scan); err != nil {
			return n, s.QueryError(what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return n, s.QueryError(what, err)
	}
	return n, nil
}

// QueryError is err of a query on the flows table, in one line naming the
// server, the table and what the query was for.
func (s *Store) QueryError(what string, err error) error {
	return fmt.Errorf("clickhouse %s: %s.%s: %s: %w", s.cfg.Addr, s.cfg.Database, s.cfg.Table, what, reason(err))
}
