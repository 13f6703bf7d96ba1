package datasets_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/argus"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
	"github.com/fingerflow/fingerflow/datasets/nfcsv"
)

func testRegistry() *datasets.Registry {
	return datasets.NewRegistry(&nfcapd.Reader{}, &argus.Reader{}, &nfcsv.Reader{})
}

// parallelInputs are real files of every kind ReadFiles meets: nfcapd in
// three export formats, Argus, nfdump CSV, a missing file, an empty file,
// a file of unknown format and a truncated nfcapd file, in an order that
// puts the bad ones between good ones.
func parallelInputs(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	unknown := filepath.Join(dir, "unknown.txt")
	truncated := filepath.Join(dir, "truncated.nfcapd")
	whole, err := os.ReadFile("lab-attack/lab-attack.v9/nfcapd.202612011800")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		empty:     nil,
		unknown:   []byte("not a flow file\n"),
		truncated: whole[:len(whole)*2/3],
	} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return []string{
		"lab-attack/lab-attack.v5/nfcapd.202612011800",
		empty,
		"lab-attack/lab-attack.v9/nfcapd.202612011800",
		filepath.Join(dir, "missing"),
		truncated,
		"lab-attack/lab-attack.argus",
		unknown,
		"lab-dev/test-near.nfdump.csv",
		"lab-attack/lab-attack.ipfix/nfcapd.202612011800",
	}
}

// sequential is what ReadFiles delivers.
func sequential(t *testing.T, files []string, flt datasets.Filter) ([]datasets.Flow, []datasets.FileResult, error) {
	t.Helper()
	var flows []datasets.Flow
	res, err := datasets.ReadFiles(context.Background(), testRegistry(), files, flt, func(f *datasets.Flow) error {
		flows = append(flows, *f)
		return nil
	})
	return flows, res, err
}

// errorText compares FileResults by their errors' text.
var errorText = cmp.Comparer(func(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
})

func TestParallelReaderMatchesReadFiles(t *testing.T) {
	files := parallelInputs(t)
	filters := map[string]datasets.Filter{
		"all": {},
		"tcp to 80, in a window": {
			Protos: []uint8{datasets.ProtoTCP}, Ports: []uint16{80},
			Since: time.Date(2026, 12, 1, 18, 2, 5, 0, time.UTC),
			Until: time.Date(2026, 12, 1, 18, 2, 45, 0, time.UTC),
		},
	}
	for name, flt := range filters {
		want, wantRes, wantErr := sequential(t, files, flt)
		if !errors.Is(wantErr, datasets.ErrSkipped) || len(want) == 0 {
			t.Fatalf("%s: ReadFiles gave %d flows, error %v; want flows and skipped files", name, len(want), wantErr)
		}
		for _, workers := range []int{1, 2, 5} {
			for _, size := range []int{1, 7, 0} {
				var got []datasets.Flow
				var done []datasets.FileResult
				batches := 0
				p := datasets.ParallelReader{
					Registry: testRegistry(), Filter: flt, Workers: workers, BatchSize: size,
					FileDone: func(r datasets.FileResult) { done = append(done, r) },
				}
				res, err := p.Read(context.Background(), files, func(b []datasets.Flow) error {
					if size > 0 && len(b) > size || len(b) == 0 {
						t.Errorf("batch of %d flows, size %d", len(b), size)
					}
					batches++
					got = append(got, b...)
					return nil
				})
				if err == nil || err.Error() != wantErr.Error() {
					t.Errorf("%s, %d workers, batch %d: error %v, want %v", name, workers, size, err, wantErr)
				}
				if len(got) != len(want) {
					t.Fatalf("%s, %d workers, batch %d: %d flows, want %d", name, workers, size, len(got), len(want))
				}
				for i := range want {
					if want[i] != got[i] {
						t.Fatalf("%s, %d workers, batch %d: flow %d differs (-want +got):\n%s", name, workers, size, i,
							cmp.Diff(want[i], got[i], cmpopts.EquateComparable(netip.Addr{})))
					}
				}
				if diff := cmp.Diff(wantRes, res, errorText); diff != "" {
					t.Errorf("%s, %d workers, batch %d: results (-want +got):\n%s", name, workers, size, diff)
				}
				if diff := cmp.Diff(wantRes, done, errorText); diff != "" {
					t.Errorf("%s, %d workers, batch %d: FileDone (-want +got):\n%s", name, workers, size, diff)
				}
			}
		}
	}
}

