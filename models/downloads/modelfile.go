package downloads

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/catalog"
)

// Model files are gzip-compressed JSON documents that start with a fixed
// magic line, so `zcat model.ffm | head` shows what a file is. The document
// carries the catalog, the calibrated profiles, the verifier trees, the
// feature list, the search parameters and a training summary, and it is
// validated field by field on load.

// ModelMagic is the first line of an uncompressed model document.
const ModelMagic = "fingerflow-model"

// ModelFormat is the version of the model file layout this code writes. It
// reads this one and every older one: format 2 added
// Params.MultiMaxChance, which format 1 files lack (they get the default).
const ModelFormat = 2

// ErrModelFile marks model files that are not usable (corrupt, foreign,
// from an incompatible version).
var ErrModelFile = errors.New("not a usable fingerflow model file")

type modelDoc struct {
	Format   int             `json:"format"`
	Features []string        `json:"features"`
	Summary  Summary         `json:"summary"`
	Params   Params          `json:"params"`
	Profiles []Profile       `json:"profiles"`
	Catalog  []catalog.Entry `json:"catalog"`
	Verifier *Verifier       `json:"verifier"`
	Baseline *Baseline       `json:"baseline,omitempty"`
}

// WriteTo writes the model file to w.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	zw := gzip.NewWriter(cw)
	zw.Name = "model.json"
	doc := modelDoc{
		Format: ModelFormat, Features: featureNames[:], Summary: m.Summary, Params: m.Params,
		Profiles: m.Profiles, Catalog: m.Catalog.Entries, Verifier: m.Verifier, Baseline: m.Baseline,
	}
	if _, err := io.WriteString(zw, ModelMagic+"\n"); err != nil {
		return cw.n, err
	}
	enc := json.NewEncoder(zw)
	enc.SetIndent("", " ")
	if err := enc.Encode(&doc); err != nil {
		return cw.n, err
	}
	err := zw.Close()
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Load reads and validates a model file.
func Load(ctx context.Context, path string) (*Model, error) {
	f, err := datasets.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadModel(ctx, f, path)
}

// maxModelSize bounds how much a model document may decompress to.
const maxModelSize = 1 << 30

// ReadModel reads a model file from r; name is used in errors.
func ReadModel(ctx context.Context, r io.Reader, name string) (*Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", name, ErrModelFile, fmt.Sprintf(format, args...))
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, bad("no gzip header (%v)", err)
	}
	br := bufio.NewReader(io.LimitReader(zr, maxModelSize))
	line, err := br.ReadString('\n')
	if err != nil || line != ModelMagic+"\n" {
		return nil, bad("missing %q header line", ModelMagic)
	}
	// The layout version is read first and leniently, so that a file from
	// a newer fingerflow is named as such rather than by its first field
	// this version does not know.
	var raw json.RawMessage
	if err := json.NewDecoder(br).Decode(&raw); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) {
			return nil, bad("truncated or damaged: %v", err)
		}
		return nil, bad("%v", err)
	}
	var head struct {
		Format  int `json:"format"`
		Summary struct {
			Version string `json:"fingerflow_version"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, bad("%v", err)
	}
	if head.Format > ModelFormat {
		return nil, bad("layout version %d is newer than this fingerflow reads (%d); it was made by fingerflow %s", head.Format, ModelFormat, head.Summary.Version)
	}
	var doc modelDoc
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, bad("%v", err)
	}
	switch {
	case doc.Format < 1:
		return nil, bad("layout version %d", doc.Format)
	case !slices.Equal(doc.Features, featureNames[:]):
		return nil, bad("features %v, this fingerflow computes %v (retrain with this version)", doc.Features, featureNames)
	case len(doc.Catalog) == 0:
		return nil, bad("empty catalog")
	case len(doc.Profiles) == 0:
		return nil, bad("no profiles")
	case doc.Verifier == nil:
		return nil, bad("no verifier")
	}
	if err := doc.Params.Validate(); err != nil {
		return nil, bad("%v", err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return nil, bad("truncated or damaged: %v", err)
	}
	names := map[string]bool{}
	for i := range doc.Profiles {
		p := &doc.Profiles[i]
		if err := p.Validate(); err != nil {
			return nil, bad("%v", err)
		}
		if names[p.Name] {
			return nil, bad("two profiles named %q", p.Name)
		}
		names[p.Name] = true
	}
	if err := doc.Verifier.check(); err != nil {
		return nil, bad("%v", err)
	}
	cat, err := catalog.New(doc.Catalog)
	if err != nil {
		return nil, bad("catalog: %v", err)
	}
	if b := doc.Baseline; b != nil {
		if b.Tree == nil || len(b.Files) == 0 {
			return nil, bad("baseline without tree or files")
		}
		if err := b.Tree.checkClasses(0, len(b.Files)); err != nil {
			return nil, bad("baseline: %v", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := &Model{Catalog: cat, Profiles: doc.Profiles, Verifier: doc.Verifier, Baseline: doc.Baseline, Params: doc.Params, Summary: doc.Summary}
	m.buildIndex()
	return m, nil
}
