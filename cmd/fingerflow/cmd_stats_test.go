package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fingerflow/fingerflow/datasets/history"
)

// attack is the lab's attack run.
const attack = "../../datasets/lab-attack"

// statsSummary matches stats's summary line, whose run time varies.
var statsSummary = regexp.MustCompile(`in [0-9.]+s`)

// TestGoldenStats pins stats's output on shipped runs: the full report of
// the attack run, nfdump-style statistics on a download run, JSON with
// every section on the population run.
func TestGoldenStats(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"lab-attack.v9.txt", []string{filepath.Join(attack, "lab-attack.v9")}},
		{"test-near.v9-top.txt", []string{"-s", "srcip/bytes", "-s", "dstport:p/flows/bytes", "-s", "record/packets", "-n", "5", filepath.Join(lab, "test-near.v9")}},
		{"pop-near.v9.json", []string{"--json", "-n", "3", "--sources", "3", "--hosts", "3", "--rates", "--lifespans", "-s", "srcip/bytes", "../../datasets/population/pop-near-24h-s1007.v9"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := run(t, context.Background(), append([]string{"stats"}, c.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			checkGolden(t, "stats-"+c.name, stdout)
			checkGolden(t, "stats-"+c.name+".stderr", statsSummary.ReplaceAllString(stderr, "in TIME"))
		})
	}
}

// TestStatsWorkers: the output does not depend on the number of workers,
// for the folded statistics and for the per-second rates read in order,
// on every input format of the attack run together.
func TestStatsWorkers(t *testing.T) {
	inputs := []string{
		filepath.Join(attack, "lab-attack.v5"), filepath.Join(attack, "lab-attack.v9"),
		filepath.Join(attack, "lab-attack.ipfix"), filepath.Join(attack, "lab-attack.argus"),
		filepath.Join(lab, "test-near.v9"), filepath.Join(lab, "test-near.nfdump.csv"),
	}
	for _, mode := range [][]string{{"-s", "srcip/bytes", "-s", "record/flows", "--lifespans"}, {}} {
		var want string
		for _, w := range []string{"1", "2", "5"} {
			args := append(append([]string{"stats", "--json", "--workers", w}, mode...), inputs...)
			stdout, stderr, code := run(t, context.Background(), args...)
			if code != exitOK {
				t.Fatalf("%v: exit %d: %s", args, code, stderr)
			}
			if want == "" {
				want = stdout
			} else if stdout != want {
				t.Errorf("%v: output differs from one worker's", args)
			}
		}
	}
}

