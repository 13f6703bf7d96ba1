package morning

import (
	"fmt"
	"math"
	"strings"

	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// inventorySection is the inventory as a table to filter, sort and page,
// with the vanished hosts and the coverage of every update beside it.
func (r *report) inventorySection() (section, error) {
	n := r.n
	s := section{ID: "inventory", Title: "Inventory"}
	cols := []column{
		{Name: "host"}, {Name: "OS"}, {Name: "confidence", Unit: "%", Num: true},
		{Name: "attention", Wrap: true},
		{Name: "updates fetched", Unit: "count: entries", Count: true, Wrap: true},
		{Name: "missing updates", Unit: "count: entries", Count: true, Wrap: true},
		{Name: "possibly fetched", Unit: "count", Num: true},
		{Name: "strongest evidence", Wrap: true, Wide: true},
		{Name: "cluster", Num: true},
		{Name: "traffic", Unit: "bytes", Num: true},
		{Name: "seen", Unit: "UTC"},
	}
	first := r.firstNight()
	var rows [][]any
	for i, h := range n.Hosts {
		f := r.facts[i]
		v := h.Verdict
		os := v.OS
		if f.os == "" {
			os = "unknown"
		} else if v.OSVersion != "" {
			os += " " + v.OSVersion
		}
		conf := cell{T: confidenceText(v.Confidence, f.os != ""), V: -1}
		if f.os != "" {
			conf.V = math.Round(v.Confidence*1e4) / 1e4
		}
		var ups []string
		for _, u := range v.Updates {
			ups = append(ups, u.Entry)
		}
		missing := listCell(f.missing)
		if f.os == "" {
			missing = cell{T: "—", V: -1}
		}
		var ev []string
		for _, e := range v.Evidence {
			ev = append(ev, e.Text)
		}
		evc := cell{T: "—"}
		if len(ev) > 0 {
			evc = cell{T: ev[0], M: ev[1:min(len(ev), maxEvidenceShown)]}
			if len(ev) > maxEvidenceShown {
				evc.M = append(evc.M, fmt.Sprintf("(%d more in inventory.csv)", len(ev)-maxEvidenceShown))
			}
		}
		traffic := cell{T: "—", V: -1}
		if i < len(n.Features.Found) && n.Features.Found[i] {
			b := n.Features.Bytes(i)
			traffic = cell{T: bytesText(b), V: b}
		}
		cluster := any(h.Cluster)
		if h.Cluster < 0 {
			cluster = cell{T: "—", V: -1}
		}
		tags := f.tags
		if tags == nil {
			tags = []string{}
		}
		rows = append(rows, []any{h.Addr.String(), os, conf, r.attentionCell(i, first), listCell(ups), missing,
			len(f.possible) + possibleUnidentified(f, h), evc, cluster, traffic, seenText(h), tags})
	}
	t, err := newDataTable("inventory-table", cols, rows, true, inventoryRows, missingText(nightdir.InventoryFile)+" There is no inventory to show.")
	if err != nil {
		return s, err
	}
	intro := "Every internal host of the night. Type in the filter above the table to keep the rows holding every word; type in a column's own filter to search that column only (in a number column, a comparison: >0, <=2); click a header to sort. Attention says what changed and what the host lacks; missing updates are its family's updates it neither fetched nor may have fetched."
	if first {
		intro += " This is the first night in the history, so no host has changed."
	}
	s.Blocks = append(s.Blocks, block{Text: intro}, block{Table: t})
	var links []link
	if n.Present[nightdir.InventoryCSVFile] {
		links = append(links, link{"inventory.csv (every column, all evidence)", nightdir.InventoryCSVFile})
	}
	if n.Present[nightdir.InventoryFile] {
		links = append(links, link{"inventory.json", nightdir.InventoryFile})
	}
	if len(links) > 0 {
		s.Blocks = append(s.Blocks, block{Links: links})
	}

	// Hosts of the previous night not seen in this one.
	if v := n.Run.Vanished; len(v) > 0 {
		var vr [][]any
		for _, h := range v {
			os := h.OS
			if os == "" {
				os = "unknown"
			}
			vr = append(vr, []any{h.Addr, os, []string{tagVanished}})
		}
		vt, err := newDataTable("vanished-table", []column{{Name: "host"}, {Name: "OS that night"}}, vr, true, pageRows, "")
		if err != nil {
			return s, err
		}
		s.Blocks = append(s.Blocks, block{Details: &details{ID: "vanished", Summary: fmt.Sprintf("Hosts seen on %s and not this night (%d)", n.Run.Previous, len(v)),
			Blocks: []block{{Table: vt}}}})
	}

	// Coverage per catalog update.
	if len(r.fams) > 0 {
		ct, err := r.coverageTable()
		if err != nil {
			return s, err
		}
		s.Blocks = append(s.Blocks, block{Details: &details{ID: "coverage", Summary: "Coverage of every update in the catalog",
			Blocks: []block{{Table: ct}, {Links: []link{{"coverage.csv (every host that fetched, may have fetched and misses each update)", CoverageFile}}}}}})
	}
	return s, nil
}

// possibleUnidentified counts a host's possibly fetched entries when it
// has no OS (any family then); 0 for a host with one, whose entries of
// its family are in facts.
func possibleUnidentified(f hostFacts, h nightdir.Host) int {
	if f.os != "" {
		return 0
	}
	return len(h.Verdict.Possible)
}

// listCell is a count of entries with the first few named.
func listCell(entries []string) cell {
	if len(entries) == 0 {
		return cell{T: "0", V: 0}
	}
	c := cell{T: fmt.Sprintf("%d: %s", len(entries), strings.Join(entries[:min(len(entries), maxListed)], ", ")), V: len(entries)}
	if len(entries) > maxListed {
		c.T += ", …"
		c.M = []string{strings.Join(entries[maxListed:], ", ")}
	}
	return c
}

// attentionCell says what needs attention about host i: what changed,
// what it lacks, why it has no OS.
func (r *report) attentionCell(i int, first bool) cell {
	h, f := r.n.Hosts[i], r.facts[i]
	var lines []string
	if h.Changed != "" && !(first && h.Changed == firstNightChanged) {
		lines = append(lines, h.Changed)
	}
	if len(f.missing) > 0 {
		lines = append(lines, fmt.Sprintf("behind: misses %s", plural(len(f.missing), "update", "updates")))
	}
	var more []string
	if f.os == "" {
		lines = append(lines, "no OS: "+whyShort[whyOf(h)])
		if h.Verdict.WhyText != "" {
			more = append(more, h.Verdict.WhyText)
		}
	}
	if len(lines) == 0 {
		return cell{T: ""}
	}
	return cell{T: strings.Join(lines, "; "), M: more, S: map[bool]string{true: "why", false: ""}[len(more) > 0]}
}

// seenText is when a host was first and last seen.
func seenText(h nightdir.Host) string {
	if h.FirstSeen.IsZero() {
		return ""
	}
	return clockText(h.FirstSeen) + "–" + clockOrStamp(h.FirstSeen, h.LastSeen)
}

// coverageTable is every update of the catalog with its family's hosts
// that fetched it, may have and miss it.
func (r *report) coverageTable() (*table, error) {
	var rows [][]any
	for _, f := range r.fams {
		for _, e := range f.entries {
			hosts := len(f.hosts)
			share := cell{T: "—", V: -1}
			if hosts > 0 {
				s := float64(len(f.fetched[e.Name])) / float64(hosts)
				share = cell{T: shareText(s), V: math.Round(s*1e4) / 1e4}
			}
			var miss []string
			for _, i := range f.missing[e.Name] {
				miss = append(miss, r.n.Hosts[i].Addr.String())
			}
			missCell := cell{T: listText(miss, maxHostsInCell)}
			if hosts == 0 {
				missCell.T = "not known: no host identified as " + f.os
			}
			rows = append(rows, []any{e.Name, f.os, strings.TrimSpace(e.Product + " " + e.Version), hosts, len(f.fetched[e.Name]),
				len(f.possible[e.Name]), len(f.missing[e.Name]), share, f.unByEntry[e.Name], missCell})
		}
	}
	return newDataTable("coverage-table", []column{{Name: "update"}, {Name: "OS"}, {Name: "product"}, {Name: "hosts of the OS", Num: true},
		{Name: "fetched", Num: true}, {Name: "possibly fetched", Num: true}, {Name: "missing", Num: true}, {Name: "fetched", Unit: "% of the OS's hosts", Num: true},
		{Name: "downloaded by hosts without an OS", Num: true}, {Name: "hosts missing it", Wrap: true}},
		rows, false, pageRows, "No update of the catalog names an OS family.")
}
