// Package collector receives NetFlow v1, v5, v9 and IPFIX export datagrams
// over UDP and writes their flows to Parquet files rotated on the wall
// clock, in fingerflow's columns, so every fingerflow command reads them.
//
// The pipeline has three stages. One goroutine per socket reads datagrams
// (the socket's receive buffer is enlarged, SO_RCVBUF, so that bursts wait
// in the kernel rather than being dropped) and hands each to a decoding
// goroutine chosen by the exporter's address, so one exporter's templates,
// sampling intervals and sequence numbers are only ever touched by one
// goroutine. Decoders (datasets/netflow's DatagramDecoder, goflow2 inside)
// gather flows and per-exporter counters into batches for the one writing
// goroutine, which owns the open file and every counter.
//
// Files: DIR/YYYY/MM/DD/flows.YYYYMMDDhhmm, one per rotation interval
// (aligned to the clock: a 5-minute interval starts at :00, :05, ...) in
// which at least one datagram arrived; a flow goes into the file of the
// interval in which it was written, milliseconds after its datagram
// arrived. Each file is written under a hidden temporary name in the same
// directory and renamed when complete, so directory walks never see a
// partial file; its footer metadata holds the interval and the
// per-exporter counters (ReadFileMeta). Cancelling Run's context completes
// the open file; a crash loses at most the open interval.
package collector

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/netflow"
)

// Defaults for the zero values of Config.
const (
	DefaultRotate       = 5 * time.Minute
	DefaultSocketBuffer = 16 << 20
)

// MaxSources is how many source addresses get counters of their own. UDP
// from further addresses (a spoofed flood, say) is counted under the
// unspecified address "::", so memory stays bounded; their flows keep
// their exporter address.
const MaxSources = 16384

// Overflow is the address that counts datagrams from sources beyond
// MaxSources.
var Overflow = netip.IPv6Unspecified()

// Config says where to listen and where to write.
type Config struct {
	// Listen holds the UDP addresses to bind (see ParseListen); at least one.
	Listen []string
	// Dir is the root of the date tree the files go to; New creates it
	// and checks that files can be created in it.
	Dir string
	// Rotate is the rotation interval (DefaultRotate when zero; see
	// CheckRotate).
	Rotate time.Duration
	// Stats is how often per-exporter counters are logged; zero: never.
	Stats time.Duration
	// SocketBuffer is the receive buffer asked for each socket, in bytes
	// (DefaultSocketBuffer when zero).
	SocketBuffer int
	// Workers is the number of decoding goroutines (GOMAXPROCS when zero).
	Workers int
	// Logger receives the start-up, file, statistics and error lines; nil
	// discards them.
	Logger *slog.Logger
	// Now is the clock that decides rotation (time.Now when nil).
	Now func() time.Time

	// tick is how often the writer looks at the clock to close a file
	// whose interval has ended while nothing arrived (a second when zero).
	tick time.Duration
	// maxSources bounds the source addresses counted one by one
	// (MaxSources when zero).
	maxSources int
}

// Collector receives export datagrams and writes their flows. Make one
// with New, call Run once.
type Collector struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	conns   []*net.UDPConn
	bufSize []int // receive buffer granted per socket
	workers []*worker
	out     chan *batch
	batches sync.Pool
	bufs    sync.Pool

	received atomic.Uint64 // datagrams read from the sockets

	mu     sync.Mutex
	totals counterSet // since New, over every file
	files  int
	ran    bool
}

