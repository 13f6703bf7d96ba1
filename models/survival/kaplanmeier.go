package survival

import (
	"cmp"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// DefaultAlpha gives 95% confidence intervals.
const DefaultAlpha = 0.05

// Step is the Kaplan–Meier curve at one distinct duration.
type Step struct {
	Time float64
	// AtRisk counts flows with duration ≥ Time; Events and Censored those
	// with duration exactly Time.
	AtRisk, Events, Censored int64
	// Survival is the estimated probability that a flow lives longer than
	// Time; StdErr its Greenwood standard error.
	Survival, StdErr float64
	// Lower and Upper bound the pointwise confidence interval of level
	// 1-Alpha, built on the log(-log) scale (the "exponential Greenwood"
	// interval; the cloglog transform statsmodels' quantile_ci uses by
	// default):
	// Survival^exp(±z·σ) with σ = √(Σ d/(n(n-d))) / |log Survival|. It stays
	// within [0, 1]. Where Survival is 1 the interval is [1, 1]; where it
	// reaches 0, StdErr, Lower and Upper are NaN (as statsmodels).
	Lower, Upper float64
}

// KaplanMeier is the product-limit estimator of the survival function of
// right-censored durations. Set Alpha, call Fit or FitCounts, then read the
// curve.
type KaplanMeier struct {
	// Alpha is the confidence intervals' error level; 0 means
	// DefaultAlpha.
	Alpha float64

	steps  []Step
	events []int // indices of steps with events
	total  int64
	z      float64
}

// Fit estimates the curve from one duration per flow. events[i] tells
// whether flow i ended (true) or was censored; nil means every flow ended.
// weights[i], when not nil, is the number of flows with that duration and
// flag, for callers that hold tied durations once.
func (km *KaplanMeier) Fit(durations []float64, events []bool, weights []int64) error {
	counts, err := countsOf(durations, events, weights)
	if err != nil {
		return err
	}
	return km.fit(counts)
}

// FitCounts estimates the curve from aggregated counts (see Tally), in any
// order; equal times are merged.
func (km *KaplanMeier) FitCounts(counts []Count) error {
	c, err := normalise(counts)
	if err != nil {
		return err
	}
	return km.fit(c)
}

func (km *KaplanMeier) fit(counts []Count) error {
	km.steps, km.events, km.total = nil, nil, 0
	var total int64
	for _, c := range counts {
		total += c.Events + c.Censored
	}
	if total == 0 {
		return ErrEmpty
	}
	km.z = distuv.UnitNormal.Quantile(1 - cmp.Or(km.Alpha, DefaultAlpha)/2)
	steps := make([]Step, len(counts))
	atRisk := total
	logS := 0.0      // log of the survival, summed as statsmodels does
	greenwood := 0.0 // Σ d/(n(n-d))
	dead := false    // survival reached 0
	var events []int
	for i, c := range counts {
		s := Step{Time: c.Time, AtRisk: atRisk, Events: c.Events, Censored: c.Censored}
		if c.Events > 0 {
			events = append(events, i)
			n, d := float64(atRisk), float64(c.Events)
			if c.Events >= atRisk {
				dead = true
			} else {
				logS += math.Log(1 - d/n)
				greenwood += d / (n * (n - d))
			}
		}
		switch {
		case dead:
			s.Survival, s.StdErr, s.Lower, s.Upper = 0, math.NaN(), math.NaN(), math.NaN()
		case logS == 0:
			s.Survival, s.Lower, s.Upper = 1, 1, 1
		default:
			s.Survival = math.Exp(logS)
			s.StdErr = s.Survival * math.Sqrt(greenwood)
			sigma := math.Sqrt(greenwood) / math.Abs(logS)
			s.Lower = math.Exp(logS * math.Exp(km.z*sigma))
			s.Upper = math.Exp(logS * math.Exp(-km.z*sigma))
		}
		steps[i] = s
		atRisk -= c.Events + c.Censored
	}
	km.steps, km.events, km.total = steps, events, total
	return nil
}

// Steps returns the curve: one Step per distinct duration, events or not,
// in increasing order of time.
func (km *KaplanMeier) Steps() []Step { return append([]Step(nil), km.steps...) }

// EventSteps returns the steps where flows ended, the points where the
// curve drops (statsmodels reports these only).
func (km *KaplanMeier) EventSteps() []Step {
	out := make([]Step, len(km.events))
	for i, j := range km.events {
		out[i] = km.steps[j]
	}
	return out
}

// N returns the number of flows fitted.
func (km *KaplanMeier) N() int64 { return km.total }

// At returns the step in force at time t: the last step at or before t.
// Before the first step it returns a step at t with every flow at risk and
// survival 1. Beyond the last duration the curve is undefined and At
// returns the last step.
func (km *KaplanMeier) At(t float64) Step {
	i := sort.Search(len(km.steps), func(i int) bool { return km.steps[i].Time > t })
	if i == 0 {
		return Step{Time: t, AtRisk: km.total, Survival: 1, Lower: 1, Upper: 1}
	}
	return km.steps[i-1]
}

// Survival returns the estimated probability that a flow lives longer than
// t (see At).
func (km *KaplanMeier) Survival(t float64) float64 { return km.At(t).Survival }

// tieTol is the relative distance from 1-p within which a survival counts
// as equal to 1-p: a curve that reaches exactly 0.5 in exact arithmetic
// (90 of 180 flows ended) may come out 0.49999999999999994 after the
// product of many factors.
const tieTol = 1e-10

// Quantile returns the p-quantile of the lifespan: the first event time at
// which survival drops below 1-p (strictly, as SAS and statsmodels; R's
// survfit uses ≤; survival within a relative 1e-10 of 1-p counts as equal
// to it, so rounding does not decide ties). NaN when the curve never drops
// that low.
func (km *KaplanMeier) Quantile(p float64) float64 {
	bound := (1 - p) * (1 - tieTol)
	for _, j := range km.events {
		if km.steps[j].Survival < bound {
			return km.steps[j].Time
		}
	}
	return math.NaN()
}

// QuantileCI returns the Brookmeyer–Crowley confidence interval of the
// p-quantile, as statsmodels' SurvfuncRight.quantile_ci with its default
// cloglog transform: the event times whose pointwise test of S(t) = 1-p,
// on the log(-log) scale, is not rejected at level Alpha. The lower bound
// is the first such time, the upper bound the event time after the last
// one (+Inf when that is the last event time). NaN, NaN when no time
// qualifies.
func (km *KaplanMeier) QuantileCI(p float64) (lower, upper float64) {
	g := func(x float64) float64 { return math.Log(-math.Log(x)) }
	g0 := g(1 - p)
	first, last := -1, -1
	for i, j := range km.events {
		s := km.steps[j]
		// (g(S) - g(1-p)) / (g'(S)·se) with g'(S) = -1/(S log S).
		r := (g(s.Survival) - g0) / (-1 / (s.Survival * math.Log(s.Survival)) * s.StdErr)
		if math.Abs(r) <= km.z {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return math.NaN(), math.NaN()
	}
	lower = km.steps[km.events[first]].Time
	if last == len(km.events)-1 {
		return lower, math.Inf(1)
	}
	return lower, km.steps[km.events[last+1]].Time
}

// Median returns the median lifespan (Quantile(0.5)).
func (km *KaplanMeier) Median() float64 { return km.Quantile(0.5) }

// MedianCI returns the confidence interval of the median (QuantileCI(0.5)).
func (km *KaplanMeier) MedianCI() (lower, upper float64) { return km.QuantileCI(0.5) }
