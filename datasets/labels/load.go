package labels

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fingerflow/fingerflow/datasets"
)

// layouts names the two layouts Read accepts, for errors.
const layouts = "want lab labels (a header with client_ip,client_port,file and optional columns) or an ordered list (file or file,start per line)"

// labColumns are the column names that mark a lab-format header.
var labColumns = map[string]bool{
	"client_ip": true, "client_port": true, "server_port": true, "size": true, "known": true,
	"conn": true, "pos": true, "rep": true, "nat_ip": true, "nat_port": true,
	"server_side_ip": true, "server_side_port": true,
	"inner_client_ip": true, "inner_client_port": true,
}

// natColumns are the address/port column pairs that, when present, give the
// client as the flows show it; the first pair in the header wins.
var natColumns = [][2]string{{"nat_ip", "nat_port"}, {"server_side_ip", "server_side_port"}}

// Load reads the labels at path, in the lab format or as an ordered list
// (see the package comment); the header decides.
//
// Lab columns: client_ip, client_port and file are required; server_port,
// size, known, conn, pos and rep are optional. When a run went through NAT,
// nat_ip/nat_port (or server_side_ip/server_side_port) give the address the
// flows show and the client's own is kept in OrigClient/OrigClientPort;
// files already rewritten to the server-side address
// (datasets/lab-extra/natjoin.py) keep the client's own address in
// inner_client_ip/inner_client_port.
func Load(ctx context.Context, path string) (*Set, error) {
	f, err := datasets.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(ctx, f, path)
}

// Read reads labels from r like Load; name is the file name used in errors
// and kept in Set.Name.
func Read(ctx context.Context, r io.Reader, name string) (*Set, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(3); bytes.Equal(head, []byte{0xef, 0xbb, 0xbf}) {
		br.Discard(3)
	}
	cr := csv.NewReader(datasets.LimitText(br, datasets.MaxLine, datasets.CSVRecords))
	cr.FieldsPerRecord = -1 // checked here, to name the layout in the error
	cr.ReuseRecord = true
	first, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: %w", name, ErrEmpty)
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	first = slices.Clone(first) // ReuseRecord: the next Read overwrites it
	cols := make(map[string]int, len(first))
	lab := false
	for i, h := range first {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := cols[h]; !dup {
			cols[h] = i
		}
		lab = lab || labColumns[h]
	}
	var s *Set
	switch {
	case lab:
		s, err = readLab(ctx, cr, name, first, cols)
	default:
		s, err = readOrdered(ctx, cr, name, first, cols)
	}
	if err != nil {
		return nil, err
	}
	if len(s.Labels) == 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrEmpty)
	}
	s.reindex()
	return s, nil
}

// csvError names the file and line of a CSV error (datasets.CSVError).
func csvError(name string, err error) error { return datasets.CSVError(name, err, ErrFormat) }

