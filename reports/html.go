package reports

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"

	"github.com/fingerflow/fingerflow/models/downloads"
)

// pngMagic starts every PNG file.
var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// chartOrder is where the charts this package draws go in the report;
// other names follow in alphabetical order.
var chartOrder = map[string]int{"accuracy": 1, "extra": 2, "confusion": 3}

// maxConfusions is how many confusion pairs the report lists per run.
const maxConfusions = 20

type htmlRow struct {
	Label string
	Cells []string
}

type htmlConfusion struct {
	Truth, Answer string
	Count         int
}

type htmlRun struct {
	Name       string
	Columns    []string
	Rows       []htmlRow
	Predictor  string // name of Reports[0]
	PerFile    []downloads.FileStats
	Confusions []htmlConfusion
	More       int // confusion pairs not listed
}

type htmlChart struct {
	Name string
	URI  template.URL
}

type htmlPage struct {
	Title  string
	Runs   []htmlRun
	Charts []htmlChart
}

// tableRows are the rows of WriteTable.
func tableRows(reports []*downloads.Report) []htmlRow {
	row := func(label string, f func(r *downloads.Report) string) htmlRow {
		h := htmlRow{Label: label}
		for _, r := range reports {
			h.Cells = append(h.Cells, f(r))
		}
		return h
	}
	return []htmlRow{
		row("catalog downloads named correctly", func(r *downloads.Report) string { return pct(r.KnownCorrect, r.Known) }),
		row("unknown downloads rejected", func(r *downloads.Report) string { return pct(r.UnknownCorrect, r.Unknown) }),
		row("simulated unknown downloads rejected", func(r *downloads.Report) string { return pct(r.SimUnknownCorrect, r.SimUnknown) }),
		row("files recovered from multi-file connections", func(r *downloads.Report) string { return pct(r.MultiFound, r.MultiFiles) }),
		row("multi-file connections answered exactly", func(r *downloads.Report) string { return pct(r.MultiExact, r.MultiConns) }),
		row("files wrongly named in multi-file connections", func(r *downloads.Report) string {
			if r.MultiFiles == 0 {
				return "-"
			}
			return strconv.Itoa(r.MultiWrong)
		}),
	}
}

// confusions lists r's off-diagonal pairs, most frequent first.
func confusions(r *downloads.Report) (top []htmlConfusion, more int) {
	var all []htmlConfusion
	for k, n := range r.Confusion {
		if k[0] != k[1] {
			all = append(all, htmlConfusion{k[0], k[1], n})
		}
	}
	slices.SortFunc(all, func(a, b htmlConfusion) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Truth, b.Truth), cmp.Compare(a.Answer, b.Answer))
	})
	if len(all) > maxConfusions {
		return all[:maxConfusions], len(all) - maxConfusions
	}
	return all, 0
}

// WriteHTML writes one self-contained HTML report: the charts first, PNG
// images given by name (accuracy, extra and confusion lead, in that order)
// inlined as data: URIs, then for every run the table of WriteTable
// (one column per predictor) and fingerflow's per-file precision and recall
// and most frequent confusions (collapsed). The page loads nothing from
// elsewhere. Every string goes through html/template's escaping.
func WriteHTML(w io.Writer, title string, runs []RunResult, charts map[string][]byte) error {
	page := htmlPage{Title: title}
	for _, run := range runs {
		if len(run.Reports) == 0 {
			return fmt.Errorf("html report: run %q has no reports: %w", run.Name, ErrNoData)
		}
		h := htmlRun{Name: run.Name, Rows: tableRows(run.Reports), Predictor: run.Reports[0].Name}
		for _, r := range run.Reports {
			h.Columns = append(h.Columns, r.Name)
		}
		h.PerFile = run.Reports[0].PerFile()
		h.Confusions, h.More = confusions(run.Reports[0])
		page.Runs = append(page.Runs, h)
	}
	names := make([]string, 0, len(charts))
	for n, b := range charts {
		if !bytes.HasPrefix(b, pngMagic) {
			return fmt.Errorf("html report: chart %q is not a PNG image", n)
		}
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		oa, ob := chartOrder[a], chartOrder[b]
		if oa == 0 {
			oa = len(chartOrder) + 1
		}
		if ob == 0 {
			ob = len(chartOrder) + 1
		}
		return cmp.Or(cmp.Compare(oa, ob), cmp.Compare(a, b))
	})
	for _, n := range names {
		// The URI is built here from PNG bytes checked above: no caller
		// text reaches it unescaped.
		uri := template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(charts[n]))
		page.Charts = append(page.Charts, htmlChart{Name: n, URI: uri})
	}
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, page); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"f3": func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #e4e4e4; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f4f4f4; }
details { margin: 0.5em 0; }
summary { cursor: pointer; color: #0a4f8a; }
figure { margin: 1.5em 0; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if .Charts}}<h2>Charts</h2>
{{range .Charts}}<figure>
<img src="{{.URI}}" alt="{{.Name}} chart">
<figcaption>{{.Name}}</figcaption>
</figure>
{{end}}{{end}}
{{range .Runs}}
<section class="run">
<h2>{{.Name}}</h2>
<table class="summary">
<thead><tr><th></th>{{range .Columns}}<th class="num">{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr><td>{{.Label}}</td>{{range .Cells}}<td class="num">{{.}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
<details>
<summary>Per-file precision and recall ({{.Predictor}}, {{len .PerFile}} files)</summary>
<table class="perfile">
<thead><tr><th>file</th><th class="num">support</th><th class="num">predicted</th><th class="num">precision</th><th class="num">recall</th></tr></thead>
<tbody>
{{range .PerFile}}<tr><td>{{.File}}</td><td class="num">{{.Support}}</td><td class="num">{{.Predicted}}</td><td class="num">{{f3 .Precision}}</td><td class="num">{{f3 .Recall}}</td></tr>
{{end}}</tbody>
</table>
</details>
<details>
<summary>Most frequent confusions ({{.Predictor}})</summary>
{{if .Confusions}}<table class="confusions">
<thead><tr><th>truth</th><th>answer</th><th class="num">count</th></tr></thead>
<tbody>
{{range .Confusions}}<tr><td>{{.Truth}}</td><td>{{.Answer}}</td><td class="num">{{.Count}}</td></tr>
{{end}}</tbody>
</table>
{{if .More}}<p>… and {{.More}} more pairs.</p>{{end}}{{else}}<p>None: every single-file download was answered correctly.</p>{{end}}
</details>
</section>
{{end}}
</body>
</html>
`))
