package inventory

import (
	"bufio"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/fingerflow/fingerflow/datasets"
)

//go:embed hints.csv
var defaultHints []byte

// DefaultHints returns the hints file fingerflow ships (hints.csv in this
// package: TTL classes, Windows name and discovery protocols, vendor
// networks), to print or edit.
func DefaultHints() []byte { return slices.Clone(defaultHints) }

// ErrHints marks a hints file that cannot be used.
var ErrHints = errors.New("bad hints file")

// Rule is one line of a hints file.
type Rule struct {
	Kind  string // "ttl", "talks", "serves" or "net"
	TTL   uint8  // kind ttl: the initial TTL
	Proto uint8  // kinds talks, serves, and net with a port (0: any)
	Port  uint16
	Net   netip.Prefix // kind net
	OS    []string
	// Not, for a ttl rule, are families the TTL rules out ("!windows"):
	// the class is every family but these.
	Not    []string
	Weight float64
	Text   string
}

// Rules is a parsed hints file.
type Rules struct {
	rules []Rule
	ports map[uint32][]int // proto<<16|port → talks/serves rules
	nets  []int
}

// LoadRules reads a hints file; "" gives the shipped defaults.
func LoadRules(path string) (*Rules, error) {
	if path == "" {
		return ReadRules(bytes.NewReader(defaultHints), "hints.csv (shipped)")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadRules(f, path)
}

// ReadRules parses a hints file (see hints.csv for the format); name is
// used in errors, which give the line.
func ReadRules(r io.Reader, name string) (*Rules, error) {
	rs := &Rules{ports: map[uint32][]int{}}
	// Lines are bounded by datasets.MaxLine before the scanner, whose own
	// bound only has to hold such a line and its end.
	sc := bufio.NewScanner(datasets.LimitText(r, datasets.MaxLine, datasets.Lines))
	sc.Buffer(make([]byte, 0, 4096), 2*datasets.MaxLine)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		// The text is the rest of the line, commas and all.
		rec := strings.SplitN(text, ",", 5)
		if len(rec) != 5 {
			return nil, fmt.Errorf("%s: line %d: want kind,match,os,weight,text: %w", name, line, ErrHints)
		}
		rule, err := parseRule(rec)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %v: %w", name, line, err, ErrHints)
		}
		if rule.Kind == "ttl" && slices.ContainsFunc(rs.rules, func(r Rule) bool { return r.Kind == "ttl" && r.TTL == rule.TTL }) {
			return nil, fmt.Errorf("%s: line %d: a second rule for TTL %d (a TTL is one class): %w", name, line, rule.TTL, ErrHints)
		}
		i := len(rs.rules)
		rs.rules = append(rs.rules, rule)
		switch rule.Kind {
		case "talks", "serves":
			k := uint32(rule.Proto)<<16 | uint32(rule.Port)
			rs.ports[k] = append(rs.ports[k], i)
		case "net":
			rs.nets = append(rs.nets, i)
		}
	}
	if err := sc.Err(); errors.Is(err, datasets.ErrLineTooLong) {
		return nil, fmt.Errorf("%s: %w: %w", name, err, ErrHints)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return rs, nil
}

