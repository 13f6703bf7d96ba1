// Command synthday writes a synthetic day of an organisation's traffic as a
// packet capture, for benchmarks at the scale of the target users' nightly
// load: nfpcapd turns it into a day of nfcapd files (about 10 million flows
// in 288 five-minute files with the defaults) that the readers and
// `fingerflow classify` can be timed on.
//
// Internal hosts (-hosts, numbered into 10.0.1.1-10.0.20.250 and on, 250 a
// /24) start conversations at a rate that follows a working-day curve
// (night at 15-20% of the late-morning peak, a lunch dip, an evening tail):
//
//	DNS over UDP to two internal resolvers (10.0.0.53, .54), which query
//	    external name servers in turn;
//	HTTPS (TCP 443: handshake, TLS hello and certificate, 1-3 requests with
//	    log-normal response sizes sent in slow-start rounds, ACKs every
//	    second segment, FIN or RST), QUIC (UDP 443) and HTTP (TCP 80) to
//	    external servers chosen by a Zipf popularity;
//	NTP (UDP 123) to a handful of servers; ICMP echo to external hosts and
//	    the internal gateway; SYNs that nobody answers;
//	SMB (TCP 445) to four internal file servers and SSH (TCP 22, some of it
//	    interactive for minutes) to two internal servers.
//
// External servers are in ordinary public space (web servers from
// 45.0.0.0, resolvers from 46.0.0.0, time servers in 47.0.123.0/24: no
// special-purpose range, so bogon checks stay quiet as on a real day), each with
// its own round-trip time and TTL. Internal clients send with TTL 63 or 127
// (one hop before the vantage point), fixed per host. Every packet is
// headers only (Ethernet, IPv4, TCP with a timestamp option, UDP or ICMP)
// with the IP total length of the full packet, so flow byte counts are
// those of the full packets. Synthetic packets that would fall after
// midnight (the tails of the day's last conversations) are left out.
//
// -merge adds the packets of a real capture (a lab population run: its
// pcap) at their own times, shifted so the capture starts -merge-at seconds
// into the day, with its addresses renumbered: -merge-server becomes
// -merge-server-as, and any other address in -merge-net (a.b.x.y) becomes
// internal host ((x*256+y)*997) mod -hosts, so a lab host becomes one of
// the day's hosts and keeps its own synthetic traffic too. The lab packets
// keep their TTLs. -merge-map writes the renumbering (lab address, day
// address) as CSV, to carry the run's labels and host truth over.
//
// The merged packets keep their file's order, so the output steps back in
// time where the capture does (tcpdump on the lab's veths: about a hundred
// times in a million packets, by up to about 0.1 ms); the synthetic packets
// are in time order.
//
// The output is the same for the same flags (and the same -merge file).
// With the defaults and a 120-host lab population capture (14.6 million
// packets) merged in, it wrote 4.9 million conversations, 140 million
// packets and 11.7 GB in two minutes, and nfpcapd made 10,017,790 flows of
// them in 288 LZ4 files of 264 MB.
//
//	go run ./datasets/internal/synthday -o day.pcap \
//	    -merge pop-near-120h-s1002.pcap -merge-map day.merge-map.csv
//	nfpcapd -r day.pcap -w DIR -t 300 -y
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"sort"
	"strconv"
)

