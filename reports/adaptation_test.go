package reports

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/models/downloads"
)

// TestReportOffsets: a server with its own offset gets a line; the servers
// of a network that took a pooled offset share one.
func TestReportOffsets(t *testing.T) {
	srv := func(a string, port uint16) downloads.ServerKey {
		return downloads.ServerKey{Addr: netip.MustParseAddr(a), Port: port}
	}
	offs := []downloads.ServerOffset{
		{Server: srv("10.0.0.1", 80)},
		{Server: srv("10.0.0.2", 80), Offset: 63, Clean: 19, Votes: 10},
		{Server: srv("192.0.2.10", 80), Offset: -12, Clean: 40, Votes: 30, Pooled: true},
		{Server: srv("192.0.2.11", 80), Offset: -12, Clean: 40, Votes: 30, Pooled: true},
		{Server: srv("192.0.2.12", 80), Offset: -12, Clean: 40, Votes: 30, Pooled: true},
	}
	var b strings.Builder
	if err := WriteOffsets(&b, "classify", offs); err != nil {
		t.Fatal(err)
	}
	want := "classify: server 10.0.0.2:80 sends +63 bytes per download against the model's lab server (10 of its 19 loss-free downloads agree, 0 at the lab's payloads); adjusted\n" +
		"classify: 3 servers in 192.0.2.0/24 port 80, with too few loss-free downloads each, send -12 bytes per download together (30 of their 40 loss-free downloads agree); adjusted\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}