func parseRule(rec []string) (Rule, error) {
	r := Rule{Kind: strings.ToLower(strings.TrimSpace(rec[0])), Text: strings.TrimSpace(rec[4])}
	match := strings.TrimSpace(rec[1])
	for _, o := range strings.Split(rec[2], "/") {
		o = strings.ToLower(strings.TrimSpace(o))
		switch {
		case strings.HasPrefix(o, "!") && len(o) > 1:
			if r.Kind != "ttl" {
				return r, fmt.Errorf("%q: only a ttl rule rules families out", o)
			}
			r.Not = append(r.Not, o[1:])
		case o != "":
			r.OS = append(r.OS, o)
		}
	}
	if len(r.OS) == 0 && len(r.Not) == 0 {
		return r, fmt.Errorf("no OS family")
	}
	if len(r.OS) > 0 && len(r.Not) > 0 {
		return r, fmt.Errorf("families both named and ruled out: name the class or what it rules out, not both")
	}
	w, err := strconv.ParseFloat(strings.TrimSpace(rec[3]), 64)
	if err != nil || w < -2 || w > 2 {
		return r, fmt.Errorf("weight %q: want a number in [-2, 2]", rec[3])
	}
	r.Weight = w
	switch r.Kind {
	case "ttl":
		t, err := strconv.ParseUint(match, 10, 8)
		if err != nil || (t != 32 && t != 64 && t != 128 && t != 255) {
			return r, fmt.Errorf("ttl %q: want 32, 64, 128 or 255", match)
		}
		r.TTL = uint8(t)
	case "talks", "serves":
		if r.Proto, r.Port, err = parsePort(match); err != nil {
			return r, err
		}
	case "net":
		cidr, port, _ := strings.Cut(match, "@")
		if r.Net, err = netip.ParsePrefix(cidr); err != nil {
			return r, fmt.Errorf("net %q: want a CIDR", cidr)
		}
		r.Net = r.Net.Masked()
		if port != "" {
			if r.Proto, r.Port, err = parsePort(port); err != nil {
				return r, err
			}
		}
	default:
		return r, fmt.Errorf("kind %q: want ttl, talks, serves or net", rec[0])
	}
	return r, nil
}

