package collector

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// exporterSim makes export datagrams shaped like a router's or softflowd's:
// a template first and again every templateEvery datagrams, then data sets
// of recordsPer IPv4 flow records with seeded random addresses, ports and
// counters, sequence numbers as the protocol defines them.
type exporterSim struct {
	version    uint16 // 9 or 10
	rng        *rand.Rand
	seq        uint32 // v9: export packets; IPFIX: data records
	sent       int    // datagrams made
	uptime     uint32 // v9 sysUptime, ms
	exportTime uint32
}

const (
	recordsPer    = 30  // v9: 30 × 42 bytes, IPFIX: 28 × 50, about 1.3-1.4 KB a datagram
	templateEvery = 200 // datagrams between template refreshes
)

// v9Fields is softflowd's IPv4 template: addresses, sysUptime first and
// last, bytes, packets, interfaces, direction, end reason, ports,
// protocol, flags, IP version, ToS.
var v9Fields = [][2]uint16{
	{8, 4}, {12, 4}, {22, 4}, {21, 4}, {1, 4}, {2, 4}, {10, 4}, {14, 4},
	{61, 1}, {136, 1}, {7, 2}, {11, 2}, {4, 1}, {6, 1}, {60, 1}, {5, 1},
}

// ipfixFields has absolute times (flowStart/EndMilliseconds) instead.
var ipfixFields = [][2]uint16{
	{8, 4}, {12, 4}, {152, 8}, {153, 8}, {1, 4}, {2, 4}, {10, 4}, {14, 4},
	{61, 1}, {136, 1}, {7, 2}, {11, 2}, {4, 1}, {6, 1}, {60, 1}, {5, 1},
}

func newExporterSim(version uint16, seed uint64) *exporterSim {
	return &exporterSim{version: version, rng: rand.New(rand.NewPCG(seed, 7)), uptime: 3_600_000, exportTime: 1_799_669_211}
}

// records is the number of flow records per datagram.
func (e *exporterSim) records() int {
	if e.version == 9 {
		return recordsPer
	}
	return recordsPer - 2
}

// next returns the next datagram.
func (e *exporterSim) next() []byte {
	be := binary.BigEndian
	fields := v9Fields
	if e.version == 10 {
		fields = ipfixFields
	}
	n := e.records()
	e.uptime += 10
	if e.sent%100 == 0 {
		e.exportTime++
	}
	p := make([]byte, 0, 1500)
	if e.version == 9 {
		p = be.AppendUint16(p, 9)
		p = be.AppendUint16(p, uint16(n)) // count, fixed below
		p = be.AppendUint32(p, e.uptime)
		p = be.AppendUint32(p, e.exportTime)
		p = be.AppendUint32(p, e.seq)
		p = be.AppendUint32(p, 0) // source ID
		e.seq++
	} else {
		p = be.AppendUint16(p, 10)
		p = be.AppendUint16(p, 0) // length, fixed below
		p = be.AppendUint32(p, e.exportTime)
		p = be.AppendUint32(p, e.seq)
		p = be.AppendUint32(p, 0) // observation domain
		e.seq += uint32(n)
	}
	count := n
	if e.sent%templateEvery == 0 {
		setID := uint16(0)
		if e.version == 10 {
			setID = 2
		}
		p = be.AppendUint16(p, setID)
		p = be.AppendUint16(p, uint16(8+4*len(fields)))
		p = be.AppendUint16(p, 256)
		p = be.AppendUint16(p, uint16(len(fields)))
		for _, f := range fields {
			p = be.AppendUint16(p, f[0])
			p = be.AppendUint16(p, f[1])
		}
		count++
	}
	set := len(p)
	p = be.AppendUint16(p, 256)
	p = be.AppendUint16(p, 0) // set length, fixed below
	r := e.rng
	for range n {
		p = append(p, 10, byte(r.IntN(4)), byte(r.IntN(256)), byte(1+r.IntN(254)))
		p = append(p, 192, 0, byte(r.IntN(256)), byte(1+r.IntN(254)))
		dur := uint32(r.IntN(60_000))
		if e.version == 9 {
			p = be.AppendUint32(p, e.uptime-dur-1000)
			p = be.AppendUint32(p, e.uptime-1000)
		} else {
			end := uint64(e.exportTime)*1000 - uint64(r.IntN(1000))
			p = be.AppendUint64(p, end-uint64(dur))
			p = be.AppendUint64(p, end)
		}
		pkts := uint32(1 + r.IntN(2000))
		p = be.AppendUint32(p, pkts*uint32(40+r.IntN(1460)))
		p = be.AppendUint32(p, pkts)
		p = be.AppendUint32(p, 1)
		p = be.AppendUint32(p, 2)
		p = append(p, 0, 3)
		p = be.AppendUint16(p, uint16(1024+r.IntN(60000)))
		p = be.AppendUint16(p, []uint16{80, 443, 53, 22}[r.IntN(4)])
		p = append(p, 6, 0x1b, 4, 0)
	}
	be.PutUint16(p[set+2:], uint16(len(p)-set))
	if e.version == 9 {
		be.PutUint16(p[2:], uint16(count))
	} else {
		be.PutUint16(p[2:], uint16(len(p)))
	}
	e.sent++
	return p
}

