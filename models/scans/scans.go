// Package scans finds port scans and address sweeps in flow records with
// threshold random walk (TRW; Jung, Paxson, Berger and Balakrishnan, "Fast
// portscan detection using sequential hypothesis testing", IEEE S&P 2004),
// the sequential test behind SiLK's rwscan, rather than a fixed count of
// destinations.
//
// For each source, every first-contact connection attempt (to a
// destination it had not tried before) is an observation: a success when
// the destination accepted, a failure when it refused or never answered.
// A benign host's attempts succeed with probability Theta0, a scanner's
// with Theta1 < Theta0. The walk multiplies the likelihood ratio by
// Theta1/Theta0 for a success and (1-Theta1)/(1-Theta0) for a failure; it
// decides "scanner" when the ratio reaches Eta1 = (1-Beta)/Alpha and
// "benign" when it falls to Eta0 = Beta/(1-Alpha), where Alpha bounds the
// share of benign sources called scanners and Beta the share of scanners
// missed (Wald's thresholds; Jung et al.'s PD is 1-Beta, PF is Alpha).
// With Jung et al.'s values (Theta0 0.8, Theta1 0.2, Alpha = Beta = 0.01)
// four failures in a row make a scanner and four successes a benign host.
// A benign decision starts the walk afresh (and forgets the destinations
// seen), so a host that turns to scanning later is still caught.
// A source and destination pair's vertical walk starts at its first failed
// first contact, so that pairs that only ever succeed (a client and its
// server) cost no memory; successes before it would only have led towards
// benign.
//
// Two walks run side by side: horizontal, per source, over distinct
// destination addresses (a sweep: one source to many hosts, usually on one
// port); vertical, per source and destination, over distinct destination
// ports (a port scan of one host).
//
// What counts as an attempt and as success, from flow records:
//
//   - TCP: a record with SYN and without ACK is an attempt that, on its
//     own, failed; a record with SYN and ACK is an accepted connection,
//     its sender's attempt to the other side's port a success, and so is
//     the reverse attempt (the other side's SYN-ACK: Jung et al. count a
//     SYN-ACK as success). Records without SYN or ACK but with FIN, or no
//     flags at all, are stealth probes (FIN, NULL, Xmas scans) that failed.
//     A bidirectional record (Argus) with SYN is an attempt that succeeded
//     when its initiator sent at least three packets and got an answer: a
//     probe answered with SYN-ACK and reset (nmap's half-open scan) is a
//     failure here.
//   - UDP: a record is an attempt to its destination port, a success when
//     a record comes back from that port (or, bidirectional, any answer).
//   - ICMP: an echo request is an attempt to its destination, a success
//     when an echo reply comes back.
//
// Attempts wait Horizon (records arrive out of order by up to the
// exporter's active timeout) for their answer, then join the walks in time
// order. Memory grows with the attempts within the horizon and the
// destinations of sources not yet decided.
package scans

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// Config holds the test's parameters. Start from DefaultConfig.
type Config struct {
	// Theta0 is the probability that a benign host's first-contact
	// attempt succeeds, Theta1 a scanner's (Theta1 < Theta0).
	Theta0, Theta1 float64
	// Alpha is the highest share of benign sources to call scanners
	// (false positives), Beta the highest share of scanners to miss.
	Alpha, Beta float64
	// Horizon is how long an attempt waits for its answer.
	Horizon time.Duration
	// TopPorts and TopTargets are how many ports and destinations an
	// alarm names.
	TopPorts, TopTargets int
	// MaxContacts bounds the destinations (or ports) remembered per
	// decided scanner; beyond it they are counted as new.
	MaxContacts int
}

// DefaultConfig has Jung et al.'s parameters: Theta0 0.8, Theta1 0.2,
// Alpha 0.01, Beta 0.01; a 15-minute horizon.
func DefaultConfig() Config {
	return Config{Theta0: 0.8, Theta1: 0.2, Alpha: 0.01, Beta: 0.01, Horizon: 15 * time.Minute,
		TopPorts: 5, TopTargets: 5, MaxContacts: 1 << 16}
}

