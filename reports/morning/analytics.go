package morning

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// The analytics the nightly run adds: alarms.json (floods, scans,
// unexpected rates, the service profile) shown as sentences and a table,
// and stats.json (top talkers by address, port and protocol, the T and C
// table, flow lifespans) as tables whose numbers carry their units. A
// document of another form is shown as tables of its records.

func (r *report) analyticsSection() (section, error) {
	n := r.n
	s := section{ID: "analytics", Title: "Alarms and statistics"}
	if n.Alarms == nil && len(n.Records) == 0 {
		note := "Neither alarms.json nor stats.json is in this directory: the run's analytics are not known."
		if why := n.Run.Analytics; why != "" {
			note = "The run wrote no alarms.json or stats.json: " + strings.TrimSuffix(why, ".") + "."
		}
		s.Blocks = append(s.Blocks, block{Note: note})
		return s, nil
	}
	s.Blocks = append(s.Blocks, block{Attention: r.alarmItems(false)})
	if a := n.Alarms; a != nil {
		var how []string
		if a.ScanTest != "" {
			how = append(how, "Scans: "+a.ScanTest+".")
		}
		if a.Formula != "" {
			how = append(how, "Unexpected rates: "+a.Formula+".")
		}
		switch {
		case a.NotScored != "":
			how = append(how, "This night's rates were not scored: "+a.NotScored+".")
		case a.BaselineNights > 0:
			how = append(how, fmt.Sprintf("This night's rates were scored against %s of the history.", plural(a.BaselineNights, "night", "nights")))
		}
		var blocks []block
		for _, h := range how {
			blocks = append(blocks, block{Text: h})
		}
		if len(blocks) > 0 {
			s.Blocks = append(s.Blocks, block{Details: &details{Summary: "How floods, scans and unexpected rates are judged", Blocks: blocks}})
		}
		if len(a.Services) > 0 {
			t := &table{Columns: []column{{Name: "host"}, {Name: "answers on"}}}
			for _, sv := range a.Services {
				t.Rows = append(t.Rows, []string{r.labelOf(sv.Host), sv.Services})
			}
			s.Blocks = append(s.Blocks, block{Details: &details{Summary: fmt.Sprintf("Hosts that answer as servers (%d)", len(a.Services)), Blocks: []block{{Table: t}}}})
		}
		s.Blocks = append(s.Blocks, block{Links: []link{{nightdir.AlarmsFile, nightdir.AlarmsFile}}})
	}
	for _, name := range []string{nightdir.StatsFile, nightdir.AlarmsFile} {
		doc, ok := n.Records[name]
		if !ok {
			continue
		}
		if err := r.recordBlocks(&s, doc); err != nil {
			return s, fmt.Errorf("%s: %w", name, err)
		}
		s.Blocks = append(s.Blocks, block{Links: []link{{name, name}}})
	}
	return s, nil
}

// recordTitles name stats.json's tables.
var recordTitles = map[string]string{
	"top_srcip_bytes":   "Top sources by bytes",
	"top_dstip_bytes":   "Top destinations by bytes",
	"top_service_bytes": "Top services by bytes",
	"top_dstport_bytes": "Top destination ports by bytes",
	"top_srcport_bytes": "Top source ports by bytes",
	"top_proto_bytes":   "Protocols by bytes",
	"sources":           "Sources by accumulated flow time (T) and flow count (C)",
	"lifespan_tests":    "Do flow lifespans differ between groups? (log-rank tests)",
}

// valueWords name stats.json's single values.
var valueWords = map[string]string{
	"flows": "flows", "packets": "packets", "bytes": "bytes", "lifespan_flows": "flow lifespans",
	"lifespan_censored": "lifespans cut by the active timeout or the night's end", "active_timeout_s": "active timeout",
}

