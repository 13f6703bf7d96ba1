package nightly

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/go-gota/gota/series"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/clusters"
	"github.com/fingerflow/fingerflow/models/downloads"
	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// Night is what a night's run found: the inventory, the host table and
// clusters, the site's traffic, the analytics, and the summary of what
// was read. Write puts it into a run directory.
type Night struct {
	Summary nightdir.RunSummary
	Meta    nightdir.InventoryMeta
	// Hosts is the inventory, one row per internal host, by address.
	Hosts []nightdir.Host
	// HostStats is the host table, by address, without the hosts'
	// minutes; Busiest are the hosts with the most bytes, busiest first,
	// with theirs.
	HostStats []features.HostStats
	Busiest   []features.HostStats
	Site      features.SiteStats
	// Clusters is nil when the hosts were too few to cluster.
	Clusters *clusters.HostClusters
	Catalog  *catalog.Catalog
	// Offsets are the servers' payload offsets the classifier adopted.
	Offsets []downloads.ServerOffset
	// OSAware is false when the catalog names no OS family: updates are
	// listed, no host gets an OS.
	OSAware bool
	// Alarms are the detectors' findings; Analytics holds the statistics
	// (nil for a night computed where its flows are: RunPushed).
	Alarms    nightdir.Alarms
	Analytics *Analytics
	// Score is the inventory scored against Config.Truth (nil without).
	Score *inventory.Scorecard
	// Read is what reading the source saw.
	Read datasets.ReadStats
}

// Write writes the night's files into w (all but the downloads, which
// Run handed to its sink): the inventory as CSV and JSON, the host table
// with each host's cluster (Parquet, or CSV when csv is set), the
// clusters, the site's traffic per second and per minute, the catalog,
// the analytics (when computed) and, with a truth, the score. run.json comes last.
func (n *Night) Write(w *nightdir.Writer, csv bool) error {
	if err := w.Write(nightdir.InventoryCSVFile, func(f io.Writer) error { return nightdir.WriteInventoryCSV(f, n.Hosts) }); err != nil {
		return err
	}
	if err := w.Write(nightdir.InventoryFile, func(f io.Writer) error { return nightdir.WriteInventoryJSON(f, n.Meta, n.Hosts) }); err != nil {
		return err
	}
	if err := n.writeHostTable(w, csv); err != nil {
		return err
	}
	if err := w.Write(nightdir.TrafficFile, func(f io.Writer) error { return nightdir.WriteTraffic(f, n.Site) }); err != nil {
		return err
	}
	if err := w.Write(nightdir.TrafficMinutesFile, func(f io.Writer) error {
		return nightdir.WriteMinutes(f, n.Site, n.Busiest)
	}); err != nil {
		return err
	}
	var rows []nightdir.ClusterRow
	if hcl := n.Clusters; hcl != nil {
		for i, d := range hcl.Descriptions {
			rows = append(rows, nightdir.ClusterRow{Cluster: d.Cluster, Size: d.Size, Description: d.Text, Centroid: hcl.Centroids[i]})
		}
	}
	if err := w.Write(nightdir.ClustersFile, func(f io.Writer) error {
		return nightdir.WriteClustersCSV(f, clusters.HostColumnNames(), rows)
	}); err != nil {
		return err
	}
	if err := w.Write(nightdir.CatalogFile, func(f io.Writer) error { return nightdir.WriteCatalogCSV(f, n.Catalog.Entries) }); err != nil {
		return err
	}
	if n.Analytics != nil {
		lives, err := n.Analytics.Lifespans()
		if err != nil {
			return err
		}
		if err := w.Write(nightdir.StatsFile, func(f io.Writer) error {
			return nightdir.WriteStatsRecords(f, n.Analytics.Talkers(), lives)
		}); err != nil {
			return err
		}
		if err := w.Write(nightdir.AlarmsFile, func(f io.Writer) error { return nightdir.WriteAlarmRecords(f, n.Alarms) }); err != nil {
			return err
		}
	}
	if n.Score != nil {
		if err := w.Write(nightdir.ScoreFile, func(f io.Writer) error { return writeJSON(f, n.Score) }); err != nil {
			return err
		}
	}
	return w.Write(nightdir.RunFile, func(f io.Writer) error { return writeJSON(f, n.Summary) })
}

// writeHostTable writes the host feature table with each host's cluster
// (-1: not clustered).
func (n *Night) writeHostTable(w *nightdir.Writer, csv bool) error {
	df, err := features.HostFrame(n.HostStats)
	if err != nil {
		return err
	}
	// The frame keeps the table's order, which is the inventory's.
	if df.Nrow() != len(n.Hosts) {
		return fmt.Errorf("host table of %d rows for %d hosts", df.Nrow(), len(n.Hosts))
	}
	cids := make([]int, df.Nrow())
	for i := range cids {
		cids[i] = n.Hosts[i].Cluster
	}
	df = df.Mutate(series.New(cids, series.Int, "cluster"))
	if csv {
		return w.Write(nightdir.HostsCSVFile, func(f io.Writer) error { return df.WriteCSV(f) })
	}
	return w.Write(nightdir.HostsFile, func(f io.Writer) error { return nightdir.WriteFrameParquet(f, df) })
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
