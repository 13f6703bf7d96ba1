// Package unexpected scores how unexpected a night's flow rates are
// against the rates of earlier nights, the Perl NetFlow logger's
// "unexpectedness" U·La/(Ln+La), made precise.
//
// A service is a server of the site (in Config.Internal) and one of its
// ports: the endpoint of a flow record with the lower port, and that port
// with the protocol ("10.0.0.5 443/tcp"; "10.0.0.5 icmp" for ICMP, keyed
// by destination); and a port over the whole site, whatever the server
// ("* 443/tcp"). A lower port that is no service
// port (below 1024 or one of features.DefaultServicePorts) is counted as
// port 0, "10.0.0.5 0/tcp": peer-to-peer and media flows between two high
// ports would otherwise make a service of every port pair. Every record counts, in both
// directions. For each service a Profile counts flows and packets per
// interval (one minute by default) from the night's first interval to its
// last, quiet intervals included as zeros.
//
// The baseline of a service and a measure (flows or packets per interval)
// comes from the nights before: each night stores the mean m_i and the
// standard deviation s_i of its per-interval counts (Profile.Metrics; a
// night without the service counts as m_i = s_i = 0). Over the n nights
//
//	mu    = mean of m_i
//	sigma = sqrt(mean of (s_i² + (m_i - mu)²))
//
// the pooled spread within and between nights. The spread used is
// sigma' = max(sigma, sqrt(max(mu, 1))): counts vary at least as much as a
// Poisson count of the same mean, and a service silent in the baseline is
// measured in counts.
//
// In the night scored, each interval t with count c_t has the standardised
// excess z_t = (c_t - mu)/sigma'. With Z the anomaly threshold (3 by
// default) and MinCount the least count that can be anomalous (20 by
// default: a handful of flows to a port never seen before is no event):
//
//	La = number of intervals with z_t > Z and c_t >= MinCount (anomalous)
//	Ln = number of the night's other intervals (normal)
//	U  = the largest z_t (how far the worst interval lies from normal)
//
// and the unexpectedness is U·La/(Ln+La): the peak excess weighted by the
// share of the night it lasted. A service whose score reaches Threshold
// (3 by default: an excess of three spreads all night, or of thirty for a
// tenth of it) is an alarm; the alarm carries every input.
package unexpected

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/features"
)

// Formula states the unexpectedness formula and its inputs, for people
// reading the scores.
const Formula = "unexpectedness = U·La/(Ln+La): U = max over intervals of (count - mu)/sigma', La = intervals with (count - mu)/sigma' > Z and count >= MinCount, Ln = the night's other intervals; mu, sigma = mean and pooled spread of the per-interval count over the earlier nights, sigma' = max(sigma, sqrt(max(mu, 1)))"

// Config says how rates are counted and judged.
type Config struct {
	// Interval is the length of one count.
	Interval time.Duration
	// Z is the standardised excess above which an interval is anomalous.
	Z float64
	// MinCount is the least count in an interval that can be anomalous.
	MinCount float64
	// Threshold is the lowest unexpectedness that is an alarm.
	Threshold float64
	// MinNights is the fewest earlier nights a baseline needs.
	MinNights int
	// Internal are the site's networks: only their servers get services
	// of their own (the site-wide ones count every server).
	Internal []netip.Prefix
}

// DefaultConfig: one-minute intervals, Z = 3, at least 20 a minute,
// threshold 3, at least three nights, the internal networks of
// features.DefaultInternal.
func DefaultConfig() Config {
	return Config{Interval: time.Minute, Z: 3, MinCount: 20, Threshold: 3, MinNights: 3, Internal: features.DefaultInternal()}
}

// ErrConfig is wrapped by New's errors.
var ErrConfig = errors.New("invalid unexpectedness configuration")

// Measure is what is counted per interval.
type Measure uint8

// The measures.
const (
	Flows Measure = iota
	Packets
	numMeasures
)

func (m Measure) String() string {
	if m == Flows {
		return "flows"
	}
	return "packets"
}

