package reports

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// nightFixture is the output of fingerflow run on the shipped sample
// population (datasets/population/pop-near-24h-s1007.v9), as the nightly
// run writes it:
//
//	go run ./cmd/fingerflow run --no-report -m datasets/lab-dev/lab.ffm \
//	    --catalog datasets/population/pop-near-24h-s1007.catalog.csv \
//	    --out reports/testdata/night datasets/population/pop-near-24h-s1007.v9
//
// (run.json's history path made relative).
var nightFixture = filepath.Join("testdata", "night")

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
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// Extension files as another part of the nightly run might write them:
// the report shows whatever records they hold.
const (
	statsFixture = `{"window": "2027-01-20", "hosts": 25,
  "top_talkers": [{"host": "10.77.0.1", "bytes": 3807753586, "flows": 133}, {"host": "10.77.1.23", "bytes": 308000000, "flows": 10, "note": "<b>not markup</b>"}],
  "lifespans": {"median_s": 1.8, "curve": [{"t": 0, "survival": 1}, {"t": 10, "survival": 0.4}]}}`
	alarmsFixture = `[{"kind": "scan", "host": "10.77.1.99", "ports": 1024, "start": "2027-01-20T10:59:10Z"},
  {"kind": "flood", "host": "10.77.1.98", "pps": 120000, "target": {"addr": "10.77.0.1", "port": 80}}]`
)

// richNight is the fixture with an evaluation, a skipped input file,
// stats.json and alarms.json added.
func richNight(t testing.TB) string {
	t.Helper()
	dir := copyNight(t)
	l := labResults(t)
	var ev bytes.Buffer
	if err := WriteEvaluationJSON(&ev, l.runs, l.points); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "evaluation"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "evaluation", EvaluationFile), ev.Bytes(), 0o644))
	must(os.WriteFile(filepath.Join(dir, nightdir.StatsFile), []byte(statsFixture), 0o644))
	must(os.WriteFile(filepath.Join(dir, nightdir.AlarmsFile), []byte(alarmsFixture), 0o644))
	run, err := os.ReadFile(filepath.Join(dir, nightdir.RunFile))
	must(err)
	run = bytes.Replace(run, []byte(`"skipped": []`), []byte(`"skipped": [{"path": "night/nfcapd.202701201100", "reason": "truncated block 3: unexpected EOF"}]`), 1)
	must(os.WriteFile(filepath.Join(dir, nightdir.RunFile), run, 0o644))
	return dir
}

