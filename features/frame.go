package features

import (
	"fmt"
	"math"
	"strings"

	"github.com/go-gota/gota/dataframe"
	"github.com/go-gota/gota/series"
)

// FrameColumns are the columns of Frame, in order.
var FrameColumns = []string{
	"start", "end", "client", "client_port", "server", "server_port",
	"packets", "bytes", "rev_packets", "rev_bytes", "has_reverse", "records",
	"payload", "rev_payload", "mean_payload",
}

// Frame is the table form of a bounded set of downloads (training sets,
// notebooks): one row per download with its counters and the derived
// payloads for a per-packet header of hdr bytes. label, when not nil, adds
// a "label" column (the files a download carried, "+"-joined, or "").
// Times are float Unix seconds; counters are int (gota has no unsigned
// column type).
func Frame(ds []Download, hdr int, label func(i int) []string) (dataframe.DataFrame, error) {
	n := len(ds)
	start, end := make([]float64, n), make([]float64, n)
	client, server := make([]string, n), make([]string, n)
	cport, sport := make([]int, n), make([]int, n)
	pk, by, rpk, rby, recs := make([]int, n), make([]int, n), make([]int, n), make([]int, n), make([]int, n)
	hasRev := make([]bool, n)
	pay, rpay, mean := make([]int, n), make([]int, n), make([]float64, n)
	var labels []string
	if label != nil {
		labels = make([]string, n)
	}
	for i := range ds {
		d := &ds[i]
		if d.Bytes > math.MaxInt64 || d.RevBytes > math.MaxInt64 {
			return dataframe.DataFrame{}, fmt.Errorf("download %d: byte counter above 2^63-1", i)
		}
		start[i] = float64(d.Start.UnixMicro()) / 1e6
		end[i] = float64(d.End.UnixMicro()) / 1e6
		client[i], server[i] = d.Client.String(), d.Server.String()
		cport[i], sport[i] = int(d.ClientPort), int(d.ServerPort)
		pk[i], by[i], rpk[i], rby[i] = int(d.Packets), int(d.Bytes), int(d.RevPackets), int(d.RevBytes)
		hasRev[i] = d.HasReverse
		recs[i] = d.Records
		pay[i], rpay[i] = int(d.Payload(hdr)), int(d.RevPayload(hdr))
		if d.Packets > 0 {
			mean[i] = float64(pay[i]) / float64(d.Packets)
		}
		if label != nil {
			labels[i] = strings.Join(label(i), "+")
		}
	}
	cols := []series.Series{
		series.New(start, series.Float, "start"), series.New(end, series.Float, "end"),
		series.New(client, series.String, "client"), series.New(cport, series.Int, "client_port"),
		series.New(server, series.String, "server"), series.New(sport, series.Int, "server_port"),
		series.New(pk, series.Int, "packets"), series.New(by, series.Int, "bytes"),
		series.New(rpk, series.Int, "rev_packets"), series.New(rby, series.Int, "rev_bytes"),
		series.New(hasRev, series.Bool, "has_reverse"), series.New(recs, series.Int, "records"),
		series.New(pay, series.Int, "payload"), series.New(rpay, series.Int, "rev_payload"),
		series.New(mean, series.Float, "mean_payload"),
	}
	if label != nil {
		cols = append(cols, series.New(labels, series.String, "label"))
	}
	df := dataframe.New(cols...)
	return df, df.Err
}