// loadResult is what one closed-loop run measured.
type loadResult struct {
	flows    uint64
	elapsed  time.Duration
	cpu      time.Duration // CPU time of the whole process, sender included
	heapPeak uint64        // largest HeapInuse seen while it ran
}

// cpuTime is the CPU time the process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sendAll sends every datagram of each exporter from its own address,
// keeping at most window datagrams between sending and the collector's
// reading them, so that the socket buffer never overflows and any flow
// lost is lost by the collector; it returns when every flow is written
// to the open file.
func sendAll(tb testing.TB, c *Collector, to netip.AddrPort, from []*net.UDPConn, datagrams [][][]byte, window uint64) loadResult {
	tb.Helper()
	var flows uint64
	for _, ds := range datagrams {
		for _, d := range ds {
			flows += uint64(flowsIn(d))
		}
	}
	base := total(c.Totals()).Flows
	baseRecv := c.Received()
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	start, cpu0 := time.Now(), cpuTime()
	var sent atomic.Uint64
	var senders sync.WaitGroup
	for i, ds := range datagrams {
		senders.Go(func() {
			for _, d := range ds {
				for sent.Load()-(c.Received()-baseRecv) >= window {
					runtime.Gosched()
				}
				if _, err := from[i].WriteToUDPAddrPort(d, to); err != nil {
					tb.Error(err)
					return
				}
				sent.Add(1)
			}
		})
	}
	senders.Wait()
	waitFor(tb, "every flow to be written", func() bool { return total(c.Totals()).Flows-base >= flows })
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	close(stopSampling)
	sampler.Wait()
	if got := total(c.Totals()).Flows - base; got != flows {
		tb.Fatalf("%d flows written, %d sent", got, flows)
	}
	return loadResult{flows: flows, elapsed: elapsed, cpu: cpu, heapPeak: peak.Load()}
}

// flowsIn counts the flow records of a datagram made by exporterSim.
func flowsIn(p []byte) int {
	if binary.BigEndian.Uint16(p) == 9 {
		return recordsPer
	}
	return recordsPer - 2
}

// maxRSS is the process's peak resident set size in bytes.
func maxRSS() uint64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return uint64(ru.Maxrss) * 1024 // KiB on Linux
}

