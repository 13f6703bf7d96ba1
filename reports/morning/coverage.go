package morning

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fingerflow/fingerflow/datasets/catalog"
)

// family is one OS family of the catalog: its updates, the hosts the
// inventory gives it, how they fetched its updates, and what hosts
// without an OS did with its files. A family without identified hosts is
// not a family without hosts: hosts whose OS could not be identified may
// run it, and the page says how many of them fetched its files.
type family struct {
	os      string
	entries []catalog.Entry // its updates, by name
	hosts   []int           // indices of the hosts given this OS
	// per entry (by name): the identified hosts that fetched it, may
	// have, and miss it.
	fetched, possible, missing map[string][]int
	// unidentified are the hosts without an OS that fetched or may have
	// fetched one of its files: unDownload those with a named or
	// chance-level download of one (unNamed and unChance count the
	// downloads; unByEntry the hosts per entry), the others only with a
	// possibly fetched entry.
	unidentified       []int
	unDownload         []int
	unNamed, unChance  int
	unByEntry          map[string]int
	behind, missingAll int // hosts missing at least one update; missing in all
	possibleHosts      int // hosts that may have fetched one they are not known to have
	// earlierBehind are the hosts without an OS this night that miss its
	// updates by the family an earlier night gave them (the history's
	// answer, as fingerflow missing gives it), earlierMissing what they
	// miss in all, earlierEntries which; they are not in hosts, missing,
	// behind or missingAll, which are this night's.
	earlierBehind, earlierMissing int
	earlierEntries                map[string]bool
}

// distinctMissing is how many of its updates some host misses, by this
// night's OS or an earlier one's.
func (f *family) distinctMissing() int {
	n := len(f.missing)
	for e := range f.earlierEntries {
		if _, ok := f.missing[e]; !ok {
			n++
		}
	}
	return n
}

