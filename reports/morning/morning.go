package reports

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/models/clusters"
	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// The morning report: one page, report.html, written into a nightly run's
// output directory from the files the run left there, with every chart
// beside it as PNG and SVG and the CSV files its tables summarise.

// Files the morning report writes.
const (
	ReportFile   = "report.html"
	CoverageFile = "coverage.csv"
)

// Limits that keep the page small on big nights; the full data is in the
// files beside it.
const (
	pageRows         = 50   // rows per page of an interactive table
	maxDownloadRows  = 5000 // named downloads listed
	maxCoverageChart = 40   // catalog entries on the coverage chart
	maxTalkers       = 20   // hosts on the top talkers chart
	maxListedHosts   = 20   // hosts named in a table cell
	maxUpdatesListed = 6    // updates named in an inventory row
)

// MorningReport is what WriteMorningReport wrote.
type MorningReport struct {
	// Path is report.html's path.
	Path string
	// Charts are the charts' base names (NAME.png and NAME.svg beside
	// the page), in page order; Empty those drawn as "no data".
	Charts []string
	Empty  []string
	// Bytes is the size of report.html.
	Bytes int
}

// chartJob is one chart of the page: its files' base name, how to draw
// it, and the figure that shows it.
type chartJob struct {
	name          string
	title         string
	width, height vg.Length
	draw          func(w io.Writer, format string) error
	fig           *figure
	// empty is what the figure says when draw finds nothing to draw.
	empty string
}

// morning assembles the page.
type morning struct {
	n      *Night
	charts []*chartJob
	// files are extra files the report writes beside the page.
	files map[string][]byte
}

// WriteMorningReport reads the run output directory dir (LoadNight) and
// writes into it report.html, every chart as NAME.png and NAME.svg, and
// coverage.csv. Files are written under temporary names and renamed into
// place. The same directory gives the same bytes.
func WriteMorningReport(ctx context.Context, dir string) (*MorningReport, error) {
	n, err := LoadNight(ctx, dir)
	if err != nil {
		return nil, err
	}
	m := &morning{n: n, files: map[string][]byte{}}
	p, err := m.page()
	if err != nil {
		return nil, err
	}
	rep := &MorningReport{Path: filepath.Join(dir, ReportFile)}
	for _, c := range m.charts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		empty, err := m.drawChart(c)
		if err != nil {
			return nil, err
		}
		rep.Charts = append(rep.Charts, c.name)
		if empty {
			rep.Empty = append(rep.Empty, c.name)
		}
	}
	var page bytes.Buffer
	if err := writePage(&page, p); err != nil {
		return nil, fmt.Errorf("morning report: %w", err)
	}
	names := make([]string, 0, len(m.files))
	for name := range m.files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := nightdir.WriteFileAtomic(filepath.Join(dir, name), m.files[name]); err != nil {
			return nil, err
		}
	}
	if err := nightdir.WriteFileAtomic(rep.Path, page.Bytes()); err != nil {
		return nil, err
	}
	rep.Bytes = page.Len()
	return rep, nil
}

// drawChart draws c as PNG and SVG into m.files and fills its figure;
// when there is nothing to draw, both files say so in words and the figure
// shows the words.
func (m *morning) drawChart(c *chartJob) (empty bool, err error) {
	var png, svg bytes.Buffer
	err = c.draw(&png, "png")
	if errors.Is(err, ErrNoData) {
		empty = true
		png.Reset()
		if err := NoDataChart(&png, "png", WideWidth, WideHeight/2, c.title, c.empty); err != nil {
			return false, err
		}
		if err := NoDataChart(&svg, "svg", WideWidth, WideHeight/2, c.title, c.empty); err != nil {
			return false, err
		}
		c.fig.Empty = c.empty
	} else if err != nil {
		return false, fmt.Errorf("morning report: chart %s: %w", c.name, err)
	} else {
		if err := c.draw(&svg, "svg"); err != nil {
			return false, fmt.Errorf("morning report: chart %s: %w", c.name, err)
		}
		uri, err := pngURI(png.Bytes())
		if err != nil {
			return false, fmt.Errorf("morning report: chart %s: %w", c.name, err)
		}
		c.fig.URI = uri
		if w, h, ok := pngSize(png.Bytes()); ok {
			c.fig.Width, c.fig.Height = w, h
		}
	}
	m.files[c.name+".png"] = png.Bytes()
	m.files[c.name+".svg"] = svg.Bytes()
	c.fig.Files = []link{{"PNG", c.name + ".png"}, {"SVG", c.name + ".svg"}}
	return empty, nil
}

