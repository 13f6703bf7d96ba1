// Package nbview turns the notebooks' results into what a Jupyter cell
// shows: a gota DataFrame as an HTML table and a gonum plot as PNG bytes.
// A notebook hands them to GoNB's display functions
// (gonbui.DisplayHTML, gonbui.DisplayPNG); nothing here depends on the
// kernel, so the packages the notebooks call build and test without it.
package nbview

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"

	"github.com/go-gota/gota/dataframe"
	"github.com/go-gota/gota/series"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// Table renders df as an HTML table under caption (none when empty):
// a header row of the column names, numbers right-aligned, floats with at
// most three decimals (large ones as whole numbers), NaN as an empty
// cell. Every row is shown; pass Head(df, n) for a long frame.
func Table(caption string, df dataframe.DataFrame) (string, error) {
	if df.Err != nil {
		return "", df.Err
	}
	var b strings.Builder
	b.WriteString("<table>\n")
	if caption != "" {
		fmt.Fprintf(&b, "<caption style=\"text-align:left\">%s</caption>\n", html.EscapeString(caption))
	}
	names, types := df.Names(), df.Types()
	align := make([]string, len(names))
	b.WriteString("<thead><tr>")
	for i, n := range names {
		align[i] = "left"
		if types[i] == series.Int || types[i] == series.Float {
			align[i] = "right"
		}
		fmt.Fprintf(&b, "<th style=\"text-align:%s\">%s</th>", align[i], html.EscapeString(n))
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	cols := make([]series.Series, len(names))
	for i, n := range names {
		cols[i] = df.Col(n)
	}
	for r := range df.Nrow() {
		b.WriteString("<tr>")
		for i, c := range cols {
			fmt.Fprintf(&b, "<td style=\"text-align:%s\">%s</td>", align[i], html.EscapeString(cell(c.Elem(r))))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>\n")
	return b.String(), nil
}

// cell is an element's text in the table.
func cell(e series.Element) string {
	if e.IsNA() {
		return ""
	}
	if e.Type() != series.Float {
		return e.String()
	}
	return Number(e.Float())
}

// Number formats a float as the tables do: NaN empty, whole numbers and
// magnitudes of 10,000 or more without decimals, magnitudes below 0.01
// with two significant digits (a chance of 0.00015 stays visible), others
// with at most four decimals, trailing zeros dropped.
func Number(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return ""
	case math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case a >= 1e4 || v == math.Trunc(v):
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	case a < 0.01:
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
	s := strings.TrimRight(strconv.FormatFloat(v, 'f', 4, 64), "0")
	return strings.TrimSuffix(s, ".")
}

// Head returns the first n rows of df (all of them when it has fewer).
func Head(df dataframe.DataFrame, n int) dataframe.DataFrame {
	if df.Err != nil || df.Nrow() <= n {
		return df
	}
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	return df.Subset(rows)
}

// PNG draws p as a PNG image of w × h.
func PNG(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Figure is one number notebooks/README.md quotes beside what the data
// gives now. A notebook shows its figures as a table and fails when one
// no longer holds, and so does its Go test: the README cannot go stale.
type Figure struct {
	Name     string
	Quoted   string // as the README has it
	Measured string // the same quantity from the data, formatted alike
	OK       bool
}

// Percent is a share quoted as a percentage ("86%", "89.2%"), measured
// to as many decimals as quoted.
func Percent(name, quoted string, share float64) Figure {
	m := strconv.FormatFloat(100*share, 'f', decimals(strings.TrimSuffix(quoted, "%")), 64) + "%"
	return Text(name, quoted, m)
}

// Decimal is a number quoted with some decimals ("0.513", "801.6"),
// measured to as many.
func Decimal(name, quoted string, v float64) Figure {
	return Text(name, quoted, strconv.FormatFloat(v, 'f', decimals(quoted), 64))
}

// decimals counts the digits after the point of a quoted number.
func decimals(s string) int {
	if _, frac, ok := strings.Cut(s, "."); ok {
		return len(frac)
	}
	return 0
}

// Text is a figure quoted and measured as text: it holds when they are
// the same.
func Text(name, quoted, measured string) Figure {
	return Figure{Name: name, Quoted: quoted, Measured: measured, OK: quoted == measured}
}

// Count is a whole number quoted as is.
func Count(name string, quoted, measured int) Figure {
	return Text(name, strconv.Itoa(quoted), strconv.Itoa(measured))
}

// Claim is a relation the README states ("fingerflow rejects more than
// the policy"), with the numbers behind it as measured.
func Claim(name string, holds bool, measured string) Figure {
	return Figure{Name: name, Quoted: "holds", Measured: measured, OK: holds}
}

// Verify returns an error listing every figure that does not hold, nil
// when all do.
func Verify(figs []Figure) error {
	var bad []string
	for _, f := range figs {
		if !f.OK {
			bad = append(bad, fmt.Sprintf("%s: quoted %s, measured %s", f.Name, f.Quoted, f.Measured))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d of %d quoted figures no longer hold:\n  %s", len(bad), len(figs), strings.Join(bad, "\n  "))
	}
	return nil
}
