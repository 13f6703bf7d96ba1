package nightly

import (
	"context"
	"log/slog"
	"runtime"
	"sync"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
)

// Downloads is the download stage of a night: it assembles downloads from
// the flows (features.Extractor), shows each to the model's adapter,
// which learns every server's payload offset, and keeps them in a
// temporary file until the input is read; then it classifies them with
// the adapted classifier, on every core, and hands them on in the order
// found. Memory does not grow with the number of downloads.
type Downloads struct {
	model *downloads.Model
	ex    *features.Extractor
	ad    *downloads.Adapter
	spill *downloadSpill
	dups  uint64
	// held are downloads handed over in memory (AddDownloads): they are
	// classified after those of the spill, without a round trip to disk.
	held []features.Download
}

// NewDownloads starts the stage for model m; cfg tunes extraction. Close
// removes its temporary file.
func NewDownloads(m *downloads.Model, cfg features.Config) (*Downloads, error) {
	sp, err := newDownloadSpill()
	if err != nil {
		return nil, err
	}
	return &Downloads{model: m, ex: features.NewExtractor(cfg), ad: m.NewAdapter(), spill: sp}, nil
}

// Add takes one flow.
func (s *Downloads) Add(f *datasets.Flow) error {
	s.ex.Add(f)
	return s.drain(s.ex.Drain())
}

// AddBatch takes a batch of flows in order; it is a consumer for Feed.
func (s *Downloads) AddBatch(b []datasets.Flow) error {
	for i := range b {
		if err := s.Add(&b[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Downloads) drain(ds []features.Download) error {
	for i := range ds {
		s.ad.Add(&ds[i])
		if err := s.spill.write(&ds[i]); err != nil {
			return err
		}
	}
	return nil
}

// Finish ends the input: it finishes the connections still open and
// returns the servers' offsets the adapter adopted. Duplicates then says
// how many identical flow records extraction dropped.
func (s *Downloads) Finish(ctx context.Context) ([]downloads.ServerOffset, error) {
	if err := s.drain(s.ex.Flush()); err != nil {
		return nil, err
	}
	s.dups = s.ex.Duplicates()
	return s.ad.Offsets(ctx)
}

// Duplicates is the number of identical flow records extraction dropped
// (a period collected twice); valid after Finish.
func (s *Downloads) Duplicates() uint64 { return s.dups }

// classifyBatch is how many downloads are classified at a time.
const classifyBatch = 4096

// Classify classifies every download found with cl (Finish's offsets
// applied) and hands each to visit with its answer and chance fit, in
// the order found. The classifier is safe for concurrent use: each batch
// is classified on every core, then handed on.
func (s *Downloads) Classify(ctx context.Context, cl *downloads.Classifier, visit func(*features.Download, downloads.Answer) error) error {
	batch := make([]features.Download, 0, classifyBatch)
	results := make([]downloads.Answer, classifyBatch)
	flush := func() error {
		classifyAll(cl, batch, results)
		for i := range batch {
			if err := visit(&batch[i], results[i]); err != nil {
				return err
			}
		}
		batch = batch[:0]
		return nil
	}
	add := func(d *features.Download) error {
		batch = append(batch, *d)
		if len(batch) == classifyBatch {
			return flush()
		}
		return nil
	}
	if err := s.spill.each(ctx, add); err != nil {
		return err
	}
	for i := range s.held {
		if i%classifyBatch == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := add(&s.held[i]); err != nil {
			return err
		}
	}
	return flush()
}

// AddDownloads takes downloads assembled elsewhere (where the flows are
// kept), as if the stage had found them in the flows; they are already in
// memory, so the stage keeps them there (and keeps ds).
func (s *Downloads) AddDownloads(ds []features.Download) {
	for i := range ds {
		s.ad.Add(&ds[i])
	}
	s.held = append(s.held, ds...)
}

// Close removes the stage's temporary file; the error says it was left
// behind.
func (s *Downloads) Close() error { return s.spill.remove() }

// close is Close with the error logged.
func (s *Downloads) close(log *slog.Logger) {
	if err := s.Close(); err != nil && log != nil {
		log.Warn(err.Error())
	}
}

// classifyAll answers ds into rs (rs[i] for ds[i]) on every core.
func classifyAll(cl *downloads.Classifier, ds []features.Download, rs []downloads.Answer) {
	workers := min(runtime.GOMAXPROCS(0), max(len(ds)/256, 1))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ds); i += workers {
				rs[i] = cl.Answer(&ds[i])
			}
		}()
	}
	wg.Wait()
}