// pngSize reads a PNG's dimensions from its header.
func pngSize(b []byte) (w, h int, ok bool) {
	if len(b) < 24 || !bytes.HasPrefix(b, pngMagic) {
		return 0, 0, false
	}
	be := func(p []byte) int { return int(p[0])<<24 | int(p[1])<<16 | int(p[2])<<8 | int(p[3]) }
	return be(b[16:20]), be(b[20:24]), true
}

// chart adds a chart to the page and returns the block that shows it.
func (m *morning) chart(name, title, caption, empty string, draw func(w io.Writer, format string) error) block {
	f := &figure{Name: name, Alt: title, Caption: caption}
	m.charts = append(m.charts, &chartJob{name: name, title: title, draw: draw, fig: f, empty: empty})
	return block{Figure: f}
}

// page builds the page's sections and queues its charts.
func (m *morning) page() (page, error) {
	n := m.n
	r := n.Run
	night := cmp.Or(r.Night, n.Meta.Night, filepath.Base(n.Dir))
	p := page{Title: "fingerflow morning report: night " + night}
	p.Lead = fmt.Sprintf("Flows from %s to %s UTC; model %s; catalog %s; fingerflow %s.",
		r.First.UTC().Format("2006-01-02 15:04:05"), r.Last.UTC().Format("2006-01-02 15:04:05"),
		cmp.Or(r.Model, "?"), cmp.Or(r.Catalog, "?"), cmp.Or(r.Version, "?"))
	p.Facts = []fact{
		{"flows", countText(int(r.Flows))},
		{"files read", fmt.Sprintf("%s (%d skipped)", countText(r.Files-r.FilesSkipped), r.FilesSkipped)},
		{"hosts", countText(r.Hosts)},
		{"hosts with an OS", countText(r.HostsWithOS)},
		{"downloads", countText(r.Downloads)},
		{"named", countText(r.Named)},
		{"unknown", countText(r.Unknown)},
		{"updates fetched", countText(r.Updates)},
		{"host clusters", countText(r.Clusters)},
		{"run time", fmt.Sprintf("%.1f s", r.Seconds)},
	}
	builders := []func() (section, error){
		m.trafficSection, m.talkersSection, m.clustersSection, m.downloadsSection,
		m.inventorySection, m.tablesSection, m.evaluationSection,
	}
	for _, b := range builders {
		s, err := b()
		if err != nil {
			return page{}, err
		}
		if s.Title != "" {
			p.Sections = append(p.Sections, s)
		}
	}
	extra, err := m.extraSections()
	if err != nil {
		return page{}, err
	}
	p.Sections = append(p.Sections, extra...)
	p.Sections = append(p.Sections, m.filesSection())
	for _, s := range p.Sections {
		p.Nav = append(p.Nav, link{s.Title, "#" + s.ID})
	}
	return p, nil
}

// missingText says that a file the part needs is not in the directory.
func missingText(file string) string {
	return fmt.Sprintf("%s is not in this directory: nothing to draw.", file)
}

