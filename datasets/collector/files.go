package collector

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/flowio"
)

// Keys of the Parquet key/value metadata every collected file carries.
const (
	MetaStart     = "fingerflow.collect.start"     // interval start, RFC 3339 UTC
	MetaEnd       = "fingerflow.collect.end"       // interval end (exclusive)
	MetaExporters = "fingerflow.collect.exporters" // JSON array of ExporterCounters
)

// FilePrefix starts the name of every collected file:
// DIR/YYYY/MM/DD/flows.YYYYMMDDhhmm (flows.YYYYMMDDhhmmss when the rotation
// interval is not a whole number of minutes). The time is the start of the
// file's interval in UTC, in the form datasets.FileTime reads, so commands
// order the files by it and skip those outside --since/--until unopened.
const FilePrefix = "flows."

// FileMeta is what a collected file's metadata says.
type FileMeta struct {
	Start, End time.Time // the rotation interval the file covers
	Exporters  []ExporterCounters
}

// ReadFileMeta reads the interval and per-exporter counters recorded in
// the footer of a file the collector wrote.
func ReadFileMeta(ctx context.Context, path string) (FileMeta, error) {
	var m FileMeta
	md, err := flowio.ParquetMetadata(ctx, path)
	if err != nil {
		return m, err
	}
	if m.Start, err = time.Parse(time.RFC3339, md[MetaStart]); err != nil {
		return m, fmt.Errorf("%s: %s: %w", path, MetaStart, err)
	}
	if m.End, err = time.Parse(time.RFC3339, md[MetaEnd]); err != nil {
		return m, fmt.Errorf("%s: %s: %w", path, MetaEnd, err)
	}
	if err := json.Unmarshal([]byte(md[MetaExporters]), &m.Exporters); err != nil {
		return m, fmt.Errorf("%s: %s: %w", path, MetaExporters, err)
	}
	return m, nil
}

// CheckRotate reports whether d can be a rotation interval: a whole number
// of seconds that divides a day, so that files start at the same wall-clock
// times every day (like nfcapd's, aligned to the Unix epoch).
func CheckRotate(d time.Duration) error {
	if d < time.Second || d > 24*time.Hour || d%time.Second != 0 || (24*time.Hour)%d != 0 {
		return fmt.Errorf("%w: rotation interval %v: want whole seconds that divide 24h (1m, 5m, 15m, 1h, ...)", ErrConfig, d)
	}
	return nil
}

// intervalStart is the start of the rotation interval holding t.
func intervalStart(t time.Time, d time.Duration) time.Time {
	secs, p := t.Unix(), int64(d/time.Second)
	m := secs % p
	if m < 0 {
		m += p
	}
	return time.Unix(secs-m, 0).UTC()
}

// sink writes flows into one file per rotation interval. Only the writing
// goroutine uses it.
type sink struct {
	dir    string
	rotate time.Duration
	log    *slog.Logger
	cur    *openFile
	files  int // files committed
}

// openFile is the file of the current interval, written under a hidden
// temporary name.
type openFile struct {
	start, end time.Time
	opened     time.Time
	f          *os.File
	buf        *bufio.Writer
	w          *flowio.ParquetWriter
	counters   counterSet
	flows      uint64
}

// write adds a batch received at now: flows and the counters that go with
// them. A batch at or after the open file's end closes that file first; a
// batch dated before the open file's start (the clock stepped back) goes
// into the open file.
func (s *sink) write(now time.Time, flows []datasets.Flow, counters counterSet) error {
	if err := s.tick(now); err != nil {
		return err
	}
	if s.cur == nil {
		if err := s.open(now); err != nil {
			return err
		}
	}
	for i := range flows {
		if err := s.cur.w.Write(&flows[i]); err != nil {
			return fmt.Errorf("%s: %w", s.cur.f.Name(), err)
		}
	}
	s.cur.flows += uint64(len(flows))
	s.cur.counters.add(counters)
	return nil
}

// tick closes the open file when now has reached the end of its interval.
func (s *sink) tick(now time.Time) error {
	if s.cur != nil && !now.Before(s.cur.end) {
		return s.close()
	}
	return nil
}

func (s *sink) open(now time.Time) error {
	start := intervalStart(now, s.rotate)
	day := filepath.Join(s.dir, start.Format("2006"), start.Format("01"), start.Format("02"))
	if err := os.MkdirAll(day, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(day, "."+s.name(start)+".tmp-*")
	if err != nil {
		return err
	}
	buf := bufio.NewWriterSize(f, 256<<10)
	s.cur = &openFile{
		start: start, end: start.Add(s.rotate), opened: now.UTC(),
		f: f, buf: buf, w: flowio.NewParquetWriter(buf),
		counters: counterSet{},
	}
	return nil
}

// name is the file name of the interval starting at t.
func (s *sink) name(t time.Time) string {
	if s.rotate%time.Minute != 0 {
		return FilePrefix + t.Format("20060102150405")
	}
	return FilePrefix + t.Format("200601021504")
}

// close completes the open file and renames it into place. A file whose
// name is taken (the collector restarted within the interval) gets the
// second it was opened at instead, or the next free second after that.
func (s *sink) close() error {
	c := s.cur
	if c == nil {
		return nil
	}
	s.cur = nil
	exp, err := json.Marshal(c.counters.list())
	if err != nil {
		return err
	}
	c.w.SetMetadata(MetaStart, c.start.Format(time.RFC3339))
	c.w.SetMetadata(MetaEnd, c.end.Format(time.RFC3339))
	c.w.SetMetadata(MetaExporters, string(exp))
	tmp := c.f.Name()
	steps := []func() error{
		c.w.Close, c.buf.Flush, c.f.Sync,
		func() error { return c.f.Chmod(0o644) },
		c.f.Close,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			c.f.Close()
			os.Remove(tmp)
			return fmt.Errorf("%s: %w", tmp, err)
		}
	}
	dest, err := s.freeName(filepath.Dir(tmp), c)
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(filepath.Dir(dest))
	s.files++
	var dg uint64
	for _, ec := range c.counters {
		dg += ec.Datagrams
	}
	s.log.Info("collect: file written", "path", dest, "flows", c.flows, "datagrams", dg, "exporters", len(c.counters))
	return nil
}

// syncDir makes a rename in dir durable. It is best effort: not every
// system can sync a directory, and the file itself is already synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// abort drops the open file after a write error: a partial Parquet file
// has no footer and no reader could use it.
func (s *sink) abort() {
	if s.cur != nil {
		s.cur.f.Close()
		os.Remove(s.cur.f.Name())
		s.cur = nil
	}
}

func (s *sink) freeName(dir string, c *openFile) (string, error) {
	dest := filepath.Join(dir, s.name(c.start))
	for t := c.opened.Truncate(time.Second); ; t = t.Add(time.Second) {
		if _, err := os.Lstat(dest); errors.Is(err, fs.ErrNotExist) {
			return dest, nil
		} else if err != nil {
			return "", err
		}
		if !t.Before(c.end) {
			return "", fmt.Errorf("%s: exists, and so does every name with a later second of the interval", dest)
		}
		if t.Before(c.start) {
			t = c.start
		}
		dest = filepath.Join(dir, FilePrefix+t.Format("20060102150405"))
	}
}
