// Package nfcsv reads the CSV text that `nfdump -o csv` prints, for sites
// that archive nfdump's text output rather than nfcapd files. Columns are
// found by the names in the header line (output made with -q, which has
// none, is read in nfdump 1.7's layout); Reader says how they map to
// datasets.Flow.
package nfcsv

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

// Reader reads nfdump CSV output. The zero value parses times as UTC.
//
// Columns are found by the names in the header line, so any column order and
// any subset works as long as sa and da are present; columns the reader does
// not know are ignored. Output made with -q has no header line: it is read
// with the column layout of nfdump 1.7's csv mode when its first line parses
// as a record in that layout. The footer nfdump prints after the records
// ("Summary", then a "flows,bytes,packets,..." line and its values) ends the
// records; a "No matching flows" line is skipped.
//
// Column mapping to datasets.Flow:
//
//	ts, te         Start, End (see below)
//	td             duration in seconds, used for sub-second End
//	sa, da         SrcAddr, DstAddr (IPv4 or IPv6)
//	sp, dp         SrcPort, DstPort (for ICMP dp is type*256+code; "t.c" is accepted)
//	pr             Proto: nfdump's protocol name (TCP, UDP, ICMP6, ...) or number
//	flg            TCPFlags: "CEUAPRSF" letters with '.' for unset, or a number
//	ipkt, ibyt     Packets, Bytes (pkt, byt are accepted too)
//	opkt, obyt     RevPackets, RevBytes; HasReverse is set when either is non-zero
//	in, out        InIf, OutIf
//	stos (or tos)  ToS
//	ra             Exporter (0.0.0.0, as printed for aggregated records, is unknown)
//
// nfdump puts a flow's reverse-direction counters (NSEL, biflow IPFIX, and
// bidirectional aggregation with -b) in opkt/obyt; unidirectional NetFlow
// records leave them zero, so non-zero values are taken as the reverse
// direction. The CSV carries no sampling information: SamplingRate is 0
// (unknown). TTLs are not printed either.
//
// Times: nfdump prints ts and te in the local time zone of the nfdump
// process (its TZ), with whole seconds in nfdump 1.7.1 and milliseconds in
// other versions. The reader parses them in Reader.Location, UTC when nil
// (nfdump run on a UTC machine, as on the collectors this project targets).
// Because ts and te may be truncated to the second, End is Start+td when
// that lies in te's second (te <= Start+td < te+1s), and te otherwise:
// nfdump prints absurd td values for some IPFIX exporters.
//
// The reader splits lines by hand: nfdump never quotes fields.
type Reader struct {
	// Location is the time zone nfdump printed times in (the TZ of the
	// nfdump run); nil means UTC.
	Location *time.Location
}

var _ datasets.Reader = (*Reader)(nil)

// Format returns "nfdump-csv".
func (r *Reader) Format() string { return "nfdump-csv" }

// defaultHeader is the column layout of `nfdump -o csv` in nfdump 1.6 and
// 1.7, used for output printed without its header line (-q).
const defaultHeader = "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,mpls9,mpls10,cl,sl,al,ra,eng,exid,tr"

// maxLine bounds the length of one line; nfdump's lines are a few hundred
// bytes.
const maxLine = 64 << 10

// Sniff accepts a header line naming at least the sa and da columns (all
// fields lower-case names), or, for headerless output, a first line that
// parses as a record in nfdump's default csv layout.
func (r *Reader) Sniff(head []byte) bool {
	line, _, _ := bytes.Cut(head, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(line) == 0 {
		return false
	}
	if cols, ok := parseHeader(string(line)); ok {
		return cols.idx[colSA] >= 0 && cols.idx[colDA] >= 0
	}
	cols, _ := parseHeader(defaultHeader)
	var p parser
	p.cols = cols
	p.loc = time.UTC
	var f datasets.Flow
	return p.record(line, &f) == nil
}

// Column identifiers the reader maps.
const (
	colTS = iota
	colTE
	colTD
	colSA
	colDA
	colSP
	colDP
	colPR
	colFLG
	colTOS
	colIPKT
	colIBYT
	colOPKT
	colOBYT
	colIN
	colOUT
	colRA
	numCols
)

var colNames = map[string]int{
	"ts": colTS, "te": colTE, "td": colTD,
	"sa": colSA, "da": colDA, "sp": colSP, "dp": colDP, "pr": colPR,
	"flg": colFLG, "stos": colTOS, "tos": colTOS,
	"ipkt": colIPKT, "pkt": colIPKT, "ibyt": colIBYT, "byt": colIBYT,
	"opkt": colOPKT, "obyt": colOBYT,
	"in": colIN, "out": colOUT, "ra": colRA,
}

type columns struct {
	idx [numCols]int // field index of each known column, -1 when absent
	n   int          // number of fields in the header
}

// parseHeader reads a header line; ok is false when some field is not a
// lower-case column name.
func parseHeader(line string) (columns, bool) {
	var c columns
	for i := range c.idx {
		c.idx[i] = -1
	}
	names := strings.Split(line, ",")
	for i, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			return c, false
		}
		for j := 0; j < len(n); j++ {
			b := n[j]
			if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_') {
				return c, false
			}
		}
		if k, ok := colNames[n]; ok && c.idx[k] < 0 {
			c.idx[k] = i
		}
	}
	c.n = len(names)
	return c, true
}

