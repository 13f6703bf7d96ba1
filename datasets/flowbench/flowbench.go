// Package flowbench feeds the nightly run's per-flow stages in benchmarks:
// a night of nfcapd flows held in memory in a compact form without
// pointers (so the garbage collector does not scan ten million held
// records, which the nightly run never holds), handed over in batches of
// datasets.Flow as a reader hands them, and a Meter that reports what a
// stage costs per flow: wall and CPU time, allocations.
//
// The flows are those of $FINGERFLOW_BENCH_DIR when it is set (the
// synthetic day of datasets/internal/synthday, for example), else of a
// shipped lab run.
package flowbench

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
)

// BatchSize is how many flows a batch holds: datasets.DefaultBatchSize,
// what the nightly run's reader hands over.
const BatchSize = datasets.DefaultBatchSize

// Dir is the flow files a benchmark runs over: $FINGERFLOW_BENCH_DIR when
// set, else def (a shipped lab run, as seen from the benchmark's package).
func Dir(def string) string {
	if d := os.Getenv("FINGERFLOW_BENCH_DIR"); d != "" {
		return d
	}
	return def
}

// record is a datasets.Flow without pointers: addresses as 16 bytes and
// a kind, times as Unix nanoseconds.
type record struct {
	start, end                               int64
	src, dst, exporter                       [16]byte
	packets, bytes, revPackets, revBytes     uint64
	sampling, inIf, outIf                    uint32
	srcPort, dstPort                         uint16
	proto, flags, tos, minTTL, maxTTL, kinds uint8
	hasReverse                               bool
}

// Address kinds, two bits per address of a record.
const (
	kindInvalid = iota
	kind4
	kind6
)

func addrKind(a netip.Addr) uint8 {
	switch {
	case !a.IsValid():
		return kindInvalid
	case a.Is4():
		return kind4
	}
	return kind6
}

func addrOf(kind uint8, b [16]byte) netip.Addr {
	switch kind {
	case kind4:
		return netip.AddrFrom4([4]byte(b[12:]))
	case kind6:
		return netip.AddrFrom16(b)
	}
	return netip.Addr{}
}

func pack(f *datasets.Flow) record {
	return record{
		start: f.Start.UnixNano(), end: f.End.UnixNano(),
		src: f.SrcAddr.As16(), dst: f.DstAddr.As16(), exporter: exporter16(f.Exporter),
		packets: f.Packets, bytes: f.Bytes, revPackets: f.RevPackets, revBytes: f.RevBytes,
		sampling: f.SamplingRate, inIf: f.InIf, outIf: f.OutIf,
		srcPort: f.SrcPort, dstPort: f.DstPort,
		proto: f.Proto, flags: f.TCPFlags, tos: f.ToS, minTTL: f.MinTTL, maxTTL: f.MaxTTL,
		kinds:      addrKind(f.SrcAddr) | addrKind(f.DstAddr)<<2 | addrKind(f.Exporter)<<4,
		hasReverse: f.HasReverse,
	}
}

func exporter16(a netip.Addr) [16]byte {
	if !a.IsValid() {
		return [16]byte{}
	}
	return a.As16()
}

func (r *record) flow(f *datasets.Flow) {
	*f = datasets.Flow{
		Start: time.Unix(0, r.start).UTC(), End: time.Unix(0, r.end).UTC(),
		SrcAddr: addrOf(r.kinds&3, r.src), DstAddr: addrOf(r.kinds>>2&3, r.dst), Exporter: addrOf(r.kinds>>4&3, r.exporter),
		SrcPort: r.srcPort, DstPort: r.dstPort, Proto: r.proto, TCPFlags: r.flags,
		Packets: r.packets, Bytes: r.bytes,
		HasReverse: r.hasReverse, RevPackets: r.revPackets, RevBytes: r.revBytes,
		SamplingRate: r.sampling, InIf: r.inIf, OutIf: r.outIf, ToS: r.tos, MinTTL: r.minTTL, MaxTTL: r.maxTTL,
	}
}

// Flows are a night's flows held in memory.
type Flows struct {
	chunks [][]record // each BatchSize long but the last
	n      int
	batch  []datasets.Flow
}

