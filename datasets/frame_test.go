package datasets_test

import (
	"context"
	"errors"
	"iter"
	"math"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/nfcsv"
)

func seqOf(flows []datasets.Flow, tail error) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		for _, f := range flows {
			if !yield(f, nil) {
				return
			}
		}
		if tail != nil {
			yield(datasets.Flow{}, tail)
		}
	}
}

// TestFrameLab loads a real lab run and checks the frame's totals against
// `nfdump -R datasets/lab-dev/test-near.v9 -I` (the CSV is that run's
// `nfdump -o csv`): Flows 600, Packets 5698435, Bytes 7839631437.
func TestFrameLab(t *testing.T) {
	path := filepath.Join("lab-dev", "test-near.nfdump.csv")
	df, err := datasets.Frame((&nfcsv.Reader{}).Flows(context.Background(), path), 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(datasets.FrameColumns, df.Names()); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if df.Nrow() != 600 {
		t.Errorf("rows: got %d, want 600", df.Nrow())
	}
	sum := func(col string) int {
		v, err := df.Col(col).Int()
		if err != nil {
			t.Fatal(err)
		}
		s := 0
		for _, x := range v {
			s += x
		}
		return s
	}
	if got := sum("bytes") + sum("rev_bytes"); got != 7839631437 {
		t.Errorf("bytes: got %d, want 7839631437", got)
	}
	if got := sum("packets") + sum("rev_packets"); got != 5698435 {
		t.Errorf("packets: got %d, want 5698435", got)
	}
	// First row: 2027-01-11 12:06:51 10.77.0.1:80 → 10.77.1.2:60904, 25590675 bytes.
	first := time.Date(2027, 1, 11, 12, 6, 51, 0, time.UTC)
	if got := df.Elem(0, 0).Float(); math.Abs(got-float64(first.Unix())) > 1 {
		t.Errorf("start[0]: got %f, want %d (±1s)", got, first.Unix())
	}
	if got := df.Elem(0, 2).String(); got != "10.77.0.1" {
		t.Errorf("src[0]: got %q", got)
	}
	if got, _ := df.Elem(0, 9).Int(); got != 25590675 {
		t.Errorf("bytes[0]: got %d", got)
	}
	if got := df.Col("proto").Float()[0]; got != datasets.ProtoTCP {
		t.Errorf("proto[0]: got %v", got)
	}
	if got := df.Col("bytes").Sum(); got != float64(sum("bytes")) {
		t.Errorf("bytes column has NaN cells: Sum %v", got)
	}
}

func TestFrameLimit(t *testing.T) {
	flows := make([]datasets.Flow, 10)
	for i := range flows {
		flows[i].Bytes = uint64(i)
	}
	for _, tc := range []struct {
		name    string
		max     int
		wantErr error
		rows    int
	}{
		{"under", 11, nil, 10},
		{"exact", 10, nil, 10},
		{"over", 9, datasets.ErrTooLarge, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read := 0
			seq := func(yield func(datasets.Flow, error) bool) {
				for _, f := range flows {
					read++
					if !yield(f, nil) {
						return
					}
				}
			}
			df, err := datasets.Frame(seq, tc.max)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if read != tc.max+1 {
					t.Errorf("read %d flows before refusing, want %d", read, tc.max+1)
				}
				for _, want := range []string{"9", "fingerflow ingest"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				return
			}
			if df.Nrow() != tc.rows {
				t.Errorf("rows: got %d, want %d", df.Nrow(), tc.rows)
			}
		})
	}
}

func TestFrameEdges(t *testing.T) {
	boom := errors.New("boom")
	if _, err := datasets.Frame(seqOf([]datasets.Flow{{}}, boom), 0); !errors.Is(err, boom) {
		t.Errorf("source error: got %v", err)
	}
	if _, err := datasets.Frame(seqOf([]datasets.Flow{{Bytes: math.MaxUint64}}, nil), 0); err == nil {
		t.Error("counter above 2^63-1 accepted")
	}
	df, err := datasets.Frame(seqOf(nil, nil), 0)
	if err != nil {
		t.Fatal(err)
	}
	if df.Nrow() != 0 || df.Ncol() != len(datasets.FrameColumns) {
		t.Errorf("empty input: %d×%d frame", df.Nrow(), df.Ncol())
	}
	// Unknown times are NaN, unknown addresses empty; large counters exact.
	t0 := time.Date(2027, 1, 11, 12, 0, 0, 250_000_000, time.UTC)
	df, err = datasets.Frame(seqOf([]datasets.Flow{
		{Start: t0, SrcAddr: netip.MustParseAddr("2001:db8::1"), Bytes: 1 << 53, SamplingRate: 1000},
	}, nil), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := df.Col("start").Float()[0]; got != float64(t0.Unix())+0.25 {
		t.Errorf("start: got %f", got)
	}
	if !math.IsNaN(df.Col("end").Float()[0]) {
		t.Errorf("unknown end: got %v, want NaN", df.Col("end").Float()[0])
	}
	if got := df.Col("src").Records()[0]; got != "2001:db8::1" {
		t.Errorf("src: got %q", got)
	}
	if got := df.Col("exporter").Records()[0]; got != "" {
		t.Errorf("unknown exporter: got %q, want empty", got)
	}
	if got, _ := df.Col("bytes").Int(); got[0] != 1<<53 {
		t.Errorf("bytes: got %d", got[0])
	}
	if got, _ := df.Col("sampling").Int(); got[0] != 1000 {
		t.Errorf("sampling: got %d", got[0])
	}
}

// BenchmarkFrame measures the memory cost of a frame per row: "B/row" is
// the heap the finished frame keeps; B/op divided by 200,000 is what
// building it allocates per row.
func BenchmarkFrame(b *testing.B) {
	const n = 200_000
	flows := make([]datasets.Flow, n)
	t0 := time.Date(2027, 1, 11, 12, 0, 0, 0, time.UTC)
	for i := range flows {
		flows[i] = datasets.Flow{
			Start: t0.Add(time.Duration(i) * time.Millisecond), End: t0.Add(time.Duration(i+900) * time.Millisecond),
			SrcAddr: netip.AddrFrom4([4]byte{10, 77, byte(i >> 8), byte(i)}), DstAddr: netip.AddrFrom4([4]byte{10, 77, 1, 2}),
			SrcPort: uint16(i), DstPort: 443, Proto: 6, TCPFlags: 0x1b, Packets: 1000, Bytes: 1_500_000,
			Exporter: netip.AddrFrom4([4]byte{127, 0, 0, 1}), SamplingRate: 1,
		}
	}
	b.ReportAllocs()
	var kept float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		df, err := datasets.Frame(seqOf(flows, nil), n)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		kept = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(df)
	}
	b.ReportMetric(kept, "B/row")
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "flows/s")
}
