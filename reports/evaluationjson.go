package reports

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/fingerflow/fingerflow/models/downloads"
)

// Evaluation is a labelled evaluation as `evaluate --report` keeps it in
// evaluation.json beside its charts, so that other reports (the morning
// report of a run directory holding it) can draw it again.
type Evaluation struct {
	Runs   []RunResult
	Points []RetransmissionPoint
}

type jsonEvaluation struct {
	Runs   []jsonRun   `json:"runs"`
	Points []jsonPoint `json:"points"`
}

type jsonRun struct {
	Name    string       `json:"name"`
	Reports []jsonReport `json:"reports"`
}

type jsonReport struct {
	Name              string `json:"name"`
	Known             int    `json:"known"`
	KnownCorrect      int    `json:"known_correct"`
	Unknown           int    `json:"unknown"`
	UnknownCorrect    int    `json:"unknown_correct"`
	MultiFiles        int    `json:"multi_files"`
	MultiFound        int    `json:"multi_found"`
	MultiWrong        int    `json:"multi_wrong"`
	MultiConns        int    `json:"multi_connections"`
	MultiExact        int    `json:"multi_exact"`
	SimUnknown        int    `json:"simulated_unknown"`
	SimUnknownCorrect int    `json:"simulated_unknown_correct"`
	// Confusion lists [truth, answer, count] triples, sorted.
	Confusion [][3]any `json:"confusion"`
}

type jsonPoint struct {
	Run     string  `json:"run"`
	Extra   float64 `json:"extra"`
	Correct bool    `json:"correct"`
}

// WriteEvaluationJSON writes runs and points as one JSON document that
// ReadEvaluationJSON reads back.
func WriteEvaluationJSON(w io.Writer, runs []RunResult, points []RetransmissionPoint) error {
	doc := jsonEvaluation{Runs: []jsonRun{}, Points: []jsonPoint{}}
	for _, r := range runs {
		jr := jsonRun{Name: r.Name, Reports: []jsonReport{}}
		for _, rep := range r.Reports {
			x := jsonReport{
				Name: rep.Name, Known: rep.Known, KnownCorrect: rep.KnownCorrect, Unknown: rep.Unknown, UnknownCorrect: rep.UnknownCorrect,
				MultiFiles: rep.MultiFiles, MultiFound: rep.MultiFound, MultiWrong: rep.MultiWrong, MultiConns: rep.MultiConns,
				MultiExact: rep.MultiExact, SimUnknown: rep.SimUnknown, SimUnknownCorrect: rep.SimUnknownCorrect, Confusion: [][3]any{},
			}
			keys := make([][2]string, 0, len(rep.Confusion))
			for k := range rep.Confusion {
				keys = append(keys, k)
			}
			slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
			for _, k := range keys {
				x.Confusion = append(x.Confusion, [3]any{k[0], k[1], rep.Confusion[k]})
			}
			jr.Reports = append(jr.Reports, x)
		}
		doc.Runs = append(doc.Runs, jr)
	}
	for _, p := range points {
		doc.Points = append(doc.Points, jsonPoint(p))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(doc)
}

// ReadEvaluationJSON reads what WriteEvaluationJSON wrote.
func ReadEvaluationJSON(r io.Reader) (*Evaluation, error) {
	var doc struct {
		Runs []struct {
			Name    string `json:"name"`
			Reports []struct {
				jsonReport
				Confusion []confusionTriple `json:"confusion"`
			} `json:"reports"`
		} `json:"runs"`
		Points []jsonPoint `json:"points"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("evaluation: %w", err)
	}
	ev := &Evaluation{}
	for _, jr := range doc.Runs {
		run := RunResult{Name: jr.Name}
		for _, x := range jr.Reports {
			rep := &downloads.Report{
				Name: x.Name, Known: x.Known, KnownCorrect: x.KnownCorrect, Unknown: x.Unknown, UnknownCorrect: x.UnknownCorrect,
				MultiFiles: x.MultiFiles, MultiFound: x.MultiFound, MultiWrong: x.MultiWrong, MultiConns: x.MultiConns,
				MultiExact: x.MultiExact, SimUnknown: x.SimUnknown, SimUnknownCorrect: x.SimUnknownCorrect,
				Confusion: map[[2]string]int{},
			}
			for _, c := range x.Confusion {
				rep.Confusion[[2]string{c.Truth, c.Answer}] += c.Count
			}
			run.Reports = append(run.Reports, rep)
		}
		ev.Runs = append(ev.Runs, run)
	}
	for _, p := range doc.Points {
		ev.Points = append(ev.Points, RetransmissionPoint(p))
	}
	return ev, nil
}

// UnmarshalJSON reads a [truth, answer, count] triple.
func (c *confusionTriple) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw) != 3 {
		return fmt.Errorf("confusion entry %s: want [truth, answer, count]", b)
	}
	if err := json.Unmarshal(raw[0], &c.Truth); err != nil {
		return err
	}
	if err := json.Unmarshal(raw[1], &c.Answer); err != nil {
		return err
	}
	return json.Unmarshal(raw[2], &c.Count)
}

type confusionTriple struct {
	Truth, Answer string
	Count         int
}

// EvaluationFile is the labelled evaluation `fingerflow evaluate --report`
// writes beside its charts; the morning report shows it when a run
// directory holds one.
const EvaluationFile = "evaluation.json"
