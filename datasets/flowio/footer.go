package flowio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// maxFooter bounds the Parquet footer fingerflow reads: a footer of our
// schema grows by about 2.5 KiB per row group.
const maxFooter = 64 << 20

// CheckParquet validates a Parquet file of any schema (size bytes) before
// parquet-go opens it: the footer's counts and lengths fit its bytes, and
// every column chunk lies inside the file and is made of pages that fit
// it (checkFooter). parquet-go trusts these numbers and panics, or worse,
// on a file that breaks them.
func CheckParquet(r io.ReaderAt, size int64) error { return checkFooter(r, size) }

// checkFooter validates the Parquet footer of r (size bytes) before
// parquet-go decodes it. parquet-go's Thrift decoder allocates lists and
// maps with the element counts written in the file, so a corrupt count of
// 2^31 would allocate gigabytes; here every count and length is checked
// against the bytes that remain, and nesting is bounded. Then the layout
// the footer describes is checked against the file (checkLayout).
func checkFooter(r io.ReaderAt, size int64) error {
	if size < 12 {
		return io.ErrUnexpectedEOF
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	if string(tail[4:]) != "PAR1" {
		return errors.New("no PAR1 magic at the end (truncated file?)")
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 || n > maxFooter {
		return fmt.Errorf("footer of %d bytes in a file of %d: %w", n, size, io.ErrUnexpectedEOF)
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, size-8-n); err != nil {
		return err
	}
	w := thriftWalker{b: buf}
	if err := w.structure(0); err != nil {
		return fmt.Errorf("footer offset %d: %w", w.off, err)
	}
	// Every count in the footer fits the bytes that hold it: decoding it
	// allocates no more than its size.
	var md format.FileMetaData
	if err := thrift.Unmarshal(&thrift.CompactProtocol{}, buf, &md); err != nil {
		return fmt.Errorf("footer: %w: %v", errThrift, err)
	}
	return checkLayout(r, &md, size-8-n)
}

// Bounds of what checkLayout accepts: a page of our writer is at most one
// row group's column (64k rows of at most a few hundred bytes each).
const (
	maxPageSize   = 1 << 30
	maxPageHeader = 1 << 20
	maxSchemaSize = 1 << 16
)

// checkLayout checks the file's metadata against its schema and its bytes
// before parquet-go reads a page: every column chunk is the column the
// schema says, at a place inside the file before the footer, and is made
// of pages whose headers and sizes fit it. parquet-go v0.32.0 trusts
// these numbers and, given a chunk of another type or offsets outside the
// file, builds values over nil memory (a fatal error under the race
// detector's pointer checks, a panic otherwise).
func checkLayout(r io.ReaderAt, md *format.FileMetaData, footer int64) error {
	leaves, err := schemaLeaves(md.Schema)
	if err != nil {
		return err
	}
	if md.NumRows < 0 {
		return fmt.Errorf("%d rows", md.NumRows)
	}
	var rows int64
	for g, rg := range md.RowGroups {
		if rg.NumRows < 0 || rows > md.NumRows-rg.NumRows {
			return fmt.Errorf("row group %d: %d rows of a file of %d", g, rg.NumRows, md.NumRows)
		}
		rows += rg.NumRows
		if len(rg.Columns) != len(leaves) {
			return fmt.Errorf("row group %d: %d column chunks for %d columns", g, len(rg.Columns), len(leaves))
		}
		for c := range rg.Columns {
			if err := checkChunk(r, &rg.Columns[c], leaves[c], footer); err != nil {
				return fmt.Errorf("row group %d: column %s: %w", g, leaves[c].path, err)
			}
		}
	}
	if rows != md.NumRows {
		return fmt.Errorf("row groups hold %d rows, the file says %d", rows, md.NumRows)
	}
	return nil
}

// leaf is a column of the schema.
type leaf struct {
	path string // names from the root, joined by "."
	typ  format.Type
}

// schemaLeaves lists the schema's columns in file order; the flattened
// schema's child counts must describe a tree.
func schemaLeaves(schema []format.SchemaElement) ([]leaf, error) {
	if len(schema) == 0 || len(schema) > maxSchemaSize {
		return nil, fmt.Errorf("schema of %d elements", len(schema))
	}
	var out []leaf
	i := 1
	var walk func(prefix string, children int32, depth int) error
	walk = func(prefix string, children int32, depth int) error {
		if depth > maxDepth {
			return fmt.Errorf("schema nested too deep")
		}
		for range children {
			if i >= len(schema) {
				return fmt.Errorf("schema: child counts exceed its %d elements", len(schema))
			}
			e := &schema[i]
			i++
			path := e.Name
			if prefix != "" {
				path = prefix + "." + e.Name
			}
			if e.NumChildren.Valid && e.NumChildren.V > 0 {
				if err := walk(path, e.NumChildren.V, depth+1); err != nil {
					return err
				}
				continue
			}
			if !e.Type.Valid {
				return fmt.Errorf("schema: column %s without a type", path)
			}
			out = append(out, leaf{path, e.Type.V})
		}
		return nil
	}
	root := schema[0].NumChildren
	if !root.Valid || root.V < 0 {
		return nil, fmt.Errorf("schema root without children")
	}
	if err := walk("", root.V, 0); err != nil {
		return nil, err
	}
	if i != len(schema) {
		return nil, fmt.Errorf("schema: %d of its %d elements outside the tree", len(schema)-i, len(schema))
	}
	return out, nil
}

// checkChunk checks one column chunk's metadata and walks its page
// headers.
func checkChunk(r io.ReaderAt, cc *format.ColumnChunk, l leaf, footer int64) error {
	md := &cc.MetaData
	switch {
	case strings.Join(md.PathInSchema, ".") != l.path:
		return fmt.Errorf("chunk of column %q", strings.Join(md.PathInSchema, "."))
	case md.Type != l.typ:
		return fmt.Errorf("chunk of type %v, the schema says %v", md.Type, l.typ)
	case md.NumValues < 0:
		return fmt.Errorf("%d values", md.NumValues)
	case md.TotalCompressedSize < 0 || md.TotalUncompressedSize < 0 || md.TotalUncompressedSize > maxPageSize:
		return fmt.Errorf("sizes %d/%d", md.TotalCompressedSize, md.TotalUncompressedSize)
	}
	first := md.DataPageOffset
	if md.DictionaryPageOffset > 0 {
		if md.DictionaryPageOffset >= md.DataPageOffset {
			return fmt.Errorf("dictionary page at %d after the data at %d", md.DictionaryPageOffset, md.DataPageOffset)
		}
		first = md.DictionaryPageOffset
	}
	end := first + md.TotalCompressedSize
	if first < 4 || end < first || end > footer || md.DataPageOffset >= end && md.NumValues > 0 {
		return fmt.Errorf("%d bytes at offset %d: outside the file's %d bytes of data", md.TotalCompressedSize, first, footer)
	}
	var values int64
	dictionary := false
	for off, page := first, 0; off < end; page++ {
		h, n, err := readPageHeader(r, off, end)
		if err != nil {
			return fmt.Errorf("page %d at offset %d: %w", page, off, err)
		}
		if h.CompressedPageSize < 0 || h.UncompressedPageSize < 0 || h.UncompressedPageSize > maxPageSize ||
			int64(h.CompressedPageSize) > end-off-n {
			return fmt.Errorf("page %d at offset %d: sizes %d/%d in a chunk with %d bytes left",
				page, off, h.CompressedPageSize, h.UncompressedPageSize, end-off-n)
		}
		switch h.Type {
		case format.DictionaryPage:
			d := h.DictionaryPageHeader
			if page > 0 || !d.Valid || d.V.NumValues < 0 || off != first || md.DictionaryPageOffset == 0 && off != md.DataPageOffset {
				return fmt.Errorf("page %d at offset %d: misplaced or bad dictionary page", page, off)
			}
			dictionary = true
		case format.DataPage:
			d := h.DataPageHeader
			if !d.Valid || d.V.NumValues < 0 {
				return fmt.Errorf("page %d at offset %d: bad data page header", page, off)
			}
			values += int64(d.V.NumValues)
		case format.DataPageV2:
			d := h.DataPageHeaderV2
			if !d.Valid || d.V.NumValues < 0 || d.V.NumNulls < 0 || d.V.NumNulls > d.V.NumValues || d.V.NumRows < 0 ||
				d.V.DefinitionLevelsByteLength < 0 || d.V.RepetitionLevelsByteLength < 0 ||
				int64(d.V.DefinitionLevelsByteLength)+int64(d.V.RepetitionLevelsByteLength) > int64(h.CompressedPageSize) {
				return fmt.Errorf("page %d at offset %d: bad data page header", page, off)
			}
			values += int64(d.V.NumValues)
		case format.IndexPage:
		default:
			return fmt.Errorf("page %d at offset %d: page type %d", page, off, h.Type)
		}
		off += n + int64(h.CompressedPageSize)
	}
	if values != md.NumValues {
		return fmt.Errorf("pages hold %d values, the chunk says %d", values, md.NumValues)
	}
	for _, e := range md.Encoding {
		if (e == format.RLEDictionary || e == format.PlainDictionary) && !dictionary && md.NumValues > 0 {
			return fmt.Errorf("dictionary-encoded without a dictionary page")
		}
	}
	return nil
}

// readPageHeader decodes the page header at off of a chunk ending at end
// and returns it with its length.
func readPageHeader(r io.ReaderAt, off, end int64) (*format.PageHeader, int64, error) {
	buf := make([]byte, min(end-off, maxPageHeader))
	n, err := r.ReadAt(buf, off)
	if n < len(buf) && err != nil {
		return nil, 0, err
	}
	w := thriftWalker{b: buf[:n]}
	if err := w.structure(0); err != nil {
		return nil, 0, err
	}
	var h format.PageHeader
	if err := thrift.Unmarshal(&thrift.CompactProtocol{}, buf[:w.off], &h); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errThrift, err)
	}
	return &h, int64(w.off), nil
}

