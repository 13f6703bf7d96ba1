package datasets

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// DefaultBatchSize is how many flows a ParallelReader hands over at a time
// unless told otherwise: large enough that the hand-over costs nothing per
// flow, small enough (about 190 KiB) to stay in a core's cache.
const DefaultBatchSize = 1024

// ParallelReader reads many flow files at once and hands their flows to one
// consumer in file order, batch by batch: Workers goroutines each detect
// and decode a file of their own, and the consumer gets file 1's flows,
// then file 2's, as if the files had been read one after the other. What
// the consumer sees, and so every result computed from it, is the same
// byte for byte whatever the number of workers; only the wall time
// changes. The zero value reads with one worker per processor and the
// zero Filter.
//
// Memory is bounded whatever the number and size of the files: at most
// Workers+1 files are open or waiting, each with at most Depth batches
// decoded ahead of the consumer.
type ParallelReader struct {
	Registry *Registry // picks each file's reader; required
	Filter   Filter    // flows it rejects are never handed over

	// Workers is how many files are decoded at once; 0 means
	// runtime.GOMAXPROCS(0). One worker still decodes ahead of the
	// consumer, on another goroutine.
	Workers int
	// BatchSize is the most flows in one batch; 0 means DefaultBatchSize.
	BatchSize int
	// Depth is how many batches of one file may wait for the consumer; 0
	// means 4.
	Depth int

	// FileDone, when set, is called on the consumer's goroutine with each
	// file's result as soon as the consumer has had all of that file's
	// flows, in file order, before the next file's first batch.
	FileDone func(FileResult)
}

// Decoder decodes one file's flows into records the caller owns. Next
// returns io.EOF after the last flow; any other error is final.
type Decoder interface {
	Next(*Flow) error
	Close() error
}

// DecoderOpener is implemented by readers that can decode into the
// caller's records, saving a copy of every flow; ParallelReader uses it
// when a file's reader has it. The flows are those of Reader.Flows.
type DecoderOpener interface {
	OpenDecoder(ctx context.Context, path string) (Decoder, error)
}

// fileJob is one file's slot: its batches, then its result.
type fileJob struct {
	path    string
	batches chan []Flow // closed when the file is done
	res     FileResult  // valid once batches is closed
	// abandoned is set, before batches is closed, for a file never handed
	// to a worker because the read was stopped first: it holds no token.
	abandoned bool
}

