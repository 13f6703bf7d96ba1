package main

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/datasets"
)

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// readBack reads every flow of path with the registry the commands use.
func readBack(t *testing.T, path string) (string, []datasets.Flow) {
	t.Helper()
	reg := newRegistry(nil)
	rd, err := reg.Detect(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var flows []datasets.Flow
	for f, err := range rd.Flows(context.Background(), path) {
		if err != nil {
			t.Fatal(err)
		}
		flows = append(flows, f)
	}
	return rd.Format(), flows
}

// noLeftovers fails if the output directory holds anything but want.
func noLeftovers(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files in output directory (-want +got):\n%s", diff)
	}
}

// TestIngestRoundTrip converts a lab nfcapd file and reads it back: the
// flows must equal what the nfcapd reader gives, and the totals nfdump's.
func TestIngestRoundTrip(t *testing.T) {
	in := filepath.Join(lab, "test-near.v9", "nfcapd.202611221900")
	_, want := readBack(t, in)
	for _, tc := range []struct{ name, format string }{
		{"flows.parquet", "fingerflow-parquet"},
		{"flows.csv", "fingerflow-csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, tc.name)
			_, stderr, code := run(t, context.Background(), "ingest", in, "--out", out)
			if code != exitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, "1 file read, 0 skipped") || !strings.Contains(stderr, "600 flows in, 600 kept") {
				t.Errorf("summary line: %q", stderr)
			}
			format, got := readBack(t, out)
			if format != tc.format {
				t.Errorf("read back as %s, want %s", format, tc.format)
			}
			if diff := cmp.Diff(want, got, addrCmp); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
			var bytes uint64
			for _, f := range got {
				bytes += f.Bytes
			}
			if bytes != 7839631437 { // nfdump -R test-near.v9 -I
				t.Errorf("bytes: got %d, want 7839631437", bytes)
			}
			noLeftovers(t, dir, tc.name)
		})
	}
}

func TestIngestFilters(t *testing.T) {
	in := filepath.Join(lab, "test-near.v9")
	_, all := readBack(t, filepath.Join(in, "nfcapd.202611221900"))
	count := func(keep func(f *datasets.Flow) bool) int {
		n := 0
		for i := range all {
			if keep(&all[i]) {
				n++
			}
		}
		return n
	}
	since := time.Date(2027, 1, 11, 12, 7, 0, 0, time.UTC)
	client := netip.MustParsePrefix("10.77.1.2/32")
	for _, tc := range []struct {
		name string
		args []string
		want int
		fail string // the error of a window that keeps nothing
	}{
		{"tcp by name", []string{"--proto", "TCP"}, len(all), ""},
		{"udp by number", []string{"--proto", "17"}, 0, ""},
		{"port 80", []string{"--port", "80"}, count(func(f *datasets.Flow) bool { return f.SrcPort == 80 || f.DstPort == 80 }), ""},
		{"client address", []string{"--net", "10.77.1.2"}, count(func(f *datasets.Flow) bool { return client.Contains(f.SrcAddr) || client.Contains(f.DstAddr) }), ""},
		{"net outside", []string{"--net", "192.0.2.0/24", "--net", "198.51.100.0/24"}, 0, ""},
		// The file's name time (2026-11-22 19:00) is within a day of
		// neither bound: a file found in a directory is not opened, and
		// that left nothing to read.
		{"since by name time", []string{"--since", "2027-01-11 12:07"}, 0, "the input file was not opened"},
		{"since", []string{"--since", "2026-11-22T12:00:00Z"}, len(all), ""},
		// The flows are of 2027-01-11: a window that keeps none of
		// them is an error that says where they lie.
		{"until", []string{"--since", "2026-11-22 12:00", "--until", "2026-11-23"}, 0, "all 600 flows read lie outside --since/--until: they span 2027-01-11T12:06:51Z to 2027-01-11T12:07:12Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "f.csv")
			_, stderr, code := run(t, context.Background(), append([]string{"ingest", in, "--out", out}, tc.args...)...)
			if tc.fail != "" {
				if code != exitError || !strings.Contains(stderr, tc.fail) {
					t.Errorf("exit %d, stderr %q; want %d saying %q", code, stderr, exitError, tc.fail)
				}
				noLeftovers(t, filepath.Dir(out))
				return
			}
			if code != exitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			_, got := readBack(t, out)
			if len(got) != tc.want {
				t.Errorf("kept %d flows, want %d", len(got), tc.want)
			}
		})
	}
	// The time filter itself, on a file without a name time.
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(in, "nfcapd.202611221900"))
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "flows")
	if err := os.WriteFile(plain, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "f.parquet")
	if _, stderr, code := run(t, context.Background(), "ingest", plain, "--out", out, "--since", "2027-01-11 12:07"); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, got := readBack(t, out)
	if want := count(func(f *datasets.Flow) bool { return !f.End.Before(since) }); len(got) != want || want == 0 || want == len(all) {
		t.Errorf("--since kept %d of %d flows, want %d", len(got), len(all), want)
	}
}

