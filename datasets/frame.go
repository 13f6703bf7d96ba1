package datasets

import (
	"errors"
	"fmt"
	"iter"
	"math"
	"net/netip"
	"time"

	"github.com/go-gota/gota/dataframe"
	"github.com/go-gota/gota/series"
)

// ErrTooLarge is wrapped by Frame when the input has more flows than the
// row limit allows.
var ErrTooLarge = errors.New("too many flows for an in-memory table")

// DefaultMaxFrameRows is the row limit callers pass to Frame when they have
// no better figure. BenchmarkFrame (go test -bench Frame ./datasets/)
// measures about 300 bytes of heap per row kept by the finished frame and
// 1.4 kB per row allocated while building it (14 columns; gota stores every
// cell as a 16- or 24-byte element plus the address text, and series.New
// copies the staging slices). Gota operations copy columns (Filter, Arrange, GroupBy take
// several times the frame's size), so the limit keeps the frame near 1.5 GiB
// and leaves room for that on a 24 GiB machine: 5 million rows.
const DefaultMaxFrameRows = 5_000_000

// Frame column names, in order.
var FrameColumns = []string{
	"start", "end", "src", "dst", "sport", "dport", "proto", "flags",
	"packets", "bytes", "rev_packets", "rev_bytes", "exporter", "sampling",
}

// Frame loads flows into a gota DataFrame for feature code that wants a
// table: training sets, per-host tables, notebooks. It is for bounded
// inputs; nightly flow volumes go through the streaming path
// (`fingerflow ingest`, ReadFiles).
//
// Columns:
//
//	start, end       float64 Unix seconds (UTC) with sub-second fraction
//	                 (microsecond precision at today's dates), NaN when
//	                 unknown; arithmetic-ready: end-start is the duration,
//	                 differences give inter-arrival times
//	src, dst         string addresses ("" when unknown)
//	exporter         string address ("" when unknown)
//	sport, dport, proto, flags, sampling
//	                 int (sampling 0 = unknown)
//	packets, bytes, rev_packets, rev_bytes
//	                 int (gota has no unsigned or 64-bit-specific column
//	                 type; int is 64 bits on every platform fingerflow
//	                 builds for, and counters above 2^63-1 are refused)
//
// Frame reads at most maxRows+1 flows: when the input has more than maxRows
// it stops reading and returns an error wrapping ErrTooLarge. An error from
// flows ends reading and is returned; maxRows <= 0 means
// DefaultMaxFrameRows.
func Frame(flows iter.Seq2[Flow, error], maxRows int) (dataframe.DataFrame, error) {
	if maxRows <= 0 {
		maxRows = DefaultMaxFrameRows
	}
	var (
		start, end                           []float64
		src, dst, exporter                   []string
		sport, dport, proto, flags, sampling []int
		packets, bytes, revPackets, revBytes []int
	)
	n := 0
	for f, err := range flows {
		if err != nil {
			return dataframe.DataFrame{}, err
		}
		if n == maxRows {
			return dataframe.DataFrame{}, fmt.Errorf("%w: more than %d flows (the limit of an in-memory table); use the streaming path (fingerflow ingest) for inputs this large", ErrTooLarge, maxRows)
		}
		if f.Packets > math.MaxInt64 || f.Bytes > math.MaxInt64 || f.RevPackets > math.MaxInt64 || f.RevBytes > math.MaxInt64 {
			return dataframe.DataFrame{}, fmt.Errorf("flow %d: counter above 2^63-1", n)
		}
		n++
		start = append(start, unixSeconds(f.Start))
		end = append(end, unixSeconds(f.End))
		src = append(src, addrText(f.SrcAddr))
		dst = append(dst, addrText(f.DstAddr))
		sport = append(sport, int(f.SrcPort))
		dport = append(dport, int(f.DstPort))
		proto = append(proto, int(f.Proto))
		flags = append(flags, int(f.TCPFlags))
		packets = append(packets, int(f.Packets))
		bytes = append(bytes, int(f.Bytes))
		revPackets = append(revPackets, int(f.RevPackets))
		revBytes = append(revBytes, int(f.RevBytes))
		exporter = append(exporter, addrText(f.Exporter))
		sampling = append(sampling, int(f.SamplingRate))
	}
	// series.New copies its input; an empty column keeps its type.
	cols := []series.Series{
		series.New(orEmpty(start), series.Float, "start"),
		series.New(orEmpty(end), series.Float, "end"),
		series.New(orEmpty(src), series.String, "src"),
		series.New(orEmpty(dst), series.String, "dst"),
		series.New(orEmpty(sport), series.Int, "sport"),
		series.New(orEmpty(dport), series.Int, "dport"),
		series.New(orEmpty(proto), series.Int, "proto"),
		series.New(orEmpty(flags), series.Int, "flags"),
		series.New(orEmpty(packets), series.Int, "packets"),
		series.New(orEmpty(bytes), series.Int, "bytes"),
		series.New(orEmpty(revPackets), series.Int, "rev_packets"),
		series.New(orEmpty(revBytes), series.Int, "rev_bytes"),
		series.New(orEmpty(exporter), series.String, "exporter"),
		series.New(orEmpty(sampling), series.Int, "sampling"),
	}
	df := dataframe.New(cols...)
	return df, df.Err
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return math.NaN()
	}
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
