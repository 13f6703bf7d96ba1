package morning

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// nightFixture is the output of fingerflow run on the shipped sample
// population (datasets/population/pop-near-24h-s1007.v9), as the nightly
// run writes it:
//
//	go run ./cmd/fingerflow run --no-report -m datasets/lab-dev/lab.ffm \
//	    --catalog datasets/population/pop-near-24h-s1007.catalog.csv \
//	    --db /tmp/fixture.db --out reports/morning/testdata/night \
//	    datasets/population/pop-near-24h-s1007.v9
//
// (run.json's history path made relative: "../fingerflow.db").
var nightFixture = filepath.Join("testdata", "night")

// attackAlarms is alarms.json of fingerflow run on the shipped attack
// capture (datasets/lab-attack/lab-attack.v9: floods and scans against
// the lab's server), and evaluationFixture evaluate --report's
// evaluation.json of the lab's runs (go test ./reports -run
// TestEvaluationFixture -update).
var (
	attackAlarms      = filepath.Join("testdata", "attack-alarms.json")
	evaluationFixture = filepath.Join("testdata", "evaluation.json")
)

// copyNight copies the fixture into a fresh directory the test may write
// into, and returns it.
func copyNight(t testing.TB) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(nightFixture, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(nightFixture, path)
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// must fails t on an error.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// copyFile copies src to dst.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	must(t, err)
	must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	must(t, os.WriteFile(dst, b, 0o644))
}

// richNight is the fixture with an evaluation, a skipped input file and
// the attack capture's floods and scans added.
func richNight(t testing.TB) string {
	t.Helper()
	dir := copyNight(t)
	copyFile(t, evaluationFixture, filepath.Join(dir, "evaluation", EvaluationFile))
	copyFile(t, attackAlarms, filepath.Join(dir, nightdir.AlarmsFile))
	run, err := os.ReadFile(filepath.Join(dir, nightdir.RunFile))
	must(t, err)
	run = bytes.Replace(run, []byte(`"skipped": []`), []byte(`"skipped": [{"path": "night/nfcapd.202701201100", "reason": "truncated block 3: unexpected EOF"}]`), 1)
	must(t, os.WriteFile(filepath.Join(dir, nightdir.RunFile), run, 0o644))
	return dir
}

// editInventory rewrites dir's inventory.json through edit.
func editInventory(t testing.TB, dir string, edit func(hosts []nightdir.Host)) {
	t.Helper()
	path := filepath.Join(dir, nightdir.InventoryFile)
	f, err := os.Open(path)
	must(t, err)
	meta, hosts, err := nightdir.ReadInventoryJSON(f)
	f.Close()
	must(t, err)
	edit(hosts)
	var b bytes.Buffer
	must(t, nightdir.WriteInventoryJSON(&b, meta, hosts))
	must(t, os.WriteFile(path, b.Bytes(), 0o644))
}

// editRun rewrites dir's run.json through edit.
func editRun(t testing.TB, dir string, edit func(r *nightdir.RunSummary)) {
	t.Helper()
	path := filepath.Join(dir, nightdir.RunFile)
	b, err := os.ReadFile(path)
	must(t, err)
	var r nightdir.RunSummary
	must(t, json.Unmarshal(b, &r))
	edit(&r)
	b, err = json.MarshalIndent(r, "", "  ")
	must(t, err)
	must(t, os.WriteFile(path, b, 0o644))
}

// writeReport writes dir's morning report and reads it back, checked.
func writeReport(t *testing.T, dir string) (*MorningReport, []byte, *html.Node) {
	t.Helper()
	rep, err := WriteMorningReport(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(rep.Path)
	must(t, err)
	return rep, page, checkPage(t, dir, page, rep)
}

// sectionIDs are the page's sections' ids, in order.
func sectionIDs(doc *html.Node) []string {
	var ids []string
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "section" {
			ids = append(ids, attr(n, "id"))
		}
	})
	return ids
}