// Load reads every flow of the nfcapd files under dir (a file or a
// directory), in file order. It fails tb on a read error, on no flows,
// and on a flow the compact form would not give back as it was (a zoned
// address, a time not in UTC).
func Load(tb testing.TB, dir string) *Flows {
	tb.Helper()
	files, err := datasets.Expand(context.Background(), []string{dir})
	if err != nil {
		tb.Fatal(err)
	}
	var r nfcapd.Reader
	fs := &Flows{batch: make([]datasets.Flow, BatchSize)}
	var back datasets.Flow
	for _, name := range files {
		for f, err := range r.Flows(context.Background(), name) {
			if err != nil {
				tb.Fatal(err)
			}
			rec := pack(&f)
			rec.flow(&back)
			if back != f {
				tb.Fatalf("%s: record %d: %+v is held as %+v", name, fs.n, f, back)
			}
			if len(fs.chunks) == 0 || len(fs.chunks[len(fs.chunks)-1]) == BatchSize {
				fs.chunks = append(fs.chunks, make([]record, 0, BatchSize))
			}
			c := &fs.chunks[len(fs.chunks)-1]
			*c = append(*c, rec)
			fs.n++
		}
	}
	if fs.n == 0 {
		tb.Fatalf("%s: no flows", dir)
	}
	return fs
}

// Len is the number of flows.
func (fs *Flows) Len() int { return fs.n }

// Batches hands every flow to visit in order, BatchSize at a time, in a
// slice visit must not keep.
func (fs *Flows) Batches(visit func([]datasets.Flow)) {
	for _, c := range fs.chunks {
		b := fs.batch[:len(c)]
		for j := range c {
			c[j].flow(&b[j])
		}
		visit(b)
	}
}

// BatchesInto hands every flow to visit in order, BatchSize at a time,
// each batch in a slice get returns (its capacity at least BatchSize),
// which visit then owns.
func (fs *Flows) BatchesInto(get func() []datasets.Flow, visit func([]datasets.Flow)) {
	for _, c := range fs.chunks {
		b := get()[:len(c)]
		for j := range c {
			c[j].flow(&b[j])
		}
		visit(b)
	}
}

// Each hands every flow to visit in order, one at a time.
func (fs *Flows) Each(visit func(*datasets.Flow)) {
	fs.Batches(func(b []datasets.Flow) {
		for i := range b {
			visit(&b[i])
		}
	})
}

// Meter measures a benchmark's cost per flow. Start it right before the
// benchmark's loop and Stop it right after.
type Meter struct {
	b       *testing.B
	cpu0    time.Duration
	mallocs uint64
}

// Start calls b.ReportAllocs and starts measuring.
func Start(b *testing.B) *Meter {
	b.ReportAllocs()
	return &Meter{b: b, cpu0: cpuTime(), mallocs: mallocs()}
}

// Stop reports, for perOp flows an iteration: flows/s and ns/flow of wall
// time; cpu-ns/flow, the CPU time of the whole process (garbage
// collection on other threads included, time waiting for a busy machine's
// cores not), the steadier figure on a shared machine; and allocs/flow.
func (m *Meter) Stop(perOp int) {
	cpu, allocs := cpuTime()-m.cpu0, mallocs()-m.mallocs
	n := float64(perOp) * float64(m.b.N)
	m.b.ReportMetric(n/m.b.Elapsed().Seconds(), "flows/s")
	m.b.ReportMetric(float64(m.b.Elapsed().Nanoseconds())/n, "ns/flow")
	m.b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/flow")
	m.b.ReportMetric(float64(allocs)/n, "allocs/flow")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// String describes the flows for a benchmark's log.
func (fs *Flows) String() string { return fmt.Sprintf("%d flows", fs.n) }

// Retained is the heap that what build returns holds once the garbage
// collector has run: for a stage fed the whole night, the state it keeps
// at the end of the stream, which the nightly run holds until the
// stage's results are taken. Report it as "B-retained".
func (fs *Flows) Retained(build func() any) float64 {
	before := heapAlloc()
	x := build()
	after := heapAlloc()
	runtime.KeepAlive(x)
	runtime.KeepAlive(fs) // held throughout, not part of the figure
	return float64(after) - float64(before)
}

func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
