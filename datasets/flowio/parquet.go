package flowio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/fingerflow/fingerflow/datasets"
)

// RowGroupRows is the number of rows the Parquet writer buffers before it
// writes a row group. At about 100 bytes per buffered row this bounds the
// writer's memory to a few MiB whatever the number of flows.
const RowGroupRows = 64 * 1024

// parquetVersion is recorded in the file's key/value metadata so a reader
// can tell future schema changes apart.
const parquetVersion = "1"

// row is the Parquet schema. Start and End are Unix nanoseconds (0 for an
// unknown time) under the TIMESTAMP(NANOS, UTC) logical type.
type row struct {
	Start      int64  `parquet:"start,timestamp(nanosecond:utc),delta"`
	End        int64  `parquet:"end,timestamp(nanosecond:utc),delta"`
	Src        string `parquet:"src,dict"`
	Dst        string `parquet:"dst,dict"`
	SrcPort    uint16 `parquet:"sport"`
	DstPort    uint16 `parquet:"dport"`
	Proto      uint8  `parquet:"proto"`
	Flags      uint8  `parquet:"flags"`
	Packets    int64  `parquet:"packets"`
	Bytes      int64  `parquet:"bytes"`
	HasReverse bool   `parquet:"has_reverse"`
	RevPackets int64  `parquet:"rev_packets"`
	RevBytes   int64  `parquet:"rev_bytes"`
	Exporter   string `parquet:"exporter,dict"`
	Sampling   uint32 `parquet:"sampling"`
	InIf       uint32 `parquet:"in_if"`
	OutIf      uint32 `parquet:"out_if"`
	ToS        uint8  `parquet:"tos"`
	MinTTL     uint8  `parquet:"min_ttl"`
	MaxTTL     uint8  `parquet:"max_ttl"`
}

// ParquetWriter writes flows as a Parquet file.
type ParquetWriter struct {
	w      *parquet.GenericWriter[row]
	buf    []row
	n      uint64
	closed bool
}

var _ FlowWriter = (*ParquetWriter)(nil)

// NewParquetWriter returns a writer of zstd-compressed Parquet to w, with
// row groups of RowGroupRows rows.
func NewParquetWriter(w io.Writer) *ParquetWriter {
	pw := parquet.NewGenericWriter[row](w,
		parquet.Compression(&parquet.Zstd),
		parquet.MaxRowsPerRowGroup(RowGroupRows),
		// parquet-go joins version and "(build" without a space.
		parquet.CreatedBy("fingerflow", parquetVersion+" ", "flowio"),
		parquet.KeyValueMetadata("fingerflow.schema", parquetVersion),
	)
	return &ParquetWriter{w: pw, buf: make([]row, 0, 1024)}
}

// Write buffers one flow.
func (p *ParquetWriter) Write(f *datasets.Flow) error {
	if p.closed {
		return ErrClosed
	}
	if f.Packets > math.MaxInt64 || f.Bytes > math.MaxInt64 || f.RevPackets > math.MaxInt64 || f.RevBytes > math.MaxInt64 {
		return fmt.Errorf("flow %d: counter above 2^63-1 cannot be stored", p.n)
	}
	p.buf = append(p.buf, row{
		Start:      unixNano(f.Start),
		End:        unixNano(f.End),
		Src:        addrString(f.SrcAddr),
		Dst:        addrString(f.DstAddr),
		SrcPort:    f.SrcPort,
		DstPort:    f.DstPort,
		Proto:      f.Proto,
		Flags:      f.TCPFlags,
		Packets:    int64(f.Packets),
		Bytes:      int64(f.Bytes),
		HasReverse: f.HasReverse,
		RevPackets: int64(f.RevPackets),
		RevBytes:   int64(f.RevBytes),
		Exporter:   addrString(f.Exporter),
		Sampling:   f.SamplingRate,
		InIf:       f.InIf,
		OutIf:      f.OutIf,
		ToS:        f.ToS,
		MinTTL:     f.MinTTL,
		MaxTTL:     f.MaxTTL,
	})
	p.n++
	if len(p.buf) == cap(p.buf) {
		return p.flush()
	}
	return nil
}

func (p *ParquetWriter) flush() error {
	if len(p.buf) == 0 {
		return nil
	}
	_, err := p.w.Write(p.buf)
	p.buf = p.buf[:0]
	return err
}