// New checks cfg, binds its listen addresses and returns a collector that
// is ready to Run. Errors about cfg itself wrap ErrConfig.
func New(cfg Config) (*Collector, error) {
	if len(cfg.Listen) == 0 {
		return nil, fmt.Errorf("%w: no listen address", ErrConfig)
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: no output directory", ErrConfig)
	}
	if cfg.Rotate == 0 {
		cfg.Rotate = DefaultRotate
	}
	if err := CheckRotate(cfg.Rotate); err != nil {
		return nil, err
	}
	if cfg.Stats < 0 {
		return nil, fmt.Errorf("%w: statistics interval %v", ErrConfig, cfg.Stats)
	}
	if cfg.SocketBuffer == 0 {
		cfg.SocketBuffer = DefaultSocketBuffer
	}
	if cfg.SocketBuffer < 0 {
		return nil, fmt.Errorf("%w: socket buffer %d", ErrConfig, cfg.SocketBuffer)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.maxSources == 0 {
		cfg.maxSources = MaxSources
	}
	if cfg.tick == 0 {
		cfg.tick = time.Second
	}
	c := &Collector{cfg: cfg, log: cfg.Logger, now: cfg.Now, totals: counterSet{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	for _, s := range cfg.Listen {
		if _, _, err := ParseListen(s); err != nil {
			return nil, err
		}
	}
	if err := checkDir(cfg.Dir); err != nil {
		return nil, err
	}
	var err error
	if c.conns, c.bufSize, err = listen(cfg.Listen, cfg.SocketBuffer); err != nil {
		return nil, err
	}
	c.out = make(chan *batch, 4*cfg.Workers)
	c.batches.New = func() any { return &batch{counters: counterSet{}} }
	c.bufs.New = func() any { b := make([]byte, smallDatagram); return &b }
	for range cfg.Workers {
		c.workers = append(c.workers, &worker{
			c:   c,
			in:  make(chan datagram, queueLen),
			dec: netflow.NewDatagramDecoder(),
			seq: map[seqKey]*seqState{},
			// shard spreads addresses evenly, so each worker takes its
			// share of the bound
			maxSources: max(1, cfg.maxSources/cfg.Workers),
			sources:    map[netip.Addr]bool{},
		})
	}
	return c, nil
}

// checkDir makes the output directory dir and checks that files can be
// created in it (a probe file is created and removed), so that a
// directory the collector cannot use is an error before it listens, not
// at the first datagram, whose flows would be lost.
func checkDir(dir string) error {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return fmt.Errorf("%s: not a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: cannot create the output directory: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the probe's name means nothing to the reader
		}
		return fmt.Errorf("%s: the output directory is not writable: %w", dir, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// Addrs returns the bound address of each listen socket (useful with port
// 0).
func (c *Collector) Addrs() []netip.AddrPort {
	out := make([]netip.AddrPort, len(c.conns))
	for i, conn := range c.conns {
		out[i] = conn.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	return out
}

// Close releases the sockets of a collector that will not Run.
func (c *Collector) Close() error {
	var errs []error
	for _, conn := range c.conns {
		if err := conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Totals returns the counters of every exporter since New, by address.
// Counters include only datagrams whose flows have been handed to the open
// file.
func (c *Collector) Totals() []ExporterCounters {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.totals.list()
}

// Received is the number of datagrams read from the sockets so far,
// decoded or not yet.
func (c *Collector) Received() uint64 { return c.received.Load() }

// Files is the number of files completed so far.
func (c *Collector) Files() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.files
}

// Run receives and writes until ctx is cancelled, then completes the open
// file and returns ctx's error. It returns earlier, with the error, when a
// file cannot be written. Run may be called once.
func (c *Collector) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.ran {
		c.mu.Unlock()
		return errors.New("collector: Run called twice")
	}
	c.ran = true
	c.mu.Unlock()

	for i, conn := range c.conns {
		c.log.Info("collect: listening", "addr", conn.LocalAddr().String(), "socket_buffer", c.bufSize[i])
		if c.bufSize[i] < c.cfg.SocketBuffer {
			c.log.Warn("collect: socket receive buffer smaller than asked; raise net.core.rmem_max (sysctl) or run with CAP_NET_ADMIN",
				"addr", conn.LocalAddr().String(), "asked", c.cfg.SocketBuffer, "granted", c.bufSize[i])
		}
	}

	var readers, workers sync.WaitGroup
	for _, conn := range c.conns {
		readers.Go(func() { c.read(conn) })
	}
	for _, w := range c.workers {
		workers.Go(w.run)
	}
	werr := make(chan error, 1)
	go func() {
		err := c.write()
		werr <- err
		for b := range c.out { // after a write error: keep the decoders unblocked
			c.release(b)
		}
	}()

	var err error
	select {
	case <-ctx.Done():
	case err = <-werr:
	}
	c.Close()
	readers.Wait()
	for _, w := range c.workers {
		close(w.in)
	}
	workers.Wait()
	close(c.out)
	if err == nil {
		err = <-werr
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

// Sizes of the datagram queue.
const (
	queueLen      = 4096 // datagrams waiting per decoding goroutine
	smallDatagram = 2048 // pooled buffer size; larger datagrams get their own
	batchFlows    = 4096 // a decoder hands its batch on at this many flows
)

// datagram is one received UDP payload.
type datagram struct {
	src netip.Addr
	buf *[]byte // pooled when cap is smallDatagram
	n   int
}

// read receives datagrams from conn until it is closed.
func (c *Collector) read(conn *net.UDPConn) {
	scratch := make([]byte, 65536)
	var failures int
	for {
		n, from, err := conn.ReadFromUDPAddrPort(scratch)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			failures++
			if failures&(failures-1) == 0 { // 1st, 2nd, 4th, 8th, ... failure
				c.log.Warn("collect: receive error", "addr", conn.LocalAddr().String(), "err", err, "failures", failures)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		c.received.Add(1)
		var buf *[]byte
		if n <= smallDatagram {
			buf = c.bufs.Get().(*[]byte)
		} else {
			b := make([]byte, n)
			buf = &b
		}
		copy(*buf, scratch[:n])
		src := from.Addr().Unmap()
		c.workers[shard(src, len(c.workers))].in <- datagram{src: src, buf: buf, n: n}
	}
}

// shard picks the decoding goroutine of an exporter address.
func shard(a netip.Addr, n int) int {
	if n == 1 {
		return 0
	}
	b := a.As16()
	var h uint32 = 2166136261 // FNV-1a
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return int(h % uint32(n))
}

// batch is what a decoder hands to the writer: flows, and the counters of
// the datagrams they came from.
type batch struct {
	flows    []datasets.Flow
	counters counterSet
}

func (c *Collector) release(b *batch) {
	b.flows = b.flows[:0]
	clear(b.counters)
	c.batches.Put(b)
}

// worker decodes the datagrams of the exporters shard assigns to it.
type worker struct {
	c   *Collector
	in  chan datagram
	dec *netflow.DatagramDecoder
	seq map[seqKey]*seqState
	cur *batch

	sources    map[netip.Addr]bool // addresses counted under their own name
	maxSources int
	warned     bool
}

func (w *worker) run() {
	for d := range w.in {
		w.handle(d)
	drain:
		for len(w.cur.flows) < batchFlows {
			select {
			case d, ok := <-w.in:
				if !ok {
					break drain
				}
				w.handle(d)
			default:
				break drain
			}
		}
		w.flush()
	}
}

func (w *worker) flush() {
	if w.cur != nil {
		w.c.out <- w.cur
		w.cur = nil
	}
}

// handle decodes one datagram into the current batch.
func (w *worker) handle(d datagram) {
	if w.cur == nil {
		w.cur = w.c.batches.Get().(*batch)
	}
	b := w.cur
	p := (*d.buf)[:d.n]
	cnt := b.counters.get(w.source(d.src))
	cnt.Datagrams++
	cnt.Bytes += uint64(d.n)
	info := w.dec.Decode(d.src, p, func(f *datasets.Flow) bool {
		b.flows = append(b.flows, *f)
		return true
	})
	if cap(*d.buf) == smallDatagram {
		w.c.bufs.Put(d.buf)
	}
	w.count(cnt, d.src, &info)
}

// source is the address d's counters go under: its own, or Overflow once
// the worker counts maxSources addresses.
func (w *worker) source(a netip.Addr) netip.Addr {
	if w.sources[a] {
		return a
	}
	if len(w.sources) < w.maxSources {
		w.sources[a] = true
		return a
	}
	if !w.warned {
		w.warned = true
		w.c.log.Warn("collect: too many source addresses; further ones are counted together", "under", Overflow.String(), "max", w.maxSources*len(w.c.workers))
	}
	return Overflow
}

// count adds what decoding one datagram found to its exporter's counters.
func (w *worker) count(cnt *Counters, src netip.Addr, info *netflow.Datagram) {
	cnt.Flows += uint64(info.Flows)
	if info.Malformed {
		cnt.Malformed++
		return
	}
	cnt.NoTemplate += uint64(info.NoTemplateSets)
	if info.Version == 1 {
		return // no sequence numbers
	}
	k := seqKey{src, info.Version, info.Domain}
	st := w.seq[k]
	if st == nil {
		st = &seqState{}
		w.seq[k] = st
	}
	if gap, skipped := st.follow(info); gap {
		cnt.SequenceGaps++
		if info.Version == 9 {
			cnt.LostPackets += skipped
		} else {
			cnt.LostRecords += skipped
		}
	}
}

// write is the writing goroutine: it owns the open file and the counters.
func (c *Collector) write() (err error) {
	s := &sink{dir: c.cfg.Dir, rotate: c.cfg.Rotate, log: c.log}
	defer func() {
		if err != nil {
			s.abort()
		}
	}()
	tick := time.NewTicker(c.cfg.tick)
	defer tick.Stop()
	var statsC <-chan time.Time
	st := statsState{last: c.now(), prev: map[netip.Addr]Counters{}}
	if c.cfg.Stats > 0 {
		t := time.NewTicker(c.cfg.Stats)
		defer t.Stop()
		statsC = t.C
	}
	for {
		select {
		case b, ok := <-c.out:
			if !ok {
				err := s.close()
				c.noteFiles(s)
				return err
			}
			err := s.write(c.now(), b.flows, b.counters)
			c.mu.Lock()
			c.totals.add(b.counters)
			c.files = s.files
			c.mu.Unlock()
			c.release(b)
			if err != nil {
				return err
			}
		case <-tick.C:
			err := s.tick(c.now())
			c.noteFiles(s)
			if err != nil {
				return err
			}
		case <-statsC:
			c.logStats(&st)
		}
	}
}

func (c *Collector) noteFiles(s *sink) {
	c.mu.Lock()
	c.files = s.files
	c.mu.Unlock()
}

// statsState remembers the counters at the last statistics line.
type statsState struct {
	last time.Time
	prev map[netip.Addr]Counters
}

// logStats logs, per exporter heard from since the last line, what arrived
// in between, and the kernel's drops per socket.
func (c *Collector) logStats(st *statsState) {
	now := c.now()
	secs := now.Sub(st.last).Seconds()
	st.last = now
	for _, ec := range c.Totals() {
		d := ec.Counters.sub(st.prev[ec.Exporter])
		st.prev[ec.Exporter] = ec.Counters
		if d.Datagrams == 0 {
			continue
		}
		rate := 0.0
		if secs > 0 {
			rate = float64(d.Flows) / secs
		}
		c.log.Info("collect: exporter", "exporter", ec.Exporter.String(),
			"datagrams", d.Datagrams, "flows", d.Flows, "flows_per_s", int64(rate+0.5), "bytes", d.Bytes,
			"sequence_gaps", d.SequenceGaps, "lost_packets", d.LostPackets, "lost_records", d.LostRecords,
			"no_template", d.NoTemplate, "malformed", d.Malformed)
	}
	for _, conn := range c.conns {
		if drops, ok := socketDrops(conn); ok && drops > 0 {
			c.log.Warn("collect: socket buffer overflowed", "addr", conn.LocalAddr().String(), "dropped_datagrams", drops)
		}
	}
}
