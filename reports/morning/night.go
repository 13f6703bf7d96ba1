package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/fingerflow/fingerflow/models/clusters"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// EvaluationFile is the labelled evaluation `fingerflow evaluate --report`
// writes; the morning report shows it when a run directory holds one.
const EvaluationFile = "evaluation.json"

// Night is a nightly run's output directory as the morning report draws
// it: the directory's files (nightdir.Night) and what the report derives
// from them.
type Night struct {
	*nightdir.Night
	// Features are the host feature table's columns the report draws,
	// one row per host in Hosts' order (NaN where the table lacks the host).
	Features  HostFeatures
	Downloads *DownloadSummary
	// Evaluation is evaluation.json (a labelled download evaluation), nil
	// when absent.
	Evaluation *Evaluation
	// Records are stats.json and alarms.json as found, by file name.
	Records map[string]*RecordDoc
}

// HostFeatures are the host table's columns for charts, row i for
// Night.Hosts[i].
type HostFeatures struct {
	Columns []string    // clusters.HostColumnNames
	Rows    [][]float64 // clustered features, Columns' order
	BytesIn []float64
	Bytes   []float64 // in + out
	Share   []float64 // of the site's bytes (site_share)
	Found   []bool    // the host is in the table
}

// hostTableExtra are the host table's columns the report reads besides
// the clustered ones.
var hostTableExtra = []string{"bytes_in", "bytes_out", "site_share"}

// LoadNight reads the run output directory dir (nightdir.Load) and what
// the report derives from it.
func LoadNight(ctx context.Context, dir string) (*Night, error) {
	nd, err := nightdir.Load(ctx, dir)
	if err != nil {
		return nil, err
	}
	n := &Night{Night: nd, Records: map[string]*RecordDoc{}}
	cols := clusters.HostColumnNames()
	for _, c := range hostTableExtra {
		if !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	t, err := nd.HostTable(cols)
	if err != nil {
		return nil, err
	}
	n.joinFeatures(t)
	if nd.DownloadsPath != "" {
		if n.Downloads, err = summariseDownloads(ctx, nd, nd.Catalog); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{EvaluationFile, filepath.Join("evaluation", EvaluationFile)} {
		path := filepath.Join(dir, name)
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		n.Evaluation, err = ReadEvaluationJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		n.Present[name] = true
		break
	}
	if n.Evaluation == nil {
		// Listed where the directory's other files are: before the
		// analytics' records.
		at := len(n.Missing)
		for i, m := range n.Missing {
			if m == nightdir.StatsFile || m == nightdir.AlarmsFile {
				at = i
				break
			}
		}
		n.Missing = slices.Insert(n.Missing, at, EvaluationFile)
	}
	for name, b := range map[string][]byte{nightdir.StatsFile: nd.Stats, nightdir.AlarmsFile: nd.Alarms} {
		if b == nil {
			continue
		}
		doc, err := ReadRecordDoc(bytes.NewReader(b), name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
		}
		n.Records[name] = doc
	}
	return n, nil
}

// joinFeatures puts the host table's rows in the inventory's order.
func (n *Night) joinFeatures(t *nightdir.HostTable) {
	f := &n.Features
	f.Columns = clusters.HostColumnNames()
	if t == nil {
		return
	}
	at := make(map[string]int, len(t.Addr))
	for i, a := range t.Addr {
		at[a] = i
	}
	for _, h := range n.Hosts {
		i, ok := at[h.Addr.String()]
		row := make([]float64, len(f.Columns))
		in, bytes, share := math.NaN(), math.NaN(), math.NaN()
		if ok {
			for j, c := range f.Columns {
				row[j] = t.Num[c][i]
			}
			in, bytes, share = t.Num["bytes_in"][i], t.Num["bytes_in"][i]+t.Num["bytes_out"][i], t.Num["site_share"][i]
		}
		f.Rows = append(f.Rows, row)
		f.BytesIn = append(f.BytesIn, in)
		f.Bytes = append(f.Bytes, bytes)
		f.Share = append(f.Share, share)
		f.Found = append(f.Found, ok)
	}
}
