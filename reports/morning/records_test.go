package morning

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
