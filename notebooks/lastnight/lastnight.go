// Package lastnight is the computation behind the notebook night.ipynb:
// last night on the shipped sample population, read back from the run
// directory (models/nightly/nightdir) and the history database
// (datasets/history) a nightly run writes: the inventory, the host table
// and clusters, and the evidence behind one host's verdict.
//
// Make runs the night as the README's quick start does, with the
// population's truth so that the run scores itself; the tables are read
// from whatever run directory they are given. Analyse makes the night and
// reads it back; Result.Figures are the numbers notebooks/README.md
// quotes.
package lastnight

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-gota/gota/dataframe"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/history"
	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/models/clusters"
	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
	"github.com/fingerflow/fingerflow/notebooks/internal/labrun"
	"github.com/fingerflow/fingerflow/notebooks/nbview"
)

// The shipped night, relative to the datasets directory: the README's
// quick start (fingerflow run --model lab-dev/lab.ffm --catalog ... FLOWS)
// with the population's truth.
const (
	Model   = "lab-dev/lab.ffm"
	Catalog = "population/pop-near-24h-s1007.catalog.csv"
	Flows   = "population/pop-near-24h-s1007.v9"
	Truth   = "population/pop-near-24h-s1007.hosts.csv"
)

// Make runs the shipped night under dataDir into the run directory dir
// and the history database db, as `fingerflow run --model MODEL --catalog
// CATALOG --truth TRUTH --out DIR --db DB FLOWS` does (without the morning
// report). A night written before into db is replaced.
func Make(ctx context.Context, dataDir, dir, db string) error {
	path := func(p string) string { return filepath.Join(dataDir, p) }
	cfg := nightly.Config{ModelPath: path(Model), CatalogPaths: []string{path(Catalog)}, Inventory: inventory.DefaultConfig(), Version: "notebook"}
	var err error
	if cfg.Rules, err = inventory.LoadRules(""); err != nil {
		return err
	}
	if cfg.Model, err = downloads.Load(ctx, cfg.ModelPath); err != nil {
		return err
	}
	if cfg.Catalog, err = catalog.Load(ctx, path(Catalog)); err != nil {
		return err
	}
	if cfg.Truth, err = labels.LoadHosts(ctx, path(Truth)); err != nil {
		return err
	}
	in, err := datasets.ExpandInputs(ctx, []string{path(Flows)})
	if err != nil {
		return err
	}
	if len(in.Bad) > 0 {
		return errors.Join(in.Bad...)
	}
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		return err
	}
	if cfg.History, err = history.Open(ctx, db); err != nil {
		return err
	}
	defer cfg.History.Close()
	out, err := nightdir.Create(dir)
	if err != nil {
		return err
	}
	defer out.Abort()
	f, err := out.Create(nightdir.DownloadsFile)
	if err != nil {
		return err
	}
	dw, err := nightdir.NewDownloadWriter(f, nightdir.FormatParquet)
	if err != nil {
		return err
	}
	var skipped []error
	src := &datasets.FileSource{Registry: labrun.NewRegistry(), Inputs: in,
		Skipped: func(p string, err error) { skipped = append(skipped, fmt.Errorf("%s: %w", p, err)) }}
	night, err := nightly.Run(ctx, cfg, src, dw)
	if err != nil {
		return err
	}
	if len(skipped) > 0 {
		return errors.Join(skipped...)
	}
	if err := dw.Close(); err != nil {
		return err
	}
	if err := night.Write(out, false); err != nil {
		return err
	}
	return out.Commit()
}

// InventoryFrame is the inventory, a row per host: its OS family and
// confidence, how many updates it fetched, its cluster and what changed
// since the previous night.
func InventoryFrame(hosts []nightdir.Host) dataframe.DataFrame {
	type row struct {
		Host, OS   string
		Confidence float64
		Updates    int
		Evidence   int // items of evidence
		Cluster    int
		TTL        string
		Changed    string
	}
	rows := make([]row, len(hosts))
	for i, h := range hosts {
		v := h.Verdict
		rows[i] = row{h.Addr.String(), v.OS, v.Confidence, len(v.Updates), len(v.Evidence), h.Cluster, h.TTL, h.Changed}
	}
	return dataframe.LoadStructs(rows)
}

// Host returns the inventory's host addr, and false when the night has
// none.
func Host(hosts []nightdir.Host, addr string) (nightdir.Host, bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return nightdir.Host{}, false
	}
	for _, h := range hosts {
		if h.Addr == a {
			return h, true
		}
	}
	return nightdir.Host{}, false
}

