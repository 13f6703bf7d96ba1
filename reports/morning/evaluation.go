package morning

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
	"github.com/fingerflow/fingerflow/reports"
)

// The labelled evaluation a run directory may hold (evaluation.json of
// fingerflow evaluate --report) and the inventory's score against a
// labelled population (score.json). Their charts are the evaluation
// report's, drawn as SVG and inlined.

func (r *report) evaluationSection() (section, error) {
	n := r.n
	if n.Evaluation == nil && n.Score == nil {
		return section{}, nil
	}
	s := section{ID: "evaluation", Title: "Labelled evaluation"}
	if ev := n.Evaluation; ev != nil && len(ev.Runs) > 0 {
		runs := ev.Runs
		fig, err := gonumFigure("fig-evaluation-accuracy", "Downloads recognised per run",
			"From evaluation.json (fingerflow evaluate --report): fingerflow beside the bytes-only method.",
			"the evaluation has no labelled downloads.", func(w io.Writer) error { return reports.AccuracyChart(w, "svg", runs) })
		if err != nil {
			return s, err
		}
		s.Blocks = append(s.Blocks, block{Figure: fig})
		last := runs[len(runs)-1]
		if len(last.Reports) > 0 {
			fig, err := gonumFigure("fig-evaluation-confusion", "Confusions", "Confusions of "+last.Name+": rows are the truth, columns the answer.",
				"no single-file download in the evaluation.", func(w io.Writer) error { return reports.ConfusionHeatmap(w, "svg", last.Reports[0], 25) })
			if err != nil {
				return s, err
			}
			s.Blocks = append(s.Blocks, block{Figure: fig})
		}
		pts := ev.Points
		fig, err = gonumFigure("fig-evaluation-overhead", "Retransmitted bytes per recognised download",
			"Payload beyond each answered download's expected payload: right and wrong answers.",
			"the evaluation kept no per-download overhead.", func(w io.Writer) error { return reports.RetransmissionChart(w, "svg", pts) })
		if err != nil {
			return s, err
		}
		s.Blocks = append(s.Blocks, block{Figure: fig})
	}
	if n.Score != nil {
		keys := make([]string, 0, len(n.Score))
		for k := range n.Score {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		t := &table{Columns: []column{{Name: "inventory against the labelled population (score.json)"}, {Name: "value", Num: true}}}
		for _, k := range keys {
			v := fmt.Sprint(n.Score[k])
			if f, ok := n.Score[k].(float64); ok {
				v = strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.4f", f), "0"), ".")
			}
			t.Rows = append(t.Rows, []string{strings.ReplaceAll(k, "_", " "), v})
		}
		s.Blocks = append(s.Blocks, block{Table: t}, block{Links: []link{{nightdir.ScoreFile, nightdir.ScoreFile}}})
	}
	return s, nil
}

// svgHeader is what an SVG file has that an SVG inlined in HTML must
// not: the XML prolog, the generator's comment, namespaces (which name
// an address outside the page).
var svgHeader = regexp.MustCompile(`(?s)<\?xml[^>]*\?>|<!--.*?-->|\s+xmlns(:\w+)?="[^"]*"`)

// svgSize is the root element's fixed size.
var svgSize = regexp.MustCompile(`<svg width="[^"]*" height="[^"]*"`)

// gonumFigure draws an SVG chart of package reports and inlines it,
// scaled to the page's width but no narrower than its text can be read
// at (a narrow window scrolls it); a chart with nothing to draw is left
// out with the words empty.
func gonumFigure(id, title, caption, empty string, draw func(w io.Writer) error) (*figure, error) {
	fig := &figure{ID: id, Title: title, Caption: caption}
	var b bytes.Buffer
	err := draw(&b)
	if errors.Is(err, reports.ErrNoData) {
		fig.Omitted = empty
		return fig, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", id, err)
	}
	svg := svgHeader.ReplaceAllString(b.String(), "")
	svg = svgSize.ReplaceAllString(svg, `<svg class="gonum" role="img" aria-label="`+esc(title)+`"`)
	fig.Body = template.HTML(`<div class="gonum">` + strings.TrimSpace(svg) + `</div>`)
	return fig, nil
}
