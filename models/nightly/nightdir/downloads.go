package nightdir

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
)

// DownloadRow is one classified download as classify writes it.
type DownloadRow struct {
	Start      time.Time `parquet:"start,timestamp(microsecond)"`
	End        time.Time `parquet:"end,timestamp(microsecond)"`
	Client     string    `parquet:"client,dict"`
	ClientPort int32     `parquet:"client_port"`
	Server     string    `parquet:"server,dict"`
	ServerPort int32     `parquet:"server_port"`
	Packets    int64     `parquet:"packets"`
	Bytes      int64     `parquet:"bytes"`
	RevPackets int64     `parquet:"rev_packets"`
	RevBytes   int64     `parquet:"rev_bytes"`
	Files      string    `parquet:"files,dict"` // catalog files joined by "+", or "unknown"
	NumFiles   int32     `parquet:"num_files"`
	Confidence float64   `parquet:"confidence"`
	Profile    string    `parquet:"profile,dict"`
	Extra      int64     `parquet:"extra_bytes"`
	// Chance is the answer's chance fit (downloads.Answer.Chance), and
	// Status "named", "chance-level" (named, but at a chance that is not
	// negligible) or "unknown".
	Chance float64 `parquet:"chance"`
	Status string  `parquet:"status,dict"`
}

// downloadColumns are the CSV header, in DownloadRow's order.
var downloadColumns = [...]string{"start", "end", "client", "client_port", "server", "server_port", "packets", "bytes", "rev_packets", "rev_bytes", "files", "num_files", "confidence", "profile", "extra_bytes", "chance", "status"}

// downloadSchema is DownloadRow's Parquet schema under the name files
// written by earlier versions carry.
var downloadSchema = parquet.NewSchema("classifiedRow", parquet.SchemaOf(DownloadRow{}))

// NewDownloadRow is the row of download d answered r.
func NewDownloadRow(d *features.Download, r downloads.Answer) DownloadRow {
	files := "unknown"
	if !r.Unknown() {
		files = strings.Join(r.Files, "+")
	}
	return DownloadRow{
		Start: d.Start.UTC(), End: d.End.UTC(),
		Client: d.Client.String(), ClientPort: int32(d.ClientPort),
		Server: d.Server.String(), ServerPort: int32(d.ServerPort),
		Packets: int64(d.Packets), Bytes: int64(d.Bytes), RevPackets: int64(d.RevPackets), RevBytes: int64(d.RevBytes),
		Files: files, NumFiles: int32(len(r.Files)), Confidence: r.Confidence, Profile: r.Profile, Extra: r.Extra,
		Chance: r.Chance, Status: r.Status(),
	}
}

func (r *DownloadRow) record() []string {
	return []string{
		r.Start.Format(time.RFC3339Nano), r.End.Format(time.RFC3339Nano),
		r.Client, strconv.Itoa(int(r.ClientPort)), r.Server, strconv.Itoa(int(r.ServerPort)),
		strconv.FormatInt(r.Packets, 10), strconv.FormatInt(r.Bytes, 10),
		strconv.FormatInt(r.RevPackets, 10), strconv.FormatInt(r.RevBytes, 10),
		r.Files, strconv.Itoa(int(r.NumFiles)), strconv.FormatFloat(r.Confidence, 'f', 3, 64),
		r.Profile, strconv.FormatInt(r.Extra, 10), strconv.FormatFloat(r.Chance, 'g', 4, 64), r.Status,
	}
}

// DownloadWriter writes classified downloads as CSV or Parquet.
type DownloadWriter interface {
	Write(r *DownloadRow) error
	// Close writes what is buffered (and Parquet's footer); it does not
	// close the underlying writer.
	Close() error
}

var (
	_ DownloadWriter = (*csvDownloads)(nil)
	_ DownloadWriter = (*parquetDownloads)(nil)
)

// Download output formats.
const (
	FormatCSV     = "csv"
	FormatParquet = "parquet"
)

// NewDownloadWriter returns a writer of rows to w in format (FormatCSV,
// with a header line, or FormatParquet, zstd-compressed). Nothing reaches
// w before the first row or Close.
func NewDownloadWriter(w io.Writer, format string) (DownloadWriter, error) {
	switch format {
	case FormatCSV:
		return &csvDownloads{w: csv.NewWriter(w)}, nil
	case FormatParquet:
		return &parquetDownloads{
			w:   parquet.NewGenericWriter[DownloadRow](w, downloadSchema, parquet.Compression(&parquet.Zstd)),
			buf: make([]DownloadRow, 0, 4096),
		}, nil
	}
	return nil, fmt.Errorf("download format %q: want csv or parquet", format)
}

// csvDownloads writes the header with the first row, or at Close: a run
// that gives up before either writes nothing at all.
type csvDownloads struct {
	w      *csv.Writer
	header bool
}

func (c *csvDownloads) writeHeader() error {
	if c.header {
		return nil
	}
	c.header = true
	return c.w.Write(downloadColumns[:])
}

func (c *csvDownloads) Write(r *DownloadRow) error {
	if err := c.writeHeader(); err != nil {
		return err
	}
	return c.w.Write(r.record())
}

func (c *csvDownloads) Close() error {
	if err := c.writeHeader(); err != nil {
		return err
	}
	c.w.Flush()
	return c.w.Error()
}

type parquetDownloads struct {
	w   *parquet.GenericWriter[DownloadRow]
	buf []DownloadRow
}

func (p *parquetDownloads) Write(r *DownloadRow) error {
	p.buf = append(p.buf, *r)
	if len(p.buf) == cap(p.buf) {
		return p.flush()
	}
	return nil
}

func (p *parquetDownloads) flush() error {
	if len(p.buf) == 0 {
		return nil
	}
	_, err := p.w.Write(p.buf)
	p.buf = p.buf[:0]
	return err
}