func main() {
	var c config
	flag.IntVar(&c.flows, "flows", 10_000_000, "about how many flow records (one per direction of a conversation) nfpcapd will make of the synthetic traffic")
	flag.IntVar(&c.hosts, "hosts", 5000, "internal client hosts")
	flag.StringVar(&c.out, "o", "day.pcap", "output pcap")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed")
	flag.Int64Var(&c.start, "start", 1795305600, "start of the day, Unix seconds (2026-11-22 00:00 UTC)")
	flag.StringVar(&c.merge, "merge", "", "pcap (Ethernet, microseconds) to merge in, e.g. a lab population capture")
	flag.Float64Var(&c.mergeAt, "merge-at", 3*3600, "seconds into the day where the merged capture starts")
	flag.StringVar(&c.mergeNet, "merge-net", "10.77.0.0/16", "addresses of the merged capture that are renumbered into internal hosts")
	flag.StringVar(&c.mergeServer, "merge-server", "10.77.0.1", "the merged capture's server address")
	flag.StringVar(&c.mergeServerAs, "merge-server-as", "203.0.113.80", "what the merged capture's server becomes")
	flag.StringVar(&c.mergeMap, "merge-map", "", "write the merged capture's renumbering here (CSV: lab_ip,day_ip)")
	flag.Parse()
	if err := run(&c); err != nil {
		fmt.Fprintln(os.Stderr, "synthday:", err)
		os.Exit(1)
	}
}

type config struct {
	flows, hosts                   int
	out, merge, mergeNet, mergeMap string
	mergeServer, mergeServerAs     string
	seed                           uint64
	start                          int64
	mergeAt                        float64
}

const (
	fin = 0x01
	syn = 0x02
	rst = 0x04
	psh = 0x08
	ack = 0x10

	tcp  = 6
	udp  = 17
	icmp = 1

	day = 86400 * 1_000_000 // microseconds
	mss = 1448
)

// Internal servers.
var (
	gateway     = ip4(10, 0, 0, 1)
	resolvers   = []uint32{ip4(10, 0, 0, 53), ip4(10, 0, 0, 54)}
	fileServers = []uint32{ip4(10, 0, 0, 10), ip4(10, 0, 0, 11), ip4(10, 0, 0, 12), ip4(10, 0, 0, 13)}
	sshServers  = []uint32{ip4(10, 0, 0, 22), ip4(10, 0, 0, 23)}
)

func ip4(a, b, c, d byte) uint32 { return uint32(a)<<24 | uint32(b)<<16 | uint32(c)<<8 | uint32(d) }

// hostAddr numbers internal client i into 10.0.1.1 and on, 250 to a /24.
func hostAddr(i int) uint32 { return ip4(10, 0, byte(1+i/250), byte(1+i%250)) }

// hourly is the relative rate of new conversations at each hour's middle
// (UTC taken as local time); the rate is interpolated linearly between.
var hourly = [24]float64{0.20, 0.17, 0.15, 0.15, 0.15, 0.18, 0.28, 0.50, 0.85, 1.00, 1.00, 0.95,
	0.75, 0.90, 1.00, 0.95, 0.85, 0.60, 0.42, 0.35, 0.32, 0.30, 0.26, 0.22}

func rate(sec float64) float64 {
	h := sec/3600 - 0.5
	i := int(math.Floor(h))
	f := h - float64(i)
	a, b := hourly[(i+24)%24], hourly[(i+25)%24]
	return a + (b-a)*f
}

// conversation kinds and their shares of conversations
type kind int

const (
	dnsInt kind = iota
	dnsExt
	https
	quic
	http
	ntp
	ping
	smb
	ssh
	deadSyn
	nkinds
)

var share = [nkinds]float64{dnsInt: 0.30, dnsExt: 0.06, https: 0.35, quic: 0.05, http: 0.07,
	ntp: 0.02, ping: 0.02, smb: 0.10, ssh: 0.01, deadSyn: 0.02}

type pkt struct {
	t          int64 // microseconds since the start of the day
	seq        uint64
	src, dst   uint32
	sport      uint16 // ICMP: identifier
	dport      uint16 // ICMP: sequence number
	plen       uint16 // L4 payload bytes
	proto, ttl uint8
	flags      uint8 // TCP flags; ICMP type
}

type pktHeap []pkt

func (h pktHeap) less(i, j int) bool {
	return h[i].t < h[j].t || h[i].t == h[j].t && h[i].seq < h[j].seq
}

func (h *pktHeap) push(p pkt) {
	*h = append(*h, p)
	s := *h
	for i := len(s) - 1; i > 0; {
		up := (i - 1) / 2
		if !s.less(i, up) {
			break
		}
		s[i], s[up] = s[up], s[i]
		i = up
	}
}

