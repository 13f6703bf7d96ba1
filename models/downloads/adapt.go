package downloads

import (
	"cmp"
	"context"
	"maps"
	"net/netip"
	"slices"

	"github.com/fingerflow/fingerflow/features"
)

// Server adaptation. A model's expected payloads hold the fixed overhead
// of the servers its lab run downloaded from: nginx's response header, the
// TLS handshake with the lab's certificate. A mirror with other headers
// (another Server line, a cache header, a longer ETag) or another
// certificate chain sends every file with the same number of bytes more or
// less, and then no download from it leaves an exact residue: on a lab
// mirror with 63 more header bytes the shipped model named 7% of HTTP
// downloads. The offset is visible in unlabelled traffic. A download
// without retransmissions carries exactly its file's expected payload plus
// the offset, and its client sent only the request (no SACK options), so
// the downloads with the smallest client→server payload of a server each
// vote for P − expected(f) of every catalog file f within MaxOffset bytes;
// the catalog files actually downloaded put their votes on the one true
// offset, others scatter theirs.

// MaxOffset is the largest server offset (bytes, either way) adaptation
// looks for: header differences are tens to hundreds of bytes, a different
// certificate chain a few thousand.
const MaxOffset = 8192

const (
	// adaptSample bounds the downloads kept per server.
	adaptSample = 4096
	// adaptMin is the fewest downloads without retransmissions that must
	// agree on an offset.
	adaptMin = 3
	// cleanSlack is how far (bytes) above a server's lowest client→server
	// payloads a download's may lie and still count as free of SACK
	// options: requests for longer URLs are longer.
	cleanSlack = 48
)

// ServerOffset is what adaptation learned about one server.
type ServerOffset struct {
	Server ServerKey
	// Offset is added to every expected payload of the server's downloads.
	Offset int64
	// Downloads were seen; Clean of them looked free of retransmissions;
	// Votes of those a catalog file explains exactly at Offset, Zero at
	// offset 0 (the model as trained).
	Downloads, Clean, Votes, Zero int
	// Pooled is set when the server had too few loss-free downloads of its
	// own and took the offset its network shares (the counts are then the
	// network's): the many addresses of a CDN or a mirror pool.
	Pooled bool
	// Profile names the assumed profile the server's downloads fit (a TLS
	// framing no lab run calibrated), with Request its client→server
	// payload of a single download; empty for calibrated profiles.
	Profile string `json:",omitempty"`
	Request int64  `json:",omitempty"`
}

// Adapter gathers unlabelled downloads per server and finds each server's
// payload offset (see Model.NewAdapter).
type Adapter struct {
	m       *Model
	servers map[ServerKey]*adaptServer
}

type adaptServer struct {
	seen     int
	profiles []int // profiles to fit, sharing a header size
	obs      []adaptObs
}

type adaptObs struct {
	payload int64
	rev     int64
}

// NewAdapter starts an adaptation of m to the servers of a batch of
// downloads: Add them all, then pass Offsets to m.Classifier.
func (m *Model) NewAdapter() *Adapter {
	return &Adapter{m: m, servers: map[ServerKey]*adaptServer{}}
}

// Add takes one download into account. Only downloads with the reverse
// direction count (it tells which were free of losses); at most a few
// thousand per server are kept, so memory grows with servers.
func (a *Adapter) Add(d *features.Download) {
	if d.Sampling > 1 || !d.HasReverse {
		return
	}
	ps := a.m.adaptProfiles(d.ServerPort)
	if len(ps) == 0 {
		return
	}
	hdr := a.m.Profiles[ps[0]].Hdr
	k := ServerKey{d.Server, d.ServerPort}
	s := a.servers[k]
	if s == nil {
		s = &adaptServer{profiles: ps}
		a.servers[k] = s
	}
	s.seen++
	if len(s.obs) < adaptSample {
		s.obs = append(s.obs, adaptObs{d.Payload(hdr), d.RevPayload(hdr)})
	}
}

// adaptProfiles lists the profiles a server on port is fitted to: the
// first calibrated one for the port, if any, then the assumed ones meant
// for it.
func (m *Model) adaptProfiles(port uint16) []int {
	var out []int
	if ps := m.profilesFor(port); len(ps) > 0 {
		out = append(out, ps[0])
	}
	for i := range m.Profiles {
		if p := &m.Profiles[i]; p.Assumed && len(p.Ports) > 0 && p.ForPort(port) {
			out = append(out, i)
		}
	}
	return out
}

// Offsets decides every server's offset, in server order. A server keeps
// offset 0 unless enough of its loss-free downloads agree on another one,
// clearly more than on any third value. A server with too few to tell
// takes the offset its network (/24, or /48 for IPv6, same port) shows
// when the network's servers' downloads are pooled: a CDN spreads the
// same files, with the same headers, over many addresses.
func (a *Adapter) Offsets(ctx context.Context) ([]ServerOffset, error) {
	keys := slices.SortedFunc(maps.Keys(a.servers), func(x, y ServerKey) int {
		return cmp.Or(x.Addr.Compare(y.Addr), cmp.Compare(x.Port, y.Port))
	})
	out := make([]ServerOffset, 0, len(keys))
	nets := map[ServerKey][]int{} // network → indexes into out
	for i, k := range keys {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out = append(out, a.decide(k, a.servers[k]))
		n := ServerKey{networkOf(k.Addr), k.Port}
		nets[n] = append(nets[n], len(out)-1)
	}
	for _, n := range slices.SortedFunc(maps.Keys(nets), func(x, y ServerKey) int {
		return cmp.Or(x.Addr.Compare(y.Addr), cmp.Compare(x.Port, y.Port))
	}) {
		idx := nets[n]
		if len(idx) < 2 {
			continue
		}
		pool := &adaptServer{profiles: a.servers[out[idx[0]].Server].profiles}
		for _, i := range idx {
			s := a.servers[out[i].Server]
			pool.seen += s.seen
			pool.obs = append(pool.obs, s.obs[:min(len(s.obs), adaptSample-len(pool.obs))]...)
		}
		g := a.decide(n, pool)
		if g.Offset == 0 && g.Profile == "" {
			continue
		}
		for _, i := range idx {
			if o := &out[i]; o.Offset == 0 && o.Profile == "" && o.Zero < adaptMin {
				*o = ServerOffset{Server: o.Server, Offset: g.Offset, Downloads: g.Downloads,
					Clean: g.Clean, Votes: g.Votes, Zero: g.Zero, Pooled: true, Profile: g.Profile, Request: g.Request}
			}
		}
	}
	return out, nil
}