// Flows streams the records of the CSV file at path.
func (r *Reader) Flows(ctx context.Context, path string) iter.Seq2[datasets.Flow, error] {
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	return datasets.StreamFile(ctx, path, func(name string, rd io.Reader) iter.Seq2[datasets.Flow, error] {
		return read(ctx, name, rd, loc)
	})
}

// read streams the records of one CSV stream; name is used in errors.
func read(ctx context.Context, name string, rd io.Reader, loc *time.Location) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		sc := bufio.NewScanner(rd)
		sc.Buffer(make([]byte, 0, 64<<10), maxLine)
		p := parser{loc: loc}
		lineNo := 0
		haveCols := false
		for sc.Scan() {
			lineNo++
			if lineNo%4096 == 1 {
				if err := ctx.Err(); err != nil {
					yield(datasets.Flow{}, err)
					return
				}
			}
			line := bytes.TrimSuffix(sc.Bytes(), []byte{'\r'})
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			if !haveCols {
				haveCols = true
				if cols, ok := parseHeader(string(line)); ok {
					if cols.idx[colSA] < 0 || cols.idx[colDA] < 0 {
						yield(datasets.Flow{}, fmt.Errorf("%s: line %d: header has no sa and da columns: %w", name, lineNo, datasets.ErrUnsupported))
						return
					}
					p.cols = cols
					continue
				}
				p.cols, _ = parseHeader(defaultHeader)
			}
			if bytes.IndexByte(line, ',') < 0 {
				s := string(bytes.TrimSpace(line))
				if s == "Summary" {
					return // footer: no more records
				}
				if strings.HasPrefix(s, "No matching flows") {
					continue
				}
			}
			var fl datasets.Flow
			if err := p.record(line, &fl); err != nil {
				if errors.Is(err, errShort) {
					// A short last line is a truncated record; a short
					// line followed by more is corrupt.
					if sc.Scan() {
						err = fmt.Errorf("%w: %w", err, datasets.ErrCorrupt)
					} else {
						err = fmt.Errorf("%w: %w", err, io.ErrUnexpectedEOF)
					}
				}
				yield(datasets.Flow{}, fmt.Errorf("%s: line %d: %w", name, lineNo, err))
				return
			}
			if !yield(fl, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = fmt.Errorf("line longer than %d bytes: %w", maxLine, datasets.ErrCorrupt)
			}
			yield(datasets.Flow{}, fmt.Errorf("%s: line %d: %w", name, lineNo+1, err))
			return
		}
		if err := ctx.Err(); err != nil {
			yield(datasets.Flow{}, err)
		}
	}
}

// errShort marks a record with fewer fields than the header; at the end of
// a file it is a truncated record.
var errShort = errors.New("too few fields")

type parser struct {
	cols   columns
	loc    *time.Location
	fields [][]byte
}

