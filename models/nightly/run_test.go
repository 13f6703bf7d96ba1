package nightly

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/argus"
	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/history"
	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/datasets/netflow"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// The shipped sample population and the model it is run with.
var (
	popDir   = filepath.Join("..", "..", "datasets", "population")
	popV9    = filepath.Join(popDir, "pop-near-24h-s1007.v9")
	popArgus = filepath.Join(popDir, "pop-near-24h-s1007.argus")
	popCat   = filepath.Join(popDir, "pop-near-24h-s1007.catalog.csv")
	popTruth = filepath.Join(popDir, "pop-near-24h-s1007.hosts.csv")
	labModel = filepath.Join("..", "..", "datasets", "lab-dev", "lab.ffm")
)

// sliceSource is a Source of flows held in memory, handed over in batches
// of batch flows.
type sliceSource struct {
	flows []datasets.Flow
	batch int
}

func (s *sliceSource) Batches(ctx context.Context, visit func([]datasets.Flow) error) (datasets.ReadStats, error) {
	st := datasets.ReadStats{Files: 1}
	for i := 0; i < len(s.flows); i += s.batch {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		b := s.flows[i:min(i+s.batch, len(s.flows))]
		st.Kept += uint64(len(b))
		if err := visit(b); err != nil {
			return st, err
		}
	}
	st.Flows = st.Kept
	return st, nil
}

// readFlows reads every flow of path with the reader r.
func readFlows(t testing.TB, r datasets.Reader, path string) []datasets.Flow {
	t.Helper()
	files, err := datasets.Expand(context.Background(), []string{path})
	if err != nil {
		t.Fatal(err)
	}
	var out []datasets.Flow
	for _, f := range files {
		for fl, err := range r.Flows(context.Background(), f) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fl)
		}
	}
	return out
}

// popConfig is the quick start's run configuration.
func popConfig(t testing.TB) Config {
	t.Helper()
	ctx := context.Background()
	m, err := downloads.Load(ctx, labModel)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(ctx, popCat)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := inventory.LoadRules("")
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2027, 1, 21, 6, 0, 0, 0, time.UTC)
	return Config{Model: m, Catalog: cat, ModelPath: labModel, CatalogPaths: []string{popCat}, Rules: rules,
		Inventory: inventory.DefaultConfig(), Seed: 1, Version: "test", Now: func() time.Time { return clock }}
}

// rowSink keeps the downloads' rows.
type rowSink struct{ rows []nightdir.DownloadRow }

func (s *rowSink) Write(r *nightdir.DownloadRow) error { s.rows = append(s.rows, *r); return nil }

// TestRunAssembly runs the quick start's night and checks the order of
// evidence end to end: only catalog files name an OS (hosts that fetched
// none stay unknown whatever their cluster says), every clustered host
// whose cluster has a clear OS majority shows it among its evidence, and
// the verdicts score as the README says.
func TestRunAssembly(t *testing.T) {
	ctx := context.Background()
	cfg := popConfig(t)
	truth, err := labels.LoadHosts(ctx, popTruth)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Truth = truth
	var sink rowSink
	n, err := Run(ctx, cfg, &sliceSource{readFlows(t, &nfcapd.Reader{}, popV9), 1000}, &sink)
	if err != nil {
		t.Fatal(err)
	}
	if n.Summary.Flows != 266 || n.Summary.Hosts != 25 || n.Summary.Downloads != 133 || len(sink.rows) != 133 {
		t.Errorf("summary %d flows, %d hosts, %d downloads (%d rows), want 266, 25, 133", n.Summary.Flows, n.Summary.Hosts, n.Summary.Downloads, len(sink.rows))
	}
	if n.Summary.Night != "2027-01-20" {
		t.Errorf("night %q, want 2027-01-20", n.Summary.Night)
	}
	if n.Clusters == nil {
		t.Fatal("no clusters")
	}
	os := map[netip.Addr]string{}
	for _, h := range truth {
		os[h.Addr] = h.OS
	}
	clusterHints := 0
	whys := map[string]int{}
	for _, h := range n.Hosts {
		if h.Verdict.OS == inventory.Unknown {
			whys[os[h.Addr]+" "+h.Verdict.Why]++
			if h.Verdict.Why == "" || h.Verdict.WhyText == "" {
				t.Errorf("%s: unknown without saying why", h.Addr)
			}
		} else if h.Verdict.Why != "" {
			t.Errorf("%s: named %s but says why not: %s", h.Addr, h.Verdict.OS, h.Verdict.WhyText)
		}
		if want := os[h.Addr]; (want == "none" || want == "") && h.Verdict.OS != inventory.Unknown {
			t.Errorf("%s fetched no catalog file but is named %s", h.Addr, h.Verdict.OS)
		}
		if h.Cluster < 0 {
			continue
		}
		for _, e := range h.Verdict.Evidence {
			if e.Kind == inventory.KindCluster {
				clusterHints++
				if !strings.Contains(e.Text, h.ClusterText) {
					t.Errorf("%s: cluster evidence %q does not name its cluster %q", h.Addr, e.Text, h.ClusterText)
				}
			}
		}
	}
	// The sample night's clusters: the typical hosts (13 of 24 with an
	// OS, 7 of them sles) and the server; every host of the first shows
	// the majority.
	if clusterHints < 20 {
		t.Errorf("%d hosts show their cluster's OS mix among their evidence, want the clustered hosts' (at least 20)", clusterHints)
	}
	// The four windows hosts left unknown fetched over lossy keep-alive
	// connections (one of them with a file named at a chance too high);
	// the hosts without catalog files say why too.
	if whys["windows "+inventory.WhyUnresolved] < 3 || whys["windows "+inventory.WhyUnresolved]+whys["windows "+inventory.WhyWeak] != 4 ||
		whys["none "+inventory.WhyUnresolved]+whys["none "+inventory.WhyNoCatalogTraffic]+whys["none "+inventory.WhyWeak] != 6 {
		t.Errorf("reasons by family %v, want the four windows hosts' unresolved connections", whys)
	}
	if sc := n.Score; sc == nil || sc.OSCorrect != 19 || sc.Misnamed != 0 || sc.Precision() != 1 {
		t.Errorf("score %+v, want 19 of 24 right, none misnamed, precision 1", sc)
	}
}

