package reports

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/models/clusters"
)

// Files of a nightly run's output directory the morning report reads. Of
// the pairs, the first present is read.
const (
	RunFile            = "run.json"
	InventoryFile      = "inventory.json"
	InventoryCSVFile   = "inventory.csv"
	ClustersFile       = "clusters.csv"
	TrafficFile        = "traffic.parquet"
	TrafficMinutesFile = "traffic_minutes.parquet"
	CatalogFile        = "catalog.csv"
	ScoreFile          = "score.json"
	EvaluationFile     = "evaluation.json"
	// StatsFile and AlarmsFile are written by the nightly run's analytics
	// (top talkers and flow lifespans; floods and scans) when it has them;
	// the report shows whatever records they hold.
	StatsFile  = "stats.json"
	AlarmsFile = "alarms.json"
)

// Files of which a run writes one of two forms (--csv).
var (
	hostsFiles     = []string{"hosts.parquet", "hosts.csv"}
	downloadsFiles = []string{"downloads.parquet", "downloads.csv"}
)

// RunSummary is run.json: what a nightly run read, skipped and found, and
// how fast.
type RunSummary struct {
	Night        string          `json:"night"`
	First        time.Time       `json:"first_flow"`
	Last         time.Time       `json:"last_flow"`
	Files        int             `json:"files"`
	FilesSkipped int             `json:"files_skipped"`
	Skipped      []SkippedFile   `json:"skipped"`
	Flows        uint64          `json:"flows"`
	Duplicates   uint64          `json:"duplicate_records_dropped"`
	Hosts        int             `json:"hosts"`
	HostsWithOS  int             `json:"hosts_with_os"`
	Downloads    int             `json:"downloads"`
	Named        int             `json:"downloads_named"`
	Unknown      int             `json:"downloads_unknown"`
	Updates      int             `json:"updates"`
	Clusters     int             `json:"clusters"`
	Seconds      float64         `json:"seconds"`
	FlowsPerSec  float64         `json:"flows_per_second"`
	Context      json.RawMessage `json:"context"` // what host and site context added
	History      string          `json:"history,omitempty"`
	Model        string          `json:"model"`
	Catalog      string          `json:"catalog"`
	Version      string          `json:"fingerflow_version"`
}

// SkippedFile is an input a run skipped and why ("" Path: arguments that
// named nothing).
type SkippedFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Night is a nightly run's output directory, read for the morning report.
// A file that is absent leaves its part empty and is named in Missing; a
// file that is present but unreadable is an error.
type Night struct {
	Dir     string
	Run     RunSummary
	Meta    InventoryMeta
	Hosts   []InventoryHost
	Cluster []ClusterInfo
	// Features are the host feature table's columns the report draws,
	// one row per host in Hosts' order (NaN where the table lacks the host).
	Features  HostFeatures
	Seconds   []SecondRow
	Minutes   []MinuteRow // the site's
	Busiest   []HostSeries
	Catalog   []catalog.Entry
	Downloads *DownloadSummary
	// Score is score.json (the inventory scored against a labelled
	// population), Evaluation evaluation.json (a labelled download
	// evaluation), nil when absent.
	Score      map[string]any
	Evaluation *Evaluation
	// Records are stats.json and alarms.json as found, by file name.
	Records map[string]*RecordDoc
	// Present are the files read, by name; Missing the files looked for
	// and not found.
	Present map[string]bool
	Missing []string

	featureTable *featureTable // until joined with Hosts
}

// ClusterInfo is one row of clusters.csv without its centroid.
type ClusterInfo struct {
	Cluster     int
	Size        int
	Description string
}

// HostFeatures are the host table's columns for charts, row i for
// Night.Hosts[i].
type HostFeatures struct {
	Columns []string    // clusters.HostColumnNames
	Rows    [][]float64 // clustered features, Columns' order
	BytesIn []float64
	Bytes   []float64 // in + out
	Share   []float64 // of the site's bytes (site_share)
	Found   []bool    // the host is in the table
}

// HostSeries is one host's traffic per minute.
type HostSeries struct {
	Host    string
	Minutes []MinuteRow
}

