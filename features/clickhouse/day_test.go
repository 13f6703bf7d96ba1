package clickhouse

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	flowstore "github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/features"
)

// TestDay compares a whole day computed in ClickHouse with the local
// extractor and aggregator, and times both: FINGERFLOW_CLICKHOUSE_DAY
// names the day's nfcapd directory and FINGERFLOW_CLICKHOUSE_DSN the
// table it was loaded into (fingerflow load --clickhouse DSN DIR). The
// README's figures come from it.
func TestDay(t *testing.T) {
	dir, dsn := os.Getenv("FINGERFLOW_CLICKHOUSE_DAY"), os.Getenv("FINGERFLOW_CLICKHOUSE_DSN")
	if dir == "" || dsn == "" {
		t.Skip("set FINGERFLOW_CLICKHOUSE_DAY (a day's nfcapd directory) and FINGERFLOW_CLICKHOUSE_DSN (where it was loaded) to compare and time a whole day")
	}
	ctx := context.Background()
	paths, err := filepath.Glob(filepath.Join(dir, "nfcapd.*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("%s: no nfcapd files (%v)", dir, err)
	}
	slices.Sort(paths)
	cfg, err := flowstore.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	st, err := flowstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored, err := st.Count(ctx, flowstore.Window{})
	if err != nil {
		t.Fatal(err)
	}

	dcfg, hcfg := features.DefaultConfig(), features.DefaultHostConfig()
	started := time.Now()
	ex := features.NewExtractor(dcfg)
	agg, err := features.NewHostAggregator(hcfg)
	if err != nil {
		t.Fatal(err)
	}
	var want []features.Download
	var flows uint64
	for f, err := range runFlows(ctx, paths) {
		if err != nil {
			t.Fatal(err)
		}
		flows++
		ex.Add(&f)
		agg.Add(&f)
		want = append(want, ex.Drain()...)
	}
	want = append(want, ex.Flush()...)
	wantHosts, wantSite := agg.Hosts(), agg.Site()
	local := time.Since(started)

	got, dstats, err := Downloads(ctx, st, flowstore.Window{}, dcfg)
	if err != nil {
		t.Fatal(err)
	}
	gotHosts, gotSite, hstats, err := Hosts(ctx, st, flowstore.Window{}, hcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("flows: %d read locally, %d stored", flows, stored)
	t.Logf("local: %v (read, extract, aggregate)", local.Round(time.Millisecond))
	t.Logf("clickhouse downloads: %v, %d rows pulled, %d downloads", dstats.Elapsed.Round(time.Millisecond), dstats.Rows, len(got))
	t.Logf("clickhouse hosts: %v, %d rows pulled, %d hosts", hstats.Elapsed.Round(time.Millisecond), hstats.Rows, len(gotHosts))
	for _, s := range append(dstats.Steps, hstats.Steps...) {
		t.Logf("  %-20s %10v %8d rows", s.Name, s.Elapsed.Round(time.Millisecond), s.Rows)
	}
	t.Logf("rows pulled / flows stored: %.4f", float64(dstats.Rows+hstats.Rows)/float64(stored))

	sortDownloads(want)
	sortDownloads(got)
	if d := gocmp.Diff(want, got, cmpAddr); d != "" {
		t.Errorf("downloads: %d local, %d from ClickHouse (-want +got)\n%.3000s", len(want), len(got), d)
	}
	siteDiff(t, wantSite, gotSite)
	dayHostDiffs(t, wantHosts, gotHosts, hcfg)
}

// dayHostDiffs counts, field by field, the hosts whose rows differ.
func dayHostDiffs(t *testing.T, want, got []features.HostStats, cfg features.HostConfig) {
	if len(want) != len(got) {
		t.Fatalf("%d hosts locally, %d from ClickHouse", len(want), len(got))
	}
	diffs := map[string]int{}
	worst := 0.0
	var p95 []float64
	for i := range want {
		w, g := want[i], got[i]
		if w.Addr != g.Addr {
			t.Fatalf("host %d: %v locally, %v from ClickHouse", i, w.Addr, g.Addr)
		}
		for _, p := range [][2]float64{{w.Rates.BytesP95, g.Rates.BytesP95}, {w.Rates.PacketsP95, g.Rates.PacketsP95}} {
			d := relDiff(p[0], p[1])
			p95 = append(p95, d)
			worst = max(worst, d)
		}
		check := func(name string, eq bool) {
			if !eq {
				diffs[name]++
			}
		}
		check("totals", w.BytesIn == g.BytesIn && w.BytesOut == g.BytesOut && w.PacketsIn == g.PacketsIn && w.PacketsOut == g.PacketsOut &&
			w.FlowsIn == g.FlowsIn && w.FlowsOut == g.FlowsOut && w.ProtoBytes == g.ProtoBytes && w.DurationOut == g.DurationOut &&
			w.First.Equal(g.First) && w.Last.Equal(g.Last) && w.SiteShare == g.SiteShare)
		check("peers", w.Peers == g.Peers)
		check("ports", w.Ports == g.Ports)
		check("services", gocmp.Equal(w.Services, g.Services))
		check("ttls", gocmp.Equal(w.TTLs, g.TTLs) && w.TTLOther == g.TTLOther && w.NoTTLFlows == g.NoTTLFlows)
		check("rates (span, means)", w.Rates.Start.Equal(g.Rates.Start) && w.Rates.Seconds == g.Rates.Seconds &&
			w.Rates.BytesMean == g.Rates.BytesMean && w.Rates.PacketsMean == g.Rates.PacketsMean)
		check("minutes", gocmp.Equal(w.Minutes, g.Minutes, approxMinutes))
		check("late records", w.LateRecords == g.LateRecords)
		if d := relDiff(w.Rates.BytesP95, g.Rates.BytesP95); d > cfg.RelativeAccuracy*1.01+1e-6 {
			diffs["bytes P95 beyond the sketch's accuracy"]++
		}
	}
	slices.Sort(p95)
	t.Logf("P95: median relative difference %.2g, 99th percentile %.2g, largest %.2g", p95[len(p95)/2], p95[len(p95)*99/100], worst)
	for k, n := range diffs {
		t.Logf("%d of %d hosts differ in %s", n, len(want), k)
	}
	for _, k := range []string{"totals", "peers", "ports", "rates (span, means)", "minutes"} {
		if diffs[k] > 0 {
			t.Errorf("%d hosts differ in %s, which must be equal", diffs[k], k)
		}
	}
}
