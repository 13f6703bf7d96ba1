package morning

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
)

// The morning report is one page: a header, the "Needs attention"
// section, then sections of paragraphs, charts (HTML and inline SVG, see
// chart.go), tables and collapsed details. Style and script are inline;
// links point only at files beside the page and at the page's own parts.

// page is the whole report.
type page struct {
	Title    string
	Lead     string
	Banners  []string // notices above everything (a replaced run)
	Nav      []link
	Sections []section
	Script   bool // the page has interactive tables
}

// link is a link to a part of the page (#id) or a file beside it.
type link struct{ Text, Href string }

// section is a titled part of the page.
type section struct {
	ID, Title string
	Blocks    []block
}

// block is one piece of a section; one field is set.
type block struct {
	Text      string
	Note      string // a muted line
	Figure    *figure
	Table     *table
	Details   *details
	Links     []link
	Attention []item
	Tiles     []tile
	HTML      template.HTML // made by this package's chart kit
}

// figure is a chart with its title and caption, or the line saying why
// it is left out.
type figure struct {
	ID      string
	Title   string
	Caption string
	Body    template.HTML
	Omitted string // why there is no chart; Body is then empty
}

// details are blocks collapsed under a summary line.
type details struct {
	ID      string
	Summary string
	Open    bool
	Blocks  []block
}

// item is one line of the "Needs attention" list.
type item struct {
	Level string // alarm, warn, info or ok
	Text  string
	Link  *tagLink
	Sub   []item
}

// tagLink shows the rows of a table that carry a tag.
type tagLink struct {
	Table, Tag string
	Label      string // what the rows are, shown above the table
	Text       string
}

// tile is a key figure, as a stat panel shows it.
type tile struct {
	Label, Value, Sub string
	Level             string // alarm, warn, ok or ""
	Href              string
}

// column is a table column. Num columns are right-aligned, sort as
// numbers and filter by comparisons (">0"); Count columns are text led by
// a count (a list of entries) that sort and filter as Num ones; Wrap
// columns wrap their text, Wide ones wrap at a larger width.
type column struct {
	Name, Unit             string
	Num, Count, Wrap, Wide bool
}

// table is a static table (Rows) or, with Data, an interactive one the
// page's script fills, filters, sorts and pages. Data is a JSON array of
// rows, each an array of cells: a string, a number, or an object with
// "t" (the text shown), "v" (what it sorts and compares by) and "m"
// (more lines, shown when the cell is opened). With Tags, each row has
// one more element: the row's tags, which links of the page filter by.
type table struct {
	ID       string
	Columns  []column
	Rows     [][]string
	Data     template.JS
	Tags     bool
	NumRows  int
	PageSize int
	Empty    string
}

// cell is a table cell with a text shown, a value to sort by and more
// lines.
type cell struct {
	T string   `json:"t"`
	V any      `json:"v,omitempty"`
	M []string `json:"m,omitempty"`
	// S labels the more lines ("why"); default "N more".
	S string `json:"s,omitempty"`
}

