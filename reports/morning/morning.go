package morning

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// Files the morning report writes.
const (
	ReportFile   = "report.html"
	CoverageFile = "coverage.csv"
)

// Limits that keep the page small on big nights; the full data is in the
// files beside it.
const (
	pageRows          = 50   // rows per page of an interactive table
	inventoryRows     = 25   // rows per page of the inventory
	maxDownloadRows   = 5000 // named and chance-level downloads listed
	maxTalkers        = 15   // hosts in the top talkers table
	maxEntriesShown   = 15   // catalog entries per family on the coverage chart
	maxListed         = 6    // entries named in an inventory cell before "more"
	maxEvidenceShown  = 6    // evidence lines of a host in the page
	maxHostsInCell    = 20   // hosts named in a coverage table cell
	firstNightChanged = "first night in the history"
)

// MorningReport is what WriteMorningReport wrote.
type MorningReport struct {
	// Path is report.html's path.
	Path string
	// Charts are the charts shown, Omitted those left out with a line
	// saying why; by id, in page order.
	Charts, Omitted []string
	// Bytes is the size of report.html.
	Bytes int
}

// report assembles the page.
type report struct {
	n     *Night
	night string // the night's key
	facts []hostFacts
	fams  []*family
	// files are files the report writes beside the page.
	files map[string][]byte
	// charts and omitted are the figures' ids.
	charts, omitted []string
}

// WriteMorningReport reads the run output directory dir (LoadNight) and
// writes into it report.html and coverage.csv, under temporary names
// renamed into place. The same directory gives the same bytes.
func WriteMorningReport(ctx context.Context, dir string) (*MorningReport, error) {
	return WriteMorningReportWith(ctx, dir, nil)
}

// WriteMorningReportWith is WriteMorningReport with the night's downloads
// summarised as the run wrote them (z, fed every row of the directory's
// downloads file in order, for that file's format), instead of read from
// the directory again; nil reads them. The page is the same.
func WriteMorningReportWith(ctx context.Context, dir string, z *DownloadSummarizer) (*MorningReport, error) {
	n, err := loadNight(ctx, dir, z)
	if err != nil {
		return nil, err
	}
	r := newReport(n)
	p, err := r.page()
	if err != nil {
		return nil, fmt.Errorf("morning report: %w", err)
	}
	var buf bytes.Buffer
	if err := writePage(&buf, p); err != nil {
		return nil, fmt.Errorf("morning report: %w", err)
	}
	names := make([]string, 0, len(r.files))
	for name := range r.files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := nightdir.WriteFileAtomic(filepath.Join(dir, name), r.files[name]); err != nil {
			return nil, err
		}
	}
	rep := &MorningReport{Path: filepath.Join(dir, ReportFile), Charts: r.charts, Omitted: r.omitted, Bytes: buf.Len()}
	if err := nightdir.WriteFileAtomic(rep.Path, buf.Bytes()); err != nil {
		return nil, err
	}
	return rep, nil
}

// hostFacts is what the page says of one host beyond its verdict.
type hostFacts struct {
	os    string // lower case; "" without an OS
	label string // address, and OS when it has one
	// missing are the catalog entries of its OS it has not fetched and
	// could not have (by entry); possible those of its OS it may have.
	missing, possible []string
	newHost           bool
	// change is how the host's OS changed since the previous night:
	// changeFamily (one family to another), changeIdentified (unknown
	// then), changeLost (known then, unknown now), or 0; osFrom and osTo
	// say the families in words.
	change       int
	osFrom, osTo string
	newUpdates   int
	tags         []string
}

// How a host's OS changed since the previous night.
const (
	changeFamily = 1 + iota
	changeIdentified
	changeLost
)

// Tags of inventory rows that the page's links show.
const (
	tagNew        = "new"
	tagOSChanged  = "os-changed"
	tagIdentified = "identified"
	tagLost       = "no-longer-identified"
	tagNewUpdates = "new-updates"
	tagBehind     = "behind"
	tagPossible   = "possible"
	tagNoOS       = "no-os"
	tagVanished   = "vanished"
)

