package downloads

import (
	"cmp"
	"math"
	"slices"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/features"
)

// Index is a package mirror's index as downloads are matched against it.
// A client updating its package lists (apt-get update) fetches the
// mirror's Release or InRelease file and index files it lists (Packages.xz)
// over one connection, beside small responses (404 for a file the mirror
// lacks, 304 for one unchanged), so such a connection's payload is the
// responses of some of the index files, whose sizes the Release gives, and
// of a few small responses.
type Index struct {
	cl      *Classifier
	entries []catalog.Entry
}

// Bounds of an index fetch's parts.
const (
	// minIndexFile is the least size of the index file a fit must hold:
	// a fit of small files and small responses alone could be anything.
	minIndexFile = 8 << 10
	// maxSmall is the most small responses a fit holds beside the index
	// files, smallMin and smallBody the least payload of one and the
	// most body beyond the profile's response header.
	maxSmall  = 4
	smallMin  = 100
	smallBody = 1024
	// maxIndexItems bounds the index files a fit is searched among:
	// those of the largest responses that fit the payload; a fit holds at
	// most maxIndexFiles of them.
	maxIndexItems = 12
	maxIndexFiles = 3
)

// NewIndex returns the index of entries (catalog.KindIndex entries of a
// night's catalog) for downloads classified by cl.
func (cl *Classifier) NewIndex(entries []catalog.Entry) *Index {
	return &Index{cl: cl, entries: slices.Clone(entries)}
}

// Len is the number of index files.
func (x *Index) Len() int { return len(x.entries) }

// IndexFit is a download explained as an index fetch.
type IndexFit struct {
	Files []string // the index files, in the index's order
	Small int      // small responses beside them
}

// Fit reports whether d is an index fetch with the index files' sizes
// multiplied by scale (1: as the Release gives them; other scales give a
// null model: how often the night's downloads fit shifted sizes). The
// reverse direction is not used: clients such as apt send requests of
// lengths no profile was calibrated on, so the responses' count is free,
// up to maxSmall small ones. Of several fits the one with the fewest small
// responses is returned. A sampled download never fits.
func (x *Index) Fit(d *features.Download, scale float64) (IndexFit, bool) {
	if d.Sampling > 1 || len(x.entries) == 0 {
		return IndexFit{}, false
	}
	cl := x.cl
	var best IndexFit
	bestRest := int64(math.MaxInt64)
	found := false
	type item struct {
		resp  int64
		entry int
	}
	items := make([]item, 0, len(x.entries))
	for _, pi := range cl.profilesOf(d) {
		p := &cl.Profiles[pi]
		if p.Assumed {
			continue
		}
		o := cl.observe(pi, d)
		conn := int64(p.ConnOverhead())
		target := o.payload - conn
		// The server's offset (its response headers against the lab's)
		// comes with every response: observe took it off once.
		off := cl.offsets[ServerKey{d.Server, d.ServerPort}]
		if target <= 0 {
			continue
		}
		tol := cl.Params.Tolerance
		smallMax := int64(p.RespOverhead) + smallBody
		items = items[:0]
		for i, e := range x.entries {
			size := uint64(math.Round(float64(e.Size) * scale))
			if r := p.Expected(e.Name, size) - conn; r <= target+tol {
				items = append(items, item{r, i})
			}
		}
		slices.SortFunc(items, func(a, b item) int { return cmp.Or(cmp.Compare(b.resp, a.resp), cmp.Compare(a.entry, b.entry)) })
		items = items[:min(len(items), maxIndexItems)]
		var chosen [maxIndexFiles]int
		var walk func(start, depth int, sum int64, big bool)
		walk = func(start, depth int, sum int64, big bool) {
			if depth > 0 && big {
				for small := 0; small <= maxSmall; small++ {
					rest := target - sum - int64(depth+small-1)*off
					lo, hi := int64(small)*smallMin-tol, int64(small)*smallMax+tol
					if rest < lo || rest > hi {
						continue
					}
					if !found || small < best.Small || (small == best.Small && abs64(rest) < bestRest) {
						best, bestRest, found = IndexFit{Small: small}, abs64(rest), true
						for _, k := range chosen[:depth] {
							best.Files = append(best.Files, x.entries[items[k].entry].Name)
						}
					}
					break
				}
			}
			if depth == maxIndexFiles {
				return
			}
			for k := start; k < len(items); k++ {
				if sum+items[k].resp > target+tol {
					continue
				}
				chosen[depth] = k
				walk(k+1, depth+1, sum+items[k].resp, big || float64(x.entries[items[k].entry].Size)*scale >= minIndexFile)
			}
		}
		walk(0, 0, 0, false)
	}
	if found {
		order := map[string]int{}
		for i, e := range x.entries {
			order[e.Name] = i
		}
		slices.SortFunc(best.Files, func(a, b string) int { return cmp.Compare(order[a], order[b]) })
	}
	return best, found
}
