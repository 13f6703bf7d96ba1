package argus

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/google/go-cmp/cmp"
)

// TestBinaryMatchesRa decodes each .argus file and compares every flow with
// what ra printed for it (the .csv beside it, made by gen.sh).
func TestBinaryMatchesRa(t *testing.T) {
	tests := []struct{ argus, csv string }{
		{"testdata/sample.argus", "testdata/sample.csv"},
		{"testdata/mixed.argus", "testdata/mixed.csv"},
		{filepath.Join(labDir, "test-near.argus"), "testdata/test-near.csv"},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.argus), func(t *testing.T) {
			if _, err := os.Stat(tc.argus); err != nil {
				t.Skipf("lab data not available: %v", err)
			}
			want, err := readAll(t, &CSVReader{}, tc.csv)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, &Reader{}, tc.argus)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
				t.Errorf("binary vs ra (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBinaryGolden(t *testing.T) {
	for _, name := range []string{"sample", "mixed"} {
		t.Run(name, func(t *testing.T) {
			flows, err := readAll(t, &Reader{}, filepath.Join("testdata", name+".argus"))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name, flows)
		})
	}
}

func TestBinaryMatchesNfdump(t *testing.T) {
	path := filepath.Join(labDir, "test-near.argus")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("lab data not available: %v", err)
	}
	flows, err := readAll(t, &Reader{}, path)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstNfdump(t, flows)
	checkAgainstLabels(t, flows)
}

// TestBinaryLabRuns compares the larger lab runs with ra's output, where
// argus-client is installed.
func TestBinaryLabRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ra, err := exec.LookPath("ra")
	if err != nil {
		t.Skip("ra (argus-client) not installed")
	}
	for _, run := range []string{"train-near", "train-https"} {
		t.Run(run, func(t *testing.T) {
			path := filepath.Join(labDir, run+".argus")
			if _, err := os.Stat(path); err != nil {
				t.Skipf("lab data not available: %v", err)
			}
			args := strings.Fields(strings.Replace(CSVCommand, "FILE", path, 1))[1:]
			out, err := exec.Command(ra, args...).Output()
			if err != nil {
				t.Fatalf("ra: %v", err)
			}
			var want []datasets.Flow
			for f, err := range readCSV(context.Background(), "ra output", bytes.NewReader(out)) {
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, f)
			}
			got, err := readAll(t, &Reader{}, path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) < 100 {
				t.Errorf("only %d flows", len(got))
			}
			if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
				t.Errorf("binary vs ra (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBinarySniff(t *testing.T) {
	sample, err := os.ReadFile("testdata/sample.argus")
	if err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile("testdata/sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		head []byte
		want bool
	}{
		{"argus 3", sample[:min(len(sample), datasets.SniffLen)], true},
		{"ra csv", csv, false},
		{"short", sample[:8], false},
		{"nfcapd", []byte{0xa5, 0x0c, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (&Reader{}).Sniff(tc.head); got != tc.want {
				t.Errorf("Sniff = %v, want %v", got, tc.want)
			}
			if got := (&CSVReader{}).Sniff(tc.head); got && tc.name == "argus 3" {
				t.Error("CSV reader sniffs a binary file")
			}
		})
	}
}

func TestBinaryErrors(t *testing.T) {
	sample, err := os.ReadFile("testdata/sample.argus")
	if err != nil {
		t.Fatal(err)
	}
	const first = 0x80 // first flow record, 55 words, starts after the MAR
	mod := func(f func(b []byte) []byte) []byte {
		return f(bytes.Clone(sample))
	}
	tests := []struct {
		name  string
		data  []byte
		is    error
		msg   []string
		flows int
	}{
		{"truncated record", sample[:first+100], io.ErrUnexpectedEOF, []string{"offset 128", "record 1"}, 0},
		{"truncated header", sample[:0x15c+2], io.ErrUnexpectedEOF, []string{"offset 348", "record 2"}, 1},
		{"zero length", mod(func(b []byte) []byte { b[first+2], b[first+3] = 0, 0; return b }), datasets.ErrCorrupt, []string{"offset 128", "zero record length"}, 0},
		{"DSR overrun", mod(func(b []byte) []byte { b[first+4+3] = 200; return b }), datasets.ErrCorrupt, []string{"record 1", "overruns"}, 0},
		{"bad metric qualifier", mod(func(b []byte) []byte { b[first+0x3a] = 0x33; return b }), datasets.ErrCorrupt, []string{"metric qualifier"}, 0},
		{"argus 2", mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], cookieV2); return b }), datasets.ErrUnsupported, []string{"argus 2", "ra -r FILE"}, 0},
		{"not argus", []byte("hello, world, this is text"), datasets.ErrCorrupt, []string{"offset 0"}, 0},
		{"empty", nil, datasets.ErrEmpty, nil, 0},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad.argus")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			flows, err := readAll(t, &Reader{}, path)
			if !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
			if len(flows) != tc.flows {
				t.Errorf("%d flows before the error, want %d", len(flows), tc.flows)
			}
			for _, s := range append([]string{path}, tc.msg...) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

// TestBinaryWrongBytesFail makes sure the comparison with ra can fail: one
// changed byte counter must show up.
func TestBinaryWrongBytesFail(t *testing.T) {
	sample, err := os.ReadFile("testdata/sample.argus")
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(sample)
	// Metric DSR of the first flow: header at 0x80+0x38, src bytes at +8.
	const sbytes = 0x80 + 0x38 + 8
	if b[0x80+0x38] != dsrMetric {
		t.Fatalf("fixture layout changed: DSR type %#x at %#x", b[0x80+0x38], 0x80+0x38)
	}
	binary.BigEndian.PutUint32(b[sbytes:], binary.BigEndian.Uint32(b[sbytes:])+1)
	var got []datasets.Flow
	for f, err := range readBinary(context.Background(), "x", bytes.NewReader(b)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
	}
	want, err := readAll(t, &CSVReader{}, "testdata/sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Bytes != want[0].Bytes+1 {
		t.Errorf("changed counter decoded as %d, want %d", got[0].Bytes, want[0].Bytes+1)
	}
	if cmp.Equal(want, got, cmpOpts...) {
		t.Error("a changed byte counter went unnoticed")
	}
}

func TestBinaryDescribe(t *testing.T) {
	var info datasets.FileInfo
	if err := (&Reader{}).Describe(context.Background(), "testdata/sample.argus", &info); err != nil {
		t.Fatal(err)
	}
	if info.Version != "argus record version 3" {
		t.Errorf("Version = %q", info.Version)
	}
}

func FuzzBinary(f *testing.F) {
	for _, name := range []string{"sample.argus", "mixed.argus"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		(&Reader{}).Sniff(data)
		for fl, err := range readBinary(context.Background(), "fuzz", bytes.NewReader(data)) {
			if err != nil {
				if !strings.HasPrefix(err.Error(), "fuzz") {
					t.Fatalf("error %q does not name the file", err)
				}
				break
			}
			if !fl.SrcAddr.IsValid() || !fl.DstAddr.IsValid() {
				t.Fatalf("flow without addresses: %+v", fl)
			}
		}
	})
}

// BenchmarkBinary reads the lab's test-near.argus (300 flows, 66 KB) from
// memory: about 3.5 million flows/s on two cores.
func BenchmarkBinary(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(labDir, "test-near.argus"))
	if err != nil {
		b.Skipf("lab data not available: %v", err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	var n int
	start := time.Now()
	for b.Loop() {
		for _, err := range readBinary(context.Background(), "bench", bytes.NewReader(raw)) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "flows/s")
}
