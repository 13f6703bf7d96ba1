// Package traffic is the computation behind the notebook traffic.ipynb:
// the questions a study of a site's flows with SiLK and pandas asks,
// answered with fingerflow's packages.
//
//   - Traffic over time at 1-second resolution: every flow's bytes and
//     packets spread evenly over its duration and summed per second, the
//     site's series with its mean and 95th percentile
//     (features.HostAggregator; pandas: s.resample('1s').sum()).
//   - Top talkers: nfdump's -s statistics and the accumulated duration (T)
//     and flow count (C) per source address (models/talkers).
//   - Flow lifespans: Kaplan–Meier survival curves of flow durations by
//     protocol, by service port and by a grouping of the hosts, with the
//     median lifespan and the log-rank test between groups
//     (models/lifespans, models/survival).
//
// ReadSite and Lifespans read flow files once each; Analyse runs them on
// the shipped sample population and lab runs, and Result.Figures are the
// numbers notebooks/README.md quotes.
package traffic

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-gota/gota/dataframe"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/lifespans"
	"github.com/fingerflow/fingerflow/models/talkers"
	"github.com/fingerflow/fingerflow/notebooks/internal/labrun"
	"github.com/fingerflow/fingerflow/notebooks/nbview"
)

// The shipped data the notebook reads, relative to the datasets
// directory.
const (
	// Population is the sample population's NetFlow v9 export (nfcapd
	// files): 24 hosts and the lab's server.
	Population = "population/pop-near-24h-s1007.v9"
	// PopulationHosts is its truth: each host's OS family.
	PopulationHosts = "population/pop-near-24h-s1007.hosts.csv"
)

// LabRuns are the lab-dev runs the lifespans by service port are measured
// on: downloads of the catalog over HTTP (test-near, train-near) and HTTPS
// (train-https).
var LabRuns = []string{"lab-dev/test-near.v9", "lab-dev/train-near.v9", "lab-dev/train-https.v9"}

// Read streams every flow of paths (files or directories, expanded as
// fingerflow's commands do; nfcapd, Argus and nfdump CSV files) through
// visit, in file order. A file that cannot be read is an error naming it.
func Read(ctx context.Context, paths []string, visit func(*datasets.Flow)) error {
	files, err := datasets.Expand(ctx, paths)
	if err != nil {
		return err
	}
	res, err := datasets.ReadFiles(ctx, labrun.NewRegistry(), files, datasets.Filter{}, func(f *datasets.Flow) error {
		visit(f)
		return nil
	})
	if errors.Is(err, datasets.ErrSkipped) {
		for _, r := range res {
			if r.Err != nil {
				return fmt.Errorf("%s: %w", r.Path, r.Err)
			}
		}
	}
	return err
}

// Site is a site's traffic: its per-second series, its internal hosts and
// its top talkers.
type Site struct {
	Stats   features.SiteStats
	Hosts   []features.HostStats // sorted by address
	Talkers talkers.Result
}

// TalkerStats are the statistics ReadSite counts: the top source and
// destination addresses by bytes and the top destination ports by flows,
// as `nfdump -s srcip/bytes -s dstip/bytes -s dstport/flows`.
var TalkerStats = []string{"srcip/bytes", "dstip/bytes", "dstport/flows"}

// ReadSite reads the flows of paths once into a features.HostAggregator
// (default internal networks: RFC 1918 and fc00::/7) and a talkers.Table
// of TalkerStats, n entries each and the n sources with the longest
// accumulated duration.
func ReadSite(ctx context.Context, paths []string, n int) (*Site, error) {
	agg, err := features.NewHostAggregator(features.DefaultHostConfig())
	if err != nil {
		return nil, err
	}
	cfg := talkers.Config{N: n, Sources: n}
	for _, s := range TalkerStats {
		st, err := talkers.ParseStat(s)
		if err != nil {
			return nil, err
		}
		cfg.Stats = append(cfg.Stats, st)
	}
	tab, err := talkers.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := Read(ctx, paths, func(f *datasets.Flow) {
		agg.Add(f)
		tab.Add(f)
	}); err != nil {
		return nil, err
	}
	return &Site{Stats: agg.Site(), Hosts: agg.Hosts(), Talkers: tab.Result()}, nil
}

// Lifespans reads the flows of paths into a lifespans accumulator with
// cfg and estimates the curves.
func Lifespans(ctx context.Context, paths []string, cfg lifespans.Config) (lifespans.Result, error) {
	l, err := lifespans.New(cfg)
	if err != nil {
		return lifespans.Result{}, err
	}
	if err := Read(ctx, paths, l.Add); err != nil {
		return lifespans.Result{}, err
	}
	return l.Result()
}

