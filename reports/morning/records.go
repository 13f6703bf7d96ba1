package morning

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// RecordDoc is a JSON file shown as it is, before the report knows its
// format: every array of objects in it becomes a table (columns are the
// objects' keys in order of first appearance), every other value a row
// of a key–value table. stats.json and alarms.json are read this way
// until the report has dedicated sections for them.
type RecordDoc struct {
	Name   string
	Tables []RecordTable
	// Values are the document's other values: the key path and the
	// value as compact JSON (strings unquoted).
	Values [][2]string
}

// RecordTable is one array of objects.
type RecordTable struct {
	// Path is where the array sits in the document ("alarms",
	// "stats.top_talkers"); "" for a document that is an array.
	Path    string
	Columns []string
	// Rows hold at most MaxRecordRows rows; cells are strings, float64
	// numbers, booleans or compact JSON text of nested values.
	Rows  [][]any
	Total int
}

// MaxRecordRows is how many rows of one record table the report holds.
const MaxRecordRows = 2000

// maxCellText bounds a cell's text.
const maxCellText = 300

// jsonNode is a JSON value that keeps its objects' key order.
type jsonNode struct {
	kind   byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys   []string
	fields []*jsonNode // an object's values, in keys' order
	items  []*jsonNode
	str    string
	num    json.Number
	b      bool
	raw    []byte // compact JSON text
}

// ReadRecordDoc reads a JSON document for the report.
func ReadRecordDoc(r io.Reader, name string) (*RecordDoc, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	root, err := decodeNode(d, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: data after the JSON value", name)
	}
	doc := &RecordDoc{Name: name}
	doc.walk("", root)
	return doc, nil
}

// decodeNode reads one value from d; src is the whole input, for the
// compact text of values.
func decodeNode(d *json.Decoder, src []byte) (*jsonNode, error) {
	start := d.InputOffset()
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	n := &jsonNode{}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.kind = 'o'
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeNode(d, src)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, kt.(string))
				n.fields = append(n.fields, v)
			}
		case '[':
			n.kind = 'a'
			for d.More() {
				v, err := decodeNode(d, src)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
		}
		if _, err := d.Token(); err != nil { // the closing delimiter
			return nil, err
		}
	case string:
		n.kind, n.str = 's', t
	case json.Number:
		n.kind, n.num = 'n', t
	case bool:
		n.kind, n.b = 'b', t
	case nil:
		n.kind = 'z'
	}
	var c bytes.Buffer
	if err := json.Compact(&c, bytes.TrimLeft(src[start:d.InputOffset()], " \t\r\n,:")); err == nil {
		n.raw = c.Bytes()
	}
	return n, nil
}

// isRecords reports whether n is a non-empty array of objects.
func (n *jsonNode) isRecords() bool {
	if n.kind != 'a' || len(n.items) == 0 {
		return false
	}
	for _, it := range n.items {
		if it.kind != 'o' {
			return false
		}
	}
	return true
}

func (doc *RecordDoc) walk(path string, n *jsonNode) {
	switch {
	case n.isRecords():
		doc.Tables = append(doc.Tables, recordTable(path, n))
	case n.kind == 'o':
		for i, k := range n.keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			doc.walk(p, n.fields[i])
		}
	default:
		doc.Values = append(doc.Values, [2]string{path, cellText(n)})
	}
}

func recordTable(path string, n *jsonNode) RecordTable {
	t := RecordTable{Path: path, Total: len(n.items)}
	col := map[string]int{}
	for _, it := range n.items {
		for _, k := range it.keys {
			if _, ok := col[k]; !ok {
				col[k] = len(t.Columns)
				t.Columns = append(t.Columns, k)
			}
		}
	}
	for _, it := range n.items[:min(len(n.items), MaxRecordRows)] {
		row := make([]any, len(t.Columns))
		for i := range row {
			row[i] = ""
		}
		for i, k := range it.keys {
			row[col[k]] = cellValue(it.fields[i])
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// cellValue is a JSON value as a table cell: numbers as float64 (text
// when they do not fit one), strings and nested values as text.
func cellValue(n *jsonNode) any {
	switch n.kind {
	case 'n':
		if f, err := n.num.Float64(); err == nil {
			return f
		}
	case 'b':
		return n.b
	}
	return cellText(n)
}

func cellText(n *jsonNode) string {
	var s string
	switch n.kind {
	case 's':
		s = n.str
	case 'z':
		s = ""
	case 'n':
		s = n.num.String()
	case 'b':
		s = strconv.FormatBool(n.b)
	default:
		s = string(n.raw)
	}
	if len(s) > maxCellText {
		s = strings.ToValidUTF8(s[:maxCellText], "") + "…"
	}
	return s
}