// WorkerCount is the number of workers Read and Fold run: Workers, or
// runtime.GOMAXPROCS(0) when that is 0.
func (p *ParallelReader) WorkerCount() int {
	if p.Workers > 0 {
		return p.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// Read streams every flow of every file that passes the filter through
// visit, a batch at a time, in file order and, within a file, in the
// file's order. visit must not keep the slice (it is reused) but may keep
// copies of its flows; it is called on the caller's goroutine, never
// concurrently. Semantics are ReadFiles': a file that cannot be opened, is
// of unknown format or turns out corrupt is recorded in its FileResult
// (the flows before the damage stay delivered) and the run goes on; the
// error is nil when all files were read completely, wraps ErrSkipped when
// some were not, and is ctx.Err() or visit's error when those end the run,
// with the results of the files begun so far. Read returns only when
// every worker has stopped.
func (p *ParallelReader) Read(ctx context.Context, files []string, visit func([]Flow) error) ([]FileResult, error) {
	return p.run(ctx, files, func(b []Flow, _ func()) error { return visit(b) }, nil, true)
}

// ReadOwned is Read for a consumer that hands the batches on instead of
// copying them (to goroutines of its own, for example): visit owns each
// batch until it calls release, once, from any goroutine, which gives the
// batch back to the readers to fill again (a second call does nothing). A batch never released is left
// to the garbage collector; the readers make new ones as they need them,
// so memory is bounded by the batches visit holds. Order, errors and
// results are Read's.
func (p *ParallelReader) ReadOwned(ctx context.Context, files []string, visit func(b []Flow, release func()) error) ([]FileResult, error) {
	return p.run(ctx, files, visit, nil, false)
}

// Fold is Read for work that does not depend on the order of flows: each
// batch goes to fold on the worker goroutine that decoded it, with the
// worker's number w (0 ≤ w < WorkerCount()), so that each worker keeps
// partial results of its own, which the caller merges after Fold returns.
// The work then runs on every worker instead of one consumer. Calls with
// one w never overlap; a file's batches go to one worker, in the file's
// order; which worker reads which file is not fixed, so the merged result
// is deterministic only when merging does not depend on it (sums of
// integers, minima, maxima, unions do not; sums of floating-point numbers
// do). Errors, FileDone and the results are as for Read.
func (p *ParallelReader) Fold(ctx context.Context, files []string, fold func(w int, batch []Flow) error) ([]FileResult, error) {
	return p.run(ctx, files, nil, fold, false)
}

// run is Read (visit set, reuse: each batch is reused once visit
// returns), ReadOwned (visit set) or Fold (fold set).
func (p *ParallelReader) run(ctx context.Context, files []string, visit func([]Flow, func()) error, fold func(int, []Flow) error, reuse bool) ([]FileResult, error) {
	if p.Registry == nil {
		return nil, fmt.Errorf("datasets: ParallelReader without a Registry")
	}
	workers := p.WorkerCount()
	size := p.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	depth := p.Depth
	if depth <= 0 {
		depth = 4
	}

	var jobs []*fileJob
	for _, path := range files {
		jobs = append(jobs, &fileJob{path: path, batches: make(chan []Flow, depth)})
	}
	results := make([]FileResult, 0, len(jobs))
	if len(jobs) == 0 {
		return results, ctx.Err()
	}
	workers = min(workers, len(jobs))

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// tokens bounds the files between a worker's start and the consumer's
	// end of them.
	tokens := make(chan struct{}, workers+1)
	free := make(chan []Flow, (workers+1)*(depth+1)+1)
	next := make(chan *fileJob)
	var (
		wg       sync.WaitGroup
		failOnce sync.Once
		failErr  error // fold's error, set before cancel
	)
	go func() { // hands out files in order, one token each
		defer close(next)
		// abandon closes the files a stopped read never hands out, so
		// that the consumer, which may already wait for the first of
		// them, sees it end and then the stop.
		abandon := func(rest []*fileJob) {
			for _, j := range rest {
				j.res.Path = j.path
				j.res.Err = wctx.Err()
				j.abandoned = true
				close(j.batches)
			}
		}
		for i, j := range jobs {
			select {
			case tokens <- struct{}{}:
			case <-wctx.Done():
				abandon(jobs[i:])
				return
			}
			select {
			case next <- j:
			case <-wctx.Done():
				<-tokens
				abandon(jobs[i:])
				return
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var own []Flow // Fold's batch, reused
			for j := range next {
				var emit func([]Flow) ([]Flow, bool)
				if fold != nil {
					emit = func(b []Flow) ([]Flow, bool) {
						if err := fold(w, b); err != nil {
							failOnce.Do(func() { failErr = err })
							cancel()
							return nil, false
						}
						own = b[:0]
						return own, true
					}
					if own == nil {
						own = make([]Flow, 0, size)
					}
				} else {
					emit = func(b []Flow) ([]Flow, bool) {
						select {
						case j.batches <- b:
						case <-wctx.Done():
							return nil, false
						}
						select {
						case b = <-free:
						default:
							b = make([]Flow, 0, size)
						}
						return b, true
					}
				}
				p.decode(wctx, j, size, own, emit)
			}
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
	}()

	bad := 0
	for _, j := range jobs {
		var verr error
		for b := range j.batches {
			var done atomic.Bool
			release := func() {
				if done.Swap(true) {
					return // a second release must not hand the batch out twice
				}
				select {
				case free <- b[:0]:
				default:
				}
			}
			if verr == nil && ctx.Err() == nil {
				if reuse {
					verr = visit(b, nil)
				} else {
					verr = visit(b, release)
					release = nil // visit's now
				}
			}
			if release != nil {
				release()
			}
			if verr != nil || ctx.Err() != nil {
				cancel() // the worker stops; drain what it already sent
			}
		}
		if !j.abandoned {
			<-tokens
		}
		res := j.res
		// An interrupt ends the run even when the reader did not notice
		// it (a file that ended, or opened, just then).
		if err := ctx.Err(); err != nil {
			results = append(results, res)
			return results, err
		}
		if verr == nil && wctx.Err() != nil {
			wg.Wait() // failErr is set before cancel; wait makes it visible
			if verr = failErr; verr == nil {
				verr = wctx.Err()
			}
		}
		if verr != nil {
			results = append(results, res)
			return results, verr
		}
		if res.Err != nil {
			bad++
		}
		results = append(results, res)
		if p.FileDone != nil {
			p.FileDone(res)
		}
	}
	if bad > 0 {
		return results, fmt.Errorf("%d of %d files: %w", bad, len(files), ErrSkipped)
	}
	return results, nil
}

// decode reads one file into batches of at most size flows, starting with
// b (nil: a new one), hands each full batch and the last to emit, which
// returns the batch to fill next or false to stop, and closes j.batches.
func (p *ParallelReader) decode(ctx context.Context, j *fileJob, size int, b []Flow, emit func([]Flow) ([]Flow, bool)) {
	defer close(j.batches)
	j.res.Path = j.path
	rd, err := p.Registry.Detect(ctx, j.path)
	if err != nil {
		j.res.Err = err
		return
	}
	j.res.Format = rd.Format()
	if b == nil {
		b = make([]Flow, 0, size)
	}
	ok := true
	if op, isDec := rd.(DecoderOpener); isDec {
		dec, err := op.OpenDecoder(ctx, j.path)
		if err != nil {
			j.res.Err = err
			return
		}
		defer dec.Close()
		for {
			n := len(b)
			b = b[:n+1]
			if err := dec.Next(&b[n]); err != nil {
				b = b[:n]
				if err != io.EOF {
					j.res.Err = err
				}
				break
			}
			j.res.count(&b[n], &p.Filter)
			if !p.Filter.Match(&b[n]) {
				b = b[:n]
				continue
			}
			j.res.Kept++
			if len(b) == size {
				if b, ok = emit(b); !ok {
					return
				}
			}
		}
	} else {
		for f, err := range rd.Flows(ctx, j.path) {
			if err != nil {
				j.res.Err = err
				break
			}
			j.res.count(&f, &p.Filter)
			if !p.Filter.Match(&f) {
				continue
			}
			j.res.Kept++
			b = append(b, f)
			if len(b) == size {
				if b, ok = emit(b); !ok {
					return
				}
			}
		}
	}
	if len(b) > 0 {
		emit(b)
	}
}

// count adds a flow read to the file's counts, as ReadFiles does.
func (r *FileResult) count(f *Flow, flt *Filter) {
	r.Flows++
	if r.First.IsZero() || f.Start.Before(r.First) {
		r.First = f.Start
	}
	if f.End.After(r.Last) {
		r.Last = f.End
	}
	if flt.InWindow(f) {
		r.InWindow++
	}
}