func (m *morning) trafficSection() (section, error) {
	n := m.n
	s := section{ID: "traffic", Title: "Traffic over time"}
	empty := "The run wrote no traffic series (traffic.parquet, traffic_minutes.parquet)."
	if len(n.Seconds) == 0 && len(n.Minutes) == 0 && n.Present[nightdir.TrafficFile] {
		empty = "The night's span was too long for a dense series: the run kept none."
	}
	s.Blocks = append(s.Blocks, m.chart("traffic", "Site traffic over time",
		"The site's KB/s and packets/s at 1 s and 1 min resolution; triangles mark the busiest hosts' peak minutes (numbered as in the legend).",
		empty, func(w io.Writer, format string) error {
			return TrafficChart(w, format, n.Seconds, n.Minutes, n.Busiest)
		}))
	return s, nil
}

// talkers are the hosts with the most bytes, busiest first.
func (m *morning) talkers() []Talker {
	n := m.n
	var ts []Talker
	for i, h := range n.Hosts {
		if i >= len(n.Features.Found) || !n.Features.Found[i] {
			continue
		}
		in := n.Features.BytesIn[i]
		total := n.Features.Bytes[i]
		label := h.Addr.String()
		if os := h.Verdict.OS; os != "" && os != inventory.Unknown {
			label += " (" + os + ")"
		}
		t := Talker{Host: label, In: in, Out: total - in, Share: n.Features.Share[i]}
		if math.IsNaN(t.Share) {
			t.Share = 0
		}
		ts = append(ts, t)
	}
	slices.SortStableFunc(ts, func(a, b Talker) int { return cmp.Compare(b.In+b.Out, a.In+a.Out) })
	return ts[:min(len(ts), maxTalkers)]
}

func (m *morning) talkersSection() (section, error) {
	n := m.n
	s := section{ID: "talkers", Title: "Top talkers"}
	ts := m.talkers()
	s.Blocks = append(s.Blocks,
		m.chart("talkers", "Top talkers", "Bytes each of the busiest hosts received and sent, and its share of the site's bytes (traffic between two of the site's hosts counts for both).",
			"The run wrote no host table (hosts.parquet): no bytes per host to draw.",
			func(w io.Writer, format string) error { return TalkersChart(w, format, ts) }),
		m.chart("talkers-share", "Each top host's share of the site over time",
			"Each of the busiest hosts' share of the site's bytes per minute (traffic_minutes.parquet holds the ten busiest).",
			"The run wrote no per-minute host series (traffic_minutes.parquet).",
			func(w io.Writer, format string) error { return ShareChart(w, format, n.Minutes, n.Busiest) }),
	)
	return s, nil
}

// projection projects the hosts found in the host table on their first
// two principal components; labels are their clusters.
func (m *morning) projection() (*clusters.Projection, []int, error) {
	n := m.n
	var rows [][]float64
	var labels []int
	for i, h := range n.Hosts {
		if i >= len(n.Features.Found) || !n.Features.Found[i] {
			continue
		}
		row := slices.Clone(n.Features.Rows[i])
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				row[j] = 0
			}
		}
		rows = append(rows, row)
		labels = append(labels, h.Cluster)
	}
	if len(rows) < 2 {
		return nil, nil, nil
	}
	x, err := clusters.Matrix(rows)
	if err != nil {
		return nil, nil, err
	}
	p, err := clusters.Project2D(x, clusters.HostFeatureColumns())
	if err != nil {
		return nil, nil, err
	}
	return p, labels, nil
}

func (m *morning) clustersSection() (section, error) {
	n := m.n
	s := section{ID: "clusters", Title: "Host clusters"}
	proj, labels, err := m.projection()
	if err != nil {
		return s, fmt.Errorf("morning report: host projection: %w", err)
	}
	s.Blocks = append(s.Blocks, m.chart("clusters", "Host clusters",
		"Every host on the first two principal components of its traffic features (prepared as for clustering: log of counts, standardised), coloured by its k-means cluster.",
		"Fewer than two hosts in the host table (hosts.parquet): nothing to project.",
		func(w io.Writer, format string) error { return ClusterChart(w, format, proj, labels, n.Clusters) }))
	t := &table{Class: "clusters", Columns: []column{{Name: "cluster", Num: true}, {Name: "hosts", Num: true}, {Name: "description"}},
		Empty: "No clusters: the night had too few hosts to cluster."}
	if !n.Present[nightdir.ClustersFile] {
		t.Empty = missingText(nightdir.ClustersFile)
	}
	for _, c := range n.Clusters {
		t.Rows = append(t.Rows, []string{strconv.Itoa(c.Cluster), countText(c.Size), c.Description})
	}
	s.Blocks = append(s.Blocks, block{Table: t})
	return s, nil
}

