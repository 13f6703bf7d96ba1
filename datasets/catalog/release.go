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

// KindIndex marks the catalog entries of a package mirror's index: the
// files a Debian Release (or InRelease) lists with their sizes, and the
// Release file itself. Hosts fetch them to learn what the mirror holds
// (apt-get update), so a download of them says which family a host runs,
// but they are never updates.
const KindIndex = "index"

// pgpSigned starts an InRelease file: a Release signed inline.
var pgpSigned = []byte("-----BEGIN PGP SIGNED MESSAGE-----")

// ReadDebianRelease reads a Debian Release or InRelease file: every file
// its MD5Sum, SHA1 or SHA256 section lists ("hash size path"), once, as an
// index entry named by its path, and the Release file itself as an entry
// named base of its size size (its bytes as read; 0 leaves it out). The
// family is "ubuntu" when the Origin field says Ubuntu, else "debian";
// Product says the mirror ("Origin Suite"). name is the file name used in
// errors and for the file's own entry.
func ReadDebianRelease(ctx context.Context, r io.Reader, name, base string, size int64) (*Catalog, error) {
	sc := bufio.NewScanner(datasets.LimitText(r, datasets.MaxLine, datasets.Lines))
	sc.Buffer(make([]byte, 0, 64<<10), 2*datasets.MaxLine)
	b := newBuilder(name)
	var (
		line                 int
		origin, suite        string
		inSums, signed, body bool
		sigs                 bool // inside the signature block: the rest is not the Release
		files                []Entry
		where                []string
	)
	for sc.Scan() {
		if err := checkCtx(ctx, line); err != nil {
			return nil, err
		}
		line++
		text := bytes.TrimSuffix(sc.Bytes(), []byte{'\r'})
		switch {
		case sigs:
			continue
		case line == 1 && bytes.HasPrefix(text, pgpSigned):
			signed = true
			continue
		case signed && !body:
			// The armor's headers ("Hash: SHA512") end at a blank line.
			body = len(bytes.TrimSpace(text)) == 0
			continue
		case signed && bytes.HasPrefix(text, []byte("-----BEGIN PGP SIGNATURE-----")):
			sigs = true
			continue
		case len(bytes.TrimSpace(text)) == 0:
			inSums = false
			continue
		case text[0] == ' ' || text[0] == '\t':
			if !inSums {
				continue // continuation of another multi-line field
			}
			f := strings.Fields(string(text))
			if len(f) != 3 {
				return nil, fmt.Errorf("%s: line %d: want \"hash size path\": %w", name, line, ErrFormat)
			}
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: line %d: size %q: %w", name, line, f[1], ErrSize)
			}
			if n > 0 {
				files = append(files, Entry{Name: f[2], Size: n, Kind: KindIndex, URL: f[2]})
				where = append(where, "line "+strconv.Itoa(line))
			}
			continue
		}
		k, v, ok := bytes.Cut(text, []byte{':'})
		if !ok || !isFieldName(k) {
			if signed && !body {
				continue
			}
			return nil, fmt.Errorf("%s: line %d: not a \"Field: value\" line: %w", name, line, ErrFormat)
		}
		inSums = false
		switch {
		case asciiEqualFold(k, "MD5Sum"), asciiEqualFold(k, "SHA1"), asciiEqualFold(k, "SHA256"), asciiEqualFold(k, "SHA512"):
			inSums = true
		case asciiEqualFold(k, "Origin"):
			origin = string(bytes.TrimSpace(v))
		case asciiEqualFold(k, "Suite"):
			suite = string(bytes.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, datasets.ErrLineTooLong) {
			return nil, fmt.Errorf("%s: %w: %w", name, err, ErrFormat)
		}
		return nil, fmt.Errorf("%s: line %d: %w", name, line+1, err)
	}
	family := "debian"
	if strings.EqualFold(origin, "ubuntu") {
		family = "ubuntu"
	}
	product := strings.TrimSpace(origin + " " + suite)
	if size > 0 {
		files = append(files, Entry{Name: path.Base(base), Size: uint64(size), Kind: KindIndex})
		where = append(where, "the file itself")
	}
	for i, e := range files {
		e.OS, e.Product = family, product
		if err := b.add(e, where[i]); err != nil {
			return nil, err
		}
	}
	return b.done()
}

// Merge joins catalogs: their entries in order, a name listed by two of
// them kept once when the sizes agree; a name with two sizes is an error
// (ErrDuplicate).
func Merge(cats ...*Catalog) (*Catalog, error) {
	b := newBuilder("the catalogs")
	for _, c := range cats {
		for i, e := range c.Entries {
			// Two suites' Release files list the same index paths with
			// other sizes: an index entry whose name another catalog
			// took is named with its suite.
			if j, ok := b.idx[e.Name]; ok && e.Kind == KindIndex && b.entries[j].Kind == KindIndex &&
				b.entries[j].Size != e.Size && e.Product != "" {
				e.Name = e.Product + " " + e.Name
			}
			if err := b.add(e, fmt.Sprintf("entry %d", i)); err != nil {
				return nil, err
			}
		}
	}
	return b.done()
}

// Files are the catalog's entries that are not of an index (KindIndex):
// the files that can be updates.
func (c *Catalog) Files() []Entry {
	out := make([]Entry, 0, len(c.Entries))
	for _, e := range c.Entries {
		if e.Kind != KindIndex {
			out = append(out, e)
		}
	}
	return out
}
