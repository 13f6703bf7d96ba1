package reports

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/fingerflow/fingerflow/models/downloads"
)

// WriteOffsets says which servers' payloads adaptation shifts, and by how
// much: a line per server that showed its own offset, one per network
// whose servers took the offset they show together. Each line starts with
// prefix (the command or run).
func WriteOffsets(w io.Writer, prefix string, offs []downloads.ServerOffset) error {
	type group struct {
		net     netip.Prefix
		port    uint16
		offset  int64
		servers int
		o       downloads.ServerOffset
	}
	var groups []*group
	ew := &errWriter{w: w}
	for _, o := range offs {
		if o.Offset == 0 && o.Profile == "" {
			continue
		}
		if o.Profile != "" {
			network := ""
			if o.Pooled {
				network = ", as its network shows"
			}
			fmt.Fprintf(ew, "%s: server %s fits assumed profile %s, %+d bytes from its placeholder overhead (the TLS handshake; %d of its %d loss-free downloads agree)%s\n",
				prefix, netip.AddrPortFrom(o.Server.Addr, o.Server.Port), o.Profile, o.Offset, o.Votes, o.Clean, network)
			continue
		}
		if !o.Pooled {
			fmt.Fprintf(ew, "%s: server %s sends %+d bytes per download against the model's lab server (%d of its %d loss-free downloads agree, %d at the lab's payloads); adjusted\n",
				prefix, netip.AddrPortFrom(o.Server.Addr, o.Server.Port), o.Offset, o.Votes, o.Clean, o.Zero)
			continue
		}
		n := downloads.NetworkOf(o.Server.Addr)
		if k := len(groups); k > 0 && groups[k-1].net == n && groups[k-1].port == o.Server.Port && groups[k-1].offset == o.Offset {
			groups[k-1].servers++
			continue
		}
		groups = append(groups, &group{n, o.Server.Port, o.Offset, 1, o})
	}
	for _, g := range groups {
		fmt.Fprintf(ew, "%s: %d servers in %s port %d, with too few loss-free downloads each, send %+d bytes per download together (%d of their %d loss-free downloads agree); adjusted\n",
			prefix, g.servers, g.net, g.port, g.offset, g.o.Votes, g.o.Clean)
	}
	return ew.err
}

// WriteUncalibrated says how many downloads went to server ports no
// calibrated profile covers (counts by port), busiest ports first; it
// writes nothing when there were none.
func WriteUncalibrated(w io.Writer, prefix string, counts map[uint16]int) error {
	if len(counts) == 0 {
		return nil
	}
	ports := slices.Collect(maps.Keys(counts))
	slices.SortFunc(ports, func(a, b uint16) int { return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b)) })
	total := 0
	var list []string
	for i, p := range ports {
		total += counts[p]
		if i < 5 {
			list = append(list, fmt.Sprintf("%d: %d", p, counts[p]))
		}
	}
	if len(ports) > 5 {
		list = append(list, fmt.Sprintf("%d more ports", len(ports)-5))
	}
	_, err := fmt.Fprintf(w, "%s: %d downloads went to server ports no calibrated profile covers (%s); they were scored with every calibrated profile, right for plain HTTP on another port, or, where the port has only assumed TLS profiles and adaptation could not fit the server, left unknown: train with a lab run on those ports\n",
		prefix, total, strings.Join(list, ", "))
	return err
}

// errWriter keeps the first write error, so a run of Fprintf calls can be
// checked once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