// TestRunTTLEvidence: on the same night read from Argus (which records
// TTLs), every host's final verdict carries its TTL class, once, after
// the catalog evidence decided the OS.
func TestRunTTLEvidence(t *testing.T) {
	n, err := Run(context.Background(), popConfig(t), &sliceSource{readFlows(t, &argus.Reader{}, popArgus), 512}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range n.Hosts {
		if h.Addr == netip.MustParseAddr("10.77.0.1") {
			continue // the server's own packets are not its clients'
		}
		ttl := 0
		for _, e := range h.Verdict.Evidence {
			if e.Kind == inventory.KindTTL {
				ttl++
			}
		}
		if ttl == 0 || h.TTL == "not recorded" {
			t.Errorf("%s (TTL %s): %d TTL evidence items", h.Addr, h.TTL, ttl)
		}
	}
}

// TestRunEmptyNight: a night without flows, or without a flow of an
// internal host, is an EmptyError and writes nothing to the history.
func TestRunEmptyNight(t *testing.T) {
	ctx := context.Background()
	db, err := history.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct {
		name     string
		flows    []datasets.Flow
		internal []netip.Prefix
		want     error
	}{
		{"no flows", nil, nil, ErrNoFlows},
		{"no internal host", readFlows(t, &nfcapd.Reader{}, popV9), []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, ErrNoHosts},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := popConfig(t)
			cfg.History, cfg.Internal = db, c.internal
			_, err := Run(ctx, cfg, &sliceSource{c.flows, 100}, nil)
			var e *EmptyError
			if !errors.Is(err, c.want) || !errors.As(err, &e) {
				t.Fatalf("err = %v, want an EmptyError of %v", err, c.want)
			}
			runs, err := db.Runs(ctx)
			if err != nil || len(runs) != 0 {
				t.Errorf("history holds %v (%v), want no night", runs, err)
			}
		})
	}
}