// recordBlocks shows a RecordDoc: its single values in a line, its
// arrays of records as tables with units.
func (r *report) recordBlocks(s *section, doc *RecordDoc) error {
	var vals []string
	for _, v := range doc.Values {
		name, ok := valueWords[v[0]]
		if !ok {
			vals = append(vals, v[0]+": "+v[1])
			continue
		}
		f, err := strconv.ParseFloat(v[1], 64)
		switch {
		case err != nil:
			vals = append(vals, name+": "+v[1])
		case v[0] == "bytes":
			vals = append(vals, bytesText(f))
		case strings.HasSuffix(v[0], "_s"):
			vals = append(vals, name+" "+secondsText(f))
		default:
			vals = append(vals, countText(int64(f))+" "+name)
		}
	}
	if len(vals) > 0 {
		s.Blocks = append(s.Blocks, block{Text: doc.Name + ": " + strings.Join(vals, "; ") + "."})
	}
	for i, rt := range doc.Tables {
		title := recordTitles[rt.Path]
		if title == "" {
			title = rt.Path
			if g, ok := strings.CutPrefix(rt.Path, "lifespans_by_"); ok {
				title = "Flow lifespans by " + strings.ReplaceAll(g, "_", " ")
			}
			if title == "" {
				title = "records"
			}
		}
		if same, ok := identicalGroups(rt); ok {
			s.Blocks = append(s.Blocks, block{Note: fmt.Sprintf("%s: every group holds the same %s flows with the same lifespans (each flow has a host of each group), so the grouping tells nothing apart.",
				title, same)})
			continue
		}
		cols := make([]column, len(rt.Columns))
		for j, c := range rt.Columns {
			cols[j] = recordColumn(c, numericColumn(rt.Rows, j))
		}
		rows := make([][]any, len(rt.Rows))
		for k, row := range rt.Rows {
			rows[k] = make([]any, len(row))
			for j, v := range row {
				rows[k][j] = recordCell(rt.Columns[j], v)
			}
		}
		t, err := newDataTable(fmt.Sprintf("%s-%d", strings.TrimSuffix(doc.Name, ".json"), i), cols, rows, false, pageRows, "No records.")
		if err != nil {
			return err
		}
		summary := fmt.Sprintf("%s (%s)", title, plural(rt.Total, "record", "records"))
		if rt.Total > len(rt.Rows) {
			summary = fmt.Sprintf("%s (the first %d of %d records)", title, len(rt.Rows), rt.Total)
		}
		s.Blocks = append(s.Blocks, block{Details: &details{Summary: summary, Blocks: []block{{Table: t}}}})
	}
	if len(doc.Values) == 0 && len(doc.Tables) == 0 {
		s.Blocks = append(s.Blocks, block{Note: doc.Name + " is empty."})
	}
	return nil
}

// identicalGroups reports whether a lifespan table's groups (two or
// more) hold the same counts and medians, and how many flows each holds.
func identicalGroups(rt RecordTable) (string, bool) {
	if len(rt.Rows) < 2 || slices.Index(rt.Columns, "group") < 0 || slices.Index(rt.Columns, "flows") < 0 {
		return "", false
	}
	for _, row := range rt.Rows[1:] {
		for j, c := range rt.Columns {
			if c != "group" && row[j] != rt.Rows[0][j] {
				return "", false
			}
		}
	}
	f, _ := rt.Rows[0][slices.Index(rt.Columns, "flows")].(float64)
	return countText(int64(f)), true
}

// recordColumn is a column of a record table, with its unit.
func recordColumn(name string, num bool) column {
	c := column{Name: strings.ReplaceAll(name, "_", " "), Num: num}
	switch {
	case strings.HasSuffix(name, "_pct"):
		c.Name, c.Unit = strings.ReplaceAll(strings.TrimSuffix(name, "_pct"), "_", " ")+" share", "%"
	case name == "bytes":
		c.Unit = "bytes"
	case name == "bits_per_s" || name == "bps":
		c.Name, c.Unit = "rate", "bits/s"
	case strings.HasSuffix(name, "_s") && num:
		c.Name, c.Unit = strings.ReplaceAll(strings.TrimSuffix(name, "_s"), "_", " "), "s"
	case name == "first_seen" || name == "start" || name == "end":
		c.Unit = "UTC"
	case name == "key" || name == "addr":
		c.Name = map[string]string{"key": "key", "addr": "address"}[name]
	}
	return c
}

// recordCell writes a record's value with its unit.
func recordCell(col string, v any) any {
	f, ok := v.(float64)
	if !ok {
		return v
	}
	switch {
	case strings.HasSuffix(col, "_pct"):
		return cell{T: pctText(f), V: f}
	case col == "bytes":
		return cell{T: bytesText(f), V: f}
	case col == "bits_per_s" || col == "bps":
		return cell{T: bitsText(f / 8), V: f}
	case strings.HasSuffix(col, "_s"):
		return cell{T: strings.TrimSuffix(secondsText(f), " s"), V: f}
	case col == "p" || col == "chi2":
		return cell{T: strconv.FormatFloat(f, 'g', 3, 64), V: f}
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return f
	}
	return cell{T: strconv.FormatFloat(f, 'g', 4, 64), V: f}
}

// pctText is a percentage (already ×100) as written: "45.2%", "<0.01%".
func pctText(p float64) string {
	switch {
	case p == 0:
		return "0%"
	case p < 0.01:
		return "<0.01%"
	case p < 1:
		return strconv.FormatFloat(p, 'g', 2, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

// secondsText is a duration in seconds to four significant digits.
func secondsText(s float64) string { return strconv.FormatFloat(s, 'g', 4, 64) + " s" }

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
