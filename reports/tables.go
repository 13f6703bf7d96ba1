package reports

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/fingerflow/fingerflow/models/downloads"
)

// The text tables evaluate prints.

// WriteTable prints reports side by side, one column per predictor.
func WriteTable(w io.Writer, reports ...*downloads.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	row := func(label string, f func(r *downloads.Report) string) {
		fmt.Fprintf(tw, "%s\t", label)
		for _, r := range reports {
			fmt.Fprintf(tw, "%s\t", f(r))
		}
		fmt.Fprintln(tw)
	}
	row("", func(r *downloads.Report) string { return r.Name })
	row("catalog downloads named correctly", func(r *downloads.Report) string {
		return pct(r.KnownCorrect, r.Known)
	})
	row("unknown downloads rejected", func(r *downloads.Report) string {
		return pct(r.UnknownCorrect, r.Unknown)
	})
	row("simulated unknown downloads rejected", func(r *downloads.Report) string {
		return pct(r.SimUnknownCorrect, r.SimUnknown)
	})
	row("files recovered from multi-file connections", func(r *downloads.Report) string {
		return pct(r.MultiFound, r.MultiFiles)
	})
	row("multi-file connections answered exactly", func(r *downloads.Report) string {
		return pct(r.MultiExact, r.MultiConns)
	})
	row("files wrongly named in multi-file connections", func(r *downloads.Report) string {
		if r.MultiFiles == 0 {
			return "-"
		}
		return fmt.Sprint(r.MultiWrong)
	})
	return tw.Flush()
}

// WriteRunSummary prints one row per run: fingerflow's share of catalog
// downloads named, of unknown downloads rejected and of multi-file
// catalog files recovered, beside the byte-count baseline's share named
// (reports[i][0] is fingerflow, reports[i][1], when present, the baseline).
func WriteRunSummary(w io.Writer, names []string, reports [][]*downloads.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "run\tnamed correctly\tunknown rejected\tsimulated unknown rejected\tmulti-file recovered\tbytes-only tree named\t\n")
	for i, rs := range reports {
		base := "-"
		if len(rs) > 1 {
			base = pctShort(rs[1].KnownCorrect, rs[1].Known)
		}
		r := rs[0]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", names[i], pctShort(r.KnownCorrect, r.Known),
			pctShort(r.UnknownCorrect, r.Unknown), pctShort(r.SimUnknownCorrect, r.SimUnknown),
			pctShort(r.MultiFound, r.MultiFiles), base)
	}
	return tw.Flush()
}

func pctShort(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
}

// WritePerFile prints precision and recall per file (single-file
// downloads) of r.
func WritePerFile(w io.Writer, r *downloads.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "file\tsupport\tpredicted\tprecision\trecall\t\n")
	for _, s := range r.PerFile() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t\n", s.File, s.Support, s.Predicted, s.Precision, s.Recall)
	}
	return tw.Flush()
}

// WriteConfusions prints r's off-diagonal confusion pairs, most frequent
// first, at most limit of them (the full matrix of thousands of files is unreadable).
func WriteConfusions(w io.Writer, r *downloads.Report, limit int) error {
	type pair struct {
		k [2]string
		n int
	}
	var ps []pair
	for k, n := range r.Confusion {
		if k[0] != k[1] {
			ps = append(ps, pair{k, n})
		}
	}
	slices.SortFunc(ps, func(a, b pair) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.k[0]+a.k[1], b.k[0]+b.k[1])
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "truth\tanswer\tcount\n")
	for i, p := range ps {
		if i == limit {
			fmt.Fprintf(tw, "…\t(%d more pairs)\t\n", len(ps)-limit)
			break
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\n", p.k[0], p.k[1], p.n)
	}
	return tw.Flush()
}

// WriteSweep prints a sweep, one row per threshold; current marks the
// row the model uses.
func WriteSweep(w io.Writer, points []downloads.SweepPoint, trees int, current float64) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "threshold\ttrees agreeing\tnamed correctly\tunknown rejected\tsimulated unknown rejected\tmulti-file recovered\t\n")
	for _, p := range points {
		mark := ""
		if p.Votes == int(math.Ceil(current*float64(trees)-1e-9)) {
			mark = " *"
		}
		r := p.Report
		fmt.Fprintf(tw, "%.3f%s\t%d of %d\t%s\t%s\t%s\t%s\t\n", p.Threshold, mark, p.Votes, trees,
			pctShort(r.KnownCorrect, r.Known), pctShort(r.UnknownCorrect, r.Unknown),
			pctShort(r.SimUnknownCorrect, r.SimUnknown), pctShort(r.MultiFound, r.MultiFiles))
	}
	return tw.Flush()
}