// loadSetup starts a collector and one sending socket and simulated
// exporter per version (from 127.0.0.2, 127.0.0.3, ...).
func loadSetup(tb testing.TB, versions []uint16) (*Collector, func() error, []*net.UDPConn, []*exporterSim) {
	tb.Helper()
	c, stop := start(tb, Config{Listen: []string{"127.0.0.1:0"}, Dir: tb.TempDir()})
	var from []*net.UDPConn
	var sims []*exporterSim
	for i, v := range versions {
		from = append(from, sender(tb, fmt.Sprintf("127.0.0.%d:0", 2+i)))
		sims = append(sims, newExporterSim(v, uint64(i)))
	}
	return c, stop, from, sims
}

// makeDatagrams returns the next n datagrams of each exporter.
func makeDatagrams(sims []*exporterSim, n int) [][][]byte {
	out := make([][][]byte, len(sims))
	for i, e := range sims {
		out[i] = make([][]byte, n)
		for j := range out[i] {
			out[i][j] = e.next()
		}
	}
	return out
}

// TestLoad sends 600,000 flows in v9 and IPFIX datagrams from two
// exporters as fast as the collector takes them: every flow must be in the
// files, with no sequence gap, no malformed datagram, nothing dropped for
// want of a template.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: skipped with -short")
	}
	const n = 10_345 // datagrams per exporter: about 300,000 flows each
	c, stop, from, sims := loadSetup(t, []uint16{9, 10})
	res := sendAll(t, c, c.Addrs()[0], from, makeDatagrams(sims, n), 2000)
	t.Logf("%d flows in %v: %.0f flows/s, %.0f flows per CPU second (%.2f cores busy); heap in use at most %.1f MiB, peak RSS %.1f MiB",
		res.flows, res.elapsed.Round(time.Millisecond), float64(res.flows)/res.elapsed.Seconds(),
		float64(res.flows)/res.cpu.Seconds(), res.cpu.Seconds()/res.elapsed.Seconds(),
		float64(res.heapPeak)/(1<<20), float64(maxRSS())/(1<<20))
	stop()
	files, flows := readDir(t, c.cfg.Dir)
	if uint64(len(flows)) != res.flows {
		t.Errorf("%d flows in %d files, %d sent", len(flows), len(files), res.flows)
	}
	for _, ec := range c.Totals() {
		cnt := ec.Counters
		if cnt.Datagrams != n || cnt.SequenceGaps != 0 || cnt.Malformed != 0 || cnt.NoTemplate != 0 {
			t.Errorf("exporter %s: %+v", ec.Exporter, cnt)
		}
	}
}

// BenchmarkCollect measures flows/s received, decoded and written with
// no loss, per exporter mix; each iteration sends 1,000 datagrams per
// exporter (about 30,000 flows). flows/cpu-s divides by the CPU time of
// the whole process (the sender's system calls included), which a busy
// machine does not distort; MiB-heap-peak is the largest HeapInuse seen,
// MiB-maxrss the process's peak RSS so far.
//
//	go test ./datasets/collector -run XXX -bench Collect -benchtime 40x
func BenchmarkCollect(b *testing.B) {
	for _, bc := range []struct {
		name     string
		versions []uint16
	}{
		{"v9", []uint16{9}},
		{"ipfix", []uint16{10}},
		{"v9+ipfix", []uint16{9, 10}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const per = 1000
			c, stop, from, sims := loadSetup(b, bc.versions)
			var flows uint64
			var elapsed, cpu time.Duration
			var heap uint64
			b.ReportAllocs()
			for b.Loop() {
				res := sendAll(b, c, c.Addrs()[0], from, makeDatagrams(sims, per), 2000)
				flows += res.flows
				elapsed += res.elapsed
				cpu += res.cpu
				heap = max(heap, res.heapPeak)
			}
			b.ReportMetric(float64(flows)/elapsed.Seconds(), "flows/s")
			b.ReportMetric(float64(flows)/cpu.Seconds(), "flows/cpu-s")
			b.ReportMetric(float64(heap)/(1<<20), "MiB-heap-peak")
			b.ReportMetric(float64(maxRSS())/(1<<20), "MiB-maxrss")
			stop()
		})
	}
}
