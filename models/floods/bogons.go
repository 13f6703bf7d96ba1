package floods

import (
	"net/netip"
	"slices"
)

// Bogon is a special-purpose address range no packet on a routed network
// should come from.
type Bogon struct {
	Prefix netip.Prefix
	Name   string
	Source string // the RFC that reserves it
	// Private ranges (RFC 1918, unique local) are a site's own addresses:
	// they are bogons only at an edge facing the Internet, and are left
	// out unless Config.PrivateBogons is set.
	Private bool
}

// Bogons is the table of special-purpose ranges, from the IANA IPv4 and
// IPv6 Special-Purpose Address Registries (RFC 6890 and the RFCs they
// cite), checked in December 2026, with multicast, which RFC 6890 leaves
// out but no unicast source may use (RFC 1112 section 4, RFC 4291 section
// 2.7), and 240.0.0.0/4, reserved (RFC 1112). Ranges the registries mark
// globally reachable are not listed (192.0.0.9/32 and 192.0.0.10/32,
// 192.88.99.0/24, 64:ff9b::/96, 2001::/32 Teredo, 2001:20::/28 ORCHIDv2,
// 2620:4f:8000::/48 AS112), nor the rest of 2001::/23, where several
// global assignments lie; 192.0.0.0/24 is listed whole though two of its
// addresses are anycast services, as Team Cymru's bogon list does.
// Maintain it against https://www.iana.org/assignments/iana-ipv4-special-registry
// and https://www.iana.org/assignments/iana-ipv6-special-registry.
func Bogons() []Bogon {
	b := func(p, name, src string, private bool) Bogon {
		return Bogon{Prefix: netip.MustParsePrefix(p), Name: name, Source: src, Private: private}
	}
	return []Bogon{
		b("0.0.0.0/8", "this network", "RFC 791, RFC 1122", false),
		b("10.0.0.0/8", "private use", "RFC 1918", true),
		b("100.64.0.0/10", "shared address space", "RFC 6598", false),
		b("127.0.0.0/8", "loopback", "RFC 1122", false),
		b("169.254.0.0/16", "link local", "RFC 3927", false),
		b("172.16.0.0/12", "private use", "RFC 1918", true),
		b("192.0.0.0/24", "IETF protocol assignments", "RFC 6890", false),
		b("192.0.2.0/24", "documentation (TEST-NET-1)", "RFC 5737", false),
		b("192.168.0.0/16", "private use", "RFC 1918", true),
		b("198.18.0.0/15", "benchmarking", "RFC 2544", false),
		b("198.51.100.0/24", "documentation (TEST-NET-2)", "RFC 5737", false),
		b("203.0.113.0/24", "documentation (TEST-NET-3)", "RFC 5737", false),
		b("224.0.0.0/4", "multicast", "RFC 5771, RFC 1112", false),
		b("240.0.0.0/4", "reserved", "RFC 1112", false),
		b("::/128", "unspecified address", "RFC 4291", false),
		b("::1/128", "loopback", "RFC 4291", false),
		b("::ffff:0:0/96", "IPv4-mapped address", "RFC 4291", false),
		b("64:ff9b:1::/48", "local-use IPv4/IPv6 translation", "RFC 8215", false),
		b("100::/64", "discard only", "RFC 6666", false),
		b("2001:2::/48", "benchmarking", "RFC 5180", false),
		b("2001:db8::/32", "documentation", "RFC 3849", false),
		b("3fff::/20", "documentation", "RFC 9637", false),
		b("fc00::/7", "unique local", "RFC 4193", true),
		b("fe80::/10", "link-local unicast", "RFC 4291", false),
		b("ff00::/8", "multicast", "RFC 4291", false),
	}
}

// bogonTable answers which bogon, if any, an address lies in.
type bogonTable struct {
	v4 []bogon4
	v6 []Bogon
	// except are ranges the site uses although they are special-purpose
	// (a lab in 198.18.0.0/15, a carrier-grade NAT in 100.64.0.0/10).
	except []netip.Prefix
}

type bogon4 struct {
	addr, mask uint32
	i          int // index into the table
}

func newBogonTable(table []Bogon, private bool, except []netip.Prefix) (*bogonTable, []Bogon) {
	t := &bogonTable{except: except}
	var kept []Bogon
	for _, b := range table {
		if b.Private && !private {
			continue
		}
		kept = append(kept, b)
		p := b.Prefix.Masked()
		if p.Addr().Is4() {
			a := p.Addr().As4()
			mask := uint32(0)
			if p.Bits() > 0 {
				mask = ^uint32(0) << (32 - p.Bits())
			}
			t.v4 = append(t.v4, bogon4{uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]), mask, len(kept) - 1})
		} else {
			t.v6 = append(t.v6, b)
		}
	}
	return t, kept
}

// lookup returns the index of the bogon range a lies in, or -1.
func (t *bogonTable) lookup(a netip.Addr, table []Bogon) int {
	if !a.IsValid() {
		return -1
	}
	a = a.WithZone("")
	i := -1
	if a.Is4() {
		b := a.As4()
		x := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		for _, r := range t.v4 {
			if x&r.mask == r.addr {
				i = r.i
				break
			}
		}
	} else {
		i = slices.IndexFunc(table, func(b Bogon) bool { return b.Prefix.Addr().Is6() && b.Prefix.Contains(a) })
	}
	if i >= 0 {
		for _, p := range t.except {
			if p.Contains(a) {
				return -1
			}
		}
	}
	return i
}
