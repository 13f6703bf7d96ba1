package history

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRewriteIdempotent writes every night of the scenario a second time,
// in another order and with its rows shuffled, and checks that the
// database holds and answers exactly what it did after writing each once.
func TestRewriteIdempotent(t *testing.T) {
	db, path := create(t, scenario()...)
	wantDump, wantAnswers := dump(t, path), answers(t, db)
	runs := scenario()
	slices.Reverse(runs)
	for _, r := range runs {
		slices.Reverse(r.Hosts)
		slices.Reverse(r.Fetches)
		slices.Reverse(r.Catalog)
		slices.Reverse(r.Metrics)
		if err := db.WriteRun(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(wantDump, dump(t, path)); diff != "" {
		t.Errorf("database after writing every night twice (-once +twice):\n%s", diff)
	}
	if diff := cmp.Diff(wantAnswers, answers(t, db)); diff != "" {
		t.Errorf("answers after writing every night twice (-once +twice):\n%s", diff)
	}
	checkLatest(t, path)
}

// TestHostLatest writes nights in and out of order, replaces them and
// drops hosts, checking after each write that host_latest is what its
// definition over hosts gives.
func TestHostLatest(t *testing.T) {
	ctx := context.Background()
	runs := scenario()
	db, path := create(t)
	gone := scenario()[1]
	gone.Hosts = gone.Hosts[:2] // 10.0.0.7, .8 and .10 not seen after all
	gone.Fetches, gone.Possible = nil, nil
	unknown := scenario()[2]
	for i := range unknown.Hosts {
		unknown.Hosts[i].OS, unknown.Hosts[i].OSVersion = "", ""
	}
	for i, r := range []Run{runs[1], runs[0], runs[2], runs[2], gone, runs[1], unknown, bigRun("2026-11-23", 50, 100, 30, 1)} {
		if err := db.WriteRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprint(i, " ", r.Info.Night), func(t *testing.T) { checkLatest(t, path) })
	}
}

// TestCorrectedRerun rewrites a night with other verdicts, fetches and
// catalog, and checks that nothing of the first version is left.
func TestCorrectedRerun(t *testing.T) {
	ctx := context.Background()
	runs := scenario()
	db, path := create(t, runs...)

	// The 20th again: 10.0.0.9 was windows, 10.0.0.6 fetched nothing, and
	// the catalog did not list curl yet.
	fixed := scenario()[0]
	fixed.Hosts[4].OS, fixed.Hosts[4].OSVersion = "windows", "10"
	fixed.Fetches = fixed.Fetches[:2]
	fixed.Catalog = []CatalogEntry{openssl14, kb13}
	fixed.Info.Flows = 1234
	if err := db.WriteRun(ctx, fixed); err != nil {
		t.Fatal(err)
	}
	// Another database written with the corrected night from the start
	// holds the same.
	_, want := create(t, fixed, runs[1], runs[2])
	if diff := cmp.Diff(dump(t, want), dump(t, path)); diff != "" {
		t.Errorf("(-written corrected +corrected by rerun):\n%s", diff)
	}
	checkLatest(t, path)

	m, err := db.Missing(ctx, openssl14.Entry)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"10.0.0.6", "fd00::20"}, addrs(m.Hosts)); diff != "" {
		t.Errorf("missing openssl 3.0.14 after the rerun (-want +got):\n%s", diff)
	}
	// curl was first listed on the 21st now.
	c, err := db.Missing(ctx, curl.Entry)
	if err != nil {
		t.Fatal(err)
	}
	if c.FirstNight != "2026-11-21" {
		t.Errorf("curl first listed %s, want 2026-11-21", c.FirstNight)
	}

	// Rerunning a night with no catalog at all drops what only it listed.
	bare := scenario()[2]
	bare.Catalog = nil
	if err := db.WriteRun(ctx, bare); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Missing(ctx, openssl15.Entry); !errors.Is(err, ErrUnknownEntry) {
		t.Errorf("openssl 3.0.15 listed only by a replaced night: %v, want ErrUnknownEntry", err)
	}
}

