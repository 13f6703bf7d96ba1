package reports

import (
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/fingerflow/fingerflow/models/downloads"
)

// WriteTraining says what training learned of the network: its profiles,
// the servers whose downloads it adjusted, and the training set (the model
// written to out in elapsed).
func WriteTraining(w io.Writer, m *downloads.Model, out string, elapsed time.Duration) error {
	ew := &errWriter{w: w}
	w = ew
	for _, p := range m.Profiles {
		tls := "none"
		if p.RecOverhead > 0 {
			tls = fmt.Sprintf("%d bytes per %d-byte record", p.RecOverhead, p.RecSize)
		}
		if p.Assumed {
			fmt.Fprintf(w, "profile %-6s ports %v: assumed, not calibrated: TLS framing %s on the http profile's path, for servers whose downloads fit no calibrated profile (classify fits the framing and the handshake's size per server)\n",
				p.Name, p.Ports, tls)
			continue
		}
		fmt.Fprintf(w, "profile %-6s ports %v: %d header bytes/packet, MSS %d, overhead %.0f bytes, TLS framing %s, %d files measured exactly\n",
			p.Name, p.Ports, p.Hdr, p.MSS, p.Base, tls, len(p.Exact))
	}
	s := m.Summary
	for _, o := range s.Adapted {
		fmt.Fprintf(w, "server %s: downloads %+d bytes from the calibrated payloads (%d of %d loss-free downloads agree); trained on them adjusted\n",
			netip.AddrPortFrom(o.Server.Addr, o.Server.Port), o.Offset, o.Votes, o.Clean)
	}
	fmt.Fprintf(w, "trained on %d labelled downloads (%d of catalog files, %d files seen) + %d synthetic; %d verifier rows; catalog %d files; %s in %.1fs\n",
		s.Examples, s.Known, s.FilesSeen, s.Synthetic, s.Rows, s.CatalogFiles, out, elapsed.Seconds())
	return ew.err
}