// ErrConfig is wrapped by New's errors.
var ErrConfig = errors.New("invalid scan detector configuration")

// Kind is a scan's shape.
type Kind uint8

// The kinds.
const (
	Horizontal Kind = iota // one source to many destinations
	Vertical               // one source to many ports of one destination
)

func (k Kind) String() string {
	if k == Horizontal {
		return "horizontal-scan"
	}
	return "vertical-scan"
}

// PortCount is a destination port and the first contacts made to it.
type PortCount struct {
	Proto uint8
	Port  uint16 // 0 for ICMP
	Count int
}

// Alarm is a source the walk decided is scanning.
type Alarm struct {
	Kind   Kind
	Source netip.Addr
	// Target is the destination of a vertical scan.
	Target netip.Addr
	// Start is the source's first attempt of the walk, Decided the attempt
	// that crossed the threshold, End its last first contact.
	Start, Decided, End time.Time
	// Contacts are the first contacts (destinations, or ports of Target)
	// from Start to End; DecidedAfter how many it took to decide.
	Contacts, DecidedAfter int
	Successes, Failures    int
	// Ratio is the likelihood ratio when the walk decided.
	Ratio float64
	// Ports are the ports of the first contacts, most first; PortLow and
	// PortHigh the lowest and highest.
	Ports             []PortCount
	PortLow, PortHigh uint16
	// Targets are some destinations of a horizontal scan (the first).
	Targets []netip.Addr
}

// Rate is first contacts per second between Start and End.
func (a *Alarm) Rate() float64 {
	d := a.End.Sub(a.Start).Seconds()
	if d <= 0 {
		return float64(a.Contacts)
	}
	return float64(a.Contacts) / d
}

// attemptKey identifies a connection attempt.
type attemptKey struct {
	src, dst netip.Addr
	proto    uint8
	port     uint16
}

type attempt struct {
	first   int64 // ns
	success bool
	real    bool // an attempt was seen, not only an answer to one
}

// walk is one sequential test.
type walk struct {
	logRatio   float64
	seen       map[any]bool // destinations (horizontal) or ports (vertical) contacted
	start, end int64
	contacts   int
	succ, fail int
	decided    *Alarm
	ports      map[PortCount]int
	lo, hi     uint16
	targets    []netip.Addr
}

type pairKey struct{ src, dst netip.Addr }

// Detector runs the walks over a stream of flows. It is not safe for
// concurrent use.
type Detector struct {
	cfg              Config
	up, down         float64 // log ratio steps for a failure, a success
	eta0, eta1       float64 // log thresholds
	attempts         map[attemptKey]*attempt
	horizontal       map[netip.Addr]*walk
	vertical         map[pairKey]*walk
	water, sweptUpTo int64
	alarms           []*Alarm
}

// New checks cfg and returns a detector.
func New(cfg Config) (*Detector, error) {
	if !(0 < cfg.Theta1 && cfg.Theta1 < cfg.Theta0 && cfg.Theta0 < 1) {
		return nil, fmt.Errorf("%w: want 0 < theta1 %g < theta0 %g < 1", ErrConfig, cfg.Theta1, cfg.Theta0)
	}
	if !(0 < cfg.Alpha && cfg.Alpha < 0.5 && 0 < cfg.Beta && cfg.Beta < 0.5) {
		return nil, fmt.Errorf("%w: alpha %g, beta %g (each in (0, 0.5))", ErrConfig, cfg.Alpha, cfg.Beta)
	}
	if cfg.Horizon < time.Second || cfg.TopPorts < 1 || cfg.TopTargets < 0 || cfg.MaxContacts < 1 {
		return nil, fmt.Errorf("%w: %+v", ErrConfig, cfg)
	}
	return &Detector{
		cfg:        cfg,
		up:         math.Log((1 - cfg.Theta1) / (1 - cfg.Theta0)),
		down:       math.Log(cfg.Theta1 / cfg.Theta0),
		eta1:       math.Log((1 - cfg.Beta) / cfg.Alpha),
		eta0:       math.Log(cfg.Beta / (1 - cfg.Alpha)),
		attempts:   map[attemptKey]*attempt{},
		horizontal: map[netip.Addr]*walk{},
		vertical:   map[pairKey]*walk{},
		sweptUpTo:  math.MinInt64,
	}, nil
}