// EvidenceFrame is a verdict's evidence in the order the inventory
// weighed it: its kind, the family it points to, the files behind it,
// its weight (log10 odds) and the chance of a fit by coincidence.
func EvidenceFrame(v inventory.Verdict) dataframe.DataFrame {
	type row struct {
		Kind, OS, Files string
		Weight, Chance  float64
		Text            string
	}
	rows := make([]row, len(v.Evidence))
	for i, e := range v.Evidence {
		rows[i] = row{string(e.Kind), e.OS, strings.Join(e.Files, " "), e.Weight, e.Chance, e.Text}
	}
	return dataframe.LoadStructs(rows)
}

// UpdatesFrame is the updates a verdict lists, in the order fetched.
func UpdatesFrame(v inventory.Verdict) dataframe.DataFrame {
	type row struct {
		Entry, Product, Version, OS string
		When                        string
		Via                         string
		Chance, Weight              float64
	}
	rows := make([]row, len(v.Updates))
	for i, u := range v.Updates {
		rows[i] = row{u.Entry, u.Product, u.Version, u.OS, u.When.UTC().Format(time.TimeOnly), string(u.Kind), u.Chance, u.Weight}
	}
	return dataframe.LoadStructs(rows)
}

// DownloadsFrame is the night's downloads to host (all of them when host
// is ""), in the order found: when, the server, the bytes, the files the
// classifier named ("unknown" when none) with its confidence, and the
// bytes beyond the files' expected payload.
func DownloadsFrame(ctx context.Context, n *nightdir.Night, host string) (dataframe.DataFrame, error) {
	type row struct {
		Start, Server  string
		Packets, Bytes int
		RevBytes       int
		Files          string
		NumFiles       int
		Confidence     float64
		Profile        string
		Extra          int
	}
	var rows []row
	err := n.EachDownload(ctx, func(r *nightdir.DownloadRow) {
		if host != "" && r.Client != host {
			return
		}
		rows = append(rows, row{r.Start.UTC().Format("15:04:05.000"), fmt.Sprintf("%s:%d", r.Server, r.ServerPort),
			int(r.Packets), int(r.Bytes), int(r.RevBytes), r.Files, int(r.NumFiles), r.Confidence, r.Profile, int(r.Extra)})
	})
	if err != nil {
		return dataframe.DataFrame{}, err
	}
	return dataframe.LoadStructs(rows), nil
}

// ClustersFrame is the night's clusters with their sizes and
// descriptions.
func ClustersFrame(n *nightdir.Night) dataframe.DataFrame {
	return dataframe.LoadStructs(n.Clusters)
}

// HostTableFrame is the host feature table's columns cols for every host
// the table holds (the address first).
func HostTableFrame(n *nightdir.Night, cols []string) (dataframe.DataFrame, error) {
	t, err := n.HostTable(cols)
	if err != nil {
		return dataframe.DataFrame{}, err
	}
	if t == nil {
		return dataframe.DataFrame{}, fmt.Errorf("%s: no host table", n.Dir)
	}
	recs := [][]string{append([]string{"host"}, cols...)}
	for i, a := range t.Addr {
		r := []string{a}
		for _, c := range cols {
			r = append(r, nbview.Number(t.Num[c][i]))
		}
		recs = append(recs, r)
	}
	return dataframe.LoadRecords(recs), nil
}

// Projection projects the hosts of the host table on the first two
// principal components of the features the clustering uses, prepared as
// it prepares them; labels are the hosts' clusters. It is what the
// morning report's cluster chart shows (reports.ClusterChart).
func Projection(n *nightdir.Night) (*clusters.Projection, []int, error) {
	cols := clusters.HostColumnNames()
	t, err := n.HostTable(cols)
	if err != nil {
		return nil, nil, err
	}
	if t == nil {
		return nil, nil, fmt.Errorf("%s: no host table", n.Dir)
	}
	cluster := map[string]int{}
	for _, h := range n.Hosts {
		cluster[h.Addr.String()] = h.Cluster
	}
	rows := make([][]float64, len(t.Addr))
	labels := make([]int, len(t.Addr))
	for i, a := range t.Addr {
		rows[i] = make([]float64, len(cols))
		for j, c := range cols {
			if v := t.Num[c][i]; !math.IsNaN(v) && !math.IsInf(v, 0) {
				rows[i][j] = v
			}
		}
		c, ok := cluster[a]
		if !ok {
			c = -1
		}
		labels[i] = c
	}
	x, err := clusters.Matrix(rows)
	if err != nil {
		return nil, nil, err
	}
	p, err := clusters.Project2D(x, clusters.HostFeatureColumns())
	return p, labels, err
}

