// Package minutelists keeps a detector's items by the minute they fall
// due, so that a sweep visits only the minutes that have come: lists in
// a map by minute, the latest one at hand (most additions go to the same
// minute), and swept lists emptied and reused. The flood and scan
// detectors both schedule their work this way.
package minutelists

// Lists are items by minute. The zero value is not ready: use New.
type Lists[T any] struct {
	byMinute map[int64]*[]T
	// minute's list in byMinute is cur, the one the latest addition went
	// to (nil when none).
	minute int64
	cur    *[]T
	// spare are swept lists, emptied, to reuse.
	spare []*[]T
}

// New returns empty lists.
func New[T any]() *Lists[T] {
	return &Lists[T]{byMinute: map[int64]*[]T{}}
}

// Add adds x to minute m's list.
func (d *Lists[T]) Add(m int64, x T) {
	l := d.cur
	if l == nil || d.minute != m {
		if l = d.byMinute[m]; l == nil {
			if n := len(d.spare); n > 0 {
				l, d.spare = d.spare[n-1], d.spare[:n-1]
			} else {
				l = new([]T)
			}
			d.byMinute[m] = l
		}
		d.minute, d.cur = m, l
	}
	*l = append(*l, x)
}

// Sweep hands the list of every minute up to and including last to keep,
// in no particular order; keep returns what stays of it, a prefix of the
// list it was given rewritten in place (items[:0] for nothing). A list
// left empty is dropped and its storage reused.
func (d *Lists[T]) Sweep(last int64, keep func(items []T) []T) {
	for m, l := range d.byMinute {
		if m > last {
			continue
		}
		items := *l
		kept := keep(items)
		clear(items[len(kept):])
		*l = kept
		if len(kept) == 0 {
			delete(d.byMinute, m)
			if l == d.cur {
				d.cur = nil
			}
			d.spare = append(d.spare, l)
		}
	}
}

// Reset drops every list.
func (d *Lists[T]) Reset() {
	d.byMinute = map[int64]*[]T{}
	d.cur = nil
}