// Thresholds are the walk's decision thresholds Eta0 and Eta1 on the
// likelihood ratio.
func (d *Detector) Thresholds() (eta0, eta1 float64) { return math.Exp(d.eta0), math.Exp(d.eta1) }

// attempt records an attempt (real) or an answer to one (success only).
func (d *Detector) note(k attemptKey, start int64, real, success bool) {
	a := d.attempts[k]
	if a == nil {
		a = &attempt{first: start}
		d.attempts[k] = a
	}
	if real {
		if !a.real || start < a.first {
			a.first = start
		}
		a.real = true
	}
	if success {
		a.success = true
	}
}

// Add counts one flow record.
func (d *Detector) Add(f *datasets.Flow) {
	start := f.Start.UnixNano()
	if e := f.End.UnixNano(); e < start {
		start = e // IPFIX with first and last swapped
	}
	if start > d.water {
		d.water = start
		if cut := d.water - int64(d.cfg.Horizon); cut > d.sweptUpTo+int64(time.Minute) {
			d.sweep(cut)
		}
	}
	fwd := attemptKey{f.SrcAddr, f.DstAddr, f.Proto, f.DstPort}
	rev := attemptKey{f.DstAddr, f.SrcAddr, f.Proto, f.SrcPort}
	const syn, ack, fin, rst = datasets.FlagSYN, datasets.FlagACK, datasets.FlagFIN, datasets.FlagRST
	fl := f.TCPFlags
	switch f.Proto {
	case datasets.ProtoTCP:
		switch {
		case f.HasReverse:
			if fl&syn != 0 {
				d.note(fwd, start, true, f.RevPackets > 0 && f.Packets >= 3 && fl&ack != 0)
			}
		case fl&syn != 0 && fl&ack == 0:
			d.note(fwd, start, true, false)
		case fl&syn != 0:
			// An accepted connection: the sender's attempt succeeded,
			// or the sender accepted the other side's.
			d.note(fwd, start, true, true)
			d.note(rev, start, false, true)
		case fl&(ack|rst) == 0:
			d.note(fwd, start, true, false) // FIN, NULL or Xmas probe
		}
	case datasets.ProtoUDP:
		if f.HasReverse {
			d.note(fwd, start, true, f.RevPackets > 0)
		} else {
			d.note(fwd, start, true, false)
			d.note(rev, start, false, true)
		}
	case datasets.ProtoICMP, datasets.ProtoICMPv6:
		typ := uint8(f.DstPort >> 8)
		req, reply := uint8(8), uint8(0)
		if f.Proto == datasets.ProtoICMPv6 {
			req, reply = 128, 129
		}
		switch {
		case typ == req && f.HasReverse:
			d.note(attemptKey{f.SrcAddr, f.DstAddr, f.Proto, 0}, start, true, f.RevPackets > 0)
		case typ == req:
			d.note(attemptKey{f.SrcAddr, f.DstAddr, f.Proto, 0}, start, true, false)
		case typ == reply:
			d.note(attemptKey{f.DstAddr, f.SrcAddr, f.Proto, 0}, start, false, true)
		}
	}
}

// AddBatch counts every flow of a batch.
func (d *Detector) AddBatch(flows []datasets.Flow) {
	for i := range flows {
		d.Add(&flows[i])
	}
}

type done struct {
	attemptKey
	*attempt
}

