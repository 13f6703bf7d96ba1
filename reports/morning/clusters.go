package morning

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/fingerflow/fingerflow/models/clusters"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// The host clusters: a card per cluster saying what sets it apart from
// the other hosts (its medians against all hosts'), its OS mix and its
// busiest hosts, and the hosts on the first two principal components of
// their features with the busiest ones named.

// featureWords names the clustered host features and says how to write
// a value of each.
var featureWords = map[string]struct {
	name   string
	format func(float64) string
	share  bool // a share 0..1: compared by difference, not ratio
}{
	"bytes_in":       {"bytes received", bytesText, false},
	"bytes_out":      {"bytes sent", bytesText, false},
	"flows_out":      {"flows opened", func(v float64) string { return countText(int64(math.Round(v))) }, false},
	"peers":          {"peers", func(v float64) string { return countText(int64(math.Round(v))) }, false},
	"ports":          {"remote ports contacted", func(v float64) string { return countText(int64(math.Round(v))) }, false},
	"udp_share":      {"UDP share of its bytes", shareText, true},
	"icmp_share":     {"ICMP share of its bytes", shareText, true},
	"service_ports":  {"ports it answers on", func(v float64) string { return countText(int64(math.Round(v))) }, false},
	"kbytes_s_mean":  {"mean rate", func(v float64) string { return bitsText(1000 * v) }, false},
	"kbytes_s_p95":   {"95th-percentile rate", func(v float64) string { return bitsText(1000 * v) }, false},
	"packets_s_p95":  {"95th-percentile packet rate", func(v float64) string { return rateText(v, "packets/s") }, false},
	"duration_out_s": {"flow time", func(v float64) string { return fmt.Sprintf("%.3g s", v) }, false},
}

// maxTraits is how many distinguishing features a cluster's card names.
const maxTraits = 3

// labelledPerCluster is how many of each cluster's busiest hosts the
// scatter names.
const labelledPerCluster = 2

func (r *report) clustersSection() (section, error) {
	n := r.n
	s := section{ID: "clusters", Title: "Host clusters"}
	if len(n.Clusters) == 0 {
		s.Blocks = append(s.Blocks, block{Note: "No clusters: the night had too few hosts to cluster."})
		if !n.Present[nightdir.ClustersFile] {
			s.Blocks[0].Note = missingText(nightdir.ClustersFile) + " There are no clusters to show."
		}
		return s, nil
	}
	members := map[int][]int{}
	for i, h := range n.Hosts {
		members[h.Cluster] = append(members[h.Cluster], i)
	}
	var b hb
	b.f(`<div class="cards">`)
	for _, c := range n.Clusters {
		hs := members[c.Cluster]
		b.f(`<div class="card" style="border-left-color:var(--k%d)"><h4><i class="sw k%d"></i>Cluster %d: %s</h4>`, c.Cluster%10, c.Cluster%10, c.Cluster, esc(plural(c.Size, "host", "hosts")))
		if c.Description != "" {
			b.f(`<p>%s</p>`, esc(c.Description))
		}
		if t := r.traits(hs); t != "" {
			b.f(`<p><b>Sets it apart:</b> %s</p>`, esc(t))
		} else if len(hs) >= len(n.Hosts)*3/4 {
			b.f(`<p>Most of the night's hosts: the other clusters are what stands out from them.</p>`)
		}
		b.f(`<p><b>OS:</b> %s</p>`, esc(strings.TrimSuffix(strings.TrimPrefix(r.osMix(hs), " ("), ")")))
		if busy := r.busiest(hs, 3); len(busy) > 0 {
			var ws []string
			for _, i := range busy {
				ws = append(ws, fmt.Sprintf("%s (%s)", r.facts[i].label, bytesText(n.Features.Bytes(i))))
			}
			b.f(`<p><b>Busiest:</b> %s</p>`, esc(strings.Join(ws, ", ")))
		}
		b.f(`</div>`)
	}
	b.f(`</div>`)
	s.Blocks = append(s.Blocks, block{Text: "The nightly run groups hosts by their traffic (k-means over volumes, peers, ports, protocol mix, server role and rates). Each card says what sets a cluster apart from all hosts, its OS mix and its busiest hosts."},
		block{HTML: b.html()})
	fig, err := r.clusterFigure(members)
	if err != nil {
		return s, err
	}
	s.Blocks = append(s.Blocks, block{Figure: fig})
	return s, nil
}