func newReport(n *Night) *report {
	r := &report{n: n, files: map[string][]byte{}}
	r.night = cmp.Or(n.Run.Night, n.Meta.Night, filepath.Base(n.Dir))
	r.facts = make([]hostFacts, len(n.Hosts))
	for i, h := range n.Hosts {
		f := &r.facts[i]
		f.label = h.Addr.String()
		if hasOS(h) {
			f.os = strings.ToLower(h.Verdict.OS)
			f.label += " (" + h.Verdict.OS + ")"
		}
		switch {
		case strings.HasPrefix(h.Changed, "new since "):
			f.newHost = true
			f.tags = append(f.tags, tagNew)
		case strings.HasPrefix(h.Changed, "OS "):
			// "OS debian 12 → windows; 2 new updates"
			what, _, _ := strings.Cut(strings.TrimPrefix(h.Changed, "OS "), ";")
			from, to, _ := strings.Cut(what, " → ")
			f.osFrom, f.osTo = strings.TrimSpace(from), strings.TrimSpace(to)
			fromUnknown, toUnknown := f.osFrom == inventory.Unknown || f.osFrom == "", f.osTo == inventory.Unknown || f.osTo == ""
			switch {
			case fromUnknown && !toUnknown:
				f.change = changeIdentified
				f.tags = append(f.tags, tagIdentified)
			case toUnknown && !fromUnknown:
				f.change = changeLost
				f.tags = append(f.tags, tagLost)
			case familyWord(f.osFrom) != familyWord(f.osTo):
				f.change = changeFamily
				f.tags = append(f.tags, tagOSChanged)
			}
			// The same family in another version is no change of OS.
		}
		if f.newUpdates = len(h.NewUpdates); f.newUpdates > 0 {
			f.tags = append(f.tags, tagNewUpdates)
		}
		if f.os == "" {
			f.tags = append(f.tags, tagNoOS, tagNoOS+"-"+whyOf(h))
		}
	}
	r.fams = r.families()
	for i := range r.facts {
		f := &r.facts[i]
		if len(f.missing) > 0 {
			f.tags = append(f.tags, tagBehind)
		}
		if len(f.possible) > 0 {
			f.tags = append(f.tags, tagPossible)
		}
	}
	return r
}

// familyWord is the family of "debian 12": its first word, lower case.
func familyWord(os string) string {
	w, _, _ := strings.Cut(os, " ")
	return strings.ToLower(w)
}

// hasOS reports whether the inventory gives h an OS family.
func hasOS(h nightdir.Host) bool {
	return h.Verdict.OS != "" && h.Verdict.OS != inventory.Unknown
}

// whyOf is why h has no OS, one of inventory's Why* reasons ("unknown"
// for a directory written before the inventory said).
func whyOf(h nightdir.Host) string { return cmp.Or(h.Verdict.Why, "unknown") }

// updates are the catalog's entries that are updates (a mirror's index
// files are not), by name.
func (r *report) updates() map[string]catalog.Entry {
	out := map[string]catalog.Entry{}
	for _, e := range r.n.Catalog {
		if e.Kind != catalog.KindIndex {
			out[e.Name] = e
		}
	}
	return out
}

// firstNight reports whether every host is on its first night in the
// history.
func (r *report) firstNight() bool {
	for _, h := range r.n.Hosts {
		if h.Changed != firstNightChanged {
			return false
		}
	}
	return len(r.n.Hosts) > 0
}

// page builds the page.
func (r *report) page() (page, error) {
	n := r.n
	run := n.Run
	p := page{Title: "Morning report: night " + r.night}
	span := run.Last.Sub(run.First)
	lead := fmt.Sprintf("Flows from %s to %s UTC (%s): %s flows from %s, %s.",
		stampText(run.First), clockOrStamp(run.First, run.Last), spanText(span),
		countText(run.Flows), plural(run.Files-run.FilesSkipped, "file", "files"), plural(run.Hosts, "internal host", "internal hosts"))
	if run.First.IsZero() {
		lead = fmt.Sprintf("%s flows, %s.", countText(run.Flows), plural(run.Hosts, "internal host", "internal hosts"))
	}
	p.Lead = lead
	if rp := run.Replaced; rp != nil {
		p.Banners = append(p.Banners, fmt.Sprintf(
			"This run replaced an earlier run of the night %s in the history: that run started %s UTC and read %s flows from %s; this run read %s flows from %s.",
			r.night, stampText(rp.Started), countText(rp.Flows), plural(rp.Hosts, "host", "hosts"), countText(run.Flows), plural(run.Hosts, "host", "hosts")))
	}
	builders := []func() (section, error){
		r.attentionSection, r.updatesSection, r.inventorySection, r.trafficSection, r.clustersSection,
		r.downloadsSection, r.analyticsSection, r.evaluationSection, r.filesSection,
	}
	for _, b := range builders {
		s, err := b()
		if err != nil {
			return page{}, err
		}
		if s.Title == "" {
			continue
		}
		p.Sections = append(p.Sections, s)
		p.Nav = append(p.Nav, link{s.Title, "#" + s.ID})
		for _, bl := range s.Blocks {
			if f := bl.Figure; f != nil {
				if f.Omitted != "" {
					r.omitted = append(r.omitted, f.ID)
				} else {
					r.charts = append(r.charts, f.ID)
				}
			}
		}
	}
	return p, nil
}

// clockOrStamp is t's time of day when it falls on from's date, else its
// date and time.
func clockOrStamp(from, t time.Time) string {
	if from.UTC().Format(time.DateOnly) == t.UTC().Format(time.DateOnly) {
		return clockText(t)
	}
	return stampText(t)
}

// missingText says that a file a part needs is not in the directory.
func missingText(file string) string {
	return fmt.Sprintf("%s is not in this directory.", file)
}