// thriftWalker skips over Thrift compact-protocol data, checking lengths.
type thriftWalker struct {
	b   []byte
	off int
}

var errThrift = errors.New("malformed thrift metadata")

const maxDepth = 32

func (w *thriftWalker) byte() (byte, error) {
	if w.off >= len(w.b) {
		return 0, io.ErrUnexpectedEOF
	}
	c := w.b[w.off]
	w.off++
	return c, nil
}

func (w *thriftWalker) varint() (uint64, error) {
	v, n := binary.Uvarint(w.b[w.off:])
	if n <= 0 {
		return 0, errThrift
	}
	w.off += n
	return v, nil
}

func (w *thriftWalker) skip(n uint64) error {
	if n > uint64(len(w.b)-w.off) {
		return io.ErrUnexpectedEOF
	}
	w.off += int(n)
	return nil
}

// count checks that n elements of at least one byte each fit.
func (w *thriftWalker) count(n uint64) error {
	if n > uint64(len(w.b)-w.off) {
		return fmt.Errorf("%w: %d elements in %d bytes", errThrift, n, len(w.b)-w.off)
	}
	return nil
}

func (w *thriftWalker) structure(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested too deep", errThrift)
	}
	for {
		h, err := w.byte()
		if err != nil {
			return err
		}
		if h == 0 { // stop
			return nil
		}
		if h>>4 == 0 { // long form: zigzag i16 field id follows
			if _, err := w.varint(); err != nil {
				return err
			}
		}
		if err := w.value(h&0x0f, depth, true); err != nil {
			return err
		}
	}
}