// sectionText is the text of the section with id.
func sectionText(doc *html.Node, id string) string {
	var out string
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "section" && attr(n, "id") == id {
			out = textOf(n)
		}
	})
	return out
}

// falseAbsence finds, for each family whose hosts are unidentified but
// fetched its files, the words "no FAMILY host" in text.
func falseAbsence(text string, families []string) []string {
	var out []string
	low := strings.ToLower(text)
	for _, f := range families {
		for _, w := range []string{"no " + f + " host", "no " + f + " hosts", "0 " + f + " hosts"} {
			if strings.Contains(low, w) {
				out = append(out, w)
			}
		}
	}
	return out
}

func TestMorningReport(t *testing.T) {
	dir := richNight(t)
	rep, page, doc := writeReport(t, dir)
	keep(t, "morning.html", page)

	// The attention section comes first, before any chart.
	ids := sectionIDs(doc)
	wantIDs := []string{"attention", "updates", "inventory", "traffic", "clusters", "downloads", "analytics", "evaluation", "files"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("sections %q, want %q", ids, wantIDs)
	}
	wantCharts := []string{"fig-os-families", "fig-coverage-sles", "fig-coverage-debian", "fig-coverage-windows", "fig-traffic", "fig-talkers",
		"fig-clusters", "fig-downloads-time", "fig-download-sizes", "fig-evaluation-accuracy", "fig-evaluation-confusion", "fig-evaluation-overhead"}
	if !slices.Equal(rep.Charts, wantCharts) {
		t.Errorf("charts %q, want %q", rep.Charts, wantCharts)
	}
	// The sample's first night in the history has nothing to compare with.
	if !slices.Equal(rep.Omitted, []string{"fig-changes"}) {
		t.Errorf("charts left out %q, want only fig-changes", rep.Omitted)
	}
	att := sectionText(doc, "attention")
	containsAll(t, "attention", []string{att},
		// alarms as sentences, first
		"10 alarms: 8 floods and 2 scans, against 10.77.0.1.",
		"SYN flood against 10.77.0.1:80/tcp, 11:04:38.678–11:04:39.808 UTC: 1,000 packets from 10.77.1.200 (1000).",
		"SYN flood against 10.77.0.1:443/tcp, 11:04:44.878–11:04:45.983 UTC: 937 packets from 937 sources, spoofed; the sources look spoofed.",
		"and 4 more: Alarms and statistics lists them all.",
		"1 input file could not be read and was skipped",
		"This is the first night in the history",
		"10 hosts are behind on updates: 32 updates missing in all, of 17 distinct updates.", "sles: 5 of 7 hosts miss 4 of its 15 updates (10 missing in all).",
		"12 hosts of 25 could not be identified (no OS).",
		"9 hosts, unresolved connections", "2 hosts, weak evidence", "1 host, no catalog traffic",
		"floods and scans", "behind on updates")
	if i, j := strings.Index(att, "SYN flood"), strings.Index(att, "behind on updates"); i < 0 || j < i {
		t.Error("the alarms do not come first in the attention section")
	}
	containsAll(t, "alarms and statistics", []string{sectionText(doc, "analytics")},
		"SYN flood against 10.77.0.1:80/tcp from 2027-01-20 11:04:38.678 to 11:04:39.808 UTC: 1,000 packets, 715 packets/s at the peak, from 10.77.1.200 (1000).",
		"Vertical scan by 10.77.6.50 of 10.77.0.1, ports 1-2000, from 2027-01-20 11:05:38.950 to 11:05:40.159 UTC: 2,000 first contacts (2 answered, 1,998 failed), 1.65 kcontacts/s.",
		"Horizontal scan by 10.77.1.203 of 256 hosts, port 445",
		"Hosts that answer as servers (")
	text := textOf(doc)
	containsAll(t, "page", []string{text},
		"Morning report: night 2027-01-20", "Flows from 2027-01-20 10:59:03 to 10:59:40 UTC (37 s)",
		"Hosts per OS family", "not identified", "Update coverage: sles (15 updates)",
		"The 15 hosts with the most bytes", "shares of all hosts add up to 100%",
		"Top services by bytes", "80/tcp", "Cluster 1: 1 host", "servers on 80/tcp",
		"133 downloads", "33 named", "35 that fit a catalog file no better",
		"night/nfcapd.202701201100", "truncated block 3: unexpected EOF",
		"Since the previous night is left out: this is the first night in the history")
	// Said once in the page, never on every row.
	for _, r := range dataTables(t, doc)["inventory-table"].rows {
		if strings.Contains(fmt.Sprint(r), firstNightChanged) {
			t.Errorf("inventory row %v says %q", r[0], firstNightChanged)
		}
	}
	if w := falseAbsence(text, []string{"debian", "sles", "windows"}); len(w) > 0 {
		t.Errorf("the page says %q", w)
	}
	// Numbers for people: no float noise, no unlabelled rates.
	if m := regexp.MustCompile(`\d\.\d{6,}`).FindString(text); m != "" {
		t.Errorf("raw number %s in the page's text", m)
	}

	tables := dataTables(t, doc)
	inv := tables["inventory-table"]
	if len(inv.rows) != 25 {
		t.Errorf("inventory table has %d rows, want the fixture's 25 hosts", len(inv.rows))
	}
	wantCols := []string{"host", "OS", "confidence (%)", "attention", "updates fetched (count: entries)", "missing updates (count: entries)",
		"possibly fetched (count)", "strongest evidence", "cluster", "traffic (bytes)", "seen (UTC)"}
	if !slices.Equal(inv.columns, wantCols) {
		t.Errorf("inventory columns %q, want %q", inv.columns, wantCols)
	}
	for _, r := range inv.rows {
		conf := r[2].(map[string]any)["t"].(string)
		os := r[1].(string)
		if (os == "unknown") != (conf == "—") {
			t.Errorf("host %v: OS %q with confidence %q", r[0], os, conf)
		}
	}
	for _, name := range []string{"coverage-table", "downloads-files", "downloads-named", "downloads-chance", "downloads-closest", "stats-0"} {
		if _, ok := tables[name]; !ok {
			t.Errorf("no %s table", name)
		}
	}
	if n := len(tables["downloads-named"].rows); n != 33 {
		t.Errorf("%d named downloads listed, want 33", n)
	}
	if n := len(tables["downloads-chance"].rows); n != 35 {
		t.Errorf("%d chance-level downloads listed, want 35 (apart from the named ones)", n)
	}
	// coverage.csv lists every update of the catalog.
	cov, err := os.ReadFile(filepath.Join(dir, CoverageFile))
	must(t, err)
	if n := strings.Count(string(cov), "\n"); n != 51 {
		t.Errorf("coverage.csv has %d lines, want a header and 50 updates", n)
	}
}

