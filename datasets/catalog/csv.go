package catalog

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// Column names ReadCSV accepts, case-insensitively; the first present wins.
var (
	nameColumns    = []string{"file", "filename", "file_name", "name"}
	sizeColumns    = []string{"size", "bytes", "size_bytes"}
	productColumns = []string{"product", "package"}
	versionColumns = []string{"version"}
	osColumns      = []string{"os"}
	urlColumns     = []string{"url", "href"}
	osVerColumns   = []string{"os_version", "osversion", "release"}
	dateColumns    = []string{"released", "date", "published"}
	kindColumns    = []string{"kind"}
)

// ReadCSV reads a CSV manifest whose header names at least a file column
// ("file", "filename" or "name") and a "size" column; "product", "version",
// "os", "os_version", "released" (a date, 2006-01-02, or an RFC 3339 time),
// "url" and "kind" ("" or "index", see KindIndex) columns are optional,
// other columns are ignored. name is the
// file name used in errors.
func ReadCSV(ctx context.Context, r io.Reader, name string) (*Catalog, error) {
	cr := csv.NewReader(datasets.LimitText(r, datasets.MaxLine, datasets.CSVRecords))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: %w", name, ErrEmpty)
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	cols := make(map[string]int, len(header))
	for i, h := range header {
		if i == 0 {
			h = string(bytes.TrimPrefix([]byte(h), utf8BOM))
		}
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := cols[h]; !dup {
			cols[h] = i
		}
	}
	pick := func(names []string) int {
		for _, n := range names {
			if i, ok := cols[n]; ok {
				return i
			}
		}
		return -1
	}
	iName, iSize := pick(nameColumns), pick(sizeColumns)
	iProduct, iVersion, iOS, iURL := pick(productColumns), pick(versionColumns), pick(osColumns), pick(urlColumns)
	iOSVer, iDate, iKind := pick(osVerColumns), pick(dateColumns), pick(kindColumns)
	if iProduct == iName {
		iProduct = -1
	}
	if iName < 0 || iSize < 0 {
		return nil, fmt.Errorf("%s: line 1: header %q lacks a file (file, filename, name) or size column: %w",
			name, strings.Join(header, ","), ErrFormat)
	}
	field := func(rec []string, i int) string {
		if i < 0 {
			return ""
		}
		return rec[i]
	}
	b := newBuilder(name)
	for n := 0; ; n++ {
		if err := checkCtx(ctx, n); err != nil {
			return nil, err
		}
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		where := "line " + strconv.Itoa(line)
		e := Entry{
			Name:    rec[iName],
			Product: field(rec, iProduct),
			Version: field(rec, iVersion),
			OS:      field(rec, iOS),
			URL:     field(rec, iURL),
		}
		switch k := strings.ToLower(strings.TrimSpace(field(rec, iKind))); k {
		case "":
		case KindIndex:
			e.Kind = KindIndex
		default:
			return nil, fmt.Errorf("%s: %s: %s: kind %q: want empty or %q: %w", name, where, e.Name, k, KindIndex, ErrFormat)
		}
		e.OSVersion = field(rec, iOSVer)
		if e.OSVersion == "" {
			e.OSVersion = OSVersionOf(e.OS, e.Version)
		}
		if d := strings.TrimSpace(field(rec, iDate)); d != "" {
			t, err := parseDate(d)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %s: released %q: want 2006-01-02 or an RFC 3339 time: %w", name, where, e.Name, d, ErrFormat)
			}
			e.Released = t
		}
		s := strings.TrimSpace(rec[iSize])
		if s == "" {
			return nil, fmt.Errorf("%s: %s: %s: missing size: %w", name, where, e.Name, ErrSize)
		}
		e.Size, err = strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %s: size %q: %w", name, where, e.Name, s, ErrSize)
		}
		if err := b.add(e, where); err != nil {
			return nil, err
		}
	}
	return b.done()
}

// csvError names the file and line of a CSV error (datasets.CSVError).
func csvError(name string, err error) error { return datasets.CSVError(name, err, ErrFormat) }

// parseDate reads a release date: a day (UTC) or an RFC 3339 time.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	return t.UTC(), err
}
