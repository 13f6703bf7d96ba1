package history

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func addrs(hs []MissingHost) []string {
	out := []string{}
	for _, h := range hs {
		s := h.Addr.String()
		for _, o := range h.Others {
			s += " (fetched " + o.Version + " " + o.Fetched.Format(time.DateOnly) + ")"
		}
		if h.MayHaveFetched {
			s += " (may have fetched it)"
		}
		out = append(out, s)
	}
	return out
}

func TestMissing(t *testing.T) {
	db, _ := create(t, scenario()...)
	ctx := context.Background()
	for _, c := range []struct {
		entry      string
		firstNight string
		appeared   time.Time
		hosts      []string
		possible   []string
		// unidentified: hosts no night named an OS for, seen since
		unidentified []string
	}{
		// 10.0.0.5 fetched it; 10.0.0.9 was last seen before it
		// appeared; fd00::20 may have fetched it: not missing. 10.0.0.7,
		// of no known OS, was last seen before it appeared.
		{openssl15.Entry, "2026-11-22", at("2026-11-22T19:00:00"), []string{"10.0.0.6 (fetched 3.0.14-1~deb12u1 2026-11-20)"}, []string{"fd00::20"}, nil},
		{openssl14.Entry, "2026-11-20", at("2026-11-20T19:00:00"), []string{"10.0.0.9", "fd00::20"}, nil, []string{"10.0.0.7"}},
		{curl.Entry, "2026-11-20", at("2026-11-20T19:00:00"), []string{"10.0.0.6", "10.0.0.9"}, []string{"fd00::20"}, []string{"10.0.0.7 (may have fetched it)"}},
		// A release date is when it appeared. 10.0.0.8's latest known OS
		// is windows though the last night gave no verdict; 10.0.0.10
		// fetched it. 10.0.0.7 is unidentified whatever the family.
		{kb13.Entry, "2026-11-20", at("2026-11-12T00:00:00"), []string{"10.0.0.8"}, nil, []string{"10.0.0.7"}},
		{kb17.Entry, "2026-11-22", at("2026-11-22T00:00:00"), []string{"10.0.0.8", "10.0.0.10 (fetched KB5046613 2026-11-21)"}, nil, []string{"10.0.0.7"}},
	} {
		t.Run(c.entry, func(t *testing.T) {
			m, err := db.Missing(ctx, c.entry)
			if err != nil {
				t.Fatal(err)
			}
			if m.Entry.Entry != c.entry || m.FirstNight != c.firstNight || !m.Appeared.Equal(c.appeared) {
				t.Errorf("entry %s first listed %s appeared %v, want %s %s %v", m.Entry.Entry, m.FirstNight, m.Appeared, c.entry, c.firstNight, c.appeared)
			}
			if diff := cmp.Diff(c.hosts, addrs(m.Hosts)); diff != "" {
				t.Errorf("hosts missing it (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.possible, addrs(m.Possible), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("hosts that may have fetched it (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.unidentified, addrs(m.Unidentified), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("hosts of no known OS (-want +got):\n%s", diff)
			}
		})
	}
	m, err := db.Missing(ctx, kb17.Entry)
	if err != nil {
		t.Fatal(err)
	}
	want := MissingHost{Addr: netip.MustParseAddr("10.0.0.8"), OS: "windows", OSVersion: "11",
		LastSeen: at("2026-11-23T06:59:00"), LastNight: "2026-11-22"}
	if diff := cmp.Diff(want, m.Hosts[0], eq); diff != "" {
		t.Errorf("10.0.0.8 (-want +got):\n%s", diff)
	}
	if _, err := db.Missing(ctx, "nosuch.deb"); !errors.Is(err, ErrUnknownEntry) {
		t.Errorf("unknown entry: %v, want ErrUnknownEntry", err)
	}
}

func TestMissingForOS(t *testing.T) {
	db, _ := create(t, scenario()...)
	ctx := context.Background()
	for _, c := range []struct {
		os    string
		since time.Time
		want  []string
	}{
		{"debian", time.Time{}, []string{curl.Entry, openssl14.Entry, openssl15.Entry}},
		{"Debian", at("2026-11-21T00:00:00"), []string{openssl15.Entry}},
		{"windows", time.Time{}, []string{kb13.Entry, kb17.Entry}},
		{"windows", at("2026-11-15T00:00:00"), []string{kb17.Entry}},
		{"rhel", time.Time{}, nil},
	} {
		ms, err := db.MissingForOS(ctx, c.os, c.since)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, m.Entry.Entry)
			one, err := db.Missing(ctx, m.Entry.Entry)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(one, m, eq); diff != "" {
				t.Errorf("MissingForOS and Missing disagree on %s (-Missing +MissingForOS):\n%s", m.Entry.Entry, diff)
			}
		}
		if diff := cmp.Diff(c.want, got, eq); diff != "" {
			t.Errorf("%s since %v (-want +got):\n%s", c.os, c.since, diff)
		}
	}
}

