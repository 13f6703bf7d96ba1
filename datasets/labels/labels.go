// Package labels reads the ground truth of a lab run: which file each
// download carried. Two formats are read, told apart by their header: the
// lab format (datasets/lab-dev/*.labels.csv), one row per downloaded file
// with the client address and port of its connection (and, behind NAT, the
// address the flows show), and the published study's ordered list, one
// file per line in download order (optionally "file,start"), which
// MatchOrdered assigns to downloads by start time. Errors name the file and
// line, and every Label keeps its line for later checks.
package labels

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/fingerflow/fingerflow/datasets/catalog"
)

// Sentinel errors callers test with errors.Is.
var (
	// ErrEmpty: the file holds no label.
	ErrEmpty = errors.New("no labels")
	// ErrFormat: a header or a row that cannot be read (bad address, port,
	// size, unknown column layout).
	ErrFormat = errors.New("bad label")
	// ErrCatalog: labels disagree with the catalog (Check).
	ErrCatalog = errors.New("label disagrees with catalog")
	// ErrCount: an ordered list and the download flows differ in number by
	// more than the tolerance (MatchOrdered).
	ErrCount = errors.New("label and flow counts differ")
)

// Label is the ground truth for one download.
type Label struct {
	Client     netip.Addr // client address as the flows show it
	ClientPort uint16
	ServerPort uint16 // 0 when unknown
	File       string // catalog file name (or a background file name)
	Size       uint64 // 0 when unknown
	Known      bool   // true when File is in the catalog
	Conn       int    // connection number (several files over one connection share it); -1 when unknown
	Pos        int    // position within the connection; 0 when unknown
	Start      time.Time
	Rep        int // repetition (round) of the run; -1 when unknown

	// OrigClient and OrigClientPort are the client's own address and port
	// behind NAT (from client_ip/client_port when nat_ip/nat_port or
	// server_side_ip/server_side_port give Client, or from
	// inner_client_ip/inner_client_port); invalid/0 otherwise.
	OrigClient     netip.Addr
	OrigClientPort uint16

	Line int // line of the label file this label was read from (1-based); 0 when built in code
}

// Key is the client address and port of the label's connection.
func (l Label) Key() netip.AddrPort { return netip.AddrPortFrom(l.Client, l.ClientPort) }

// Set holds a run's labels, indexed by client address and port.
type Set struct {
	Labels []Label
	// Name is the file the labels were read from, used in messages.
	Name string
	// Ordered reports that the labels came from an ordered list (no
	// addresses): use MatchOrdered before ByClient.
	Ordered bool

	byClient map[netip.AddrPort][]int // label positions, in (Conn, Pos) order
	indexed  int                      // len(Labels) when byClient was built
}

// NewSet returns a set holding labels, indexed by client address and port.
func NewSet(name string, labels []Label) *Set {
	s := &Set{Labels: labels, Name: name}
	s.reindex()
	return s
}

func (s *Set) reindex() {
	s.byClient = make(map[netip.AddrPort][]int, len(s.Labels))
	s.indexed = len(s.Labels)
	for i, l := range s.Labels {
		if !l.Client.IsValid() {
			continue
		}
		k := l.Key()
		s.byClient[k] = append(s.byClient[k], i)
	}
	for _, idx := range s.byClient {
		slices.SortStableFunc(idx, func(a, b int) int { return byConnPos(s.Labels[a], s.Labels[b]) })
	}
}

func byConnPos(a, b Label) int {
	return cmp.Or(cmp.Compare(a.Conn, b.Conn), cmp.Compare(a.Pos, b.Pos))
}

// Len is the number of labels.
func (s *Set) Len() int { return len(s.Labels) }

// ByClient returns all labels of the connection from addr:port, in Pos
// order (a keep-alive connection carries several files), or nil. The index
// is built by Load and NewSet, and rebuilt here when Labels changed length;
// a Set is safe for concurrent ByClient calls once indexed.
func (s *Set) ByClient(addr netip.Addr, port uint16) []Label {
	if s.byClient == nil || s.indexed != len(s.Labels) {
		s.reindex()
	}
	idx := s.byClient[netip.AddrPortFrom(addr, port)]
	if len(idx) == 0 {
		return nil
	}
	out := make([]Label, len(idx))
	for i, j := range idx {
		out[i] = s.Labels[j]
	}
	return out
}

