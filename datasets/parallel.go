package datasets

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"
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
// with the results of the files begun so far. A rotated file whose name
// time lies more than a day outside the filter's window is not opened and
// has no result. Read returns only when every worker has stopped.
func (p *ParallelReader) Read(ctx context.Context, files []string, visit func([]Flow) error) ([]FileResult, error) {
	if p.Registry == nil {
		return nil, fmt.Errorf("datasets: ParallelReader without a Registry")
	}
	workers := p.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
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
		if outsideWindow(path, &p.Filter) {
			continue
		}
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
	var wg sync.WaitGroup
	go func() { // hands out files in order, one token each
		defer close(next)
		for _, j := range jobs {
			select {
			case tokens <- struct{}{}:
			case <-wctx.Done():
				return
			}
			select {
			case next <- j:
			case <-wctx.Done():
				<-tokens
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				p.decode(wctx, j, size, free)
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
			if verr == nil && ctx.Err() == nil {
				verr = visit(b)
			}
			select {
			case free <- b[:0]:
			default:
			}
			if verr != nil || ctx.Err() != nil {
				cancel() // the worker stops; drain what it already sent
			}
		}
		<-tokens
		res := j.res
		if err := ctx.Err(); err != nil {
			results = append(results, res)
			return results, err
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

// decode reads one file into batches on j.batches and closes it.
func (p *ParallelReader) decode(ctx context.Context, j *fileJob, size int, free chan []Flow) {
	defer close(j.batches)
	j.res.Path = j.path
	rd, err := p.Registry.Detect(ctx, j.path)
	if err != nil {
		j.res.Err = err
		return
	}
	j.res.Format = rd.Format()
	var b []Flow
	send := func() bool {
		select {
		case j.batches <- b:
			b = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	grab := func() {
		select {
		case b = <-free:
		default:
			b = make([]Flow, 0, size)
		}
	}
	if op, ok := rd.(DecoderOpener); ok {
		dec, err := op.OpenDecoder(ctx, j.path)
		if err != nil {
			j.res.Err = err
			return
		}
		defer dec.Close()
		for {
			if b == nil {
				grab()
			}
			n := len(b)
			b = b[:n+1]
			if err := dec.Next(&b[n]); err != nil {
				b = b[:n]
				if err != io.EOF {
					j.res.Err = err
				}
				break
			}
			j.res.Flows++
			if !p.Filter.Match(&b[n]) {
				b = b[:n]
				continue
			}
			j.res.Kept++
			if len(b) == size && !send() {
				return
			}
		}
	} else {
		for f, err := range rd.Flows(ctx, j.path) {
			if err != nil {
				j.res.Err = err
				break
			}
			j.res.Flows++
			if !p.Filter.Match(&f) {
				continue
			}
			j.res.Kept++
			if b == nil {
				grab()
			}
			b = append(b, f)
			if len(b) == size && !send() {
				return
			}
		}
	}
	if len(b) > 0 {
		send()
	}
}

// outsideWindow reports whether path is a rotated file whose name time lies
// more than a day outside flt's window, as ReadFiles skips it.
func outsideWindow(path string, flt *Filter) bool {
	t, ok := FileTime(path)
	if !ok {
		return false
	}
	return (!flt.Until.IsZero() && t.After(flt.Until.Add(24*time.Hour))) ||
		(!flt.Since.IsZero() && t.Before(flt.Since.Add(-24*time.Hour)))
}
