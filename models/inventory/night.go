package inventory

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
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
	shares   map[string]float64
	nextID   int
	minPay   int64 // downloads smaller than any catalog file's response are not kept

	// Stats counts what the night's context added.
	Stats NightStats
}

// NightStats counts what host and site context contributed.
type NightStats struct {
	Downloads       int // downloads of internal clients
	Named           int // named by the classifier alone
	ChanceDiscarded int // named, but of files released after the download
	UnknownsSeen    int // distinct responses of files outside the catalog seen whole
	Connections     int // keep-alive connections explained with context
	ConnectionFiles int // catalog files found in them
	OSSearched      int // downloads searched again among their host's OS files
	OSSearchFiles   int // catalog files that search found
}

type host struct {
	fetches []Fetch
	// pending are the host's downloads that its OS's files could still
	// explain: those the classifier left unknown or named as a file of
	// some family (which may not be the host's).
	pending []pending
	dropped int // pending downloads beyond maxPending
	hints   []Hint
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
	for _, e := range cat.Entries {
		if e.OS != "" {
			n.osAware = true
			break
		}
	}
	return n
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
		return
	}
	n.Stats.Downloads++
	h := n.host(d.Client)
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
	p := pending{*d, n.nextID}
	n.nextID++
	if len(h.pending) < maxPending {
		h.pending = append(h.pending, p)
		return
	}
	h.dropped++
	k := slices.IndexFunc(h.pending, func(q pending) bool { return q.d.Bytes < d.Bytes })
	if k >= 0 {
		h.pending[k] = p
	}
}

// pending is a download kept for the search among its host's OS files,
// with the ID its fetches carry.
type pending struct {
	d  features.Download
	id int
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
	out := make(map[netip.Addr]Verdict, len(n.hosts))
	restricted := map[string]*downloads.Classifier{}
	for i, a := range n.Hosts() {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		h := n.hosts[a]
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
			n.Stats.Connections++
			n.Stats.ConnectionFiles += len(fit.Files)
			h.fetches = append(h.fetches, connFetch(d, id, fit))
			for _, x := range fit.Files {
				named[x] = true
			}
		}
		v := Infer(n.cfg, n.cat, n.shares, HostEvidence{h.fetches, h.hints, len(h.pending) + h.dropped})
		// The family the catalog evidence leans to, decided or not, is
		// searched for more: a host's other downloads may fit its files
		// once the other families' files are out of the way.
		if lead := v.Lead(); lead != "" && n.osAware {
			rcl, ok := restricted[lead]
			if !ok {
				// The model's catalog may lack the OS column the
				// night's catalog has: look families up there.
				fam := lead
				rcl, _ = n.cl.Restrict(func(e *catalog.Entry) bool { return familyOf(n.cat, e.Name) == fam })
				restricted[lead] = rcl
			}
			if rcl != nil && n.search(rcl, h, named) {
				v = Infer(n.cfg, n.cat, n.shares, HostEvidence{h.fetches, h.hints, len(h.pending) + h.dropped})
			}
		}
		out[a] = v
	}
	return out, nil
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
func (n *Night) search(rcl *downloads.Classifier, h *host, named map[string]bool) bool {
	found := false
	add := func(d *features.Download, id int, files []string, chance float64, loss downloads.Loss) {
		h.fetches = append(h.fetches, Fetch{
			ID: id, Kind: KindOSSearch, Files: files, When: d.Start, Server: netip.AddrPortFrom(d.Server, d.ServerPort),
			Chance: chance, Loss: loss.String(), Exact: loss == downloads.LossFree,
		})
		for _, x := range files {
			named[x] = true
		}
		n.Stats.OSSearchFiles += len(files)
		found = true
	}
	for k := range h.pending {
		d, id := &h.pending[k].d, h.pending[k].id
		n.Stats.OSSearched++
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
// those Verdicts found.
func (n *Night) Verdict(a netip.Addr) Verdict {
	h := n.hosts[a]
	if h == nil {
		return Verdict{OS: Unknown}
	}
	return Infer(n.cfg, n.cat, n.shares, HostEvidence{h.fetches, h.hints, len(h.pending) + h.dropped})
}
