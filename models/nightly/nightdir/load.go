package nightdir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fingerflow/fingerflow/datasets/catalog"
)

// Night is a nightly run's output directory as read back by Load. A file
// that is absent leaves its part empty and is named in Missing; a file
// that is present but unreadable is an error naming it.
type Night struct {
	Dir      string
	Run      RunSummary
	Meta     InventoryMeta
	Hosts    []Host
	Clusters []ClusterInfo
	Seconds  []SecondRow  // the site's traffic per second
	Minutes  []MinuteRow  // the site's traffic per minute
	Busiest  []HostSeries // the busiest hosts' traffic per minute, busiest first
	Catalog  []catalog.Entry
	// Score is score.json (the inventory scored against a labelled
	// population), nil when absent.
	Score map[string]any
	// Stats and Alarms are stats.json and alarms.json as written, nil
	// when absent.
	Stats, Alarms []byte
	// HostsPath and DownloadsPath are the host table and the downloads
	// file found ("" when absent); HostTable and EachDownload read them.
	HostsPath, DownloadsPath string
	// Present are the files found, by name; Missing the files looked for
	// and not found (of pairs, the first name).
	Present map[string]bool
	Missing []string
}

// Load reads the run output directory dir. Only run.json is required;
// every other file adds its part when present.
func Load(ctx context.Context, dir string) (*Night, error) {
	n := &Night{Dir: dir, Present: map[string]bool{}}
	path := func(name string) string { return filepath.Join(dir, name) }
	if err := readJSONFile(path(RunFile), &n.Run); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no %s: not the output directory of fingerflow run: %w", dir, RunFile, err)
		}
		return nil, fmt.Errorf("%s: %w", path(RunFile), err)
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
		{[]string{InventoryCSVFile}, func(string) error { return nil }}, // the same hosts as inventory.json
		{[]string{ClustersFile}, func(name string) error {
			f, err := os.Open(path(name))
			if err != nil {
				return err
			}
			defer f.Close()
			n.Clusters, err = ReadClustersCSV(f)
			return err
		}},
		{HostsFiles, func(name string) error { n.HostsPath = path(name); return nil }},
		{[]string{TrafficFile}, func(name string) (err error) {
			n.Seconds, err = ReadTraffic(path(name))
			return err
		}},
		{[]string{TrafficMinutesFile}, func(name string) (err error) {
			n.Minutes, n.Busiest, err = ReadMinutes(path(name))
			return err
		}},
		{[]string{CatalogFile}, func(name string) error {
			c, err := catalog.Load(ctx, path(name))
			if err == nil {
				n.Catalog = c.Entries
			}
			return err
		}},
		{DownloadsFiles, func(name string) error { n.DownloadsPath = path(name); return nil }},
		{[]string{ScoreFile}, func(name string) error { return readJSONFile(path(name), &n.Score) }},
		{[]string{StatsFile}, func(name string) (err error) {
			n.Stats, err = readJSONBytes(path(name))
			return err
		}},
		{[]string{AlarmsFile}, func(name string) (err error) {
			n.Alarms, err = readJSONBytes(path(name))
			return err
		}},
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
	return n, nil
}

// HostTable reads the host table's address and the columns cols; nil
// when the directory has none.
func (n *Night) HostTable(cols []string) (*HostTable, error) {
	if n.HostsPath == "" {
		return nil, nil
	}
	t, err := ReadHostTable(n.HostsPath, cols)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.HostsPath, err)
	}
	return t, nil
}

// EachDownload calls f with every download of the night (none when the
// directory has no downloads file).
func (n *Night) EachDownload(ctx context.Context, f func(r *DownloadRow)) error {
	if n.DownloadsPath == "" {
		return nil
	}
	if err := EachDownload(ctx, n.DownloadsPath, f); err != nil {
		return fmt.Errorf("%s: %w", n.DownloadsPath, err)
	}
	return nil
}

// HasHistory reports whether the run compared its night with the history
// database.
func (n *Night) HasHistory() bool { return n.Run.History != "" }

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// readJSONBytes reads a JSON document whole, checking it is JSON.
func readJSONBytes(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%w: not a JSON document", ErrDamaged)
	}
	return b, nil
}

// DownloadsAt reads the night's downloads at the given row indexes
// (ascending; see the function DownloadsAt).
func (n *Night) DownloadsAt(ctx context.Context, at []int64) ([]DownloadRow, error) {
	if n.DownloadsPath == "" {
		return nil, errors.New("no downloads file")
	}
	rows, err := DownloadsAt(ctx, n.DownloadsPath, at)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.DownloadsPath, err)
	}
	return rows, nil
}