// networkOf is the network a server address is pooled in: its /24, or
// /48 for IPv6.
func networkOf(a netip.Addr) netip.Addr {
	return NetworkOf(a).Addr()
}

// NetworkOf is the network adaptation pools a server address in: its /24,
// or /48 for IPv6.
func NetworkOf(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.PrefixFrom(a, a.BitLen())
	}
	return p
}

func (a *Adapter) decide(k ServerKey, s *adaptServer) ServerOffset {
	none := ServerOffset{Server: k, Downloads: s.seen}
	if len(s.obs) == 0 {
		return none
	}
	// The lowest tenth of client→server payloads: requests without SACK
	// options, when the path lost nothing for a tenth of the downloads.
	// Those downloads carry a catalog file's payload plus the offset.
	revs := make([]int64, len(s.obs))
	for i, o := range s.obs {
		revs[i] = o.rev
	}
	slices.Sort(revs)
	request := revs[len(revs)/10]
	var clean []int64
	for _, o := range s.obs {
		if o.rev <= request+cleanSlack && o.payload > 0 {
			clean = append(clean, o.payload)
		}
	}
	// The calibrated profile first: when the server's loss-free downloads
	// agree on an offset to it (0 included), that is the answer.
	ps := s.profiles
	best := none
	if first := ps[0]; !a.m.Profiles[first].Assumed {
		res, ok := a.fit(none, clean, first)
		if ok || len(ps) == 1 {
			return res
		}
		best, ps = res, ps[1:]
	}
	// Otherwise the assumed profile the most loss-free downloads fit, if
	// any fits at all (its offset, even 0, must be adopted on evidence);
	// its request size is the server's, not calibrated.
	for _, pi := range ps {
		if res, ok := a.fit(none, clean, pi); ok && (best.Profile == "" || res.Votes > best.Votes) {
			best = res
			best.Profile, best.Request = a.m.Profiles[pi].Name, request
		}
	}
	return best
}

// fit finds a server's offset on profile pi from the payloads of its
// loss-free downloads; adopted reports whether they agreed on it (an
// offset of 0 is then evidence too). res starts as base.
func (a *Adapter) fit(base ServerOffset, clean []int64, pi int) (res ServerOffset, adopted bool) {
	res = base
	res.Clean = len(clean)
	votes := map[int64]int{}
	seen := map[int64]bool{}
	ix := a.m.index[pi]
	for _, pay := range clean {
		clear(seen)
		i, _ := slices.BinarySearchFunc(ix, pay-MaxOffset, func(e indexed, t int64) int { return cmp.Compare(e.payload, t) })
		for ; i < len(ix) && ix[i].payload <= pay+MaxOffset; i++ {
			off := pay - ix[i].payload
			if !seen[off] {
				seen[off] = true
				votes[off]++
			}
		}
	}
	// Votes within 2 bytes count together (header fields of a few
	// lengths); the best offset must beat every other by two to one.
	near := func(off int64) int {
		n := 0
		for d := int64(-2); d <= 2; d++ {
			n += votes[off+d]
		}
		return n
	}
	res.Zero = near(0)
	var best int64
	bestN := res.Zero
	for off := range votes {
		// Ties go to the offset nearer 0, then the lower: the same
		// answer whatever the map's order.
		n := near(off)
		if n > bestN || (n == bestN && cmp.Or(cmp.Compare(abs64(off), abs64(best)), cmp.Compare(off, best)) < 0) {
			best, bestN = off, n
		}
	}
	if bestN < adaptMin || 4*bestN < res.Clean {
		res.Votes = res.Zero
		return res, false
	}
	for off := range votes {
		if abs64(off-best) > 4 && 2*near(off) > bestN {
			res.Votes = res.Zero
			return res, false
		}
	}
	// The offset itself is the most common exact value in the winning
	// neighbourhood (which may be a byte or two from 0).
	exact := best
	for d := int64(-2); d <= 2; d++ {
		o := best + d
		if v := votes[o]; v > votes[exact] || (v == votes[exact] && cmp.Or(cmp.Compare(abs64(o), abs64(exact)), cmp.Compare(o, exact)) < 0) {
			exact = o
		}
	}
	if exact != 0 && votes[exact] <= votes[0] {
		exact = 0
	}
	res.Offset, res.Votes = exact, bestN
	if exact == 0 {
		res.Votes = res.Zero
	}
	return res, true
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// Adapt is NewAdapter, Add for every download and Offsets in one call,
// for downloads already in memory.
func (m *Model) Adapt(ctx context.Context, ds []features.Download) ([]ServerOffset, error) {
	a := m.NewAdapter()
	for i := range ds {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		a.Add(&ds[i])
	}
	return a.Offsets(ctx)
}