// HostKinds reads a population's hosts file (columns ip and os, a header
// first) into the lookup lifespans.Config.Cluster takes: flows are then
// also grouped by the OS family of their host.
func HostKinds(path string) (func(netip.Addr) (string, bool), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ipCol, osCol := -1, -1
	for i, h := range head {
		switch strings.TrimSpace(h) {
		case "ip":
			ipCol = i
		case "os":
			osCol = i
		}
	}
	if ipCol < 0 || osCol < 0 {
		return nil, fmt.Errorf("%s: want ip and os columns, have %v", path, head)
	}
	kinds := map[netip.Addr]string{}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) <= max(ipCol, osCol) {
			return nil, fmt.Errorf("%s: line %d: %d fields", path, line, len(rec))
		}
		a, err := netip.ParseAddr(strings.TrimSpace(rec[ipCol]))
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", path, line, err)
		}
		kinds[a] = strings.TrimSpace(rec[osCol])
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("%s: no hosts", path)
	}
	return func(a netip.Addr) (string, bool) {
		k, ok := kinds[a]
		return k, ok
	}, nil
}

// SecondsFrame is the site's series at 1-second resolution: the start of
// each second (UTC), its bytes and packets, and its bit rate in Mbit/s.
func SecondsFrame(s features.SiteStats) dataframe.DataFrame {
	type row struct {
		Second  string
		Bytes   float64
		Packets float64
		Mbps    float64
	}
	rows := make([]row, len(s.BytesPerSecond))
	for i := range rows {
		rows[i] = row{
			Second: s.Rates.Start.Add(time.Duration(i) * time.Second).UTC().Format("15:04:05"),
			Bytes:  s.BytesPerSecond[i], Packets: s.PacketsPerSecond[i], Mbps: s.BytesPerSecond[i] * 8 / 1e6,
		}
	}
	return dataframe.LoadStructs(rows)
}

// TopFrame is one statistic of a talkers result: its entries with their
// flows, packets and bytes and their shares of the totals.
func TopFrame(res talkers.Result, top talkers.Top) dataframe.DataFrame {
	type row struct {
		Key                   string
		Flows, Packets, Bytes int
		FlowsPct, BytesPct    float64
		FirstSeen             string
		DurationS             float64
	}
	rows := make([]row, len(top.Entries))
	for i, e := range top.Entries {
		rows[i] = row{
			Key: e.Key.Text(top.Stat.Element), Flows: int(e.Flows), Packets: int(e.Packets), Bytes: int(e.Bytes),
			FlowsPct:  100 * float64(e.Flows) / float64(max(res.Totals.Flows, 1)),
			BytesPct:  100 * float64(e.Bytes) / float64(max(res.Totals.Bytes, 1)),
			FirstSeen: e.First.UTC().Format("15:04:05.000"), DurationS: e.Duration().Seconds(),
		}
	}
	return dataframe.LoadStructs(rows)
}

// SourcesFrame is the accumulated duration (T) and flow count (C) table.
func SourcesFrame(res talkers.Result) dataframe.DataFrame {
	type row struct {
		Source         string
		TSeconds       float64
		CFlows         int
		Packets, Bytes int
	}
	rows := make([]row, len(res.Sources))
	for i, s := range res.Sources {
		rows[i] = row{s.Addr.String(), s.Duration.Seconds(), int(s.Count), int(s.Packets), int(s.Bytes)}
	}
	return dataframe.LoadStructs(rows)
}

// GroupsFrame is a grouping's table: per group its flows, how many were
// seen to end, the median lifespan with its 95% interval and the share
// still alive after one second (NaN where not estimable).
func GroupsFrame(g lifespans.Grouping) dataframe.DataFrame {
	type row struct {
		Group                   string
		Flows, Ended, Censored  int
		MedianS, LowerS, UpperS float64
		AliveAt1s               float64
	}
	rows := make([]row, len(g.Groups))
	for i, gr := range g.Groups {
		rows[i] = row{gr.Name, int(gr.Flows), int(gr.Ended), int(gr.Censored), gr.Median, gr.MedianLower, gr.MedianUpper, gr.Curve.Survival(1)}
	}
	return dataframe.LoadStructs(rows)
}

// Result is what Analyse computes on the shipped data.
type Result struct {
	Site *Site // the sample population
	// Services are the lab runs' lifespans; Kinds the population's, with
	// flows grouped by their host's OS family.
	Services, Kinds lifespans.Result
}

