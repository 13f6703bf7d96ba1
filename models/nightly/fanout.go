package nightly

import (
	"context"
	"errors"
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
// Every consumer reads the same batch, which none may change or keep. A
// consumer's error stops the stream.
type fanOut struct {
	chans  []chan *flowBatch
	pool   sync.Pool
	batch  *flowBatch
	wg     sync.WaitGroup
	errs   []error
	failed atomic.Bool
	cancel context.CancelFunc
}

type flowBatch struct {
	flows []datasets.Flow
	refs  atomic.Int32
	// giveBack, for a batch the source handed over, returns it to the
	// source once every consumer is done (nil: the batch is the pool's).
	giveBack func()
}

// newBatchFanOut starts one goroutine per consumer of batches. Call addBatch
// for the flows, then close, whose error is the first consumer
// error.
func newBatchFanOut(ctx context.Context, consumers ...func([]datasets.Flow) error) (*fanOut, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	f := &fanOut{errs: make([]error, len(consumers)), cancel: cancel}
	f.pool.New = func() any { return &flowBatch{flows: make([]datasets.Flow, 0, fanOutBatch)} }
	for i, c := range consumers {
		ch := make(chan *flowBatch, 4)
		f.chans = append(f.chans, ch)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for b := range ch {
				if f.errs[i] == nil {
					if err := c(b.flows); err != nil {
						f.errs[i] = err
						f.failed.Store(true)
						cancel()
					}
				}
				f.release(b)
			}
		}()
	}
	return f, ctx
}

func (f *fanOut) release(b *flowBatch) {
	if b.refs.Add(-1) != 0 {
		return
	}
	if b.giveBack != nil {
		b.giveBack()
		return
	}
	b.flows = b.flows[:0]
	f.pool.Put(b)
}

// addOwned hands the source's batch b itself to every consumer; the last
// one done gives it back with release. It reports a consumer's failure
// as errFanOut.
func (f *fanOut) addOwned(b []datasets.Flow, release func()) error {
	if f.failed.Load() {
		release()
		return errFanOut
	}
	if len(b) == 0 {
		release()
		return nil
	}
	if f.batch != nil && len(f.batch.flows) > 0 {
		f.send()
	}
	f.batch = &flowBatch{flows: b, giveBack: release}
	f.send()
	return nil
}

// addBatch queues a copy of every flow of b; it reports a consumer's
// failure as errFanOut.
func (f *fanOut) addBatch(b []datasets.Flow) error {
	for len(b) > 0 {
		if f.failed.Load() {
			return errFanOut
		}
		if f.batch == nil {
			f.batch = f.pool.Get().(*flowBatch)
		}
		n := min(len(b), fanOutBatch-len(f.batch.flows))
		f.batch.flows = append(f.batch.flows, b[:n]...)
		b = b[n:]
		if len(f.batch.flows) == fanOutBatch {
			f.send()
		}
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
var errFanOut = errors.New("a consumer of the flows failed")

// Source yields a night's flows: a batch at a time, in the order they were
// collected, to visit on the caller's goroutine (visit must not keep the
// slice). The stats' Kept counts the flows handed to visit.
// datasets.FileSource is the Source of flow files.
type Source interface {
	Batches(ctx context.Context, visit func([]datasets.Flow) error) (datasets.ReadStats, error)
}

// OwnedSource is a Source that can hand its batches over instead of
// lending them (datasets.FileSource): visit owns each batch until it calls
// release. Feed then passes each batch to every consumer without a copy
// and gives it back when the last is done.
type OwnedSource interface {
	Source
	BatchesOwned(ctx context.Context, visit func(b []datasets.Flow, release func()) error) (datasets.ReadStats, error)
}

var _ OwnedSource = (*datasets.FileSource)(nil)

// Feed reads src once and hands every flow to each consumer, each on a
// goroutine of its own and in the source's order (see fanOut): the
// source's own batches when it can hand them over (OwnedSource), copies
// otherwise. The error is the source's or the first consumer's.
func Feed(ctx context.Context, src Source, consumers ...func([]datasets.Flow) error) (datasets.ReadStats, error) {
	fo, fctx := newBatchFanOut(ctx, consumers...)
	var st datasets.ReadStats
	var err error
	if os, ok := src.(OwnedSource); ok {
		st, err = os.BatchesOwned(fctx, fo.addOwned)
	} else {
		st, err = src.Batches(fctx, fo.addBatch)
	}
	if cerr := fo.close(); cerr != nil {
		return st, cerr
	}
	return st, err
}

// Each makes a consumer of batches of a consumer of one flow at a time.
func Each(c func(*datasets.Flow)) func([]datasets.Flow) error {
	return func(b []datasets.Flow) error {
		for k := range b {
			c(&b[k])
		}
		return nil
	}
}