func (m *morning) downloadsSection() (section, error) {
	n := m.n
	s := section{ID: "downloads", Title: "Downloads"}
	d := n.Downloads
	if d != nil {
		how := fmt.Sprintf("the median of the named downloads' flow bytes per file byte (%.4f)", d.Ratio)
		if d.RatioAssumed {
			how = fmt.Sprintf("%.4f, a full segment's headers, as no download was named", d.Ratio)
		}
		s.Blocks = append(s.Blocks, textBlock(fmt.Sprintf(
			"%s downloads: %s named as catalog files, %s fit a catalog file no better than files outside the catalog would by chance (not counted as fetched), %s unknown. A download's estimated file size is its flow bytes divided by %s.",
			countText(d.Total), countText(d.Named), countText(d.ChanceLevel), countText(d.Unknown), how)))
	}
	empty := missingText("downloads.parquet")
	if d != nil {
		empty = "The night had no downloads."
	}
	s.Blocks = append(s.Blocks,
		m.chart("downloads-sizes", "Downloads against the catalog",
			"Left, where downloads sit: downloads by estimated file size, named and unknown side by side, the catalog's file sizes marked along the top. Right, how close they come: how far each download's estimated size lies from its named file, or from the nearest catalog file for unknown ones, as a share of that file's size.",
			empty, func(w io.Writer, format string) error { return DownloadSizesChart(w, format, d) }),
		m.chart("downloads-hourly", "Named and unknown downloads per hour", "Downloads by the hour they started in (UTC).",
			empty, func(w io.Writer, format string) error {
				if d == nil {
					return ErrNoData
				}
				return DownloadsHourlyChart(w, format, d.Hours)
			}),
	)
	return s, nil
}

// coverage is, for every catalog entry with an OS, how the hosts of that
// OS fetched it: entries of the OS with the most hosts first, then by the
// share that fetched it.
func (m *morning) coverage() []Coverage {
	n := m.n
	byOS := map[string][]netip.Addr{}
	fetched := map[string]map[netip.Addr]bool{}
	osOf := map[netip.Addr]string{}
	for _, h := range n.Hosts {
		os := strings.ToLower(h.Verdict.OS)
		if os != "" && os != inventory.Unknown {
			byOS[os] = append(byOS[os], h.Addr)
			osOf[h.Addr] = os
		}
		for _, u := range h.Verdict.Updates {
			if fetched[u.Entry] == nil {
				fetched[u.Entry] = map[netip.Addr]bool{}
			}
			fetched[u.Entry][h.Addr] = true
		}
	}
	var rows []Coverage
	for _, e := range n.Catalog {
		os := strings.ToLower(e.OS)
		if os == "" || e.Kind == catalog.KindIndex {
			continue
		}
		c := Coverage{Entry: e.Name, OS: os, Product: e.Product, Version: e.Version, Hosts: len(byOS[os])}
		for _, a := range byOS[os] {
			if fetched[e.Name][a] {
				c.Fetched = append(c.Fetched, a)
			} else {
				c.Missing = append(c.Missing, a)
			}
		}
		for a := range fetched[e.Name] {
			if osOf[a] != os {
				c.Others++
			}
		}
		rows = append(rows, c)
	}
	slices.SortStableFunc(rows, func(a, b Coverage) int {
		return cmp.Or(cmp.Compare(b.Hosts, a.Hosts), cmp.Compare(a.OS, b.OS),
			cmp.Compare(len(b.Fetched), len(a.Fetched)), cmp.Compare(a.Entry, b.Entry))
	})
	return rows
}