// value skips one value of compact type t. Booleans are in the field
// header of a struct field, but take one byte as list elements.
func (w *thriftWalker) value(t byte, depth int, inField bool) error {
	switch t {
	case 1, 2: // bool
		if inField {
			return nil
		}
		return w.skip(1)
	case 3: // byte
		return w.skip(1)
	case 4, 5, 6: // i16, i32, i64
		_, err := w.varint()
		return err
	case 7: // double
		return w.skip(8)
	case 8: // binary
		n, err := w.varint()
		if err != nil {
			return err
		}
		return w.skip(n)
	case 9, 10: // list, set
		h, err := w.byte()
		if err != nil {
			return err
		}
		n := uint64(h >> 4)
		if n == 15 {
			if n, err = w.varint(); err != nil {
				return err
			}
		}
		if err := w.count(n); err != nil {
			return err
		}
		for range n {
			if err := w.value(h&0x0f, depth+1, false); err != nil {
				return err
			}
		}
		return nil
	case 11: // map
		n, err := w.varint()
		if err != nil || n == 0 {
			return err
		}
		if err := w.count(2 * n); err != nil {
			return err
		}
		kv, err := w.byte()
		if err != nil {
			return err
		}
		for range n {
			if err := w.value(kv>>4, depth+1, false); err != nil {
				return err
			}
			if err := w.value(kv&0x0f, depth+1, false); err != nil {
				return err
			}
		}
		return nil
	case 12: // struct
		return w.structure(depth + 1)
	case 13: // uuid
		return w.skip(16)
	}
	return fmt.Errorf("%w: type %d", errThrift, t)
}
