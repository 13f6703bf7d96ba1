package morning

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
	"github.com/fingerflow/fingerflow/reports"
)

// Night is a nightly run's output directory as the morning report reads
// it: the directory's files (nightdir.Night) and what the report derives
// from them.
type Night struct {
	*nightdir.Night
	// Features are the host feature table's columns the report reads,
	// one row per host in Hosts' order (NaN where the table lacks the
	// host).
	Features  HostFeatures
	Downloads *DownloadSummary
	// Evaluation is evaluation.json (a labelled download evaluation), nil
	// when absent.
	Evaluation *reports.Evaluation
	// Alarms is alarms.json read as the run writes it; nil when absent
	// or of another form (then it is in Records).
	Alarms *nightdir.AlarmsDoc
	// Records are stats.json, and alarms.json when it is not of the
	// run's form, shown as tables of their records; by file name.
	Records map[string]*RecordDoc

	idx map[string]int // hostIndex, built once
}

// HostFeatures are the host table's columns the report reads, row i for
// Night.Hosts[i].
type HostFeatures struct {
	Columns  []string    // clusters.HostColumnNames
	Rows     [][]float64 // clustered features, Columns' order
	BytesIn  []float64
	BytesOut []float64
	Peers    []float64
	Found    []bool // the host is in the table
}

// Bytes is host i's bytes received and sent (NaN when not in the table).
func (f *HostFeatures) Bytes(i int) float64 { return f.BytesIn[i] + f.BytesOut[i] }

// hostTableExtra are the host table's columns the report reads besides
// the clustered ones.
var hostTableExtra = []string{"bytes_in", "bytes_out", "peers"}

// EvaluationFile is the labelled evaluation `fingerflow evaluate
// --report` writes; the morning report shows it when a run directory
// holds one (beside run.json or in evaluation/).
const EvaluationFile = reports.EvaluationFile

// LoadNight reads the run output directory dir (nightdir.Load) and what
// the report derives from it.
func LoadNight(ctx context.Context, dir string) (*Night, error) {
	return loadNight(ctx, dir, nil)
}

// loadNight is LoadNight with the downloads summarised as they were
// written (z), when not nil, instead of read from the directory.
func loadNight(ctx context.Context, dir string, z *DownloadSummarizer) (*Night, error) {
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
	switch {
	case nd.DownloadsPath != "" && z != nil:
		if n.Downloads, err = z.summary(ctx, nd); err != nil {
			return nil, err
		}
	case nd.DownloadsPath != "":
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
		n.Evaluation, err = reports.ReadEvaluationJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		n.Present[filepath.ToSlash(name)] = true
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
	if nd.Alarms != nil {
		if a, err := nightdir.ReadAlarmRecords(nd.Alarms); err == nil {
			n.Alarms = a
		}
	}
	for _, name := range []string{nightdir.StatsFile, nightdir.AlarmsFile} {
		b := nd.Stats
		if name == nightdir.AlarmsFile {
			if n.Alarms != nil {
				continue
			}
			b = nd.Alarms
		}
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
	at := map[string]int{}
	if t != nil {
		for i, a := range t.Addr {
			at[a] = i
		}
	}
	for _, h := range n.Hosts {
		i, ok := at[h.Addr.String()]
		row := make([]float64, len(f.Columns))
		in, out, peers := math.NaN(), math.NaN(), math.NaN()
		if ok {
			for j, c := range f.Columns {
				row[j] = t.Num[c][i]
			}
			in, out, peers = t.Num["bytes_in"][i], t.Num["bytes_out"][i], t.Num["peers"][i]
		}
		f.Rows = append(f.Rows, row)
		f.BytesIn = append(f.BytesIn, in)
		f.BytesOut = append(f.BytesOut, out)
		f.Peers = append(f.Peers, peers)
		f.Found = append(f.Found, ok)
	}
}

// hostIndex maps each host's address text to its index in Hosts.
func (n *Night) hostIndex() map[string]int {
	if n.idx == nil {
		n.idx = make(map[string]int, len(n.Hosts))
		for i, h := range n.Hosts {
			n.idx[h.Addr.String()] = i
		}
	}
	return n.idx
}
