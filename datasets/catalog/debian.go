package catalog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/fingerflow/fingerflow/datasets"
)

// ReadDebianPackages reads a Debian "Packages" index (deb822 stanzas
// separated by blank lines). Each stanza needs Filename and Size; Package
// and Version are kept. An entry's Name is the base of Filename, Product the
// Package field, OS "debian" and URL the Filename (the pool path relative to
// the archive root). name is the file name used in errors.
func ReadDebianPackages(ctx context.Context, r io.Reader, name string) (*Catalog, error) {
	// Lines are bounded by datasets.MaxLine (real indexes stay under a few
	// kilobytes: long Depends lines, descriptions) before the scanner,
	// whose own bound only has to hold such a line and its end.
	sc := bufio.NewScanner(datasets.LimitText(r, datasets.MaxLine, datasets.Lines))
	sc.Buffer(make([]byte, 0, 64<<10), 2*datasets.MaxLine)
	b := newBuilder(name)

	var (
		line     int
		start    int // line of the current stanza's first field
		pkg, ver string
		filename string
		size     string
		sizeLine int
		inField  bool // a field was seen, so continuation lines are allowed
	)
	flush := func() error {
		if start == 0 {
			return nil
		}
		where := "line " + strconv.Itoa(start)
		defer func() { start, pkg, ver, filename, size, sizeLine, inField = 0, "", "", "", "", 0, false }()
		if filename == "" {
			return fmt.Errorf("%s: %s: package %q has no Filename: %w", name, where, pkg, ErrFormat)
		}
		base := path.Base(filename)
		if base == "." || base == "/" || strings.HasSuffix(filename, "/") {
			return fmt.Errorf("%s: %s: Filename %q names no file: %w", name, where, filename, ErrFormat)
		}
		if size == "" {
			return fmt.Errorf("%s: %s: %s: missing Size: %w", name, where, base, ErrSize)
		}
		n, err := strconv.ParseUint(size, 10, 64)
		if err != nil {
			return fmt.Errorf("%s: line %d: %s: Size %q: %w", name, sizeLine, base, size, ErrSize)
		}
		return b.add(Entry{Name: base, Size: n, Product: pkg, Version: ver, OS: "debian", OSVersion: OSVersionOf("debian", ver), URL: filename}, where)
	}
	for sc.Scan() {
		if err := checkCtx(ctx, line); err != nil {
			return nil, err
		}
		line++
		text := bytes.TrimSuffix(sc.Bytes(), []byte{'\r'})
		if len(bytes.TrimSpace(text)) == 0 {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		switch text[0] {
		case '#':
			continue // deb822 comment
		case ' ', '\t':
			if !inField {
				return nil, fmt.Errorf("%s: line %d: continuation line outside a field: %w", name, line, ErrFormat)
			}
			continue // continuation of a multi-line field (Description)
		}
		k, v, ok := bytes.Cut(text, []byte{':'})
		if !ok || !isFieldName(k) {
			return nil, fmt.Errorf("%s: line %d: not a \"Field: value\" line: %w", name, line, ErrFormat)
		}
		if start == 0 {
			start = line
		}
		inField = true
		// Only the four kept fields become strings.
		switch {
		case asciiEqualFold(k, "Package"):
			pkg = string(bytes.TrimSpace(v))
		case asciiEqualFold(k, "Version"):
			ver = string(bytes.TrimSpace(v))
		case asciiEqualFold(k, "Filename"):
			filename = string(bytes.TrimSpace(v))
		case asciiEqualFold(k, "Size"):
			size, sizeLine = string(bytes.TrimSpace(v)), line
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, datasets.ErrLineTooLong) {
			return nil, fmt.Errorf("%s: %w: %w", name, err, ErrFormat)
		}
		return nil, fmt.Errorf("%s: line %d: %w", name, line+1, err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return b.done()
}

// asciiEqualFold compares a field name case-insensitively without
// allocating.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}