// families works out, per OS family of the catalog, coverage of its
// updates, and fills each host's missing and possibly fetched entries.
// A host misses an update of its family when it is neither among its
// updates nor its possibly fetched entries and was released before the
// host was last seen (what `fingerflow missing` answers for a first
// night); a run that filled the hosts' missing updates from the history
// (run.json missing_from_history) is taken at its word.
func (r *report) families() []*family {
	n := r.n
	ups := r.updates()
	by := map[string]*family{}
	get := func(os string) *family {
		f := by[os]
		if f == nil {
			f = &family{os: os, fetched: map[string][]int{}, possible: map[string][]int{}, missing: map[string][]int{}, unByEntry: map[string]int{}}
			by[os] = f
		}
		return f
	}
	for _, e := range n.Catalog {
		if e.Kind == catalog.KindIndex || e.OS == "" {
			continue
		}
		f := get(strings.ToLower(e.OS))
		f.entries = append(f.entries, e)
	}
	osOf := func(entry string) string { return strings.ToLower(ups[entry].OS) }
	seen := map[string]bool{} // family, host (and entry), as text
	markUn := func(os string, i int, entry string, download bool) {
		if os == "" {
			return
		}
		f := get(os)
		if k := fmt.Sprint(os, "\x00", i); !seen[k] {
			seen[k] = true
			f.unidentified = append(f.unidentified, i)
		}
		if !download {
			return
		}
		if k := fmt.Sprint(os, "\x00", i, "\x00d"); !seen[k] {
			seen[k] = true
			f.unDownload = append(f.unDownload, i)
		}
		if k := fmt.Sprint(os, "\x00", i, "\x00", entry); !seen[k] {
			seen[k] = true
			f.unByEntry[entry]++
		}
	}
	for i, h := range n.Hosts {
		fa := &r.facts[i]
		if fa.os == "" {
			for _, u := range h.Verdict.Updates {
				markUn(osOf(u.Entry), i, u.Entry, true)
			}
			for _, p := range h.Verdict.Possible {
				markUn(cmp.Or(strings.ToLower(p.OS), osOf(p.Entry)), i, p.Entry, false)
			}
			if n.Run.MissingFromHistory && len(h.Missing) > 0 {
				// Behind by the OS an earlier night gave it.
				fa.missing = slices.Clone(h.Missing)
				slices.Sort(fa.missing)
				os := ""
				for _, e := range fa.missing {
					if os = osOf(e); os != "" {
						break
					}
				}
				if os != "" {
					f := get(os)
					if f.earlierEntries == nil {
						f.earlierEntries = map[string]bool{}
					}
					for _, e := range fa.missing {
						f.earlierEntries[e] = true
					}
					f.earlierBehind++
					f.earlierMissing += len(fa.missing)
				}
			}
			continue
		}
		f := get(fa.os)
		f.hosts = append(f.hosts, i)
		got := map[string]bool{}
		for _, u := range h.Verdict.Updates {
			if !got[u.Entry] && osOf(u.Entry) == fa.os {
				f.fetched[u.Entry] = append(f.fetched[u.Entry], i)
			}
			got[u.Entry] = true
		}
		maybe := map[string]bool{}
		for _, p := range h.Verdict.Possible {
			if got[p.Entry] || maybe[p.Entry] || osOf(p.Entry) != fa.os {
				continue
			}
			maybe[p.Entry] = true
			fa.possible = append(fa.possible, p.Entry)
			f.possible[p.Entry] = append(f.possible[p.Entry], i)
		}
		if n.Run.MissingFromHistory {
			fa.missing = slices.Clone(h.Missing)
		} else {
			for _, e := range f.entries {
				if got[e.Name] || maybe[e.Name] || (!e.Released.IsZero() && !h.LastSeen.IsZero() && e.Released.After(h.LastSeen)) {
					continue
				}
				fa.missing = append(fa.missing, e.Name)
			}
		}
		slices.Sort(fa.missing)
		slices.Sort(fa.possible)
		for _, e := range fa.missing {
			f.missing[e] = append(f.missing[e], i)
		}
		if len(fa.missing) > 0 {
			f.behind++
			f.missingAll += len(fa.missing)
		}
		if len(fa.possible) > 0 {
			f.possibleHosts++
		}
	}
	// Downloads of a family's files by hosts without an OS.
	if d := n.Downloads; d != nil {
		idx := n.hostIndex()
		for st, rows := range [][]NamedDownload{d.NamedRows, d.ChanceRows} {
			for _, row := range rows {
				i, ok := idx[row.Row.Client]
				if !ok || r.facts[i].os != "" {
					continue
				}
				for file := range strings.SplitSeq(row.Row.Files, "+") {
					os := osOf(file)
					if os == "" {
						continue
					}
					markUn(os, i, file, true)
					if st == statusNamed {
						get(os).unNamed++
					} else {
						get(os).unChance++
					}
				}
			}
		}
	}
	out := make([]*family, 0, len(by))
	for _, f := range by {
		slices.Sort(f.unidentified)
		slices.Sort(f.unDownload)
		slices.SortFunc(f.entries, func(a, b catalog.Entry) int { return cmp.Compare(a.Name, b.Name) })
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *family) int {
		return cmp.Or(cmp.Compare(len(b.hosts), len(a.hosts)), cmp.Compare(len(b.unidentified), len(a.unidentified)), cmp.Compare(a.os, b.os))
	})
	return out
}

// unidentifiedText says what hosts without an OS did with a family's
// files: "OS not identified: 6 hosts with 8 downloads of debian files (at
// chance level: not counted as fetched), and 37 more whose traffic fits
// debian files among other combinations", or "" when none did.
func (f *family) unidentifiedText() string {
	if len(f.unidentified) == 0 {
		return ""
	}
	d := f.unNamed + f.unChance
	s := "OS not identified: "
	if len(f.unDownload) > 0 {
		s += fmt.Sprintf("%s with %s of %s files", plural(len(f.unDownload), "host", "hosts"), plural(d, "download", "downloads"), f.os)
		switch {
		case f.unNamed == 0:
			s += " (at chance level: not counted as fetched)"
		case f.unChance > 0:
			s += fmt.Sprintf(" (%d of them at chance level)", f.unChance)
		}
	}
	if rest := len(f.unidentified) - len(f.unDownload); rest > 0 {
		if len(f.unDownload) > 0 {
			s += fmt.Sprintf(", and %d more", rest)
		} else {
			s += plural(rest, "host", "hosts")
		}
		s += fmt.Sprintf(" whose traffic fits %s files among other combinations", f.os)
	}
	return s
}

