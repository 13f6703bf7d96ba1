package morning

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
	"github.com/fingerflow/fingerflow/reports"
)

// updatesSection shows the hosts per OS family (and why the others have
// none), which updates each family's hosts fetched, may have fetched and
// miss, and what changed since the previous night.
func (r *report) updatesSection() (section, error) {
	n := r.n
	s := section{ID: "updates", Title: "Hosts and updates"}
	s.Blocks = append(s.Blocks, block{Figure: r.familiesFigure()})
	if !n.Present[nightdir.CatalogFile] {
		s.Blocks = append(s.Blocks, block{Figure: &figure{ID: "fig-coverage", Title: "Update coverage",
			Omitted: "catalog.csv is not in this directory: the catalog's updates are not known."}})
	} else {
		for _, f := range r.fams {
			s.Blocks = append(s.Blocks, block{Figure: r.coverageFigure(f)})
		}
		if len(r.fams) == 0 {
			s.Blocks = append(s.Blocks, block{Figure: &figure{ID: "fig-coverage", Title: "Update coverage",
				Omitted: "the catalog names no OS family, so no update belongs to a host's OS."}})
		}
		if err := r.coverageCSV(); err != nil {
			return s, err
		}
	}
	s.Blocks = append(s.Blocks, block{Figure: r.changesFigure()})
	return s, nil
}

// familiesFigure: hosts per OS family, sure and less sure, and the hosts
// without an OS split by why.
func (r *report) familiesFigure() *figure {
	n := r.n
	fig := &figure{ID: "fig-os-families", Title: "Hosts per OS family"}
	if len(n.Hosts) == 0 {
		fig.Omitted = "the night had no internal host."
		if !n.Present[nightdir.InventoryFile] {
			fig.Omitted = missingText(nightdir.InventoryFile)
		}
		return fig
	}
	type fam struct {
		os         string
		sure, less int
	}
	by := map[string]*fam{}
	whys := map[string]int{}
	for i, h := range n.Hosts {
		os := r.facts[i].os
		if os == "" {
			whys[whyOf(h)]++
			continue
		}
		f := by[os]
		if f == nil {
			f = &fam{os: os}
			by[os] = f
		}
		if h.Verdict.Confidence >= reports.SureConfidence {
			f.sure++
		} else {
			f.less++
		}
	}
	fams := make([]*fam, 0, len(by))
	for _, f := range by {
		fams = append(fams, f)
	}
	slices.SortFunc(fams, func(a, b *fam) int { return cmp.Or(cmp.Compare(b.sure+b.less, a.sure+a.less), cmp.Compare(a.os, b.os)) })
	total := len(n.Hosts)
	l := barList{label: "hosts per OS family"}
	for _, f := range fams {
		k := f.sure + f.less
		l.bars = append(l.bars, bar{label: f.os, value: fmt.Sprintf("%s (%s)", plural(k, "host", "hosts"), shareText(float64(k)/float64(total))),
			segs: []seg{
				{float64(f.sure), "c-sure", fmt.Sprintf("%s: %d hosts with a confidence of at least %.0f%%", f.os, f.sure, 100*reports.SureConfidence)},
				{float64(f.less), "c-unsure", fmt.Sprintf("%s: %d hosts with a confidence below %.0f%%", f.os, f.less, 100*reports.SureConfidence)},
			}})
	}
	unknown := total
	for _, f := range fams {
		unknown -= f.sure + f.less
	}
	legend := []legendKey{{"c-sure", fmt.Sprintf("confidence ≥ %.0f%%", 100*reports.SureConfidence)}, {"c-unsure", fmt.Sprintf("confidence < %.0f%%", 100*reports.SureConfidence)}}
	if unknown > 0 {
		b := bar{label: "not identified", value: fmt.Sprintf("%s (%s)", plural(unknown, "host", "hosts"), shareText(float64(unknown)/float64(total)))}
		var words []string
		for k, w := range whyOrder {
			if whys[w] == 0 {
				continue
			}
			cls := fmt.Sprintf("c-why%d", min(k, 4))
			b.segs = append(b.segs, seg{float64(whys[w]), cls, fmt.Sprintf("%d hosts: %s", whys[w], whyShort[w])})
			words = append(words, fmt.Sprintf("%d %s", whys[w], whyShort[w]))
			legend = append(legend, legendKey{cls, "no OS: " + whyShort[w]})
		}
		b.note = strings.Join(words, " · ")
		l.bars = append(l.bars, b)
	}
	l.legend = legend
	fig.Body = l.render()
	fig.Caption = "Every internal host of the night by the OS family its catalog evidence names; hosts without one are not absent from the families, only unidentified, split by why (the attention list says what each reason means)."
	return fig
}

