package clickhouse

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	flowstore "github.com/fingerflow/fingerflow/datasets/clickhouse"
)

// Match is a condition on a flow record whose matches Matches counts per
// internal source host: the conditions of the OS hints' talks, serves and
// net rules (inventory.HintCounter's, which counts them locally).
type Match struct {
	// Proto, when not 0, is the record's protocol; DstPort and SrcPort,
	// when not 0, its ports.
	Proto            uint8
	DstPort, SrcPort uint16
	// Serves asks that the source port be below the destination port (the
	// source answers on a service port).
	Serves bool
	// DstNet, when valid, holds the destination.
	DstNet netip.Prefix
}

// sql is the match as a condition on the table's columns.
func (m Match) sql() string {
	conds := []string{"1"}
	if m.Proto != 0 {
		conds = append(conds, fmt.Sprintf("Proto = %d", m.Proto))
	}
	if m.DstPort != 0 {
		conds = append(conds, fmt.Sprintf("DstPort = %d", m.DstPort))
	}
	if m.SrcPort != 0 {
		conds = append(conds, fmt.Sprintf("SrcPort = %d", m.SrcPort))
	}
	if m.Serves {
		conds = append(conds, "SrcPort < DstPort")
	}
	if m.DstNet.IsValid() {
		conds = append(conds, internalSQL("DstAddr", []netip.Prefix{m.DstNet}))
	}
	return "(" + strings.Join(conds, " AND ") + ")"
}

// Matches counts, for every internal host (a source address in one of
// internal), the window's flow records it sent that satisfy each of ms.
// Hosts that matched none are left out; a host's counts are in the order
// of ms.
func Matches(ctx context.Context, st *flowstore.Store, w flowstore.Window, internal []netip.Prefix, ms []Match) (map[netip.Addr][]uint64, Stats, error) {
	started := time.Now()
	var stats Stats
	out := map[netip.Addr][]uint64{}
	if len(ms) == 0 {
		return out, stats, nil
	}
	if !st.Checked() {
		if err := st.Check(ctx); err != nil {
			return nil, stats, err
		}
	}
	counts := make([]string, len(ms))
	ors := make([]string, len(ms))
	for i, m := range ms {
		ors[i] = m.sql()
		counts[i] = "countIf(" + ors[i] + ")"
	}
	q := fmt.Sprintf("SELECT SrcAddr, %s FROM %s WHERE %s AND %s AND (%s) GROUP BY SrcAddr",
		strings.Join(counts, ", "), st.Table(), st.Where(w), internalSQL("SrcAddr", internal), strings.Join(ors, " OR "))
	n, err := st.Each(ctx, "hint matches", q, func(scan func(...any) error) error {
		var src string
		ns := make([]uint64, len(ms))
		dest := make([]any, 1+len(ms))
		dest[0] = &src
		for i := range ns {
			dest[1+i] = &ns[i]
		}
		if err := scan(dest...); err != nil {
			return err
		}
		out[flowstore.AddrOf(src).Unmap()] = ns
		return nil
	})
	stats.Rows = n
	if err != nil {
		return nil, stats, err
	}
	stats.Elapsed = time.Since(started)
	stats.Steps = []Step{{"hint matches", stats.Rows, stats.Elapsed}}
	return out, stats, nil
}
