package inventory

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
	"golang.org/x/sync/errgroup"
)

// Night gathers one run's classified downloads per host and turns them
// into verdicts. Hosts are the clients of downloads that internal accepts.
// It keeps, per host, the fetches its downloads named and the downloads
// that context could still explain (those with a catalog candidate, and
// keep-alive connections), so memory grows with hosts and their
// downloads, not with flows.
type Night struct {
	cfg      Config
	cl       *downloads.Classifier
	cat      *catalog.Catalog
	internal func(netip.Addr) bool
	unknowns *downloads.Unknowns
	hosts    map[netip.Addr]*host
	osAware  bool
	// families maps each catalog entry to its OS family, lower case.
	families map[string]string
	shares   map[string]float64
	nextID   int
	minPay   int64 // downloads smaller than any catalog file's response are not kept

	// index is the catalog's package index (nil without one), and
	// nullFits of nullTrials the night's downloads that fit it with its
	// sizes shifted: how often a download fits an index by chance.
	index                          *downloads.Index
	nullSeen, nullFits, nullTrials int

	// restricted holds, per family, the classifier that knows only the
	// family's files (nil when it has none); mu guards it.
	mu         sync.Mutex
	restricted map[string]*downloads.Classifier

	// Stats counts what the night's context added.
	Stats NightStats
}

// NightStats counts what host and site context contributed.
type NightStats struct {
	Downloads       int     // downloads of internal clients
	Named           int     // named by the classifier alone
	ChanceDiscarded int     // named, but of files released after the download
	UnknownsSeen    int     // distinct responses of files outside the catalog seen whole
	Connections     int     // keep-alive connections explained with context
	ConnectionFiles int     // catalog files found in them
	IndexFetches    int     // downloads of a package index (apt-get update)
	IndexChance     float64 // how often a download fits the index by chance
	OSSearched      int     // downloads searched again among their host's OS files
	OSSearchFiles   int     // catalog files that search found
}

type host struct {
	fetches []Fetch
	// pending are the host's downloads that its OS's files could still
	// explain: those the classifier left unknown or named as a file of
	// some family (which may not be the host's).
	pending []pending
	// pending is a min-heap by bytes once full: the smallest is dropped
	// first.
	dropped int // pending downloads beyond maxPending
	// droppedPossible are the entries the dropped downloads could hold,
	// with the earliest start of a download that could hold each: they
	// are listed as possibly fetched like the pending ones'.
	droppedPossible map[string]time.Time
	hints           []Hint
	// downloads counts the host's downloads, index the ones that fetched
	// the package index.
	downloads int
	index     []indexFetch
	// searched is the family whose files the host's downloads were
	// searched among ("" before any search).
	searched string
}

// indexFetch is a download of the package index.
type indexFetch struct {
	id  int
	d   features.Download
	fit downloads.IndexFit
}

// maxPending bounds the downloads kept per host for the search among its
// OS's files; beyond it the largest are kept.
const maxPending = 4096

// NewNight starts a night. cl is the classifier the downloads are answered
// with (adapted to the night's servers); cat is its catalog, carrying OS
// families, releases and release dates.
func NewNight(cfg Config, cl *downloads.Classifier, cat *catalog.Catalog, internal func(netip.Addr) bool) *Night {
	n := &Night{
		cfg: cfg, cl: cl, cat: cat, internal: internal,
		unknowns: cl.NewUnknowns(), hosts: map[netip.Addr]*host{},
		shares: Shares(cat),
	}
	n.families = make(map[string]string, len(cat.Entries))
	var index []catalog.Entry
	for _, e := range cat.Entries {
		n.families[e.Name] = strings.ToLower(e.OS)
		if e.OS != "" {
			n.osAware = true
		}
		if e.Kind == catalog.KindIndex {
			index = append(index, e)
		}
	}
	if len(index) > 0 {
		n.index = cl.NewIndex(index)
	}
	return n
}

// nullScales are the factors the index's sizes are shifted by to count
// how often the night's downloads fit an index by chance: far enough from
// 1 that the index fetches themselves do not fit them.
var nullScales = [...]float64{0.5, 0.6, 0.7, 0.8, 1.25, 1.4, 1.6, 2}

// nullDownloads is how many downloads the chance of an index fit is
// counted over; beyond them every nullStride-th download is.
const (
	nullDownloads = 1 << 14
	nullStride    = 16
)

