package reports

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
)

// The HTML pages of this package (the evaluation report of WriteHTML and
// the morning report of WriteMorningReport) are one template over the
// types below: a title, key figures, sections of paragraphs, figures,
// tables and collapsed details. Style and script are inline; images are
// data: URIs; links point only at files beside the page. A page with an
// interactive table carries a small script that filters, sorts and pages
// it; a page without one carries no script at all.

// page is one self-contained HTML page.
type page struct {
	Title    string
	Lead     string // a line under the title
	Facts    []fact // key figures under the title
	Nav      []link // links to the sections
	Sections []section
	Script   bool // set by writePage when a table needs the script
}

// fact is one key figure: "hosts" "5,009".
type fact struct{ Label, Value string }

// link is a link to a section (#id) or to a file beside the page.
type link struct{ Text, Href string }

// section is a titled part of a page.
type section struct {
	ID, Title string
	Class     string
	Blocks    []block
}

// block is one piece of a section; exactly one field is set.
type block struct {
	Text    string
	Figure  *figure
	Table   *table
	Details *details
	Links   []link
}

// details are blocks collapsed under a summary line.
type details struct {
	Summary string
	Blocks  []block
}

// figure is a chart: its PNG inlined, or the words saying why there is
// none, a caption and links to its files.
type figure struct {
	Name    string
	Alt     string
	Caption string
	URI     template.URL
	Width   int // pixels, 0 when unknown
	Height  int
	Empty   string // shown instead of the image when there is nothing to draw
	Files   []link
}

// column is a table column; Num columns are right-aligned and sort as
// numbers.
type column struct {
	Name string
	Num  bool
}

// table is a static table (Rows) or, with Data, an interactive one the
// page's script fills, filters, sorts and pages.
type table struct {
	ID      string
	Class   string
	Caption string
	Columns []column
	Rows    [][]string
	// Data is the rows of an interactive table as JSON: an array of rows,
	// each an array of cells, strings or (in Num columns) numbers.
	Data     template.JS
	NumRows  int
	PageSize int
	Empty    string // shown when there are no rows
}

// textBlock is a paragraph.
func textBlock(s string) block { return block{Text: s} }

// newDataTable makes an interactive table of rows. Cells of Num columns
// should be numbers (int, int64, uint64, float64), others strings.
func newDataTable(id, class string, columns []column, rows [][]any, pageSize int, empty string) (*table, error) {
	if len(rows) == 0 {
		return &table{ID: id, Class: class, Columns: columns, Empty: empty}, nil
	}
	// json.Marshal escapes <, > and & so the data cannot end its script
	// element.
	b, err := json.Marshal(rows)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	return &table{ID: id, Class: class, Columns: columns, Data: template.JS(b), NumRows: len(rows), PageSize: pageSize, Empty: empty}, nil
}

// pngURI is the data: URI of PNG bytes, which must start as a PNG does.
func pngURI(b []byte) (template.URL, error) {
	if !bytes.HasPrefix(b, pngMagic) {
		return "", fmt.Errorf("not a PNG image")
	}
	// Built here from checked PNG bytes: no caller text reaches it.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b)), nil
}

// writePage renders p to w.
func writePage(w io.Writer, p page) error {
	p.Script = false
	var visit func(bs []block)
	visit = func(bs []block) {
		for _, b := range bs {
			if b.Table != nil && b.Table.Data != "" {
				p.Script = true
			}
			if b.Details != nil {
				visit(b.Details.Blocks)
			}
		}
	}
	for _, s := range p.Sections {
		visit(s.Blocks)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		return err
	}
	_, err := buf.WriteTo(w)
	return err
}

