package argus

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// CSVCommand is the ra command line that prints what CSVReader reads best:
// epoch times (-u), numeric addresses (-n), TCP flags of both sides in the
// state column (-Z b) and every column a Flow needs.
const CSVCommand = "ra -r FILE -n -u -Z b -c , -s stime ltime saddr sport daddr dport proto flgs state spkts dpkts sbytes dbytes sttl dttl stos"

// CSVReader reads the delimited text ra prints with -c (format
// "argus-csv"). Columns are found by the titles of the header line, so any
// -s order works. Required: StartTime, SrcAddr, Sport, DstAddr, Dport,
// Proto, Flgs (its encapsulation letter decides the link-header bytes),
// SrcPkts, DstPkts, SrcBytes, DstBytes. Optional: LastTime (or Dur), State
// (TCP flags when printed with -Z b), sTtl, sTos. Times must be epoch
// seconds (-u) or carry a date. Flows are filled as Reader fills them.
type CSVReader struct{}

var _ datasets.Reader = (*CSVReader)(nil)

// Format returns "argus-csv".
func (*CSVReader) Format() string { return "argus-csv" }

// column titles ra prints for the fields this reader uses.
const (
	colStart    = "StartTime"
	colLast     = "LastTime"
	colDur      = "Dur"
	colSrcAddr  = "SrcAddr"
	colSport    = "Sport"
	colDstAddr  = "DstAddr"
	colDport    = "Dport"
	colProto    = "Proto"
	colFlgs     = "Flgs"
	colState    = "State"
	colSrcPkts  = "SrcPkts"
	colDstPkts  = "DstPkts"
	colSrcBytes = "SrcBytes"
	colDstBytes = "DstBytes"
	colSTTL     = "sTtl"
	colSTos     = "sTos"
)

var requiredCols = []string{colStart, colSrcAddr, colSport, colDstAddr, colDport, colProto, colFlgs,
	colSrcPkts, colDstPkts, colSrcBytes, colDstBytes}

// delimiters ra's -c is commonly given.
var delimiters = []rune{',', ';', '\t', '|'}

// headerDelim returns the delimiter that splits an ra header line into
// titles including StartTime, SrcAddr and DstAddr.
func headerDelim(line string) (rune, bool) {
	line = strings.TrimRight(line, "\r\n")
	for _, d := range delimiters {
		fields := strings.Split(line, string(d))
		if len(fields) < 3 {
			continue
		}
		seen := 0
		for _, f := range fields {
			switch strings.TrimSpace(f) {
			case colStart, colSrcAddr, colDstAddr:
				seen++
			}
		}
		if seen == 3 {
			return d, true
		}
	}
	return 0, false
}

// Sniff accepts text whose first line is an ra header naming StartTime,
// SrcAddr and DstAddr.
func (*CSVReader) Sniff(head []byte) bool {
	line, _, _ := bytes.Cut(head, []byte("\n"))
	if bytes.IndexByte(line, 0) >= 0 {
		return false
	}
	_, ok := headerDelim(string(line))
	return ok
}

// maxLine bounds one line of text; ra lines are a few hundred bytes.
const maxLine = 64 << 10

// csvCols holds the column index of each field, -1 when absent.
type csvCols struct {
	start, last, dur, saddr, sport, daddr, dport, proto, flgs, state int
	spkts, dpkts, sbytes, dbytes, sttl, stos                         int
	n                                                                int
}

func mapColumns(header []string) (csvCols, error) {
	idx := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if _, dup := idx[h]; !dup {
			idx[h] = i
		}
	}
	get := func(name string) int {
		if i, ok := idx[name]; ok {
			return i
		}
		return -1
	}
	var missing []string
	for _, c := range requiredCols {
		if get(c) < 0 {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return csvCols{}, fmt.Errorf("header lacks column(s) %s: %w; print the file with: %s",
			strings.Join(missing, ", "), datasets.ErrUnsupported, CSVCommand)
	}
	return csvCols{
		start: get(colStart), last: get(colLast), dur: get(colDur),
		saddr: get(colSrcAddr), sport: get(colSport), daddr: get(colDstAddr), dport: get(colDport),
		proto: get(colProto), flgs: get(colFlgs), state: get(colState),
		spkts: get(colSrcPkts), dpkts: get(colDstPkts), sbytes: get(colSrcBytes), dbytes: get(colDstBytes),
		sttl: get(colSTTL), stos: get(colSTos), n: len(header),
	}, nil
}

