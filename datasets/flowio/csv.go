package flowio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// csvHeader is the first line of every CSV file CSVWriter writes; the CSV
// reader sniffs it.
var csvHeader = strings.Join(columns[:], ",")

// CSVWriter writes flows as CSV with a header line. Times are RFC 3339 with
// nanoseconds in UTC ("" when unknown), addresses in their usual text form
// ("" when unknown), protocol and TCP flags as numbers, has_reverse as 0/1.
type CSVWriter struct {
	bw     *bufio.Writer
	rec    []byte
	closed bool
	header bool
}

var _ FlowWriter = (*CSVWriter)(nil)

// NewCSVWriter returns a CSV writer to w. The header is written with the
// first flow or at Close, whichever comes first.
func NewCSVWriter(w io.Writer) *CSVWriter {
	return &CSVWriter{bw: bufio.NewWriterSize(w, 64<<10)}
}

// Write writes one flow as one line. No field needs quoting: all are
// numbers, times or addresses.
func (c *CSVWriter) Write(f *datasets.Flow) error {
	if c.closed {
		return ErrClosed
	}
	if !c.header {
		c.header = true
		if _, err := c.bw.WriteString(csvHeader + "\n"); err != nil {
			return err
		}
	}
	b := c.rec[:0]
	b = appendTime(b, f.Start)
	b = append(b, ',')
	b = appendTime(b, f.End)
	b = append(b, ',')
	b = appendAddr(b, f.SrcAddr)
	b = append(b, ',')
	b = appendAddr(b, f.DstAddr)
	for _, v := range []uint64{uint64(f.SrcPort), uint64(f.DstPort), uint64(f.Proto), uint64(f.TCPFlags), f.Packets, f.Bytes} {
		b = append(b, ',')
		b = strconv.AppendUint(b, v, 10)
	}
	b = append(b, ',')
	if f.HasReverse {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	for _, v := range []uint64{f.RevPackets, f.RevBytes} {
		b = append(b, ',')
		b = strconv.AppendUint(b, v, 10)
	}
	b = append(b, ',')
	b = appendAddr(b, f.Exporter)
	for _, v := range []uint64{uint64(f.SamplingRate), uint64(f.InIf), uint64(f.OutIf), uint64(f.ToS), uint64(f.MinTTL), uint64(f.MaxTTL)} {
		b = append(b, ',')
		b = strconv.AppendUint(b, v, 10)
	}
	b = append(b, '\n')
	c.rec = b
	_, err := c.bw.Write(b)
	return err
}

// Close writes the header if no flow was written and flushes the buffer.
func (c *CSVWriter) Close() error {
	if c.closed {
		return ErrClosed
	}
	c.closed = true
	if !c.header {
		c.header = true
		if _, err := c.bw.WriteString(csvHeader + "\n"); err != nil {
			return err
		}
	}
	return c.bw.Flush()
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	return t.UTC().AppendFormat(b, time.RFC3339Nano)
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return b
	}
	return a.AppendTo(b)
}

// CSVReader reads CSV files written by CSVWriter.
type CSVReader struct{}

var _ datasets.Reader = CSVReader{}

// Format implements datasets.Reader.
func (CSVReader) Format() string { return FormatCSV }

// Sniff accepts content whose first line is exactly CSVWriter's header.
func (CSVReader) Sniff(head []byte) bool {
	line, _, _ := bytes.Cut(head, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return string(line) == csvHeader
}

// Flows streams the lines of a fingerflow CSV file.
func (CSVReader) Flows(ctx context.Context, path string) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		f, err := datasets.Open(ctx, path)
		if err != nil {
			yield(datasets.Flow{}, err)
			return
		}
		defer f.Close()
		cr := csv.NewReader(datasets.LimitText(bufio.NewReaderSize(f, 64<<10), datasets.MaxLine, datasets.CSVRecords))
		cr.FieldsPerRecord = len(columns)
		cr.ReuseRecord = true
		hdr, err := cr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = datasets.ErrEmpty
			}
			yield(datasets.Flow{}, fmt.Errorf("%s: header: %w", path, err))
			return
		}
		if strings.Join(hdr, ",") != csvHeader {
			yield(datasets.Flow{}, fmt.Errorf("%s: %w: header is not fingerflow's", path, datasets.ErrUnsupported))
			return
		}
		for i := 0; ; i++ {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					yield(datasets.Flow{}, err)
					return
				}
			}
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
					// A last line cut short by an interrupted copy.
					err = fmt.Errorf("%w: %w", io.ErrUnexpectedEOF, err)
				}
				// *csv.ParseError names the line.
				yield(datasets.Flow{}, fmt.Errorf("%s: record %d: %w", path, i, err))
				return
			}
			line, _ := cr.FieldPos(0)
			fl, err := parseCSVRecord(rec)
			if err != nil {
				yield(datasets.Flow{}, fmt.Errorf("%s: line %d: record %d: %w: %w", path, line, i, datasets.ErrCorrupt, err))
				return
			}
			if !yield(fl, nil) {
				return
			}
		}
	}
}

func parseCSVRecord(rec []string) (datasets.Flow, error) {
	var fl datasets.Flow
	var err error
	parseTime := func(s string) time.Time {
		if s == "" || err != nil {
			return time.Time{}
		}
		var t time.Time
		t, err = time.Parse(time.RFC3339Nano, s)
		return t.UTC()
	}
	addr := func(s string) netip.Addr {
		if err != nil {
			return netip.Addr{}
		}
		var a netip.Addr
		a, err = parseAddr(s)
		return a
	}
	num := func(col int, bits int) uint64 {
		if err != nil {
			return 0
		}
		var v uint64
		v, err = strconv.ParseUint(rec[col], 10, bits)
		if err != nil {
			err = fmt.Errorf("column %s: %w", columns[col], err)
		}
		return v
	}
	fl.Start = parseTime(rec[0])
	fl.End = parseTime(rec[1])
	fl.SrcAddr = addr(rec[2])
	fl.DstAddr = addr(rec[3])
	fl.SrcPort = uint16(num(4, 16))
	fl.DstPort = uint16(num(5, 16))
	fl.Proto = uint8(num(6, 8))
	fl.TCPFlags = uint8(num(7, 8))
	fl.Packets = num(8, 64)
	fl.Bytes = num(9, 64)
	fl.HasReverse = num(10, 1) == 1
	fl.RevPackets = num(11, 64)
	fl.RevBytes = num(12, 64)
	fl.Exporter = addr(rec[13])
	fl.SamplingRate = uint32(num(14, 32))
	fl.InIf = uint32(num(15, 32))
	fl.OutIf = uint32(num(16, 32))
	fl.ToS = uint8(num(17, 8))
	fl.MinTTL = uint8(num(18, 8))
	fl.MaxTTL = uint8(num(19, 8))
	return fl, err
}