// TestMorningReportNoFalseAbsence: a family whose hosts could not be
// identified is never said to have no host: the night's debian hosts
// made unidentified, the page says how many hosts without an OS fetched
// debian files, and that which updates they lack is not known.
func TestMorningReportNoFalseAbsence(t *testing.T) {
	dir := copyNight(t)
	var debian []string
	editInventory(t, dir, func(hosts []nightdir.Host) {
		for i := range hosts {
			v := &hosts[i].Verdict
			if v.OS != "debian" {
				continue
			}
			debian = append(debian, hosts[i].Addr.String())
			v.OS, v.OSVersion, v.Confidence, v.Updates = inventory.Unknown, "", 0, nil
			v.Why, v.WhyText = inventory.WhyUnresolved, "downloads of catalog size the counters cannot resolve"
		}
	})
	if len(debian) == 0 {
		t.Fatal("the fixture has no debian host")
	}
	_, page, doc := writeReport(t, dir)
	keep(t, "morning-no-debian.html", page)
	text := textOf(doc)
	if w := falseAbsence(text, []string{"debian"}); len(w) > 0 {
		t.Errorf("the page says %q while %d debian hosts are unidentified", w, len(debian))
	}
	att := sectionText(doc, "attention")
	re := regexp.MustCompile(`debian: OS not identified: (\d+) hosts with (\d+) downloads of debian files`)
	m := re.FindStringSubmatch(att)
	if m == nil {
		t.Fatalf("the attention section does not say what the unidentified hosts did with debian files:\n%s", att)
	}
	if n, _ := strconv.Atoi(m[1]); n < len(debian) {
		t.Errorf("%s hosts without an OS downloaded debian files, want at least the %d made unidentified", m[1], len(debian))
	}
	containsAll(t, "coverage", []string{sectionText(doc, "updates")},
		"No host was identified as debian, so which debian updates hosts lack is not known.")
	cov := dataTables(t, doc)["coverage-table"]
	for _, r := range cov.rows {
		if r[1] == "debian" {
			if got := r[9].(map[string]any)["t"]; got != "not known: no host identified as debian" {
				t.Errorf("coverage of %v: hosts missing it %q", r[0], got)
			}
		}
	}
}