// Flows streams the flows of an ra text file. Management records (Proto
// "man") and non-IP flows (ARP, ...) are skipped.
func (r *CSVReader) Flows(ctx context.Context, path string) iter.Seq2[datasets.Flow, error] {
	return datasets.StreamFile(ctx, path, func(name string, rd io.Reader) iter.Seq2[datasets.Flow, error] {
		return readCSV(ctx, name, rd)
	})
}

func readCSV(ctx context.Context, name string, rd io.Reader) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		sc := bufio.NewScanner(rd)
		sc.Buffer(make([]byte, 0, 4096), maxLine)
		var (
			off   int64 // offset of the current line
			next  int64 // offset of the line after it
			cols  csvCols
			delim string
			row   []string
		)
		for line := 1; sc.Scan(); line++ {
			if line%1024 == 0 {
				if err := ctx.Err(); err != nil {
					yield(datasets.Flow{}, err)
					return
				}
			}
			off, next = next, next+int64(len(sc.Bytes()))+1
			text := strings.TrimRight(sc.Text(), "\r")
			if line == 1 {
				d, ok := headerDelim(text)
				if !ok {
					yield(datasets.Flow{}, fmt.Errorf("%s: line 1: not an ra header (need StartTime, SrcAddr, DstAddr titles): %w", name, datasets.ErrCorrupt))
					return
				}
				delim = string(d)
				c, err := mapColumns(strings.Split(text, delim))
				if err != nil {
					yield(datasets.Flow{}, fmt.Errorf("%s: %w", name, err))
					return
				}
				cols = c
				continue
			}
			if strings.TrimSpace(text) == "" {
				continue
			}
			row = splitInto(row[:0], text, delim)
			fl, skip, err := parseRow(row, &cols)
			if err != nil {
				yield(datasets.Flow{}, fmt.Errorf("%s: offset %d: line %d: %w", name, off, line, err))
				return
			}
			if skip {
				continue
			}
			if !yield(fl, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = fmt.Errorf("line longer than %d bytes: %w", maxLine, datasets.ErrCorrupt)
			}
			yield(datasets.Flow{}, fmt.Errorf("%s: offset %d: %w", name, next, err))
			return
		}
		if next == 0 {
			yield(datasets.Flow{}, fmt.Errorf("%s: %w", name, datasets.ErrEmpty))
		}
	}
}

// splitInto appends the fields of s separated by sep to dst.
func splitInto(dst []string, s, sep string) []string {
	for {
		i := strings.Index(s, sep)
		if i < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:i])
		s = s[i+len(sep):]
	}
}

func field(row []string, i int) string {
	if i < 0 || i >= len(row) {
		return ""
	}
	return strings.TrimSpace(row[i])
}

func corrupt(col, v string, err error) error {
	if err != nil {
		return fmt.Errorf("%s %q: %w: %v", col, v, datasets.ErrCorrupt, err)
	}
	return fmt.Errorf("%s %q: %w", col, v, datasets.ErrCorrupt)
}

// nonIP lists ra protocol names of flows that have no IP addresses.
var nonIP = map[string]bool{"man": true, "arp": true, "rarp": true, "llc": true, "lcp": true,
	"isis": true, "stp": true, "ipx": true, "cdp": true, "lldp": true, "ib_local": true, "ib_global": true}

