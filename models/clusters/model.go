package clusters

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Defaults of Model's description fields.
const (
	DefaultTraitBound = 0.5
	DefaultMaxTraits  = 2
	DefaultRoleShare  = 0.5
)

// Model clusters a hosts × features table: it fits a Scaler, then KMeans on
// the prepared table, and describes the clusters in words.
type Model struct {
	// Columns names the table's columns, says which are skewed and gives
	// the phrases of Describe. nil treats every column as SkewAuto.
	Columns []Column
	// SkewBound is passed to the Scaler.
	SkewBound float64
	// KMeans holds the k-means settings (K, Src, ...) and, after Fit, the
	// partition of the prepared table.
	KMeans KMeans

	// TraitBound is how far, in standard deviations of the prepared column,
	// a centroid must sit from the overall mean for the column to describe
	// the cluster (default 0.5).
	TraitBound float64
	// MaxTraits bounds the phrases per description (default 2).
	MaxTraits int
	// RoleShare is the share of members that must share a role, strictly
	// exceeded, for the description to name it (default 0.5).
	RoleShare float64

	scaler Scaler
	fitted bool
}

// Fit prepares x and clusters it.
func (m *Model) Fit(x mat.Matrix) error {
	m.fitted = false
	m.scaler = Scaler{Columns: m.Columns, SkewBound: m.SkewBound}
	if err := m.scaler.Fit(x); err != nil {
		return err
	}
	var z mat.Dense
	if err := m.scaler.Transform(&z, x); err != nil {
		return err
	}
	if err := m.KMeans.Fit(&z); err != nil {
		return err
	}
	m.fitted = true
	return nil
}

// Scaler returns the fitted scaler.
func (m *Model) Scaler() *Scaler { return &m.scaler }

// Labels returns each row's cluster, 0 being the largest.
func (m *Model) Labels() []int { return m.KMeans.Labels() }

// CentroidsTo writes the centroids in original units into dst (see
// Scaler.Inverse for log1p columns).
func (m *Model) CentroidsTo(dst *mat.Dense) error {
	if !m.fitted {
		return ErrNotFitted
	}
	var z mat.Dense
	if err := m.KMeans.CentroidsTo(&z); err != nil {
		return err
	}
	return m.scaler.Inverse(dst, &z)
}

// Predict assigns new rows, in original units, to the nearest centroid.
func (m *Model) Predict(x mat.Matrix) ([]int, error) {
	if !m.fitted {
		return nil, ErrNotFitted
	}
	var z mat.Dense
	if err := m.scaler.Transform(&z, x); err != nil {
		return nil, err
	}
	return m.KMeans.Predict(&z)
}

// Trait is one column that sets a cluster apart.
type Trait struct {
	Column string
	// Z is the centroid's value in the prepared column: standard deviations
	// from the overall mean (after log1p where the Scaler took it).
	Z      float64
	Phrase string
}

// Description is a cluster in words.
type Description struct {
	Cluster int
	Size    int
	// Traits are the columns whose centroid value is at least TraitBound
	// from the overall mean, strongest first, at most MaxTraits.
	Traits []Trait
	// Role is the role most members share when their share exceeds
	// RoleShare; "" otherwise. RoleShare is the share of that role.
	Role      string
	RoleShare float64
	// Text joins "servers on <role>" and the traits' distinct phrases, or
	// says "typical hosts" when nothing stands out.
	Text string
}

// Describe puts each cluster into words from its centroid against the
// overall distribution and, when roles is not nil, from the role its
// members share (one per row, such as "53/udp" for a host serving DNS, ""
// for none). The wording is deterministic: traits are ordered by distance
// from the mean, ties by column order; role ties go to the smaller string.
func (m *Model) Describe(roles []string) ([]Description, error) {
	if !m.fitted {
		return nil, ErrNotFitted
	}
	labels := m.KMeans.labels
	if roles != nil && len(roles) != len(labels) {
		return nil, fmt.Errorf("%w: %d roles for %d rows", ErrShape, len(roles), len(labels))
	}
	bound := cmp.Or(m.TraitBound, DefaultTraitBound)
	maxTraits := cmp.Or(m.MaxTraits, DefaultMaxTraits)
	roleShare := cmp.Or(m.RoleShare, DefaultRoleShare)
	k, d := m.KMeans.k, m.KMeans.d
	sizes := m.KMeans.Sizes()
	out := make([]Description, k)
	for c := range k {
		desc := Description{Cluster: c, Size: sizes[c]}
		centre := m.KMeans.centroids[c*d : (c+1)*d]
		for j, z := range centre {
			if math.Abs(z) < bound {
				continue
			}
			desc.Traits = append(desc.Traits, Trait{Column: m.columnName(j), Z: z, Phrase: m.phrase(j, z > 0)})
		}
		slices.SortStableFunc(desc.Traits, func(a, b Trait) int {
			return cmp.Compare(math.Abs(b.Z), math.Abs(a.Z))
		})
		if len(desc.Traits) > maxTraits {
			desc.Traits = desc.Traits[:maxTraits]
		}
		var parts []string
		if roles != nil && sizes[c] > 0 {
			count := make(map[string]int)
			for i, l := range labels {
				if l == c && roles[i] != "" {
					count[roles[i]]++
				}
			}
			best, bn := "", 0
			for r, n := range count {
				if n > bn || (n == bn && r < best) {
					best, bn = r, n
				}
			}
			if share := float64(bn) / float64(sizes[c]); bn > 0 && share > roleShare {
				desc.Role, desc.RoleShare = best, share
				parts = append(parts, "servers on "+best)
			}
		}
		for _, t := range desc.Traits {
			if !slices.Contains(parts, t.Phrase) {
				parts = append(parts, t.Phrase)
			}
		}
		desc.Text = strings.Join(parts, ", ")
		if desc.Text == "" {
			desc.Text = "typical hosts"
		}
		out[c] = desc
	}
	return out, nil
}

func (m *Model) columnName(j int) string {
	if m.Columns != nil && m.Columns[j].Name != "" {
		return m.Columns[j].Name
	}
	return fmt.Sprintf("column %d", j)
}

func (m *Model) phrase(j int, high bool) string {
	var p string
	if m.Columns != nil {
		p = m.Columns[j].Low
		if high {
			p = m.Columns[j].High
		}
	}
	if p != "" {
		return p
	}
	if high {
		return "high " + m.columnName(j)
	}
	return "low " + m.columnName(j)
}