// TestDownloadsStage: the stage hands on the downloads extraction finds,
// in the order found, each answered as the adapted classifier answers it
// alone, whatever the batch size.
func TestDownloadsStage(t *testing.T) {
	ctx := context.Background()
	cfg := popConfig(t)
	flows := readFlows(t, &nfcapd.Reader{}, popV9)
	want, err := collect(features.Downloads(ctx, features.DefaultConfig(), func(yield func(datasets.Flow, error) bool) {
		for _, f := range flows {
			if !yield(f, nil) {
				return
			}
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 7, 4096} {
		dl, err := NewDownloads(cfg.Model, features.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Feed(ctx, &sliceSource{flows, batch}, dl.AddBatch); err != nil {
			t.Fatal(err)
		}
		offs, err := dl.Finish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cl := cfg.Model.Classifier(downloads.Options{Offsets: offs})
		var got []features.Download
		if err := dl.Classify(ctx, cl, func(d *features.Download, r downloads.Answer) error {
			got = append(got, *d)
			if alone := cl.Answer(d); !cmp.Equal(alone, r, cmpAddr) {
				t.Errorf("batch %d: %s:%d answered %v, alone %v", batch, d.Client, d.ClientPort, r, alone)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
			t.Errorf("batch %d: downloads (-want +got):\n%s", batch, diff)
		}
		if err := dl.Close(); err != nil {
			t.Error(err)
		}
	}
}

// cmpAddr compares addresses by value.
var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func collect(seq func(func(features.Download, error) bool)) ([]features.Download, error) {
	var out []features.Download
	for d, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// TestFeed: every consumer sees every flow in the source's order; a
// consumer's error ends the read with that error.
func TestFeed(t *testing.T) {
	ctx := context.Background()
	flows := readFlows(t, &nfcapd.Reader{}, popV9)
	var a, b []datasets.Flow
	st, err := Feed(ctx, &sliceSource{flows, 10},
		func(x []datasets.Flow) error { a = append(a, x...); return nil },
		func(x []datasets.Flow) error { b = append(b, x...); return nil })
	if err != nil || st.Kept != uint64(len(flows)) {
		t.Fatalf("Feed: %v, %d kept", err, st.Kept)
	}
	if !slices.EqualFunc(a, flows, flowEqual) || !slices.EqualFunc(b, flows, flowEqual) {
		t.Error("a consumer saw other flows than the source's, or in another order")
	}
	boom := errors.New("boom")
	_, err = Feed(ctx, &sliceSource{flows, 1}, func([]datasets.Flow) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("consumer error: got %v", err)
	}
}

// TestFeedOwned: from a source that hands its batches over (flow files
// decoded on several goroutines), every consumer sees every flow in file
// order, though no batch is copied, and a consumer's error still ends the
// read with that error.
func TestFeedOwned(t *testing.T) {
	ctx := context.Background()
	var files []string
	for _, run := range []string{"train-near.v9", "test-near.v9", "train-https.v9"} {
		files = append(files, filepath.Join("..", "..", "datasets", "lab-dev", run))
	}
	var want []datasets.Flow
	for _, f := range files {
		want = append(want, readFlows(t, &nfcapd.Reader{}, f)...)
	}
	src := func() *datasets.FileSource {
		in, err := datasets.ExpandInputs(ctx, files)
		if err != nil {
			t.Fatal(err)
		}
		return &datasets.FileSource{Registry: datasets.NewRegistry(&nfcapd.Reader{}), Inputs: in, Workers: 3}
	}
	var _ OwnedSource = src()
	var a, b []datasets.Flow
	st, err := Feed(ctx, src(),
		func(x []datasets.Flow) error { a = append(a, x...); return nil },
		func(x []datasets.Flow) error { b = append(b, x...); return nil })
	if err != nil || st.Kept != uint64(len(want)) {
		t.Fatalf("Feed: %v, %d kept, want %d", err, st.Kept, len(want))
	}
	if !slices.EqualFunc(a, want, flowEqual) || !slices.EqualFunc(b, want, flowEqual) {
		t.Error("a consumer saw other flows than the files', or in another order")
	}
	boom := errors.New("boom")
	seen := 0
	_, err = Feed(ctx, src(), func(x []datasets.Flow) error {
		if seen += len(x); seen > len(want)/2 {
			return boom
		}
		return nil
	}, func([]datasets.Flow) error { return nil })
	if !errors.Is(err, boom) {
		t.Errorf("consumer error: got %v", err)
	}
}

func flowEqual(x, y datasets.Flow) bool {
	return x.Start.Equal(y.Start) && x.SrcAddr == y.SrcAddr && x.Bytes == y.Bytes
}

// TestNightWrite: a night written and loaded back gives the same
// inventory, and the directory holds the schema's files.
func TestNightWrite(t *testing.T) {
	ctx := context.Background()
	n, err := Run(ctx, popConfig(t), &sliceSource{readFlows(t, &nfcapd.Reader{}, popV9), 1000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w, err := nightdir.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Write(w, false); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	back, err := nightdir.Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Hosts) != len(n.Hosts) {
		t.Fatalf("%d hosts loaded, %d written", len(back.Hosts), len(n.Hosts))
	}
	for i := range n.Hosts {
		w, g := n.Hosts[i], back.Hosts[i]
		if w.Addr != g.Addr || w.Verdict.OS != g.Verdict.OS || len(w.Verdict.Updates) != len(g.Verdict.Updates) || len(w.Verdict.Evidence) != len(g.Verdict.Evidence) {
			t.Errorf("host %d: wrote %s %s, loaded %s %s", i, w.Addr, w.Verdict.OS, g.Addr, g.Verdict.OS)
		}
	}
	if back.Run.Night != n.Summary.Night || len(back.Clusters) != n.Clusters.K || len(back.Seconds) == 0 {
		t.Errorf("loaded night %q, %d clusters, %d seconds", back.Run.Night, len(back.Clusters), len(back.Seconds))
	}
	var buf bytes.Buffer
	if err := nightdir.WriteInventoryCSV(&buf, back.Hosts); err != nil {
		t.Fatal(err)
	}
	if len(back.Missing) != 2 || !slices.Contains(back.Missing, nightdir.ScoreFile) {
		t.Errorf("missing %v, want the downloads (written by the sink) and score.json", back.Missing)
	}
}

// aptConfig runs the shipped real-apt night with its model, catalog and
// the mirror's Release.
func aptConfig(t testing.TB) Config {
	t.Helper()
	ctx := context.Background()
	cfg := popConfig(t)
	var err error
	if cfg.Model, err = downloads.Load(ctx, filepath.Join(popDir, "apt-near.ffm")); err != nil {
		t.Fatal(err)
	}
	var cats []*catalog.Catalog
	for _, name := range []string{"apt-near-18h-s2302.catalog.csv", "apt-near-18h-s2302.Release"} {
		c, err := catalog.Load(ctx, filepath.Join(popDir, name))
		if err != nil {
			t.Fatal(err)
		}
		cats = append(cats, c)
	}
	if cfg.Catalog, err = catalog.Merge(cats...); err != nil {
		t.Fatal(err)
	}
	if cfg.Truth, err = labels.LoadHosts(ctx, filepath.Join(popDir, "apt-near-18h-s2302.hosts.csv")); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestRunRealApt: on the shipped real-apt night every debian host is named
// by its fetch of the mirror's index (its packages came pipelined over
// lossy connections, which name none of them but leave them possibly
// fetched); with the TTLs pmacct exports, the windows hosts are named by
// their TTL class too and every host is right. No host without catalog
// files is named, and missing is right on every pair.
func TestRunRealApt(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		input  string
		reader datasets.Reader
		right  int
	}{
		{"apt-near-18h-s2302.v9", &nfcapd.Reader{}, 15},
		{"apt-near-18h-s2302.ttl.ipfix.pcap", &netflow.Reader{}, 18},
	} {
		t.Run(c.input, func(t *testing.T) {
			cfg := aptConfig(t)
			n, err := Run(ctx, cfg, &sliceSource{readFlows(t, c.reader, filepath.Join(popDir, c.input)), 512}, nil)
			if err != nil {
				t.Fatal(err)
			}
			sc := n.Score
			if sc.OSCorrect < c.right || sc.Misnamed != 0 || sc.ByOS["debian"][1] != sc.ByOS["debian"][0] || sc.MissingPrecision() < 0.99 {
				t.Errorf("OS right %d of %d (want %d), %d misnamed, by family %v, missing precision %.3f",
					sc.OSCorrect, sc.Hosts, c.right, sc.Misnamed, sc.ByOS, sc.MissingPrecision())
			}
			os := map[netip.Addr]string{}
			for _, h := range cfg.Truth {
				os[h.Addr] = h.OS
			}
			for _, h := range n.Hosts {
				if os[h.Addr] != "debian" {
					continue
				}
				index, possible := false, len(h.Verdict.Possible) > 0
				for _, e := range h.Verdict.Evidence {
					index = index || e.Kind == inventory.KindIndex
				}
				for _, u := range h.Verdict.Updates {
					if strings.HasSuffix(u.Entry, "Release") || strings.HasPrefix(u.Entry, "Packages") {
						t.Errorf("%s: index file %s listed as an update", h.Addr, u.Entry)
					}
				}
				if !index || !possible {
					t.Errorf("%s: index evidence %v, possibly fetched %d packages", h.Addr, index, len(h.Verdict.Possible))
				}
			}
		})
	}
}

// TestRunHistoryChanges: a second night says which hosts vanished since
// the first, and a night run again says which run it replaced.
func TestRunHistoryChanges(t *testing.T) {
	ctx := context.Background()
	db, err := history.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pop := readFlows(t, &nfcapd.Reader{}, popV9)
	cfg := popConfig(t)
	cfg.History = db
	first, err := Run(ctx, cfg, &sliceSource{pop, 1000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Summary.Previous != "" || first.Summary.Replaced != nil || len(first.Summary.Vanished) != 0 {
		t.Errorf("first night: previous %q, replaced %v, vanished %v", first.Summary.Previous, first.Summary.Replaced, first.Summary.Vanished)
	}
	again, err := Run(ctx, cfg, &sliceSource{pop, 1000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := again.Summary.Replaced; r == nil || r.Flows != 266 || r.Hosts != 25 {
		t.Errorf("the night run again replaced %+v, want the first run (266 flows, 25 hosts)", r)
	}
	// A later night of other hosts: the apt run, keyed some days on.
	acfg := aptConfig(t)
	acfg.History = db
	later, err := Run(ctx, acfg, &sliceSource{readFlows(t, &nfcapd.Reader{}, filepath.Join(popDir, "apt-near-18h-s2302.v9")), 1000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if later.Summary.Previous != first.Summary.Night {
		t.Errorf("previous night %q, want %q", later.Summary.Previous, first.Summary.Night)
	}
	seen := map[string]bool{}
	for _, h := range later.Hosts {
		seen[h.Addr.String()] = true
	}
	want := 0
	for _, h := range first.Hosts {
		if !seen[h.Addr.String()] {
			want++
		}
	}
	if want == 0 || len(later.Summary.Vanished) != want {
		t.Errorf("%d hosts vanished, want the %d of the first night not seen again", len(later.Summary.Vanished), want)
	}
	// Each host's missing updates are what the history answers for its
	// family (fingerflow missing), the night just written included.
	if !later.Summary.MissingFromHistory {
		t.Error("run.json does not say the missing updates come from the history")
	}
	lacks := map[string][]string{}
	families, err := db.Families(ctx)
	if err != nil || len(families) < 3 {
		t.Fatalf("families %v (%v), want those of both nights' catalogs", families, err)
	}
	for _, os := range families {
		ups, err := db.MissingForOS(ctx, os, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range ups {
			for _, h := range u.Hosts {
				lacks[h.Addr.String()] = append(lacks[h.Addr.String()], u.Entry.Entry)
			}
		}
	}
	behind := 0
	for _, h := range later.Hosts {
		w := lacks[h.Addr.String()]
		slices.Sort(w)
		if !slices.Equal(h.Missing, w) {
			t.Errorf("%s (%s): missing %v, the history says %v", h.Addr, h.Verdict.OS, h.Missing, w)
		}
		if len(h.Missing) > 0 {
			behind++
		}
	}
	if behind == 0 {
		t.Error("no host of the apt night is behind on updates")
	}
	// A host the night could not name keeps why in the history, and every
	// answer of missing counts it among the unidentified hosts.
	unnamed := 0
	for _, h := range later.Hosts {
		if h.Verdict.OS != inventory.Unknown {
			continue
		}
		unnamed++
		nights, err := db.HostHistory(ctx, h.Addr)
		if err != nil || len(nights) == 0 {
			t.Fatalf("%s: history %v, %v", h.Addr, nights, err)
		}
		if ev := nights[len(nights)-1].Host.Evidence; !strings.HasPrefix(ev, h.Verdict.WhyText) || !strings.HasPrefix(ev, history.WhyPrefix) {
			t.Errorf("%s: history evidence %q, want it to begin with why it has no OS (%q)", h.Addr, ev, h.Verdict.WhyText)
		}
	}
	ups, err := db.MissingForOS(ctx, "debian", time.Time{})
	if err != nil || len(ups) == 0 {
		t.Fatalf("debian updates %d, %v", len(ups), err)
	}
	last := ups[len(ups)-1] // of the apt night's catalog: every later host seen since
	got := map[netip.Addr]bool{}
	for _, u := range last.Unidentified {
		got[u.Addr] = true
		if !strings.HasPrefix(u.Why, history.WhyPrefix) {
			t.Errorf("%s: unidentified, why %q", u.Addr, u.Why)
		}
	}
	knownBefore := map[netip.Addr]bool{} // the first night's verdicts stay the latest known
	for _, h := range first.Hosts {
		knownBefore[h.Addr] = h.Verdict.OS != inventory.Unknown
	}
	checked := 0
	for _, h := range later.Hosts {
		if knownBefore[h.Addr] {
			continue
		}
		checked++
		fetched := slices.ContainsFunc(h.Verdict.Updates, func(u inventory.Update) bool { return u.Entry == last.Entry.Entry })
		if h.Verdict.OS == inventory.Unknown && !got[h.Addr] && !fetched {
			t.Errorf("%s has no OS and was never named, but is not among the unidentified hosts of %s", h.Addr, last.Entry.Entry)
		}
	}
	if unnamed == 0 || checked == 0 {
		t.Errorf("%d unnamed hosts, %d checked: nothing to check", unnamed, checked)
	}
}