func TestIngestUsage(t *testing.T) {
	in := filepath.Join(lab, "test-near.v9")
	for _, args := range [][]string{
		{"ingest", in},
		{"ingest", in, "--out", "x.json"},
		{"ingest", in, "--out", "x.csv", "--proto", "tcpx"},
		{"ingest", in, "--out", "x.csv", "--proto", "256"},
		{"ingest", in, "--out", "x.csv", "--port", "65536"},
		{"ingest", in, "--out", "x.csv", "--net", "10.0.0.0/33"},
		{"ingest", in, "--out", "x.csv", "--since", "yesterday"},
		{"ingest", in, "--out", "x.csv", "--since", "2027-01-02", "--until", "2027-01-01"},
		{"ingest", "--out", "x.csv"},
	} {
		if _, stderr, code := run(t, context.Background(), args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", args, code, exitUsage, stderr)
		}
	}
}

// TestIngestBadInputs: bad files are named and skipped, good ones written,
// exit status 3.
func TestIngestBadInputs(t *testing.T) {
	indir := t.TempDir()
	bad := badInputs(t, indir)
	good := filepath.Join(lab, "test-near.v9", "nfcapd.202611221900")
	outdir := t.TempDir()
	out := filepath.Join(outdir, "all.parquet")
	_, stderr, code := run(t, context.Background(), "ingest", indir, good, "--out", out)
	if code != exitPartial {
		t.Errorf("exit %d, want %d", code, exitPartial)
	}
	for _, p := range bad {
		if !strings.Contains(stderr, p+":") {
			t.Errorf("stderr does not name %s:\n%s", p, stderr)
		}
	}
	if !strings.Contains(stderr, "1 file read, 3 skipped") {
		t.Errorf("summary: %s", stderr)
	}
	_, got := readBack(t, out)
	// The truncated copy's leading flows are delivered before its error:
	// the output holds those and the good file's 600.
	lead := 0
	rd, err := newRegistry(nil).Detect(context.Background(), good)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range rd.Flows(context.Background(), bad["truncated"]) {
		if err != nil {
			break
		}
		lead++
	}
	if len(got) != lead+600 {
		t.Errorf("output has %d flows, want %d from the truncated file + 600", len(got), lead)
	}
	noLeftovers(t, outdir, "all.parquet")

	// Nothing readable: no output at all.
	out2 := filepath.Join(outdir, "none.csv")
	_, stderr, code = run(t, context.Background(), "ingest", bad["empty"], bad["random"], "--out", out2)
	if code != exitPartial || !strings.Contains(stderr, "not written") {
		t.Errorf("all bad: exit %d, stderr %q", code, stderr)
	}
	noLeftovers(t, outdir, "all.parquet")
}

// TestIngestInterrupted: a cancelled run leaves neither the output nor its
// temporary file.
func TestIngestInterrupted(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, code := run(t, ctx, "ingest", filepath.Join(lab, "test-near.v9"), "--out", filepath.Join(dir, "f.parquet"))
	if code != exitInterrupted {
		t.Errorf("exit %d, want %d", code, exitInterrupted)
	}
	noLeftovers(t, dir)
	if !errors.Is(context.Cause(ctx), context.Canceled) {
		t.Fatal("context not cancelled")
	}
}

// TestIngestReplacesAtomically: an existing output is only replaced by a
// complete file.
func TestIngestReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "f.csv")
	if err := os.WriteFile(out, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	run(t, ctx, "ingest", filepath.Join(lab, "test-near.v9"), "--out", out)
	if b, _ := os.ReadFile(out); string(b) != "old\n" {
		t.Errorf("interrupted run changed the existing output: %q", b)
	}
	if _, stderr, code := run(t, context.Background(), "ingest", filepath.Join(lab, "test-near.v9"), "--out", out, "-q"); code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q (want nothing with -q)", code, stderr)
	}
	if _, got := readBack(t, out); len(got) != 600 {
		t.Errorf("got %d flows, want 600", len(got))
	}
	noLeftovers(t, dir, "f.csv")
}

// TestIngestIntoInputDirectory: an output inside the input directory does
// not read its own temporary file; rerun, the output is an input of the
// run (a file of the directory argument) and is refused before anything is
// read, leaving it as it was.
func TestIngestIntoInputDirectory(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(lab, "test-near.v9", "nfcapd.202611221900"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nfcapd.202611221900"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "all.parquet")
	for i, want := range []int{exitOK, exitUsage} {
		if _, stderr, code := run(t, context.Background(), "ingest", dir, "--out", out); code != want {
			t.Fatalf("run %d: exit %d, want %d: %s", i+1, code, want, stderr)
		}
		if _, got := readBack(t, out); len(got) != 600 {
			t.Errorf("got %d flows, want 600", len(got))
		}
	}
	noLeftovers(t, dir, "all.parquet", "nfcapd.202611221900")
}

// BenchmarkIngest converts the train-near nfcapd file (2,500 flows) end to
// end: detection, decoding, filtering, writing, rename.
func BenchmarkIngest(b *testing.B) {
	in := filepath.Join(lab, "train-near.v9", "nfcapd.202611221900")
	const flows = 2500
	for _, ext := range []string{".parquet", ".csv"} {
		b.Run(ext[1:], func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "f"+ext)
			b.ReportAllocs()
			for b.Loop() {
				root := newRootCommand(&globalOptions{stdout: io.Discard, stderr: io.Discard})
				root.SetArgs([]string{"ingest", in, "--out", out, "-q"})
				if err := root.ExecuteContext(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*flows)/b.Elapsed().Seconds(), "flows/s")
		})
	}
}