// Analyse reads the sample population and the lab runs under dataDir.
func Analyse(ctx context.Context, dataDir string) (*Result, error) {
	site, err := ReadSite(ctx, []string{filepath.Join(dataDir, Population)}, 10)
	if err != nil {
		return nil, err
	}
	lab := make([]string, len(LabRuns))
	for i, r := range LabRuns {
		lab[i] = filepath.Join(dataDir, r)
	}
	services, err := Lifespans(ctx, lab, lifespans.DefaultConfig())
	if err != nil {
		return nil, err
	}
	cfg := lifespans.DefaultConfig()
	if cfg.Cluster, err = HostKinds(filepath.Join(dataDir, PopulationHosts)); err != nil {
		return nil, err
	}
	kinds, err := Lifespans(ctx, []string{filepath.Join(dataDir, Population)}, cfg)
	if err != nil {
		return nil, err
	}
	return &Result{Site: site, Services: services, Kinds: kinds}, nil
}

// Grouping returns the grouping of res named name (lifespans.ByProtocol,
// ByService, ByCluster), and false when it has none.
func Grouping(res lifespans.Result, name string) (lifespans.Grouping, bool) {
	for _, g := range res.Groupings {
		if g.Name == name {
			return g, true
		}
	}
	return lifespans.Grouping{}, false
}

// Group returns the group of g named name, and false when it has none.
func Group(g lifespans.Grouping, name string) (lifespans.Group, bool) {
	for _, gr := range g.Groups {
		if gr.Name == name {
			return gr, true
		}
	}
	return lifespans.Group{}, false
}

// Figures are the numbers notebooks/README.md quotes, measured again.
func (r *Result) Figures() []nbview.Figure {
	s := r.Site.Stats
	var seriesBytes float64
	for _, b := range s.BytesPerSecond {
		seriesBytes += b
	}
	figs := []nbview.Figure{
		nbview.Count("population: flow records with an internal end", 266, int(s.Flows)),
		nbview.Count("population: internal hosts", 25, s.Hosts),
		nbview.Count("population: seconds from the first to the last active one", 38, int(s.Rates.Seconds)),
		nbview.Decimal("population: mean Mbit/s", "801.6", s.Rates.BytesMean*8/1e6),
		nbview.Decimal("population: 95th percentile Mbit/s", "1214.4", s.Rates.BytesP95*8/1e6),
		nbview.Claim("population: the per-second series adds up to the site's bytes",
			math.Abs(seriesBytes-float64(s.Bytes)) <= 1e-6*float64(s.Bytes),
			fmt.Sprintf("%.0f in the series, %d counted", seriesBytes, s.Bytes)),
	}
	if len(r.Site.Talkers.Tops) > 0 && len(r.Site.Talkers.Tops[0].Entries) > 0 {
		top := r.Site.Talkers.Tops[0]
		e := top.Entries[0]
		figs = append(figs,
			nbview.Text("population: top source by bytes", "10.77.0.1", e.Key.Text(top.Stat.Element)),
			nbview.Percent("population: its share of the bytes", "99.5%", float64(e.Bytes)/float64(r.Site.Talkers.Totals.Bytes)),
			nbview.Count("population: distinct sources", 25, top.Distinct))
	}
	if g, ok := Grouping(r.Services, lifespans.ByService); ok {
		figs = append(figs, median("lab-dev: 80/tcp median lifespan (s)", "0.044", g, "80/tcp"),
			median("lab-dev: 443/tcp median lifespan (s)", "0.072", g, "443/tcp"),
			logRank("lab-dev: log-rank chi2 between the service ports", "463.6", g))
	}
	if g, ok := Grouping(r.Kinds, lifespans.ByCluster); ok {
		for _, q := range []struct{ kind, median string }{{"windows", "0.513"}, {"sles", "0.197"}, {"debian", "0.169"}, {"none", "0.094"}} {
			figs = append(figs, median("population: "+q.kind+" hosts' median lifespan (s)", q.median, g, q.kind))
		}
		figs = append(figs, logRank("population: log-rank chi2 between the OS families", "53.98", g))
	}
	return figs
}

// median is the quoted median lifespan of group name of g.
func median(fig, quoted string, g lifespans.Grouping, name string) nbview.Figure {
	gr, ok := Group(g, name)
	if !ok {
		return nbview.Text(fig, quoted, "no such group")
	}
	return nbview.Decimal(fig, quoted, gr.Median)
}

// logRank is the quoted log-rank statistic of g.
func logRank(fig, quoted string, g lifespans.Grouping) nbview.Figure {
	if g.LogRank == nil {
		return nbview.Text(fig, quoted, fmt.Sprint("no test: ", g.TestErr))
	}
	return nbview.Decimal(fig, quoted, g.LogRank.Statistic())
}
