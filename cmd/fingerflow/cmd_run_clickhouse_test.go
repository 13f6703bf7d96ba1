package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/clickhouse"
	"github.com/fingerflow/fingerflow/datasets/clickhouse/chtest"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// clickhouseNights are shipped nights of both kinds of population, with
// what a run needs of each: argus records keep the TTLs, so the hosts'
// TTL classes are in the evidence; the apt night adds the mirror's
// Release, whose index files are evidence too.
var clickhouseNights = []struct {
	name, flows, model string
	catalogs           []string
	hints              string // hints file content ("": the shipped one)
}{
	{"pop", "../../datasets/population/pop-near-24h-s1007.argus", "../../datasets/lab-dev/lab.ffm",
		[]string{"../../datasets/population/pop-near-24h-s1007.catalog.csv"}, ""},
	{"apt", "../../datasets/population/apt-near-18h-s2302.argus", "../../datasets/population/apt-near.ffm",
		[]string{"../../datasets/population/apt-near-18h-s2302.catalog.csv", "../../datasets/population/apt-near-18h-s2302.Release"}, ""},
	// The shipped hints match nothing in the lab's traffic: rules of
	// every kind that match it, counted in the server as locally.
	{"hints", "../../datasets/population/pop-near-24h-s1007.v9/nfcapd.202701201000", "../../datasets/lab-dev/lab.ffm",
		[]string{"../../datasets/population/pop-near-24h-s1007.catalog.csv"},
		"talks,tcp/80,debian,0.01,asks for web pages\nserves,tcp/80,windows,0.01,serves web pages\n" +
			"net,10.0.0.0/8,debian/ubuntu,0.01,talks to 10/8\nnet,0.0.0.0/0@tcp/80,ubuntu,0.01,talks to any web server\n" +
			"talks,udp/53,sles,0.01,asks DNS\n"},
}

// TestRunClickhouse: the night computed in ClickHouse, from one server
// and from two shards behind a Distributed table, gives the inventory,
// the clusters and the downloads the run over the same files gives.
func TestRunClickhouse(t *testing.T) {
	srvs := chServers.Need(t, 2)
	ctx := context.Background()
	for _, nt := range clickhouseNights {
		t.Run(nt.name, func(t *testing.T) {
			dir := t.TempDir()
			flags := []string{"run", "--model", nt.model, "--no-history", "--no-report", "--csv"}
			for _, c := range nt.catalogs {
				flags = append(flags, "--catalog", c)
			}
			if nt.hints != "" {
				hints := filepath.Join(dir, "hints.csv")
				if err := os.WriteFile(hints, []byte(nt.hints), 0o644); err != nil {
					t.Fatal(err)
				}
				flags = append(flags, "--hints", hints)
			}
			local := filepath.Join(dir, "local")
			if _, stderr, code := run(t, ctx, append(flags, "--out", local, nt.flows)...); code != exitOK {
				t.Fatalf("local run: exit %d\n%s", code, stderr)
			}

			db := "run_" + nt.name
			one := loadShards(t, []*chtest.Server{srvs[0]}, db, nt.flows)
			shards := loadShards(t, srvs, db+"_shards", nt.flows)
			if err := shards[0].Conn().Exec(ctx, fmt.Sprintf("CREATE TABLE %s.flows_all AS %s.flows ENGINE = Distributed(%s, %s, flows, rand())",
				db+"_shards", db+"_shards", chtest.Cluster, db+"_shards")); err != nil {
				t.Fatal(err)
			}
			for _, dsn := range []string{one[0].Config().String(), srvs[0].DSN(db+"_shards", "table=flows_all", "files=flows_files")} {
				out := filepath.Join(dir, fmt.Sprintf("ch%d", len(dsn)))
				_, stderr, code := run(t, ctx, append(flags, "--out", out, "--clickhouse", dsn)...)
				if code != exitOK {
					t.Fatalf("%s: exit %d\n%s", dsn, code, stderr)
				}
				if !strings.Contains(stderr, "stats.json and alarms.json: not computed") {
					t.Errorf("%s: stderr does not say the analytics are left out:\n%s", dsn, stderr)
				}
				sameNight(t, dsn, local, out)
				if nt.hints != "" {
					inv, err := os.ReadFile(filepath.Join(out, nightdir.InventoryCSVFile))
					if err != nil {
						t.Fatal(err)
					}
					for _, want := range []string{"asks for web pages (", "serves web pages (", "talks to 10/8 (", "talks to any web server ("} {
						if !strings.Contains(string(inv), want) {
							t.Errorf("%s: no host matched the hint %q", dsn, want)
						}
					}
				}
			}
		})
	}
}