// TestMorningReportVersionChange: a host whose family stays and whose
// version changes did not change OS family.
func TestMorningReportVersionChange(t *testing.T) {
	dir := copyNight(t)
	editInventory(t, dir, func(hosts []nightdir.Host) {
		for i := range hosts {
			hosts[i].Changed = ""
		}
		hosts[1].Changed = "OS debian 11 → debian 12"
	})
	editRun(t, dir, func(r *nightdir.RunSummary) { r.Previous = "2027-01-19" })
	_, _, doc := writeReport(t, dir)
	if text := sectionText(doc, "attention"); strings.Contains(text, "changed OS family") {
		t.Errorf("a version change is told as a change of family:\n%s", text)
	}
}

// TestMorningReportNights: a later night says what changed, which hosts
// vanished and that the run replaced an earlier run of the night.
func TestMorningReportNights(t *testing.T) {
	dir := copyNight(t)
	editInventory(t, dir, func(hosts []nightdir.Host) {
		for i := range hosts {
			hosts[i].Changed = ""
		}
		hosts[0].Changed = "new since 2027-01-19"
		hosts[1].Changed = "OS debian → windows"
		hosts[2].Changed, hosts[2].NewUpdates = "2 new updates", []string{"cat-035.bin", "cat-037.bin"}
		hosts[3].Changed = "OS unknown → " + hosts[3].Verdict.OS + "; 1 new updates"
		hosts[4].Changed = "OS sles → unknown"
	})
	started := time.Date(2027, 1, 21, 6, 15, 2, 0, time.UTC)
	editRun(t, dir, func(r *nightdir.RunSummary) {
		r.Previous = "2027-01-19"
		r.Vanished = []nightdir.VanishedHost{{Addr: "10.77.1.99", OS: "sles"}, {Addr: "10.77.1.98"}}
		r.Replaced = &nightdir.ReplacedRun{Started: started, Finished: started.Add(30 * time.Second), Flows: 250, Hosts: 24}
	})
	rep, page, doc := writeReport(t, dir)
	keep(t, "morning-later.html", page)
	containsAll(t, "header", []string{textOf(doc)},
		"This run replaced an earlier run of the night 2027-01-20 in the history: that run started 2027-01-21 06:15:02 UTC and read 250 flows from 24 hosts; this run read 266 flows from 25 hosts.")
	containsAll(t, "attention", []string{sectionText(doc, "attention")},
		"1 host is new since 2027-01-19", "2 hosts seen on 2027-01-19 were not seen this night (1 sles, 1 not identified).",
		"1 host changed OS family since 2027-01-19: 10.77.1.10 debian → windows.", "1 host fetched 2 updates for the first time.",
		"1 host without an OS on 2027-01-19 was identified this night", "1 host identified on 2027-01-19 could not be identified this night (1 sles)",
		"+1 new, −2 gone since 2027-01-19")
	if slices.Contains(rep.Omitted, "fig-changes") {
		t.Error("the changes chart is left out on a later night")
	}
	// With files skipped, a vanished host may only have been in them.
	editRun(t, dir, func(r *nightdir.RunSummary) {
		r.Skipped = []nightdir.SkippedFile{{Path: "flows/nfcapd.202701201005", Reason: "truncated"}}
	})
	_, _, doc = writeReport(t, dir)
	containsAll(t, "attention with a file skipped", []string{sectionText(doc, "attention")},
		"2 hosts seen on 2027-01-19 were not seen this night (1 sles, 1 not identified), or only in the input file skipped.")
	tables := dataTables(t, doc)
	if n := len(tables["vanished-table"].rows); n != 2 {
		t.Errorf("%d vanished hosts listed, want 2", n)
	}
	// Only the hosts that changed say so.
	changed := 0
	for _, r := range tables["inventory-table"].rows {
		if c := r[3].(map[string]any)["t"].(string); strings.Contains(c, "new since") || strings.Contains(c, "OS ") || strings.Contains(c, "new updates") {
			changed++
		}
	}
	if changed != 5 {
		t.Errorf("%d inventory rows say they changed, want 5", changed)
	}
}