func TestMorningReport(t *testing.T) {
	dir := richNight(t)
	rep, err := WriteMorningReport(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	keep(t, "morning.html", page)
	doc := checkPage(t, dir, page, rep)

	wantCharts := []string{"traffic", "talkers", "talkers-share", "clusters", "downloads-sizes", "downloads-hourly",
		"os-families", "coverage", "changes", "evaluation-accuracy", "evaluation-confusion", "evaluation-overhead"}
	if !slices.Equal(rep.Charts, wantCharts) {
		t.Errorf("charts %q, want %q", rep.Charts, wantCharts)
	}
	// The sample's first night in the history has nothing to compare with;
	// every other chart has data.
	if !slices.Equal(rep.Empty, []string{"changes"}) {
		t.Errorf("charts without data %q, want only changes", rep.Empty)
	}
	text := textOf(doc)
	containsAll(t, "page text", []string{text},
		"night 2027-01-20", "Traffic over time", "Top talkers", "Host clusters", "Downloads", "Inventory", "Tables",
		"Labelled evaluation", "Top talkers and flow lifespans", "Alarms: floods and scans",
		"This is the first night in the history: nothing to compare with.",
		"typical hosts", "servers on 80/tcp",
		"night/nfcapd.202701201100", "truncated block 3: unexpected EOF",
		"window", "lifespans.median_s", "top_talkers (2 records)", "lifespans.curve (2 records)", "records (2 records)",
	)
	// Records keep their keys' order; markup in them stays text, inside
	// the table's JSON.
	tables := dataTables(t, doc)
	tt := tables["stats-0"]
	if got := strings.Join(tt.columns, ","); got != "host,bytes,flows,note" {
		t.Errorf("stats.json top_talkers columns %s, want host,bytes,flows,note", got)
	}
	if !strings.Contains(string(page), `\u003cb\u003enot markup\u003c/b\u003e`) {
		t.Error("markup in stats.json is not escaped in the page")
	}
	if got := tables["alarms-0"].columns; !slices.Equal(got, []string{"kind", "host", "ports", "start", "pps", "target"}) {
		t.Errorf("alarms.json columns %q", got)
	}
	// The inventory table holds every host of inventory.json.
	inv := tables["inventory-table"]
	if len(inv.rows) != 25 {
		t.Errorf("inventory table has %d rows, want the fixture's 25 hosts", len(inv.rows))
	}
	for _, name := range []string{"coverage-table", "downloads-files", "downloads-named", "downloads-closest"} {
		if _, ok := tables[name]; !ok {
			t.Errorf("no %s table", name)
		}
	}
	if n := len(tables["downloads-named"].rows); n != 33 {
		t.Errorf("%d named downloads listed, want 33 (the sample night names 68, of which 35 at a chance not negligible)", n)
	}
	// coverage.csv lists every catalog entry with an OS.
	cov, err := os.ReadFile(filepath.Join(dir, CoverageFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(cov), "\n"); n != 51 {
		t.Errorf("coverage.csv has %d lines, want a header and 50 entries", n)
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
	names, err := filepath.Glob(filepath.Join(a, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pa := range names {
		if st, err := os.Stat(pa); err != nil || st.IsDir() {
			continue
		}
		x, _ := os.ReadFile(pa)
		y, err := os.ReadFile(filepath.Join(b, filepath.Base(pa)))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two reports of the same directory", filepath.Base(pa))
		}
	}
}

// TestMorningReportBareDirectory: a directory holding only run.json still
// gives a page, every chart saying why it has nothing to draw; no run.json
// is an error.
func TestMorningReportBareDirectory(t *testing.T) {
	dir := t.TempDir()
	run, err := os.ReadFile(filepath.Join(nightFixture, nightdir.RunFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, nightdir.RunFile), run, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := WriteMorningReport(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Empty) != len(rep.Charts) {
		t.Errorf("charts with data %d of %d, want none", len(rep.Charts)-len(rep.Empty), len(rep.Charts))
	}
	page, _ := os.ReadFile(rep.Path)
	doc := checkPage(t, dir, page, rep)
	containsAll(t, "page text", []string{textOf(doc)}, "inventory.json is not in this directory",
		"The run wrote no traffic series", "catalog.csv is not in this directory")

	if _, err := WriteMorningReport(context.Background(), t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("directory without run.json: %v, want fs.ErrNotExist", err)
	}
}

// checkPage checks a morning report: well-formed, nothing that refers
// outside the page but the files beside it (which exist), every figure an
// inline PNG of its stated size or words saying why not, every chart's
// PNG and SVG beside the page.
func checkPage(t *testing.T, dir string, page []byte, rep *MorningReport) *html.Node {
	t.Helper()
	if err := wellFormed(page); err != nil {
		t.Errorf("report.html is not well-formed: %v", err)
	}
	for _, scheme := range []string{"://", "http:", "https:", "ftp:", "url("} {
		if i := bytes.Index(page, []byte(scheme)); i >= 0 {
			t.Errorf("report.html refers outside itself: %q", page[max(0, i-40):min(len(page), i+40)])
		}
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	walk(doc, func(n *html.Node) {
		if id := attr(n, "id"); id != "" {
			if ids[id] {
				t.Errorf("id %q used twice", id)
			}
			ids[id] = true
		}
	})
	figures, imgs, nodata := 0, 0, 0
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
				if !ids[v[1:]] {
					t.Errorf("link to #%s: no such element", v[1:])
				}
			case strings.HasPrefix(v, "data:"):
				const prefix = "data:image/png;base64,"
				if n.Data != "img" || !strings.HasPrefix(v, prefix) {
					t.Errorf("<%s %s=%.40q>: only images may be data: URIs, and only PNG", n.Data, a.Key, v)
					continue
				}
				b, err := base64.StdEncoding.DecodeString(v[len(prefix):])
				if err != nil {
					t.Errorf("image %s: %v", attr(n, "alt"), err)
					continue
				}
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Errorf("image %s: %v", attr(n, "alt"), err)
					continue
				}
				if got, want := fmt.Sprintf("%dx%d", img.Bounds().Dx(), img.Bounds().Dy()), attr(n, "width")+"x"+attr(n, "height"); got != want {
					t.Errorf("image %s is %s pixels, the page says %s", attr(n, "alt"), got, want)
				}
			default:
				if strings.Contains(v, ":") || strings.HasPrefix(v, "/") || strings.Contains(v, "..") {
					t.Errorf("<%s %s=%q>: not a file beside the page", n.Data, a.Key, v)
					continue
				}
				if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(v))); err != nil {
					t.Errorf("<%s %s=%q>: %v", n.Data, a.Key, v, err)
				}
			}
		}
		switch {
		case n.Data == "figure":
			figures++
		case n.Data == "img":
			imgs++
		case n.Data == "div" && attr(n, "class") == "nodata":
			nodata++
		case n.Data == "link" || n.Data == "iframe" || n.Data == "object" || n.Data == "embed":
			t.Errorf("<%s> in the page", n.Data)
		case n.Data == "script" && attr(n, "src") != "":
			t.Errorf("<script src=%q>", attr(n, "src"))
		}
	})
	if figures != len(rep.Charts) || imgs+nodata != figures || nodata != len(rep.Empty) {
		t.Errorf("%d figures (%d images, %d without data) for %d charts (%d without data)", figures, imgs, nodata, len(rep.Charts), len(rep.Empty))
	}
	for _, c := range rep.Charts {
		b, err := os.ReadFile(filepath.Join(dir, c+".png"))
		if err != nil {
			t.Error(err)
		} else if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("%s.png: %v", c, err)
		}
		b, err = os.ReadFile(filepath.Join(dir, c+".svg"))
		if err != nil {
			t.Error(err)
			continue
		}
		d := xml.NewDecoder(bytes.NewReader(b))
		for {
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Errorf("%s.svg: %v", c, err)
				break
			}
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
			name, _ := z.TagName()
			if !voidElements[string(name)] {
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

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(doc *html.Node) string {
	var b strings.Builder
	walk(doc, func(n *html.Node) {
		if n.Type == html.TextNode && (n.Parent == nil || n.Parent.Data != "script" && n.Parent.Data != "style") {
			b.WriteString(n.Data)
			b.WriteString("\n")
		}
	})
	return b.String()
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
			case c.Type == html.ElementNode && c.Data == "th":
				dt.columns = append(dt.columns, strings.TrimSpace(textOf(c)))
			case c.Type == html.ElementNode && c.Data == "script" && attr(c, "class") == "dt-data" && c.FirstChild != nil:
				if err := json.Unmarshal([]byte(c.FirstChild.Data), &dt.rows); err != nil {
					t.Errorf("table %s: %v", attr(n, "id"), err)
				}
			}
		})
		for i, r := range dt.rows {
			if len(r) != len(dt.columns) {
				t.Errorf("table %s row %d: %d cells for %d columns", attr(n, "id"), i, len(r), len(dt.columns))
				break
			}
		}
		out[attr(n, "id")] = dt
	})
	return out
}
