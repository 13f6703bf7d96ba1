package morning

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/go-gota/gota/series"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/clusters"
	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
	"github.com/fingerflow/fingerflow/reports/internal/testday"
)

// maxPageBytes is how big the morning report of a 5,000-host night may
// be.
const maxPageBytes = 5 << 20

// writeBigNight writes into dir what fingerflow run would write for a
// day of nhosts hosts and ndownloads downloads (a fixed pseudo-random
// night, same bytes every time), with the run's own writers.
func writeBigNight(t testing.TB, dir string, nhosts, ndownloads int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	start := time.Date(2027, 1, 11, 0, 0, 0, 0, time.UTC)
	write := func(name string, f func(w io.Writer) error) {
		t.Helper()
		fh, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := f(fh); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := fh.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// A catalog of 50 updates of three OS families.
	fams := []string{"debian", "sles", "windows"}
	var entries []catalog.Entry
	for i := range 50 {
		entries = append(entries, catalog.Entry{Name: fmt.Sprintf("cat-%03d.bin", i), Size: uint64(1e6 + rng.IntN(9e7)),
			OS: fams[i%3], Product: fmt.Sprintf("update-%03d", i), Version: "1.0"})
	}
	write(nightdir.CatalogFile, func(w io.Writer) error { return nightdir.WriteCatalogCSV(w, entries) })

	// Hosts: a few with an OS and updates, most unknown; five clusters.
	hosts := make([]features.HostStats, nhosts)
	inv := make([]nightdir.Host, nhosts)
	for i := range hosts {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		in, out := uint64(math.Exp(10+5*rng.Float64())), uint64(math.Exp(8+5*rng.Float64()))
		h := features.HostStats{Addr: a, First: start.Add(time.Duration(rng.IntN(3600)) * time.Second), BytesIn: in, BytesOut: out,
			PacketsIn: in / 1000, PacketsOut: out / 500, FlowsOut: uint64(1 + rng.IntN(3000)), FlowsIn: uint64(rng.IntN(1000)),
			Peers: uint64(1 + rng.IntN(500)), Ports: uint64(1 + rng.IntN(20)), DurationOut: time.Duration(rng.IntN(5000)) * time.Second}
		h.Last = h.First.Add(20 * time.Hour)
		h.ProtoBytes = [4]uint64{in + out, 0, 0, 0}
		h.Rates = features.Rates{Start: h.First, Seconds: 72000, BytesMean: float64(in+out) / 72000, BytesP95: 3 * float64(in+out) / 72000}
		hosts[i] = h
		v := inventory.Verdict{OS: inventory.Unknown, Why: inventory.WhyNoCatalogTraffic, WhyText: "not identified: no download of catalog size"}
		if rng.IntN(50) == 0 {
			f := rng.IntN(3)
			v = inventory.Verdict{OS: fams[f], Confidence: 0.5 + 0.5*rng.Float64()}
			for e := f; e < 50; e += 3 {
				if rng.IntN(3) == 0 {
					v.Updates = append(v.Updates, inventory.Update{Entry: entries[e].Name, OS: fams[f], When: h.First.Add(time.Hour), Kind: inventory.KindDownload})
					v.Evidence = append(v.Evidence, inventory.Evidence{Kind: inventory.KindDownload, OS: fams[f], Files: []string{entries[e].Name},
						Weight: 1, Text: fmt.Sprintf("download named %s (%s); loss-free; chance fit 0.001, counts 3.0", entries[e].Name, fams[f])})
				}
			}
		}
		inv[i] = nightdir.Host{Addr: a, Verdict: v, FirstSeen: h.First, LastSeen: h.Last, TTL: "not recorded",
			Cluster: i % 5, ClusterText: fmt.Sprintf("cluster %d's traits", i%5), Changed: "first night in the history"}
	}
	write(nightdir.InventoryFile, func(w io.Writer) error {
		return nightdir.WriteInventoryJSON(w, nightdir.InventoryMeta{Night: "2027-01-11", First: start, Last: start.Add(24 * time.Hour)}, inv)
	})
	write(nightdir.InventoryCSVFile, func(w io.Writer) error { return nightdir.WriteInventoryCSV(w, inv) })
	df, err := features.HostFrame(hosts)
	if err != nil {
		t.Fatal(err)
	}
	cids := make([]int, nhosts)
	for i := range cids {
		cids[i] = i % 5
	}
	df = df.Mutate(series.New(cids, series.Int, "cluster"))
	write("hosts.parquet", func(w io.Writer) error { return nightdir.WriteFrameParquet(w, df) })
	var crows []nightdir.ClusterRow
	for c := range 5 {
		crows = append(crows, nightdir.ClusterRow{Cluster: c, Size: nhosts / 5, Description: fmt.Sprintf("cluster %d's traits", c), Centroid: make([]float64, len(clusters.HostColumnNames()))})
	}
	write(nightdir.ClustersFile, func(w io.Writer) error { return nightdir.WriteClustersCSV(w, clusters.HostColumnNames(), crows) })

	// A day of site traffic, and the ten busiest hosts' minutes.
	seconds, minutes, _ := testday.Day()
	site := features.SiteStats{Rates: features.Rates{Start: seconds[0].Time}, MinuteStart: minutes[0].Minute}
	for _, s := range seconds {
		site.BytesPerSecond = append(site.BytesPerSecond, s.Bytes)
		site.PacketsPerSecond = append(site.PacketsPerSecond, s.Packets)
	}
	for _, m := range minutes {
		site.BytesPerMinute = append(site.BytesPerMinute, m.Bytes)
		site.PacketsPerMinute = append(site.PacketsPerMinute, m.Packets)
	}
	busy := hosts[:10]
	for i := range busy {
		for j, m := range minutes {
			if j%(i+2) == 0 {
				busy[i].Minutes = append(busy[i].Minutes, features.MinuteRate{Start: m.Minute, Bytes: m.Bytes / float64(5+i), Packets: m.Packets / float64(5+i)})
			}
		}
	}
	write(nightdir.TrafficFile, func(w io.Writer) error { return nightdir.WriteTraffic(w, site) })
	write(nightdir.TrafficMinutesFile, func(w io.Writer) error { return nightdir.WriteMinutes(w, site, busy) })

	// Downloads: one in a hundred named.
	write("downloads.parquet", func(w io.Writer) error {
		dw, err := nightdir.NewDownloadWriter(w, nightdir.FormatParquet)
		if err != nil {
			return err
		}
		for i := range ndownloads {
			h := hosts[rng.IntN(nhosts)]
			r := nightdir.DownloadRow{Start: start.Add(time.Duration(rng.Int64N(int64(24 * time.Hour)))), Client: h.Addr.String(), ClientPort: int32(30000 + i%30000),
				Server: "192.0.2.1", ServerPort: 80, Files: "unknown", Confidence: 0, Status: downloads.StatusUnknown}
			if i%100 == 0 {
				e := entries[rng.IntN(len(entries))]
				r.Files, r.NumFiles, r.Confidence, r.Profile, r.Status = e.Name, 1, 1, "http", downloads.StatusNamed
				r.Bytes = int64(float64(e.Size)*1.0359) + int64(rng.IntN(3000))
			} else {
				r.Bytes = int64(math.Exp(8 + 10*rng.Float64()))
			}
			r.End, r.Packets = r.Start.Add(time.Second), r.Bytes/1500+1
			if err := dw.Write(&r); err != nil {
				return err
			}
		}
		return dw.Close()
	})

	run := map[string]any{
		"night": "2027-01-11", "first_flow": start, "last_flow": start.Add(24*time.Hour - time.Millisecond), "files": 288, "files_skipped": 0,
		"skipped": []any{}, "flows": 10000000, "hosts": nhosts, "downloads": ndownloads, "downloads_named": ndownloads / 100,
		"downloads_unknown": ndownloads - ndownloads/100, "clusters": 5, "seconds": 31.5, "model": "lab.ffm", "catalog": "updates.csv",
		"fingerflow_version": "0.1.0", "history": "fingerflow.db",
	}
	write(nightdir.RunFile, func(w io.Writer) error { return json.NewEncoder(w).Encode(run) })
}

// TestMorningReportBigNight: a night of 5,000 hosts gives a page under
// 5 MB, every host in the inventory table, the full lists linked.
func TestMorningReportBigNight(t *testing.T) {
	dir := t.TempDir()
	writeBigNight(t, dir, 5000, 100_000)
	start := time.Now()
	rep, err := WriteMorningReport(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report of 5,000 hosts and 100,000 downloads: %.2f MB in %v", float64(rep.Bytes)/1e6, time.Since(start).Round(time.Millisecond))
	if rep.Bytes > maxPageBytes {
		t.Errorf("report.html is %d bytes, want at most %d", rep.Bytes, maxPageBytes)
	}
	page, err := os.ReadFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	doc := checkPage(t, dir, page, rep)
	tables := dataTables(t, doc)
	if n := len(tables["inventory-table"].rows); n != 5000 {
		t.Errorf("inventory table has %d rows, want 5000", n)
	}
	if n := len(tables["downloads-named"].rows); n != 1000 {
		t.Errorf("named downloads table has %d rows, want 1000", n)
	}
	if !slices.Equal(rep.Omitted, []string{"fig-changes"}) {
		t.Errorf("charts left out: %q, want only fig-changes (a first night)", rep.Omitted)
	}
}