// pageStyle is the pages' CSS.
const pageStyle = `
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
p.lead { color: #555; margin-top: 0; }
nav { margin: 1em 0; line-height: 1.8; }
nav a { margin-right: 1em; }
a { color: #0a4f8a; }
dl.facts { display: flex; flex-wrap: wrap; gap: 0.5em; margin: 1em 0; }
dl.facts div { border: 1px solid #ddd; border-radius: 4px; padding: 0.4em 0.8em; min-width: 7em; }
dl.facts dt { color: #555; font-size: 0.85em; }
dl.facts dd { margin: 0; font-size: 1.25em; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #e4e4e4; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f4f4f4; }
th button { font: inherit; font-weight: bold; background: none; border: 0; padding: 0; cursor: pointer; color: inherit; }
th[aria-sort=ascending] button::after { content: " \25b2"; }
th[aria-sort=descending] button::after { content: " \25bc"; }
details { margin: 0.5em 0; }
summary { cursor: pointer; color: #0a4f8a; }
figure { margin: 1.5em 0; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; }
figcaption a { margin-left: 0.5em; }
div.nodata { border: 1px dashed #bbb; color: #555; padding: 2em; text-align: center; }
div.dt-bar { margin: 0.5em 0; display: flex; flex-wrap: wrap; gap: 0.6em; align-items: center; }
div.dt-bar input { min-width: 18em; padding: 0.2em 0.4em; }
div.dt { overflow-x: auto; }
div.dt table { font-size: 0.9em; }
div.dt td { white-space: nowrap; max-width: 24em; overflow: hidden; text-overflow: ellipsis; }
p.links a { margin-right: 1em; }
`