func parsePort(s string) (uint8, uint16, error) {
	proto, port, ok := strings.Cut(strings.ToLower(s), "/")
	var p uint8
	switch proto {
	case "tcp":
		p = datasets.ProtoTCP
	case "udp":
		p = datasets.ProtoUDP
	default:
		ok = false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if !ok || err != nil || n == 0 {
		return 0, 0, fmt.Errorf("port %q: want tcp/N or udp/N", s)
	}
	return p, uint16(n), nil
}

// Len is the number of rules.
func (rs *Rules) Len() int { return len(rs.rules) }

// HintCounter counts, per internal host, the flows each rule matched.
// Memory grows with hosts and the rules they match.
type HintCounter struct {
	rules    *Rules
	internal func(netip.Addr) bool
	counts   map[netip.Addr]map[int]uint64
}

// NewHintCounter counts matches of rs for the hosts internal accepts.
func (rs *Rules) NewHintCounter(internal func(netip.Addr) bool) *HintCounter {
	return &HintCounter{rules: rs, internal: internal, counts: map[netip.Addr]map[int]uint64{}}
}

// Add counts the rules f matches: a "talks" rule for its source when it
// goes to the rule's port, a "serves" rule for its source when it comes
// from the rule's port to a higher one, a "net" rule for its source when
// its destination is in the rule's network.
func (hc *HintCounter) Add(f *datasets.Flow) {
	rs := hc.rules
	if len(rs.ports) > 0 {
		if ids := rs.ports[uint32(f.Proto)<<16|uint32(f.DstPort)]; len(ids) > 0 {
			hc.count(f.SrcAddr, ids, "talks")
		}
		if f.SrcPort < f.DstPort {
			if ids := rs.ports[uint32(f.Proto)<<16|uint32(f.SrcPort)]; len(ids) > 0 {
				hc.count(f.SrcAddr, ids, "serves")
			}
		}
	}
	for _, i := range rs.nets {
		r := &rs.rules[i]
		if r.Net.Contains(f.DstAddr) && (r.Port == 0 || (r.Proto == f.Proto && r.Port == f.DstPort)) {
			hc.count(f.SrcAddr, []int{i}, "net")
		}
	}
}

func (hc *HintCounter) count(a netip.Addr, ids []int, kind string) {
	if !hc.internal(a) {
		return
	}
	for _, i := range ids {
		if hc.rules.rules[i].Kind != kind {
			continue
		}
		m := hc.counts[a]
		if m == nil {
			m = map[int]uint64{}
			hc.counts[a] = m
		}
		m[i]++
	}
}

// Hints lists the hints of host a: one per matched rule (with its flow
// count), and its TTL class when ttls (initial TTLs of its packets, with
// flow counts) has one that a rule speaks of: the most frequent.
func (hc *HintCounter) Hints(a netip.Addr, ttls map[uint8]uint64) []Hint {
	var out []Hint
	m := hc.counts[a]
	ids := make([]int, 0, len(m))
	for i := range m {
		ids = append(ids, i)
	}
	slices.Sort(ids)
	for _, i := range ids {
		r := &hc.rules.rules[i]
		out = append(out, Hint{Kind: KindHint, OS: r.OS, Weight: r.Weight, Text: fmt.Sprintf("%s (%d flows)", r.Text, m[i])})
	}
	return append(out, hc.rules.TTLHints(ttls)...)
}

// ttlShare is the least share of a host's TTL-bearing flows its commonest
// initial TTL must have for the TTL to be the host's class: below it, the
// address hides more than one system (a NAT gateway, a dual-boot host).
const ttlShare = 0.9

// TTLHints is the one hint of a host's TTL class, given the initial TTLs
// of its own packets (initial TTL → flows): the rule of its commonest
// initial TTL when at least ttlShare of the flows have it (a Class hint:
// the families it allows are the only ones the host can run), a hint of
// no weight that says the TTLs are mixed otherwise, and none when ttls is
// empty (the exporter did not record TTLs) or no rule speaks of it.
func (rs *Rules) TTLHints(ttls map[uint8]uint64) []Hint {
	var best uint8
	var n, total uint64
	for t, c := range ttls {
		total += c
		if c > n || (c == n && t < best) {
			best, n = t, c
		}
	}
	if n == 0 {
		return nil
	}
	if float64(n) < ttlShare*float64(total) {
		keys := make([]int, 0, len(ttls))
		for t := range ttls {
			keys = append(keys, int(t))
		}
		slices.Sort(keys)
		var parts []string
		for _, t := range keys {
			parts = append(parts, fmt.Sprintf("%d (%d flows)", t, ttls[uint8(t)]))
		}
		return []Hint{{Kind: KindTTL, Text: "initial TTLs " + strings.Join(parts, ", ") + ": more than one system behind the address, the TTL decides nothing"}}
	}
	for i := range rs.rules {
		r := &rs.rules[i]
		if r.Kind == "ttl" && r.TTL == best {
			return []Hint{{Kind: KindTTL, OS: r.OS, Not: r.Not, Weight: r.Weight, Text: r.Text, Class: true}}
		}
	}
	return nil
}

// ClusterHints is each clustered host's cluster as weak evidence: the
// family that most of the cluster's hosts with an OS run, weighted by its
// share of them (at most 0.3), for clusters where at least three hosts
// have an OS and one family holds more than half of them. cluster maps
// hosts to cluster numbers, names gives each cluster's description.
func ClusterHints(cluster map[netip.Addr]int, names []string, verdicts map[netip.Addr]Verdict) map[netip.Addr]Hint {
	by := make([]map[string]int, len(names))
	for a, c := range cluster {
		if v, ok := verdicts[a]; ok && v.OS != Unknown && c >= 0 && c < len(by) {
			if by[c] == nil {
				by[c] = map[string]int{}
			}
			by[c][v.OS]++
		}
	}
	type lead struct {
		fam      string
		n, total int
	}
	leads := make([]lead, len(names))
	for c, m := range by {
		l := lead{}
		for fam, k := range m {
			l.total += k
			if k > l.n || (k == l.n && fam < l.fam) {
				l.fam, l.n = fam, k
			}
		}
		leads[c] = l
	}
	out := map[netip.Addr]Hint{}
	for a, c := range cluster {
		if c < 0 || c >= len(leads) {
			continue
		}
		l := leads[c]
		if l.total < 3 || 2*l.n <= l.total {
			continue
		}
		out[a] = Hint{
			Kind: KindCluster, OS: []string{l.fam}, Weight: 0.3 * float64(l.n) / float64(l.total),
			Text: fmt.Sprintf("cluster %d (%s): %d of its %d hosts with an OS run %s", c, names[c], l.n, l.total, l.fam),
		}
	}
	return out
}
