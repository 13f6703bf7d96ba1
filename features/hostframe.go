package features

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/go-gota/gota/dataframe"
	"github.com/go-gota/gota/series"
)

// HostColumns returns the columns of HostFrame, in order:
//
//	address            string  the host's address
//	first_seen         float   earliest flow start, Unix seconds
//	last_seen          float   latest flow end, Unix seconds
//	bytes_out          int     IP-layer bytes the host sent
//	bytes_in           int     IP-layer bytes the host received
//	packets_out        int
//	packets_in         int
//	flows_out          int     flow directions the host sent (the GDP collector's C column)
//	flows_in           int     flow directions the host received
//	peers              int     distinct peer addresses (exact up to 16, HyperLogLog beyond)
//	ports              int     distinct remote ports the host contacted (answers as a server excluded)
//	tcp_share          float   share of the host's bytes (in+out) over TCP, 0 to 1
//	udp_share          float   over UDP
//	icmp_share         float   over ICMP and ICMPv6
//	other_share        float   over any other protocol
//	service_ports      int     ports the host answers on (HostStats.Services)
//	service_peers      int     distinct peers summed over those ports
//	serves             string  those ports, "port/proto:peers:flows" separated by spaces, most peers first
//	span_s             int     seconds from the first to the last active second
//	kbytes_s_mean      float   mean kB/s (1 kB = 1000 bytes, in+out) over span_s, idle seconds as zero
//	kbytes_s_p95       float   95th percentile of kB/s over the same seconds
//	packets_s_mean     float   mean packets/s
//	packets_s_p95      float   95th percentile of packets/s
//	duration_out_s     float   accumulated duration of the flows the host sent, seconds (the GDP collector's T column)
//	site_share         float   (bytes_in+bytes_out) over the site's bytes
//	ttl                int     commonest TTL of the host's own packets, 0 when not recorded
//	ttl_initial        int     InitialTTL(ttl): 32, 64, 128 or 255; 0 when not recorded
//	ttl_flows          int     flows the host sent with a recorded TTL
//	no_ttl_flows       int     flows the host sent without one
//	late_records       int     records that arrived more than the horizon late
//	downloads_named    int     downloads named as a catalog file (AddDownloads)
//	downloads_unknown  int     downloads answered unknown (AddDownloads)
func HostColumns() []string { return slices.Clone(hostColumns[:]) }

var hostColumns = [...]string{
	"address", "first_seen", "last_seen",
	"bytes_out", "bytes_in", "packets_out", "packets_in", "flows_out", "flows_in",
	"peers", "ports",
	"tcp_share", "udp_share", "icmp_share", "other_share",
	"service_ports", "service_peers", "serves",
	"span_s", "kbytes_s_mean", "kbytes_s_p95", "packets_s_mean", "packets_s_p95",
	"duration_out_s", "site_share",
	"ttl", "ttl_initial", "ttl_flows", "no_ttl_flows",
	"late_records", "downloads_named", "downloads_unknown",
}

// Frame returns the host feature table: HostFrame of Hosts.
func (a *HostAggregator) Frame() (dataframe.DataFrame, error) {
	return HostFrame(a.Hosts())
}

// HostFrame is the table form of host features, one row per host in the
// given order, with the columns HostColumns describes. Counters are int
// (gota has no unsigned column type); a counter above 2^63-1 is an error.
func HostFrame(hs []HostStats) (dataframe.DataFrame, error) {
	n := len(hs)
	strs := map[string][]string{"address": make([]string, n), "serves": make([]string, n)}
	floats := map[string][]float64{}
	ints := map[string][]int{}
	for _, c := range hostColumns {
		if strs[c] != nil {
			continue
		}
		switch c {
		case "first_seen", "last_seen", "tcp_share", "udp_share", "icmp_share", "other_share",
			"kbytes_s_mean", "kbytes_s_p95", "packets_s_mean", "packets_s_p95", "duration_out_s", "site_share":
			floats[c] = make([]float64, n)
		default:
			ints[c] = make([]int, n)
		}
	}
	var err error
	toInt := func(col string, i int, v uint64) {
		if v > math.MaxInt64 && err == nil {
			err = fmt.Errorf("host %s: %s above 2^63-1", hs[i].Addr, col)
		}
		ints[col][i] = int(v)
	}
	unix := func(h *HostStats, last bool) float64 {
		t := h.First
		if last {
			t = h.Last
		}
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixMicro()) / 1e6
	}
	for i := range hs {
		h := &hs[i]
		strs["address"][i] = h.Addr.String()
		floats["first_seen"][i], floats["last_seen"][i] = unix(h, false), unix(h, true)
		toInt("bytes_out", i, h.BytesOut)
		toInt("bytes_in", i, h.BytesIn)
		toInt("packets_out", i, h.PacketsOut)
		toInt("packets_in", i, h.PacketsIn)
		toInt("flows_out", i, h.FlowsOut)
		toInt("flows_in", i, h.FlowsIn)
		toInt("peers", i, h.Peers)
		toInt("ports", i, h.Ports)
		var total float64
		for _, b := range h.ProtoBytes {
			total += float64(b)
		}
		if total > 0 {
			floats["tcp_share"][i] = float64(h.ProtoBytes[ClassTCP]) / total
			floats["udp_share"][i] = float64(h.ProtoBytes[ClassUDP]) / total
			floats["icmp_share"][i] = float64(h.ProtoBytes[ClassICMP]) / total
			floats["other_share"][i] = float64(h.ProtoBytes[ClassOther]) / total
		}
		ints["service_ports"][i] = len(h.Services)
		var serves []string
		for _, s := range h.Services {
			ints["service_peers"][i] += s.Peers
			serves = append(serves, s.String()+":"+strconv.Itoa(s.Peers)+":"+strconv.FormatUint(s.Flows, 10))
		}
		strs["serves"][i] = strings.Join(serves, " ")
		ints["span_s"][i] = int(h.Rates.Seconds)
		floats["kbytes_s_mean"][i] = h.Rates.BytesMean / 1000
		floats["kbytes_s_p95"][i] = h.Rates.BytesP95 / 1000
		floats["packets_s_mean"][i] = h.Rates.PacketsMean
		floats["packets_s_p95"][i] = h.Rates.PacketsP95
		floats["duration_out_s"][i] = h.DurationOut.Seconds()
		floats["site_share"][i] = h.SiteShare
		var ttlFlows uint64
		for _, t := range h.TTLs {
			ttlFlows += t.Flows
		}
		ttlFlows += h.TTLOther
		if len(h.TTLs) > 0 {
			ints["ttl"][i] = int(h.TTLs[0].TTL)
			ints["ttl_initial"][i] = int(InitialTTL(h.TTLs[0].TTL))
		}
		toInt("ttl_flows", i, ttlFlows)
		toInt("no_ttl_flows", i, h.NoTTLFlows)
		toInt("late_records", i, h.LateRecords)
		ints["downloads_named"][i] = h.DownloadsNamed
		ints["downloads_unknown"][i] = h.DownloadsUnknown
	}
	if err != nil {
		return dataframe.DataFrame{}, err
	}
	cols := make([]series.Series, 0, len(hostColumns))
	for _, c := range hostColumns {
		switch {
		case strs[c] != nil:
			cols = append(cols, series.New(strs[c], series.String, c))
		case floats[c] != nil:
			cols = append(cols, series.New(floats[c], series.Float, c))
		default:
			cols = append(cols, series.New(ints[c], series.Int, c))
		}
	}
	df := dataframe.New(cols...)
	return df, df.Err
}
