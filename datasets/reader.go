package datasets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"os"
	"time"
)

// SniffLen is how many leading bytes of a file Registry.Detect hands to
// Reader.Sniff.
const SniffLen = 4096

// Sentinel errors callers test with errors.Is.
var (
	// ErrUnknownFormat: no registered reader recognised the file's content.
	ErrUnknownFormat = errors.New("unknown flow file format")
	// ErrEmpty: the file has no bytes at all.
	ErrEmpty = errors.New("empty file")
	// ErrCorrupt: the content is recognised but inconsistent (bad magic
	// inside, impossible lengths, bad checksums).
	ErrCorrupt = errors.New("corrupt flow data")
	// ErrUnsupported: the format is recognised but this version or variant
	// is not read (the message says what to do instead).
	ErrUnsupported = errors.New("unsupported format variant")
)

// Reader decodes one input format. Implementations live in sub-packages
// (datasets/nfcapd, datasets/nfcsv, ...) and are registered by the caller.
type Reader interface {
	// Format is the short name of the format ("nfcapd", "nfdump-csv", ...).
	Format() string
	// Sniff reports whether head, the first SniffLen bytes of a file (or
	// fewer for a short file), looks like this format.
	Sniff(head []byte) bool
	// Flows streams the flows of the file at path. The first error ends the
	// iteration; flows yielded before it are valid.
	Flows(ctx context.Context, path string) iter.Seq2[Flow, error]
}

// Describer is implemented by readers that know more about a file than its
// flows (version, compression, ident, exporters). Describe fills what it
// knows; counts and time range are filled by Inspect from the flows.
type Describer interface {
	Describe(ctx context.Context, path string, info *FileInfo) error
}

// FileInfo describes one flow file, like `nfdump -I`.
type FileInfo struct {
	Path        string
	Format      string
	Version     string // format version or variant ("layout 2", "NetFlow v9", ...)
	Compression string // block compression, where the format has one
	Ident       string // nfcapd ident, capture link type, ...

	Flows   uint64
	Packets uint64
	Bytes   uint64
	First   time.Time // earliest flow start
	Last    time.Time // latest flow end

	Exporters     []netip.Addr
	SamplingRates []uint32 // distinct sampling rates seen (0 = unknown)
	Protocols     map[uint8]uint64
	Notes         []string // anything else worth telling a user
}

// Registry picks a reader for a file by sniffing its content.
type Registry struct {
	readers []Reader
}

// NewRegistry returns a registry that tries readers in the given order.
func NewRegistry(readers ...Reader) *Registry {
	return &Registry{readers: readers}
}

// Detect opens path, reads its first bytes and returns the first reader
// whose Sniff accepts them. Errors name the file.
func (r *Registry) Detect(ctx context.Context, path string) (Reader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := Open(ctx, path)
	if err != nil {
		return nil, err // *PathError already names the file
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", path)
	}
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrEmpty)
	}
	head = head[:n]
	for _, rd := range r.readers {
		if rd.Sniff(head) {
			return rd, nil
		}
	}
	return nil, fmt.Errorf("%s: %w (first bytes % x)", path, ErrUnknownFormat, head[:min(8, n)])
}

// Inspect describes the file at path: format, reader-specific details and
// counts gathered by streaming all of its flows.
func (r *Registry) Inspect(ctx context.Context, path string) (FileInfo, error) {
	info := FileInfo{Path: path, Protocols: map[uint8]uint64{}}
	rd, err := r.Detect(ctx, path)
	if err != nil {
		return info, err
	}
	info.Format = rd.Format()
	if d, ok := rd.(Describer); ok {
		if err := d.Describe(ctx, path, &info); err != nil {
			return info, err
		}
	}
	exp := map[netip.Addr]bool{}
	for _, a := range info.Exporters {
		exp[a] = true
	}
	samp := map[uint32]bool{}
	for _, s := range info.SamplingRates {
		samp[s] = true
	}
	for f, err := range rd.Flows(ctx, path) {
		if err != nil {
			return info, err
		}
		info.Flows++
		info.Packets += f.Packets + f.RevPackets
		info.Bytes += f.Bytes + f.RevBytes
		if info.First.IsZero() || f.Start.Before(info.First) {
			info.First = f.Start
		}
		if f.End.After(info.Last) {
			info.Last = f.End
		}
		info.Protocols[f.Proto]++
		if f.Exporter.IsValid() && !exp[f.Exporter] {
			exp[f.Exporter] = true
			info.Exporters = append(info.Exporters, f.Exporter)
		}
		if !samp[f.SamplingRate] {
			samp[f.SamplingRate] = true
			info.SamplingRates = append(info.SamplingRates, f.SamplingRate)
		}
	}
	return info, nil
}

// StreamFile opens path and streams the flows read decodes from it,
// closing the file when the iteration ends; read gets path to name in its
// errors. Readers of plain streams (text formats, record files) use it for
// their Flows method.
func StreamFile(ctx context.Context, path string, read func(name string, r io.Reader) iter.Seq2[Flow, error]) iter.Seq2[Flow, error] {
	return func(yield func(Flow, error) bool) {
		f, err := Open(ctx, path)
		if err != nil {
			yield(Flow{}, err) // *PathError names the file
			return
		}
		defer f.Close()
		for fl, err := range read(path, f) {
			if !yield(fl, err) || err != nil {
				return
			}
		}
	}
}

// CountingReader counts the bytes read through it, so readers can name the
// file offset of a decoding error.
type CountingReader struct {
	R io.Reader
	N int64 // bytes read so far
}

func (c *CountingReader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	return n, err
}

// Open opens path for reading, as every reader does. Opening a FIFO or a
// device may wait for a writer; Open then returns ctx's error as soon as
// ctx is done, abandoning the open (its file is closed should it succeed
// later).
func Open(ctx context.Context, path string) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if st, err := os.Stat(path); err != nil || st.Mode().IsRegular() || st.IsDir() {
		return os.Open(path)
	}
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		return o.f, o.err
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, ctx.Err()
	}
}
