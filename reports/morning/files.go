package morning

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// filesSection lists the run's files and the report's own, what the run
// used, and the input files it skipped.
func (r *report) filesSection() (section, error) {
	n := r.n
	run := n.Run
	s := section{ID: "files", Title: "Files"}
	took := spanText(secondsDuration(run.Seconds))
	if run.Seconds < 10 {
		took = fmt.Sprintf("%.2f s", run.Seconds)
	}
	s.Blocks = append(s.Blocks, block{Text: fmt.Sprintf("Model %s; catalog %s; fingerflow %s; the run took %s (%s flows/s).",
		cmp.Or(run.Model, "?"), cmp.Or(run.Catalog, "?"), cmp.Or(run.Version, "?"), took, countText(int64(run.FlowsPerSec)))})
	if run.History != "" {
		s.Blocks = append(s.Blocks, block{Text: "History database: " + run.History + "."})
	}
	present := make([]string, 0, len(n.Present))
	for name := range n.Present {
		present = append(present, name)
	}
	if _, ok := r.files[CoverageFile]; ok {
		present = append(present, CoverageFile)
	}
	slices.Sort(present)
	var ls []link
	for _, name := range present {
		ls = append(ls, link{name, filepath.ToSlash(name)})
	}
	s.Blocks = append(s.Blocks, block{Text: "The files of the run this page was made from, and coverage.csv, which the page writes beside itself:"}, block{Links: ls})
	if len(n.Missing) > 0 {
		s.Blocks = append(s.Blocks, block{Note: "Not in this directory: " + strings.Join(n.Missing, ", ") + "."})
	}
	sk := &table{ID: "skipped-table", Columns: []column{{Name: "file"}, {Name: "reason"}}, Empty: "No input file was skipped."}
	for _, f := range run.Skipped {
		sk.Rows = append(sk.Rows, []string{cmp.Or(f.Path, "(arguments)"), f.Reason})
	}
	s.Blocks = append(s.Blocks, block{Details: &details{ID: "skipped", Open: len(run.Skipped) > 0,
		Summary: fmt.Sprintf("Input files skipped (%d)", len(run.Skipped)), Blocks: []block{{Table: sk}}}})
	return s, nil
}