// summaryText is a family's line above its coverage: its hosts and what
// they miss, and what hosts without an OS did with its files.
func (f *family) summaryText() string {
	var parts []string
	n := len(f.hosts)
	switch {
	case n == 0:
		parts = append(parts, fmt.Sprintf("No host was identified as %s, so which %s updates hosts lack is not known.", f.os, f.os))
	case f.behind == 0:
		parts = append(parts, fmt.Sprintf("%s identified as %s; none misses one of its %s updates in the catalog.", plural(n, "host", "hosts"), f.os, countText(len(f.entries))))
	default:
		parts = append(parts, fmt.Sprintf("%s identified as %s; %s of them miss some of its %s in the catalog (%s missing in all).",
			plural(n, "host", "hosts"), f.os, countText(f.behind), plural(len(f.entries), "update", "updates"), countText(f.missingAll)))
	}
	if f.possibleHosts > 0 {
		parts = append(parts, fmt.Sprintf("%s may have fetched updates they are not known to have (possibly fetched: their traffic fits them among other combinations).",
			plural(f.possibleHosts, "host", "hosts")))
	}
	if u := f.unidentifiedText(); u != "" {
		parts = append(parts, u+".")
	} else if n == 0 {
		parts = append(parts, fmt.Sprintf("No download or connection of a host fits a %s file.", f.os))
	}
	return strings.Join(parts, " ")
}

// coverageRows are a family's entries as coverage bars: fetched,
// possibly fetched and missing among its hosts, most fetched first.
func (f *family) coverageRows() []catalog.Entry {
	es := slices.Clone(f.entries)
	slices.SortStableFunc(es, func(a, b catalog.Entry) int {
		return cmp.Or(cmp.Compare(len(f.fetched[b.Name]), len(f.fetched[a.Name])),
			cmp.Compare(len(f.possible[b.Name]), len(f.possible[a.Name])), cmp.Compare(a.Name, b.Name))
	})
	return es
}

// coverageCSV writes coverage.csv: per update of the catalog, its
// family's hosts that fetched it, may have and miss it, and how many
// hosts without an OS downloaded it (named or at chance level).
func (r *report) coverageCSV() error {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.Write([]string{"entry", "os", "product", "version", "released", "hosts_of_os", "fetched", "possibly_fetched", "missing", "share_fetched",
		"downloaded_by_hosts_without_os", "fetched_by", "possibly_fetched_by", "missing_by"})
	addrs := func(is []int) string {
		var ss []string
		for _, i := range is {
			ss = append(ss, r.n.Hosts[i].Addr.String())
		}
		return strings.Join(ss, " ")
	}
	for _, f := range r.fams {
		for _, e := range f.entries {
			share := ""
			if len(f.hosts) > 0 {
				share = strconv.FormatFloat(float64(len(f.fetched[e.Name]))/float64(len(f.hosts)), 'f', 4, 64)
			}
			released := ""
			if !e.Released.IsZero() {
				released = e.Released.UTC().Format("2006-01-02")
			}
			cw.Write([]string{e.Name, f.os, e.Product, e.Version, released, strconv.Itoa(len(f.hosts)),
				strconv.Itoa(len(f.fetched[e.Name])), strconv.Itoa(len(f.possible[e.Name])), strconv.Itoa(len(f.missing[e.Name])), share,
				strconv.Itoa(f.unByEntry[e.Name]), addrs(f.fetched[e.Name]), addrs(f.possible[e.Name]), addrs(f.missing[e.Name])})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	r.files[CoverageFile] = b.Bytes()
	return nil
}