func parseRow(row []string, c *csvCols) (datasets.Flow, bool, error) {
	var fl datasets.Flow
	if len(row) < c.n {
		return fl, false, fmt.Errorf("%d fields, header has %d: %w", len(row), c.n, datasets.ErrCorrupt)
	}
	ps := strings.ToLower(field(row, c.proto))
	if nonIP[ps] {
		return fl, true, nil
	}
	p, ok := datasets.ParseProto(ps)
	if !ok {
		return fl, false, corrupt(colProto, ps, nil)
	}
	fl.Proto = p
	var err error
	if fl.SrcAddr, err = parseAddr(field(row, c.saddr)); err != nil {
		return fl, false, corrupt(colSrcAddr, field(row, c.saddr), err)
	}
	if fl.DstAddr, err = parseAddr(field(row, c.daddr)); err != nil {
		return fl, false, corrupt(colDstAddr, field(row, c.daddr), err)
	}
	sport, err := parsePort(field(row, c.sport))
	if err != nil {
		return fl, false, corrupt(colSport, field(row, c.sport), err)
	}
	dport, err := parsePort(field(row, c.dport))
	if err != nil {
		return fl, false, corrupt(colDport, field(row, c.dport), err)
	}
	switch fl.Proto {
	case datasets.ProtoICMP:
		// ra prints type<<8|code as the source "port".
		icmpPorts(&fl, uint8(sport>>8), uint8(sport))
	case datasets.ProtoICMPv6:
		// ra prints the ICMPv6 type and code as the two ports.
		icmpPorts(&fl, uint8(sport), uint8(dport))
	default:
		fl.SrcPort, fl.DstPort = sport, dport
	}
	if fl.Start, err = parseTime(field(row, c.start)); err != nil {
		return fl, false, corrupt(colStart, field(row, c.start), err)
	}
	fl.End = fl.Start
	switch {
	case c.last >= 0:
		if fl.End, err = parseTime(field(row, c.last)); err != nil {
			return fl, false, corrupt(colLast, field(row, c.last), err)
		}
	case c.dur >= 0:
		d, err := strconv.ParseFloat(field(row, c.dur), 64)
		if err != nil || d < 0 || d > 1e9 {
			return fl, false, corrupt(colDur, field(row, c.dur), err)
		}
		fl.End = fl.Start.Add(time.Duration(math.Round(d*1e6)) * time.Microsecond)
	}
	counters := []struct {
		col string
		i   int
		dst *uint64
	}{
		{colSrcPkts, c.spkts, &fl.Packets}, {colDstPkts, c.dpkts, &fl.RevPackets},
		{colSrcBytes, c.sbytes, &fl.Bytes}, {colDstBytes, c.dbytes, &fl.RevBytes},
	}
	for _, k := range counters {
		v := field(row, k.i)
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fl, false, corrupt(k.col, v, err)
		}
		*k.dst = n
	}
	fl.HasReverse = true
	if o, ok := flagsOverhead(row[c.flgs]); ok {
		fl.Bytes = ipBytes(fl.Bytes, fl.Packets, o)
		fl.RevBytes = ipBytes(fl.RevBytes, fl.RevPackets, o)
	}
	if c.state >= 0 {
		// With -Z b the state column is "FSPA_FSPA": src then dst flags.
		if st := field(row, c.state); strings.Contains(st, "_") && fl.Proto == datasets.ProtoTCP {
			for i := 0; i < len(st); i++ {
				fl.TCPFlags |= tcpFlagBits(st[i])
			}
		}
	}
	if v := field(row, c.sttl); v != "" {
		ttl, err := strconv.ParseUint(v, 10, 8)
		if err != nil {
			return fl, false, corrupt(colSTTL, v, err)
		}
		fl.MinTTL, fl.MaxTTL = uint8(ttl), uint8(ttl)
	}
	if v := field(row, c.stos); v != "" {
		tos, err := strconv.ParseUint(v, 10, 8)
		if err != nil {
			return fl, false, corrupt(colSTos, v, err)
		}
		fl.ToS = uint8(tos)
	}
	return fl, false, nil
}

// flagsOverhead reads the encapsulation letter of ra's flgs column (its
// second character) as a per-packet link-header length.
func flagsOverhead(flgs string) (uint64, bool) {
	if len(flgs) < 2 {
		return 0, strings.TrimSpace(flgs) == ""
	}
	switch flgs[1] {
	case ' ':
		return linkOverhead(0)
	case 'e':
		return linkOverhead(encapsEther)
	case 'v':
		return linkOverhead(encapsEther | encaps8021Q)
	case 'S':
		return linkOverhead(encapsSLL)
	}
	return 0, false
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, err
	}
	return a.Unmap(), nil
}

func parsePort(s string) (uint16, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 0, 16) // ra prints ICMP fields as 0x0303
	return uint16(v), err
}

// timeLayouts are date-carrying layouts ra can be configured to print
// (RA_TIME_FORMAT); times without a date are refused.
var timeLayouts = []string{
	"2006/01/02 15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006/01/02.15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

// errNoDate is returned for ra's default time-of-day-only timestamps.
var errNoDate = errors.New("time has no date: print the file with ra -u (epoch seconds)")

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("empty")
	}
	if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, ":/-T ") {
		sec, frac, _ := strings.Cut(s, ".")
		secs, err := strconv.ParseInt(sec, 10, 64)
		if err != nil || secs > 1<<40 {
			return time.Time{}, fmt.Errorf("bad epoch seconds")
		}
		var nsec int64
		if frac != "" {
			if len(frac) > 9 {
				frac = frac[:9]
			}
			n, err := strconv.ParseInt(frac, 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("bad fraction")
			}
			for i := len(frac); i < 9; i++ {
				n *= 10
			}
			nsec = n
		}
		return time.Unix(secs, nsec).UTC(), nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	if _, err := time.Parse("15:04:05.999999999", s); err == nil {
		return time.Time{}, errNoDate
	}
	return time.Time{}, errors.New("unknown time layout")
}
