package reports

import (
	"cmp"
	"fmt"
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
// elsewhere and carries no script. Every string goes through
// html/template's escaping.
func WriteHTML(w io.Writer, title string, runs []RunResult, charts map[string][]byte) error {
	p := page{Title: title}
	var runSections []section
	for _, run := range runs {
		if len(run.Reports) == 0 {
			return fmt.Errorf("html report: run %q has no reports: %w", run.Name, ErrNoData)
		}
		runSections = append(runSections, evaluationSection(run))
	}
	figs, err := evaluationFigures(charts, func(name string) string { return name })
	if err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	if len(figs) > 0 {
		s := section{Title: "Charts"}
		for _, f := range figs {
			s.Blocks = append(s.Blocks, block{Figure: f})
		}
		p.Sections = append(p.Sections, s)
	}
	p.Sections = append(p.Sections, runSections...)
	if err := writePage(w, p); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

// evaluationFigures are the PNG charts by name in the report's order
// (accuracy, extra, confusion, then by name), captioned by caption.
func evaluationFigures(charts map[string][]byte, caption func(name string) string) ([]*figure, error) {
	names := make([]string, 0, len(charts))
	for n := range charts {
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
	var figs []*figure
	for _, n := range names {
		uri, err := pngURI(charts[n])
		if err != nil {
			return nil, fmt.Errorf("chart %q: %w", n, err)
		}
		figs = append(figs, &figure{Name: n, Alt: n + " chart", Caption: caption(n), URI: uri})
	}
	return figs, nil
}

// evaluationSection is one run's tables: WriteTable's rows, and
// fingerflow's per-file figures and confusions, collapsed.
func evaluationSection(run RunResult) section {
	s := section{Title: run.Name, Class: "run"}
	sum := &table{Class: "summary", Columns: []column{{Name: ""}}}
	for _, r := range run.Reports {
		sum.Columns = append(sum.Columns, column{Name: r.Name, Num: true})
	}
	for _, r := range tableRows(run.Reports) {
		sum.Rows = append(sum.Rows, append([]string{r.Label}, r.Cells...))
	}
	s.Blocks = append(s.Blocks, block{Table: sum})

	ff := run.Reports[0]
	perFile := ff.PerFile()
	pf := &table{Class: "perfile", Columns: []column{{Name: "file"}, {Name: "support", Num: true}, {Name: "predicted", Num: true}, {Name: "precision", Num: true}, {Name: "recall", Num: true}}}
	f3 := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	for _, f := range perFile {
		pf.Rows = append(pf.Rows, []string{f.File, strconv.Itoa(f.Support), strconv.Itoa(f.Predicted), f3(f.Precision), f3(f.Recall)})
	}
	pf.Empty = "No single-file downloads."
	s.Blocks = append(s.Blocks, block{Details: &details{
		Summary: fmt.Sprintf("Per-file precision and recall (%s, %d files)", ff.Name, len(perFile)),
		Blocks:  []block{{Table: pf}},
	}})

	top, more := confusions(ff)
	conf := &details{Summary: fmt.Sprintf("Most frequent confusions (%s)", ff.Name)}
	if len(top) == 0 {
		conf.Blocks = []block{textBlock("None: every single-file download was answered correctly.")}
	} else {
		t := &table{Class: "confusions", Columns: []column{{Name: "truth"}, {Name: "answer"}, {Name: "count", Num: true}}}
		for _, c := range top {
			t.Rows = append(t.Rows, []string{c.Truth, c.Answer, strconv.Itoa(c.Count)})
		}
		conf.Blocks = []block{{Table: t}}
		if more > 0 {
			conf.Blocks = append(conf.Blocks, textBlock(fmt.Sprintf("… and %d more pairs.", more)))
		}
	}
	s.Blocks = append(s.Blocks, block{Details: conf})
	return s
}
