package nightdir

import (
	"io"
	"slices"
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

// ReadTraffic reads traffic.parquet.
func ReadTraffic(path string) ([]SecondRow, error) { return readParquet[SecondRow](path) }

// HostSeries is one host's traffic per minute.
type HostSeries struct {
	Host    string
	Minutes []MinuteRow
}

// ReadMinutes reads traffic_minutes.parquet: the site's minutes in time
// order, and each host's, busiest host first as the file lists them.
func ReadMinutes(path string) (site []MinuteRow, hosts []HostSeries, err error) {
	rows, err := readParquet[MinuteRow](path)
	if err != nil {
		return nil, nil, err
	}
	by := map[string][]MinuteRow{}
	var order []string
	for _, r := range rows {
		if r.Host == "site" {
			site = append(site, r)
			continue
		}
		if _, ok := by[r.Host]; !ok {
			order = append(order, r.Host)
		}
		by[r.Host] = append(by[r.Host], r)
	}
	for _, h := range order {
		hosts = append(hosts, HostSeries{Host: h, Minutes: by[h]})
	}
	slices.SortStableFunc(site, func(a, b MinuteRow) int { return a.Minute.Compare(b.Minute) })
	return site, hosts, nil
}
