// Package lifespans estimates how long flows live, per group of flows: by
// protocol, by service port and, when host clusters are known, by the
// cluster of the internal host. Each group gets a Kaplan–Meier survival
// curve with its median lifespan and confidence interval, and each
// grouping the log-rank (Mantel–Cox) test of whether its groups share one
// lifespan distribution (models/survival does the estimation).
//
// A flow record's lifespan is |End-Start| in seconds (exporters give
// milliseconds; some IPFIX exporters swap the two times). The record is
// censored, that is known only to have lived at least that long, when:
//
//   - it lasted at least the exporter's active timeout less Slack: the
//     exporter cut it and the flow went on in a later record;
//   - it ends after the window's edge (Config.WindowEnd, the --until of
//     a run): it is counted up to the edge, censored there;
//   - it is TCP without FIN or RST: the connection was still open when the
//     exporter wrote the record (an idle timeout of a connection that was
//     to go on, a flush when the exporter stopped).
//
// Every other record ended: a TCP record with FIN or RST, any other
// protocol's record expired by the exporter's idle timeout. Flows that
// began before the window (left truncation) keep the duration their record
// gives. Each direction of a connection is a record of its own in NetFlow,
// and so a flow of its own here; a bidirectional record (Argus) is one.
//
// Memory grows with the number of distinct durations per group, not with
// flows (survival.Tally).
package lifespans

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/models/survival"
)

// Config says how flows are censored and grouped.
type Config struct {
	// ActiveTimeout is the exporter's active timeout: records that lasted
	// at least ActiveTimeout-Slack were cut by it.
	ActiveTimeout time.Duration
	// Slack allows for exporters that cut a little before the timeout.
	Slack time.Duration
	// WindowEnd, when set, is the edge of the time window read: flows
	// ending after it are censored at it.
	WindowEnd time.Time
	// Ports is how many service ports get a group of their own (those
	// with the most flows); the others share the group "other".
	Ports int
	// Cluster, when set, names the cluster of a host, or false when the
	// host has none; flows then also group by the cluster of their
	// source, or else of their destination ("unclustered" when neither).
	Cluster func(netip.Addr) (string, bool)
	// Alpha is the error level of confidence intervals and of the
	// log-rank test's verdict; 0 means survival.DefaultAlpha.
	Alpha float64
}

// DefaultConfig: nfpcapd's 300 s active timeout (set Cisco's 1800 s, or
// your exporter's, with --active-timeout), 1 s slack, the eight busiest
// service ports, 95% intervals.
func DefaultConfig() Config {
	return Config{ActiveTimeout: 300 * time.Second, Slack: time.Second, Ports: 8}
}

// ErrConfig is wrapped by New's errors.
var ErrConfig = errors.New("invalid lifespan configuration")

// The groupings.
const (
	ByProtocol = "protocol"
	ByService  = "service port"
	ByCluster  = "host cluster"
)

// Lifespans accumulates flow lifespans by group. It is not safe for
// concurrent use; Merge combines the parts of a stream counted apart.
type Lifespans struct {
	cfg      Config
	protocol map[string]*survival.Tally
	service  map[string]*survival.Tally
	cluster  map[string]*survival.Tally
	flows    map[string]int64 // flows per service group, to rank them
	n        int64
	censored int64

	// Add counts by service group and whole millisecond in counts
	// (a group's protocol is its protocol's group); settle moves them
	// into the tallies above. A Tally keyed by float seconds costs far
	// more a flow than a map keyed by one integer.
	groups    []serviceGroup
	portGroup [3][]int32 // TCP, UDP, SCTP: group index+1 by port
	protGroup [256]int32 // other protocols: group index+1
	counts    map[uint64]int64
}

// serviceGroup is a service port's group ("80/tcp") and the flows it
// counted since the last settle.
type serviceGroup struct {
	name  string
	proto uint8
	flows int64
	long  *survival.Tally // lifespans of 2^40 ms or more
}

// countKey packs a group, a lifespan in milliseconds (below 2^40) and
// whether the flow ended.
func countKey(g int32, ms int64, ended bool) uint64 {
	k := uint64(g)<<41 | uint64(ms)<<1
	if ended {
		k |= 1
	}
	return k
}

// New checks cfg and returns an empty accumulator.
func New(cfg Config) (*Lifespans, error) {
	if cfg.ActiveTimeout <= 0 {
		return nil, fmt.Errorf("%w: active timeout %v", ErrConfig, cfg.ActiveTimeout)
	}
	if cfg.Slack < 0 || cfg.Slack >= cfg.ActiveTimeout {
		return nil, fmt.Errorf("%w: slack %v (0 up to the active timeout)", ErrConfig, cfg.Slack)
	}
	if cfg.Ports < 1 {
		return nil, fmt.Errorf("%w: %d service ports", ErrConfig, cfg.Ports)
	}
	if cfg.Alpha < 0 || cfg.Alpha >= 1 {
		return nil, fmt.Errorf("%w: alpha %v", ErrConfig, cfg.Alpha)
	}
	return &Lifespans{
		cfg:      cfg,
		protocol: map[string]*survival.Tally{},
		service:  map[string]*survival.Tally{},
		cluster:  map[string]*survival.Tally{},
		flows:    map[string]int64{},
		counts:   map[uint64]int64{},
	}, nil
}

