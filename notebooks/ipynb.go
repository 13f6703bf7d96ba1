// Package notebooks holds the Jupyter notebooks that explore fingerflow's
// data with its packages (*.ipynb, run on the GoNB kernel that
// install-kernel.sh installs), the packages that compute what they show
// (overhead, limits, lastnight, traffic; each tested on the shipped data, so the
// figures notebooks/README.md quotes are checked without Jupyter too), and
// Clean, which keeps the committed notebooks free of outputs.
//
// The notebooks' tests check that every committed notebook is clean and
// pins the kernel's version, and execute every notebook with Jupyter's
// nbconvert when Jupyter and the kernel are installed.
package notebooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Clean returns the notebook file data without what running it adds: the
// code cells' outputs and execution counts, the cells' execution timings
// and view state, and the Go version GoNB records. The result is written
// as Jupyter writes notebooks (keys sorted, one-space indent, a final
// newline), so cleaning a clean notebook changes nothing.
func Clean(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var nb map[string]any
	if err := dec.Decode(&nb); err != nil {
		return nil, err
	}
	if v, _ := nb["nbformat"].(json.Number); v != "4" {
		return nil, fmt.Errorf("nbformat %v, want 4", nb["nbformat"])
	}
	cells, ok := nb["cells"].([]any)
	if !ok {
		return nil, fmt.Errorf("no cells")
	}
	for i, c := range cells {
		cell, ok := c.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("cell %d: not an object", i)
		}
		if cell["cell_type"] == "code" {
			cell["outputs"] = []any{}
			cell["execution_count"] = nil
		}
		if md, ok := cell["metadata"].(map[string]any); ok {
			for _, k := range []string{"execution", "ExecuteTime", "collapsed", "scrolled"} {
				delete(md, k)
			}
		}
	}
	if md, ok := nb["metadata"].(map[string]any); ok {
		if li, ok := md["language_info"].(map[string]any); ok {
			delete(li, "version")
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(nb); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Cell is a notebook cell's type and source.
type Cell struct {
	Type   string // "code", "markdown" or "raw"
	Source string
}

// Cells returns the cells of notebook file data, in order.
func Cells(data []byte) ([]Cell, error) {
	var nb struct {
		Cells []struct {
			Type   string          `json:"cell_type"`
			Source json.RawMessage `json:"source"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(data, &nb); err != nil {
		return nil, err
	}
	out := make([]Cell, len(nb.Cells))
	for i, c := range nb.Cells {
		// nbformat stores a source as one string or as a list of lines.
		var s string
		if err := json.Unmarshal(c.Source, &s); err != nil {
			var lines []string
			if err := json.Unmarshal(c.Source, &lines); err != nil {
				return nil, fmt.Errorf("cell %d: source: %w", i, err)
			}
			s = strings.Join(lines, "")
		}
		out[i] = Cell{Type: c.Type, Source: s}
	}
	return out, nil
}