func (m *morning) inventorySection() (section, error) {
	n := m.n
	s := section{ID: "inventory", Title: "Inventory"}
	fams := Families(n.Hosts)
	famEmpty := "The night had no internal host."
	if !n.Present[nightdir.InventoryFile] {
		famEmpty = missingText(nightdir.InventoryFile)
	}
	s.Blocks = append(s.Blocks, m.chart("os-families", "Hosts per OS family",
		"Hosts per likely OS family; the darker part had a confidence of at least 90%.",
		famEmpty,
		func(w io.Writer, format string) error { return OSFamiliesChart(w, format, fams) }))

	cov := m.coverage()
	covEmpty := "No host was given the OS of a catalog entry: no coverage to show."
	if !n.Present[nightdir.CatalogFile] {
		covEmpty = "catalog.csv is not in this directory (runs write it since the morning report): the catalog's entries are unknown."
	}
	s.Blocks = append(s.Blocks, m.chart("coverage", "Update coverage",
		"For each catalog entry, the hosts of its OS that fetched it and those that did not (the full list is in the coverage table and coverage.csv).",
		covEmpty, func(w io.Writer, format string) error { return CoverageChart(w, format, cov, maxCoverageChart) }))
	if err := m.coverageCSV(cov); err != nil {
		return s, err
	}

	ch := ChangesOf(n.Hosts)
	chEmpty := "The run kept no history (--no-history): nothing to compare with."
	if n.HasHistory() {
		chEmpty = "Nothing is new since the previous night."
		if firstNight(n.Hosts) {
			chEmpty = "This is the first night in the history: nothing to compare with."
		}
	}
	s.Blocks = append(s.Blocks, m.chart("changes", "New since the previous night",
		"Hosts new since the previous night in the history, hosts whose OS changed and hosts that fetched updates for the first time; right, the updates most hosts fetched for the first time.",
		chEmpty, func(w io.Writer, format string) error {
			if !n.HasHistory() || (ch.NewHosts+ch.OSChanged+ch.WithNewUpdates) == 0 {
				return ErrNoData
			}
			return ChangesChart(w, format, ch)
		}))
	return s, nil
}

// firstNight reports whether the inventory says every host is on its
// first night in the history.
func firstNight(hosts []nightdir.Host) bool {
	for _, h := range hosts {
		if h.Changed != "first night in the history" {
			return false
		}
	}
	return len(hosts) > 0
}