// traits says how a set of hosts differs from all hosts: the features
// whose median is furthest from all hosts' median.
func (r *report) traits(hs []int) string {
	n := r.n
	if len(hs) == 0 || len(hs) == len(n.Hosts) {
		return ""
	}
	type trait struct {
		score float64
		text  string
	}
	var ts []trait
	for j, col := range n.Features.Columns {
		w, ok := featureWords[col]
		if !ok {
			continue
		}
		var in, all []float64
		for i := range n.Hosts {
			if !n.Features.Found[i] || math.IsNaN(n.Features.Rows[i][j]) {
				continue
			}
			all = append(all, n.Features.Rows[i][j])
		}
		for _, i := range hs {
			if n.Features.Found[i] && !math.IsNaN(n.Features.Rows[i][j]) {
				in = append(in, n.Features.Rows[i][j])
			}
		}
		if len(in) == 0 || len(all) == 0 {
			continue
		}
		a, m := median(in), median(all)
		var score float64
		if w.share {
			score = math.Abs(a-m) * 4 // 0.25 apart counts as a ratio of e
		} else {
			score = math.Abs(math.Log((a + 1) / (m + 1)))
		}
		if score < math.Log(3) {
			continue
		}
		more := "more"
		if a < m {
			more = "fewer"
			if w.share || strings.Contains(w.name, "rate") || strings.Contains(w.name, "bytes") || w.name == "flow time" {
				more = "less"
			}
		}
		text := fmt.Sprintf("%s %s (median %s against %s over all hosts)", more, w.name, w.format(a), w.format(m))
		ts = append(ts, trait{score, text})
	}
	slices.SortStableFunc(ts, func(a, b trait) int { return cmp.Compare(b.score, a.score) })
	var out []string
	for _, t := range ts[:min(len(ts), maxTraits)] {
		out = append(out, t.text)
	}
	return strings.Join(out, "; ")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// busiest are the k hosts of hs with the most bytes, busiest first.
func (r *report) busiest(hs []int, k int) []int {
	n := r.n
	var out []int
	for _, i := range hs {
		if n.Features.Found[i] && !math.IsNaN(n.Features.Bytes(i)) {
			out = append(out, i)
		}
	}
	slices.SortStableFunc(out, func(a, b int) int { return cmp.Compare(n.Features.Bytes(b), n.Features.Bytes(a)) })
	return out[:min(k, len(out))]
}

// clusterFigure: the hosts on the first two principal components of
// their features (prepared as for clustering), coloured by cluster, the
// busiest of each cluster named.
func (r *report) clusterFigure(members map[int][]int) (*figure, error) {
	n := r.n
	fig := &figure{ID: "fig-clusters", Title: "Hosts on their two main axes of difference"}
	var rows [][]float64
	var idx []int
	for i := range n.Hosts {
		if !n.Features.Found[i] {
			continue
		}
		row := slices.Clone(n.Features.Rows[i])
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				row[j] = 0
			}
		}
		rows = append(rows, row)
		idx = append(idx, i)
	}
	if len(rows) < 3 {
		fig.Omitted = "fewer than three hosts in the host table (hosts.parquet): nothing to project."
		return fig, nil
	}
	x, err := clusters.Matrix(rows)
	if err != nil {
		return nil, fmt.Errorf("host projection: %w", err)
	}
	p, err := clusters.Project2D(x, clusters.HostFeatureColumns())
	if err != nil {
		return nil, fmt.Errorf("host projection: %w", err)
	}
	sc := scatter{height: 380, dot: 7, label: "hosts on the first two principal components of their traffic features, coloured by cluster"}
	if len(rows) > 1000 {
		sc.dot = 4
	}
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, q := range p.Points {
		xmin, xmax = math.Min(xmin, q[0]), math.Max(xmax, q[0])
		ymin, ymax = math.Min(ymin, q[1]), math.Max(ymax, q[1])
	}
	padX, padY := 0.06*math.Max(xmax-xmin, 1e-9), 0.08*math.Max(ymax-ymin, 1e-9)
	sc.xlo, sc.xhi, sc.ylo, sc.yhi = xmin-padX, xmax+padX*3, ymin-padY, ymax+padY
	pos := map[int][2]float64{}
	for k, i := range idx {
		h := n.Hosts[i]
		q := p.Points[k]
		pos[i] = [2]float64{q[0], q[1]}
		sc.points = append(sc.points, scatterPoint{x: q[0], y: q[1], class: clusterClass(h.Cluster),
			title: fmt.Sprintf("%s, cluster %d, %s", r.facts[i].label, h.Cluster, bytesText(n.Features.Bytes(i)))})
	}
	for _, c := range n.Clusters {
		hs := members[c.Cluster]
		k := labelledPerCluster
		if len(hs) <= 3 {
			k = len(hs)
		}
		for _, i := range r.busiest(hs, k) {
			if q, ok := pos[i]; ok {
				sc.labels = append(sc.labels, scatterLabel{x: q[0], y: q[1], text: n.Hosts[i].Addr.String()})
			}
		}
		sc.legend = append(sc.legend, legendKey{clusterClass(c.Cluster), fmt.Sprintf("cluster %d (%s)", c.Cluster, plural(c.Size, "host", "hosts"))})
	}
	sc.xLabel = axisWords(p, 0)
	sc.yLabel = "second axis"
	fig.Body = sc.render()
	fig.Caption = fmt.Sprintf("Every host on the first two principal components of its traffic features (log of counts, standardised, as the clustering sees them). Across: %s. Up: %s. Hosts far apart differ in those; the busiest hosts of each cluster are named. Hover a point for the host.",
		axisWords(p, 0), axisWords(p, 1))
	return fig, nil
}

// clusterClass is a cluster's colour class.
func clusterClass(c int) string {
	if c < 0 {
		return "kx"
	}
	return fmt.Sprintf("k%d", c%10)
}

// axisWords says what a principal component measures: its share of the
// variance and the features that weigh most in it.
func axisWords(p *clusters.Projection, k int) string {
	cols := clusters.HostColumnNames()
	type wc struct {
		w    float64
		name string
	}
	var ws []wc
	for j, w := range p.Loadings[k] {
		if j < len(cols) {
			name := cols[j]
			if fw, ok := featureWords[name]; ok {
				name = fw.name
			}
			ws = append(ws, wc{w, name})
		}
	}
	slices.SortStableFunc(ws, func(a, b wc) int { return cmp.Compare(math.Abs(b.w), math.Abs(a.w)) })
	var names []string
	for _, w := range ws[:min(3, len(ws))] {
		sign := "more "
		if w.w < 0 {
			sign = "less "
		}
		names = append(names, sign+w.name)
	}
	return fmt.Sprintf("%s of the differences, mostly %s", shareText(p.Explained[k]), join(names))
}
