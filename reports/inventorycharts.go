package reports

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// FamilyCount is the hosts the inventory gives one OS family.
type FamilyCount struct {
	OS    string
	Hosts int
	// Sure are those with a confidence of at least SureConfidence.
	Sure int
}

// SureConfidence is the confidence from which the charts count an OS as
// sure.
const SureConfidence = 0.9

// Families counts hosts per OS family, the most common first and
// "unknown" last.
func Families(hosts []nightdir.Host) []FamilyCount {
	by := map[string]*FamilyCount{}
	for _, h := range hosts {
		os := h.Verdict.OS
		if os == "" {
			os = inventory.Unknown
		}
		f := by[os]
		if f == nil {
			f = &FamilyCount{OS: os}
			by[os] = f
		}
		f.Hosts++
		if os != inventory.Unknown && h.Verdict.Confidence >= SureConfidence {
			f.Sure++
		}
	}
	out := make([]FamilyCount, 0, len(by))
	for _, f := range by {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b FamilyCount) int {
		au, bu := a.OS == inventory.Unknown, b.OS == inventory.Unknown
		if au != bu {
			if au {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(b.Hosts, a.Hosts), cmp.Compare(a.OS, b.OS))
	})
	return out
}

// OSFamiliesChart draws hosts per OS family as horizontal bars, the hosts
// given an OS with a confidence of at least SureConfidence darker, each
// bar labelled with its count and share. The image is WideWidth ×
// WideHeight.
func OSFamiliesChart(w io.Writer, format string, fams []FamilyCount) error {
	total := 0
	for _, f := range fams {
		total += f.Hosts
	}
	if total == 0 {
		return fmt.Errorf("OS families chart: no hosts: %w", ErrNoData)
	}
	n := len(fams)
	sure := make(plotter.Values, n)
	rest := make(plotter.Values, n)
	names := make([]string, n)
	var xys plotter.XYs
	var texts []string
	top := 0.0
	for i, f := range fams {
		j := n - 1 - i
		sure[j], rest[j] = float64(f.Sure), float64(f.Hosts-f.Sure)
		names[j] = f.OS
		top = math.Max(top, float64(f.Hosts))
		xys = append(xys, plotter.XY{X: float64(f.Hosts), Y: float64(j)})
		texts = append(texts, fmt.Sprintf("%s hosts (%.1f%%)", CountText(f.Hosts), 100*float64(f.Hosts)/float64(total)))
	}
	p := plot.New()
	p.X.Label.Text = "hosts"
	p.X.Min, p.X.Max = 0, math.Max(1, top*1.3)
	p.Add(verticalGrid())
	p.NominalY(names...)
	width := vg.Length(math.Min(30, 250/float64(n)))
	if err := addStackedBars(p, sure, rest, width, colourNamed, colourLight, xys, texts, vg.Points(9)); err != nil {
		return fmt.Errorf("OS families chart: %w", err)
	}
	legend := []legendEntry{
		{fmt.Sprintf("confidence ≥ %.0f%%", 100*SureConfidence), colourNamed},
		{fmt.Sprintf("confidence below %.0f%%, or no OS", 100*SureConfidence), colourLight},
	}
	return render(w, format, WideWidth, WideHeight, fmt.Sprintf("Hosts per OS family (%s hosts)", CountText(total)), legend, [][]*plot.Plot{{p}})
}
