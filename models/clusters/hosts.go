package clusters

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/fingerflow/fingerflow/features"
)

// hostColumn is one host feature k-means sees, with how to read it from
// the host's statistics.
type hostColumn struct {
	Column
	value func(h *features.HostStats) float64
}

// hostColumns are the host features the nightly run clusters on: volumes,
// fan-out, protocol mix, server role and rates (the SiLK + pandas study
// clustered on 1-second means and 95th percentiles).
func hostColumns() []hostColumn {
	share := func(h *features.HostStats, class int) float64 {
		total := h.ProtoBytes[0] + h.ProtoBytes[1] + h.ProtoBytes[2] + h.ProtoBytes[3]
		if total == 0 {
			return 0
		}
		return float64(h.ProtoBytes[class]) / float64(total)
	}
	return []hostColumn{
		{Column{Name: "bytes_in", Skew: Skewed, High: "heavy downloaders", Low: "little traffic"}, func(h *features.HostStats) float64 { return float64(h.BytesIn) }},
		{Column{Name: "bytes_out", Skew: Skewed, High: "heavy senders", Low: "little traffic"}, func(h *features.HostStats) float64 { return float64(h.BytesOut) }},
		{Column{Name: "flows_out", Skew: Skewed, High: "many flows", Low: "few flows"}, func(h *features.HostStats) float64 { return float64(h.FlowsOut) }},
		{Column{Name: "peers", Skew: Skewed, High: "talks to many peers", Low: "talks to few peers"}, func(h *features.HostStats) float64 { return float64(h.Peers) }},
		{Column{Name: "ports", Skew: Skewed, High: "contacts many ports"}, func(h *features.HostStats) float64 { return float64(h.Ports) }},
		{Column{Name: "udp_share", Skew: Symmetric, High: "mostly UDP"}, func(h *features.HostStats) float64 { return share(h, features.ClassUDP) }},
		{Column{Name: "icmp_share", Skew: Symmetric, High: "much ICMP"}, func(h *features.HostStats) float64 { return share(h, features.ClassICMP) }},
		{Column{Name: "service_ports", Skew: Skewed, High: "serve several ports"}, func(h *features.HostStats) float64 { return float64(len(h.Services)) }},
		{Column{Name: "kbytes_s_mean", Skew: Skewed, High: "busy all along", Low: "quiet"}, func(h *features.HostStats) float64 { return h.Rates.BytesMean / 1000 }},
		{Column{Name: "kbytes_s_p95", Skew: Skewed, High: "bursty"}, func(h *features.HostStats) float64 { return h.Rates.BytesP95 / 1000 }},
		{Column{Name: "packets_s_p95", Skew: Skewed, High: "packet-heavy bursts"}, func(h *features.HostStats) float64 { return h.Rates.PacketsP95 }},
		{Column{Name: "duration_out_s", Skew: Skewed, High: "long-lived flows"}, func(h *features.HostStats) float64 { return h.DurationOut.Seconds() }},
	}
}

// HostColumnNames are the host features clustered, in the order of
// HostClusters.Centroids' columns.
func HostColumnNames() []string {
	cs := hostColumns()
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// HostClusters are the hosts of a night grouped by k-means.
type HostClusters struct {
	// Cluster maps each clustered host to its cluster (0 is the largest).
	Cluster map[netip.Addr]int
	// Descriptions are the clusters in words, by cluster number.
	Descriptions []Description
	// Centroids are the clusters' centres in original units, a row per
	// cluster and a column per HostColumnNames entry.
	Centroids [][]float64
	// K is the number of clusters; Chosen says it was chosen by silhouette
	// (false: fixed by the caller), and Silhouette is the mean silhouette
	// of the partition (0 when fewer than three hosts).
	K          int
	Chosen     bool
	Silhouette float64
}

// ErrTooFewHosts is returned when there are not enough hosts to cluster.
var ErrTooFewHosts = errors.New("too few hosts to cluster")

// FitHosts clusters hosts on their traffic features (HostColumnNames),
// log-scaled where skewed and standardised. k fixes the number of clusters
// (0: chosen by mean silhouette over 2..8); seed makes the result
// reproducible: the same hosts and seed give the same clusters, whatever
// the order of hosts. A host's role for the descriptions is the service
// port most of its peers used ("servers on 53/udp"). A cancelled ctx
// stops it before and after the fit.
func FitHosts(ctx context.Context, hosts []features.HostStats, k int, seed uint64) (*HostClusters, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(hosts) < 3 || (k > 0 && len(hosts) <= k) {
		return nil, fmt.Errorf("%d hosts, %d clusters: %w", len(hosts), k, ErrTooFewHosts)
	}
	hs := slices.Clone(hosts)
	slices.SortFunc(hs, func(a, b features.HostStats) int { return a.Addr.Compare(b.Addr) })
	cols := hostColumns()
	x := mat.NewDense(len(hs), len(cols), nil)
	roles := make([]string, len(hs))
	for i := range hs {
		for j, c := range cols {
			x.Set(i, j, c.value(&hs[i]))
		}
		roles[i] = role(&hs[i])
	}
	specs := make([]Column, len(cols))
	for j, c := range cols {
		specs[j] = c.Column
	}
	m := Model{Columns: specs, KMeans: KMeans{K: k, Src: rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)}}
	if k == 0 {
		m.KMeans.KMax = min(8, len(hs)-1)
	}
	if err := m.Fit(x); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	desc, err := m.Describe(roles)
	if err != nil {
		return nil, err
	}
	labels := m.Labels()
	out := &HostClusters{Cluster: make(map[netip.Addr]int, len(hs)), Descriptions: desc, K: len(desc), Chosen: k == 0}
	for i := range hs {
		out.Cluster[hs[i].Addr] = labels[i]
	}
	var c mat.Dense
	if err := m.CentroidsTo(&c); err != nil {
		return nil, err
	}
	r, _ := c.Dims()
	for i := range r {
		out.Centroids = append(out.Centroids, mat.Row(nil, i, &c))
	}
	if out.K >= 2 {
		var z mat.Dense
		if err := m.Scaler().Transform(&z, x); err != nil {
			return nil, err
		}
		var rows []int // every row up to 2,000 hosts, evenly spaced ones beyond
		if n := len(hs); n > 2000 {
			for i := range 2000 {
				rows = append(rows, i*n/2000)
			}
		}
		s, err := Silhouette(&z, labels, rows)
		if err != nil {
			return nil, err
		}
		out.Silhouette = s
	}
	return out, nil
}

// role is the service port most of a host's peers used, as "53/udp"; ""
// for a host that answers on none.
func role(h *features.HostStats) string {
	for _, s := range h.Services {
		if s.Answers > 0 || s.Peers > 0 {
			return strings.ToLower(s.String())
		}
	}
	return ""
}