func (m *morning) coverageCSV(rows []Coverage) error {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.Write([]string{"entry", "os", "product", "version", "hosts_of_os", "fetched", "share", "fetched_by_other_hosts", "fetched_by", "not_fetched_by"})
	for _, r := range rows {
		cw.Write([]string{r.Entry, r.OS, r.Product, r.Version, strconv.Itoa(r.Hosts), strconv.Itoa(len(r.Fetched)),
			strconv.FormatFloat(r.Share(), 'f', 4, 64), strconv.Itoa(r.Others), addrList(r.Fetched, 0), addrList(r.Missing, 0)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	m.files[CoverageFile] = b.Bytes()
	return nil
}

// addrList joins addresses with spaces; with max > 0, at most max of
// them and "(N more)".
func addrList(as []netip.Addr, max int) string {
	var parts []string
	for i, a := range as {
		if max > 0 && i == max {
			parts = append(parts, fmt.Sprintf("(%d more)", len(as)-max))
			break
		}
		parts = append(parts, a.String())
	}
	return strings.Join(parts, " ")
}

func timeCell(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// round4 keeps four significant digits, so the page's numbers stay short.
func round4(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 4, 64), 64)
	return f
}

func (m *morning) tablesSection() (section, error) {
	n := m.n
	s := section{ID: "tables", Title: "Tables"}

	// The inventory, every host.
	invCols := []column{{Name: "host"}, {Name: "OS"}, {Name: "version"}, {Name: "confidence", Num: true}, {Name: "updates", Num: true},
		{Name: "updates fetched"}, {Name: "cluster", Num: true}, {Name: "changed"}, {Name: "strongest evidence"}, {Name: "first seen"}, {Name: "last seen"}}
	var rows [][]any
	for _, h := range n.Hosts {
		v := h.Verdict
		var ups []string
		for i, u := range v.Updates {
			if i == maxUpdatesListed {
				ups = append(ups, fmt.Sprintf("(%d more)", len(v.Updates)-i))
				break
			}
			ups = append(ups, u.Entry)
		}
		ev := ""
		if len(v.Evidence) > 0 {
			ev = v.Evidence[0].Text
			if len(v.Evidence) > 1 {
				ev += fmt.Sprintf(" (and %d more)", len(v.Evidence)-1)
			}
		}
		rows = append(rows, []any{h.Addr.String(), v.OS, v.OSVersion, round4(v.Confidence), len(v.Updates), strings.Join(ups, " "),
			h.Cluster, h.Changed, ev, timeCell(h.FirstSeen), timeCell(h.LastSeen)})
	}
	inv, err := newDataTable("inventory-table", "inventory", invCols, rows, pageRows, missingText(nightdir.InventoryFile))
	if err != nil {
		return s, err
	}
	s.Blocks = append(s.Blocks, block{Text: "The inventory: every host, its likely OS and the updates it fetched. Type in the filter to keep the rows holding every word typed; click a column's header to sort."},
		block{Table: inv})
	var invLinks []link
	if n.Present[nightdir.InventoryCSVFile] {
		invLinks = append(invLinks, link{"inventory.csv (every column, all evidence)", nightdir.InventoryCSVFile})
	}
	if n.Present[nightdir.InventoryFile] {
		invLinks = append(invLinks, link{"inventory.json", nightdir.InventoryFile})
	}
	if len(invLinks) > 0 {
		s.Blocks = append(s.Blocks, block{Links: invLinks})
	}

	// Coverage per catalog entry.
	cov := m.coverage()
	rows = nil
	for _, r := range cov {
		rows = append(rows, []any{r.Entry, r.OS, strings.TrimSpace(r.Product + " " + r.Version), r.Hosts, len(r.Fetched), round4(100 * r.Share()), r.Others, addrList(r.Missing, maxListedHosts)})
	}
	ct, err := newDataTable("coverage-table", "coverage", []column{{Name: "entry"}, {Name: "OS"}, {Name: "product"}, {Name: "hosts of the OS", Num: true},
		{Name: "fetched", Num: true}, {Name: "% fetched", Num: true}, {Name: "other hosts", Num: true}, {Name: "hosts of the OS that did not"}},
		rows, pageRows, "No catalog entry names an OS (or catalog.csv is missing).")
	if err != nil {
		return s, err
	}
	s.Blocks = append(s.Blocks, block{Details: &details{Summary: fmt.Sprintf("Update coverage per catalog entry (%d entries)", len(cov)),
		Blocks: []block{{Table: ct}, {Links: []link{{"coverage.csv (every host that did and did not fetch each entry)", CoverageFile}}}}}})

	// What changed.
	rows = nil
	for _, h := range n.Hosts {
		if h.Changed != "" && h.Changed != "first night in the history" {
			rows = append(rows, []any{h.Addr.String(), h.Verdict.OS, h.Changed, strings.Join(h.NewUpdates, " ")})
		}
	}
	chEmpty := "Nothing changed since the previous night."
	if !n.HasHistory() {
		chEmpty = "The run kept no history: nothing to compare with."
	} else if firstNight(n.Hosts) {
		chEmpty = "This is the first night in the history."
	}
	cht, err := newDataTable("changes-table", "changes", []column{{Name: "host"}, {Name: "OS"}, {Name: "changed"}, {Name: "new updates"}}, rows, pageRows, chEmpty)
	if err != nil {
		return s, err
	}
	s.Blocks = append(s.Blocks, block{Details: &details{Summary: fmt.Sprintf("New since the previous night (%d hosts)", len(rows)), Blocks: []block{{Table: cht}}}})

	// Downloads.
	if err := m.downloadTables(&s); err != nil {
		return s, err
	}

	// Skipped input files.
	sk := &table{Class: "skipped", Columns: []column{{Name: "file"}, {Name: "reason"}}, Empty: "No input file was skipped."}
	for _, f := range n.Run.Skipped {
		sk.Rows = append(sk.Rows, []string{f.Path, f.Reason})
	}
	s.Blocks = append(s.Blocks, block{Details: &details{Summary: fmt.Sprintf("Skipped input files (%d)", len(n.Run.Skipped)), Blocks: []block{{Table: sk}}}})
	return s, nil
}

func (m *morning) downloadTables(s *section) error {
	n := m.n
	d := n.Downloads
	dlFile := "downloads.parquet"
	if n.Present["downloads.csv"] {
		dlFile = "downloads.csv"
	}
	if d == nil {
		s.Blocks = append(s.Blocks, textBlock(missingText(dlFile)))
		return nil
	}
	osOf := map[string]string{}
	for _, e := range n.Catalog {
		osOf[e.Name] = e.OS
	}
	type perFile struct {
		n      int
		hosts  map[string]bool
		extras []int64
	}
	files := map[string]*perFile{}
	for _, r := range d.NamedRows {
		f := files[r.Row.Files]
		if f == nil {
			f = &perFile{hosts: map[string]bool{}}
			files[r.Row.Files] = f
		}
		f.n++
		f.hosts[r.Row.Client] = true
		f.extras = append(f.extras, r.Row.Extra)
	}
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	sort.Strings(names)
	var rows [][]any
	for _, k := range names {
		f := files[k]
		slices.Sort(f.extras)
		rows = append(rows, []any{k, osOf[k], f.n, len(f.hosts), f.extras[len(f.extras)/2]})
	}
	pf, err := newDataTable("downloads-files", "downloads", []column{{Name: "files"}, {Name: "OS"}, {Name: "downloads", Num: true},
		{Name: "hosts", Num: true}, {Name: "median extra bytes", Num: true}}, rows, pageRows, "No download was named.")
	if err != nil {
		return err
	}
	rows = nil
	for _, r := range d.NamedRows[:min(len(d.NamedRows), maxDownloadRows)] {
		rows = append(rows, []any{timeCell(r.Row.Start), r.Row.Client, r.Row.Server + ":" + strconv.Itoa(int(r.Row.ServerPort)), r.Row.Files,
			r.Row.Bytes, round4(r.Est), round4(100 * r.Dist), round4(r.Row.Confidence), r.Row.Profile, r.Row.Extra})
	}
	named, err := newDataTable("downloads-named", "downloads", []column{{Name: "start (UTC)"}, {Name: "client"}, {Name: "server"}, {Name: "files"},
		{Name: "flow bytes", Num: true}, {Name: "estimated size", Num: true}, {Name: "% off the file", Num: true}, {Name: "confidence", Num: true},
		{Name: "profile"}, {Name: "extra bytes", Num: true}}, rows, pageRows, "No download was named.")
	if err != nil {
		return err
	}
	rows = nil
	for _, u := range d.Closest {
		rows = append(rows, []any{timeCell(u.Row.Start), u.Row.Client, u.Row.Server + ":" + strconv.Itoa(int(u.Row.ServerPort)),
			u.Row.Bytes, round4(u.Est), u.Nearest, round4(100 * u.Dist)})
	}
	closest, err := newDataTable("downloads-closest", "downloads", []column{{Name: "start (UTC)"}, {Name: "client"}, {Name: "server"},
		{Name: "flow bytes", Num: true}, {Name: "estimated size", Num: true}, {Name: "nearest catalog file"}, {Name: "% off it", Num: true}},
		rows, pageRows, "No unknown download, or no catalog sizes to compare with.")
	if err != nil {
		return err
	}
	namedSummary := fmt.Sprintf("Named downloads (%s)", countText(len(d.NamedRows)))
	if len(d.NamedRows) > maxDownloadRows {
		namedSummary = fmt.Sprintf("Named downloads (the first %s of %s)", countText(maxDownloadRows), countText(len(d.NamedRows)))
	}
	s.Blocks = append(s.Blocks,
		block{Details: &details{Summary: fmt.Sprintf("Downloads per named file (%d files)", len(names)), Blocks: []block{{Table: pf}}}},
		block{Details: &details{Summary: namedSummary, Blocks: []block{{Table: named}}}},
		block{Details: &details{Summary: fmt.Sprintf("The %d unknown downloads closest to a catalog file", len(d.Closest)), Blocks: []block{{Table: closest}}}},
		block{Links: []link{{dlFile + " (every download with its answer)", dlFile}}},
	)
	return nil
}

func (m *morning) evaluationSection() (section, error) {
	n := m.n
	if n.Evaluation == nil && n.Score == nil {
		return section{}, nil
	}
	s := section{ID: "evaluation", Title: "Labelled evaluation"}
	if ev := n.Evaluation; ev != nil && len(ev.Runs) > 0 {
		runs := ev.Runs
		s.Blocks = append(s.Blocks,
			m.chart("evaluation-accuracy", "Downloads recognised per run", "From evaluation.json (fingerflow evaluate --report): fingerflow beside the bytes-only method.",
				"The evaluation has no labelled downloads.", func(w io.Writer, format string) error { return AccuracyChart(w, format, runs) }))
		last := runs[len(runs)-1]
		if len(last.Reports) > 0 {
			s.Blocks = append(s.Blocks, m.chart("evaluation-confusion", "Confusions", "Confusions of "+last.Name+": rows are the truth, columns the answer.",
				"No single-file download in the evaluation.", func(w io.Writer, format string) error {
					return ConfusionHeatmap(w, format, last.Reports[0], 25)
				}))
		}
		pts := ev.Points
		s.Blocks = append(s.Blocks, m.chart("evaluation-overhead", "Retransmitted bytes per recognised download",
			"Payload beyond each answered download's expected payload: right and wrong answers.",
			"The evaluation kept no per-download overhead.", func(w io.Writer, format string) error { return RetransmissionChart(w, format, pts) }))
	}
	if n.Score != nil {
		keys := make([]string, 0, len(n.Score))
		for k := range n.Score {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		t := &table{Class: "score", Columns: []column{{Name: "inventory against the labelled population (score.json)"}, {Name: "value", Num: true}}}
		for _, k := range keys {
			t.Rows = append(t.Rows, []string{k, fmt.Sprint(n.Score[k])})
		}
		s.Blocks = append(s.Blocks, block{Table: t})
	}
	return s, nil
}

func (m *morning) filesSection() section {
	n := m.n
	s := section{ID: "files", Title: "Files"}
	var ls []link
	present := make([]string, 0, len(n.Present))
	for name := range n.Present {
		present = append(present, name)
	}
	slices.Sort(present)
	for _, name := range present {
		ls = append(ls, link{name, filepath.ToSlash(name)})
	}
	ls = append(ls, link{CoverageFile, CoverageFile})
	s.Blocks = append(s.Blocks, textBlock("The files of the run this page was made from, and the report's own (every chart is beside the page as PNG and SVG):"), block{Links: ls})
	if len(n.Missing) > 0 {
		s.Blocks = append(s.Blocks, textBlock("Not in this directory: "+strings.Join(n.Missing, ", ")+"."))
	}
	return s
}