// addIndex keeps an internal client's download when it fetched the
// index, and counts every other download in the null of index fits: how
// often one fits the index's sizes shifted.
func (n *Night) addIndex(d *features.Download, h *host, id int) {
	if n.index == nil || d.Sampling > 1 {
		return
	}
	if fit, ok := n.index.Fit(d, 1); ok {
		if h != nil {
			h.index = append(h.index, indexFetch{id, *d, fit})
		}
		return
	}
	n.nullSeen++
	if n.nullSeen <= nullDownloads || n.nullSeen%nullStride == 0 {
		for _, s := range nullScales {
			n.nullTrials++
			if _, ok := n.index.Fit(d, s); ok {
				n.nullFits++
			}
		}
	}
}

// OSAware reports whether the catalog names OS families at all.
func (n *Night) OSAware() bool { return n.osAware }

func (n *Night) host(a netip.Addr) *host {
	h := n.hosts[a]
	if h == nil {
		h = &host{}
		n.hosts[a] = h
	}
	return h
}

// Add records one classified download (r is the classifier's answer with
// its chance fit). Every download of the night should be added, internal
// client or not: loss-free downloads of files outside the catalog teach
// the night's unknown responses.
func (n *Night) Add(d *features.Download, r downloads.Answer) {
	n.unknowns.Add(d, r.Result)
	if !n.internal(d.Client) || r.Profile == downloads.ProfileSampled {
		n.addIndex(d, nil, 0)
		return
	}
	n.Stats.Downloads++
	h := n.host(d.Client)
	h.downloads++
	n.addIndex(d, h, n.nextID)
	if !r.Unknown() {
		if n.releasedAfter(r.Files, d.Start) {
			// A file published after the download cannot be what it
			// carried: a chance fit.
			n.Stats.ChanceDiscarded++
		} else {
			n.Stats.Named++
			_, loss := n.cl.Requests(d)
			f := Fetch{
				ID: n.nextID, Kind: KindDownload, Files: r.Files, When: d.Start,
				Server: netip.AddrPortFrom(d.Server, d.ServerPort), Loss: loss.String(),
				Exact: loss == downloads.LossFree,
			}
			f.Chance = r.Chance
			if len(r.Files) > 1 {
				// Multi-file answers are given for loss-free
				// connections only.
				f.Kind, f.Exact = KindConnection, true
			}
			h.fetches = append(h.fetches, f)
		}
	}
	// Every download whose size fits catalog files may still be
	// explained among the files of the host's OS: the classifier may
	// have named another family's file.
	if !n.cl.InRange(d) {
		n.nextID++
		return
	}
	p := pending{d: *d, id: n.nextID}
	n.nextID++
	if len(h.pending) < maxPending {
		h.pending = append(h.pending, p)
		if len(h.pending) == maxPending {
			heap.Init((*pendingHeap)(&h.pending))
		}
		return
	}
	// Full: the largest downloads are kept (the likeliest to be catalog
	// files), the smallest of them and this one compared.
	h.dropped++
	if top := &h.pending[0]; top.d.Bytes < d.Bytes {
		*top, p = p, *top
		heap.Fix((*pendingHeap)(&h.pending), 0)
	}
	if h.droppedPossible == nil {
		h.droppedPossible = map[string]time.Time{}
	}
	for _, name := range n.cl.Possible(&p.d) {
		if t, ok := h.droppedPossible[name]; !ok || p.d.Start.Before(t) {
			h.droppedPossible[name] = p.d.Start
		}
	}
}