func TestHostHistory(t *testing.T) {
	db, _ := create(t, scenario()...)
	got, err := db.HostHistory(context.Background(), netip.MustParseAddr("::ffff:10.0.0.10"))
	if err != nil {
		t.Fatal(err)
	}
	runs := scenario()
	want := []HostNight{
		{Night: "2026-11-20", Host: runs[0].Hosts[5]},
		{Night: "2026-11-21", Host: runs[1].Hosts[4], Fetches: runs[1].Fetches},
		{Night: "2026-11-22", Host: runs[2].Hosts[3]},
	}
	if diff := cmp.Diff(want, got, eq); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	none, err := db.HostHistory(context.Background(), netip.MustParseAddr("192.0.2.1"))
	if err != nil || len(none) != 0 {
		t.Errorf("unknown host: %v, %v", none, err)
	}
	// A host's possible fetches: once per entry, the earliest.
	v6, err := db.HostHistory(context.Background(), netip.MustParseAddr("fd00::20"))
	if err != nil || len(v6) != 1 {
		t.Fatalf("fd00::20: %v, %v", v6, err)
	}
	wantPossible := []Possible{
		{Addr: netip.MustParseAddr("fd00::20"), Entry: curl.Entry, Product: "curl", Version: curl.Version, OS: "debian", At: at("2026-11-22T21:10:00")},
		{Addr: netip.MustParseAddr("fd00::20"), Entry: openssl15.Entry, Product: "openssl", Version: openssl15.Version, OS: "debian", At: at("2026-11-22T21:10:00")},
	}
	if diff := cmp.Diff(wantPossible, v6[0].Possible, eq); diff != "" {
		t.Errorf("fd00::20's possible fetches (-want +got):\n%s", diff)
	}
}

func TestChanges(t *testing.T) {
	db, _ := create(t, scenario()...)
	ctx := context.Background()
	got, err := db.Changes(ctx, "2026-11-21", "2026-11-22")
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	want := []HostChange{
		{Addr: a("10.0.0.5"), InFrom: true, InTo: true, OSFrom: "debian", OSTo: "debian", VersionFrom: "12", VersionTo: "12", NewUpdates: []string{openssl15.Entry}},
		{Addr: a("10.0.0.6"), InFrom: true, InTo: true, OSFrom: "debian", OSTo: "debian", VersionFrom: "12", VersionTo: "12"},
		{Addr: a("10.0.0.7"), InFrom: true},
		{Addr: a("10.0.0.8"), InFrom: true, InTo: true, OSFrom: "windows", VersionFrom: "11", OSChanged: true},
		{Addr: a("10.0.0.10"), InFrom: true, InTo: true, OSFrom: "windows", OSTo: "windows", VersionFrom: "11", VersionTo: "11"},
		{Addr: a("fd00::20"), InTo: true, OSTo: "debian", VersionTo: "12"},
	}
	if diff := cmp.Diff(want, got, eq); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	one, ok, err := db.HostChanges(ctx, a("10.0.0.8"), "2026-11-21", "2026-11-22")
	if err != nil || !ok || !cmp.Equal(want[3], one, eq) {
		t.Errorf("HostChanges(10.0.0.8) = %+v, %v, %v; want %+v", one, ok, err, want[3])
	}
	// A fetch is new only if no night up to the earlier one had it.
	got, err = db.Changes(ctx, "2026-11-20", "2026-11-21")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		if c.Addr == a("10.0.0.10") && !cmp.Equal(c.NewUpdates, []string{kb13.Entry}) {
			t.Errorf("10.0.0.10 new updates %v", c.NewUpdates)
		}
	}
	if _, err := db.Changes(ctx, "2026-11-19", "2026-11-22"); !errors.Is(err, ErrNoRun) {
		t.Errorf("unknown night: %v, want ErrNoRun", err)
	}
}

func TestPreviousRun(t *testing.T) {
	db, _ := create(t, scenario()...)
	ctx := context.Background()
	for _, c := range []struct{ before, want string }{
		{"2026-11-22", "2026-11-21"}, {"2026-11-23", "2026-11-22"}, {"2026-11-21/2026-11-22", "2026-11-21"},
	} {
		r, err := db.PreviousRun(ctx, c.before)
		if err != nil || r.Night != c.want {
			t.Errorf("PreviousRun(%s) = %s, %v; want %s", c.before, r.Night, err, c.want)
		}
	}
	r, err := db.PreviousRun(ctx, "2026-11-21")
	want := info("2026-11-20", 1000)
	want.SchemaVersion = SchemaVersion
	if err != nil || !cmp.Equal(want, r, eq) {
		t.Errorf("PreviousRun(2026-11-21) = %+v, %v; want %+v", r, err, want)
	}
	if _, err := db.PreviousRun(ctx, "2026-11-20"); !errors.Is(err, ErrNoRun) {
		t.Errorf("before the first night: %v, want ErrNoRun", err)
	}
}

func TestMetrics(t *testing.T) {
	db, _ := create(t, scenario()...)
	got, err := db.Metrics(context.Background(), "flows_per_port", 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []MetricValue{
		{"2026-11-21", "443/tcp", 800}, {"2026-11-21", "80/tcp", 300},
		{"2026-11-22", "443/tcp", 650}, {"2026-11-22", "53/udp", 10}, {"2026-11-22", "80/tcp", 250},
	}
	if diff := cmp.Diff(want, got, eq); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	all, err := db.Metrics(context.Background(), "flows_per_port", 0)
	if err != nil || len(all) != 7 {
		t.Errorf("all nights: %d values, %v; want 7", len(all), err)
	}
}

func TestNightKey(t *testing.T) {
	for _, c := range []struct {
		first, last time.Time
		want        string
	}{
		{at("2026-11-22T19:00:00"), at("2026-11-22T23:59:59"), "2026-11-22"},
		{at("2026-11-22T19:00:00"), at("2026-11-23T06:59:59"), "2026-11-22/2026-11-23"},
		{at("2026-11-22T19:00:00").In(time.FixedZone("CET", 3600)), at("2026-11-22T22:00:00"), "2026-11-22"},
		{at("2026-11-22T19:00:00"), time.Time{}, "2026-11-22"},
	} {
		if got := NightKey(c.first, c.last); got != c.want {
			t.Errorf("NightKey(%v, %v) = %s, want %s", c.first, c.last, got, c.want)
		}
	}
}
