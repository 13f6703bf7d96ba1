package clickhouse

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	flowstore "github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/features"
)

func localHosts(t testing.TB, paths []string, cfg features.HostConfig) ([]features.HostStats, features.SiteStats) {
	t.Helper()
	agg, err := features.NewHostAggregator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for f, err := range runFlows(context.Background(), paths) {
		if err != nil {
			t.Fatal(err)
		}
		agg.Add(&f)
	}
	return agg.Hosts(), agg.Site()
}

func relDiff(a, b float64) float64 {
	if a == b {
		return 0
	}
	return math.Abs(a-b) / math.Max(math.Abs(a), math.Abs(b))
}

// hostDiffs compares the hosts from ClickHouse with the aggregator's:
// exactly, except the per-second values (float32 in the aggregator) and
// the hosts' 95th percentiles (a DDSketch there, exact here), which must
// lie within the sketch's relative accuracy. It returns the largest
// relative difference of the percentiles.
func hostDiffs(t *testing.T, want, got []features.HostStats, accuracy float64) float64 {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d hosts from ClickHouse, %d from the aggregator", len(got), len(want))
	}
	worst := 0.0
	approx := approxMinutes
	for i := range want {
		w, g := want[i], got[i]
		for _, p := range [][2]float64{{w.Rates.BytesP95, g.Rates.BytesP95}, {w.Rates.PacketsP95, g.Rates.PacketsP95}} {
			d := relDiff(p[0], p[1])
			worst = max(worst, d)
			if d > accuracy*1.01+1e-6 {
				t.Errorf("%v: P95 %v from ClickHouse, %v from the aggregator's sketch (%.3g apart, accuracy %v)", w.Addr, p[1], p[0], d, accuracy)
			}
		}
		if d := gocmp.Diff(w.Minutes, g.Minutes, approx); d != "" {
			t.Errorf("%v: minutes (-want +got)\n%s", w.Addr, d)
		}
		g.Rates.BytesP95, g.Rates.PacketsP95 = w.Rates.BytesP95, w.Rates.PacketsP95
		g.Minutes, w.Minutes = nil, nil
		if d := gocmp.Diff(w, g, cmpAddr); d != "" {
			t.Errorf("%v (-want +got)\n%s", w.Addr, d)
		}
	}
	return worst
}

func siteDiff(t *testing.T, want, got features.SiteStats) {
	t.Helper()
	if d := gocmp.Diff(want, got, cmpopts.EquateApprox(1e-12, 1e-9)); d != "" {
		t.Errorf("site (-want +got)\n%s", d)
	}
}

// TestHostsLab: on the shipped lab runs, the host rows and the site
// series computed in ClickHouse are the aggregator's.
func TestHostsLab(t *testing.T) {
	srv := servers.Need(t, 1)[0]
	cfg := features.DefaultHostConfig()
	for _, run := range labRuns(t) {
		if strings.Contains(run, "lab-extra") && !strings.Contains(run, "keepalive") && !strings.Contains(run, "ipv6") && !strings.Contains(run, "vpn.") {
			continue
		}
		name := strings.TrimPrefix(run, filepath.Join("..", "..", "datasets")+string(filepath.Separator))
		t.Run(name, func(t *testing.T) {
			paths := files(t, run)
			want, wantSite := localHosts(t, paths, cfg)
			st := loadStore(t, srv, dbName(t), paths)
			got, gotSite, stats, err := Hosts(context.Background(), st, flowstore.Window{}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatal("no hosts: the comparison would prove nothing")
			}
			worst := hostDiffs(t, want, got, cfg.RelativeAccuracy)
			siteDiff(t, wantSite, gotSite)
			t.Logf("%d hosts, %d rows pulled in %v, P95 within %.2g", len(got), stats.Rows, stats.Elapsed, worst)
		})
	}
}

// approxFloats: sums of float64 shares added in another order.
var approxFloats = cmpopts.EquateApprox(1e-12, 1e-9)

// approxMinutes: a minute's bytes, float32 in the aggregator.
var approxMinutes = cmpopts.EquateApprox(1e-6, 1e-6)
