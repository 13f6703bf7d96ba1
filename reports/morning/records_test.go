package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

func TestReadRecordDoc(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     *RecordDoc
	}{
		{"array of records", `[{"b": 1, "a": "x"}, {"a": "y", "c": {"d": [1, 2]}}]`, &RecordDoc{
			Tables: []RecordTable{{Columns: []string{"b", "a", "c"}, Total: 2,
				Rows: [][]any{{1.0, "x", ""}, {"", "y", `{"d":[1,2]}`}}}},
		}},
		{"object", `{"night": "2027-01-20", "n": 3, "ok": true, "none": null, "list": [1, "a"],
		   "top": [{"host": "10.0.0.1"}], "nested": {"alarms": [{"kind": "scan"}], "k": 1}}`, &RecordDoc{
			Values: [][2]string{{"night", "2027-01-20"}, {"n", "3"}, {"ok", "true"}, {"none", ""}, {"list", `[1,"a"]`}, {"nested.k", "1"}},
			Tables: []RecordTable{
				{Path: "top", Columns: []string{"host"}, Rows: [][]any{{"10.0.0.1"}}, Total: 1},
				{Path: "nested.alarms", Columns: []string{"kind"}, Rows: [][]any{{"scan"}}, Total: 1},
			},
		}},
		{"scalar", `42`, &RecordDoc{Values: [][2]string{{"", "42"}}}},
		{"empty array", `[]`, &RecordDoc{Values: [][2]string{{"", "[]"}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadRecordDoc(strings.NewReader(c.in), "x.json")
			if err != nil {
				t.Fatal(err)
			}
			c.want.Name = "x.json"
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
	for _, bad := range []string{`{"a": `, `[1] [2]`, ``} {
		if _, err := ReadRecordDoc(strings.NewReader(bad), "bad.json"); err == nil || !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("%q: error %v, want one naming bad.json", bad, err)
		}
	}
	// Long cells are cut, tables past MaxRecordRows keep their total.
	var b strings.Builder
	b.WriteString(`[`)
	for i := range MaxRecordRows + 5 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"s": "` + strings.Repeat("é", 400) + `"}`)
	}
	b.WriteString(`]`)
	doc, err := ReadRecordDoc(strings.NewReader(b.String()), "big.json")
	if err != nil {
		t.Fatal(err)
	}
	tb := doc.Tables[0]
	if tb.Total != MaxRecordRows+5 || len(tb.Rows) != MaxRecordRows {
		t.Errorf("%d rows of %d, want %d of %d", len(tb.Rows), tb.Total, MaxRecordRows, MaxRecordRows+5)
	}
	if s := tb.Rows[0][0].(string); len(s) > maxCellText+len("…") || !strings.HasSuffix(s, "…") {
		t.Errorf("long cell kept %d bytes", len(s))
	}
}

func TestEvaluationJSONRoundTrip(t *testing.T) {
	l := labResults(t)
	var b bytes.Buffer
	if err := WriteEvaluationJSON(&b, l.runs, l.points); err != nil {
		t.Fatal(err)
	}
	ev, err := ReadEvaluationJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(l.runs, ev.Runs); d != "" {
		t.Errorf("runs (-want +got)\n%s", d)
	}
	if d := cmp.Diff(l.points, ev.Points); d != "" {
		t.Errorf("points (-want +got)\n%s", d)
	}
	if _, err := ReadEvaluationJSON(strings.NewReader(`{"runs": [{"reports": [{"confusion": [["a", "b"]]}]}]}`)); err == nil {
		t.Error("a confusion entry of two values was accepted")
	}
}

func TestChangesOf(t *testing.T) {
	hosts := []nightdir.Host{
		{Changed: "new since 2027-01-19", NewUpdates: []string{"a", "b"}},
		{Changed: "OS debian → sles; 1 new updates", NewUpdates: []string{"b"}},
		{Changed: "1 new updates", NewUpdates: []string{"c"}},
		{Changed: ""},
	}
	want := Changes{Previous: "2027-01-19", NewHosts: 1, OSChanged: 1, WithNewUpdates: 3, NewUpdates: 4,
		ByEntry: []EntryCount{{"b", 2}, {"a", 1}, {"c", 1}}}
	if d := cmp.Diff(want, ChangesOf(hosts)); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}