// TestMorningReportDeterministic: the same directory gives the same bytes,
// whoever writes it when.
func TestMorningReportDeterministic(t *testing.T) {
	a, b := richNight(t), richNight(t)
	for _, dir := range []string{a, b} {
		if _, err := WriteMorningReport(context.Background(), dir); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{ReportFile, CoverageFile} {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, err := os.ReadFile(filepath.Join(b, name))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two reports of the same directory", name)
		}
	}
}

// TestMorningReportBareDirectory: a directory holding only run.json still
// gives a page, every chart left out with a line saying why; no run.json
// is an error.
func TestMorningReportBareDirectory(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, filepath.Join(nightFixture, nightdir.RunFile), filepath.Join(dir, nightdir.RunFile))
	rep, _, doc := writeReport(t, dir)
	if len(rep.Charts) != 0 {
		t.Errorf("charts %q drawn from run.json alone", rep.Charts)
	}
	containsAll(t, "page text", []string{textOf(doc)}, "inventory.json is not in this directory",
		"the run wrote no traffic series", "catalog.csv is not in this directory", "Floods and scans were not checked")
	if _, err := WriteMorningReport(context.Background(), t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("directory without run.json: %v, want fs.ErrNotExist", err)
	}
}

// TestMorningReportAnalyticsNotComputed: a night computed where its flows
// are kept (run --clickhouse) has no alarms.json, and run.json says why:
// the page gives that reason, not "not in this directory".
func TestMorningReportAnalyticsNotComputed(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(nightFixture, nightdir.RunFile))
	must(t, err)
	var run map[string]any
	must(t, json.Unmarshal(b, &run))
	run["analytics"] = nightly.AnalyticsNotComputed
	b, err = json.Marshal(run)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, nightdir.RunFile), b, 0o644))
	_, _, doc := writeReport(t, dir)
	text := textOf(doc)
	containsAll(t, "page text", []string{text}, "Floods and scans were not checked: not computed: the flows stay where they are kept",
		"The run wrote no alarms.json or stats.json: not computed")
	if strings.Contains(text, "alarms.json is not in this directory") {
		t.Error("the page says alarms.json is missing, not why the run wrote none")
	}
}