// pendingHeap orders a host's full pending downloads as a min-heap by
// bytes, then ID (the same night gives the same heap).
type pendingHeap []pending

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	return cmp.Or(cmp.Compare(h[i].d.Bytes, h[j].d.Bytes), cmp.Compare(h[i].id, h[j].id)) < 0
}
func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)   { *h = append(*h, x.(pending)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// pending is a download kept for the search among its host's OS files,
// with the ID its fetches carry.
type pending struct {
	d  features.Download
	id int
	// possible are the entries d could hold (Classifier.Possible), once
	// asked: Verdicts and Verdict both list them.
	possible []string
	asked    bool
}

// possibleOf is the entries p's download could hold, worked out once.
func (n *Night) possibleOf(p *pending) []string {
	if !p.asked {
		p.possible, p.asked = n.cl.Possible(&p.d), true
	}
	return p.possible
}

// AddHint records weak evidence about a host (TTL class, a rule match,
// its cluster's majority).
func (n *Night) AddHint(a netip.Addr, h Hint) {
	n.host(a).hints = append(n.host(a).hints, h)
}

// releasedAfter reports whether a named file was published after t (a day
// of slack for catalogs that give dates only).
func (n *Night) releasedAfter(files []string, t time.Time) bool {
	for _, f := range files {
		if e, ok := n.cat.Lookup(f); ok && !e.Released.IsZero() && e.Released.After(t.Add(24*time.Hour)) {
			return true
		}
	}
	return false
}

// Hosts lists the hosts seen, in address order.
func (n *Night) Hosts() []netip.Addr {
	out := make([]netip.Addr, 0, len(n.hosts))
	for a := range n.hosts {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// Verdicts weighs every host's evidence: keep-alive connections are
// explained with the night's unknown responses, a first verdict names the
// OS where catalog evidence suffices, and the downloads of hosts with an
// OS are searched again among that OS's files (released before each
// download) before the final verdict.
func (n *Night) Verdicts(ctx context.Context) (map[netip.Addr]Verdict, error) {
	n.Stats.UnknownsSeen = n.unknowns.Len()
	if n.index != nil {
		// How often a download fits an index by chance: the night's
		// downloads against shifted index sizes, one fit more than
		// counted so that a quiet night claims no certainty.
		n.Stats.IndexChance = float64(n.nullFits+1) / float64(n.nullTrials+1)
		for _, a := range n.Hosts() {
			h := n.hosts[a]
			for _, x := range h.index {
				// A host with many downloads has more chances to fit.
				chance := math.Min(1, n.Stats.IndexChance*float64(max(h.downloads, 1)))
				h.fetches = append(h.fetches, Fetch{
					ID: x.id, Kind: KindIndex, Files: x.fit.Files, When: x.d.Start,
					Server: netip.AddrPortFrom(x.d.Server, x.d.ServerPort), Chance: chance, Exact: true,
					Loss: fmt.Sprintf("%d small responses beside", x.fit.Small),
				})
				n.Stats.IndexFetches++
			}
			h.index = nil
		}
	}
	// Hosts are weighed on every core: each host's search reads the
	// night's shared state (the classifier, the unknown responses, the
	// restricted classifiers) and writes only its own, so the verdicts do
	// not depend on the order.
	hosts := n.Hosts()
	verdicts := make([]Verdict, len(hosts))
	stats := make([]NightStats, runtime.GOMAXPROCS(0))
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for w := range stats {
		st := &stats[w]
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(hosts) {
					return nil
				}
				if i%64 == 0 {
					if err := gctx.Err(); err != nil {
						return err
					}
				}
				verdicts[i] = n.firstVerdict(n.hosts[hosts[i]], st)
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, st := range stats {
		n.Stats.Connections += st.Connections
		n.Stats.ConnectionFiles += st.ConnectionFiles
		n.Stats.OSSearched += st.OSSearched
		n.Stats.OSSearchFiles += st.OSSearchFiles
	}
	out := make(map[netip.Addr]Verdict, len(hosts))
	for i, a := range hosts {
		out[a] = verdicts[i]
	}
	return out, nil
}

// firstVerdict weighs host h's evidence for Verdicts: its keep-alive
// connections explained with the night's unknown responses, then a
// search among the files of the family the evidence leans to. It counts
// what it adds in st.
func (n *Night) firstVerdict(h *host, st *NightStats) Verdict {
	named := n.named(h)
	for k := range h.pending {
		d, id := &h.pending[k].d, h.pending[k].id
		if req, loss := n.cl.Requests(d); req < 2 || (loss != downloads.LossFree && loss != downloads.LossFew) {
			continue
		}
		fit, ok := n.cl.Connection(d, n.unknowns)
		if !ok || len(fit.Files) == 0 || n.releasedAfter(fit.Files, d.Start) || allIn(fit.Files, named) {
			continue
		}
		st.Connections++
		st.ConnectionFiles += len(fit.Files)
		h.fetches = append(h.fetches, connFetch(d, id, fit))
		for _, x := range fit.Files {
			named[x] = true
		}
	}
	v := Infer(n.cfg, n.cat, n.shares, HostEvidence{h.fetches, h.hints, len(h.pending) + h.dropped})
	// The family the catalog evidence leans to, decided or not, is
	// searched for more: a host's other downloads may fit its files once
	// the other families' files are out of the way.
	if n.searchLead(h, v.Lead(), named, st) {
		v = Infer(n.cfg, n.cat, n.shares, HostEvidence{h.fetches, h.hints, len(h.pending) + h.dropped})
	}
	n.addPossible(h, &v)
	n.explain(h, &v)
	return v
}

// searchLead searches host h's downloads among the files of family lead,
// once per host and family, and reports whether it found a file not yet
// named (named is updated); st counts what it searched and found.
func (n *Night) searchLead(h *host, lead string, named map[string]bool, st *NightStats) bool {
	if lead == "" || !n.osAware || lead == h.searched {
		return false
	}
	h.searched = lead
	rcl := n.restrictedTo(lead)
	return rcl != nil && n.search(rcl, h, named, st)
}

// restrictedTo is the classifier that knows only the files of family fam
// (nil when it has none), made once.
func (n *Night) restrictedTo(fam string) *downloads.Classifier {
	n.mu.Lock()
	defer n.mu.Unlock()
	rcl, ok := n.restricted[fam]
	if !ok {
		// The model's catalog may lack the OS column the night's
		// catalog has: look families up there.
		rcl, _ = n.cl.Restrict(func(e *catalog.Entry) bool { return n.families[e.Name] == fam })
		if n.restricted == nil {
			n.restricted = map[string]*downloads.Classifier{}
		}
		n.restricted[fam] = rcl
	}
	return rcl
}

// named is the set of files the host's fetches name.
func (n *Night) named(h *host) map[string]bool {
	out := map[string]bool{}
	for _, f := range h.fetches {
		for _, x := range f.Files {
			out[x] = true
		}
	}
	return out
}

// search looks for the host's downloads among the files of its OS (the
// classifier rcl knows only those): each download as one file, and as a
// connection of several files. It reports whether it found any file not
// already named.
func (n *Night) search(rcl *downloads.Classifier, h *host, named map[string]bool, st *NightStats) bool {
	found := false
	add := func(d *features.Download, id int, files []string, chance float64, loss downloads.Loss) {
		h.fetches = append(h.fetches, Fetch{
			ID: id, Kind: KindOSSearch, Files: files, When: d.Start, Server: netip.AddrPortFrom(d.Server, d.ServerPort),
			Chance: chance, Loss: loss.String(), Exact: loss == downloads.LossFree,
		})
		for _, x := range files {
			named[x] = true
		}
		st.OSSearchFiles += len(files)
		found = true
	}
	for k := range h.pending {
		d, id := &h.pending[k].d, h.pending[k].id
		st.OSSearched++
		req, loss := rcl.Requests(d)
		if r := rcl.Classify(d); !r.Unknown() && len(r.Files) == 1 && req < 2 {
			if !n.releasedAfter(r.Files, d.Start) && !allIn(r.Files, named) {
				add(d, id, r.Files, rcl.Chance(d), loss)
			}
			continue
		}
		if req < 2 && loss != downloads.LossMany {
			continue
		}
		fit, ok := rcl.Connection(d, n.unknowns)
		if !ok || len(fit.Files) == 0 || n.releasedAfter(fit.Files, d.Start) || allIn(fit.Files, named) {
			continue
		}
		add(d, id, fit.Files, fit.Chance, fit.Loss)
	}
	return found
}

func connFetch(d *features.Download, id int, fit downloads.ConnectionFit) Fetch {
	return Fetch{
		ID: id, Kind: KindConnection, Files: fit.Files, When: d.Start, Server: netip.AddrPortFrom(d.Server, d.ServerPort),
		Chance: fit.Chance, Loss: fit.Loss.String(), Exact: fit.Loss == downloads.LossFree,
	}
}

func allIn(files []string, set map[string]bool) bool {
	for _, f := range files {
		if !set[f] {
			return false
		}
	}
	return true
}

// Verdict weighs host a's evidence again, with the hints added since
// Verdicts (its cluster's OS mix, TTL and rule hints); the fetches are
// those Verdicts found, and those a search among the files of the family
// the hints now lead to finds (a host named Windows by its TTL alone has
// its downloads searched among the Windows files).
func (n *Night) Verdict(a netip.Addr) Verdict {
	h := n.hosts[a]
	if h == nil {
		h = &host{}
	}
	v := Infer(n.cfg, n.cat, n.shares, HostEvidence{h.fetches, h.hints, len(h.pending) + h.dropped})
	// A family the hints lead to (a TTL class that names one) is
	// searched too, as Verdicts searched the catalog evidence's.
	if n.searchLead(h, v.Lead(), n.named(h), &n.Stats) {
		v = Infer(n.cfg, n.cat, n.shares, HostEvidence{h.fetches, h.hints, len(h.pending) + h.dropped})
	}
	n.addPossible(h, &v)
	n.explain(h, &v)
	return v
}

// explain says why a host without an OS has none (Verdict.Why), in words
// with its figures.
func (n *Night) explain(h *host, v *Verdict) {
	v.Why, v.WhyText = "", ""
	if v.OS != Unknown {
		return
	}
	named := 0
	for _, f := range h.fetches {
		if len(f.Files) > 0 {
			named++
		}
	}
	var multi, lossy int
	for k := range h.pending {
		req, loss := n.cl.Requests(&h.pending[k].d)
		switch {
		case req >= 2 || loss == downloads.LossUnknown:
			multi++
		case loss == downloads.LossMany || loss == downloads.LossFew:
			lossy++
		}
	}
	unresolved := len(h.pending) + h.dropped
	switch {
	case !n.osAware:
		v.Why, v.WhyText = WhyNoFamilies, "not identified: the catalog names no OS family"
	case len(v.ruledOut) > 0:
		v.Why = WhyConflicting
		v.WhyText = fmt.Sprintf("not identified: its catalog files are %s, which its TTL rules out", strings.Join(v.ruledOut, ", "))
	case v.leadScore >= n.cfg.MinScore && v.leadScore-v.secondScore < n.cfg.Margin:
		v.Why = WhyConflicting
		v.WhyText = fmt.Sprintf("not identified: evidence for more than one family (%s leads by %.1f of the %.1f needed)", v.lead, v.leadScore-v.secondScore, n.cfg.Margin)
	case named > 0 && (multi+lossy == 0 || v.leadScore > 0):
		v.Why = WhyWeak
		v.WhyText = fmt.Sprintf("not identified: %s named catalog files, at chances too high to name a family (%.1f of the %.1f needed)", count(named, "download", "downloads"), math.Max(v.leadScore, 0), n.cfg.MinScore)
	case unresolved > 0 && multi+lossy > 0:
		v.Why = WhyUnresolved
		// Every download in the breakdown: the rest are loss-free single
		// transfers that fit no file, and downloads not kept.
		parts := []string{count(multi, "connection of several responses or of an unknown count", "connections of several responses or of an unknown count"),
			count(lossy, "lossy single transfer", "lossy single transfers")}
		if rest := len(h.pending) - multi - lossy; rest > 0 {
			parts = append(parts, count(rest, "loss-free single transfer", "loss-free single transfers"))
		}
		if h.dropped > 0 {
			parts = append(parts, fmt.Sprintf("%d not kept", h.dropped))
		}
		v.WhyText = fmt.Sprintf("not identified: %s of catalog size (%s) %s catalog files among many other combinations; flow counters cannot tell which (see possibly fetched)",
			count(unresolved, "download", "downloads"), strings.Join(parts, ", "), agree(unresolved, "fits", "fit"))
	case unresolved > 0:
		v.Why = WhyWeak
		v.WhyText = fmt.Sprintf("not identified: its %s of catalog size %s no catalog file well enough", count(unresolved, "download", "downloads"), agree(unresolved, "fits", "fit"))
	default:
		v.Why, v.WhyText = WhyNoCatalogTraffic, "not identified: no download of catalog size, and no TTL that names a family"
	}
}

// addPossible lists in v the catalog entries the host may have fetched:
// those its downloads could hold (downloads.Classifier.Possible) that no
// fetch explains, of the verdict's family when it names one, its updates
// left out. A download is explained when every file of one of its
// fetches, named at a negligible chance, is among the updates.
func (n *Night) addPossible(h *host, v *Verdict) {
	updates := map[string]bool{}
	for _, u := range v.Updates {
		updates[u.Entry] = true
	}
	// A fetch named at a chance that is not negligible explains nothing:
	// its download may hold other files (a connection of several read as
	// one file), which stay possibly fetched rather than missing.
	explained := map[int]bool{}
	for _, f := range h.fetches {
		if len(f.Files) > 0 && allIn(f.Files, updates) && downloads.Negligible(f.Chance) {
			explained[f.ID] = true
		}
	}
	when := map[string]time.Time{}
	add := func(name string, at time.Time) {
		if updates[name] || (v.OS != Unknown && n.families[name] != v.OS) {
			return
		}
		if t, ok := when[name]; !ok || at.Before(t) {
			when[name] = at
		}
	}
	for k := range h.pending {
		if p := &h.pending[k]; !explained[p.id] {
			for _, name := range n.possibleOf(p) {
				add(name, p.d.Start)
			}
		}
	}
	for name, at := range h.droppedPossible {
		add(name, at)
	}
	v.Possible = nil
	for name, t := range when {
		p := Possible{Entry: name, OS: n.families[name], When: t}
		if e, ok := n.cat.Lookup(name); ok {
			p.Product, p.Version = e.Product, e.Version
		}
		v.Possible = append(v.Possible, p)
	}
	slices.SortFunc(v.Possible, func(a, b Possible) int { return strings.Compare(a.Entry, b.Entry) })
}

// count is "1 download", "2 downloads".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprint(n, " ", many)
}

// agree is the verb that agrees with n things: one for n = 1, many otherwise.
func agree(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
