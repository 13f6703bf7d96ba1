package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// samplePopulation is the README's sample night: a population of 24 hosts
// fetching lab updates.
var samplePopulation = filepath.Join("..", "..", "datasets", "population")

// TestRunWritesReport: run ends by writing the morning report and printing
// its path; report writes the same page again from the directory alone;
// --no-report writes none.
func TestRunWritesReport(t *testing.T) {
	out := filepath.Join(t.TempDir(), "night")
	args := []string{"run", "--no-history", "--model", filepath.Join(lab, "lab.ffm"),
		"--catalog", filepath.Join(samplePopulation, "pop-near-24h-s1007.catalog.csv"),
		"--out", out, filepath.Join(samplePopulation, "pop-near-24h-s1007.v9")}
	stdout, stderr, code := run(t, context.Background(), args...)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	page, err := filepath.Abs(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(stdout); got != page {
		t.Errorf("run printed %q, want the report's path %q", got, page)
	}
	if !strings.Contains(stderr, "run: morning report with 9 charts (1 left out)") {
		t.Errorf("stderr lacks the report's summary:\n%s", stderr)
	}
	first, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"catalog.csv", "coverage.csv"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// One self-contained page: no chart files beside it.
	if imgs, _ := filepath.Glob(filepath.Join(out, "*.png")); len(imgs) > 0 {
		t.Errorf("chart files beside the page: %q", imgs)
	}

	stdout, stderr, code = run(t, context.Background(), "report", out)
	if code != exitOK {
		t.Fatalf("report: exit %d, stderr:\n%s", code, stderr)
	}
	if strings.TrimSpace(stdout) != page {
		t.Errorf("report printed %q, want %q", stdout, page)
	}
	again, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("report wrote another page than run did from the same directory")
	}

	out2 := filepath.Join(t.TempDir(), "night")
	args[len(args)-2] = out2
	stdout, stderr, code = run(t, context.Background(), append([]string{args[0], "--no-report"}, args[1:]...)...)
	if code != exitOK {
		t.Fatalf("--no-report: exit %d, stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out2, "report.html")); !os.IsNotExist(err) {
		t.Errorf("--no-report wrote report.html (%v)", err)
	}
	if stdout != "" {
		t.Errorf("--no-report printed %q", stdout)
	}
}

// TestReportNotARunDirectory: a directory without run.json is an error
// (exit 1) that says what is missing; no directory at all a usage error.
func TestReportNotARunDirectory(t *testing.T) {
	_, stderr, code := run(t, context.Background(), "report", t.TempDir())
	if code != exitError || !strings.Contains(stderr, "not the output directory of fingerflow run") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if _, _, code := run(t, context.Background(), "report"); code != exitUsage {
		t.Errorf("no argument: exit %d, want %d", code, exitUsage)
	}
}

// TestRunReportCSV: the report reads the CSV forms run --csv writes as it
// reads Parquet, and links them.
func TestRunReportCSV(t *testing.T) {
	out := filepath.Join(t.TempDir(), "night")
	_, stderr, code := run(t, context.Background(), "run", "--csv", "--no-history", "--model", filepath.Join(lab, "lab.ffm"),
		"--catalog", filepath.Join(samplePopulation, "pop-near-24h-s1007.catalog.csv"),
		"--out", out, filepath.Join(samplePopulation, "pop-near-24h-s1007.v9"))
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	// Without history only the changes since the previous night are
	// missing.
	if !strings.Contains(stderr, "morning report with 9 charts (1 left out)") {
		t.Errorf("stderr:\n%s", stderr)
	}
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`href="downloads.csv"`, `href="hosts.csv"`, "The run kept no history", "33 named as catalog files, 35 that fit a catalog file no better than a file outside the catalog would by chance"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("report.html lacks %s", want)
		}
	}
}

