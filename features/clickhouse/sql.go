package clickhouse

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	"github.com/fingerflow/fingerflow/features"
)

// This file writes the SQL expressions the host queries share: the test
// for the site's internal networks and the 64-bit hashes
// features.HostAggregator gives addresses and ports, so that distinct
// counts and the per-port peer bitmaps come out bit for bit the same.

// fixed is a 16-byte literal.
func fixed(b [16]byte) string {
	return fmt.Sprintf("toFixedString(unhex('%s'), 16)", strings.ToUpper(hex.EncodeToString(b[:])))
}

var (
	zero16      [16]byte
	mapped0     = netip.MustParseAddr("::ffff:0.0.0.0").As16()
	mapped1     = netip.MustParseAddr("::ffff:255.255.255.255").As16()
	mappedBytes = `unhex('00000000000000000000FFFF')`
)

// prefixRange is the first and last address of p, as the table stores
// them (IPv4 mapped).
func prefixRange(p netip.Prefix) (lo, hi [16]byte) {
	p = p.Masked()
	lo = p.Addr().As16()
	hi = lo
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	for i := bits; i < 128; i++ {
		hi[i/8] |= 0x80 >> (i % 8)
	}
	return lo, hi
}

// internalSQL is a condition true when the 16-byte column col holds an
// address inside one of nets. IPv6 networks never take in IPv4-mapped
// addresses (HostAggregator tests IPv4 addresses against the IPv4
// networks only), and the all-zero value (no address) is never inside.
func internalSQL(col string, nets []netip.Prefix) string {
	var ors []string
	for _, p := range nets {
		lo, hi := prefixRange(p)
		c := fmt.Sprintf("(%s >= %s AND %s <= %s)", col, fixed(lo), col, fixed(hi))
		if !p.Addr().Is4() {
			if string(lo[:]) <= string(mapped1[:]) && string(hi[:]) >= string(mapped0[:]) {
				c = fmt.Sprintf("(%s AND substring(%s, 1, 12) != %s)", c, col, mappedBytes)
			}
			if lo == zero16 {
				c = fmt.Sprintf("(%s AND %s != %s)", c, col, fixed(zero16))
			}
		}
		ors = append(ors, c)
	}
	if len(ors) == 0 {
		return "0"
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// mix64 appends the aliases that compute MurmurHash3's finaliser of the
// UInt64 expression x under names prefix_0 to prefix_3 and returns the
// last name (features' mix64).
func mix64(defs *[]string, prefix, x string) string {
	n := func(i int) string { return fmt.Sprintf("%s_%d", prefix, i) }
	*defs = append(*defs,
		fmt.Sprintf("toUInt64(%s) AS %s", x, n(0)),
		fmt.Sprintf("bitXor(%[1]s, bitShiftRight(%[1]s, 33)) * 18397679294719823053 AS %[2]s", n(0), n(1)),
		fmt.Sprintf("bitXor(%[1]s, bitShiftRight(%[1]s, 33)) * 14181476777654086739 AS %[2]s", n(1), n(2)),
		fmt.Sprintf("bitXor(%[1]s, bitShiftRight(%[1]s, 33)) AS %[2]s", n(2), n(3)),
	)
	return n(3)
}

// addrHash appends the aliases that hash the 16-byte address column col
// as HostAggregator.host does (IPv4: mix64(addr | 1<<32); IPv6:
// mix64(hi ^ mix64(lo ^ 0x9e3779b97f4a7c15))) and returns the name of
// the hash.
func addrHash(defs *[]string, prefix, col string) string {
	v4 := mix64(defs, prefix+"_v4", fmt.Sprintf("toUInt64(reinterpretAsUInt32(reverse(substring(%s, 13, 4)))) + 4294967296", col))
	lo := mix64(defs, prefix+"_lo", fmt.Sprintf("bitXor(reinterpretAsUInt64(reverse(substring(%s, 9, 8))), 11400714819323198485)", col))
	v6 := mix64(defs, prefix+"_v6", fmt.Sprintf("bitXor(reinterpretAsUInt64(reverse(substring(%s, 1, 8))), %s)", col, lo))
	name := prefix + "_h"
	*defs = append(*defs, fmt.Sprintf("if(substring(%s, 1, 12) = %s, %s, %s) AS %s", col, mappedBytes, v4, v6, name))
	return name
}

// portHash appends the aliases that hash a port as HostAggregator does
// for distinct ports (mix64(port | 0xa5<<56)).
func portHash(defs *[]string, prefix, port string) string {
	return mix64(defs, prefix, fmt.Sprintf("toUInt64(%s) + 11889503016258109440", port))
}

// hllRegister appends the aliases of the HyperLogLog register (the top p
// bits) and rank (one more than the leading zeros of the rest) of hash h,
// as github.com/axiomhq/hyperloglog computes them, and returns their
// names.
func hllRegister(defs *[]string, prefix, h string, p uint8) (reg, rho string) {
	rest := 64 - int(p)
	v := prefix + "_v"
	*defs = append(*defs,
		fmt.Sprintf("bitShiftRight(%s, %d) AS %s_reg", h, rest, prefix),
		fmt.Sprintf("bitAnd(%s, %d) AS %s", h, uint64(1)<<rest-1, v),
	)
	// The highest set bit of v, exactly: log2 of a 32-bit half, corrected
	// where the floating-point logarithm rounds across a power of two.
	top := func(u string) string {
		f := fmt.Sprintf("floor(log2(toFloat64(%s)))", u)
		return fmt.Sprintf("if(exp2(%[1]s) > %[2]s, %[1]s - 1, if(exp2(%[1]s + 1) <= %[2]s, %[1]s + 1, %[1]s))", f, u)
	}
	hi, lo := fmt.Sprintf("bitShiftRight(%s, 32)", v), fmt.Sprintf("bitAnd(%s, 4294967295)", v)
	*defs = append(*defs,
		fmt.Sprintf("toUInt8(if(%[1]s = 0, %[2]d, %[3]d - if(%[4]s > 0, 32 + %[5]s, %[6]s))) AS %[7]s_rho",
			v, rest+1, rest, hi, top(hi), top(lo), prefix))
	return prefix + "_reg", prefix + "_rho"
}

// serviceSQL is a condition true when a flow from port from to port to
// is a service's traffic (features: served).
func serviceSQL(from, to string, ports []uint16) string {
	is := func(p string) string {
		if len(ports) == 0 {
			return fmt.Sprintf("%s < 1024", p)
		}
		list := make([]string, len(ports))
		for i, x := range ports {
			list[i] = fmt.Sprint(x)
		}
		return fmt.Sprintf("(%s < 1024 OR %s IN (%s))", p, p, strings.Join(list, ", "))
	}
	return fmt.Sprintf("(%s >= 1024 AND %s AND NOT %s)", to, is(from), is(to))
}

// baseSQL is the window's flows with the columns the host queries
// read: the record's counters (reverse ones only when the record reports
// reverse traffic), its span s..e in ns, its TTL t (MaxTTL, else MinTTL)
// and whether its source (si) and destination (di) are internal.
func baseSQL(table, where string, cfg features.HostConfig) string {
	return fmt.Sprintf(`
  SELECT SrcAddr AS sa, DstAddr AS da, toUInt16(SrcPort) AS sp, toUInt16(DstPort) AS dp,
         toUInt8(Proto) AS pr, toUInt8(TCPFlags) AS fl, toUInt64(Bytes) AS by, toUInt64(Packets) AS pk,
         toUInt8(HasReverse != 0 AND (RevPackets > 0 OR RevBytes > 0)) AS rev,
         if(rev = 1, toUInt64(RevBytes), toUInt64(0)) AS rb, if(rev = 1, toUInt64(RevPackets), toUInt64(0)) AS rp,
         least(toInt64(TimeFlowStartNs), toInt64(TimeFlowEndNs)) AS s,
         greatest(toInt64(TimeFlowStartNs), toInt64(TimeFlowEndNs)) AS e,
         if(toUInt8(MaxTTL) != 0, toUInt8(MaxTTL), toUInt8(MinTTL)) AS t,
         %[3]s AS si, %[4]s AS di
  FROM %[1]s
  WHERE %[2]s`, table, where, internalSQL("SrcAddr", cfg.Internal), internalSQL("DstAddr", cfg.Internal))
}

// sidesSQL is baseSQL's flows with an internal endpoint, one row per
// internal endpoint (side 1: the source, side 2: the destination): h is
// the host, peer the other endpoint, hp and pp their ports, same is true
// when both endpoints are the host.
func sidesSQL(table, where string, cfg features.HostConfig) string {
	return fmt.Sprintf(`
SELECT side, if(side = 1, sa, da) AS h, if(side = 1, da, sa) AS peer,
       if(side = 1, sp, dp) AS hp, if(side = 1, dp, sp) AS pp, sa = da AS same,
       pr, fl, by, pk, rev, rb, rp, s, e, t
FROM (%s AND (si OR di))
ARRAY JOIN [1, 2] AS side
WHERE (side = 1 AND si) OR (side = 2 AND di)`, baseSQL(table, where, cfg))
}