// lifespan is a record's lifespan in whole milliseconds and whether it was
// seen to end, by the package's censoring rule.
func (cfg *Config) lifespan(f *datasets.Flow) (ms int64, ended bool) {
	start, end := f.Start, f.End
	if end.Before(start) {
		start, end = end, start
	}
	d := end.Sub(start)
	ended = true
	if f.Proto == datasets.ProtoTCP && f.TCPFlags&(datasets.FlagFIN|datasets.FlagRST) == 0 {
		ended = false
	}
	if d >= cfg.ActiveTimeout-cfg.Slack {
		ended = false
	}
	if !cfg.WindowEnd.IsZero() && end.After(cfg.WindowEnd) {
		d, ended = max(cfg.WindowEnd.Sub(start), 0), false
	}
	return d.Milliseconds(), ended
}

// ServicePort is the port a flow is grouped by: the lower of its two
// ports for TCP, UDP and SCTP (a client's ephemeral port is the higher
// one), rendered "80/tcp"; the protocol's name in lower case for others.
func ServicePort(f *datasets.Flow) string {
	name := strings.ToLower(datasets.ProtoName(f.Proto))
	switch f.Proto {
	case datasets.ProtoTCP, datasets.ProtoUDP, 132:
		return fmt.Sprintf("%d/%s", min(f.SrcPort, f.DstPort), name)
	}
	return name
}

func tally(m map[string]*survival.Tally, key string) *survival.Tally {
	t := m[key]
	if t == nil {
		t = new(survival.Tally)
		m[key] = t
	}
	return t
}

// group returns the index of f's service group, made on first sight.
func (l *Lifespans) group(f *datasets.Flow) int32 {
	var slot *int32
	switch f.Proto {
	case datasets.ProtoTCP, datasets.ProtoUDP, 132:
		i := 0
		switch f.Proto {
		case datasets.ProtoUDP:
			i = 1
		case 132:
			i = 2
		}
		if l.portGroup[i] == nil {
			l.portGroup[i] = make([]int32, 1<<16)
		}
		slot = &l.portGroup[i][min(f.SrcPort, f.DstPort)]
	default:
		slot = &l.protGroup[f.Proto]
	}
	if *slot == 0 {
		l.groups = append(l.groups, serviceGroup{name: ServicePort(f), proto: f.Proto})
		*slot = int32(len(l.groups))
	}
	return *slot - 1
}

// settle moves the counts since the last settle into the tallies.
func (l *Lifespans) settle() {
	for k, n := range l.counts {
		g := &l.groups[k>>41]
		d, ended := float64(int64(k>>1&(1<<40-1)))/1000, k&1 != 0
		tally(l.protocol, strings.ToLower(datasets.ProtoName(g.proto))).Add(d, ended, n)
		tally(l.service, g.name).Add(d, ended, n)
	}
	clear(l.counts)
	for i := range l.groups {
		g := &l.groups[i]
		if g.long != nil {
			p, s := tally(l.protocol, strings.ToLower(datasets.ProtoName(g.proto))), tally(l.service, g.name)
			for _, c := range g.long.Counts() {
				for _, t := range []*survival.Tally{p, s} {
					t.Add(c.Time, true, c.Events)
					t.Add(c.Time, false, c.Censored)
				}
			}
			g.long = nil
		}
		if g.flows > 0 {
			l.flows[g.name] += g.flows
			g.flows = 0
		}
	}
}

// Add counts one flow record.
func (l *Lifespans) Add(f *datasets.Flow) {
	ms, ended := l.cfg.lifespan(f)
	l.n++
	if !ended {
		l.censored++
	}
	gi := l.group(f)
	g := &l.groups[gi]
	g.flows++
	if ms < 1<<40 {
		l.counts[countKey(gi, ms, ended)]++
	} else {
		if g.long == nil {
			g.long = new(survival.Tally)
		}
		g.long.Add(float64(ms)/1000, ended, 1)
	}
	if l.cfg.Cluster != nil {
		d := float64(ms) / 1000
		c, ok := l.cfg.Cluster(f.SrcAddr)
		if !ok {
			c, ok = l.cfg.Cluster(f.DstAddr)
		}
		if !ok {
			c = "unclustered"
		}
		tally(l.cluster, c).Add(d, ended, 1)
	}
}

// AddBatch counts every flow of a batch.
func (l *Lifespans) AddBatch(flows []datasets.Flow) {
	for i := range flows {
		l.Add(&flows[i])
	}
}