// HistoryFrame is what the history database says of a host, night by
// night: its verdict, its cluster, its traffic and the catalog files it
// fetched.
func HistoryFrame(nights []history.HostNight) dataframe.DataFrame {
	type row struct {
		Night, OS         string
		Confidence        float64
		Cluster           int
		BytesIn, BytesOut float64
		Flows             int
		Fetched           string
	}
	rows := make([]row, len(nights))
	for i, n := range nights {
		files := make([]string, len(n.Fetches))
		for j, f := range n.Fetches {
			files[j] = f.Entry
		}
		h := n.Host
		rows[i] = row{n.Night, h.OS, h.Confidence, h.Cluster, float64(h.BytesIn), float64(h.BytesOut), int(h.Flows), strings.Join(files, " ")}
	}
	return dataframe.LoadStructs(rows)
}

// Result is a night made by Analyse and read back.
type Result struct {
	Night *nightdir.Night
	// Host is the host whose evidence the notebook shows, and History
	// what the database says of it.
	Host    nightdir.Host
	History []history.HostNight
	Runs    []history.RunInfo
}

// ShownHost is the host whose verdict the notebook explains: a windows
// host named by one keep-alive connection that lost nothing.
const ShownHost = "10.77.1.30"

// Analyse makes the shipped night in dir (the run directory dir/night,
// the history dir/fingerflow.db) and reads it back.
func Analyse(ctx context.Context, dataDir, dir string) (*Result, error) {
	night, db := filepath.Join(dir, "night"), filepath.Join(dir, "fingerflow.db")
	if err := Make(ctx, dataDir, night, db); err != nil {
		return nil, err
	}
	return Read(ctx, night, db, ShownHost)
}

// Read reads the run directory dir and what the history database db says
// of host.
func Read(ctx context.Context, dir, db, host string) (*Result, error) {
	n, err := nightdir.Load(ctx, dir)
	if err != nil {
		return nil, err
	}
	res := &Result{Night: n}
	h, ok := Host(n.Hosts, host)
	if !ok {
		return nil, fmt.Errorf("%s: no host %s in the inventory", dir, host)
	}
	res.Host = h
	d, err := history.OpenExisting(ctx, db)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if res.History, err = d.HostHistory(ctx, h.Addr); err != nil {
		return nil, err
	}
	if res.Runs, err = d.Runs(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

// Figures are the numbers notebooks/README.md quotes, measured again.
func (r *Result) Figures() []nbview.Figure {
	s := r.Night.Run
	figs := []nbview.Figure{
		nbview.Count("flows", 266, int(s.Flows)),
		nbview.Count("hosts", 25, s.Hosts),
		nbview.Count("hosts with an OS", 13, s.HostsWithOS),
		nbview.Count("downloads", 133, s.Downloads),
		nbview.Count("downloads named", 33, s.Named),
		nbview.Count("downloads named at a chance not negligible", 35, s.ChanceLevel),
		nbview.Count("updates", 66, s.Updates),
		nbview.Count("clusters", 2, s.Clusters),
	}
	if sc := r.Night.Score; sc != nil {
		num := func(k string) int {
			v, _ := sc[k].(float64)
			return int(v)
		}
		hosts, right := num("hosts"), num("os_correct")
		figs = append(figs,
			nbview.Text("OS right against the truth", "19 of 24", fmt.Sprintf("%d of %d", right, hosts)),
			nbview.Count("updates listed wrongly", 0, num("updates_wrong")),
			nbview.Text("updates found of those fetched", "66 of 90", fmt.Sprintf("%d of %d", num("updates_right"), num("updates_fetched"))))
	} else {
		figs = append(figs, nbview.Text("score against the truth", "present", "absent"))
	}
	v := r.Host.Verdict
	var files []string
	for _, u := range v.Updates {
		files = append(files, u.Entry)
	}
	slices.Sort(files)
	figs = append(figs,
		nbview.Text(ShownHost+": OS", "windows", v.OS),
		nbview.Text(ShownHost+": updates", "cat-021.bin cat-027.bin", strings.Join(files, " ")),
		nbview.Text(ShownHost+": first evidence", string(inventory.KindConnection), firstKind(v)),
		nbview.Count(ShownHost+": nights in the history", 1, len(r.History)))
	return figs
}

func firstKind(v inventory.Verdict) string {
	if len(v.Evidence) == 0 {
		return "none"
	}
	return string(v.Evidence[0].Kind)
}