// TestParallelReaderOwned: ReadOwned hands over the flows of Read, in
// order; a batch visit keeps is not filled again until it is released,
// however many the readers go on decoding, and a released batch (on
// another goroutine, twice) comes back to be filled.
func TestParallelReaderOwned(t *testing.T) {
	files := parallelInputs(t)
	want, wantRes, wantErr := sequential(t, files, datasets.Filter{})
	for _, workers := range []int{1, 2, 5} {
		p := datasets.ParallelReader{Registry: testRegistry(), Workers: workers, BatchSize: 7}
		var kept [][]datasets.Flow // batches held, with copies of what they held
		var copies [][]datasets.Flow
		releases := make(chan func(), 1<<16)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range releases {
				r()
				r()
			}
		}()
		n := 0
		res, err := p.ReadOwned(context.Background(), files, func(b []datasets.Flow, release func()) error {
			if n++; n%2 == 0 {
				kept = append(kept, b)
				copies = append(copies, slices.Clone(b))
			} else {
				copies = append(copies, slices.Clone(b))
				releases <- release
			}
			return nil
		})
		close(releases)
		wg.Wait()
		if err == nil || err.Error() != wantErr.Error() {
			t.Errorf("%d workers: error %v, want %v", workers, err, wantErr)
		}
		var got []datasets.Flow
		for _, c := range copies {
			got = append(got, c...)
		}
		if len(got) != len(want) {
			t.Fatalf("%d workers: %d flows, want %d", workers, len(got), len(want))
		}
		for i := range want {
			if want[i] != got[i] {
				t.Fatalf("%d workers: flow %d differs (-want +got):\n%s", workers, i,
					cmp.Diff(want[i], got[i], cmpopts.EquateComparable(netip.Addr{})))
			}
		}
		for k, b := range kept {
			if !slices.Equal(b, copies[2*k+1]) {
				t.Fatalf("%d workers: a batch kept and not released was filled again", workers)
			}
		}
		if len(res) != len(wantRes) {
			t.Errorf("%d workers: %d file results, want %d", workers, len(res), len(wantRes))
		}
	}
}

