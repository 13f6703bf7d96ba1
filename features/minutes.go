package features

import (
	"slices"
	"sort"
	"time"
)

// minuteSeries is a host's traffic per active minute, kept as runs of
// consecutive minutes: 8 bytes a minute (float32 bytes and packets, the
// seven significant digits a chart needs) and 8 bytes a run. A host active
// all day costs 11.5 KiB; a quiet one a few runs.
type minuteSeries struct {
	runs []minuteRun // ascending, never adjacent (adjacent runs are merged)
	b, p []float32   // one value per active minute, in time order
	tail int32       // one past the last minute (when runs is not empty)
}

// minuteRun covers the minutes from start on whose values begin at b[off];
// it ends where the next run's values begin.
type minuteRun struct {
	start, off int32
}

// end is one past the last minute of run i.
func (s *minuteSeries) end(i int) int32 {
	next := int32(len(s.b))
	if i+1 < len(s.runs) {
		next = s.runs[i+1].off
	}
	return s.runs[i].start + next - s.runs[i].off
}

// add adds b bytes and p packets to minute m (a Unix minute).
func (s *minuteSeries) add(m int32, b, p float32) {
	k := len(s.runs)
	switch {
	case k == 0 || m > s.tail:
		// A new run after the others: the common case once a host has
		// been idle.
		s.runs = append(s.runs, minuteRun{m, int32(len(s.b))})
		s.push(b, p)
		s.tail = m + 1
		return
	case m == s.tail:
		s.push(b, p) // the minute after the last
		s.tail++
		return
	case m == s.tail-1:
		s.b[len(s.b)-1] += b
		s.p[len(s.p)-1] += p
		return
	}
	// m lies before the end: in a run, or in a gap (late records).
	i := sort.Search(k, func(i int) bool { return s.runs[i].start > m }) - 1
	if i >= 0 && m < s.end(i) {
		j := s.runs[i].off + m - s.runs[i].start
		s.b[j] += b
		s.p[j] += p
		return
	}
	// In the gap between run i (or the beginning) and run i+1.
	pos := int32(0)
	if i >= 0 {
		pos = s.runs[i+1].off
	}
	s.b = slices.Insert(s.b, int(pos), b)
	s.p = slices.Insert(s.p, int(pos), p)
	for r := i + 1; r < k; r++ {
		s.runs[r].off++
	}
	extends := i >= 0 && m == s.end(i)-1 // run i now reaches m: its end moved by the insert
	joins := m+1 == s.runs[i+1].start
	switch {
	case extends && joins:
		s.runs = slices.Delete(s.runs, i+1, i+2)
	case extends:
	case joins:
		s.runs[i+1].start, s.runs[i+1].off = m, pos
	default:
		s.runs = slices.Insert(s.runs, i+1, minuteRun{m, pos})
	}
}

// push appends a minute's values, growing the slices by an eighth (at
// least 16 minutes) rather than doubling them.
func (s *minuteSeries) push(b, p float32) {
	if len(s.b) == cap(s.b) {
		n := len(s.b) + max(len(s.b)/8, 16)
		s.b = append(make([]float32, 0, n), s.b...)
		s.p = append(make([]float32, 0, n), s.p...)
	}
	s.b = append(s.b, b)
	s.p = append(s.p, p)
}

// rates returns the series as MinuteRates.
func (s *minuteSeries) rates() []MinuteRate {
	out := make([]MinuteRate, 0, len(s.b))
	for i, r := range s.runs {
		for m := r.start; m < s.end(i); m++ {
			j := r.off + m - r.start
			out = append(out, MinuteRate{time.Unix(int64(m)*pageSecs, 0).UTC(), float64(s.b[j]), float64(s.p[j])})
		}
	}
	return out
}
