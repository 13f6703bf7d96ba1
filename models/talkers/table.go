package talkers

// packed is a key packed into 128 bits; the zero value marks an empty
// slot, so every packed key has a tag bit set.
type packed [2]uint64

// slot holds a key and its counts in one 64-byte cache line: a lookup of
// a key already seen touches one line, where a Go map holding an index
// into a separate slice of counts touches two or three. With tens of
// thousands of sources in a day's flows the table outgrows the processor's
// caches and these misses are what counting costs.
type slot struct {
	key packed
	c   counts
}

// table is an open-addressing hash table (linear probing) from packed
// keys to counts. It grows at three-quarters load: the conversation
// statistic of a day holds millions of keys.
type table struct {
	slots []slot
	n     int
	shift uint // 64 - log2(len(slots))
}

const tableMin = 10 // log2 of the initial size

func (t *table) init() {
	t.slots = make([]slot, 1<<tableMin)
	t.shift = 64 - tableMin
}

// home is k's first slot: Fibonacci hashing of the two words.
func (t *table) home(k packed) uint64 {
	return (k[0]*0x9e3779b97f4a7c15 + k[1]*0xc2b2ae3d27d4eb4f) >> t.shift
}

// get returns the counts of k, added empty when new.
func (t *table) get(k packed) *counts {
	mask := uint64(len(t.slots) - 1)
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == k {
			return &s.c
		}
		if s.key == (packed{}) {
			return t.insert(k, i)
		}
	}
}

// addAll counts ds[j] for keys[j], skipping zero keys. It is get in one
// tight loop: the processor then runs ahead to the next keys' slots while
// one is fetched from memory, and with tens of thousands of sources in a
// day's flows those fetches are most of what counting costs (three times
// faster than a call per key on a day of ten million flows).
func (t *table) addAll(keys []packed, ds []dir, durations bool) {
	slots := t.slots
	mask := uint64(len(slots) - 1)
	for j, k := range keys {
		if k == (packed{}) {
			continue
		}
		for i := t.home(k); ; i = (i + 1) & mask {
			s := &slots[i]
			if s.key == k {
				s.c.add(&ds[j], durations)
				break
			}
			if s.key == (packed{}) {
				t.insert(k, i).add(&ds[j], durations)
				slots = t.slots
				mask = uint64(len(slots) - 1)
				break
			}
		}
	}
}

// insert puts k in the empty slot i, or grows the table first.
func (t *table) insert(k packed, i uint64) *counts {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
		return t.get(k)
	}
	t.slots[i].key = k
	t.n++
	return &t.slots[i].c
}

func (t *table) grow() {
	old := t.slots
	t.slots = make([]slot, 2*len(old))
	t.shift--
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if s.key == (packed{}) {
			continue
		}
		i := t.home(s.key)
		for t.slots[i].key != (packed{}) {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// each calls f for every key and its counts, in slot order.
func (t *table) each(f func(packed, *counts)) {
	for i := range t.slots {
		if s := &t.slots[i]; s.key != (packed{}) {
			f(s.key, &s.c)
		}
	}
}
