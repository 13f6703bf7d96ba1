package nightdir

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/fingerflow/fingerflow/datasets/catalog"
)

// catalogColumns are the columns of WriteCatalogCSV, names catalog.ReadCSV
// reads back.
var catalogColumns = [...]string{"file", "size", "product", "version", "os", "os_version", "released", "kind"}

// WriteCatalogCSV writes catalog entries as a CSV catalog that
// catalog.Load reads back: file, size, product, version, os, os_version
// released (RFC 3339, UTC; empty when unknown) and kind ("index" for a
// mirror's index files). The nightly run
// writes the catalog it used beside its results, so that its report can
// be made again from the directory alone.
func WriteCatalogCSV(w io.Writer, entries []catalog.Entry) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(catalogColumns[:]); err != nil {
		return err
	}
	for _, e := range entries {
		released := ""
		if !e.Released.IsZero() {
			released = e.Released.UTC().Format(time.RFC3339)
		}
		if err := cw.Write([]string{e.Name, strconv.FormatUint(e.Size, 10), e.Product, e.Version, e.OS, e.OSVersion, released, e.Kind}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