// loadShards loads the flows of path into database db of each server,
// the i-th of n servers holding every n-th record.
func loadShards(t *testing.T, srvs []*chtest.Server, db, path string) []*clickhouse.Store {
	t.Helper()
	ctx := context.Background()
	var out []*clickhouse.Store
	for i, srv := range srvs {
		cfg, err := clickhouse.ParseDSN(srv.DSN(db))
		if err != nil {
			t.Fatal(err)
		}
		st, err := clickhouse.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateSchema(ctx); err != nil {
			t.Fatal(err)
		}
		id, err := clickhouse.Identify(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := newRegistry(nil).Detect(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		flows := func(yield func(datasets.Flow, error) bool) {
			for f, err := range rd.Flows(ctx, path) {
				if err != nil {
					yield(f, err)
					return
				}
				k++
				if (k-1)%len(srvs) == i && !yield(f, nil) {
					return
				}
			}
		}
		if _, err := st.Load(ctx, id, flows); err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
	}
	return out
}

// sameNight compares two run directories: the inventory byte for byte,
// the clusters and the host table cell for cell, the downloads as sets of
// rows, and the summary's counts.
func sameNight(t *testing.T, name, want, got string) {
	t.Helper()
	w, err := os.ReadFile(filepath.Join(want, nightdir.InventoryCSVFile))
	if err != nil {
		t.Fatal(err)
	}
	g, err := os.ReadFile(filepath.Join(got, nightdir.InventoryCSVFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(w) != string(g) {
		t.Errorf("%s: %s differs from the local run's:\n--- local\n%s\n--- clickhouse\n%s", name, nightdir.InventoryCSVFile, w, g)
	}
	for _, f := range []string{nightdir.ClustersFile, nightdir.HostsCSVFile} {
		sameTable(t, name+": "+f, readCSV(t, filepath.Join(want, f)), readCSV(t, filepath.Join(got, f)))
	}
	rows := func(dir string) []string {
		f, err := os.Open(filepath.Join(dir, nightdir.DownloadsCSVFile))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		recs, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs[1:] {
			out = append(out, strings.Join(r, ","))
		}
		slices.Sort(out)
		return out
	}
	if w, g := rows(want), rows(got); !slices.Equal(w, g) {
		t.Errorf("%s: %d downloads, want the local run's %d (or the same number with other rows)", name, len(g), len(w))
	} else if len(w) == 0 {
		t.Errorf("%s: no downloads", name)
	}
	sum := func(dir string) nightdir.RunSummary {
		b, err := os.ReadFile(filepath.Join(dir, nightdir.RunFile))
		if err != nil {
			t.Fatal(err)
		}
		var s nightdir.RunSummary
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	ws, gs := sum(want), sum(got)
	type counts struct {
		Flows                                                    uint64
		Hosts, HostsWithOS, Downloads, Named, Chance, Updates, K int
		Night                                                    string
	}
	cw := counts{ws.Flows, ws.Hosts, ws.HostsWithOS, ws.Downloads, ws.Named, ws.ChanceLevel, ws.Updates, ws.Clusters, ws.Night}
	cg := counts{gs.Flows, gs.Hosts, gs.HostsWithOS, gs.Downloads, gs.Named, gs.ChanceLevel, gs.Updates, gs.Clusters, gs.Night}
	if cw != cg {
		t.Errorf("%s: run.json counts %+v, want the local run's %+v", name, cg, cw)
	}
	if gs.Source == "" || gs.Analytics == "" {
		t.Errorf("%s: run.json names no source (%q) or says nothing of the analytics (%q)", name, gs.Source, gs.Analytics)
	}
	for _, f := range []string{nightdir.StatsFile, nightdir.AlarmsFile} {
		if _, err := os.Stat(filepath.Join(got, f)); err == nil {
			t.Errorf("%s: %s written, though the analytics were not computed", name, f)
		}
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

// sameTable compares two tables with a header cell for cell.
func sameTable(t *testing.T, name string, want, got [][]string) {
	t.Helper()
	if len(want) != len(got) || len(want) == 0 || !slices.Equal(want[0], got[0]) {
		t.Errorf("%s: %d rows, want %d, with the same header", name, len(got), len(want))
		return
	}
	for i := 1; i < len(want); i++ {
		for j, col := range want[0] {
			if w, g := want[i][j], got[i][j]; w != g {
				t.Errorf("%s: row %d, %s: %s, want the local run's %s", name, i, col, g, w)
			}
		}
	}
}

// TestRunClickhouseBadServer: an unreachable server, a wrong password, a
// table of other columns, a window without flows and flow arguments
// beside --clickhouse each end the run with one line and a non-zero
// exit, with nothing written to OUTDIR or the history database.
func TestRunClickhouseBadServer(t *testing.T) {
	srv := chServers.Need(t, 1)[0]
	ctx := context.Background()
	loadShards(t, []*chtest.Server{srv}, "run_bad", "../../datasets/population/pop-near-24h-s1007.argus")
	cfg, err := clickhouse.ParseDSN(srv.DSN("run_bad"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := clickhouse.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Conn().Exec(ctx, "CREATE TABLE IF NOT EXISTS run_bad.other (TimeReceived DateTime, SrcAddr String, Bytes Float64) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unreachable", []string{"--clickhouse", "clickhouse://127.0.0.1:1/x"}, exitError, "cannot reach ClickHouse at 127.0.0.1:1"},
		{"wrong password", []string{"--clickhouse", "clickhouse://default:wrong@" + srv.Addr + "/run_bad"}, exitError, "wrong user or password"},
		{"other columns", []string{"--clickhouse", srv.DSN("run_bad", "table=other")}, exitError, "flows table does not fit: run_bad.other: missing TimeFlowStartNs"},
		{"no such table", []string{"--clickhouse", srv.DSN("run_bad", "table=none")}, exitError, "run_bad.none does not exist"},
		{"empty window", []string{"--clickhouse", srv.DSN("run_bad"), "--since", "2020-01-01 00:00", "--until", "2020-01-02 00:00"}, exitError,
			"holds no flow between 2020-01-01T00:00:00Z and 2020-01-02T00:00:00Z: nothing written"},
		{"flow files too", []string{"--clickhouse", srv.DSN("run_bad"), "../../datasets/population/pop-near-24h-s1007.argus"}, exitUsage, "no FLOWS arguments"},
		{"port filter", []string{"--clickhouse", srv.DSN("run_bad"), "--port", "80"}, exitUsage, "takes --since and --until, not --proto, --net or --port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out, db := filepath.Join(dir, "night"), filepath.Join(dir, "history.db")
			args := append([]string{"run", "--model", "../../datasets/lab-dev/lab.ffm", "--out", out, "--db", db}, tc.args...)
			_, stderr, code := run(t, ctx, args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("exit %d (want %d), stderr %q (want one line with %q)", code, tc.code, stderr, tc.want)
			}
			for _, p := range []string{out, db} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s written", p)
				}
			}
		})
	}
}

// TestStatsClickhouse: stats over a ClickHouse table, from one server and
// from two shards behind a Distributed table, prints what stats prints
// for the same flows read from the file: the statistics, the sources and
// the traffic section, as tables and as JSON.
func TestStatsClickhouse(t *testing.T) {
	srvs := chServers.Need(t, 2)
	ctx := context.Background()
	for _, c := range []struct{ name, flows string }{
		{"attack", "../../datasets/lab-attack/lab-attack.v9/nfcapd.202612011800"},
		{"argus", "../../datasets/lab-dev/test-near.argus"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := "stats_" + c.name
			loadShards(t, []*chtest.Server{srvs[0]}, db, c.flows)
			shards := loadShards(t, srvs, db+"_shards", c.flows)
			if err := shards[0].Conn().Exec(ctx, fmt.Sprintf("CREATE TABLE %s.flows_all AS %s.flows ENGINE = Distributed(%s, %s, flows, rand())",
				db+"_shards", db+"_shards", chtest.Cluster, db+"_shards")); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"-s", "srcip/bytes/flows", "-s", "dstport:p/packets/bps", "-s", "record/bytes", "-s", "service/bpp", "-n", "7", "--sources", "12", "--rates"},
				{"-s", "ip/pps", "-s", "proto", "--json", "--rates", "--hosts", "3"},
			} {
				want, stderr, code := run(t, ctx, append(append([]string{"stats"}, args...), c.flows)...)
				if code != exitOK {
					t.Fatalf("local stats: exit %d\n%s", code, stderr)
				}
				for _, dsn := range []string{srvs[0].DSN(db), srvs[0].DSN(db+"_shards", "table=flows_all", "files=flows_files")} {
					got, stderr, code := run(t, ctx, append(append([]string{"stats"}, args...), "--clickhouse", dsn)...)
					if code != exitOK {
						t.Fatalf("%s: exit %d\n%s", dsn, code, stderr)
					}
					if slices.Contains(args, "--json") {
						// The per-second series are sums of float shares
						// in another order: equal to the last bits or so.
						var w, g any
						if err := json.Unmarshal([]byte(want), &w); err != nil {
							t.Fatal(err)
						}
						if err := json.Unmarshal([]byte(got), &g); err != nil {
							t.Fatalf("%s: %v", dsn, err)
						}
						if d := gocmp.Diff(w, g, cmpopts.EquateApprox(1e-12, 0)); d != "" {
							t.Errorf("stats %v --clickhouse %s: JSON differs from the file's (-file +clickhouse):\n%s", args, dsn, d)
						}
					} else if got != want {
						t.Errorf("stats %v --clickhouse %s prints otherwise than over the file:\n--- file\n%s\n--- clickhouse\n%s", args, dsn, want, got)
					}
					if !strings.Contains(stderr, "flows counted by the server") {
						t.Errorf("%s: stderr %q", dsn, stderr)
					}
				}
			}
		})
	}
	// What the server cannot count is refused before connecting.
	for _, args := range [][]string{
		{"stats", "--clickhouse", srvs[0].DSN("stats_attack"), "--lifespans"},
		{"stats", "--clickhouse", srvs[0].DSN("stats_attack"), "--proto", "tcp"},
		{"stats", "--clickhouse", srvs[0].DSN("stats_attack"), "some/file"},
	} {
		if _, stderr, code := run(t, ctx, args...); code != exitUsage || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want a usage error of one line", args, code, stderr)
		}
	}
}