// LoadNight reads the run output directory dir. Only run.json is
// required; every other file adds its part of the report when present.
func LoadNight(ctx context.Context, dir string) (*Night, error) {
	n := &Night{Dir: dir, Present: map[string]bool{}, Records: map[string]*RecordDoc{}}
	path := func(name string) string { return filepath.Join(dir, name) }
	if err := readJSONFile(path(RunFile), &n.Run); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no %s: not the output directory of fingerflow run: %w", dir, RunFile, err)
		}
		return nil, err
	}
	n.Present[RunFile] = true
	type part struct {
		names []string
		read  func(name string) error
	}
	parts := []part{
		{[]string{InventoryFile}, func(name string) error {
			f, err := os.Open(path(name))
			if err != nil {
				return err
			}
			defer f.Close()
			n.Meta, n.Hosts, err = ReadInventoryJSON(f)
			return err
		}},
		{[]string{InventoryCSVFile}, func(string) error { return nil }}, // linked, not read
		{[]string{ClustersFile}, func(name string) error { return n.readClusters(path(name)) }},
		{hostsFiles, func(name string) error { return n.readFeatures(path(name)) }},
		{[]string{TrafficFile}, func(name string) error {
			rows, err := readParquet[SecondRow](path(name))
			n.Seconds = rows
			return err
		}},
		{[]string{TrafficMinutesFile}, func(name string) error { return n.readMinutes(path(name)) }},
		{[]string{CatalogFile}, func(name string) error {
			c, err := catalog.Load(ctx, path(name))
			if err == nil {
				n.Catalog = c.Entries
			}
			return err
		}},
		{downloadsFiles, func(name string) error {
			d, err := summariseDownloads(ctx, path(name), n.Catalog)
			n.Downloads = d
			return err
		}},
		{[]string{ScoreFile}, func(name string) error { return readJSONFile(path(name), &n.Score) }},
		{[]string{EvaluationFile, filepath.Join("evaluation", EvaluationFile)}, func(name string) error {
			f, err := os.Open(path(name))
			if err != nil {
				return err
			}
			defer f.Close()
			n.Evaluation, err = ReadEvaluationJSON(f)
			return err
		}},
		{[]string{StatsFile}, func(name string) error { return n.readRecords(name) }},
		{[]string{AlarmsFile}, func(name string) error { return n.readRecords(name) }},
	}
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		found := false
		for _, name := range p.names {
			if _, err := os.Stat(path(name)); err != nil {
				continue
			}
			found = true
			if err := p.read(name); err != nil {
				return nil, fmt.Errorf("%s: %w", path(name), err)
			}
			n.Present[name] = true
			break
		}
		if !found {
			n.Missing = append(n.Missing, p.names[0])
		}
	}
	n.joinFeatures()
	return n, nil
}

