// Package flowio writes normalised flows to files other tools read — Apache
// Parquet (github.com/parquet-go/parquet-go, zstd, dictionary-encoded address
// columns) and CSV (encoding/csv) — and reads those files back as a
// datasets.Reader, so the output of `fingerflow ingest` is itself an input
// fingerflow accepts.
//
// Both writers take an io.Writer and stream: the Parquet writer buffers one
// row group (RowGroupRows rows, about 6 MiB before compression) and flushes
// it; the CSV writer buffers only its bufio buffer. Neither holds the flows.
//
// The column set is the same in both formats. Times are UTC:
// Parquet TIMESTAMP(NANOS, isAdjustedToUTC=true), CSV RFC 3339 with
// nanoseconds. Addresses are strings ("" when unknown). Packet and byte
// counters are signed 64-bit integers in Parquet (readable by pandas,
// DuckDB, Polars and Spark alike; a counter above 2^63-1 is refused), ports
// and other small fields carry their unsigned logical types (UINT_8/16/32).
package flowio

import (
	"errors"

	"github.com/fingerflow/fingerflow/datasets"
)

// FlowWriter writes flows to a file format. Close flushes buffered data and
// writes any trailer; it does not close the underlying io.Writer.
type FlowWriter interface {
	Write(f *datasets.Flow) error
	Close() error
}

// columns are the columns both writers emit, in order.
var columns = [...]string{
	"start", "end", "src", "dst", "sport", "dport", "proto", "flags",
	"packets", "bytes", "has_reverse", "rev_packets", "rev_bytes",
	"exporter", "sampling", "in_if", "out_if", "tos", "min_ttl", "max_ttl",
}

// Format names under which the readers register.
const (
	FormatParquet = "fingerflow-parquet"
	FormatCSV     = "fingerflow-csv"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("flow writer closed")