// newDataTable makes an interactive table of rows (cells: string,
// number or cell; with tags, a []string last).
func newDataTable(id string, columns []column, rows [][]any, tags bool, pageSize int, empty string) (*table, error) {
	t := &table{ID: id, Columns: columns, Tags: tags, Empty: empty}
	if len(rows) == 0 {
		return t, nil
	}
	// json.Marshal escapes <, > and & so the data cannot end its script
	// element.
	b, err := json.Marshal(rows)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	t.Data, t.NumRows, t.PageSize = template.JS(b), len(rows), pageSize
	return t, nil
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

// pageStyle is the page's CSS. Colours of what the charts tell apart
// are classes (c-*), so a chart's legend, bars and lines agree.
const pageStyle = `
:root { --fg: #1d2125; --muted: #59636e; --line: #d8dde3; --bg2: #f5f7f9; --link: #0a4f8a;
  --alarm: #c62828; --warn: #c25e00; --ok: #2e7d32; --info: #0a4f8a;
  --k0: #0072b2; --k1: #e69f00; --k2: #009e73; --k3: #cc79a7; --k4: #d55e00; --k5: #56b4e9; --k6: #b8a400; --k7: #555; --k8: #882255; --k9: #117733; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 90rem; padding: 1rem 1.25rem 3rem; color: var(--fg); }
h1 { font-size: 1.5rem; margin: 0.2rem 0; }
h2 { font-size: 1.2rem; margin: 2.2rem 0 0.6rem; padding-bottom: 0.2rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 1.4rem 0 0.4rem; }
p { margin: 0.5rem 0; max-width: 60rem; }
p.lead { color: var(--muted); margin-top: 0; }
p.note, p.omitted { color: var(--muted); font-size: 0.92rem; }
p.omitted::before { content: "\2014  "; }
p.banner { background: #fff6e0; border: 1px solid #f0d48a; border-radius: 4px; padding: 0.5rem 0.8rem; max-width: none; }
a { color: var(--link); }
nav { margin: 0.6rem 0 0; line-height: 1.9; font-size: 0.95rem; }
nav a { margin-right: 0.9rem; white-space: nowrap; }
section#attention h2 { margin-top: 1.2rem; }
ul.att { list-style: none; padding: 0; margin: 0.4rem 0; }
ul.att li { margin: 0.35rem 0; padding-left: 1.4rem; position: relative; }
ul.att li::before { content: ""; position: absolute; left: 0.2rem; top: 0.45em; width: 0.6rem; height: 0.6rem; border-radius: 50%; background: var(--info); }
ul.att li.alarm::before { background: var(--alarm); }
ul.att li.warn::before { background: var(--warn); }
ul.att li.ok::before { background: var(--ok); }
ul.att ul.att { margin: 0.2rem 0 0.3rem; }
ul.att ul.att li { font-size: 0.94em; }
ul.att ul.att li::before { width: 0.4rem; height: 0.4rem; top: 0.55em; }
ul.att a { margin-left: 0.4rem; white-space: nowrap; }
div.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(10.5rem, 1fr)); gap: 0.6rem; margin: 0.8rem 0; }
a.tile, div.tile { display: block; border: 1px solid var(--line); border-top: 4px solid var(--line); border-radius: 4px; padding: 0.45rem 0.7rem; color: inherit; text-decoration: none; }
.tile.alarm { border-top-color: var(--alarm); } .tile.warn { border-top-color: var(--warn); } .tile.ok { border-top-color: var(--ok); }
.tile b { display: block; font-size: 1.55rem; font-weight: 600; font-variant-numeric: tabular-nums; line-height: 1.2; }
.tile span { color: var(--muted); font-size: 0.85rem; display: block; }
.tile.alarm b { color: var(--alarm); } .tile.warn b { color: var(--warn); }
figure { margin: 1.2rem 0 1.6rem; }
figure h3 { margin-top: 0; }
figcaption { color: var(--muted); font-size: 0.9rem; margin-top: 0.3rem; max-width: 60rem; }
.legend { display: flex; flex-wrap: wrap; gap: 0.2rem 1.1rem; font-size: 0.88rem; margin: 0.2rem 0 0.4rem; }
.legend span { white-space: nowrap; }
i.sw { display: inline-block; width: 0.8rem; height: 0.8rem; margin-right: 0.3rem; vertical-align: -0.1rem; border-radius: 2px; }
.xy { margin: 0.3rem 0; }
.panel { display: grid; grid-template-columns: 5.6rem 1fr; margin: 1.5rem 0 0.5rem; }
.yaxis { position: relative; font-size: 0.8rem; color: var(--muted); }
.yaxis span { position: absolute; right: 0.4rem; transform: translateY(50%); white-space: nowrap; font-variant-numeric: tabular-nums; }
.yaxis span.ylabel { top: -1.4rem; bottom: auto; right: auto; left: 0; transform: none; font-weight: 600; color: var(--fg); }
.plot { position: relative; border-left: 1px solid #9aa4ae; border-bottom: 1px solid #9aa4ae; }
.plot svg { position: absolute; inset: 0; width: 100%; height: 100%; overflow: visible; }
.plot path, .plot rect { vector-effect: non-scaling-stroke; }
path.grid { stroke: #e6e9ed; stroke-width: 1; fill: none; }
path.line { fill: none; stroke-width: 1.6; stroke-linejoin: round; }
path.area { stroke: none; opacity: 0.35; }
path.rug { stroke-width: 1; }
rect.hov { fill: transparent; pointer-events: all; }
rect.hov:hover { fill: rgba(0, 0, 0, 0.07); }
path.dot { fill: none; stroke-width: var(--dot, 6px); stroke-linecap: round; opacity: 0.8; }
path.dot:hover { stroke: #000; opacity: 1; }
span.mark { position: absolute; transform: translate(-50%, -0.2rem); font-size: 0.78rem; font-weight: 700; color: #fff; background: #444; border-radius: 0.7rem; padding: 0 0.35rem; line-height: 1.3; cursor: default; }
span.plabel { position: absolute; transform: translate(0.35rem, 50%); font-size: 0.78rem; white-space: nowrap; background: rgba(255, 255, 255, 0.8); padding: 0 0.15rem; }
span.plabel.left { transform: translate(calc(-100% - 0.35rem), 50%); }
.xaxis { position: relative; height: 2.4rem; margin-left: 5.6rem; font-size: 0.8rem; color: var(--muted); }
.xaxis span { position: absolute; transform: translateX(-50%); text-align: center; white-space: nowrap; line-height: 1.15; top: 0.15rem; }
.xaxis span.end { transform: translateX(-100%); text-align: right; }
.xlabel { margin-left: 5.6rem; text-align: center; font-size: 0.85rem; color: var(--muted); }
.bars { margin: 0.3rem 0; display: grid; grid-template-columns: minmax(7rem, 13rem) minmax(4rem, 1fr) max-content; gap: 0.25rem 0.6rem; align-items: center; }
.bars.wide { grid-template-columns: minmax(9rem, 19rem) minmax(4rem, 1fr) max-content; }
.bars .legend { grid-column: 1 / -1; }
.brow { display: contents; }
.blabel { overflow-wrap: anywhere; font-size: 0.9rem; }
.btrack { display: flex; height: 1.05rem; background: var(--bg2); border-radius: 2px; overflow: hidden; }
i.seg { display: block; height: 100%; }
.bval { font-size: 0.88rem; font-variant-numeric: tabular-nums; }
.bnote { grid-column: 2 / -1; font-size: 0.82rem; color: var(--muted); }
span.sharebar { display: inline-block; width: 7rem; height: 0.8rem; background: var(--bg2); vertical-align: -0.05rem; margin-right: 0.3rem; }
span.sharebar i { display: block; height: 100%; }
div.gonum { overflow-x: auto; }
svg.gonum { width: 100%; min-width: 52rem; max-width: 64rem; height: auto; }
div.dt-static { overflow-x: auto; }
table.talkers td { vertical-align: middle; }
h4 { font-size: 0.95rem; margin: 1rem 0 0.3rem; }
svg.spark { width: 7rem; height: 1.4rem; vertical-align: middle; overflow: visible; }
svg.spark path { fill: none; stroke: #0072b2; stroke-width: 1.4; vector-effect: non-scaling-stroke; }
.c-main { fill: #0072b2; stroke: #0072b2; background: #0072b2; }
.c-light { fill: #9ebcda; stroke: #9ebcda; background: #9ebcda; }
.c-pk { fill: #cc79a7; stroke: #cc79a7; background: #cc79a7; }
.c-named { fill: #0072b2; stroke: #0072b2; background: #0072b2; }
.c-chance { fill: #e69f00; stroke: #e69f00; background: #e69f00; }
.c-unknown { fill: #a8b0b8; stroke: #a8b0b8; background: #a8b0b8; }
.c-catalog { fill: #222; stroke: #222; background: #222; }
.c-fetched { fill: #009e73; stroke: #009e73; background: #009e73; }
.c-possible { fill: #9ad8c0; stroke: #9ad8c0; background: #9ad8c0; }
.c-missing { fill: #d55e00; stroke: #d55e00; background: #d55e00; }
.c-sure { fill: #0072b2; stroke: #0072b2; background: #0072b2; }
.c-unsure { fill: #9ebcda; stroke: #9ebcda; background: #9ebcda; }
.c-in { fill: #0072b2; stroke: #0072b2; background: #0072b2; }
.c-out { fill: #e69f00; stroke: #e69f00; background: #e69f00; }
.c-why0 { fill: #7f7f7f; stroke: #7f7f7f; background: #7f7f7f; }
.c-why1 { fill: #a8a8a8; stroke: #a8a8a8; background: #a8a8a8; }
.c-why2 { fill: #c6c6c6; stroke: #c6c6c6; background: #c6c6c6; }
.c-why3 { fill: #dadada; stroke: #dadada; background: #dadada; }
.c-why4 { fill: #ebebeb; stroke: #ebebeb; background: #ebebeb; }
.k0 { fill: #0072b2; stroke: #0072b2; background: #0072b2; } .k1 { fill: #e69f00; stroke: #e69f00; background: #e69f00; }
.k2 { fill: #009e73; stroke: #009e73; background: #009e73; } .k3 { fill: #cc79a7; stroke: #cc79a7; background: #cc79a7; }
.k4 { fill: #d55e00; stroke: #d55e00; background: #d55e00; } .k5 { fill: #56b4e9; stroke: #56b4e9; background: #56b4e9; }
.k6 { fill: #b8a400; stroke: #b8a400; background: #b8a400; } .k7 { fill: #555; stroke: #555; background: #555; }
.k8 { fill: #882255; stroke: #882255; background: #882255; } .k9 { fill: #117733; stroke: #117733; background: #117733; }
.kx { fill: #999; stroke: #999; background: #999; }
path.line.c-light { stroke-width: 1; }
div.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr)); gap: 0.7rem; margin: 0.6rem 0; }
div.card { border: 1px solid var(--line); border-left: 5px solid var(--line); border-radius: 4px; padding: 0.5rem 0.8rem; font-size: 0.92rem; }
div.card h4 { margin: 0 0 0.3rem; font-size: 1rem; }
div.card p { margin: 0.2rem 0; }
table { border-collapse: collapse; margin: 0.4rem 0 1rem; font-size: 0.9rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #e6e9ed; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: var(--bg2); font-weight: 600; white-space: nowrap; }
th small { font-weight: 400; color: var(--muted); }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: inherit; text-align: inherit; }
th[aria-sort=ascending] button::after { content: " \25b2"; }
th[aria-sort=descending] button::after { content: " \25bc"; }
tr.cf th { background: #fff; padding: 0.15rem 0.3rem; }
tr.cf input { width: 100%; min-width: 3.5rem; font: inherit; font-size: 0.82rem; padding: 0.1rem 0.25rem; border: 1px solid var(--line); border-radius: 3px; }
details { margin: 0.5rem 0; }
summary { cursor: pointer; color: var(--link); }
td details { margin: 0.15rem 0 0; }
td details summary { font-size: 0.85rem; }
td details div { margin-top: 0.15rem; }
div.dt-bar { margin: 0.5rem 0 0.2rem; display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; }
div.dt-bar input { min-width: min(18rem, 100%); padding: 0.2rem 0.4rem; font: inherit; }
span.dt-tag { background: #e7f0f8; border: 1px solid #b5cde3; border-radius: 1rem; padding: 0 0.3rem 0 0.6rem; font-size: 0.88rem; }
span.dt-tag button { border: 0; background: none; cursor: pointer; font: inherit; color: var(--link); }
span.dt-count { color: var(--muted); font-size: 0.88rem; }
div.dt { overflow-x: auto; }
div.dt table { font-size: 0.86rem; }
div.dt td { white-space: nowrap; }
div.dt td.wrap { white-space: normal; min-width: 8rem; max-width: 15rem; overflow-wrap: anywhere; }
div.dt td.wide { min-width: 12rem; max-width: 22rem; }
div.dt tr.ch th { white-space: normal; vertical-align: bottom; min-width: 4.5rem; }
div.dt tr.ch th.wrap { min-width: 7rem; }
div.dt tr > :first-child { position: sticky; left: 0; background: #fff; }
div.dt thead tr > :first-child { background: var(--bg2); }
div.dt tr.cf > :first-child { background: #fff; }
td.omit { color: var(--muted); }
p.links a { margin-right: 1rem; }
@media (max-width: 700px) {
  body { font-size: 14px; padding: 0.6rem 0.7rem 2rem; }
  .panel { grid-template-columns: 4.2rem 1fr; }
  .xaxis, .xlabel { margin-left: 4.2rem; }
  .xaxis span.minor, .yaxis span.minor { display: none; }
  .bars, .bars.wide { grid-template-columns: 1fr max-content; gap: 0.1rem 0.5rem; }
  .blabel { grid-column: 1 / -1; margin-top: 0.2rem; }
  .btrack { grid-column: 1; }
  .bnote { grid-column: 1 / -1; }
  div.tiles { grid-template-columns: repeat(2, 1fr); }
  .tile b { font-size: 1.3rem; }
}
`

// pageScript makes every div.dt an interactive table: its rows come from
// the JSON in its script.dt-data. Typing in its filter keeps the rows
// whose cells hold every word typed (a cell's collapsed lines included:
// a row kept for a word only they hold shows them open); a column's own
// filter keeps the rows whose cell holds every word, or, in a number
// column, whose value passes a comparison (">0", "<=2", "=5"). A click on a header
// sorts by it (again: the other way); rows are shown a page at a time.
// A link with data-table and data-tag shows the rows carrying the tag.
const pageScript = `
(function () {
  "use strict";
  function shown(v) {
    if (v === null || v === undefined) { return ""; }
    if (typeof v === "number") { return Number.isInteger(v) ? v.toLocaleString("en-US") : String(v); }
    if (typeof v === "object") { return v.t === undefined ? "" : String(v.t); }
    return String(v);
  }
  function full(v) {
    var s = shown(v);
    if (v && typeof v === "object" && v.m) { s += "\n" + v.m.join("\n"); }
    return s;
  }
  function key(v) {
    if (v && typeof v === "object") { return v.v === undefined ? shown(v) : v.v; }
    return v === null || v === undefined ? "" : v;
  }
  function cmp(a, b) {
    if (typeof a === "number" && typeof b === "number") { return a - b; }
    if (typeof a === "number") { return 1; }
    if (typeof b === "number") { return -1; }
    return String(a).localeCompare(String(b), "en", {numeric: true});
  }
  var ops = /^\s*(<=|>=|<|>|=)\s*(-?[0-9.]+)\s*$/;
  function test(q, num, v, text) {
    if (num) {
      var m = ops.exec(q);
      if (m) {
        var k = key(v), x = parseFloat(m[2]);
        if (typeof k !== "number") { return false; }
        switch (m[1]) {
          case "<": return k < x;
          case "<=": return k <= x;
          case ">": return k > x;
          case ">=": return k >= x;
        }
        return k === x;
      }
    }
    return q.toLowerCase().split(/\s+/).filter(Boolean).every(function (w) { return text.indexOf(w) >= 0; });
  }
  var tables = {};
  document.querySelectorAll("div.dt").forEach(function (box) {
    var data = JSON.parse(box.querySelector("script.dt-data").textContent);
    var heads = box.querySelectorAll("tr.ch th");
    var ncol = heads.length;
    var cls = Array.prototype.map.call(heads, function (th) { return th.className; });
    var nums = cls.map(function (c) { return /\b(num|cnt)\b/.test(c); });
    var colIn = box.querySelectorAll("tr.cf input");
    var tbody = box.querySelector("tbody");
    var filter = box.querySelector("input.dt-filter");
    var count = box.querySelector(".dt-count");
    var chip = box.querySelector(".dt-tag");
    var prev = box.querySelector("button.dt-prev");
    var next = box.querySelector("button.dt-next");
    var per = parseInt(box.getAttribute("data-page-size"), 10) || 50;
    var texts = data.map(function (r) { return r.slice(0, ncol).map(function (c) { return full(c).toLowerCase(); }); });
    var rows = [], page = 0, col = -1, dir = 1, tag = null;
    function apply() {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      var qs = Array.prototype.map.call(colIn, function (i) { return i.value.trim(); });
      rows = [];
      for (var i = 0; i < data.length; i++) {
        var t = texts[i], r = data[i], ok = true;
        if (tag !== null && (r.length <= ncol || r[ncol].indexOf(tag) < 0)) { continue; }
        for (var w = 0; ok && w < words.length; w++) {
          ok = t.some(function (c) { return c.indexOf(words[w]) >= 0; });
        }
        for (var j = 0; ok && j < qs.length; j++) {
          if (qs[j] !== "") { ok = test(qs[j], nums[j], r[j], t[j]); }
        }
        if (ok) { rows.push(i); }
      }
      if (col >= 0) {
        rows.sort(function (a, b) { return dir * cmp(key(data[a][col]), key(data[b][col])) || a - b; });
      }
      page = 0;
      render();
    }
    function words() {
      return filter.value.toLowerCase().split(/\s+/).filter(Boolean).concat(
        Array.prototype.map.call(colIn, function (i) { return ops.test(i.value) ? "" : i.value.toLowerCase(); }).join(" ").split(/\s+/).filter(Boolean));
    }
    function render() {
      var ws = words();
      var pages = Math.max(1, Math.ceil(rows.length / per));
      page = Math.min(page, pages - 1);
      var from = page * per, to = Math.min(rows.length, from + per);
      var frag = document.createDocumentFragment();
      for (var i = from; i < to; i++) {
        var tr = document.createElement("tr");
        data[rows[i]].slice(0, ncol).forEach(function (v, j) {
          var td = document.createElement("td");
          td.className = cls[j] + (shown(v) === "\u2014" ? " omit" : "");
          td.textContent = shown(v);
          if (v && typeof v === "object" && v.m && v.m.length) {
            var d = document.createElement("details");
            var s = document.createElement("summary");
            s.textContent = v.s || (v.m.length === 1 ? "1 more" : v.m.length + " more");
            d.appendChild(s);
            v.m.forEach(function (l) { var div = document.createElement("div"); div.textContent = l; d.appendChild(div); });
            // A word typed that only the hidden lines hold opens them, so
            // a row kept by the filter shows why.
            var hidden = v.m.join("\n").toLowerCase(), open = shown(v).toLowerCase();
            d.open = ws.some(function (w) { return hidden.indexOf(w) >= 0 && open.indexOf(w) < 0; });
            td.appendChild(d);
          }
          tr.appendChild(td);
        });
        frag.appendChild(tr);
      }
      tbody.replaceChildren(frag);
      var filtered = rows.length < data.length;
      count.textContent = (rows.length ? (from + 1) + "\u2013" + to + " of " + rows.length : "no") + " rows" +
        (filtered ? " (filtered from " + data.length + ")" : "") + (pages > 1 ? ", page " + (page + 1) + " of " + pages : "");
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
    function setTag(t, label) {
      tag = t;
      filter.value = "";
      colIn.forEach(function (i) { i.value = ""; });
      if (t === null) {
        chip.hidden = true;
      } else {
        chip.hidden = false;
        chip.querySelector("span").textContent = "showing: " + label;
      }
      apply();
    }
    chip.querySelector("button").addEventListener("click", function () { setTag(null, ""); });
    filter.addEventListener("input", apply);
    colIn.forEach(function (i) { i.addEventListener("input", apply); });
    prev.addEventListener("click", function () { page--; render(); });
    next.addEventListener("click", function () { page++; render(); });
    tables[box.id] = {box: box, setTag: setTag};
    apply();
  });
  document.querySelectorAll("a[data-tag]").forEach(function (a) {
    a.addEventListener("click", function (e) {
      var t = tables[a.getAttribute("data-table")];
      if (!t) { return; }
      e.preventDefault();
      for (var p = t.box.parentElement; p; p = p.parentElement) {
        if (p.tagName === "DETAILS") { p.open = true; }
      }
      t.setTag(a.getAttribute("data-tag"), a.getAttribute("data-label"));
      t.box.scrollIntoView();
    });
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
<header>
<h1>{{.Title}}</h1>
{{if .Lead}}<p class="lead">{{.Lead}}</p>
{{end}}{{range .Banners}}<p class="banner">{{.}}</p>
{{end}}{{if .Nav}}<nav>{{range .Nav}}<a href="{{.Href}}">{{.Text}}</a>
{{end}}</nav>
{{end}}</header>
<main>
{{range .Sections}}<section id="{{.ID}}">
<h2>{{.Title}}</h2>
{{template "blocks" .Blocks}}</section>
{{end}}</main>
{{if .Script}}<script>{{script}}</script>
{{end}}</body>
</html>
{{define "blocks"}}{{range .}}{{template "block" .}}{{end}}{{end}}
{{define "block"}}{{if .Text}}<p>{{.Text}}</p>
{{end}}{{if .Note}}<p class="note">{{.Note}}</p>
{{end}}{{with .Links}}<p class="links">{{range .}}<a href="{{.Href}}">{{.Text}}</a>
{{end}}</p>
{{end}}{{with .Attention}}{{template "items" .}}{{end}}{{with .Tiles}}<div class="tiles">
{{range .}}{{if .Href}}<a class="tile{{if .Level}} {{.Level}}{{end}}" href="{{.Href}}">{{else}}<div class="tile{{if .Level}} {{.Level}}{{end}}">{{end}}<span>{{.Label}}</span><b>{{.Value}}</b>{{if .Sub}}<span>{{.Sub}}</span>{{end}}{{if .Href}}</a>{{else}}</div>{{end}}
{{end}}</div>
{{end}}{{.HTML}}{{with .Figure}}{{if .Omitted}}<p class="omitted" id="{{.ID}}"><b>{{.Title}}</b> is left out: {{.Omitted}}</p>
{{else}}<figure id="{{.ID}}">
<h3>{{.Title}}</h3>
{{.Body}}
{{if .Caption}}<figcaption>{{.Caption}}</figcaption>
{{end}}</figure>
{{end}}{{end}}{{with .Table}}{{template "table" .}}{{end}}{{with .Details}}<details{{if .ID}} id="{{.ID}}"{{end}}{{if .Open}} open{{end}}>
<summary>{{.Summary}}</summary>
{{template "blocks" .Blocks}}</details>
{{end}}{{end}}
{{define "items"}}<ul class="att">
{{range .}}<li class="{{.Level}}">{{.Text}}{{with .Link}} <a href="#{{.Table}}" data-table="{{.Table}}" data-tag="{{.Tag}}" data-label="{{.Label}}">{{.Text}}</a>{{end}}{{with .Sub}}
{{template "items" .}}{{end}}</li>
{{end}}</ul>
{{end}}
{{define "table"}}{{if .Data}}<div class="dt" id="{{.ID}}" data-page-size="{{.PageSize}}"{{if .Tags}} data-tags{{end}}>
<div class="dt-bar"><input type="search" class="dt-filter" id="{{.ID}}-filter" placeholder="filter: words in a row" aria-label="filter the rows"> <span class="dt-tag" hidden><span></span> <button type="button" aria-label="show every row">show all</button></span> <button type="button" class="dt-prev">previous</button> <button type="button" class="dt-next">next</button> <span class="dt-count">{{.NumRows}} rows</span></div>
<table>
<thead><tr class="ch">{{range .Columns}}<th class="{{if .Num}}num{{end}}{{if .Count}} cnt{{end}}{{if .Wrap}} wrap{{end}}{{if .Wide}} wide{{end}}"><button type="button">{{.Name}}</button>{{if .Unit}} <small>({{.Unit}})</small>{{end}}</th>{{end}}</tr>
<tr class="cf">{{range .Columns}}<th><input type="search" aria-label="filter by {{.Name}}" placeholder="{{if or .Num .Count}}&gt;0{{else}}filter{{end}}"></th>{{end}}</tr></thead>
<tbody></tbody>
</table>
<script type="application/json" class="dt-data">{{.Data}}</script>
</div>
{{else if .Rows}}<div class="dt-static"><table{{if .ID}} id="{{.ID}}"{{end}}>
<thead><tr>{{range .Columns}}<th{{if .Num}} class="num"{{end}}>{{.Name}}{{if .Unit}} <small>({{.Unit}})</small>{{end}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr>{{range $i, $c := .}}<td{{if (index $.Columns $i).Num}} class="num"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</tbody>
</table></div>
{{else}}<p>{{.Empty}}</p>
{{end}}{{end}}
`))