// TestWriteRunRefused checks that a run that does not validate is
// refused with a message saying why, and writes nothing.
func TestWriteRunRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Run)
		says string
	}{
		{"no key", func(r *Run) { r.Info = RunInfo{} }, "no flow times"},
		{"key without flow times", func(r *Run) { r.Info.FirstFlow, r.Info.LastFlow = time.Time{}, time.Time{} }, "no flow times"},
		{"no last flow", func(r *Run) { r.Info.LastFlow = time.Time{} }, "no flow times"},
		{"host twice", func(r *Run) { r.Hosts = append(r.Hosts, r.Hosts[0]) }, "host 10.0.0.5 given twice"},
		{"host twice mapped", func(r *Run) {
			h := r.Hosts[0]
			h.Addr = netip.MustParseAddr("::ffff:10.0.0.5")
			r.Hosts = append(r.Hosts, h)
		}, "host 10.0.0.5 given twice"},
		{"no address", func(r *Run) { r.Hosts[1].Addr = netip.Addr{} }, "host 1: no address"},
		{"confidence", func(r *Run) { r.Hosts[0].Confidence = 1.5 }, "confidence 1.5 outside 0..1"},
		{"fetch by a stranger", func(r *Run) { r.Fetches[0].Addr = netip.MustParseAddr("192.0.2.1") }, "host 192.0.2.1 is not among the night's hosts"},
		{"fetch without entry", func(r *Run) { r.Fetches[0].Entry = "" }, "no catalog entry"},
		{"method", func(r *Run) { r.Fetches[0].Method = "guess" }, `unknown method "guess"`},
		{"chance", func(r *Run) { r.Fetches[0].Chance = -0.1 }, "chance -0.1 outside 0..1"},
		{"catalog twice", func(r *Run) { r.Catalog = append(r.Catalog, r.Catalog[0]) }, "given twice"},
		{"metric twice", func(r *Run) { r.Metrics = append(r.Metrics, r.Metrics[0]) }, `metric flows_per_port "443/tcp" given twice`},
		{"metric value", func(r *Run) { r.Metrics[0].Value = math.Inf(1) }, "value +Inf"},
		{"counter", func(r *Run) { r.Hosts[0].BytesIn = math.MaxUint64 }, "counter too large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, path := create(t, scenario()[1:]...)
			before := dump(t, path)
			r := scenario()[0]
			c.edit(&r)
			err := db.WriteRun(context.Background(), r)
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Errorf("error %v, want one saying %q", err, c.says)
			}
			if diff := cmp.Diff(before, dump(t, path)); diff != "" {
				t.Errorf("a refused run changed the database:\n%s", diff)
			}
		})
	}
}

// TestWriteRunCancelled cancels a write half-way and checks that the
// database is as before.
func TestWriteRunCancelled(t *testing.T) {
	db, path := create(t, scenario()[:2]...)
	before := dump(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	db.hook = func(point string) {
		if point == "fetches" {
			cancel()
		}
	}
	r := bigRun("2026-11-22", 200, 5000, 30, 1)
	if err := db.WriteRun(ctx, r); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if diff := cmp.Diff(before, dump(t, path)); diff != "" {
		t.Errorf("a cancelled write changed the database:\n%s", diff)
	}
}

// TestConcurrentWriters has two handles (as two processes would) write
// nights at the same time while a third reads: with the busy timeout they
// take turns instead of failing.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fingerflow.db")
	var dbs []*DB
	for range 3 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs = append(dbs, db)
	}
	nights := []string{"2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 2 {
		wg.Go(func() {
			for i, n := range nights {
				if i%2 != w {
					continue
				}
				errs <- dbs[w].WriteRun(ctx, bigRun(n, 300, 3000, 30, uint64(i)))
			}
		})
	}
	wg.Go(func() {
		for range 10 {
			_, err := dbs[2].MissingForOS(ctx, "debian", at("2026-11-01T00:00:00"))
			errs <- err
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	runs, err := dbs[2].Runs(ctx)
	if err != nil || len(runs) != len(nights) {
		t.Errorf("%d nights, %v; want %d", len(runs), err, len(nights))
	}
}