// TestStatsErrors: unreadable inputs are reported and skipped (exit 3),
// bad flags are usage errors (exit 2), charts are written.
func TestStatsErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "garbage")
	if err := os.WriteFile(bad, []byte("not flows"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, context.Background(), "stats", "-s", "srcip", bad, filepath.Join(attack, "lab-attack.v9"))
	if code != exitPartial || !strings.Contains(stderr, "skipped "+bad) || !strings.Contains(stdout, "10.77.0.1") {
		t.Errorf("exit %d, stderr %q; want 3, the bad file named and the good one counted", code, stderr)
	}
	// No readable file: an error, not empty tables.
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"stats", "detect"} {
		stdout, stderr, code = run(t, context.Background(), cmd, bad, empty)
		if code != exitError || stdout != "" || !strings.HasSuffix(stderr, "none of the 2 input files could be read\n") {
			t.Errorf("%s over unreadable files: exit %d, stdout %q, stderr %q; want exit 1 and nothing printed", cmd, code, stdout, stderr)
		}
	}
	for _, args := range [][]string{
		{"stats", "-s", "srcas/bytes", lab},
		{"stats", "-s", "srcip/octets", lab},
		{"stats", "-n", "-1", lab},
		{"stats", "--active-timeout", "0s", "--lifespans", lab},
		{"stats", "--internal", "10.0.0.0/33", "--rates", lab},
		{"stats", "-s", "srcip", "--charts", dir, lab},
		{"stats"},
	} {
		if _, stderr, code := run(t, context.Background(), args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, exitUsage, stderr)
		}
	}
	charts := filepath.Join(dir, "charts")
	clusters := filepath.Join(dir, "clusters.csv")
	if err := os.WriteFile(clusters, []byte("host,cluster\n10.77.1.10,near clients\n10.77.6.10,far clients\n10.77.0.1,servers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = run(t, context.Background(), "stats", "--json", "--lifespans", "--rates", "-s", "proto",
		"--clusters", clusters, "--charts", charts, filepath.Join(attack, "lab-attack.v9"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out struct {
		Lifespans struct {
			Groupings []struct {
				By     string `json:"by"`
				Groups []struct {
					Name string `json:"name"`
				} `json:"groups"`
			} `json:"groupings"`
		} `json:"lifespans"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	var clusterGroups []string
	for _, g := range out.Lifespans.Groupings {
		if g.By == "host cluster" {
			for _, gr := range g.Groups {
				clusterGroups = append(clusterGroups, gr.Name)
			}
		}
	}
	if strings.Join(clusterGroups, ",") != "servers,unclustered,far clients,near clients" {
		t.Errorf("host cluster groups %v", clusterGroups)
	}
	for _, f := range []string{"traffic.png", "traffic.svg", "lifespans-protocol.png", "lifespans-service-port.svg", "lifespans-host-cluster.png"} {
		if st, err := os.Stat(filepath.Join(charts, f)); err != nil || st.Size() == 0 {
			t.Errorf("chart %s: %v", f, err)
		}
	}
}

// TestStatsClustersFromHistory groups lifespans by the clusters a night of
// the history database found.
func TestStatsClustersFromHistory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := history.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2027, 1, 20, 11, 0, 0, 0, time.UTC)
	err = db.WriteRun(ctx, history.Run{
		Info: history.RunInfo{FirstFlow: day, LastFlow: day.Add(time.Hour), Started: day, Finished: day},
		Hosts: []history.Host{
			{Addr: netip.MustParseAddr("10.77.0.1"), Cluster: 0, ClusterDescription: "servers"},
			{Addr: netip.MustParseAddr("10.77.1.10"), Cluster: 1, ClusterDescription: "downloaders"},
			{Addr: netip.MustParseAddr("10.77.1.11"), Cluster: -1},
		},
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, ctx, "stats", "--lifespans", "-s", "proto", "--db", path, filepath.Join(attack, "lab-attack.v9"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"By host cluster:", "cluster 0: servers", "cluster 1: downloaders", "unclustered"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("no %q in:\n%s", want, stdout)
		}
	}
	if _, _, code := run(t, ctx, "stats", "--lifespans", "--db", path, "--night", "2027-01-21", lab); code != exitError {
		t.Errorf("a night not in the database: exit %d", code)
	}
}

// TestStatsClustersFileErrors: a --clusters file that cannot be used is a
// failure (exit 1) naming the file and the line, a line without its
// newline included, which is refused after datasets.MaxLine bytes.
func TestStatsClustersFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, content, says string
	}{
		{"no header", "10.77.1.10,near clients\n", ": want a header with host (or addr, ip) and cluster columns"},
		{"bad address", "host,cluster\n10.77.1.10,near\n10.77.1.300,far\n", ": line 3: host \"10.77.1.300\": not an IP address"},
		{"long line", "host,cluster\n10.77.1.10,near\n" + strings.Repeat("x", 3<<20), ": line 3: longer than 1 MiB without a newline"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".csv")
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := run(t, context.Background(), "stats", "--lifespans", "--clusters", path, filepath.Join(attack, "lab-attack.v9"))
			if code != exitError || !strings.HasPrefix(stderr, "fingerflow: "+path+c.says) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want %d and one line starting %q", code, stderr, exitError, path+c.says)
			}
		})
	}
}