// record parses one CSV line into f.
func (p *parser) record(line []byte, f *datasets.Flow) error {
	p.fields = p.fields[:0]
	for {
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			p.fields = append(p.fields, line)
			break
		}
		p.fields = append(p.fields, line[:i])
		line = line[i+1:]
	}
	if len(p.fields) != p.cols.n {
		if len(p.fields) < p.cols.n {
			return fmt.Errorf("%d fields, header has %d: %w", len(p.fields), p.cols.n, errShort)
		}
		return fmt.Errorf("%d fields, header has %d: %w", len(p.fields), p.cols.n, datasets.ErrCorrupt)
	}
	get := func(c int) (string, bool) {
		i := p.cols.idx[c]
		if i < 0 {
			return "", false
		}
		return strings.TrimSpace(string(p.fields[i])), true
	}
	var err error
	bad := func(col, v string, e error) error {
		return fmt.Errorf("column %s: %q: %v: %w", col, v, e, datasets.ErrCorrupt)
	}
	if v, ok := get(colTS); ok {
		if f.Start, err = time.ParseInLocation(time.DateTime, v, p.loc); err != nil {
			return bad("ts", v, err)
		}
	}
	if v, ok := get(colTE); ok {
		if f.End, err = time.ParseInLocation(time.DateTime, v, p.loc); err != nil {
			return bad("te", v, err)
		}
	} else {
		f.End = f.Start
	}
	if v, ok := get(colTD); ok {
		td, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return bad("td", v, err)
		}
		// Use td for sub-second precision only when it agrees with te:
		// the true end lies in [te, te+1s) when te is truncated.
		if td >= 0 && td < math.MaxInt64/float64(time.Second) {
			end := f.Start.Add(time.Duration(td * float64(time.Second)))
			if !end.Before(f.End) && end.Sub(f.End) < time.Second {
				f.End = end
			}
		}
	}
	if v, ok := get(colSA); ok {
		if f.SrcAddr, err = netip.ParseAddr(v); err != nil {
			return bad("sa", v, err)
		}
	}
	if v, ok := get(colDA); ok {
		if f.DstAddr, err = netip.ParseAddr(v); err != nil {
			return bad("da", v, err)
		}
	}
	if v, ok := get(colSP); ok {
		if f.SrcPort, err = parsePort(v); err != nil {
			return bad("sp", v, err)
		}
	}
	if v, ok := get(colDP); ok {
		if f.DstPort, err = parsePort(v); err != nil {
			return bad("dp", v, err)
		}
	}
	if v, ok := get(colPR); ok {
		n, ok := datasets.ParseProto(v)
		if !ok {
			return bad("pr", v, errors.New("unknown protocol"))
		}
		f.Proto = n
	}
	if v, ok := get(colFLG); ok {
		if f.TCPFlags, err = parseFlags(v); err != nil {
			return bad("flg", v, err)
		}
	}
	u8 := func(c int, name string, dst *uint8) error {
		if v, ok := get(c); ok {
			u, err := strconv.ParseUint(v, 0, 8)
			if err != nil {
				return bad(name, v, err)
			}
			*dst = uint8(u)
		}
		return nil
	}
	u32 := func(c int, name string, dst *uint32) error {
		if v, ok := get(c); ok {
			u, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return bad(name, v, err)
			}
			*dst = uint32(u)
		}
		return nil
	}
	u64 := func(c int, name string, dst *uint64) error {
		if v, ok := get(c); ok {
			u, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return bad(name, v, err)
			}
			*dst = u
		}
		return nil
	}
	for _, e := range []error{
		u8(colTOS, "stos", &f.ToS),
		u64(colIPKT, "ipkt", &f.Packets),
		u64(colIBYT, "ibyt", &f.Bytes),
		u64(colOPKT, "opkt", &f.RevPackets),
		u64(colOBYT, "obyt", &f.RevBytes),
		u32(colIN, "in", &f.InIf),
		u32(colOUT, "out", &f.OutIf),
	} {
		if e != nil {
			return e
		}
	}
	f.HasReverse = f.RevPackets != 0 || f.RevBytes != 0
	if v, ok := get(colRA); ok {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return bad("ra", v, err)
		}
		if !a.IsUnspecified() {
			f.Exporter = a
		}
	}
	return nil
}

// parsePort reads a port number, or nfdump's "type.code" form for ICMP.
func parsePort(v string) (uint16, error) {
	if t, c, ok := strings.Cut(v, "."); ok {
		tt, err := strconv.ParseUint(t, 10, 8)
		if err != nil {
			return 0, err
		}
		cc, err := strconv.ParseUint(c, 10, 8)
		if err != nil {
			return 0, err
		}
		return uint16(tt<<8 | cc), nil
	}
	u, err := strconv.ParseUint(v, 10, 16)
	return uint16(u), err
}

// parseFlags reads nfdump's flag string ("...AP.SF": CWR ECE URG ACK PSH
// RST SYN FIN, '.' for unset) or a decimal/hex number.
func parseFlags(v string) (uint8, error) {
	const letters = "CEUAPRSF"
	if len(v) == 8 && !strings.HasPrefix(v, "0x") {
		var f uint8
		for i := 0; i < 8; i++ {
			switch v[i] {
			case '.':
			case letters[i]:
				f |= 0x80 >> i
			default:
				return 0, fmt.Errorf("bad flag letter %q", v[i])
			}
		}
		return f, nil
	}
	u, err := strconv.ParseUint(v, 0, 8)
	return uint8(u), err
}
