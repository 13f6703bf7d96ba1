package catalog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"

	"github.com/fingerflow/fingerflow/datasets"
)

// Format names what Sniff recognised.
type Format string

// Formats Load reads.
const (
	FormatUnknown  Format = ""
	FormatCSV      Format = "csv"
	FormatDebian   Format = "debian-packages"
	FormatRelease  Format = "debian-release"
	FormatRPMPrime Format = "rpm-primary"
)

var (
	magicGzip = []byte{0x1f, 0x8b}
	magicZstd = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicXZ   = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	utf8BOM   = []byte{0xef, 0xbb, 0xbf}
)

// sniffLen is how many decompressed bytes Sniff looks at.
const sniffLen = 4096

// Load reads the catalog at path, whatever its format: a CSV manifest, a
// Debian Packages index or an RPM primary.xml, each plain, gzip- or
// zstd-compressed. The content decides, not the file name.
func Load(ctx context.Context, path string) (*Catalog, error) {
	f, err := datasets.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, closeFn, err := decompress(bufio.NewReaderSize(f, 64<<10), path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(sniffLen)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(bytes.TrimSpace(head)) == 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrEmpty)
	}
	switch Sniff(head) {
	case FormatRelease:
		// The Release file's own entry is its size as served: known for
		// a plain file, not for a compressed copy.
		var size int64
		if _, plain := r.(*bufio.Reader); plain {
			if st, err := f.Stat(); err == nil {
				size = st.Size()
			}
		}
		return ReadDebianRelease(ctx, br, path, path, size)
	case FormatRPMPrime:
		return ReadRPMPrimary(ctx, br, path)
	case FormatDebian:
		return ReadDebianPackages(ctx, br, path)
	case FormatCSV:
		return ReadCSV(ctx, br, path)
	}
	return nil, fmt.Errorf("%s: neither CSV, Debian Packages nor RPM primary.xml: %w", path, ErrFormat)
}

// decompress unwraps gzip or zstd content; plain content passes through.
func decompress(br *bufio.Reader, name string) (io.Reader, func(), error) {
	head, _ := br.Peek(len(magicXZ))
	switch {
	case bytes.HasPrefix(head, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(head, magicZstd):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: zstd: %w", name, err)
		}
		return zr, zr.Close, nil
	case bytes.HasPrefix(head, magicXZ):
		return nil, nil, fmt.Errorf("%s: xz-compressed; decompress it first (xz -dk) or fetch the .gz index: %w", name, ErrUnsupported)
	}
	return br, func() {}, nil
}

// Sniff tells which catalog format head, the first bytes of the
// (decompressed) content, looks like.
func Sniff(head []byte) Format {
	head = bytes.TrimPrefix(head, utf8BOM)
	t := bytes.TrimLeft(head, " \t\r\n")
	if len(t) == 0 {
		return FormatUnknown
	}
	if t[0] == '<' {
		if bytes.Contains(t, []byte("<metadata")) || bytes.Contains(t, []byte("linux.duke.edu/metadata/common")) {
			return FormatRPMPrime
		}
		return FormatUnknown
	}
	if bytes.HasPrefix(t, pgpSigned) {
		return FormatRelease
	}
	line, _, _ := bytes.Cut(t, []byte{'\n'})
	line = bytes.TrimRight(line, "\r")
	// A deb822 stanza starts with "Field: value"; a CSV header has a comma
	// and no such field. A Release file lists its index files in checksum
	// fields; a Packages index has Package fields.
	if k, _, ok := bytes.Cut(line, []byte{':'}); ok && isFieldName(k) {
		if !hasField(t, "Package") && (hasField(t, "SHA256") || hasField(t, "MD5Sum") || hasField(t, "SHA1")) {
			return FormatRelease
		}
		return FormatDebian
	}
	if bytes.IndexByte(line, ',') >= 0 {
		return FormatCSV
	}
	return FormatUnknown
}

// hasField reports whether a line of head starts field name.
func hasField(head []byte, name string) bool {
	for line := range bytes.SplitSeq(head, []byte{'\n'}) {
		if k, _, ok := bytes.Cut(line, []byte{':'}); ok && asciiEqualFold(k, name) {
			return true
		}
	}
	return false
}

// isFieldName reports whether k is a deb822 field name.
func isFieldName(k []byte) bool {
	if len(k) == 0 || k[0] == '#' || k[0] == '-' {
		return false
	}
	for _, c := range k {
		if c <= ' ' || c > '~' || c == ',' || c == ':' {
			return false
		}
	}
	return true
}

// checkCtx checks ctx every 4096 records (n counts them).
func checkCtx(ctx context.Context, n int) error {
	if n%4096 == 0 {
		return ctx.Err()
	}
	return nil
}