// MetricName is the name a measure's nightly mean (or, with sd, standard
// deviation) is stored under in the history database's metrics: e.g.
// "unexpected.flows_per_60s.mean".
func (c *Config) MetricName(m Measure, sd bool) string {
	stat := "mean"
	if sd {
		stat = "sd"
	}
	return fmt.Sprintf("unexpected.%s_per_%ds.%s", m, int64(c.Interval/time.Second), stat)
}

// Service names what is counted: a server (invalid for the whole site)
// and a port.
type Service struct {
	Server netip.Addr
	Port   uint16 // 0 for ICMP and other protocols without ports
	Proto  uint8
}

// String renders a service as it is keyed in the metrics: "10.0.0.5
// 443/tcp", "* 53/udp", "10.0.0.5 icmp".
func (s Service) String() string {
	srv := "*"
	if s.Server.IsValid() {
		srv = s.Server.String()
	}
	name := strings.ToLower(datasets.ProtoName(s.Proto))
	switch s.Proto {
	case datasets.ProtoTCP, datasets.ProtoUDP, 132:
		return fmt.Sprintf("%s %d/%s", srv, s.Port, name)
	}
	return srv + " " + name
}

// ParseService reads what String writes.
func ParseService(s string) (Service, error) {
	srv, rest, ok := strings.Cut(s, " ")
	if !ok {
		return Service{}, fmt.Errorf("service %q: want SERVER PORT/PROTO", s)
	}
	var out Service
	if srv != "*" {
		a, err := netip.ParseAddr(srv)
		if err != nil {
			return Service{}, fmt.Errorf("service %q: %w", s, err)
		}
		out.Server = a
	}
	port, proto, hasPort := strings.Cut(rest, "/")
	if !hasPort {
		proto = rest
	}
	p, ok := datasets.ParseProto(proto)
	if !ok {
		return Service{}, fmt.Errorf("service %q: protocol %q", s, proto)
	}
	out.Proto = p
	if hasPort {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return Service{}, fmt.Errorf("service %q: port: %w", s, err)
		}
		out.Port = uint16(n)
	}
	return out, nil
}

// Profile counts a night's flows and packets per service and interval.
// It is not safe for concurrent use; flows may come in any order.
type Profile struct {
	cfg    Config
	counts map[Service]*serviceCounts
	// counts4 finds the counts of a service without a server or with
	// an IPv4 one by a packed key (packService), which hashes several
	// times faster than a Service; counts holds every service.
	counts4        map[uint64]*serviceCounts
	service        [65536 / 64]uint64 // bit p: port p is a service port
	first, last    int64              // intervals
	seen           bool
	firstT, lastT  time.Time
	flows, records uint64
	// scratch holds the series that series returns, valid until its
	// next call.
	scratch []float64
}

// serviceCounts are a service's counts per interval. They start in a
// map; a service counted in many intervals moves those from its earliest
// on into a slice (a night has 1,440 one-minute intervals), where
// counting costs no hashing, and keeps the others (a clock far off) in
// the map.
type serviceCounts struct {
	base  int64                  // interval of dense[0], when dense is set
	dense [][numMeasures]float64 // nil until the map has denseAfter entries
	other map[int64][numMeasures]float64
}

const (
	// denseAfter is how many intervals a service is counted in before
	// its counts move to a slice.
	denseAfter = 64
	// maxDense bounds the intervals a service keeps in its slice.
	maxDense = 1 << 12
)

// add adds flows and packets to interval iv.
func (c *serviceCounts) add(iv int64, flows, packets float64) {
	if c.dense != nil {
		if i := iv - c.base; i >= 0 && i < maxDense {
			if int(i) >= len(c.dense) {
				c.dense = append(c.dense, make([][numMeasures]float64, int(i)+1-len(c.dense))...)
			}
			c.dense[i][Flows] += flows
			c.dense[i][Packets] += packets
			return
		}
	}
	if c.other == nil {
		c.other = map[int64][numMeasures]float64{}
	}
	v := c.other[iv]
	v[Flows] += flows
	v[Packets] += packets
	c.other[iv] = v
	if c.dense == nil && len(c.other) >= denseAfter {
		c.base = iv
		for k := range c.other {
			c.base = min(c.base, k)
		}
		c.dense = make([][numMeasures]float64, 1, 2*denseAfter)
		for k, v := range c.other {
			if i := k - c.base; i < maxDense {
				if int(i) >= len(c.dense) {
					c.dense = append(c.dense, make([][numMeasures]float64, int(i)+1-len(c.dense))...)
				}
				c.dense[i] = v
				delete(c.other, k)
			}
		}
	}
}