// TestParallelReaderFold: Fold hands every flow Read hands over exactly
// once, each worker's calls in sequence, and reports files as Read does.
func TestParallelReaderFold(t *testing.T) {
	files := parallelInputs(t)
	want, wantRes, wantErr := sequential(t, files, datasets.Filter{})
	count := func(flows []datasets.Flow) map[datasets.Flow]int {
		m := map[datasets.Flow]int{}
		for _, f := range flows {
			m[f]++
		}
		return m
	}
	for _, workers := range []int{1, 2, 5} {
		p := datasets.ParallelReader{Registry: testRegistry(), Workers: workers, BatchSize: 100}
		parts := make([][]datasets.Flow, p.WorkerCount())
		busy := make([]bool, p.WorkerCount())
		res, err := p.Fold(context.Background(), files, func(w int, b []datasets.Flow) error {
			if busy[w] {
				t.Errorf("worker %d called while busy", w)
			}
			busy[w] = true
			parts[w] = append(parts[w], b...)
			busy[w] = false
			return nil
		})
		if err == nil || err.Error() != wantErr.Error() {
			t.Errorf("%d workers: error %v, want %v", workers, err, wantErr)
		}
		if diff := cmp.Diff(wantRes, res, errorText); diff != "" {
			t.Errorf("%d workers: results (-want +got):\n%s", workers, diff)
		}
		var got []datasets.Flow
		for _, p := range parts {
			got = append(got, p...)
		}
		if len(got) != len(want) {
			t.Fatalf("%d workers: %d flows, want %d", workers, len(got), len(want))
		}
		g, w := count(got), count(want)
		for f, n := range w {
			if g[f] != n {
				t.Fatalf("%d workers: flow %+v folded %d times, want %d", workers, f, g[f], n)
			}
		}

		stop := errors.New("enough")
		n := 0
		var mu sync.Mutex
		_, err = p.Fold(context.Background(), files, func(w int, b []datasets.Flow) error {
			mu.Lock()
			defer mu.Unlock()
			if n += len(b); n > 5000 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Errorf("%d workers: error %v, want fold's", workers, err)
		}
	}
}

// TestParallelReaderStops: an error from visit or a cancelled context ends
// the run at once, with that error, and leaves no goroutine behind.
func TestParallelReaderStops(t *testing.T) {
	files := parallelInputs(t)
	base := runtime.NumGoroutine()
	stop := errors.New("enough")
	for _, workers := range []int{1, 2, 4} {
		p := datasets.ParallelReader{Registry: testRegistry(), Workers: workers, BatchSize: 16}
		n := 0
		res, err := p.Read(context.Background(), files, func(b []datasets.Flow) error {
			if n += len(b); n > 12000 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Errorf("%d workers: error %v, want visit's", workers, err)
		}
		if len(res) != 3 || res[2].Path != files[2] {
			t.Errorf("%d workers: %d results, want 3 ending with %s", workers, len(res), files[2])
		}

		ctx, cancel := context.WithCancel(context.Background())
		n = 0
		_, err = p.Read(ctx, files, func(b []datasets.Flow) error {
			if n += len(b); n > 100 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%d workers: error %v after cancel, want context.Canceled", workers, err)
		}
		if n > 100+16 {
			t.Errorf("%d workers: %d flows handed over after cancel", workers, n-100)
		}
		cancel()
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Errorf("%d goroutines left running (%d before)", n-base, base)
	}
}

func TestParallelReaderNoFiles(t *testing.T) {
	p := datasets.ParallelReader{Registry: testRegistry()}
	res, err := p.Read(context.Background(), nil, func([]datasets.Flow) error {
		t.Error("visit called")
		return nil
	})
	if err != nil || len(res) != 0 {
		t.Errorf("got %v, %v; want no results, no error", res, err)
	}
}

// BenchmarkParallelReader reads the lab-attack run's three nfcapd files
// (LZ4) and its Argus file, or the nfcapd files under
// $FINGERFLOW_BENCH_DIR, with one and two workers: "read" hands batches to
// a consumer that only counts them (the reader's own speed), "sum" to one
// that sums bytes per source in a Go map (the work of `fingerflow stats
// -s srcip/bytes` done simply, in file order), "fold" sums per worker;
// "readfiles" is ReadFiles counting flows, the sequential read before.
func BenchmarkParallelReader(b *testing.B) {
	files := []string{
		"lab-attack/lab-attack.v5/nfcapd.202612011800",
		"lab-attack/lab-attack.v9/nfcapd.202612011800",
		"lab-attack/lab-attack.ipfix/nfcapd.202612011800",
		"lab-attack/lab-attack.argus",
	}
	if dir := os.Getenv("FINGERFLOW_BENCH_DIR"); dir != "" {
		var err error
		if files, err = datasets.Expand(context.Background(), []string{dir}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("readfiles", func(b *testing.B) {
		b.ReportAllocs()
		flows := 0
		for b.Loop() {
			if _, err := datasets.ReadFiles(context.Background(), testRegistry(), files, datasets.Filter{}, func(*datasets.Flow) error {
				flows++
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(flows)/b.Elapsed().Seconds(), "flows/s")
	})
	for _, mode := range []string{"read", "sum", "fold"} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/%dworkers", mode, workers), func(b *testing.B) {
				b.ReportAllocs()
				p := datasets.ParallelReader{Registry: testRegistry(), Workers: workers}
				flows := 0
				for b.Loop() {
					var err error
					switch mode {
					case "read":
						_, err = p.Read(context.Background(), files, func(batch []datasets.Flow) error {
							flows += len(batch)
							return nil
						})
					case "sum":
						sums := map[[16]byte]uint64{}
						_, err = p.Read(context.Background(), files, func(batch []datasets.Flow) error {
							for i := range batch {
								sums[batch[i].SrcAddr.As16()] += batch[i].Bytes
							}
							flows += len(batch)
							return nil
						})
					case "fold":
						sums := make([]map[[16]byte]uint64, p.WorkerCount())
						counts := make([]int, p.WorkerCount())
						_, err = p.Fold(context.Background(), files, func(w int, batch []datasets.Flow) error {
							if sums[w] == nil {
								sums[w] = map[[16]byte]uint64{}
							}
							for i := range batch {
								sums[w][batch[i].SrcAddr.As16()] += batch[i].Bytes
							}
							counts[w] += len(batch)
							return nil
						})
						for _, c := range counts {
							flows += c
						}
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(flows)/b.Elapsed().Seconds(), "flows/s")
			})
		}
	}
}

// TestFileSourceBatchesOwned: a FileSource hands over the same flows and
// counts with BatchesOwned (each batch released on another goroutine) as
// with Batches, a copy of a file among the inputs counted once.
func TestFileSourceBatchesOwned(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("lab-attack", "lab-attack.v9", "nfcapd.202612011800")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dup := filepath.Join(dir, "nfcapd.202612011805")
	if err := os.WriteFile(dup, data, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := datasets.ExpandInputs(context.Background(), []string{src, dup, filepath.Join("lab-attack", "lab-attack.argus")})
	if err != nil {
		t.Fatal(err)
	}
	s := datasets.FileSource{Registry: testRegistry(), Inputs: in, Workers: 2}
	var want []datasets.Flow
	wantSt, err := s.Batches(context.Background(), func(b []datasets.Flow) error {
		want = append(want, b...)
		return nil
	})
	if err != nil || len(want) == 0 || wantSt.Duplicates == 0 {
		t.Fatalf("Batches: %d flows, %d duplicates, error %v: want flows and the copy's records as duplicates", len(want), wantSt.Duplicates, err)
	}
	var got []datasets.Flow
	var wg sync.WaitGroup
	st, err := s.BatchesOwned(context.Background(), func(b []datasets.Flow, release func()) error {
		got = append(got, b...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			release()
		}()
		return nil
	})
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || !slices.Equal(got, want) {
		t.Errorf("BatchesOwned: %d flows, not Batches' %d", len(got), len(want))
	}
	if d := cmp.Diff(wantSt, st, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateErrors()); d != "" {
		t.Errorf("BatchesOwned's counts (-Batches +BatchesOwned):\n%s", d)
	}
}

// TestParallelReaderCancelBetweenFiles: a cancel that lands between two
// files, when the next file has not yet been handed to a worker, still
// ends the read with the cancellation instead of waiting for that file's
// flows forever. FileDone cancels there on purpose; the read is repeated
// because whether the next file was handed out first is a race.
func TestParallelReaderCancelBetweenFiles(t *testing.T) {
	files := make([]string, 24)
	for i := range files {
		files[i] = "lab-attack/lab-attack.v9/nfcapd.202612011800"
	}
	for round := range 60 {
		workers := 1 + round%4
		ctx, cancel := context.WithCancel(context.Background())
		done := 0
		p := datasets.ParallelReader{Registry: testRegistry(), Workers: workers, BatchSize: 64, Depth: 1,
			FileDone: func(datasets.FileResult) {
				if done++; done == 1+round%5 {
					cancel()
				}
			}}
		type result struct {
			res []datasets.FileResult
			err error
		}
		out := make(chan result, 1)
		go func() {
			var r result
			if round%2 == 0 {
				r.res, r.err = p.Read(ctx, files, func([]datasets.Flow) error { return nil })
			} else {
				r.res, r.err = p.ReadOwned(ctx, files, func(_ []datasets.Flow, release func()) error { release(); return nil })
			}
			out <- r
		}()
		select {
		case r := <-out:
			if !errors.Is(r.err, context.Canceled) {
				t.Fatalf("round %d (%d workers): error %v, want context.Canceled", round, workers, r.err)
			}
			if len(r.res) > done+1 {
				t.Errorf("round %d: %d results after %d files done", round, len(r.res), done)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d (%d workers): the read still waits 20 s after a cancel between files", round, workers)
		}
		cancel()
	}
}
