package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/argus"
	flowstore "github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/datasets/clickhouse/chtest"
	"github.com/fingerflow/fingerflow/datasets/nfcapd"
	"github.com/fingerflow/fingerflow/features"
)

var servers chtest.Servers

func TestMain(m *testing.M) { os.Exit(chtest.Main(m, &servers, 2)) }

var registry = datasets.NewRegistry(&nfcapd.Reader{}, &argus.Reader{})

var cmpAddr = cmpopts.EquateComparable(netip.Addr{})

// labRuns are the shipped lab runs the tests load: every v9 and Argus run
// of lab-dev and lab-extra, and a day of the population.
func labRuns(t testing.TB) []string {
	t.Helper()
	var runs []string
	for _, g := range []string{"lab-dev/*.v9", "lab-dev/*.argus", "lab-extra/*.v9", "lab-extra/*.argus", "population/pop-near-24h-s1007.v9"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "datasets", g))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, m...)
	}
	if len(runs) < 20 {
		t.Fatalf("%d lab runs found", len(runs))
	}
	return runs
}

// files lists a run's files: a v9 run is a directory of rotated files.
func files(t testing.TB, run string) []string {
	t.Helper()
	st, err := os.Stat(run)
	if err != nil {
		t.Fatal(err)
	}
	if !st.IsDir() {
		return []string{run}
	}
	m, err := filepath.Glob(filepath.Join(run, "nfcapd.*"))
	if err != nil || len(m) == 0 {
		t.Fatalf("%s: no rotated files (%v)", run, err)
	}
	slices.Sort(m)
	return m
}

func fileFlows(ctx context.Context, path string) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		rd, err := registry.Detect(ctx, path)
		if err != nil {
			yield(datasets.Flow{}, err)
			return
		}
		for f, err := range rd.Flows(ctx, path) {
			if !yield(f, err) || err != nil {
				return
			}
		}
	}
}

// runFlows streams the flows of several files in order, as the night
// reads them.
func runFlows(ctx context.Context, paths []string) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		for _, p := range paths {
			for f, err := range fileFlows(ctx, p) {
				if !yield(f, err) || err != nil {
					return
				}
			}
		}
	}
}

func dbName(t testing.TB) string {
	return "t_" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
}

// loadStore creates a fresh database on srv, loads paths into it and
// returns the store.
func loadStore(t testing.TB, srv *chtest.Server, db string, paths []string) *flowstore.Store {
	t.Helper()
	ctx := context.Background()
	cfg, err := flowstore.ParseDSN(srv.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	st, err := flowstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Conn().Exec(ctx, "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSchema(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		id, err := flowstore.Identify(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Load(ctx, id, fileFlows(ctx, p)); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func localDownloads(t testing.TB, paths []string, cfg features.Config) []features.Download {
	t.Helper()
	var out []features.Download
	for d, err := range features.Downloads(context.Background(), cfg, runFlows(context.Background(), paths)) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	sortDownloads(out)
	return out
}

func sortDownloads(ds []features.Download) {
	slices.SortFunc(ds, func(x, y features.Download) int {
		return cmp.Or(x.Start.Compare(y.Start), x.Server.Compare(y.Server), cmp.Compare(x.ServerPort, y.ServerPort),
			x.Client.Compare(y.Client), cmp.Compare(x.ClientPort, y.ClientPort), x.Exporter.Compare(y.Exporter))
	})
}

// TestDownloadsLab: on every shipped lab run, the downloads assembled in
// ClickHouse are exactly those features.Extractor finds in the same files.
func TestDownloadsLab(t *testing.T) {
	srv := servers.Need(t, 1)[0]
	cfg := features.DefaultConfig()
	for _, run := range labRuns(t) {
		name := strings.TrimPrefix(run, filepath.Join("..", "..", "datasets")+string(filepath.Separator))
		t.Run(name, func(t *testing.T) {
			paths := files(t, run)
			want := localDownloads(t, paths, cfg)
			st := loadStore(t, srv, dbName(t), paths)
			got, stats, err := Downloads(context.Background(), st, flowstore.Window{}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			sortDownloads(got)
			if len(want) == 0 {
				t.Fatalf("no downloads in %s: the comparison would prove nothing", run)
			}
			if d := gocmp.Diff(want, got, cmpAddr); d != "" {
				t.Errorf("%d downloads locally, %d from ClickHouse (%d rows pulled) (-want +got)\n%s", len(want), len(got), stats.Rows, d)
			}
			t.Logf("%d downloads, %d connection rows pulled", len(got), stats.Rows)
		})
	}
}

var _ = fmt.Sprint