// containsAll fails t for every want that none of texts holds.
func containsAll(t *testing.T, what string, texts []string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		found := false
		for _, s := range texts {
			found = found || strings.Contains(s, w)
		}
		if !found {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// keep writes b to $FINGERFLOW_TEST_OUT/name when that is set.
func keep(t *testing.T, name string, b []byte) {
	t.Helper()
	d := os.Getenv("FINGERFLOW_TEST_OUT")
	if d == "" {
		return
	}
	must(t, os.MkdirAll(d, 0o755))
	must(t, os.WriteFile(filepath.Join(d, name), b, 0o644))
}

// checkPage checks a morning report: well-formed, nothing that refers
// outside the page but its own parts and the files beside it (which
// exist), no images (every chart is inline HTML and SVG), every chart of
// rep a figure with its marks and every chart left out a line saying why.
func checkPage(t *testing.T, dir string, page []byte, rep *MorningReport) *html.Node {
	t.Helper()
	if err := wellFormed(page); err != nil {
		t.Errorf("report.html is not well-formed: %v", err)
	}
	for _, scheme := range []string{"://", "http:", "https:", "ftp:", "url(", "data:"} {
		if i := bytes.Index(page, []byte(scheme)); i >= 0 {
			t.Errorf("report.html refers outside itself: %q", page[max(0, i-40):min(len(page), i+40)])
		}
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]*html.Node{}
	walk(doc, func(n *html.Node) {
		if id := attr(n, "id"); id != "" {
			if ids[id] != nil {
				t.Errorf("id %q used twice", id)
			}
			ids[id] = n
		}
	})
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		for _, a := range n.Attr {
			if a.Key != "href" && a.Key != "src" {
				continue
			}
			switch v := a.Val; {
			case strings.HasPrefix(v, "#"):
				if ids[v[1:]] == nil {
					t.Errorf("link to #%s: no such element", v[1:])
				}
			case strings.Contains(v, ":") || strings.HasPrefix(v, "/") || strings.Contains(v, ".."):
				t.Errorf("<%s %s=%q>: not a file beside the page", n.Data, a.Key, v)
			default:
				if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(v))); err != nil {
					t.Errorf("<%s %s=%q>: %v", n.Data, a.Key, v, err)
				}
			}
		}
		if t2 := attr(n, "data-table"); t2 != "" && ids[t2] == nil {
			t.Errorf("link to the rows of %s: no such table", t2)
		}
		switch n.Data {
		case "img", "link", "iframe", "object", "embed":
			t.Errorf("<%s> in the page", n.Data)
		case "script":
			if attr(n, "src") != "" {
				t.Errorf("<script src=%q>", attr(n, "src"))
			}
		}
	})
	for _, id := range rep.Charts {
		f := ids[id]
		if f == nil || f.Data != "figure" {
			t.Errorf("chart %s: no figure", id)
			continue
		}
		marks := 0
		walk(f, func(n *html.Node) {
			if n.Type == html.ElementNode && (n.Data == "svg" || attr(n, "class") == "bars" || strings.HasPrefix(attr(n, "class"), "bars ") || n.Data == "table") {
				marks++
			}
		})
		if marks == 0 {
			t.Errorf("chart %s has no marks", id)
		}
	}
	for _, id := range rep.Omitted {
		if n := ids[id]; n == nil || n.Data != "p" || attr(n, "class") != "omitted" || len(strings.TrimSpace(textOf(n))) < 20 {
			t.Errorf("chart %s is left out without a line saying why", id)
		}
	}
	return doc
}

// voidElements have no end tag.
var voidElements = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true,
	"img": true, "input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true}

