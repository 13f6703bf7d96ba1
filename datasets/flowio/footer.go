package flowio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// maxFooter bounds the Parquet footer fingerflow reads: a footer of our
// schema grows by about 2.5 KiB per row group.
const maxFooter = 64 << 20

// checkFooter validates the Parquet footer of r (size bytes) before
// parquet-go decodes it. parquet-go's Thrift decoder allocates lists and
// maps with the element counts written in the file, so a corrupt count of
// 2^31 would allocate gigabytes; here every count and length is checked
// against the bytes that remain, and nesting is bounded.
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
	return nil
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