// New checks cfg and returns an empty profile.
func New(cfg Config) (*Profile, error) {
	if cfg.Interval < time.Second || cfg.Interval%time.Second != 0 {
		return nil, fmt.Errorf("%w: interval %v (whole seconds, at least one)", ErrConfig, cfg.Interval)
	}
	if !(cfg.Z > 0) || !(cfg.Threshold > 0) || cfg.MinNights < 1 || cfg.MinCount < 0 {
		return nil, fmt.Errorf("%w: Z %g, threshold %g, %d nights, least count %g", ErrConfig, cfg.Z, cfg.Threshold, cfg.MinNights, cfg.MinCount)
	}
	p := &Profile{cfg: cfg, counts: map[Service]*serviceCounts{}, counts4: map[uint64]*serviceCounts{}}
	for port := range 1024 {
		p.service[port/64] |= 1 << (port % 64)
	}
	for _, port := range features.DefaultServicePorts() {
		p.service[port/64] |= 1 << (port % 64)
	}
	return p, nil
}

// internal reports whether a lies in the site's networks.
func (p *Profile) internal(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p.cfg.Internal {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// ServiceOf is the service a flow record belongs to (see the package
// documentation).
func (p *Profile) ServiceOf(f *datasets.Flow) Service {
	switch f.Proto {
	case datasets.ProtoTCP, datasets.ProtoUDP, 132:
		s := Service{Server: f.DstAddr, Port: f.DstPort, Proto: f.Proto}
		if f.SrcPort < f.DstPort {
			s.Server, s.Port = f.SrcAddr, f.SrcPort
		}
		if p.service[s.Port/64]&(1<<(s.Port%64)) == 0 {
			s.Port = 0
		}
		return s
	}
	return Service{Server: f.DstAddr, Proto: f.Proto}
}

// Add counts one flow record (a bidirectional one with answers as two) in
// the interval of its start.
func (p *Profile) Add(f *datasets.Flow) {
	start := f.Start
	if f.End.Before(start) {
		start = f.End
	}
	iv := floorDiv(start.UnixNano(), int64(p.cfg.Interval))
	n, pk := 1.0, float64(f.Packets)
	if f.HasReverse && f.RevPackets > 0 {
		n, pk = 2, pk+float64(f.RevPackets)
	}
	s := p.ServiceOf(f)
	keys := []Service{{Port: s.Port, Proto: s.Proto}, s}
	if !p.internal(s.Server) {
		keys = keys[:1]
	}
	for _, key := range keys {
		p.countsOf(key).add(iv, n, pk)
	}
	if !p.seen || iv < p.first {
		p.first = iv
	}
	if !p.seen || iv > p.last {
		p.last = iv
	}
	if !p.seen || start.Before(p.firstT) {
		p.firstT = start
	}
	if end := f.End; !p.seen || end.After(p.lastT) {
		p.lastT = end
	}
	p.seen = true
	p.records++
}

// countsOf returns the counts of service s, new ones on first sight.
func (p *Profile) countsOf(s Service) *serviceCounts {
	k, packed := packService(s)
	if packed {
		if c := p.counts4[k]; c != nil {
			return c
		}
	}
	c := p.counts[s]
	if c == nil {
		c = &serviceCounts{}
		p.counts[s] = c
	}
	if packed {
		p.counts4[k] = c
	}
	return c
}

// packService packs a service without a server (bit 63) or with an IPv4
// one (bit 62) into 64 bits; it reports false for an IPv6 server.
func packService(s Service) (uint64, bool) {
	switch {
	case !s.Server.IsValid():
		return 1<<63 | uint64(s.Proto)<<16 | uint64(s.Port), true
	case s.Server.Is4():
		b := s.Server.As4()
		return 1<<62 | uint64(binary.BigEndian.Uint32(b[:]))<<24 | uint64(s.Proto)<<16 | uint64(s.Port), true
	}
	return 0, false
}

// AddBatch counts every flow of a batch.
func (p *Profile) AddBatch(flows []datasets.Flow) {
	for i := range flows {
		p.Add(&flows[i])
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Span returns the earliest record start and latest record end counted.
func (p *Profile) Span() (first, last time.Time) { return p.firstT, p.lastT }

// Intervals is the number of intervals the night spans.
func (p *Profile) Intervals() int {
	if !p.seen {
		return 0
	}
	return int(p.last - p.first + 1)
}

// series returns a service's counts of one measure over the night's
// intervals, zeros included, in a slice valid until the next call.
func (p *Profile) series(s Service, m Measure) []float64 {
	n := p.Intervals()
	if cap(p.scratch) < n {
		p.scratch = make([]float64, n)
	}
	out := p.scratch[:n]
	clear(out)
	c := p.counts[s]
	if c == nil {
		return out
	}
	for i, x := range c.dense {
		out[c.base+int64(i)-p.first] = x[m]
	}
	for iv, x := range c.other {
		out[iv-p.first] = x[m]
	}
	return out
}

// Metric is one value a night stores for the baselines of later nights;
// it has the shape of the history database's metrics (metric, key, value).
type Metric struct {
	Metric string
	Key    string
	Value  float64
}

// Metrics returns the night's mean and standard deviation of every
// service's per-interval counts, in a fixed order.
func (p *Profile) Metrics() []Metric {
	var out []Metric
	var names [numMeasures][2]string
	for m := range numMeasures {
		names[m] = [2]string{p.cfg.MetricName(m, false), p.cfg.MetricName(m, true)}
	}
	for _, s := range p.services() {
		for m := Measure(0); m < numMeasures; m++ {
			mean, sd := meanSD(p.series(s.Service, m))
			out = append(out,
				Metric{Metric: names[m][0], Key: s.name, Value: mean},
				Metric{Metric: names[m][1], Key: s.name, Value: sd})
		}
	}
	return out
}

// namedService is a service and its name (Service.String).
type namedService struct {
	Service
	name string
}

// services returns the services counted, sorted by their names.
func (p *Profile) services() []namedService {
	out := make([]namedService, 0, len(p.counts))
	for s := range p.counts {
		out = append(out, namedService{s, s.String()})
	}
	slices.SortFunc(out, func(a, b namedService) int { return strings.Compare(a.name, b.name) })
	return out
}

// meanSD is the mean and the population standard deviation.
func meanSD(x []float64) (mean, sd float64) {
	if len(x) == 0 {
		return 0, 0
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		sd += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(sd / float64(len(x)))
}

// NightValue is one stored metric value of an earlier night (the history
// database's MetricValue, with its metric's name).
type NightValue struct {
	Night  string
	Metric string
	Key    string
	Value  float64
}

// Norm is a service's normal rate of one measure: the pooled mean and
// spread of its per-interval counts over Nights nights.
type Norm struct {
	Mean, SD float64
	Nights   int
}

// Spread is the spread the score divides by: SD, at least the square root
// of max(Mean, 1).
func (n Norm) Spread() float64 { return math.Max(n.SD, math.Sqrt(math.Max(n.Mean, 1))) }

// Baseline is the norms of every service, learned from earlier nights.
type Baseline struct {
	Nights []string // the nights it was learned from, in order
	norms  [numMeasures]map[string]Norm
}

// NewBaseline pools the stored means and standard deviations of the
// nights given (the values of cfg's metric names; others are ignored).
// A night that stored the metrics but not a service counts as a night
// without the service.
func NewBaseline(cfg Config, values []NightValue) Baseline {
	var b Baseline
	nights := map[string]bool{}
	type acc struct{ means, sds map[string]float64 }
	per := [numMeasures]map[string]*acc{}
	for m := range per {
		per[m] = map[string]*acc{}
	}
	for _, v := range values {
		for m := Measure(0); m < numMeasures; m++ {
			sd := v.Metric == cfg.MetricName(m, true)
			if v.Metric != cfg.MetricName(m, false) && !sd {
				continue
			}
			nights[v.Night] = true
			a := per[m][v.Key]
			if a == nil {
				a = &acc{means: map[string]float64{}, sds: map[string]float64{}}
				per[m][v.Key] = a
			}
			if sd {
				a.sds[v.Night] = v.Value
			} else {
				a.means[v.Night] = v.Value
			}
		}
	}
	for n := range nights {
		b.Nights = append(b.Nights, n)
	}
	slices.Sort(b.Nights)
	nn := float64(len(b.Nights))
	for m := range per {
		b.norms[m] = map[string]Norm{}
		for key, a := range per[m] {
			mu := 0.0
			for _, n := range b.Nights {
				mu += a.means[n]
			}
			mu /= nn
			v := 0.0
			for _, n := range b.Nights {
				d := a.means[n] - mu
				v += a.sds[n]*a.sds[n] + d*d
			}
			b.norms[m][key] = Norm{Mean: mu, SD: math.Sqrt(v / nn), Nights: len(b.Nights)}
		}
	}
	return b
}

// Norm returns a service's norm for a measure; a service no night saw has
// mean and spread 0 over the baseline's nights.
func (b *Baseline) Norm(s Service, m Measure) Norm {
	return b.norm(s.String(), m)
}

// norm is Norm of the service named name.
func (b *Baseline) norm(name string, m Measure) Norm {
	if n, ok := b.norms[m][name]; ok {
		return n
	}
	return Norm{Nights: len(b.Nights)}
}

// Alarm is a service whose rate was unexpected, with every input of its
// score.
type Alarm struct {
	Service Service
	Measure Measure
	Norm    Norm
	// Interval is the counting interval; Peak the largest count in one,
	// PeakStart when that interval began.
	Interval  time.Duration
	Peak      float64
	PeakStart time.Time
	// U, La and Ln as in the package documentation; Score is U·La/(Ln+La).
	U      float64
	La, Ln int
	Score  float64
	// Start and End bound the anomalous intervals.
	Start, End time.Time
}

// ErrShortBaseline is returned by Score when the baseline has fewer
// nights than Config.MinNights.
var ErrShortBaseline = errors.New("baseline too short")

// Score judges every service of the night against the baseline and
// returns the alarms, highest score first.
func (p *Profile) Score(b Baseline) ([]Alarm, error) {
	if len(b.Nights) < p.cfg.MinNights {
		nights := "earlier nights"
		if len(b.Nights) == 1 {
			nights = "earlier night"
		}
		return nil, fmt.Errorf("%w: %d %s, %d needed", ErrShortBaseline, len(b.Nights), nights, p.cfg.MinNights)
	}
	var out []Alarm
	for _, s := range p.services() {
		for m := Measure(0); m < numMeasures; m++ {
			a := p.score(s.Service, m, b.norm(s.name, m))
			if a.La > 0 && a.Score >= p.cfg.Threshold {
				out = append(out, a)
			}
		}
	}
	slices.SortStableFunc(out, func(x, y Alarm) int { return cmp.Compare(y.Score, x.Score) })
	return out, nil
}

// score computes one service's unexpectedness for one measure.
func (p *Profile) score(s Service, m Measure, n Norm) Alarm {
	a := Alarm{Service: s, Measure: m, Norm: n, Interval: p.cfg.Interval, U: math.Inf(-1)}
	spread := n.Spread()
	first, last := int64(-1), int64(-1)
	for i, c := range p.series(s, m) {
		z := (c - n.Mean) / spread
		if z > a.U {
			a.U, a.Peak = z, c
			a.PeakStart = time.Unix(0, (p.first+int64(i))*int64(p.cfg.Interval)).UTC()
		}
		if z > p.cfg.Z && c >= p.cfg.MinCount {
			a.La++
			if first < 0 {
				first = int64(i)
			}
			last = int64(i)
		} else {
			a.Ln++
		}
	}
	if a.La+a.Ln > 0 {
		a.Score = a.U * float64(a.La) / float64(a.La+a.Ln)
	}
	if first >= 0 {
		a.Start = time.Unix(0, (p.first+first)*int64(p.cfg.Interval)).UTC()
		a.End = time.Unix(0, (p.first+last+1)*int64(p.cfg.Interval)).UTC()
	}
	return a
}