// wellFormed checks that every element is closed, in order, and that the
// page is one html element after a doctype.
func wellFormed(page []byte) error {
	z := html.NewTokenizer(bytes.NewReader(page))
	var open []string
	doctype := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				return z.Err()
			}
			if len(open) > 0 {
				return fmt.Errorf("unclosed <%s>", strings.Join(open, "> <"))
			}
			if !doctype {
				return fmt.Errorf("no doctype")
			}
			return nil
		case html.DoctypeToken:
			doctype = true
		case html.StartTagToken:
			name, _ := z.TagName()
			if !voidElements[string(name)] {
				open = append(open, string(name))
			}
		case html.SelfClosingTagToken:
			// Inside SVG (foreign content) any element may close itself.
			name, _ := z.TagName()
			if !voidElements[string(name)] && !slices.Contains(open, "svg") {
				return fmt.Errorf("<%s/>: not a void element", name)
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if len(open) == 0 || open[len(open)-1] != string(name) {
				return fmt.Errorf("</%s> closes %v", name, open)
			}
			open = open[:len(open)-1]
		}
	}
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func hasAttr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// textOf is the text a reader sees in doc (scripts and styles left out),
// its runs of white space as one space.
func textOf(doc *html.Node) string {
	var b strings.Builder
	walk(doc, func(n *html.Node) {
		if n.Type == html.TextNode && (n.Parent == nil || n.Parent.Data != "script" && n.Parent.Data != "style") {
			b.WriteString(n.Data)
			b.WriteString(" ")
		}
	})
	return strings.Join(strings.Fields(b.String()), " ")
}

// dataTable is an interactive table as the page holds it.
type dataTable struct {
	columns []string
	rows    [][]any
}

// dataTables reads every interactive table of the page by id, checking
// that its data is JSON rows of as many cells as it has columns.
func dataTables(t *testing.T, doc *html.Node) map[string]dataTable {
	t.Helper()
	out := map[string]dataTable{}
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode || n.Data != "div" || attr(n, "class") != "dt" {
			return
		}
		var dt dataTable
		walk(n, func(c *html.Node) {
			switch {
			case c.Type == html.ElementNode && c.Data == "th" && c.Parent != nil && attr(c.Parent, "class") == "ch":
				dt.columns = append(dt.columns, textOf(c))
			case c.Type == html.ElementNode && c.Data == "script" && attr(c, "class") == "dt-data" && c.FirstChild != nil:
				if err := json.Unmarshal([]byte(c.FirstChild.Data), &dt.rows); err != nil {
					t.Errorf("table %s: %v", attr(n, "id"), err)
				}
			}
		})
		tags := 0
		if _, ok := hasAttr(n, "data-tags"); ok {
			tags = 1 // the row's tags, last
		}
		for i, r := range dt.rows {
			if len(r) != len(dt.columns)+tags {
				t.Errorf("table %s row %d: %d cells for %d columns", attr(n, "id"), i, len(r), len(dt.columns))
				break
			}
		}
		out[attr(n, "id")] = dt
	})
	return out
}

// TestMorningReportBehindByEarlierOS: a host this night could not name,
// whose missing updates the history gives by the OS an earlier night gave
// it (as fingerflow missing answers), counts among the hosts behind on
// updates, on a line of its own, and in the tile.
func TestMorningReportBehindByEarlierOS(t *testing.T) {
	dir := copyNight(t)
	var addr string
	editInventory(t, dir, func(hosts []nightdir.Host) {
		for i := range hosts {
			if hosts[i].Verdict.OS == inventory.Unknown {
				hosts[i].Missing = []string{"cat-036.bin", "cat-049.bin"}
				addr = hosts[i].Addr.String()
				return
			}
		}
	})
	if addr == "" {
		t.Fatal("the fixture has no host without an OS")
	}
	_, _, doc := writeReport(t, dir)
	containsAll(t, "attention", []string{sectionText(doc, "attention")},
		"11 hosts are behind on updates: 34 updates missing in all, of 18 distinct updates.",
		"sles: 5 of 7 hosts miss 4 of its 15 updates (10 missing in all).",
		"sles: 1 host not identified this night has 2 updates missing by the sles an earlier night gave it, as fingerflow missing answers.")
	for _, r := range dataTables(t, doc)["inventory-table"].rows {
		if strings.Contains(fmt.Sprint(r[0]), addr) && !strings.Contains(fmt.Sprint(r), "behind: misses 2 updates") {
			t.Errorf("%s's row does not say it misses 2 updates: %v", addr, r)
		}
	}
}
