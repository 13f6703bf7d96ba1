package features

import (
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// synthFlows yields n synthetic records of a site with hosts internal hosts
// (10.1.0.0/16) over span, in the order an exporter writes them: by end
// time, each starting its duration earlier (exponential, mean 2 s; one in a
// hundred 1 to 5 minutes). Host activity is skewed (a few heavy hosts, many
// quiet ones). The mix: TCP to and from 20,000 external web servers, DNS to
// and from an internal resolver (10.0.0.53: both ends internal), answers
// from the first 50 hosts as SSH and HTTPS servers, biflows, ICMP, GRE.
// Half the records carry TTLs. The yielded pointer is reused.
func synthFlows(hosts, n int, span time.Duration, seed uint64) iter.Seq[*datasets.Flow] {
	return func(yield func(*datasets.Flow) bool) {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		base := t0.UnixNano()
		step := float64(span) / float64(n)
		resolver := netip.AddrFrom4([4]byte{10, 0, 0, 53})
		var f datasets.Flow
		for i := 0; i < n; i++ {
			end := base + int64(float64(i)*step)
			dur := int64(r.ExpFloat64() * 2e9)
			if r.IntN(100) == 0 {
				dur = int64(60+r.IntN(240)) * int64(time.Second)
			}
			h := int(float64(hosts) * math.Pow(r.Float64(), 3))
			self := netip.AddrFrom4([4]byte{10, 1, byte(h >> 8), byte(h)})
			s := r.IntN(20000)
			server := netip.AddrFrom4([4]byte{93, 184, byte(s >> 8), byte(s)})
			eph := uint16(32768 + r.IntN(28000))
			pk := uint64(1 + r.IntN(40))
			f = datasets.Flow{
				Start: time.Unix(0, end-dur), End: time.Unix(0, end),
				Proto: datasets.ProtoTCP, TCPFlags: datasets.FlagACK | datasets.FlagPSH,
				Packets: pk, Bytes: pk * uint64(52+r.IntN(1400)),
			}
			switch k := r.IntN(100); {
			case k < 60: // client request
				f.SrcAddr, f.SrcPort, f.DstAddr, f.DstPort = self, eph, server, 443
			case k < 75: // server's answer to a client
				f.SrcAddr, f.SrcPort, f.DstAddr, f.DstPort = server, 443, self, eph
				f.Packets *= 3
				f.Bytes = f.Packets * 1500
			case k < 85: // DNS query to the internal resolver
				f.SrcAddr, f.SrcPort, f.DstAddr, f.DstPort = self, eph, resolver, 53
				f.Proto, f.TCPFlags, f.Packets, f.Bytes = datasets.ProtoUDP, 0, 1, 70
				f.Start = f.End
			case k < 90: // its answer
				f.SrcAddr, f.SrcPort, f.DstAddr, f.DstPort = resolver, 53, self, eph
				f.Proto, f.TCPFlags, f.Packets, f.Bytes = datasets.ProtoUDP, 0, 1, 150
				f.Start = f.End
			case k < 95: // a host answering as a server
				srv := netip.AddrFrom4([4]byte{10, 1, 0, byte(r.IntN(50))})
				port := uint16(22)
				if k&1 == 0 {
					port = 443
				}
				f.SrcAddr, f.SrcPort, f.DstAddr, f.DstPort = srv, port, server, eph
			case k < 98: // biflow
				f.SrcAddr, f.SrcPort, f.DstAddr, f.DstPort = self, eph, server, 443
				f.HasReverse, f.RevPackets, f.RevBytes = true, pk*2, pk*2*1400
			case k < 99:
				f.SrcAddr, f.DstAddr = self, server
				f.Proto, f.TCPFlags, f.DstPort, f.Packets, f.Bytes = datasets.ProtoICMP, 0, 0x0800, 1, 84
			default:
				f.SrcAddr, f.DstAddr = self, server
				f.Proto, f.TCPFlags = 47, 0
			}
			if r.IntN(2) == 0 {
				ttl := uint8(64)
				if h%3 == 0 {
					ttl = 128
				}
				f.MinTTL, f.MaxTTL = ttl-1, ttl-1
			}
			if !yield(&f) {
				return
			}
		}
	}
}

const (
	benchHosts = 5000
	benchFlows = 1 << 20
	day        = 24 * time.Hour
)

// packed is a synthetic record without pointers, so that a million of them
// cost the garbage collector nothing to scan; flow expands it.
type packed struct {
	start, end       int64
	src, dst         uint32
	sport, dport     uint16
	proto, flags     uint8
	minTTL, maxTTL   uint8
	packets, bytes   uint64
	hasRev           bool
	revPkts, revByts uint64
}

func pack(f *datasets.Flow) packed {
	return packed{
		f.Start.UnixNano(), f.End.UnixNano(), v4(f.SrcAddr), v4(f.DstAddr), f.SrcPort, f.DstPort,
		f.Proto, f.TCPFlags, f.MinTTL, f.MaxTTL, f.Packets, f.Bytes, f.HasReverse, f.RevPackets, f.RevBytes,
	}
}

func v4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addr4(x uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
}

// flow fills f from p, its times shifted by shift ns.
func (p *packed) flow(f *datasets.Flow, shift int64) {
	*f = datasets.Flow{
		Start: time.Unix(0, p.start+shift), End: time.Unix(0, p.end+shift),
		SrcAddr: addr4(p.src), DstAddr: addr4(p.dst), SrcPort: p.sport, DstPort: p.dport,
		Proto: p.proto, TCPFlags: p.flags, MinTTL: p.minTTL, MaxTTL: p.maxTTL,
		Packets: p.packets, Bytes: p.bytes, HasReverse: p.hasRev, RevPackets: p.revPkts, RevBytes: p.revByts,
	}
}

// benchData holds benchFlows records from benchHosts hosts over one span,
// made once.
var benchData = struct {
	sync.Mutex
	span  time.Duration
	flows []packed
}{}

func benchFlowsOver(span time.Duration) []packed {
	benchData.Lock()
	defer benchData.Unlock()
	if benchData.flows != nil && benchData.span == span {
		return benchData.flows
	}
	benchData.flows = nil // keep one set in memory
	out := make([]packed, 0, benchFlows)
	for f := range synthFlows(benchHosts, benchFlows, span, 1) {
		out = append(out, pack(f))
	}
	benchData.span, benchData.flows = span, out
	return out
}

// benchSpans: a million records as a whole day of a quiet site, and as the
// first 2.4 hours of a day of ten million records (the nightly run's
// target).
var benchSpans = []struct {
	name string
	span time.Duration
}{{"1M-flows-in-24h", day}, {"1M-flows-in-2.4h", day / 10}}

// cpuTime is the CPU time the process has used (user and system), which on
// a busy machine says more than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkHostAggregator feeds a million synthetic records from 5,000
// hosts to a new aggregator per iteration and computes the host table, as
// a nightly run does. Each record is expanded into a datasets.Flow just
// before Add, as a reader yields them. cpu-ns/flow counts the CPU time of
// the whole process (garbage collection included).
func BenchmarkHostAggregator(b *testing.B) {
	for _, sp := range benchSpans {
		b.Run(sp.name, func(b *testing.B) {
			flows := benchFlowsOver(sp.span)
			b.ReportAllocs()
			var mallocs uint64
			hosts := 0
			var ms runtime.MemStats
			cpu0 := cpuTime()
			for b.Loop() {
				runtime.ReadMemStats(&ms)
				m0 := ms.Mallocs
				a, err := NewHostAggregator(DefaultHostConfig())
				if err != nil {
					b.Fatal(err)
				}
				var f datasets.Flow
				for i := range flows {
					flows[i].flow(&f, 0)
					a.Add(&f)
				}
				hosts = len(a.Hosts())
				runtime.ReadMemStats(&ms)
				mallocs += ms.Mallocs - m0
			}
			n := float64(b.N) * float64(len(flows))
			b.ReportMetric(float64(cpuTime()-cpu0)/n, "cpu-ns/flow")
			b.ReportMetric(n/b.Elapsed().Seconds(), "flows/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/flow")
			b.ReportMetric(float64(mallocs)/n, "allocs/flow")
			b.ReportMetric(float64(hosts), "hosts")
		})
	}
}

// BenchmarkHostAdd is Add in steady state: the aggregator has seen the
// records once, and they follow again shifted by their span. ns/op is per
// flow, expanding the record included.
func BenchmarkHostAdd(b *testing.B) {
	for _, sp := range benchSpans {
		b.Run(sp.name, func(b *testing.B) {
			flows := benchFlowsOver(sp.span)
			a, err := NewHostAggregator(DefaultHostConfig())
			if err != nil {
				b.Fatal(err)
			}
			var f datasets.Flow
			for i := range flows {
				flows[i].flow(&f, 0)
				a.Add(&f)
			}
			i, shift := 0, int64(sp.span)
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				flows[i].flow(&f, shift)
				a.Add(&f)
				if i++; i == len(flows) {
					i, shift = 0, shift+int64(sp.span)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/flow")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
		})
	}
}

// BenchmarkHostMemory measures the heap an aggregator holds per host after
// a day, for more hosts and for more flows per host: at the end of the
// stream (B/host: pages of the last Horizon still unfolded, and the pool
// of pages) and once Hosts has folded them (B/host-folded). Per host it is
// bounded whatever the number of flows: by the distinct-count sketches,
// the rate sketches' range and 8 bytes per active minute. The site's whole
// per-second series (1.4 MB for a day) is in the figures too, 14 KB a host
// when there are only 100.
func BenchmarkHostMemory(b *testing.B) {
	for _, c := range []struct{ hosts, perHost int }{
		{5000, 20}, {5000, 200}, {1000, 20}, {1000, 200}, {1000, 2000}, {100, 20000},
	} {
		b.Run(fmt.Sprintf("hosts=%d/flows=%d", c.hosts, c.hosts*c.perHost), func(b *testing.B) {
			var streaming, folded float64
			for b.Loop() {
				before := heapInUse()
				a, err := NewHostAggregator(DefaultHostConfig())
				if err != nil {
					b.Fatal(err)
				}
				for f := range synthFlows(c.hosts, c.hosts*c.perHost, day, 2) {
					a.Add(f)
				}
				streaming = float64(heapInUse()-before) / float64(len(a.all))
				a.foldAll() // what Hosts does first
				folded = float64(heapInUse()-before) / float64(len(a.all))
				runtime.KeepAlive(a)
			}
			b.ReportMetric(streaming, "B/host")
			b.ReportMetric(folded, "B/host-folded")
		})
	}
}
