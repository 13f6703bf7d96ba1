package reports

import (
	"io"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/fingerflow/fingerflow/features"
)

// SecondRow is the site's traffic in one second (traffic.parquet).
type SecondRow struct {
	Time    time.Time `parquet:"time,timestamp(millisecond)"`
	Bytes   float64   `parquet:"bytes"`
	Packets float64   `parquet:"packets"`
}

// MinuteRow is the traffic of the site or one host in one minute
// (traffic_minutes.parquet).
type MinuteRow struct {
	Minute  time.Time `parquet:"minute,timestamp(millisecond)"`
	Host    string    `parquet:"host,dict"` // "site" for the whole site
	Bytes   float64   `parquet:"bytes"`
	Packets float64   `parquet:"packets"`
}

// WriteTraffic writes the site's per-second series as Parquet: one row a
// second from the first active second, bytes and packets (a flow's spread
// evenly over its duration).
func WriteTraffic(w io.Writer, site features.SiteStats) error {
	pw := parquet.NewGenericWriter[SecondRow](w, parquet.Compression(&parquet.Zstd))
	rows := make([]SecondRow, 0, 4096)
	for i := range site.BytesPerSecond {
		rows = append(rows, SecondRow{Time: site.Rates.Start.Add(time.Duration(i) * time.Second).UTC(), Bytes: site.BytesPerSecond[i], Packets: site.PacketsPerSecond[i]})
		if len(rows) == cap(rows) {
			if _, err := pw.Write(rows); err != nil {
				return err
			}
			rows = rows[:0]
		}
	}
	if _, err := pw.Write(rows); err != nil {
		return err
	}
	return pw.Close()
}

// WriteMinutes writes per-minute traffic as Parquet: the site's, then each
// of hosts' (active minutes only), in time order within each.
func WriteMinutes(w io.Writer, site features.SiteStats, hosts []features.HostStats) error {
	pw := parquet.NewGenericWriter[MinuteRow](w, parquet.Compression(&parquet.Zstd))
	var rows []MinuteRow
	for i := range site.BytesPerMinute {
		rows = append(rows, MinuteRow{Minute: site.MinuteStart.Add(time.Duration(i) * time.Minute).UTC(), Host: "site", Bytes: site.BytesPerMinute[i], Packets: site.PacketsPerMinute[i]})
	}
	for _, h := range hosts {
		for _, m := range h.Minutes {
			rows = append(rows, MinuteRow{Minute: m.Start.UTC(), Host: h.Addr.String(), Bytes: m.Bytes, Packets: m.Packets})
		}
	}
	if _, err := pw.Write(rows); err != nil {
		return err
	}
	return pw.Close()
}
