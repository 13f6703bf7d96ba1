package flowio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/fingerflow/fingerflow/datasets"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// sampleFlows covers the edges of every field: unknown times and
// addresses, IPv6, nanosecond times, the largest storable counters.
func sampleFlows() []datasets.Flow {
	t0 := time.Date(2027, 1, 11, 12, 6, 51, 313_000_123, time.UTC)
	return []datasets.Flow{
		{
			Start: t0, End: t0.Add(69 * time.Millisecond),
			SrcAddr: netip.MustParseAddr("10.77.0.1"), DstAddr: netip.MustParseAddr("10.77.1.2"),
			SrcPort: 80, DstPort: 60904, Proto: datasets.ProtoTCP, TCPFlags: 0x1b,
			Packets: 17099, Bytes: 25590675,
			Exporter: netip.MustParseAddr("127.0.0.1"), SamplingRate: 1,
		},
		{
			Start: t0.Add(time.Second), End: t0.Add(3 * time.Second),
			SrcAddr: netip.MustParseAddr("2001:db8::1"), DstAddr: netip.MustParseAddr("fe80::1%eth0"),
			SrcPort: 443, DstPort: 65535, Proto: datasets.ProtoTCP, TCPFlags: 0xff,
			Packets: math.MaxInt64, Bytes: math.MaxInt64,
			HasReverse: true, RevPackets: 3, RevBytes: 180,
			SamplingRate: math.MaxUint32, InIf: 7, OutIf: math.MaxUint32, ToS: 0xb8, MinTTL: 63, MaxTTL: 255,
		},
		{}, // everything unknown
		{
			Start: time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC), End: time.Date(2000, 1, 1, 0, 0, 0, 1, time.UTC),
			SrcAddr: netip.MustParseAddr("192.0.2.1"), DstAddr: netip.MustParseAddr("198.51.100.7"),
			Proto: datasets.ProtoICMP, DstPort: 0x0800, Packets: 1, Bytes: 84,
		},
	}
}

type fileFormat struct {
	name   string
	reader datasets.Reader
	writer func(io.Writer) FlowWriter
	ext    string
}

var formats = []fileFormat{
	{"parquet", ParquetReader{}, func(w io.Writer) FlowWriter { return NewParquetWriter(w) }, ".parquet"},
	{"csv", CSVReader{}, func(w io.Writer) FlowWriter { return NewCSVWriter(w) }, ".csv"},
}