// Close writes buffered rows and the file footer.
func (p *ParquetWriter) Close() error {
	if p.closed {
		return ErrClosed
	}
	p.closed = true
	if err := p.flush(); err != nil {
		return err
	}
	return p.w.Close()
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func parseAddr(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	return netip.ParseAddr(s)
}

// ParquetReader reads Parquet files written by ParquetWriter.
type ParquetReader struct{}

var (
	_ datasets.Reader    = ParquetReader{}
	_ datasets.Describer = ParquetReader{}
)

// Format implements datasets.Reader.
func (ParquetReader) Format() string { return FormatParquet }

// Sniff accepts any file starting with the Parquet magic "PAR1"; a Parquet
// file of another schema is refused by Flows with datasets.ErrUnsupported.
func (ParquetReader) Sniff(head []byte) bool {
	return len(head) >= 4 && string(head[:4]) == "PAR1"
}

// openParquet opens path and checks that its schema holds every column of
// ours with the same physical type.
func openParquet(ctx context.Context, path string) (*os.File, *parquet.File, error) {
	f, err := datasets.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := checkFooter(f, st.Size()); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w: %w", path, datasets.ErrCorrupt, err)
	}
	var pf *parquet.File
	err = safely(func() (err error) {
		pf, err = parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
		return err
	})
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, fmt.Errorf("%s: %w: %w", path, datasets.ErrCorrupt, err)
	}
	want := parquet.SchemaOf(row{})
	for _, field := range want.Fields() {
		got, ok := pf.Schema().Lookup(field.Name())
		if !ok {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w: parquet file without column %q (not written by fingerflow ingest)", path, datasets.ErrUnsupported, field.Name())
		}
		if got.Node.Type().Kind() != field.Type().Kind() {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w: column %q is %v, want %v", path, datasets.ErrUnsupported, field.Name(), got.Node.Type(), field.Type())
		}
	}
	return f, pf, nil
}

// Flows streams the rows of a fingerflow Parquet file, one row group at a
// time.
func (ParquetReader) Flows(ctx context.Context, path string) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		f, pf, err := openParquet(ctx, path)
		if err != nil {
			yield(datasets.Flow{}, err)
			return
		}
		defer f.Close()
		var r *parquet.GenericReader[row]
		if err := safely(func() error { r = parquet.NewGenericReader[row](pf); return nil }); err != nil {
			yield(datasets.Flow{}, fmt.Errorf("%s: %w", path, err))
			return
		}
		defer r.Close()
		buf := make([]row, 1024)
		var i int64
		for {
			if err := ctx.Err(); err != nil {
				yield(datasets.Flow{}, err)
				return
			}
			var n int
			err := safely(func() (err error) { n, err = r.Read(buf); return err })
			for _, rw := range buf[:n] {
				fl, perr := rw.flow()
				if perr != nil {
					yield(datasets.Flow{}, fmt.Errorf("%s: row %d: %w: %w", path, i, datasets.ErrCorrupt, perr))
					return
				}
				i++
				if !yield(fl, nil) {
					return
				}
			}
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(datasets.Flow{}, fmt.Errorf("%s: row %d: %w", path, i, err))
				return
			}
		}
	}
}

// safely runs a parquet-go call and turns a panic inside it into an error
// wrapping datasets.ErrCorrupt: parquet-go v0.32.0 indexes slices with
// offsets from the file (page index, page headers) without checking them.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: parquet decoder: %v", datasets.ErrCorrupt, r)
		}
	}()
	return f()
}

func (rw *row) flow() (datasets.Flow, error) {
	src, err := parseAddr(rw.Src)
	if err != nil {
		return datasets.Flow{}, err
	}
	dst, err := parseAddr(rw.Dst)
	if err != nil {
		return datasets.Flow{}, err
	}
	exp, err := parseAddr(rw.Exporter)
	if err != nil {
		return datasets.Flow{}, err
	}
	if rw.Packets < 0 || rw.Bytes < 0 || rw.RevPackets < 0 || rw.RevBytes < 0 {
		return datasets.Flow{}, errors.New("negative counter")
	}
	return datasets.Flow{
		Start:        fromUnixNano(rw.Start),
		End:          fromUnixNano(rw.End),
		SrcAddr:      src,
		DstAddr:      dst,
		SrcPort:      rw.SrcPort,
		DstPort:      rw.DstPort,
		Proto:        rw.Proto,
		TCPFlags:     rw.Flags,
		Packets:      uint64(rw.Packets),
		Bytes:        uint64(rw.Bytes),
		HasReverse:   rw.HasReverse,
		RevPackets:   uint64(rw.RevPackets),
		RevBytes:     uint64(rw.RevBytes),
		Exporter:     exp,
		SamplingRate: rw.Sampling,
		InIf:         rw.InIf,
		OutIf:        rw.OutIf,
		ToS:          rw.ToS,
		MinTTL:       rw.MinTTL,
		MaxTTL:       rw.MaxTTL,
	}, nil
}

// Describe reports the writer, schema version, compression codecs and row
// groups from the Parquet footer without reading any rows.
func (ParquetReader) Describe(ctx context.Context, path string, info *datasets.FileInfo) error {
	f, pf, err := openParquet(ctx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	md := pf.Metadata()
	info.Version = "schema " + parquetVersion
	if v, ok := pf.Lookup("fingerflow.schema"); ok {
		info.Version = "schema " + v
	}
	codecs := map[string]bool{}
	for _, rg := range md.RowGroups {
		for _, cc := range rg.Columns {
			codecs[strings.ToLower(cc.MetaData.Codec.String())] = true
		}
	}
	if len(codecs) == 0 {
		codecs[strings.ToLower(format.Uncompressed.String())] = true
	}
	names := make([]string, 0, len(codecs))
	for c := range codecs {
		names = append(names, c)
	}
	slices.Sort(names)
	info.Compression = strings.Join(names, ",")
	info.Notes = append(info.Notes, fmt.Sprintf("%d rows in %d row groups, written by %s", md.NumRows, len(md.RowGroups), md.CreatedBy))
	return nil
}