// HasHistory reports whether the run compared its night with the history
// database.
func (n *Night) HasHistory() bool { return n.Run.History != "" }

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ReadInventoryJSON reads what WriteInventoryJSON wrote.
func ReadInventoryJSON(r io.Reader) (InventoryMeta, []InventoryHost, error) {
	var doc struct {
		InventoryMeta
		Hosts []jsonHost `json:"hosts"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return InventoryMeta{}, nil, fmt.Errorf("inventory: %w", err)
	}
	hosts := make([]InventoryHost, 0, len(doc.Hosts))
	for i, h := range doc.Hosts {
		a, err := netip.ParseAddr(h.Host)
		if err != nil {
			return InventoryMeta{}, nil, fmt.Errorf("inventory: host %d: %w", i, err)
		}
		hosts = append(hosts, InventoryHost{
			Addr: a, FirstSeen: h.FirstSeen, LastSeen: h.LastSeen, TTL: h.TTL,
			Cluster: h.Cluster, ClusterText: h.ClusterTxt, Changed: h.Changed, NewUpdates: h.NewUpdates,
		})
		v := &hosts[len(hosts)-1].Verdict
		v.OS, v.OSVersion, v.Confidence, v.Score, v.Updates, v.Evidence = h.OS, h.OSVersion, h.Confidence, h.Score, h.Updates, h.Evidence
	}
	return doc.InventoryMeta, hosts, nil
}

func (n *Night) readClusters(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return err
	}
	for i, r := range recs {
		if i == 0 {
			continue
		}
		if len(r) < 3 {
			return fmt.Errorf("line %d: %d fields, want cluster,size,description,...", i+1, len(r))
		}
		c, err1 := strconv.Atoi(r[0])
		s, err2 := strconv.Atoi(r[1])
		if err := cmp.Or(err1, err2); err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		n.Cluster = append(n.Cluster, ClusterInfo{Cluster: c, Size: s, Description: r[2]})
	}
	return nil
}

// featureTable is the host table's columns, by name.
type featureTable struct {
	addr []string
	num  map[string][]float64
}

var hostTableExtra = []string{"bytes_in", "bytes_out", "site_share"}

func (n *Night) readFeatures(path string) error {
	cols := clusters.HostColumnNames()
	for _, c := range hostTableExtra {
		if !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	var t *featureTable
	var err error
	if strings.HasSuffix(path, ".csv") {
		t, err = readFeatureCSV(path, cols)
	} else {
		t, err = readFeatureParquet(path, cols)
	}
	if err != nil {
		return err
	}
	n.Features.Columns = clusters.HostColumnNames()
	n.featureTable = t
	return nil
}

// joinFeatures puts the host table's rows in the inventory's order.
func (n *Night) joinFeatures() {
	t := n.featureTable
	n.featureTable = nil
	if t == nil {
		return
	}
	at := make(map[string]int, len(t.addr))
	for i, a := range t.addr {
		at[a] = i
	}
	f := &n.Features
	for _, h := range n.Hosts {
		i, ok := at[h.Addr.String()]
		row := make([]float64, len(f.Columns))
		in, bytes, share := math.NaN(), math.NaN(), math.NaN()
		if ok {
			for j, c := range f.Columns {
				row[j] = t.num[c][i]
			}
			in, bytes, share = t.num["bytes_in"][i], t.num["bytes_in"][i]+t.num["bytes_out"][i], t.num["site_share"][i]
		}
		f.Rows = append(f.Rows, row)
		f.BytesIn = append(f.BytesIn, in)
		f.Bytes = append(f.Bytes, bytes)
		f.Share = append(f.Share, share)
		f.Found = append(f.Found, ok)
	}
}

func readFeatureCSV(path string, cols []string) (*featureTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	head, err := cr.Read()
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	for i, h := range head {
		idx[h] = i
	}
	ai, ok := idx["address"]
	if !ok {
		return nil, fmt.Errorf("no address column")
	}
	t := &featureTable{num: map[string][]float64{}}
	for _, c := range cols {
		if _, ok := idx[c]; !ok {
			return nil, fmt.Errorf("no %s column", c)
		}
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		t.addr = append(t.addr, rec[ai])
		for _, c := range cols {
			v := math.NaN()
			if s := rec[idx[c]]; s != "" && s != "NaN" && s != "NA" {
				if v, err = strconv.ParseFloat(s, 64); err != nil {
					return nil, fmt.Errorf("line %d: %s: %w", line, c, err)
				}
			}
			t.num[c] = append(t.num[c], v)
		}
	}
	return t, nil
}

func readFeatureParquet(path string, cols []string) (*featureTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, err
	}
	leaf := map[string]int{}
	for i, p := range pf.Schema().Columns() {
		leaf[strings.Join(p, ".")] = i
	}
	ai, ok := leaf["address"]
	if !ok {
		return nil, fmt.Errorf("no address column")
	}
	want := make([]int, len(cols))
	for j, c := range cols {
		i, ok := leaf[c]
		if !ok {
			return nil, fmt.Errorf("no %s column", c)
		}
		want[j] = i
	}
	t := &featureTable{num: map[string][]float64{}}
	buf := make([]parquet.Row, 256)
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			k, err := rows.ReadRows(buf)
			for _, row := range buf[:k] {
				byCol := make(map[int]parquet.Value, len(row))
				for _, v := range row {
					byCol[v.Column()] = v
				}
				t.addr = append(t.addr, string(byCol[ai].ByteArray()))
				for j, c := range cols {
					t.num[c] = append(t.num[c], valueFloat(byCol[want[j]]))
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				rows.Close()
				return nil, err
			}
		}
		rows.Close()
	}
	return t, nil
}

// valueFloat is a numeric Parquet value as float64, NaN when null.
func valueFloat(v parquet.Value) float64 {
	if v.IsNull() {
		return math.NaN()
	}
	switch v.Kind() {
	case parquet.Int32:
		return float64(v.Int32())
	case parquet.Int64:
		return float64(v.Int64())
	case parquet.Float:
		return float64(v.Float())
	case parquet.Double:
		return v.Double()
	case parquet.Boolean:
		if v.Boolean() {
			return 1
		}
		return 0
	}
	return math.NaN()
}

// readParquet reads every row of a Parquet file written from T.
func readParquet[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := parquet.NewGenericReader[T](f)
	defer r.Close()
	out := make([]T, 0, r.NumRows())
	buf := make([]T, 4096)
	for {
		k, err := r.Read(buf)
		out = append(out, buf[:k]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (n *Night) readMinutes(path string) error {
	rows, err := readParquet[MinuteRow](path)
	if err != nil {
		return err
	}
	by := map[string][]MinuteRow{}
	var order []string
	for _, r := range rows {
		if r.Host == "site" {
			n.Minutes = append(n.Minutes, r)
			continue
		}
		if _, ok := by[r.Host]; !ok {
			order = append(order, r.Host)
		}
		by[r.Host] = append(by[r.Host], r)
	}
	// The file lists the busiest host first; keep that order.
	for _, h := range order {
		n.Busiest = append(n.Busiest, HostSeries{Host: h, Minutes: by[h]})
	}
	slices.SortStableFunc(n.Minutes, func(a, b MinuteRow) int { return a.Minute.Compare(b.Minute) })
	return nil
}