func (p *parquetDownloads) Close() error {
	if err := p.flush(); err != nil {
		return err
	}
	return p.w.Close()
}

// EachDownload calls f with every row of a downloads file, Parquet or CSV
// (by its name) as classify and run write them. Errors do not name the
// file: the caller knows it.
func EachDownload(ctx context.Context, path string, f func(r *DownloadRow)) error {
	if strings.HasSuffix(path, ".csv") {
		fh, err := os.Open(path)
		if err != nil {
			return err
		}
		defer fh.Close()
		return eachDownloadCSV(ctx, fh, f)
	}
	return eachParquet(path, []parquet.ReaderOption{downloadSchema}, func(rows []DownloadRow) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := range rows {
			f(&rows[i])
		}
		return nil
	})
}

func eachDownloadCSV(ctx context.Context, r io.Reader, f func(r *DownloadRow)) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return err
	}
	idx := map[string]int{}
	for i, h := range head {
		idx[h] = i
	}
	for _, c := range downloadColumns {
		if _, ok := idx[c]; !ok {
			return fmt.Errorf("no %s column", c)
		}
	}
	for line := 2; ; line++ {
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		row, err := parseDownloadRecord(rec, idx, line)
		if err != nil {
			return err
		}
		f(&row)
	}
}

// DownloadsAt reads the rows of a downloads file at the given indexes
// (0 is the first row), ascending and without repeats; for a Parquet
// file only the pages holding them are read.
func DownloadsAt(ctx context.Context, path string, at []int64) ([]DownloadRow, error) {
	if len(at) == 0 {
		return nil, nil
	}
	if !slices.IsSorted(at) {
		return nil, errors.New("row indexes not ascending")
	}
	out := make([]DownloadRow, 0, len(at))
	if strings.HasSuffix(path, ".csv") {
		var i int64
		err := EachDownload(ctx, path, func(r *DownloadRow) {
			if len(out) < len(at) && at[len(out)] == i {
				out = append(out, *r)
			}
			i++
		})
		if err == nil && len(out) < len(at) {
			err = fmt.Errorf("%w: row %d of %d asked for", ErrDamaged, at[len(out)], i)
		}
		return out, err
	}
	f, pf, err := openParquet(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r *parquet.GenericReader[DownloadRow]
	if err := safely(func() error { r = parquet.NewGenericReader[DownloadRow](pf, downloadSchema); return nil }); err != nil {
		return nil, err
	}
	defer r.Close()
	if last := at[len(at)-1]; last >= r.NumRows() {
		return nil, fmt.Errorf("%w: row %d of %d asked for", ErrDamaged, last, r.NumRows())
	}
	buf := make([]DownloadRow, 1)
	for _, i := range at {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var k int
		var rerr error
		if err := safely(func() error {
			if err := r.SeekToRow(i); err != nil {
				return err
			}
			k, rerr = r.Read(buf)
			return nil
		}); err != nil {
			return nil, err
		}
		if k != 1 {
			if rerr == nil {
				rerr = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("%w: row %d: %w", ErrDamaged, i, rerr)
		}
		out = append(out, buf[0])
	}
	return out, nil
}

// parseDownloadRecord is a CSV record of a downloads file as a row: idx
// gives each column's place, line the record's line for errors.
func parseDownloadRecord(rec []string, idx map[string]int, line int) (DownloadRow, error) {
	get := func(c string) string { return rec[idx[c]] }
	var perr error
	num := func(c string) int64 {
		v, err := strconv.ParseInt(get(c), 10, 64)
		if err != nil && perr == nil {
			perr = fmt.Errorf("line %d: %s: %w", line, c, err)
		}
		return v
	}
	row := DownloadRow{
		Client: get("client"), Server: get("server"), Files: get("files"), Profile: get("profile"),
		ClientPort: int32(num("client_port")), ServerPort: int32(num("server_port")),
		Packets: num("packets"), Bytes: num("bytes"), RevPackets: num("rev_packets"), RevBytes: num("rev_bytes"),
		NumFiles: int32(num("num_files")), Extra: num("extra_bytes"), Status: get("status"),
	}
	if perr != nil {
		return DownloadRow{}, perr
	}
	when := func(c string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, get(c))
		if err != nil && perr == nil {
			perr = fmt.Errorf("line %d: %s: %w", line, c, err)
		}
		return v
	}
	real := func(c string) float64 {
		v, err := strconv.ParseFloat(get(c), 64)
		if err != nil && perr == nil {
			perr = fmt.Errorf("line %d: %s: %w", line, c, err)
		}
		return v
	}
	row.Start, row.End = when("start"), when("end")
	row.Confidence, row.Chance = real("confidence"), real("chance")
	if perr != nil {
		return DownloadRow{}, perr
	}
	return row, nil
}

// downloadIndex is the place of each column in the records the CSV
// writer writes.
var downloadIndex = func() map[string]int {
	m := map[string]int{}
	for i, c := range downloadColumns {
		m[c] = i
	}
	return m
}()

// Stored is the row as reading it back from a downloads file of format
// (FormatParquet or FormatCSV) gives it: Parquet keeps times to the
// microsecond, CSV numbers as the writer formats them.
func (r *DownloadRow) Stored(format string) (DownloadRow, error) {
	switch format {
	case FormatParquet:
		out := *r
		out.Start, out.End = time.UnixMicro(r.Start.UnixMicro()).UTC(), time.UnixMicro(r.End.UnixMicro()).UTC()
		return out, nil
	case FormatCSV:
		return parseDownloadRecord(r.record(), downloadIndex, 0)
	}
	return DownloadRow{}, fmt.Errorf("downloads format %q", format)
}
