package main

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/fingerflow/fingerflow/datasets"
)

// fanOutBatch is how many flows the reader hands on at a time.
const fanOutBatch = 4096

// fanOut hands every flow of a stream to several consumers, each in its own
// goroutine, in batches: consumers that keep separate state (host features,
// download extraction) then use separate cores while each still sees the
// flows in stream order, so the results are those of one sequential pass.
// A consumer's error stops the stream.
type fanOut struct {
	consumers []func(*datasets.Flow) error
	chans     []chan *flowBatch
	pool      sync.Pool
	batch     *flowBatch
	wg        sync.WaitGroup
	errs      []error
	failed    atomic.Bool
	cancel    context.CancelFunc
}

type flowBatch struct {
	flows []datasets.Flow
	refs  atomic.Int32
}

// newFanOut starts one goroutine per consumer. Call add for every flow,
// then close, whose error is the first consumer error.
func newFanOut(ctx context.Context, consumers ...func(*datasets.Flow) error) (*fanOut, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	f := &fanOut{consumers: consumers, errs: make([]error, len(consumers)), cancel: cancel}
	f.pool.New = func() any { return &flowBatch{flows: make([]datasets.Flow, 0, fanOutBatch)} }
	for i, c := range consumers {
		ch := make(chan *flowBatch, 4)
		f.chans = append(f.chans, ch)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for b := range ch {
				if f.errs[i] == nil {
					for k := range b.flows {
						if err := c(&b.flows[k]); err != nil {
							f.errs[i] = err
							f.failed.Store(true)
							cancel()
							break
						}
					}
				}
				f.release(b)
			}
		}()
	}
	return f, ctx
}

func (f *fanOut) release(b *flowBatch) {
	if b.refs.Add(-1) == 0 {
		b.flows = b.flows[:0]
		f.pool.Put(b)
	}
}

// add queues one flow; it reports a consumer's failure as errFanOut.
func (f *fanOut) add(fl *datasets.Flow) error {
	if f.failed.Load() {
		return errFanOut
	}
	if f.batch == nil {
		f.batch = f.pool.Get().(*flowBatch)
	}
	f.batch.flows = append(f.batch.flows, *fl)
	if len(f.batch.flows) == fanOutBatch {
		f.send()
	}
	return nil
}

func (f *fanOut) send() {
	b := f.batch
	f.batch = nil
	b.refs.Store(int32(len(f.chans)))
	for _, ch := range f.chans {
		ch <- b
	}
}

// close hands on the last batch, waits for the consumers and returns the
// first consumer error.
func (f *fanOut) close() error {
	if f.batch != nil && len(f.batch.flows) > 0 {
		f.send()
	}
	for _, ch := range f.chans {
		close(ch)
	}
	f.wg.Wait()
	f.cancel()
	for _, err := range f.errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// errFanOut stops a stream whose consumer failed; close returns the
// consumer's own error.
var errFanOut = errorString("a consumer of the flows failed")

type errorString string

func (e errorString) Error() string { return string(e) }
