package reports

import (
	"fmt"

	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// Sections that other analytics of the nightly run add to the morning
// report. Each is shown when its file is in the run directory. Until a
// section has a renderer of its own, its file is read as a RecordDoc and
// shown generically: a table for every array of objects, a key–value table
// for the other values. A dedicated renderer replaces render (it may add
// charts with m.chart) without changing anything else.
type extraSection struct {
	File      string // in the run directory
	ID, Title string
	Intro     string
	render    func(m *morning, doc *RecordDoc, s *section) error
}

// extraSectionsList are the sections in page order.
var extraSectionsList = []extraSection{
	{File: nightdir.StatsFile, ID: "stats", Title: "Top talkers and flow lifespans",
		Intro: "From stats.json, as the nightly run's analytics wrote it.", render: recordSection},
	{File: nightdir.AlarmsFile, ID: "alarms", Title: "Alarms: floods and scans",
		Intro: "From alarms.json, as the nightly run's detectors wrote it.", render: recordSection},
}

// extraSections renders the sections whose files are present.
func (m *morning) extraSections() ([]section, error) {
	var out []section
	for _, x := range extraSectionsList {
		doc, ok := m.n.Records[x.File]
		if !ok {
			continue
		}
		s := section{ID: x.ID, Title: x.Title}
		if x.Intro != "" {
			s.Blocks = append(s.Blocks, textBlock(x.Intro))
		}
		if err := x.render(m, doc, &s); err != nil {
			return nil, fmt.Errorf("morning report: %s: %w", x.File, err)
		}
		s.Blocks = append(s.Blocks, block{Links: []link{{x.File, x.File}}})
		out = append(out, s)
	}
	return out, nil
}

// recordSection shows a RecordDoc as tables: its other values first, then
// one interactive table per array of objects.
func recordSection(m *morning, doc *RecordDoc, s *section) error {
	if len(doc.Values) > 0 {
		t := &table{Class: "values", Columns: []column{{Name: "key"}, {Name: "value"}}}
		for _, v := range doc.Values {
			t.Rows = append(t.Rows, []string{v[0], v[1]})
		}
		s.Blocks = append(s.Blocks, block{Table: t})
	}
	for i, rt := range doc.Tables {
		cols := make([]column, len(rt.Columns))
		for j, c := range rt.Columns {
			cols[j] = column{Name: c, Num: numericColumn(rt.Rows, j)}
		}
		t, err := newDataTable(fmt.Sprintf("%s-%d", s.ID, i), "records", cols, rt.Rows, pageRows, "No records.")
		if err != nil {
			return err
		}
		title := rt.Path
		if title == "" {
			title = "records"
		}
		summary := fmt.Sprintf("%s (%d records)", title, rt.Total)
		if rt.Total > len(rt.Rows) {
			summary = fmt.Sprintf("%s (the first %d of %d records)", title, len(rt.Rows), rt.Total)
		}
		s.Blocks = append(s.Blocks, textBlock(summary), block{Table: t})
	}
	if len(doc.Values) == 0 && len(doc.Tables) == 0 {
		s.Blocks = append(s.Blocks, textBlock(doc.Name+" is empty."))
	}
	return nil
}

// numericColumn reports whether column j holds numbers, or nothing, in
// every row.
func numericColumn(rows [][]any, j int) bool {
	seen := false
	for _, r := range rows {
		switch v := r[j].(type) {
		case float64:
			seen = true
		case string:
			if v != "" {
				return false
			}
		default:
			return false
		}
	}
	return seen
}