// pageScript makes every div.dt an interactive table: its rows come from
// the JSON in its script.dt-data; typing in its filter keeps the rows
// holding every word typed (case-insensitive); a click on a column's
// header sorts by it (again: the other way); rows are shown a page at a
// time.
const pageScript = `
(function () {
  "use strict";
  function fmt(v) {
    if (typeof v === "number") {
      return Number.isInteger(v) ? v.toLocaleString("en-US") : String(v);
    }
    return v === null || v === undefined ? "" : String(v);
  }
  function cmp(a, b) {
    if (typeof a === "number" && typeof b === "number") { return a - b; }
    return fmt(a).localeCompare(fmt(b), "en", {numeric: true});
  }
  document.querySelectorAll("div.dt").forEach(function (box) {
    var data = JSON.parse(box.querySelector("script.dt-data").textContent);
    var heads = box.querySelectorAll("thead th");
    var nums = Array.prototype.map.call(heads, function (th) { return th.classList.contains("num"); });
    var tbody = box.querySelector("tbody");
    var filter = box.querySelector("input.dt-filter");
    var count = box.querySelector(".dt-count");
    var prev = box.querySelector("button.dt-prev");
    var next = box.querySelector("button.dt-next");
    var per = parseInt(box.getAttribute("data-page-size"), 10) || 50;
    var text = data.map(function (r) { return r.map(fmt).join("\u0001").toLowerCase(); });
    var rows = [], page = 0, col = -1, dir = 1;
    function apply() {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      rows = [];
      for (var i = 0; i < data.length; i++) {
        if (words.every(function (w) { return text[i].indexOf(w) >= 0; })) { rows.push(i); }
      }
      if (col >= 0) {
        rows.sort(function (a, b) { return dir * cmp(data[a][col], data[b][col]) || a - b; });
      }
      page = 0;
      render();
    }
    function render() {
      var pages = Math.max(1, Math.ceil(rows.length / per));
      page = Math.min(page, pages - 1);
      var from = page * per, to = Math.min(rows.length, from + per);
      var frag = document.createDocumentFragment();
      for (var i = from; i < to; i++) {
        var tr = document.createElement("tr");
        data[rows[i]].forEach(function (v, j) {
          var td = document.createElement("td");
          if (nums[j]) { td.className = "num"; }
          td.textContent = fmt(v);
          if (td.textContent.length > 30) { td.title = td.textContent; }
          tr.appendChild(td);
        });
        frag.appendChild(tr);
      }
      tbody.replaceChildren(frag);
      var shown = rows.length ? (from + 1) + "\u2013" + to + " of " + rows.length : "no";
      count.textContent = shown + " rows" + (rows.length < data.length ? " (filtered from " + data.length + ")" : "") +
        (pages > 1 ? ", page " + (page + 1) + " of " + pages : "");
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
    }
    heads.forEach(function (th, j) {
      th.querySelector("button").addEventListener("click", function () {
        dir = col === j ? -dir : (nums[j] ? -1 : 1);
        col = j;
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
        apply();
      });
    });
    filter.addEventListener("input", apply);
    prev.addEventListener("click", function () { page--; render(); });
    next.addEventListener("click", function () { page++; render(); });
    apply();
  });
})();
`

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"style":  func() template.CSS { return template.CSS(pageStyle) },
	"script": func() template.JS { return template.JS(pageScript) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{style}}</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if .Lead}}<p class="lead">{{.Lead}}</p>
{{end}}{{if .Facts}}<dl class="facts">
{{range .Facts}}<div><dt>{{.Label}}</dt><dd>{{.Value}}</dd></div>
{{end}}</dl>
{{end}}{{if .Nav}}<nav>{{range .Nav}}<a href="{{.Href}}">{{.Text}}</a>
{{end}}</nav>
{{end}}{{range .Sections}}
<section{{if .ID}} id="{{.ID}}"{{end}}{{if .Class}} class="{{.Class}}"{{end}}>
<h2>{{.Title}}</h2>
{{template "blocks" .Blocks}}</section>
{{end}}{{if .Script}}<script>{{script}}</script>
{{end}}</body>
</html>
{{define "blocks"}}{{range .}}{{template "block" .}}{{end}}{{end}}
{{define "block"}}{{if .Text}}<p>{{.Text}}</p>
{{end}}{{with .Links}}<p class="links">{{range .}}<a href="{{.Href}}">{{.Text}}</a>
{{end}}</p>
{{end}}{{with .Figure}}<figure id="fig-{{.Name}}">
{{if .URI}}<img src="{{.URI}}" alt="{{.Alt}}"{{if .Width}} width="{{.Width}}" height="{{.Height}}"{{end}}>
{{else}}<div class="nodata" role="img" aria-label="{{.Alt}}">{{.Empty}}</div>
{{end}}<figcaption>{{.Caption}}{{range .Files}} <a href="{{.Href}}">{{.Text}}</a>{{end}}</figcaption>
</figure>
{{end}}{{with .Table}}{{template "table" .}}{{end}}{{with .Details}}<details>
<summary>{{.Summary}}</summary>
{{template "blocks" .Blocks}}</details>
{{end}}{{end}}
{{define "table"}}{{if .Data}}<div class="dt" id="{{.ID}}" data-page-size="{{.PageSize}}">
<div class="dt-bar"><input type="search" class="dt-filter" id="{{.ID}}-filter" placeholder="filter: words to find in a row" aria-label="filter the rows"> <button type="button" class="dt-prev">previous</button> <button type="button" class="dt-next">next</button> <span class="dt-count">{{.NumRows}} rows</span></div>
<table{{if .Class}} class="{{.Class}}"{{end}}>
{{if .Caption}}<caption>{{.Caption}}</caption>
{{end}}<thead><tr>{{range .Columns}}<th{{if .Num}} class="num"{{end}}><button type="button">{{.Name}}</button></th>{{end}}</tr></thead>
<tbody></tbody>
</table>
<script type="application/json" class="dt-data">{{.Data}}</script>
</div>
{{else if .Rows}}<table{{if .ID}} id="{{.ID}}"{{end}}{{if .Class}} class="{{.Class}}"{{end}}>
{{if .Caption}}<caption>{{.Caption}}</caption>
{{end}}<thead><tr>{{range .Columns}}<th{{if .Num}} class="num"{{end}}>{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr>{{range $i, $c := .}}<td{{if (index $.Columns $i).Num}} class="num"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{else}}<p>{{.Empty}}</p>
{{end}}{{end}}
`))
