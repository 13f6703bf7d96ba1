package clusters

import "fmt"

// AdjustedRand returns the adjusted Rand index of two partitions of the same
// rows: 1 for identical partitions (whatever the label names), about 0 for
// independent ones. Useful to compare clusterings across nights or
// implementations. Two trivial partitions (one cluster each) score 1.
func AdjustedRand(a, b []int) (float64, error) {
	if len(a) != len(b) {
		return 0, fmt.Errorf("%w: %d and %d labels", ErrShape, len(a), len(b))
	}
	if len(a) < 2 {
		return 1, nil
	}
	pairs := func(c int) float64 { return float64(c) * float64(c-1) / 2 }
	joint := make(map[[2]int]int)
	ra := make(map[int]int)
	rb := make(map[int]int)
	for i := range a {
		joint[[2]int{a[i], b[i]}]++
		ra[a[i]]++
		rb[b[i]]++
	}
	var index, sa, sb float64
	for _, c := range joint {
		index += pairs(c)
	}
	for _, c := range ra {
		sa += pairs(c)
	}
	for _, c := range rb {
		sb += pairs(c)
	}
	expected := sa * sb / pairs(len(a))
	maxIndex := (sa + sb) / 2
	if maxIndex == expected {
		return 1, nil
	}
	return (index - expected) / (maxIndex - expected), nil
}
