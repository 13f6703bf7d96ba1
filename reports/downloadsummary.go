package reports

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/fingerflow/fingerflow/datasets/catalog"
)

// DownloadSummary is what the morning report shows of a night's
// downloads, gathered in two passes over downloads.parquet (or .csv)
// without holding the unknown ones: counts per hour, the named downloads,
// the estimated file sizes of the unknown ones as a histogram, and the
// unknown downloads closest to a catalog file.
type DownloadSummary struct {
	Total, Named, Unknown int
	// Ratio is the flow bytes a download carries per byte of the file:
	// the median of (bytes − extra bytes) / file size over the named
	// single-file downloads; with none, RatioAssumed and 1 + 52/1448 (a
	// full segment's TCP/IP headers with timestamps over its payload).
	Ratio        float64
	RatioAssumed bool
	// Hours counts the downloads that started in each hour, from the first
	// download's hour to the last's.
	Hours []HourCount
	// NamedRows are the named downloads in file order, each with its
	// estimated size and its distance to the file it was named.
	NamedRows []NamedDownload
	// UnknownSizes counts the unknown downloads by estimated file size,
	// in bins of SizeBinWidth decades from 1 byte; UnknownDist by relative
	// distance to the nearest catalog file in bins of DistBinWidth decades
	// from DistMin (closer ones in the first bin).
	UnknownSizes []int
	UnknownDist  []int
	// Closest are the unknown downloads closest to a catalog file, closest
	// first (at most MaxClosest).
	Closest []UnknownDownload
	// CatalogSizes are the catalog's file sizes, ascending.
	CatalogSizes []float64
}

// HourCount is the downloads of one hour.
type HourCount struct {
	Hour           time.Time
	Named, Unknown int
}

// NamedDownload is a download named as catalog files.
type NamedDownload struct {
	Row DownloadRow
	// Size is the named files' total size, Est the size the flow's bytes
	// suggest (bytes / Ratio) and Dist |Est − Size| / Size; Size is 0
	// when the catalog does not list the files.
	Size, Est, Dist float64
}

// UnknownDownload is an unknown download and the catalog file nearest
// to its estimated size.
type UnknownDownload struct {
	Row     DownloadRow
	Est     float64
	Nearest string
	Dist    float64
}

// Binning of DownloadSummary's histograms.
const (
	SizeBinWidth = 0.02 // decades
	SizeBins     = 650  // 1 byte to 10^13
	DistMin      = 1e-7
	DistBinWidth = 0.05
	DistBins     = 160 // 1e-7 to 10
	MaxClosest   = 100
)

// assumedRatio is a full 1448-byte segment's flow bytes per payload byte
// with 52 bytes of IPv4 and TCP headers (timestamps on).
const assumedRatio = 1 + 52.0/1448