// TestReportDamagedFiles: a damaged Parquet table of a run directory
// (cut short, empty, random bytes) is one line naming the file and exit
// status 1, never a panic.
func TestReportDamagedFiles(t *testing.T) {
	ctx := context.Background()
	night := filepath.Join(t.TempDir(), "night")
	if _, stderr, code := run(t, ctx, runArgs(night, "--no-history")...); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, name := range []string{"downloads.parquet", "traffic.parquet", "traffic_minutes.parquet", "hosts.parquet"} {
		whole, err := os.ReadFile(filepath.Join(night, name))
		if err != nil {
			t.Fatal(err)
		}
		for damage, b := range map[string][]byte{
			"cut":    whole[:100],
			"empty":  nil,
			"random": bytes.Repeat([]byte("PAR1\x07\xfe\x00\x13"), 64),
			"tail":   whole[:len(whole)-9],
		} {
			t.Run(name+"/"+damage, func(t *testing.T) {
				d := filepath.Join(t.TempDir(), "d")
				if err := os.CopyFS(d, os.DirFS(night)); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(d, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
				_, stderr, code := run(t, ctx, "report", d)
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				if code != exitError || len(lines) != 1 || !strings.Contains(stderr, filepath.Join(d, name)) || strings.Contains(stderr, "panic") {
					t.Errorf("exit %d, stderr %q: want 1 and one line naming %s", code, stderr, name)
				}
			})
		}
	}
}

// TestReportMissingAgreesWithHistory: the hosts the morning report says
// miss each update, and those that may have fetched it, are those
// fingerflow missing answers from the history for the night shown.
func TestReportMissingAgreesWithHistory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	out, db := filepath.Join(dir, "night"), filepath.Join(dir, "fingerflow.db")
	if _, stderr, code := run(t, ctx, "run", "-q", "--model", filepath.Join(lab, "lab.ffm"), "--db", db,
		"--catalog", filepath.Join(samplePopulation, "pop-near-24h-s1007.catalog.csv"),
		"--out", out, filepath.Join(samplePopulation, "pop-near-24h-s1007.v9")); code != exitOK {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	f, err := os.Open(filepath.Join(out, "coverage.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	type hosts struct{ missing, possible string }
	report := map[string]hosts{}
	families := map[string]bool{}
	for _, r := range recs[1:] {
		report[r[col["entry"]]] = hosts{r[col["missing_by"]], r[col["possibly_fetched_by"]]}
		families[r[col["os"]]] = true
	}
	missing := 0
	for fam := range families {
		stdout, stderr, code := run(t, ctx, "missing", "--db", db, "--os", fam, "--json")
		if code != exitOK {
			t.Fatalf("missing --os %s: exit %d: %s", fam, code, stderr)
		}
		var answer []struct {
			Entry    string                  `json:"entry"`
			Hosts    []struct{ Host string } `json:"hosts"`
			Possible []struct{ Host string } `json:"possibly_fetched"`
		}
		if err := json.Unmarshal([]byte(stdout), &answer); err != nil {
			t.Fatal(err)
		}
		for _, u := range answer {
			var m, p []string
			for _, h := range u.Hosts {
				m = append(m, h.Host)
			}
			for _, h := range u.Possible {
				p = append(p, h.Host)
			}
			sortAddrs(m)
			sortAddrs(p)
			want := hosts{strings.Join(m, " "), strings.Join(p, " ")}
			if got := report[u.Entry]; got != want {
				t.Errorf("%s: the report says missing on %q, possibly fetched by %q; fingerflow missing says %q, %q", u.Entry, got.missing, got.possible, want.missing, want.possible)
			}
			missing += len(m)
		}
	}
	if missing == 0 {
		t.Error("no host misses an update: the test shows nothing")
	}
}

// sortAddrs sorts address texts as addresses.
func sortAddrs(as []string) {
	slices.SortFunc(as, func(a, b string) int { return netip.MustParseAddr(a).Compare(netip.MustParseAddr(b)) })
}
