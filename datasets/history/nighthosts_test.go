package history

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

func TestNightHosts(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	day := time.Date(2026, 11, 22, 19, 0, 0, 0, time.UTC)
	run := Run{
		Info: RunInfo{FirstFlow: day, LastFlow: day.Add(time.Hour), Started: day, Finished: day},
		Hosts: []Host{
			{Addr: netip.MustParseAddr("10.0.0.2"), Cluster: 1, ClusterDescription: "heavy downloaders"},
			{Addr: netip.MustParseAddr("10.0.0.1"), Cluster: -1},
		},
	}
	if err := db.WriteRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	hs, err := db.NightHosts(ctx, "2026-11-22")
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0].Addr.String() != "10.0.0.1" || hs[0].Cluster != -1 || hs[1].Cluster != 1 || hs[1].ClusterDescription != "heavy downloaders" {
		t.Errorf("hosts %+v", hs)
	}
	if _, err := db.NightHosts(ctx, "2026-11-23"); !errors.Is(err, ErrNoRun) {
		t.Errorf("missing night: %v", err)
	}
}
