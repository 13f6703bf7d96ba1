package minutelists

import (
	"slices"
	"testing"
)

// TestLists: items come back by minute, a sweep reaches only the minutes
// up to its last, what keep returns stays for the next sweep, and emptied
// lists are reused.
func TestLists(t *testing.T) {
	d := New[int]()
	for _, x := range []int{10, 11, 20, 12, 30, 21} {
		d.Add(int64(x/10), x)
	}
	var seen []int
	d.Sweep(2, func(items []int) []int {
		keep := items[:0]
		for _, x := range items {
			seen = append(seen, x)
			if x%2 == 1 {
				keep = append(keep, x)
			}
		}
		return keep
	})
	slices.Sort(seen)
	if want := []int{10, 11, 12, 20, 21}; !slices.Equal(seen, want) {
		t.Fatalf("first sweep saw %v, want %v", seen, want)
	}
	seen = nil
	d.Sweep(3, func(items []int) []int {
		seen = append(seen, items...)
		return items[:0]
	})
	slices.Sort(seen)
	if want := []int{11, 21, 30}; !slices.Equal(seen, want) {
		t.Fatalf("second sweep saw %v, want the kept 11 and 21 and 30", seen)
	}
	if len(d.byMinute) != 0 || len(d.spare) != 3 || d.cur != nil {
		t.Fatalf("after sweeping all: %d lists, %d spare, current %v", len(d.byMinute), len(d.spare), d.cur)
	}
	d.Add(5, 50)
	if len(d.spare) != 2 || len(*d.byMinute[5]) != 1 {
		t.Errorf("a new minute did not reuse a spare list: %d spare", len(d.spare))
	}
	d.Reset()
	d.Sweep(100, func(items []int) []int { t.Fatalf("swept %v after Reset", items); return nil })
}
