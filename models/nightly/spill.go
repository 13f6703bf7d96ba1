package nightly

import (
	"bufio"
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"os"

	"github.com/fingerflow/fingerflow/features"
)

// downloadSpill holds a run's downloads in a temporary file, in the order
// found, so that they can be classified after adaptation has seen them all
// without holding them in memory.
type downloadSpill struct {
	f   *os.File
	buf *bufio.Writer
	enc *gob.Encoder
	n   int
}

func newDownloadSpill() (*downloadSpill, error) {
	f, err := os.CreateTemp("", "fingerflow-downloads-*")
	if err != nil {
		return nil, fmt.Errorf("temporary file for downloads: %w", err)
	}
	buf := bufio.NewWriterSize(f, 1<<20)
	return &downloadSpill{f: f, buf: buf, enc: gob.NewEncoder(buf)}, nil
}

func (s *downloadSpill) write(d *features.Download) error {
	s.n++
	if err := s.enc.Encode(d); err != nil {
		return fmt.Errorf("%s: %w", s.f.Name(), err)
	}
	return nil
}

// each hands the downloads back in the order written.
func (s *downloadSpill) each(ctx context.Context, visit func(*features.Download) error) error {
	if err := s.buf.Flush(); err != nil {
		return fmt.Errorf("%s: %w", s.f.Name(), err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dec := gob.NewDecoder(bufio.NewReaderSize(s.f, 1<<20))
	for i := range s.n {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var d features.Download
		if err := dec.Decode(&d); err != nil {
			return fmt.Errorf("%s: download %d: %w", s.f.Name(), i, err)
		}
		if err := visit(&d); err != nil {
			return err
		}
	}
	return nil
}

// remove deletes the temporary file; the error says it is left behind.
func (s *downloadSpill) remove() error {
	s.f.Close() // read-only use is over; Remove reports what matters
	if err := os.Remove(s.f.Name()); err != nil {
		return fmt.Errorf("temporary file for downloads left behind: %w", err)
	}
	return nil
}