// summariseDownloads reads a downloads file twice: the keys of the
// downloads (downloadKey) for the counts and the ratio first, then the
// unknown ones against the catalog, making whole rows only of the
// downloads it keeps.
func summariseDownloads(ctx context.Context, path string, entries []catalog.Entry) (*DownloadSummary, error) {
	s := &DownloadSummary{UnknownSizes: make([]int, SizeBins), UnknownDist: make([]int, DistBins)}
	size := map[string]float64{}
	type sized struct {
		name string
		size float64
	}
	var bySize []sized
	for _, e := range entries {
		size[e.Name] = float64(e.Size)
		bySize = append(bySize, sized{e.Name, float64(e.Size)})
	}
	slices.SortFunc(bySize, func(a, b sized) int { return cmp.Or(cmp.Compare(a.size, b.size), cmp.Compare(a.name, b.name)) })
	for _, e := range bySize {
		s.CatalogSizes = append(s.CatalogSizes, e.size)
	}
	hours := map[int64]*HourCount{}
	var ratios []float64
	var namedAt []int64 // the named downloads' rows
	err := eachDownloadKey(ctx, path, false, func(k *downloadKey) {
		s.Total++
		h := k.Start.UTC().Truncate(time.Hour)
		hc := hours[h.Unix()]
		if hc == nil {
			hc = &HourCount{Hour: h}
			hours[h.Unix()] = hc
		}
		if string(k.Files) == "unknown" {
			s.Unknown++
			hc.Unknown++
			return
		}
		s.Named++
		hc.Named++
		files := string(k.Files)
		nd := NamedDownload{}
		for f := range strings.SplitSeq(files, "+") {
			nd.Size += size[f]
		}
		if size[files] > 0 && k.Bytes > k.Extra {
			ratios = append(ratios, float64(k.Bytes-k.Extra)/size[files])
		}
		s.NamedRows = append(s.NamedRows, nd)
		namedAt = append(namedAt, k.Row)
	})
	if err != nil {
		return nil, err
	}
	s.Ratio, s.RatioAssumed = assumedRatio, true
	if len(ratios) > 0 {
		slices.Sort(ratios)
		s.Ratio, s.RatioAssumed = ratios[len(ratios)/2], false
	}
	for _, h := range hours {
		s.Hours = append(s.Hours, *h)
	}
	slices.SortFunc(s.Hours, func(a, b HourCount) int { return a.Hour.Compare(b.Hour) })
	if len(s.Hours) > 1 {
		// Every hour from the first to the last, empty ones included.
		full := []HourCount{}
		i := 0
		for h := s.Hours[0].Hour; !h.After(s.Hours[len(s.Hours)-1].Hour); h = h.Add(time.Hour) {
			if s.Hours[i].Hour.Equal(h) {
				full = append(full, s.Hours[i])
				i++
			} else {
				full = append(full, HourCount{Hour: h})
			}
		}
		s.Hours = full
	}

	// Second pass: the named downloads' rows, the unknown downloads'
	// sizes and distances. The closest are ordered by what closerThan
	// reads of their rows, which the keys carry.
	var closest []UnknownDownload
	next := 0 // of namedAt
	if s.Total > 0 {
		err = eachDownloadKey(ctx, path, true, func(k *downloadKey) {
			if string(k.Files) != "unknown" {
				if next < len(namedAt) && namedAt[next] == k.Row {
					nd := &s.NamedRows[next]
					nd.Row = k.Whole()
					nd.Est = float64(nd.Row.Bytes) / s.Ratio
					if nd.Size > 0 {
						nd.Dist = math.Abs(nd.Est-nd.Size) / nd.Size
					}
					next++
				}
				return
			}
			est := float64(k.Bytes) / s.Ratio
			s.UnknownSizes[sizeBin(est)]++
			if len(bySize) == 0 {
				return
			}
			i, _ := slices.BinarySearchFunc(bySize, est, func(e sized, t float64) int { return cmp.Compare(e.size, t) })
			best, bd := "", math.Inf(1)
			for _, j := range []int{i - 1, i} {
				if j >= 0 && j < len(bySize) {
					if d := math.Abs(est-bySize[j].size) / bySize[j].size; d < bd {
						best, bd = bySize[j].name, d
					}
				}
			}
			s.UnknownDist[distBin(bd)]++
			u := UnknownDownload{Row: DownloadRow{Start: k.Start, ClientPort: k.ClientPort}, Est: est, Nearest: best, Dist: bd}
			if len(closest) == MaxClosest && !closerThanKey(u, k.Client, closest[len(closest)-1]) {
				return
			}
			u.Row = k.Whole()
			c, _ := slices.BinarySearchFunc(closest, u, func(a, b UnknownDownload) int {
				if closerThan(a, b) {
					return -1
				}
				if closerThan(b, a) {
					return 1
				}
				return 0
			})
			closest = slices.Insert(closest, c, u)
			if len(closest) > MaxClosest {
				closest = closest[:MaxClosest]
			}
		})
		if err != nil {
			return nil, err
		}
	}

	if next != len(namedAt) {
		return nil, fmt.Errorf("%d named downloads in one read, %d in the next", len(namedAt), next)
	}
	s.Closest = closest
	return s, nil
}

// closerThanKey is closerThan(a, b) for an a whose row's client is
// client, not yet set in a.Row.
func closerThanKey(a UnknownDownload, client []byte, b UnknownDownload) bool {
	return cmp.Or(cmp.Compare(a.Dist, b.Dist), a.Row.Start.Compare(b.Row.Start),
		strings.Compare(string(client), b.Row.Client), cmp.Compare(a.Row.ClientPort, b.Row.ClientPort)) < 0
}

// closerThan orders unknown downloads by distance, then start, client and
// port, so that ties come out the same every time.
func closerThan(a, b UnknownDownload) bool {
	return cmp.Or(cmp.Compare(a.Dist, b.Dist), a.Row.Start.Compare(b.Row.Start),
		cmp.Compare(a.Row.Client, b.Row.Client), cmp.Compare(a.Row.ClientPort, b.Row.ClientPort)) < 0
}

// sizeBin is the histogram bin of an estimated size.
func sizeBin(est float64) int {
	if est < 1 {
		return 0
	}
	return min(SizeBins-1, int(math.Log10(est)/SizeBinWidth))
}

// distBin is the histogram bin of a relative distance.
func distBin(d float64) int {
	if d <= DistMin {
		return 0
	}
	return max(0, min(DistBins-1, int(math.Log10(d/DistMin)/DistBinWidth)))
}

// downloadKey is what the summary reads of every download: its row in the
// file (from 0) and the columns it counts and orders by. Files and Client
// are valid during the call only, and so is Whole.
type downloadKey struct {
	Row          int64
	Start        time.Time
	Bytes, Extra int64
	ClientPort   int32
	Files        []byte
	Client       []byte
	// Whole returns the whole row when eachDownloadKey was asked for it.
	Whole func() DownloadRow
}

// keyColumns are the columns of a downloadKey.
var keyColumns = []string{"start", "bytes", "extra_bytes", "client_port", "files", "client"}