func (h *pktHeap) pop() pkt {
	s := *h
	p := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && s.less(l, m) {
			m = l
		}
		if l+1 < n && s.less(l+1, m) {
			m = l + 1
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return p
}

type gen struct {
	rng     *rand.Rand
	heap    pktHeap
	seq     uint64
	hostCum []float64 // cumulative activity weights of the hosts
	hostTTL []uint8
	web     *rand.Zipf // index into the web server pool
	dns     *rand.Zipf // index into the external name server pool
}

func (g *gen) push(p pkt) {
	g.seq++
	p.seq = g.seq
	g.heap.push(p)
}

func (g *gen) host() int {
	return sort.SearchFloat64s(g.hostCum, g.rng.Float64()*g.hostCum[len(g.hostCum)-1])
}

// server properties derived from its address, the same every time it is used
func mix(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	x ^= x >> 16
	return x
}

func extRTT(a uint32) int64 { return int64(4000 + mix(a)%140000) } // 4-144 ms
func extTTL(a uint32) uint8 {
	h := mix(a ^ 0x5bd1e995)
	base := []int{64, 64, 128, 255}[h%4]
	return uint8(base - 8 - int(h>>8)%14)
}
func webServer(i uint64) uint32 { return ip4(45, 0, 0, 0) + 1 + uint32(i) }
func dnsServer(i uint64) uint32 { return ip4(46, 0, 0, 0) + 1 + uint32(i) }

// session emits the packets of one conversation between client c and server
// s as seen at the vantage point: a packet from the client is answered by
// the server ds microseconds later, and the other way round dc later.
type session struct {
	g          *gen
	t          int64
	c, s       uint32
	cp, sp     uint16
	proto      uint8
	ds, dc     int64
	cttl, sttl uint8
	gap        int64 // microseconds between back-to-back segments (sender's rate)
}

func (x *session) emit(t int64, fromClient bool, flags uint8, n int) {
	p := pkt{t: t, proto: x.proto, flags: flags, plen: uint16(n)}
	if fromClient {
		p.src, p.dst, p.sport, p.dport, p.ttl = x.c, x.s, x.cp, x.sp, x.cttl
	} else {
		p.src, p.dst, p.sport, p.dport, p.ttl = x.s, x.c, x.sp, x.cp, x.sttl
	}
	x.g.push(p)
}

// jit returns d with up to 20% random jitter.
func (x *session) jit(d int64) int64 { return d + int64(x.g.rng.Float64()*0.2*float64(d)) + 1 }

// send moves n payload bytes from one side to the other in slow-start rounds
// (10 segments, doubling each round trip, up to 256), the receiver ACKing
// every second segment and the last. x.t ends at the last packet sent. The
// unit is mss bytes for TCP; for UDP (QUIC) datagrams of 1350 and ACKs of 40.
func (x *session) send(fromClient bool, n int) {
	if n <= 0 {
		return
	}
	seg, ackLen := mss, 0
	if x.proto == udp {
		seg, ackLen = 1350, 40
	}
	dSend, dRecv := x.dc, x.ds // delay to the sender's, the receiver's answer
	if !fromClient {
		dSend, dRecv = x.ds, x.dc
	}
	cwnd := 10
	t := x.t
	for n > 0 {
		var firstAck int64 = -1
		var last int64
		for i := 0; i < cwnd && n > 0; i++ {
			l := min(n, seg)
			n -= l
			fl := uint8(ack)
			if n == 0 || i == cwnd-1 {
				fl |= psh
			}
			st := t + int64(i)*x.gap
			x.emit(st, fromClient, fl, l)
			last = st
			if i%2 == 1 || n == 0 {
				at := st + x.jit(dRecv)
				x.emit(at, !fromClient, ack, ackLen)
				if firstAck < 0 {
					firstAck = at
				}
				last = max(last, at)
			}
		}
		x.t = last
		if n > 0 {
			t = firstAck + x.jit(dSend)
		}
		cwnd = min(cwnd*2, 256)
	}
}

// msg sends a short message of n bytes (segments back to back, no ACKs of its
// own) and leaves x.t at its last packet.
func (x *session) msg(fromClient bool, n int) {
	seg := mss
	if x.proto == udp {
		seg = 1350
	}
	for n > 0 {
		l := min(n, seg)
		n -= l
		x.emit(x.t, fromClient, ack|psh, l)
		if n > 0 {
			x.t += x.gap
		}
	}
}

// reply is the other side answering after its delay plus think microseconds.
func (x *session) reply(fromClient bool, n int, think int64) {
	d := x.dc
	if !fromClient {
		d = x.ds
	}
	x.t += x.jit(d) + think
	x.send(fromClient, n)
}

func (x *session) open() {
	x.emit(x.t, true, syn, 0)
	x.t += x.jit(x.ds)
	x.emit(x.t, false, syn|ack, 0)
	x.t += x.jit(x.dc)
	x.emit(x.t, true, ack, 0)
}

func (x *session) close() {
	r := x.g.rng.Float64()
	x.t += x.jit(x.dc)
	if r < 0.05 { // reset by the client
		x.emit(x.t, true, rst|ack, 0)
		return
	}
	byClient := r < 0.6
	x.emit(x.t, byClient, fin|ack, 0)
	d := x.ds
	if !byClient {
		d = x.dc
	}
	x.t += x.jit(d)
	x.emit(x.t, !byClient, fin|ack, 0)
	d = x.dc
	if !byClient {
		d = x.ds
	}
	x.t += x.jit(d)
	x.emit(x.t, byClient, ack, 0)
}

func (g *gen) logNormal(median, sigma float64, lo, hi int) int {
	v := int(median * math.Exp(sigma*g.rng.NormFloat64()))
	return min(max(v, lo), hi)
}

func (g *gen) between(lo, hi int) int { return lo + g.rng.IntN(hi-lo+1) }

// conversation emits the packets of one conversation starting at t.
func (g *gen) conversation(t int64) {
	r := g.rng.Float64()
	k := kind(0)
	for ; k < nkinds-1; k++ {
		if r < share[k] {
			break
		}
		r -= share[k]
	}
	h := g.host()
	x := &session{g: g, t: t, c: hostAddr(h), cttl: g.hostTTL[h], cp: uint16(g.between(32768, 65535)),
		dc: int64(g.between(150, 1500)), gap: int64(g.between(12, 600))}
	internal := func(srv uint32) {
		x.s, x.ds, x.sttl = srv, int64(g.between(200, 2000)), []uint8{63, 127}[mix(srv)%2]
	}
	external := func(srv uint32) {
		x.s, x.ds, x.sttl = srv, extRTT(srv), extTTL(srv)
	}
	switch k {
	case dnsInt, dnsExt:
		x.proto, x.sp = udp, 53
		if k == dnsInt {
			internal(resolvers[min(g.rng.IntN(10)/7, 1)])
		} else { // a resolver asks an external name server
			x.c, x.cttl = resolvers[g.rng.IntN(2)], 64
			external(dnsServer(g.dns.Uint64()))
		}
		q := g.between(28, 64)
		x.emit(x.t, true, 0, q)
		if g.rng.IntN(100) == 0 { // unanswered, asked again a second later
			x.t += 1_000_000
			x.emit(x.t, true, 0, q)
			if g.rng.IntN(2) == 0 {
				return
			}
		}
		x.t += x.jit(x.ds)
		x.emit(x.t, false, 0, q+g.logNormal(90, 0.7, 16, 1400))
	case https, http:
		x.proto, x.sp = tcp, 443
		if k == http {
			x.sp = 80
		}
		external(webServer(g.web.Uint64()))
		x.open()
		x.t += x.jit(x.dc)
		if k == https {
			x.msg(true, g.between(230, 600)) // client hello
			x.reply(false, g.between(2500, 6000), 0)
			x.reply(true, g.between(64, 130), 0)
		}
		reqs := 1
		for reqs < 8 && g.rng.IntN(10) < 4 {
			reqs++
		}
		for i := 0; i < reqs; i++ {
			if i > 0 {
				x.t += int64(g.rng.ExpFloat64() * 2e6)
			}
			x.msg(true, g.between(150, 900))
			x.reply(false, g.logNormal(3000, 1.4, 60, 3_000_000), int64(g.between(0, 40000)))
		}
		x.close()
	case quic:
		x.proto, x.sp = udp, 443
		external(webServer(g.web.Uint64()))
		x.emit(x.t, true, 0, 1250)
		x.t += x.jit(x.ds)
		for i := 0; i < 3; i++ {
			x.emit(x.t, false, 0, 1250)
			x.t += x.gap
		}
		x.reply(true, 1250, 0)
		x.reply(false, g.logNormal(4000, 1.4, 200, 3_000_000), int64(g.between(0, 40000)))
	case ntp:
		x.proto, x.sp = udp, 123
		external(ip4(47, 0, 123, 1+byte(g.rng.IntN(8))))
		x.cp = 123
		if g.rng.IntN(2) == 0 {
			x.cp = uint16(g.between(32768, 65535))
		}
		x.emit(x.t, true, 0, 48)
		x.t += x.jit(x.ds)
		x.emit(x.t, false, 0, 48)
	case ping:
		x.proto = icmp
		if g.rng.IntN(4) == 0 {
			internal(gateway)
		} else {
			external(webServer(g.web.Uint64()))
		}
		x.sp = uint16(g.rng.IntN(65536)) // identifier; cp counts sequence numbers
		x.cp = uint16(g.rng.IntN(65536))
		n := g.between(1, 4)
		size := []int{56, 32}[x.cttl>>6&1] // Windows-like hosts (TTL 127) ping with 32 bytes
		for i := 0; i < n; i++ {
			t := x.t + int64(i)*1_000_000
			x.g.push(pkt{t: t, src: x.c, dst: x.s, sport: x.sp, dport: x.cp + uint16(i), plen: uint16(size),
				proto: icmp, ttl: x.cttl, flags: 8})
			x.g.push(pkt{t: t + x.jit(x.ds), src: x.s, dst: x.c, sport: x.sp, dport: x.cp + uint16(i), plen: uint16(size),
				proto: icmp, ttl: x.sttl, flags: 0})
		}
	case smb:
		x.proto, x.sp = tcp, 445
		internal(fileServers[min(g.rng.IntN(8), 3)])
		x.open()
		x.t += x.jit(x.dc)
		for _, m := range [][2]int{{200, 250}, {300, 300}, {120, 80}} { // negotiate, session setup, tree connect
			x.msg(true, m[0]+g.rng.IntN(200))
			x.reply(false, m[1]+g.rng.IntN(200), 0)
			x.t += x.jit(x.dc)
		}
		n := g.between(1, 15)
		for i := 0; i < n; i++ {
			x.t += int64(g.rng.ExpFloat64() * 200_000)
			x.msg(true, g.between(100, 400))
			resp := g.logNormal(400, 1.2, 40, 60_000)
			if g.rng.IntN(100) == 0 { // a file read
				resp = g.logNormal(100_000, 1.3, 10_000, 4_000_000)
			}
			x.reply(false, resp, 0)
		}
		x.close()
	case ssh:
		x.proto, x.sp = tcp, 22
		internal(sshServers[g.rng.IntN(2)])
		x.open()
		x.reply(false, g.between(21, 40), 0) // server banner
		x.reply(true, g.between(21, 40), 0)
		x.reply(true, g.between(1000, 1600), 0) // key exchange
		x.reply(false, g.between(900, 1300), 0)
		x.reply(true, 48, 0)
		x.reply(false, g.between(400, 700), 0)
		x.reply(true, g.between(300, 700), 0) // authentication
		x.reply(false, g.between(40, 500), 0)
		if g.rng.IntN(10) == 0 { // a copy
			x.reply(true, g.logNormal(300_000, 1.5, 1000, 5_000_000), 0)
		} else { // typing: a keystroke and its echo
			n := g.between(5, 300)
			for i := 0; i < n; i++ {
				x.t += int64(g.rng.ExpFloat64() * 400_000)
				x.emit(x.t, true, ack|psh, 36)
				x.t += x.jit(x.ds)
				x.emit(x.t, false, ack|psh, g.between(36, 200))
				x.t += x.jit(x.dc)
				x.emit(x.t, true, ack, 0)
			}
		}
		x.close()
	case deadSyn:
		x.proto, x.sp = tcp, []uint16{443, 443, 8443, 5228, 3389, 25}[g.rng.IntN(6)]
		external(webServer(g.web.Uint64()))
		for _, d := range []int64{0, 1_000_000, 3_000_000} {
			x.emit(t+d, true, syn, 0)
		}
	}
}

// starts yields the start times (microseconds into the day) of n
// conversations, in order, spread by the rate curve.
func starts(n int, rng *rand.Rand, yield func(int64)) {
	cum := make([]float64, 86401)
	for s := 0; s < 86400; s++ {
		cum[s+1] = cum[s] + rate(float64(s)+0.5)
	}
	total := cum[86400]
	s := 0
	for i := 0; i < n; i++ {
		target := (float64(i) + rng.Float64()) / float64(n) * total
		for s < 86399 && cum[s+1] <= target {
			s++
		}
		f := (target - cum[s]) / (cum[s+1] - cum[s])
		yield(int64((float64(s) + f) * 1e6))
	}
}

// pcapIn reads an Ethernet pcap with microsecond timestamps.
type pcapIn struct {
	r    *bufio.Reader
	hdr  [16]byte
	data []byte
	t    int64 // time of the current packet, microseconds since the epoch
	ok   bool
}

func openPcap(path string) (*pcapIn, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	p := &pcapIn{r: bufio.NewReaderSize(f, 1<<20)}
	var gh [24]byte
	if _, err := io.ReadFull(p.r, gh[:]); err != nil {
		f.Close()
		return nil, nil, err
	}
	le := binary.LittleEndian
	if le.Uint32(gh[0:]) != 0xa1b2c3d4 || le.Uint32(gh[20:]) != 1 {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a little-endian microsecond Ethernet pcap", path)
	}
	return p, f, p.next()
}

func (p *pcapIn) next() error {
	if _, err := io.ReadFull(p.r, p.hdr[:]); err != nil {
		p.ok = false
		if err == io.EOF {
			return nil
		}
		return err
	}
	le := binary.LittleEndian
	n := le.Uint32(p.hdr[8:])
	if n > 65536 {
		return errors.New("merge pcap: packet longer than 64 KiB")
	}
	p.data = append(p.data[:0], make([]byte, n)...)
	if _, err := io.ReadFull(p.r, p.data); err != nil {
		return err
	}
	p.t = int64(le.Uint32(p.hdr[0:]))*1_000_000 + int64(le.Uint32(p.hdr[4:]))
	p.ok = true
	return nil
}

type writer struct {
	w     *bufio.Writer
	start int64
	buf   [16 + 14 + 20 + 32]byte
	id    uint16
	n     int
}

func ipChecksum(ip []byte) {
	be := binary.BigEndian
	ip[10], ip[11] = 0, 0
	var sum uint32
	for j := 0; j < 20; j += 2 {
		sum += uint32(be.Uint16(ip[j:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	be.PutUint16(ip[10:], ^uint16(sum))
}

func (w *writer) record(t int64, capLen, origLen int) []byte {
	le := binary.LittleEndian
	us := w.start*1_000_000 + t
	p := w.buf[:16+capLen]
	clear(p)
	le.PutUint32(p[0:], uint32(us/1_000_000))
	le.PutUint32(p[4:], uint32(us%1_000_000))
	le.PutUint32(p[8:], uint32(capLen))
	le.PutUint32(p[12:], uint32(origLen))
	return p
}

func (w *writer) packet(p pkt) error {
	be := binary.BigEndian
	l4 := 8
	if p.proto == tcp {
		l4 = 32
	}
	ipLen := 20 + l4 + int(p.plen)
	b := w.record(p.t, 14+20+l4, 14+ipLen)
	e := b[16:]
	copy(e[0:6], []byte{2, 0, 0, 0, 0, 2})
	copy(e[6:12], []byte{2, 0, 0, 0, 0, 1})
	be.PutUint16(e[12:], 0x0800)
	ip := e[14:]
	ip[0] = 0x45
	be.PutUint16(ip[2:], uint16(ipLen))
	w.id++
	be.PutUint16(ip[4:], w.id)
	if p.proto == tcp {
		ip[6] = 0x40 // don't fragment
	}
	ip[8] = p.ttl
	ip[9] = p.proto
	be.PutUint32(ip[12:], p.src)
	be.PutUint32(ip[16:], p.dst)
	ipChecksum(ip)
	l := ip[20:]
	switch p.proto {
	case tcp:
		be.PutUint16(l[0:], p.sport)
		be.PutUint16(l[2:], p.dport)
		be.PutUint32(l[4:], mix(p.src^uint32(p.sport)<<16^p.dst)+uint32(p.t)) // not a real sequence, but varies
		if p.flags&ack != 0 {
			be.PutUint32(l[8:], mix(p.dst^uint32(p.dport)<<16^p.src))
		}
		l[12] = 8 << 4
		l[13] = p.flags
		be.PutUint16(l[14:], 64240)
		copy(l[20:], []byte{1, 1, 8, 10})
		be.PutUint32(l[24:], uint32(p.t/1000))
	case udp:
		be.PutUint16(l[0:], p.sport)
		be.PutUint16(l[2:], p.dport)
		be.PutUint16(l[4:], uint16(8+p.plen))
	case icmp:
		l[0] = p.flags
		be.PutUint16(l[4:], p.sport)
		be.PutUint16(l[6:], p.dport)
	}
	w.n++
	_, err := w.w.Write(b)
	return err
}

// merged rewrites and writes the current packet of the merged capture.
func (w *writer) merged(m *pcapIn, t int64, renum func(uint32) uint32) error {
	be := binary.BigEndian
	le := binary.LittleEndian
	b := w.record(t, 0, int(le.Uint32(m.hdr[12:])))
	d := m.data
	if len(d) >= 34 && be.Uint16(d[12:]) == 0x0800 && d[14]>>4 == 4 {
		ip := d[14:]
		be.PutUint32(ip[12:], renum(be.Uint32(ip[12:])))
		be.PutUint32(ip[16:], renum(be.Uint32(ip[16:])))
		ipChecksum(ip)
	}
	le.PutUint32(b[8:], uint32(len(d)))
	w.n++
	if _, err := w.w.Write(b[:16]); err != nil {
		return err
	}
	_, err := w.w.Write(d)
	return err
}

func run(c *config) error {
	if c.hosts < 1 || c.hosts > 250*254 {
		return errors.New("-hosts must be 1 to 63500")
	}
	rng := rand.New(rand.NewPCG(c.seed, c.seed^0x9e3779b97f4a7c15))
	g := &gen{rng: rng,
		web: rand.NewZipf(rng, 1.1, 1, 40_000-1),
		dns: rand.NewZipf(rng, 1.1, 1, 4_000-1)}
	g.hostCum = make([]float64, c.hosts)
	g.hostTTL = make([]uint8, c.hosts)
	sum := 0.0
	for i := range c.hosts {
		sum += math.Exp(rng.NormFloat64())
		g.hostCum[i] = sum
		g.hostTTL[i] = 63
		if rng.IntN(10) < 7 {
			g.hostTTL[i] = 127
		}
	}

	var m *pcapIn
	var renum func(uint32) uint32
	seen := map[uint32]uint32{}
	var mergeShift int64
	if c.merge != "" {
		var f *os.File
		var err error
		m, f, err = openPcap(c.merge)
		if err != nil {
			return err
		}
		defer f.Close()
		pfx, err := netip.ParsePrefix(c.mergeNet)
		if err != nil || !pfx.Addr().Is4() {
			return fmt.Errorf("-merge-net %q: want an IPv4 prefix", c.mergeNet)
		}
		srv, err1 := netip.ParseAddr(c.mergeServer)
		srvAs, err2 := netip.ParseAddr(c.mergeServerAs)
		if err1 != nil || err2 != nil || !srv.Is4() || !srvAs.Is4() {
			return errors.New("-merge-server and -merge-server-as must be IPv4 addresses")
		}
		s4, sa4 := srv.As4(), srvAs.As4()
		from, to := binary.BigEndian.Uint32(s4[:]), binary.BigEndian.Uint32(sa4[:])
		renum = func(a uint32) uint32 {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], a)
			if !pfx.Contains(netip.AddrFrom4(b)) {
				return a
			}
			n := to
			if a != from {
				n = hostAddr(int(uint64(a&0xffff) * 997 % uint64(c.hosts)))
			}
			seen[a] = n
			return n
		}
		mergeShift = int64(c.mergeAt*1e6) - m.t
	}

	f, err := os.Create(c.out)
	if err != nil {
		return err
	}
	w := &writer{w: bufio.NewWriterSize(f, 4<<20), start: c.start}
	var gh [24]byte
	le := binary.LittleEndian
	le.PutUint32(gh[0:], 0xa1b2c3d4)
	le.PutUint16(gh[4:], 2)
	le.PutUint16(gh[6:], 4)
	le.PutUint32(gh[16:], 262144)
	le.PutUint32(gh[20:], 1) // Ethernet
	w.w.Write(gh[:])

	// Flows nfpcapd makes of a conversation: two, less the SYNs nobody
	// answered and the queries given up on (half of the 1% unanswered);
	// every echo request and reply is a flow of its own (2.5 pings on
	// average).
	flowsPerConv := 2 - share[deadSyn] - (share[dnsInt]+share[dnsExt])*0.005 + share[ping]*(2*2.5-2)
	nconv := int(float64(c.flows)/flowsPerConv + 0.5)
	ts := make(chan int64, 1024)
	go func() {
		starts(nconv, rand.New(rand.NewPCG(c.seed+1, c.seed)), func(t int64) { ts <- t })
		close(ts)
	}()
	const never = math.MaxInt64
	dropped := 0
	next, more := <-ts
	for {
		tc := int64(never)
		if more {
			tc = next
		}
		th := int64(never)
		if len(g.heap) > 0 {
			th = g.heap[0].t
		}
		tm := int64(never)
		if m != nil && m.ok {
			tm = m.t + mergeShift
		}
		switch {
		case tc == never && th == never && tm == never:
			if err := w.w.Flush(); err != nil {
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "synthday: %d conversations, %d packets written to %s (%d after midnight left out)\n",
				nconv, w.n, c.out, dropped)
			return writeMap(c.mergeMap, seen)
		case tc <= th && tc <= tm:
			g.conversation(tc)
			next, more = <-ts
		case tm < th:
			if err := w.merged(m, tm, renum); err != nil {
				return err
			}
			if err := m.next(); err != nil {
				return err
			}
		default:
			p := g.heap.pop()
			if p.t >= day {
				dropped++ // the next day's first file would hold it
				continue
			}
			if err := w.packet(p); err != nil {
				return err
			}
		}
	}
}

func writeMap(path string, seen map[uint32]uint32) error {
	if path == "" {
		return nil
	}
	keys := make([]uint32, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"lab_ip", "day_ip"})
	for _, k := range keys {
		w.Write([]string{addr(k), addr(seen[k])})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return f.Close()
}

func addr(a uint32) string {
	return strconv.Itoa(int(a>>24)) + "." + strconv.Itoa(int(a>>16&255)) + "." +
		strconv.Itoa(int(a>>8&255)) + "." + strconv.Itoa(int(a&255))
}