// coverageFigure: one family's updates, fetched, possibly fetched and
// missing among its hosts; for a family without identified hosts, what
// hosts without an OS did with its files.
func (r *report) coverageFigure(f *family) *figure {
	fig := &figure{ID: "fig-coverage-" + idPart(f.os), Title: fmt.Sprintf("Update coverage: %s (%s)", f.os, plural(len(f.entries), "update", "updates"))}
	fig.Caption = f.summaryText()
	if len(f.hosts) == 0 {
		fig.Omitted = f.summaryText()
		return fig
	}
	l := barList{label: "update coverage of " + f.os, max: float64(len(f.hosts)), wide: true,
		legend: []legendKey{{"c-fetched", "fetched"}, {"c-possible", "possibly fetched"}, {"c-missing", "missing"}}}
	rows := f.coverageRows()
	for _, e := range rows[:min(len(rows), maxEntriesShown)] {
		got, maybe, miss := len(f.fetched[e.Name]), len(f.possible[e.Name]), len(f.missing[e.Name])
		label := e.Name
		title := strings.TrimSpace(e.Product + " " + e.Version)
		if !e.Released.IsZero() {
			title += " (released " + e.Released.UTC().Format("2006-01-02") + ")"
		}
		b := bar{label: label, labelTitle: title,
			value: fmt.Sprintf("%d of %d fetched", got, len(f.hosts)),
			segs: []seg{
				{float64(got), "c-fetched", fmt.Sprintf("%s: fetched by %d of the %d %s hosts", e.Name, got, len(f.hosts), f.os)},
				{float64(maybe), "c-possible", fmt.Sprintf("%s: possibly fetched by %d", e.Name, maybe)},
				{float64(miss), "c-missing", fmt.Sprintf("%s: missing on %d", e.Name, miss)},
			}}
		if maybe > 0 {
			b.value += fmt.Sprintf(", %d possibly", maybe)
		}
		if miss > 0 {
			b.value += fmt.Sprintf(", %d missing", miss)
		}
		if k := f.unByEntry[e.Name]; k > 0 {
			b.note = fmt.Sprintf("also downloaded by %s without an OS", plural(k, "host", "hosts"))
		}
		l.bars = append(l.bars, b)
	}
	fig.Body = l.render()
	if len(rows) > maxEntriesShown {
		fig.Caption += fmt.Sprintf(" The %d most fetched of its %d updates are shown; the coverage table and coverage.csv list them all.", maxEntriesShown, len(rows))
	}
	return fig
}

// idPart keeps a name usable in an element id.
func idPart(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r - 'A' + 'a'
		}
		return '-'
	}, s)
}

// changesFigure: what changed since the previous night.
func (r *report) changesFigure() *figure {
	n := r.n
	fig := &figure{ID: "fig-changes", Title: "Since the previous night"}
	switch {
	case !n.HasHistory():
		fig.Omitted = "the run kept no history (--no-history): there is nothing to compare with."
		return fig
	case n.Run.Previous == "" && r.firstNight():
		fig.Omitted = "this is the first night in the history: there is nothing to compare with."
		return fig
	}
	var newHosts, osChanged, identified, lost, withNew int
	byEntry := map[string]int{}
	for i, h := range n.Hosts {
		f := r.facts[i]
		if f.newHost {
			newHosts++
		}
		switch f.change {
		case changeFamily:
			osChanged++
		case changeIdentified:
			identified++
		case changeLost:
			lost++
		}
		if f.newUpdates > 0 {
			withNew++
		}
		for _, u := range h.NewUpdates {
			byEntry[u]++
		}
	}
	vanished := len(n.Run.Vanished)
	if newHosts+osChanged+identified+lost+withNew+vanished == 0 {
		fig.Omitted = fmt.Sprintf("nothing changed since %s: the same hosts, the same OS families, no update fetched for the first time.", n.Run.Previous)
		return fig
	}
	fig.Title += " (" + n.Run.Previous + ")"
	l := barList{label: "changes since the previous night"}
	for _, c := range []struct {
		label string
		k     int
	}{{"new hosts", newHosts}, {"hosts not seen again", vanished}, {"hosts whose OS family changed", osChanged},
		{"hosts identified (unknown then)", identified}, {"hosts no longer identified", lost}, {"hosts with new updates", withNew}} {
		l.bars = append(l.bars, bar{label: c.label, value: countText(c.k), segs: []seg{{float64(c.k), "c-main", fmt.Sprintf("%s: %d", c.label, c.k)}}})
	}
	body := l.render()
	if len(byEntry) > 0 {
		type ec struct {
			e string
			k int
		}
		var es []ec
		for e, k := range byEntry {
			es = append(es, ec{e, k})
		}
		slices.SortFunc(es, func(a, b ec) int { return cmp.Or(cmp.Compare(b.k, a.k), cmp.Compare(a.e, b.e)) })
		ul := barList{label: "updates fetched for the first time", wide: true}
		for _, e := range es[:min(len(es), maxEntriesShown)] {
			ul.bars = append(ul.bars, bar{label: e.e, value: plural(e.k, "host", "hosts"), segs: []seg{{float64(e.k), "c-fetched", fmt.Sprintf("%s: fetched for the first time by %d hosts", e.e, e.k)}}})
		}
		body += "<h4>Updates fetched for the first time, by hosts</h4>" + ul.render()
	}
	fig.Body = body
	fig.Caption = "Against the previous night in the history. The inventory's attention column says what changed for each host; the vanished hosts are listed under the inventory."
	return fig
}