// eachDownloadKey calls f with the key of every download of a downloads
// file, Parquet or CSV as classify and run write them, and with its whole
// row when whole is set. Of a Parquet file it reads only the key's
// columns (or every column), value by value, and makes a DownloadRow only
// of the rows f asks for.
func eachDownloadKey(ctx context.Context, path string, whole bool, f func(k *downloadKey)) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	if strings.HasSuffix(path, ".csv") {
		var row int64
		return eachDownloadCSV(ctx, fh, func(r *DownloadRow) {
			f(&downloadKey{Row: row, Start: r.Start, Bytes: r.Bytes, Extra: r.Extra, ClientPort: r.ClientPort,
				Files: []byte(r.Files), Client: []byte(r.Client), Whole: func() DownloadRow { return *r }})
			row++
		})
	}
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(fh, st.Size())
	if err != nil {
		return err
	}
	names := keyColumns
	if whole {
		names = downloadColumns[:]
	}
	leaves := make([]int, len(names))
	slot := map[string]int{}
	unit := time.Microsecond
	for i, c := range names {
		leaf, ok := pf.Schema().Lookup(c)
		if !ok {
			return fmt.Errorf("no %s column", c)
		}
		if leaf.MaxRepetitionLevel > 0 || leaf.MaxDefinitionLevel > 0 {
			return fmt.Errorf("%s column: repeated or optional", c)
		}
		leaves[i], slot[c] = leaf.ColumnIndex, i
		if c == "start" {
			var ts *format.TimestampType
			if lt := leaf.Node.Type().LogicalType(); lt != nil {
				ts, _ = lt.Value.(*format.TimestampType)
			}
			if ts == nil || ts.Unit.Value == nil {
				return fmt.Errorf("start column: not a timestamp")
			}
			unit = ts.Unit.Value.Duration()
		}
	}
	const chunk = 4096
	vals := make([][]parquet.Value, len(names))
	for i := range vals {
		vals[i] = make([]parquet.Value, chunk)
	}
	at := func(c string, j int) parquet.Value { return vals[slot[c]][j] }
	start, bytes, extra, port, files, client := vals[slot["start"]], vals[slot["bytes"]], vals[slot["extra_bytes"]],
		vals[slot["client_port"]], vals[slot["files"]], vals[slot["client"]]
	stamp := func(v parquet.Value) time.Time { return time.Unix(0, v.Int64()*int64(unit)).UTC() }
	var k downloadKey
	var j int
	if whole {
		// Every column is written as DownloadRow's (see TestSummaryParquetCSV).
		k.Whole = func() DownloadRow {
			return DownloadRow{
				Start: stamp(at("start", j)), End: stamp(at("end", j)),
				Client: string(at("client", j).ByteArray()), ClientPort: at("client_port", j).Int32(),
				Server: string(at("server", j).ByteArray()), ServerPort: at("server_port", j).Int32(),
				Packets: at("packets", j).Int64(), Bytes: at("bytes", j).Int64(),
				RevPackets: at("rev_packets", j).Int64(), RevBytes: at("rev_bytes", j).Int64(),
				Files: string(at("files", j).ByteArray()), NumFiles: at("num_files", j).Int32(),
				Confidence: at("confidence", j).Double(), Profile: string(at("profile", j).ByteArray()),
				Extra: at("extra_bytes", j).Int64(),
			}
		}
	}
	var row int64
	for _, rg := range pf.RowGroups() {
		cols := make([]columnValues, len(names))
		for i := range cols {
			cols[i].pages = rg.ColumnChunks()[leaves[i]].Pages()
		}
		err := func() error {
			defer func() {
				for i := range cols {
					cols[i].pages.Close()
				}
			}()
			for left := rg.NumRows(); left > 0; {
				if err := ctx.Err(); err != nil {
					return err
				}
				n := int(min(left, chunk))
				for i := range cols {
					if err := cols[i].read(vals[i][:n]); err != nil {
						return fmt.Errorf("%s column: row %d: %w", names[i], row, err)
					}
				}
				for j = range n {
					k.Row = row
					k.Start = stamp(start[j])
					k.Bytes, k.Extra = bytes[j].Int64(), extra[j].Int64()
					k.ClientPort = port[j].Int32()
					k.Files, k.Client = files[j].ByteArray(), client[j].ByteArray()
					f(&k)
					row++
				}
				left -= int64(n)
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// columnValues reads one column chunk's values page after page.
type columnValues struct {
	pages  parquet.Pages
	values parquet.ValueReader
}

// read fills vs with the column's next values; running out before it is
// full is io.ErrUnexpectedEOF.
func (c *columnValues) read(vs []parquet.Value) error {
	for len(vs) > 0 {
		if c.values == nil {
			p, err := c.pages.ReadPage()
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			if err != nil {
				return err
			}
			c.values = p.Values()
		}
		n, err := c.values.ReadValues(vs)
		vs = vs[n:]
		if err == io.EOF {
			c.values = nil
		} else if err != nil {
			return err
		}
	}
	return nil
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
			NumFiles: int32(num("num_files")), Extra: num("extra_bytes"),
		}
		if perr != nil {
			return perr
		}
		if row.Start, err = time.Parse(time.RFC3339Nano, get("start")); err != nil {
			return fmt.Errorf("line %d: start: %w", line, err)
		}
		row.End, _ = time.Parse(time.RFC3339Nano, get("end"))
		row.Confidence, _ = strconv.ParseFloat(get("confidence"), 64)
		f(&row)
	}
}
