package features

import (
	"cmp"
	"math"
	"math/bits"
	"slices"

	"github.com/axiomhq/hyperloglog"
)

// exactDistinct is how many distinct values a distinct counter keeps
// exactly before it switches to HyperLogLog.
const exactDistinct = 16

// distinct counts distinct 64-bit hashes: exactly up to exactDistinct, then
// with a dense HyperLogLog sketch. A repeat of the previous value (the
// common case: consecutive records of one conversation) costs one
// comparison. Once the sketch exists, the array that held the exact values
// collects hashes and hands them to the sketch exactDistinct at a time: the
// sketch's registers, cold in a table of thousands of hosts, are then
// fetched together rather than one cache miss after another.
type distinct struct {
	n     uint8
	has   bool // last is valid
	last  uint64
	small [exactDistinct]uint64
	hll   *hyperloglog.Sketch
}

func (d *distinct) add(x uint64, precision uint8) {
	if d.has && x == d.last {
		return
	}
	d.has, d.last = true, x
	if d.hll != nil {
		d.small[d.n] = x
		if d.n++; int(d.n) == exactDistinct {
			d.flush()
		}
		return
	}
	for _, v := range d.small[:d.n] {
		if v == x {
			return
		}
	}
	if int(d.n) < exactDistinct {
		d.small[d.n] = x
		d.n++
		return
	}
	// Dense from the start: the sparse representation re-encodes its
	// list every few dozen inserts and allocates each time.
	hll, err := hyperloglog.NewSketch(precision, false)
	if err != nil {
		panic(err) // precision checked by NewHostAggregator
	}
	d.hll = hll
	d.flush() // the exact values so far
	d.small[0], d.n = x, 1
}

func (d *distinct) flush() {
	for _, v := range d.small[:d.n] {
		d.hll.InsertHash(v)
	}
	d.n = 0
}

func (d *distinct) estimate() uint64 {
	if d.hll != nil {
		d.flush()
		return d.hll.Estimate()
	}
	return uint64(d.n)
}

// linearCounter is a 256-bit linear-counting bitmap: the number of distinct
// hashes seen is estimated as -256 ln(z/256) with z the bits still clear
// (see the comment at the top of hosts.go for why not HyperLogLog).
type linearCounter [4]uint64

func (c *linearCounter) add(h uint64) {
	b := h >> 56
	c[b>>6] |= 1 << (b & 63)
}

// linearMax is the estimate of a full bitmap: 256 ln 256.
const linearMax = 1420

func (c *linearCounter) estimate() int { return LinearEstimate(*c) }

// LinearEstimate is the number of distinct values a 256-bit linear
// counter (a host's service-port peers) estimates from its bits.
func LinearEstimate(c [4]uint64) int {
	set := 0
	for _, w := range c {
		set += bits.OnesCount64(w)
	}
	if set == 256 {
		return linearMax
	}
	return int(math.Round(-256 * math.Log(float64(256-set)/256)))
}

// service is one slot of a host's server-role table.
type service struct {
	port    uint16
	proto   uint8
	weight  uint64 // space-saving count: flows, plus those inherited from the slot's previous port
	flows   uint64
	answers uint64
	resets  uint64 // TCP answers that only reset the connection: a closed port
	peers   linearCounter
}

// Kinds of flow addService counts.
const (
	request = iota // to the service port
	answer         // from it
	reset          // from it, a TCP reset without data: the port is closed
)

// addService counts a flow of the given kind to or from port/proto of h,
// exchanged with the peer whose address hashes to peer. The table keeps
// ServiceSlots ports: a new port takes the slot of the least counted port
// without answers (of the least counted one when all have answers) and
// inherits its count (Metwally, Agrawal and El Abbadi's space-saving), so a
// busy port cannot be pushed out by a stream of one-off ports, nor a port
// that answers by a scan of ports that do not.
func (a *HostAggregator) addService(h *host, port uint16, proto uint8, peer uint64, kind int) {
	var ans, rst uint64
	switch kind {
	case answer:
		ans = 1
	case reset:
		rst = 1
	}
	for i := range h.services {
		s := &h.services[i]
		if s.port == port && s.proto == proto {
			s.weight++
			s.flows++
			s.answers += ans
			s.resets += rst
			s.peers.add(peer)
			return
		}
	}
	s := service{port: port, proto: proto, weight: 1, flows: 1, answers: ans, resets: rst}
	s.peers.add(peer)
	if len(h.services) < a.cfg.ServiceSlots {
		h.services = append(h.services, s)
		return
	}
	m := -1
	for i := range h.services {
		if h.services[i].answers == 0 && (m < 0 || h.services[i].weight < h.services[m].weight) {
			m = i
		}
	}
	if m < 0 {
		m = 0
		for i := range h.services {
			if h.services[i].weight < h.services[m].weight {
				m = i
			}
		}
	}
	s.weight += h.services[m].weight
	h.services[m] = s
}

// services returns the ports h answers on, most peers first.
func (a *HostAggregator) services(h *host) []Service {
	var out []Service
	for _, s := range h.services {
		peers := s.peers.estimate()
		if s.answers == 0 && (peers < a.cfg.MinServicePeers || s.resets > 0) {
			continue
		}
		out = append(out, Service{Port: s.port, Proto: s.proto, Peers: peers, Flows: s.flows, Answers: s.answers})
	}
	slices.SortFunc(out, func(x, y Service) int {
		if c := cmp.Compare(y.Peers, x.Peers); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Flows, x.Flows); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Port, y.Port); c != 0 {
			return c
		}
		return cmp.Compare(x.Proto, y.Proto)
	})
	return out
}