func writeFile(t testing.TB, path string, fm fileFormat, flows []datasets.Flow) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := fm.writer(f)
	for i := range flows {
		if err := w.Write(&flows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readAll(t testing.TB, r datasets.Reader, path string) ([]datasets.Flow, error) {
	t.Helper()
	var out []datasets.Flow
	for f, err := range r.Flows(context.Background(), path) {
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
	return out, nil
}

// TestRoundTrip writes flows and reads them back through a registry that
// must pick the right reader by content alone.
func TestRoundTrip(t *testing.T) {
	reg := datasets.NewRegistry(ParquetReader{}, CSVReader{})
	for _, fm := range formats {
		for _, tc := range []struct {
			name  string
			flows []datasets.Flow
		}{
			{"none", nil},
			{"sample", sampleFlows()},
			{"three row groups", manyFlows(2*RowGroupRows + 17)},
		} {
			t.Run(fm.name+"/"+tc.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "out.dat") // no telling extension
				writeFile(t, path, fm, tc.flows)
				rd, err := reg.Detect(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				if rd.Format() != fm.reader.Format() {
					t.Fatalf("detected %s, want %s", rd.Format(), fm.reader.Format())
				}
				got, err := readAll(t, rd, path)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.flows, got, addrCmp); diff != "" {
					t.Errorf("read back (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// manyFlows makes n distinct flows from a few hosts, like real traffic.
func manyFlows(n int) []datasets.Flow {
	t0 := time.Date(2027, 1, 11, 12, 0, 0, 0, time.UTC)
	out := make([]datasets.Flow, n)
	for i := range out {
		out[i] = datasets.Flow{
			Start:    t0.Add(time.Duration(i) * time.Millisecond),
			End:      t0.Add(time.Duration(i)*time.Millisecond + time.Second),
			SrcAddr:  netip.AddrFrom4([4]byte{10, 0, byte(i % 7), byte(i % 200)}),
			DstAddr:  netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 3)}),
			SrcPort:  uint16(1024 + i%60000),
			DstPort:  443,
			Proto:    datasets.ProtoTCP,
			TCPFlags: 0x1b,
			Packets:  uint64(10 + i%1000),
			Bytes:    uint64(1500 * (10 + i%1000)),
			Exporter: netip.AddrFrom4([4]byte{127, 0, 0, 1}),
		}
	}
	return out
}

// TestParquetSchema checks what pandas, DuckDB and Spark will see: logical
// types, zstd, dictionary-encoded addresses, bounded row groups.
func TestParquetSchema(t *testing.T) {
	var buf bytes.Buffer
	w := NewParquetWriter(&buf)
	flows := manyFlows(RowGroupRows + 1)
	for i := range flows {
		if err := w.Write(&flows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	schema := pf.Schema().String()
	for _, want := range []string{
		"required int64 start (TIMESTAMP(isAdjustedToUTC=true,unit=NANOS));",
		"required binary src (STRING);",
		"required binary exporter (STRING);",
		"required int32 dport (INT(16,false));",
		"required int64 bytes (INT(64,true));",
		"required int64 rev_packets (INT(64,true));",
		"required int32 sampling (INT(32,false));",
	} {
		if !strings.Contains(schema, want) {
			t.Errorf("schema lacks %q:\n%s", want, schema)
		}
	}
	md := pf.Metadata()
	if len(md.RowGroups) != 2 || md.RowGroups[0].NumRows != RowGroupRows {
		t.Errorf("row groups: got %d (first %d rows), want 2 (first %d rows)", len(md.RowGroups), md.RowGroups[0].NumRows, RowGroupRows)
	}
	for _, cc := range md.RowGroups[0].Columns {
		name := strings.Join(cc.MetaData.PathInSchema, ".")
		if cc.MetaData.Codec != format.Zstd {
			t.Errorf("column %s: codec %v, want ZSTD", name, cc.MetaData.Codec)
		}
		dict := false
		for _, e := range cc.MetaData.Encoding {
			dict = dict || e == format.RLEDictionary
		}
		if want := name == "src" || name == "dst" || name == "exporter"; dict != want {
			t.Errorf("column %s: dictionary encoded %v, want %v", name, dict, want)
		}
	}
	// The generic reader (what a foreign tool would use) sees the values.
	rows := make([]parquet.Row, 1)
	r := parquet.NewReader(bytes.NewReader(buf.Bytes()))
	defer r.Close()
	if _, err := r.ReadRows(rows); err != nil {
		t.Fatal(err)
	}
	if got, want := rows[0][0].Int64(), flows[0].Start.UnixNano(); got != want {
		t.Errorf("start: got %d, want %d", got, want)
	}
	if got, want := string(rows[0][2].ByteArray()), "10.0.0.0"; got != want {
		t.Errorf("src: got %q, want %q", got, want)
	}
}

// TestCSVGolden pins the CSV text other tools parse.
func TestCSVGolden(t *testing.T) {
	var buf bytes.Buffer
	w := NewCSVWriter(&buf)
	flows := sampleFlows()
	for i := range flows {
		if err := w.Write(&flows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "sample.csv")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join("testdata", "sample.parquet"), formats[0], flows)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("csv (-want +got):\n%s", diff)
	}
	// The committed Parquet fixture still reads as the same flows.
	got, err := readAll(t, ParquetReader{}, filepath.Join("testdata", "sample.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(flows, got, addrCmp); diff != "" {
		t.Errorf("testdata/sample.parquet (-want +got):\n%s", diff)
	}
}

func TestWriterErrors(t *testing.T) {
	for _, fm := range formats {
		t.Run(fm.name, func(t *testing.T) {
			w := fm.writer(io.Discard)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Write(&datasets.Flow{}); !errors.Is(err, ErrClosed) {
				t.Errorf("write after close: got %v, want ErrClosed", err)
			}
		})
	}
	w := NewParquetWriter(io.Discard)
	if err := w.Write(&datasets.Flow{Bytes: math.MaxInt64 + 1}); err == nil {
		t.Error("parquet: counter above 2^63-1 accepted")
	}
}

// TestReadErrors feeds damaged and foreign files to the readers.
func TestReadErrors(t *testing.T) {
	good := map[string][]byte{}
	for _, fm := range formats {
		b, err := os.ReadFile(filepath.Join("testdata", "sample"+fm.ext))
		if err != nil {
			t.Fatal(err)
		}
		good[fm.name] = b
	}
	foreign := func() []byte {
		var buf bytes.Buffer
		type other struct {
			A int64 `parquet:"a"`
		}
		if err := parquet.Write(&buf, []other{{1}}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}()
	// A footer declaring a list of 2^32-1 structs: must be refused, not
	// allocated.
	hugeList := func() []byte {
		footer := []byte{0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00}
		b := append([]byte("PAR1"), footer...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(footer)))
		return append(b, "PAR1"...)
	}()
	csvLines := strings.SplitAfter(string(good["csv"]), "\n")
	for _, tc := range []struct {
		name    string
		reader  datasets.Reader
		content []byte
		want    error
		flows   int // flows delivered before the error
	}{
		{"parquet truncated", ParquetReader{}, good["parquet"][:len(good["parquet"])-10], datasets.ErrCorrupt, 0},
		{"parquet magic only", ParquetReader{}, []byte("PAR1"), datasets.ErrCorrupt, 0},
		{"parquet footer with huge list", ParquetReader{}, hugeList, datasets.ErrCorrupt, 0},
		{"parquet of another schema", ParquetReader{}, foreign, datasets.ErrUnsupported, 0},
		{"csv header only", CSVReader{}, []byte(csvHeader + "\n"), nil, 0},
		{"csv empty", CSVReader{}, nil, datasets.ErrEmpty, 0},
		{"csv last line cut", CSVReader{}, []byte(strings.Join(csvLines[:4], "") + csvLines[4][:40]), io.ErrUnexpectedEOF, 3},
		{"csv bad address", CSVReader{}, []byte(csvLines[0] + strings.Replace(csvLines[1], "10.77.0.1", "10.77.0.300", 1)), datasets.ErrCorrupt, 0},
		{"csv port out of range", CSVReader{}, []byte(csvLines[0] + strings.Replace(csvLines[1], ",80,", ",65536,", 1)), datasets.ErrCorrupt, 0},
		{"csv foreign header", CSVReader{}, []byte(strings.Replace(csvHeader, "start", "first", 1) + "\n"), datasets.ErrUnsupported, 0},
		// A last line without its newline, longer than datasets.MaxLine:
		// refused after that much, not read whole.
		{"csv long last line", CSVReader{}, append(bytes.Clone(good["csv"]), bytes.Repeat([]byte{'9'}, 3<<20)...), datasets.ErrLineTooLong, len(csvLines) - 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in")
			if err := os.WriteFile(path, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, tc.reader, path)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got error %v, want %v", err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if len(got) != tc.flows {
				t.Errorf("got %d flows before the error, want %d", len(got), tc.flows)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		head          string
		parquet, csvq bool
	}{
		{"PAR1\x15\x00", true, false},
		{"PAR", false, false},
		{csvHeader + "\n2027-01-11T12:06:51Z,", false, true},
		{csvHeader + "\r\n", false, true},
		{csvHeader, false, true},
		{csvHeader + ",extra\n", false, false},
		{"ts,te,td,sa,da,sp,dp,pr,flg\n", false, false},
		{"", false, false},
	} {
		if got := (ParquetReader{}).Sniff([]byte(tc.head)); got != tc.parquet {
			t.Errorf("parquet sniff %q: got %v", tc.head, got)
		}
		if got := (CSVReader{}).Sniff([]byte(tc.head)); got != tc.csvq {
			t.Errorf("csv sniff %q: got %v", tc.head, got)
		}
	}
}

func TestDescribe(t *testing.T) {
	reg := datasets.NewRegistry(ParquetReader{}, CSVReader{})
	info, err := reg.Inspect(context.Background(), filepath.Join("testdata", "sample.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	flows := sampleFlows()
	var bytes uint64
	for _, f := range flows {
		bytes += f.Bytes + f.RevBytes
	}
	want := datasets.FileInfo{
		Path:          filepath.Join("testdata", "sample.parquet"),
		Format:        FormatParquet,
		Version:       "schema 1",
		Compression:   "zstd",
		Ident:         info.Ident, // the parquet-go version string
		Flows:         4,
		Packets:       math.MaxInt64 + 3 + 17099 + 1,
		Bytes:         bytes,
		First:         flows[3].Start, // the all-unknown flow's zero start does not count
		Last:          flows[1].End,
		Exporters:     []netip.Addr{netip.MustParseAddr("127.0.0.1")},
		SamplingRates: []uint32{1, math.MaxUint32, 0},
		Protocols:     map[uint8]uint64{0: 1, datasets.ProtoTCP: 2, datasets.ProtoICMP: 1},
		Notes:         []string{"4 rows in 1 row groups, written by fingerflow version 1 (build flowio)"},
	}
	if diff := cmp.Diff(want, info, addrCmp); diff != "" {
		t.Errorf("Inspect (-want +got):\n%s", diff)
	}
}

// FuzzReaders checks that no input makes a reader panic or loop.
func FuzzReaders(f *testing.F) {
	for _, name := range []string{"sample.csv", "sample.parquet"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, fmt.Sprintf("in-%p", &data))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		for _, fm := range formats {
			if !fm.reader.Sniff(data[:min(len(data), datasets.SniffLen)]) {
				continue
			}
			n := 0
			for _, err := range fm.reader.Flows(context.Background(), path) {
				if err != nil {
					break
				}
				n++
			}
		}
	})
}

func BenchmarkWrite(b *testing.B) {
	flows := manyFlows(100_000)
	for _, fm := range formats {
		b.Run(fm.name, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				var cw countWriter
				w := fm.writer(&cw)
				for i := range flows {
					if err := w.Write(&flows[i]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				size = int(cw)
			}
			b.ReportMetric(float64(b.N*len(flows))/b.Elapsed().Seconds(), "flows/s")
			b.ReportMetric(float64(size)/float64(len(flows)), "B/flow")
		})
	}
}

func BenchmarkRead(b *testing.B) {
	flows := manyFlows(100_000)
	for _, fm := range formats {
		b.Run(fm.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "in"+fm.ext)
			writeFile(b, path, fm, flows)
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				for _, err := range fm.reader.Flows(context.Background(), path) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != len(flows) {
					b.Fatalf("read %d flows, want %d", n, len(flows))
				}
			}
			b.ReportMetric(float64(b.N*len(flows))/b.Elapsed().Seconds(), "flows/s")
		})
	}
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// TestParquetMutations damages the fixture a few bytes at a time: every
// read must end, without a panic, either cleanly or with an error naming the
// file. (parquet-go v0.32.0 panics on some of these inputs; the first
// mutation of this sequence that did was a corrupt page index.)
func TestParquetMutations(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("testdata", "sample.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	path := filepath.Join(t.TempDir(), "damaged.parquet")
	for i := range 2000 {
		b := bytes.Clone(orig)
		for range 1 + r.IntN(4) {
			b[r.IntN(len(b))] = byte(r.Uint32())
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, err := range (ParquetReader{}).Flows(context.Background(), path) {
			if err != nil {
				if !strings.Contains(err.Error(), path) {
					t.Fatalf("mutation %d: error %q does not name the file", i, err)
				}
				break
			}
		}
	}
}
