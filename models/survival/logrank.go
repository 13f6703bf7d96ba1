package survival

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// LogRank is the log-rank (Mantel–Cox) test that k ≥ 2 groups of
// right-censored durations share one survival function. At each event time
// the events are shared out among the groups in proportion to the flows
// they have at risk; the statistic compares observed with expected events,
// weighted by the inverse of their hypergeometric covariance, and is
// chi-square distributed with k-1 degrees of freedom under the null
// hypothesis. The first group is left out of the quadratic form, as in
// statsmodels' survdiff (the statistic does not depend on which one). When
// the covariance is singular, as when a group has no flow at risk at any
// event time, its pseudo-inverse is used and the degrees of freedom are its
// rank, as R's survdiff does.
//
// Call Fit, then read the results.
type LogRank struct {
	stat     float64
	df       int
	p        float64
	observed []float64
	expected []float64
	cov      *mat.SymDense
}

// Fit runs the test on groups of aggregated counts (see Tally), one slice
// per group; counts need not be sorted.
func (lr *LogRank) Fit(groups [][]Count) error {
	*lr = LogRank{}
	k := len(groups)
	if k < 2 {
		return fmt.Errorf("%w: %d groups, need 2 or more", ErrInput, k)
	}
	type entry struct {
		Count
		group int
	}
	var all []entry
	atRisk := make([]float64, k)
	for g, counts := range groups {
		c, err := normalise(counts)
		if err != nil {
			return fmt.Errorf("group %d: %w", g, err)
		}
		for _, x := range c {
			all = append(all, entry{x, g})
			atRisk[g] += float64(x.Events + x.Censored)
		}
		if atRisk[g] == 0 {
			return fmt.Errorf("%w: group %d has no flows", ErrEmpty, g)
		}
	}
	slices.SortStableFunc(all, func(a, b entry) int { return cmp.Compare(a.Time, b.Time) })

	obs := make([]float64, k)
	exp := make([]float64, k)
	cov := mat.NewSymDense(k, nil)
	d := make([]float64, k)
	leaving := make([]float64, k)
	for i := 0; i < len(all); {
		j := i
		clear(d)
		clear(leaving)
		for ; j < len(all) && all[j].Time == all[i].Time; j++ {
			e := all[j]
			d[e.group] += float64(e.Events)
			leaving[e.group] += float64(e.Events + e.Censored)
		}
		var n, dt float64
		for g := range k {
			n += atRisk[g]
			dt += d[g]
		}
		if dt > 0 {
			for g := range k {
				obs[g] += d[g]
				exp[g] += dt * atRisk[g] / n
			}
			if n > 1 {
				f := dt * (n - dt) / (n - 1)
				for g := range k {
					rg := atRisk[g] / n
					for h := g; h < k; h++ {
						rh := atRisk[h] / n
						v := -rg * rh
						if g == h {
							v += rg
						}
						cov.SetSym(g, h, cov.At(g, h)+f*v)
					}
				}
			}
		}
		for g := range k {
			atRisk[g] -= leaving[g]
		}
		i = j
	}
	var events float64
	for _, o := range obs {
		events += o
	}
	if events == 0 {
		return fmt.Errorf("%w: no events", ErrEmpty)
	}

	// Quadratic form on groups 1..k-1.
	m := k - 1
	u := mat.NewVecDense(m, nil)
	v := mat.NewSymDense(m, nil)
	for g := 1; g < k; g++ {
		u.SetVec(g-1, obs[g]-exp[g])
		for h := g; h < k; h++ {
			v.SetSym(g-1, h-1, cov.At(g, h))
		}
	}
	var chol mat.Cholesky
	var stat float64
	df := m
	if chol.Factorize(v) {
		var x mat.VecDense
		if err := chol.SolveVecTo(&x, u); err != nil {
			return err
		}
		stat = mat.Dot(u, &x)
	} else {
		var svd mat.SVD
		if !svd.Factorize(v, mat.SVDFull) {
			return fmt.Errorf("survival: log-rank covariance could not be factorised")
		}
		vals := svd.Values(nil)
		var uMat mat.Dense
		svd.UTo(&uMat)
		tol := float64(m) * vals[0] * 1e-12
		df = 0
		for i, s := range vals {
			if s <= tol {
				continue
			}
			df++
			p := mat.Dot(uMat.ColView(i), u)
			stat += p * p / s
		}
		if df == 0 {
			return fmt.Errorf("%w: no information in the groups", ErrEmpty)
		}
	}
	lr.stat, lr.df = stat, df
	lr.p = distuv.ChiSquared{K: float64(df)}.Survival(stat)
	if math.IsNaN(lr.p) {
		lr.p = 1
	}
	lr.observed, lr.expected, lr.cov = obs, exp, cov
	return nil
}

// Statistic returns the chi-square statistic.
func (lr *LogRank) Statistic() float64 { return lr.stat }

// DF returns the degrees of freedom, k-1 unless the covariance is singular.
func (lr *LogRank) DF() int { return lr.df }

// PValue returns the probability of a statistic at least as large under the
// null hypothesis (the chi-square survival function, accurate for tiny
// p-values).
func (lr *LogRank) PValue() float64 { return lr.p }

// Observed returns the events seen in each group.
func (lr *LogRank) Observed() []float64 { return slices.Clone(lr.observed) }

// Expected returns the events each group would have had if all groups
// shared one survival function.
func (lr *LogRank) Expected() []float64 { return slices.Clone(lr.expected) }

// CovarianceTo writes the k×k covariance of observed minus expected events
// into dst.
func (lr *LogRank) CovarianceTo(dst *mat.SymDense) error {
	if lr.cov == nil {
		return ErrNotFitted
	}
	dst.CopySym(lr.cov)
	return nil
}
