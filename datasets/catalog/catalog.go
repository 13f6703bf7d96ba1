// Package catalog reads the lists of known files (update packages,
// installers) that the download classifier recognises: a CSV manifest, a
// Debian "Packages" index or an RPM repository's primary.xml, each plain or
// compressed (gzip, zstd). Load sniffs the content, not the file name, and
// streams it; only the entries are kept.
//
// A catalog is strict: every entry has a name and a non-zero size, names
// are unique and an empty catalog is an error. Errors name the file and the
// line or record.
package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Sentinel errors callers test with errors.Is.
var (
	// ErrEmpty: the catalog has no entry.
	ErrEmpty = errors.New("empty catalog")
	// ErrSize: an entry has a zero, missing or malformed size.
	ErrSize = errors.New("bad size")
	// ErrDuplicate: a name appears twice with different sizes.
	ErrDuplicate = errors.New("duplicate file name with another size")
	// ErrFormat: the content is not a catalog this package reads, or a
	// record lacks a required field.
	ErrFormat = errors.New("bad catalog format")
	// ErrUnsupported: the content is recognised (xz) but not read.
	ErrUnsupported = errors.New("unsupported catalog compression")
)

// Entry is one known file: an update package, an installer.
type Entry struct {
	Name    string // file name (unique key within a catalog)
	Size    uint64 // bytes
	Product string // package / product name, optional
	Version string // optional
	OS      string // OS family ("debian", "windows", "rhel", ...), optional
	URL     string // where it is downloaded from, optional
	// OSVersion is the release of the OS family the entry is built for
	// ("12" for a Debian bookworm package, "9" for an el9 RPM), where the
	// catalog says so or the version string shows it; optional.
	OSVersion string `json:",omitempty"`
	// Released is when the entry was published (an RPM's build time, a
	// CSV "released" column); zero when the catalog does not say.
	Released time.Time `json:",omitzero"`
	// Kind is "" for a file that can be an update, KindIndex for a file
	// of a package mirror's index.
	Kind string `json:",omitempty"`
}

// Catalog is an ordered list of entries with unique names.
type Catalog struct {
	Entries []Entry

	// idx maps a name to its position; built by the readers and New.
	idx map[string]int
}

// New validates entries (names non-empty and unique, sizes non-zero, at
// least one entry) and returns a catalog holding them, indexed by name.
// Unlike the readers it rejects any repeated name.
func New(entries []Entry) (*Catalog, error) {
	b := newBuilder("entries")
	for i, e := range entries {
		where := fmt.Sprintf("entry %d", i)
		if err := b.add(e, where); err != nil {
			return nil, err
		}
	}
	if b.dropped > 0 {
		return nil, fmt.Errorf("entries: %d repeated names: %w", b.dropped, ErrDuplicate)
	}
	return b.done()
}

// Len is the number of entries.
func (c *Catalog) Len() int { return len(c.Entries) }

// Index returns the position of the entry called name. It uses the name
// index built when the catalog was read; when Entries grows or shrinks
// afterwards Index scans instead (entries are not to be renamed in place).
func (c *Catalog) Index(name string) (int, bool) {
	if c == nil {
		return 0, false
	}
	if c.idx != nil && len(c.idx) == len(c.Entries) {
		i, ok := c.idx[name]
		if ok && i < len(c.Entries) && c.Entries[i].Name == name {
			return i, true
		}
		if !ok {
			return 0, false
		}
	}
	for i := range c.Entries {
		if c.Entries[i].Name == name {
			return i, true
		}
	}
	return 0, false
}

// Lookup returns the entry called name.
func (c *Catalog) Lookup(name string) (Entry, bool) {
	i, ok := c.Index(name)
	if !ok {
		return Entry{}, false
	}
	return c.Entries[i], true
}

// Names returns the entry names in catalog order.
func (c *Catalog) Names() []string {
	out := make([]string, len(c.Entries))
	for i, e := range c.Entries {
		out[i] = e.Name
	}
	return out
}

// builder collects entries, enforcing the catalog rules, and remembers where
// each name came from for error messages.
type builder struct {
	file    string
	entries []Entry
	idx     map[string]int
	where   []string
	dropped int // repeated names with equal sizes
}

func newBuilder(file string) *builder {
	return &builder{file: file, idx: make(map[string]int)}
}

// add appends e; where says where it was read ("line 12", "record 3 (line 40)").
func (b *builder) add(e Entry, where string) error {
	if e.Name == "" {
		return fmt.Errorf("%s: %s: empty file name: %w", b.file, where, ErrFormat)
	}
	for _, f := range [...]struct{ col, v string }{
		{"name", e.Name}, {"product", e.Product}, {"version", e.Version}, {"os", e.OS}, {"url", e.URL}, {"os_version", e.OSVersion},
	} {
		if i := strings.IndexFunc(f.v, unicode.IsControl); i >= 0 {
			return fmt.Errorf("%s: %s: control character %q in %s: %w", b.file, where, f.v[i], f.col, ErrFormat)
		}
	}
	if e.Size == 0 {
		return fmt.Errorf("%s: %s: %s: zero size: %w", b.file, where, e.Name, ErrSize)
	}
	if i, ok := b.idx[e.Name]; ok {
		first := b.entries[i]
		if first.Size != e.Size {
			return fmt.Errorf("%s: %s: %s has size %d, but %s gives size %d: %w",
				b.file, where, e.Name, e.Size, b.where[i], first.Size, ErrDuplicate)
		}
		b.dropped++
		return nil
	}
	b.idx[e.Name] = len(b.entries)
	b.entries = append(b.entries, e)
	b.where = append(b.where, where)
	return nil
}

func (b *builder) done() (*Catalog, error) {
	if len(b.entries) == 0 {
		return nil, fmt.Errorf("%s: %w", b.file, ErrEmpty)
	}
	return &Catalog{Entries: slices.Clip(b.entries), idx: b.idx}, nil
}
