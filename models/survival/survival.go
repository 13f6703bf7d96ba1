// Package survival estimates how long flows live: Kaplan–Meier survival
// curves of flow durations, with Greenwood standard errors, pointwise
// confidence intervals and the median lifespan with its confidence interval,
// and the log-rank (Mantel–Cox) test of whether groups of flows (by port, by
// exporter, by run) share one lifespan distribution.
//
// A flow is an event when it was seen to end (a TCP FIN or RST, or an idle
// timeout) and censored when its record was cut before the end: by the
// exporter's active timeout or by the end of the time window read. A
// censored flow lived at least its recorded duration; dropping such flows or
// counting them as ended would bias lifespans short.
//
// Inputs may be aggregated: a nightly run sees millions of flows but far
// fewer distinct durations (exporters report milliseconds), so Tally counts
// events and censored flows per duration and memory grows with distinct
// durations only. The estimates follow statsmodels (SurvfuncRight, survdiff);
// the tests require agreement with it to 1e-9 relative on real flow
// durations.
package survival

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

var (
	// ErrInput is returned for a NaN or infinite time, a negative count,
	// or inputs of different lengths.
	ErrInput = errors.New("survival: invalid input")
	// ErrEmpty is returned when there is nothing to estimate: no flows, or
	// for LogRank no events or a group without flows.
	ErrEmpty = errors.New("survival: no data")
	// ErrNotFitted is returned when a result is asked of an estimator that
	// was not fitted.
	ErrNotFitted = errors.New("survival: not fitted")
)

// Count is the number of flows that ended (Events) and that were censored
// (Censored) with duration Time.
type Count struct {
	Time             float64
	Events, Censored int64
}

// Tally aggregates flows by duration. The zero value is ready to use.
type Tally struct {
	m map[float64]*[2]int64
}

// Add counts n flows of the given duration, ended (event) or censored.
func (t *Tally) Add(duration float64, event bool, n int64) error {
	if math.IsNaN(duration) || math.IsInf(duration, 0) || n < 0 {
		return fmt.Errorf("%w: duration %g, count %d", ErrInput, duration, n)
	}
	if n == 0 {
		return nil
	}
	if t.m == nil {
		t.m = make(map[float64]*[2]int64)
	}
	if duration == 0 {
		duration = 0 // -0 and +0 are one key, keep the positive one
	}
	c := t.m[duration]
	if c == nil {
		c = new([2]int64)
		t.m[duration] = c
	}
	if event {
		c[0] += n
	} else {
		c[1] += n
	}
	return nil
}

// Len returns the number of distinct durations.
func (t *Tally) Len() int { return len(t.m) }

// Counts returns the tally in increasing order of duration.
func (t *Tally) Counts() []Count {
	out := make([]Count, 0, len(t.m))
	for d, c := range t.m {
		out = append(out, Count{Time: d, Events: c[0], Censored: c[1]})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Compare(a.Time, b.Time) })
	return out
}

// normalise validates counts and returns them sorted by time with equal
// times merged and empty times dropped.
func normalise(counts []Count) ([]Count, error) {
	out := slices.Clone(counts)
	for i, c := range out {
		if math.IsNaN(c.Time) || math.IsInf(c.Time, 0) || c.Events < 0 || c.Censored < 0 {
			return nil, fmt.Errorf("%w: count %d: %+v", ErrInput, i, c)
		}
	}
	slices.SortStableFunc(out, func(a, b Count) int { return cmp.Compare(a.Time, b.Time) })
	j := 0
	for _, c := range out {
		if c.Events == 0 && c.Censored == 0 {
			continue
		}
		if j > 0 && out[j-1].Time == c.Time {
			out[j-1].Events += c.Events
			out[j-1].Censored += c.Censored
			continue
		}
		out[j] = c
		j++
	}
	return out[:j], nil
}

// countsOf aggregates raw durations; events nil means every flow ended,
// weights nil means one flow per duration.
func countsOf(durations []float64, events []bool, weights []int64) ([]Count, error) {
	if (events != nil && len(events) != len(durations)) || (weights != nil && len(weights) != len(durations)) {
		return nil, fmt.Errorf("%w: %d durations, %d event flags, %d weights", ErrInput, len(durations), len(events), len(weights))
	}
	var t Tally
	for i, d := range durations {
		ev, w := true, int64(1)
		if events != nil {
			ev = events[i]
		}
		if weights != nil {
			w = weights[i]
		}
		if err := t.Add(d, ev, w); err != nil {
			return nil, fmt.Errorf("flow %d: %w", i, err)
		}
	}
	return t.Counts(), nil
}