// Merge adds what o counted (with the same Config) to l.
func (l *Lifespans) Merge(o *Lifespans) {
	l.settle()
	o.settle()
	merge := func(dst, src map[string]*survival.Tally) {
		for k, t := range src {
			d := tally(dst, k)
			for _, c := range t.Counts() {
				d.Add(c.Time, true, c.Events)
				d.Add(c.Time, false, c.Censored)
			}
		}
	}
	merge(l.protocol, o.protocol)
	merge(l.service, o.service)
	merge(l.cluster, o.cluster)
	for k, n := range o.flows {
		l.flows[k] += n
	}
	l.n += o.n
	l.censored += o.censored
}

// Group is the lifespans of one group of flows.
type Group struct {
	Name                   string
	Flows, Ended, Censored int64
	Curve                  *survival.KaplanMeier
	// Median is the median lifespan in seconds, with its confidence
	// interval; NaN when fewer than half the flows were seen to end.
	Median, MedianLower, MedianUpper float64
}

// Grouping is one way of grouping flows, its groups (most flows first)
// and the log-rank test between them.
type Grouping struct {
	Name   string
	Groups []Group
	// LogRank is the test between the groups; nil with TestErr set when
	// it cannot be made (one group only, no flow seen to end).
	LogRank *survival.LogRank
	TestErr error
}

// TestText says in words what the grouping's log-rank test found at the
// level alpha (survival.DefaultAlpha when 0).
func (g *Grouping) TestText(alpha float64) string {
	if len(g.Groups) < 2 {
		return "one group, nothing to compare"
	}
	if g.LogRank == nil {
		return fmt.Sprintf("no log-rank test (%v)", g.TestErr)
	}
	if alpha == 0 {
		alpha = survival.DefaultAlpha
	}
	lr := g.LogRank
	verdict := "lifespans differ between groups"
	if !g.Significant(alpha) {
		verdict = "no difference shown"
	}
	return fmt.Sprintf("log-rank chi2 %.4g on %d df, p = %.3g: %s at the %g%% level",
		lr.Statistic(), lr.DF(), lr.PValue(), verdict, 100*alpha)
}

// Result is every grouping of the flows counted.
type Result struct {
	Flows, Censored int64
	Config          Config
	Groupings       []Grouping
}

// Result estimates the curves and runs the tests.
func (l *Lifespans) Result() (Result, error) {
	l.settle()
	res := Result{Flows: l.n, Censored: l.censored, Config: l.cfg}
	if l.n == 0 {
		return res, survival.ErrEmpty
	}
	services := map[string]*survival.Tally{}
	names := make([]string, 0, len(l.flows))
	for k := range l.flows {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(l.flows[b], l.flows[a]), strings.Compare(a, b))
	})
	for i, k := range names {
		key := k
		if i >= l.cfg.Ports {
			key = "other"
		}
		d := tally(services, key)
		for _, c := range l.service[k].Counts() {
			d.Add(c.Time, true, c.Events)
			d.Add(c.Time, false, c.Censored)
		}
	}
	for _, g := range []struct {
		name string
		m    map[string]*survival.Tally
	}{{ByProtocol, l.protocol}, {ByService, services}, {ByCluster, l.cluster}} {
		if len(g.m) == 0 {
			continue
		}
		gr, err := l.grouping(g.name, g.m)
		if err != nil {
			return res, err
		}
		res.Groupings = append(res.Groupings, gr)
	}
	return res, nil
}

func (l *Lifespans) grouping(name string, m map[string]*survival.Tally) (Grouping, error) {
	gr := Grouping{Name: name}
	var counts [][]survival.Count
	for k, t := range m {
		c := t.Counts()
		g := Group{Name: k, Curve: &survival.KaplanMeier{Alpha: l.cfg.Alpha}}
		for _, x := range c {
			g.Ended += x.Events
			g.Censored += x.Censored
		}
		g.Flows = g.Ended + g.Censored
		if err := g.Curve.FitCounts(c); err != nil {
			return gr, fmt.Errorf("%s %s: %w", name, k, err)
		}
		g.Median = g.Curve.Median()
		g.MedianLower, g.MedianUpper = g.Curve.MedianCI()
		gr.Groups = append(gr.Groups, g)
	}
	slices.SortFunc(gr.Groups, func(a, b Group) int {
		if a.Name == "other" || b.Name == "other" {
			return cmp.Compare(boolInt(a.Name == "other"), boolInt(b.Name == "other"))
		}
		return cmp.Or(cmp.Compare(b.Flows, a.Flows), strings.Compare(a.Name, b.Name))
	})
	for _, g := range gr.Groups {
		counts = append(counts, m[g.Name].Counts())
	}
	lr := new(survival.LogRank)
	if err := lr.Fit(counts); err != nil {
		gr.TestErr = err
	} else {
		gr.LogRank = lr
	}
	return gr, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Significant reports whether the log-rank test rejects equal lifespans at
// the configured level.
func (g *Grouping) Significant(alpha float64) bool {
	if g.LogRank == nil {
		return false
	}
	return g.LogRank.PValue() < cmp.Or(alpha, survival.DefaultAlpha)
}