// Connections returns the labels grouped per connection, in Conn order,
// each group in Pos order. Labels without a connection number (Conn -1)
// form one group each, after the numbered ones, in file order.
func (s *Set) Connections() [][]Label {
	var out [][]Label
	byConn := make(map[int]int) // conn -> position in out
	var loose [][]Label
	for _, l := range s.Labels {
		if l.Conn < 0 {
			loose = append(loose, []Label{l})
			continue
		}
		i, ok := byConn[l.Conn]
		if !ok {
			i = len(out)
			byConn[l.Conn] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], l)
	}
	slices.SortFunc(out, func(a, b []Label) int { return cmp.Compare(a[0].Conn, b[0].Conn) })
	for _, g := range out {
		slices.SortStableFunc(g, byConnPos)
	}
	return append(out, loose...)
}

// Resolve fills Known and, where it is unknown, Size from the catalog. It
// is meant for ordered lists, which say neither; lab labels already carry
// both (Check verifies them).
func (s *Set) Resolve(c *catalog.Catalog) {
	for i := range s.Labels {
		l := &s.Labels[i]
		e, ok := c.Lookup(l.File)
		l.Known = ok
		if ok && l.Size == 0 {
			l.Size = e.Size
		}
	}
}

// maxReported bounds how many problems Check lists one by one.
const maxReported = 20

// Check reports labels that contradict the catalog: Known but absent from
// it, or Known with another size than the catalog's. Each problem names the
// label file and line; all problems are joined (the first 20 listed, then a
// count). It returns nil when every label agrees.
func (s *Set) Check(c *catalog.Catalog) error {
	var errs []error
	n := 0
	for _, l := range s.Labels {
		if !l.Known {
			continue
		}
		e, ok := c.Lookup(l.File)
		var err error
		switch {
		case !ok:
			err = fmt.Errorf("%s: line %d: %s is marked known but is not in the catalog: %w", s.Name, l.Line, l.File, ErrCatalog)
		case l.Size != 0 && l.Size != e.Size:
			err = fmt.Errorf("%s: line %d: %s has size %d, the catalog says %d: %w", s.Name, l.Line, l.File, l.Size, e.Size, ErrCatalog)
		default:
			continue
		}
		n++
		if len(errs) < maxReported {
			errs = append(errs, err)
		}
	}
	if n > maxReported {
		errs = append(errs, fmt.Errorf("%s: %d more labels disagree with the catalog: %w", s.Name, n-maxReported, ErrCatalog))
	}
	return errors.Join(errs...)
}

// DefaultTolerance is the count mismatch MatchOrdered accepts for a list of
// n labels: 1%, at least 1 (a download cut short or one flow record lost by
// the exporter should not void a whole run).
func DefaultTolerance(n int) int { return max(1, n/100) }

// MatchOrdered assigns an ordered list (labels without addresses) to
// download flows by start time: flows are sorted by start (ties keep their
// given order), and the i-th flow gets the i-th label, with Client and
// ClientPort from flowKeys, Conn set to i and Pos to 0; a label without a
// Start takes the flow's. When the counts differ by at most
// DefaultTolerance(len(list)) the shorter side decides how many labels are
// returned; beyond that it returns ErrCount naming both counts. This is the
// published study's method: one missing flow shifts every later label.
func MatchOrdered(list []Label, flowStarts []time.Time, flowKeys []netip.AddrPort) ([]Label, error) {
	return MatchOrderedTolerance(list, flowStarts, flowKeys, DefaultTolerance(len(list)))
}

// MatchOrderedTolerance is MatchOrdered with an explicit tolerance.
func MatchOrderedTolerance(list []Label, flowStarts []time.Time, flowKeys []netip.AddrPort, tolerance int) ([]Label, error) {
	if len(flowStarts) != len(flowKeys) {
		return nil, fmt.Errorf("%d flow start times but %d flow keys: %w", len(flowStarts), len(flowKeys), ErrCount)
	}
	if d := len(list) - len(flowStarts); d > tolerance || -d > tolerance {
		return nil, fmt.Errorf("%d labels in the ordered list but %d download flows (tolerance %d): %w",
			len(list), len(flowStarts), tolerance, ErrCount)
	}
	order := make([]int, len(flowStarts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return flowStarts[a].Compare(flowStarts[b]) })
	n := min(len(list), len(order))
	out := make([]Label, n)
	for i := range n {
		l := list[i]
		f := order[i]
		l.Client, l.ClientPort = flowKeys[f].Addr(), flowKeys[f].Port()
		l.Conn, l.Pos = i, 0
		if l.Start.IsZero() {
			l.Start = flowStarts[f]
		}
		out[i] = l
	}
	return out, nil
}
