package reports

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
)

// The evaluation report of WriteHTML is one template over the types
// below: a title, key figures, sections of paragraphs, figures, tables and
// collapsed details. Style is inline; images are data: URIs; links point
// only at files beside the page; there is no script. (The morning report
// of a nightly run is package reports/morning.)

// page is one self-contained HTML page.
type page struct {
	Title    string
	Lead     string // a line under the title
	Facts    []fact // key figures under the title
	Nav      []link // links to the sections
	Sections []section
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

// table is a static table.
type table struct {
	ID      string
	Class   string
	Caption string
	Columns []column
	Rows    [][]string
	Empty   string // shown when there are no rows
}

// textBlock is a paragraph.
func textBlock(s string) block { return block{Text: s} }

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
details { margin: 0.5em 0; }
summary { cursor: pointer; color: #0a4f8a; }
figure { margin: 1.5em 0; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; }
figcaption a { margin-left: 0.5em; }
div.nodata { border: 1px dashed #bbb; color: #555; padding: 2em; text-align: center; }
p.links a { margin-right: 1em; }
`

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"style": func() template.CSS { return template.CSS(pageStyle) },
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
{{define "table"}}{{if .Rows}}<table{{if .ID}} id="{{.ID}}"{{end}}{{if .Class}} class="{{.Class}}"{{end}}>
{{if .Caption}}<caption>{{.Caption}}</caption>
{{end}}<thead><tr>{{range .Columns}}<th{{if .Num}} class="num"{{end}}>{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr>{{range $i, $c := .}}<td{{if (index $.Columns $i).Num}} class="num"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{else}}<p>{{.Empty}}</p>
{{end}}{{end}}
`))
