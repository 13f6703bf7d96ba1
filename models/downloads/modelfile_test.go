package downloads_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/labels"
	"github.com/fingerflow/fingerflow/datasets/nfcsv"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/downloads"
)

// labDev holds the labelled lab runs.
const labDev = "../../datasets/lab-dev"

// labExamples reads RUN.nfdump.csv, extracts its downloads and joins them
// with RUN.labels.csv.
func labExamples(t testing.TB, run string) []downloads.Example {
	t.Helper()
	ctx := context.Background()
	var ds []features.Download
	flows := (&nfcsv.Reader{}).Flows(ctx, filepath.Join(labDev, run+".nfdump.csv"))
	for d, err := range features.Downloads(ctx, features.DefaultConfig(), flows) {
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	set, err := labels.Load(context.Background(), filepath.Join(labDev, run+".labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	ex, unlabelled := downloads.Join(ds, set)
	if len(ex) != set.Len() || len(unlabelled) != 0 {
		t.Fatalf("%s: %d labelled and %d unlabelled downloads for %d labels", run, len(ex), len(unlabelled), set.Len())
	}
	return ex
}

func labCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load(context.Background(), filepath.Join(labDev, "cat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// smallOptions are the default training options with a smaller verifier
// bag, to keep the tests quick.
func smallOptions() downloads.TrainOptions {
	o := downloads.DefaultTrainOptions()
	o.Verifier.Trees = 3
	return o
}

// trainSmall trains a model on train-near and returns it with its file.
func trainSmall(t testing.TB) (*downloads.Model, []byte) {
	t.Helper()
	m, err := downloads.Train(context.Background(), labExamples(t, "train-near"), labCatalog(t), smallOptions())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
	}
	return m, buf.Bytes()
}

// The model trained once for the tests of this file (training takes
// seconds).
var (
	sharedOnce  sync.Once
	sharedModel *downloads.Model
	sharedFile  []byte
)

func shared(t testing.TB) (*downloads.Model, []byte) {
	t.Helper()
	sharedOnce.Do(func() { sharedModel, sharedFile = trainSmall(t) })
	if sharedModel == nil {
		t.Fatal("training the shared model failed")
	}
	return sharedModel, sharedFile
}

func classifyAll(m *downloads.Model, ex []downloads.Example) []downloads.Result {
	out := make([]downloads.Result, len(ex))
	for i := range ex {
		out[i] = m.Classify(&ex[i].Download)
	}
	return out
}

// TestModelFileRoundTrip: a model read back from its file gives the same
// answer for every test-near download, and writes the same bytes again.
func TestModelFileRoundTrip(t *testing.T) {
	m, file := shared(t)
	test := labExamples(t, "test-near")
	want := classifyAll(m, test)
	// The answers must be worth comparing: most catalog downloads named.
	if r, err := downloads.Evaluate(context.Background(), "model", m, test); err != nil || accuracy(r) < 0.9 {
		t.Fatalf("accuracy on test-near %.3f, want at least 0.9", accuracy(r))
	}

	got, err := downloads.ReadModel(context.Background(), bytes.NewReader(file), "small.ffm")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, classifyAll(got, test)); diff != "" {
		t.Errorf("answers after the round trip (-want +got):\n%s", diff)
	}
	var again bytes.Buffer
	if _, err := got.WriteTo(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, again.Bytes()) {
		t.Errorf("model written again differs: %d bytes, first %d", again.Len(), len(file))
	}

	// WriteTo and Load go through a file.
	path := filepath.Join(t.TempDir(), "lab.ffm")
	if err := os.WriteFile(path, again.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := downloads.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, classifyAll(loaded, test)); diff != "" {
		t.Errorf("answers after WriteTo/Load (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(m.Summary, loaded.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

// TestModelFileDeterministic: the same data and seed give the same file,
// byte for byte.
func TestModelFileDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a second model (seconds)")
	}
	_, first := shared(t)
	_, second := trainSmall(t)
	if !bytes.Equal(first, second) {
		t.Errorf("two trainings with seed 1 wrote different files (%d and %d bytes)", len(first), len(second))
	}
}

// document decompresses a model file into its magic line and JSON body.
func document(t testing.TB, file []byte) (magic string, doc map[string]any) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	magic, body, ok := strings.Cut(string(raw), "\n")
	if !ok {
		t.Fatal("no magic line")
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber() // keep sizes and thresholds exactly as written
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return magic, doc
}

// edited returns file with its JSON document changed by edit.
func edited(t testing.TB, file []byte, edit func(doc map[string]any)) []byte {
	t.Helper()
	magic, doc := document(t, file)
	edit(doc)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	fmt.Fprintln(zw, magic)
	enc := json.NewEncoder(zw)
	enc.SetIndent("", " ")
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	io.WriteString(zw, s)
	zw.Close()
	return buf.Bytes()
}

// firstTree is the first tree of the verifier's bag in a model document.
func firstTree(doc map[string]any) map[string]any {
	return doc["verifier"].(map[string]any)["Trees"].([]any)[0].(map[string]any)
}

// TestModelFileBad: files that are not usable models give an error that
// wraps downloads.ErrModelFile, names the file and says what is wrong.
func TestModelFileBad(t *testing.T) {
	_, file := shared(t)
	mid := len(file) / 2
	flip := func(at int) []byte {
		b := bytes.Clone(file)
		b[at] ^= 0x20
		return b
	}
	tests := []struct {
		name string
		data []byte
		want string // part of the message
	}{
		{"empty", nil, "no gzip header"},
		{"plain text", []byte("file,size\ncat-000.bin,8587060\n"), "no gzip header"},
		{"gzip of something else", gzipped("file,size\ncat-000.bin,8587060\n"), `missing "fingerflow-model" header line`},
		{"gzip of an empty file", gzipped(""), `missing "fingerflow-model" header line`},
		{"magic line only", gzipped(downloads.ModelMagic + "\n"), "EOF"},
		{"cut in the gzip header", file[:5], "no gzip header"},
		{"cut after the gzip header", file[:10+len("model.json")+1+2], "header line"},
		{"cut at a quarter", file[:len(file)/4], "truncated"},
		{"cut in the middle", file[:mid], "truncated"},
		{"cut in the trailer", file[:len(file)-4], "truncated"},
		{"last byte missing", file[:len(file)-1], "truncated"},
		{"one byte flipped in the middle", flip(mid), ""},
		{"one byte flipped in the checksum", flip(len(file) - 6), "truncated or damaged"},
		{"format version 99", edited(t, file, func(doc map[string]any) { doc["format"] = 99 }),
			fmt.Sprintf("layout version 99 is newer than this fingerflow reads (%d)", downloads.ModelFormat)},
		// A newer layout with fields this version does not know is named
		// by its version, not by the first unknown field.
		{"newer format with a new field", edited(t, file, func(doc map[string]any) {
			doc["format"] = downloads.ModelFormat + 1
			doc["params"].(map[string]any)["Something"] = 1
		}), fmt.Sprintf("layout version %d is newer", downloads.ModelFormat+1)},
		{"negative multi-file chance bound", edited(t, file, func(doc map[string]any) {
			doc["params"].(map[string]any)["MultiMaxChance"] = -1
		}), "multi-file chance bound -1"},
		{"format version 0", edited(t, file, func(doc map[string]any) { doc["format"] = 0 }), "layout version 0"},
		{"features renamed", edited(t, file, func(doc map[string]any) {
			doc["features"].([]any)[0] = "mod_distance"
		}), "retrain"},
		{"feature dropped", edited(t, file, func(doc map[string]any) {
			fs := doc["features"].([]any)
			doc["features"] = fs[:len(fs)-1]
		}), "retrain"},
		{"tree splits on a feature past the last", edited(t, file, func(doc map[string]any) {
			firstTree(doc)["Feature"] = len(downloads.FeatureNames())
		}), fmt.Sprintf("tree splits on feature %d,", len(downloads.FeatureNames()))},
		{"tree splits on feature -1", edited(t, file, func(doc map[string]any) {
			firstTree(doc)["Feature"] = -1
		}), "tree splits on feature -1"},
		{"empty verifier bag", edited(t, file, func(doc map[string]any) {
			doc["verifier"].(map[string]any)["NoRev"] = []any{}
		}), "no trees"},
		{"no verifier", edited(t, file, func(doc map[string]any) { delete(doc, "verifier") }), "no verifier"},
		{"empty catalog", edited(t, file, func(doc map[string]any) { doc["catalog"] = []any{} }), "empty catalog"},
		{"no profiles", edited(t, file, func(doc map[string]any) { doc["profiles"] = []any{} }), "no profiles"},
		{"MSS 0", edited(t, file, func(doc map[string]any) {
			doc["profiles"].([]any)[0].(map[string]any)["MSS"] = 0
		}), "MSS 0 out of range"},
		// Every Params field and every profile number is checked on read.
		{"threshold above 1", edited(t, file, func(doc map[string]any) {
			doc["params"].(map[string]any)["Threshold"] = 1.5
		}), "params: threshold 1.5, want a share in (0, 1]"},
		{"threshold 0", edited(t, file, func(doc map[string]any) {
			doc["params"].(map[string]any)["Threshold"] = 0
		}), "params: threshold 0,"},
		{"no candidates scored", edited(t, file, func(doc map[string]any) {
			doc["params"].(map[string]any)["MaxCandidates"] = 0
		}), "params: MaxCandidates 0"},
		{"negative tolerance", edited(t, file, func(doc map[string]any) {
			doc["params"].(map[string]any)["Tolerance"] = -1
		}), "params: Tolerance -1 bytes"},
		{"MaxExtra 0", edited(t, file, func(doc map[string]any) {
			doc["params"].(map[string]any)["MaxExtra"] = 0
		}), "params: MaxExtra 0"},
		{"MultiMaxExtra 1", edited(t, file, func(doc map[string]any) {
			doc["params"].(map[string]any)["MultiMaxExtra"] = 1
		}), "params: MultiMaxExtra 1"},
		{"negative overhead", edited(t, file, func(doc map[string]any) {
			doc["profiles"].([]any)[0].(map[string]any)["Base"] = -5
		}), `profile "http": overhead -5 bytes`},
		{"segment fill above 1", edited(t, file, func(doc map[string]any) {
			doc["profiles"].([]any)[0].(map[string]any)["Fill"] = 2
		}), `profile "http": segment fill 2`},
		{"negative exact payload", edited(t, file, func(doc map[string]any) {
			doc["profiles"].([]any)[0].(map[string]any)["Exact"].(map[string]any)["cat-000.bin"] = -1
		}), `profile "http": exact payload -1 for "cat-000.bin"`},
		{"two profiles of one name", edited(t, file, func(doc map[string]any) {
			ps := doc["profiles"].([]any)
			doc["profiles"] = append(ps, ps[0])
		}), `two profiles named "http"`},
		{"2^40 files per connection", edited(t, file, func(doc map[string]any) {
			doc["params"].(map[string]any)["MaxFiles"] = 1 << 40
		}), "params: 1099511627776 files per connection"},
		{"unknown field", edited(t, file, func(doc map[string]any) { doc["colour"] = "blue" }), "unknown field"},
		{"baseline names class 1000", edited(t, file, func(doc map[string]any) {
			doc["baseline"].(map[string]any)["tree"].(map[string]any)["LeftLabel"] = 1000
		}), "baseline"},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("bad%02d.ffm", i))
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := downloads.Load(context.Background(), path)
			if err == nil {
				t.Fatalf("loaded a model (%d catalog files)", len(m.Catalog.Entries))
			}
			if !errors.Is(err, downloads.ErrModelFile) {
				t.Errorf("error %q does not wrap ErrModelFile", err)
			}
			if !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("error %q does not start with the file name", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// TestModelFileFlips flips one byte at many places of a real model file:
// every copy is refused (the gzip checksum covers the document), none
// panics.
func TestModelFileFlips(t *testing.T) {
	_, file := shared(t)
	step := max(1, len(file)/97)
	for at := 0; at < len(file); at += step {
		b := bytes.Clone(file)
		b[at] ^= 0x01
		if _, err := downloads.ReadModel(context.Background(), bytes.NewReader(b), "flipped.ffm"); err == nil {
			// A flip in the gzip header's time, OS or name fields
			// leaves the document intact.
			if at >= 4 && at < 10+len("model.json")+1 {
				continue
			}
			t.Errorf("byte %d of %d flipped: loaded without error", at, len(file))
		} else if !errors.Is(err, downloads.ErrModelFile) {
			t.Errorf("byte %d flipped: %v does not wrap ErrModelFile", at, err)
		}
	}
}

// ExampleReadModel shows what a file that is not a model gives.
func ExampleReadModel() {
	_, err := downloads.ReadModel(context.Background(), strings.NewReader("file,size\ncat-000.bin,8587060\n"), "cat.csv")
	fmt.Println(errors.Is(err, downloads.ErrModelFile))
	fmt.Println(err)
	// Output:
	// true
	// cat.csv: not a usable fingerflow model file: no gzip header (gzip: invalid header)
}

// TestModelFileFormat1: a model written before Params.MultiMaxChance
// existed (layout 1) still loads, with the default bound, and answers as a
// layout-2 file with the default does.
func TestModelFileFormat1(t *testing.T) {
	m, file := shared(t)
	old := edited(t, file, func(doc map[string]any) {
		doc["format"] = 1
		delete(doc["params"].(map[string]any), "MultiMaxChance")
	})
	path := filepath.Join(t.TempDir(), "old.ffm")
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	m1, err := downloads.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if m1.Params.MultiMaxChance != 0 || m.Params.MultiMaxChance != downloads.DefaultParams().MultiMaxChance {
		t.Fatalf("bounds %v (layout 1) and %v (layout 2)", m1.Params.MultiMaxChance, m.Params.MultiMaxChance)
	}
	ex := labExamples(t, "test-near")
	if diff := cmp.Diff(classifyAll(m, ex), classifyAll(m1, ex)); diff != "" {
		t.Errorf("answers differ (-layout 2 +layout 1):\n%s", diff)
	}
}

// accuracy is the share of single-file catalog downloads r names correctly.
func accuracy(r *downloads.Report) float64 {
	if r.Known == 0 {
		return 0
	}
	return float64(r.KnownCorrect) / float64(r.Known)
}