// readLab reads the rows after a lab-format header.
func readLab(ctx context.Context, cr *csv.Reader, name string, header []string, cols map[string]int) (*Set, error) {
	iIP, okIP := cols["client_ip"]
	iPort, okPort := cols["client_port"]
	iFile, okFile := cols["file"]
	if !okIP || !okPort || !okFile {
		return nil, fmt.Errorf("%s: line 1: unknown column layout %q: need client_ip, client_port and file: %w",
			name, strings.Join(header, ","), ErrFormat)
	}
	opt := func(c string) int {
		if i, ok := cols[c]; ok {
			return i
		}
		return -1
	}
	iNATIP, iNATPort := -1, -1
	for _, p := range natColumns {
		a, b := opt(p[0]), opt(p[1])
		if (a < 0) != (b < 0) {
			return nil, fmt.Errorf("%s: line 1: column %s without %s (or the reverse): %w", name, p[0], p[1], ErrFormat)
		}
		if a >= 0 && iNATIP < 0 {
			iNATIP, iNATPort = a, b
		}
	}
	// natjoin.py's convention (lab-extra NAT runs): client_ip/client_port are
	// already the server-side values and inner_client_ip/inner_client_port
	// keep what the client saw.
	iInnerIP, iInnerPort := opt("inner_client_ip"), opt("inner_client_port")
	if (iInnerIP < 0) != (iInnerPort < 0) {
		return nil, fmt.Errorf("%s: line 1: column inner_client_ip without inner_client_port (or the reverse): %w", name, ErrFormat)
	}
	iServer, iSize, iKnown, iConn, iPos, iRep := opt("server_port"), opt("size"), opt("known"), opt("conn"), opt("pos"), opt("rep")

	s := &Set{Name: name}
	type connPos struct{ conn, pos int }
	seen := make(map[connPos]int) // -> line
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s: line %d: %s: %w", name, line, fmt.Sprintf(format, args...), ErrFormat)
		}
		if len(rec) != len(header) {
			return nil, bad("%d fields, the header has %d", len(rec), len(header))
		}
		get := func(i int) string {
			if i < 0 {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		l := Label{Line: line, Conn: -1, Rep: -1}
		if l.Client, err = parseAddr(get(iIP)); err != nil {
			return nil, bad("client_ip: %v", err)
		}
		if l.ClientPort, err = parsePort(get(iPort), false); err != nil {
			return nil, bad("client_port: %v", err)
		}
		if iInnerIP >= 0 && get(iInnerIP) != "" {
			if l.OrigClient, err = parseAddr(get(iInnerIP)); err != nil {
				return nil, bad("inner_client_ip: %v", err)
			}
			if l.OrigClientPort, err = parsePort(get(iInnerPort), false); err != nil {
				return nil, bad("inner_client_port: %v", err)
			}
		}
		if iNATIP >= 0 && get(iNATIP) != "" {
			l.OrigClient, l.OrigClientPort = l.Client, l.ClientPort
			if l.Client, err = parseAddr(get(iNATIP)); err != nil {
				return nil, bad("%s: %v", header[iNATIP], err)
			}
			if l.ClientPort, err = parsePort(get(iNATPort), false); err != nil {
				return nil, bad("%s: %v", header[iNATPort], err)
			}
		}
		if l.ServerPort, err = parsePort(get(iServer), true); err != nil {
			return nil, bad("server_port: %v", err)
		}
		if l.File, err = parseFile(rec[iFile]); err != nil {
			return nil, bad("file: %v", err)
		}
		if v := get(iSize); v != "" {
			if l.Size, err = strconv.ParseUint(v, 10, 64); err != nil {
				return nil, bad("size %q: not a byte count", v)
			}
		}
		if l.Known, err = parseBool(get(iKnown)); err != nil {
			return nil, bad("known: %v", err)
		}
		if l.Conn, err = parseCount(get(iConn), -1); err != nil {
			return nil, bad("conn: %v", err)
		}
		if l.Pos, err = parseCount(get(iPos), 0); err != nil {
			return nil, bad("pos: %v", err)
		}
		if l.Rep, err = parseCount(get(iRep), -1); err != nil {
			return nil, bad("rep: %v", err)
		}
		if l.Conn >= 0 {
			k := connPos{l.Conn, l.Pos}
			if prev, ok := seen[k]; ok {
				return nil, bad("conn %d pos %d already labelled at line %d", l.Conn, l.Pos, prev)
			}
			seen[k] = line
		}
		s.Labels = append(s.Labels, l)
	}
	return s, nil
}

// readOrdered reads an ordered list: "file" or "file,start" per line, with
// an optional header of those names.
func readOrdered(ctx context.Context, cr *csv.Reader, name string, first []string, cols map[string]int) (*Set, error) {
	s := &Set{Name: name, Ordered: true}
	isHeader := false
	if _, ok := cols["file"]; ok {
		isHeader = len(first) == 1 || (len(first) == 2 && strings.EqualFold(strings.TrimSpace(first[1]), "start"))
		if !isHeader {
			return nil, fmt.Errorf("%s: line 1: unknown column layout %q; %s: %w",
				name, strings.Join(first, ","), layouts, ErrFormat)
		}
	}
	rec := first
	line := 1
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if !isHeader {
			l, err := orderedLabel(rec)
			if err != nil {
				return nil, fmt.Errorf("%s: line %d: %w: %w", name, line, err, ErrFormat)
			}
			l.Line = line
			s.Labels = append(s.Labels, l)
		}
		isHeader = false
		var err error
		rec, err = cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ = cr.FieldPos(0)
	}
	return s, nil
}

func orderedLabel(rec []string) (Label, error) {
	l := Label{Conn: -1, Rep: -1}
	if len(rec) > 2 {
		return l, fmt.Errorf("unknown column layout: %d fields; %s", len(rec), layouts)
	}
	var err error
	if l.File, err = parseFile(rec[0]); err != nil {
		return l, fmt.Errorf("file: %w", err)
	}
	if len(rec) == 2 {
		v := strings.TrimSpace(rec[1])
		if v != "" {
			if l.Start, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return l, fmt.Errorf("start %q: not an RFC 3339 time", v)
			}
		}
	}
	return l, nil
}

func parseAddr(v string) (netip.Addr, error) {
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q: not an IP address", v)
	}
	return a.Unmap(), nil
}

// parsePort parses a TCP/UDP port; an empty value is 0 when optional.
func parsePort(v string, optional bool) (uint16, error) {
	if v == "" && optional {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil || (n == 0 && !optional) {
		return 0, fmt.Errorf("%q: not a port", v)
	}
	return uint16(n), nil
}

// parseCount parses a non-negative number; empty gives def.
func parseCount(v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("%q: not a non-negative number", v)
	}
	return int(n), nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "0", "false", "no":
		return false, nil
	case "1", "true", "yes":
		return true, nil
	}
	return false, fmt.Errorf("%q: want 1 or 0", v)
}

func parseFile(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", errors.New("empty file name")
	}
	if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
		return "", fmt.Errorf("control character %q in %q", v[i], v)
	}
	return v, nil
}