// sweep feeds the attempts that started at or before cut to the walks, in
// time order.
func (d *Detector) sweep(cut int64) {
	d.sweptUpTo = cut
	var ready []done
	for k, a := range d.attempts {
		if a.first <= cut {
			if a.real {
				ready = append(ready, done{k, a})
			}
			delete(d.attempts, k)
		}
	}
	slices.SortFunc(ready, func(x, y done) int {
		return cmp.Or(cmp.Compare(x.first, y.first), x.src.Compare(y.src), x.dst.Compare(y.dst),
			cmp.Compare(x.proto, y.proto), cmp.Compare(x.port, y.port))
	})
	for _, a := range ready {
		h := d.horizontal[a.src]
		if h == nil {
			h = &walk{seen: map[any]bool{}}
			d.horizontal[a.src] = h
		}
		d.step(h, Horizontal, a, a.dst)
		pk := pairKey{a.src, a.dst}
		v := d.vertical[pk]
		if v == nil {
			if a.success {
				// A pair's walk starts at its first failure: successes
				// before it only lead towards benign, and most pairs
				// (a client and its server) never fail.
				continue
			}
			v = &walk{seen: map[any]bool{}}
			d.vertical[pk] = v
		}
		d.step(v, Vertical, a, PortCount{Proto: a.proto, Port: a.port})
		if len(v.seen) == 0 && v.decided == nil {
			delete(d.vertical, pk)
		}
		if len(h.seen) == 0 && h.decided == nil {
			delete(d.horizontal, a.src)
		}
	}
}

// step adds one attempt to a walk; what is the thing first contacted (a
// destination or a port).
func (d *Detector) step(w *walk, kind Kind, a done, what any) {
	if w.seen[what] {
		return
	}
	if w.decided == nil || len(w.seen) < d.cfg.MaxContacts {
		w.seen[what] = true
	}
	if w.contacts == 0 {
		w.start = a.first
		w.lo, w.hi = a.port, a.port
	}
	w.lo, w.hi = min(w.lo, a.port), max(w.hi, a.port)
	w.end = a.first
	w.contacts++
	if a.success {
		w.succ++
	} else {
		w.fail++
	}
	pc := PortCount{Proto: a.proto, Port: a.port}
	if w.ports == nil {
		w.ports = map[PortCount]int{}
	}
	if len(w.ports) < 4096 {
		w.ports[pc]++
	}
	if kind == Horizontal && len(w.targets) < d.cfg.TopTargets {
		w.targets = append(w.targets, a.dst)
	}
	if w.decided != nil {
		return
	}
	if a.success {
		w.logRatio += d.down
	} else {
		w.logRatio += d.up
	}
	switch {
	case w.logRatio >= d.eta1:
		al := &Alarm{Kind: kind, Source: a.src, Decided: time.Unix(0, a.first).UTC(),
			DecidedAfter: w.contacts, Ratio: math.Exp(w.logRatio)}
		if kind == Vertical {
			al.Target = a.dst
		}
		w.decided = al
		d.alarms = append(d.alarms, al)
	case w.logRatio <= d.eta0:
		*w = walk{seen: map[any]bool{}} // benign: start afresh
	}
}

// Alarms feeds every pending attempt to the walks and returns the scans
// found, by start time, then kind and source.
func (d *Detector) Alarms() []Alarm {
	d.sweep(math.MaxInt64)
	fill := func(w *walk) {
		a := w.decided
		if a == nil {
			return
		}
		a.Start, a.End = time.Unix(0, w.start).UTC(), time.Unix(0, w.end).UTC()
		a.Contacts, a.Successes, a.Failures = w.contacts, w.succ, w.fail
		a.PortLow, a.PortHigh = w.lo, w.hi
		a.Ports = a.Ports[:0]
		for pc, n := range w.ports {
			pc.Count = n
			a.Ports = append(a.Ports, pc)
		}
		slices.SortFunc(a.Ports, func(x, y PortCount) int {
			return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Proto, y.Proto), cmp.Compare(x.Port, y.Port))
		})
		a.Ports = a.Ports[:min(len(a.Ports), d.cfg.TopPorts)]
		a.Targets = slices.Clone(w.targets)
	}
	for _, w := range d.horizontal {
		fill(w)
	}
	for _, w := range d.vertical {
		fill(w)
	}
	out := make([]Alarm, 0, len(d.alarms))
	for _, a := range d.alarms {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(x, y Alarm) int {
		return cmp.Or(x.Start.Compare(y.Start), cmp.Compare(x.Kind, y.Kind), x.Source.Compare(y.Source), x.Target.Compare(y.Target))
	})
	return out
}
