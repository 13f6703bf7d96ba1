package morning

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// The "Needs attention" section: what happened last night and what to
// do, as sentences, each with a link to the rows it is about. It comes
// before any chart.

// whyWords says in words why hosts have no OS, per inventory reason.
var whyWords = map[string]string{
	inventory.WhyUnresolved:       "downloads of a catalog file's size that the flow counters cannot resolve: keep-alive or pipelined connections of several files, lost packets",
	inventory.WhyWeak:             "files named only at chances too high to add up to a family",
	inventory.WhyConflicting:      "evidence for two families, neither far enough ahead",
	inventory.WhyNoCatalogTraffic: "no download of a catalog file's size",
	inventory.WhyNoFamilies:       "the catalog names no OS family",
}

// whyShort names an inventory reason in a few words.
var whyShort = map[string]string{
	inventory.WhyUnresolved:       "unresolved connections",
	inventory.WhyWeak:             "weak evidence",
	inventory.WhyConflicting:      "conflicting evidence",
	inventory.WhyNoCatalogTraffic: "no catalog traffic",
	inventory.WhyNoFamilies:       "catalog without families",
	"unknown":                     "reason not recorded",
}

// whyOrder is the order reasons are listed in.
var whyOrder = []string{inventory.WhyUnresolved, inventory.WhyWeak, inventory.WhyConflicting, inventory.WhyNoCatalogTraffic, inventory.WhyNoFamilies, "unknown"}

// showLink shows the inventory rows of a tag.
func showLink(tag, label string, n int) *tagLink {
	return &tagLink{Table: "inventory-table", Tag: tag, Label: label, Text: fmt.Sprintf("show %s →", plural(n, "host", "hosts"))}
}

func (r *report) attentionSection() (section, error) {
	n := r.n
	s := section{ID: "attention", Title: "Needs attention"}
	var items []item
	add := func(it item) { items = append(items, it) }

	// Alarms first.
	items = append(items, r.alarmItems(true)...)

	// Input the run could not read.
	if k := len(n.Run.Skipped); k > 0 {
		var sub []item
		for _, f := range n.Run.Skipped[:min(k, 5)] {
			sub = append(sub, item{Level: "warn", Text: cmp.Or(f.Path, "(arguments)") + ": " + f.Reason})
		}
		if k > 5 {
			sub = append(sub, item{Level: "warn", Text: fmt.Sprintf("and %d more (the Files section lists them)", k-5)})
		}
		add(item{Level: "warn", Text: fmt.Sprintf("%s could not be read and %s skipped: the night is incomplete.",
			plural(k, "input file", "input files"), map[bool]string{true: "was", false: "were"}[k == 1]), Sub: sub})
	}

	// Hosts that came, went and changed.
	var newHosts, osChanged, identified, lost, withNew []int
	for i, f := range r.facts {
		if f.newHost {
			newHosts = append(newHosts, i)
		}
		switch f.change {
		case changeFamily:
			osChanged = append(osChanged, i)
		case changeIdentified:
			identified = append(identified, i)
		case changeLost:
			lost = append(lost, i)
		}
		if f.newUpdates > 0 {
			withNew = append(withNew, i)
		}
	}
	prev := n.Run.Previous
	switch {
	case !n.HasHistory():
		add(item{Level: "info", Text: "The run kept no history (--no-history): new, vanished and changed hosts are not known."})
	case prev == "" && r.firstNight():
		add(item{Level: "info", Text: "This is the first night in the history: there is no earlier night to compare with, so no host is new, vanished or changed."})
	default:
		if len(newHosts) > 0 {
			add(item{Level: "warn", Text: fmt.Sprintf("%s new since %s%s.", plural(len(newHosts), "host is", "hosts are"), prev, r.osMix(newHosts)),
				Link: showLink(tagNew, "hosts new since "+prev, len(newHosts))})
		}
		if v := n.Run.Vanished; len(v) > 0 {
			why := "."
			if k := len(n.Run.Skipped); k > 0 {
				why = fmt.Sprintf(", or only in the %d input files skipped.", k)
				if k == 1 {
					why = ", or only in the input file skipped."
				}
			}
			add(item{Level: "warn", Text: fmt.Sprintf("%s seen on %s %s not seen this night%s%s", plural(len(v), "host", "hosts"), prev,
				map[bool]string{true: "was", false: "were"}[len(v) == 1], vanishedMix(v), why),
				Link: &tagLink{Table: "vanished-table", Tag: tagVanished, Label: "hosts not seen since " + prev, Text: fmt.Sprintf("show %s →", plural(len(v), "host", "hosts"))}})
		}
		if len(osChanged) > 0 {
			var ex []string
			for _, i := range osChanged {
				ex = append(ex, fmt.Sprintf("%s %s → %s", n.Hosts[i].Addr, r.facts[i].osFrom, r.facts[i].osTo))
			}
			add(item{Level: "warn", Text: fmt.Sprintf("%s changed OS family since %s: %s.", plural(len(osChanged), "host", "hosts"), prev, listText(ex, 3)),
				Link: showLink(tagOSChanged, "hosts whose OS family changed", len(osChanged))})
		}
		if len(identified) > 0 {
			add(item{Level: "info", Text: fmt.Sprintf("%s without an OS on %s %s identified this night%s.", plural(len(identified), "host", "hosts"), prev,
				map[bool]string{true: "was", false: "were"}[len(identified) == 1], r.osMix(identified)),
				Link: showLink(tagIdentified, "hosts identified since "+prev, len(identified))})
		}
		if len(lost) > 0 {
			by := map[string]int{}
			for _, i := range lost {
				by[r.facts[i].osFrom]++
			}
			add(item{Level: "info", Text: fmt.Sprintf("%s identified on %s could not be identified this night%s: their downloads this night said too little.",
				plural(len(lost), "host", "hosts"), prev, mixText(by)),
				Link: showLink(tagLost, "hosts no longer identified since "+prev, len(lost))})
		}
		if len(newHosts)+len(n.Run.Vanished) == 0 && prev != "" {
			text := fmt.Sprintf("The same hosts as on %s", prev)
			if len(osChanged)+len(identified)+len(lost) == 0 {
				text += ", none with another OS"
			}
			add(item{Level: "ok", Text: text + "."})
		}
		if len(withNew) > 0 {
			total := 0
			for _, i := range withNew {
				total += r.facts[i].newUpdates
			}
			add(item{Level: "info", Text: fmt.Sprintf("%s fetched %s for the first time.", plural(len(withNew), "host", "hosts"), plural(total, "update", "updates")),
				Link: showLink(tagNewUpdates, "hosts with updates fetched for the first time", len(withNew))})
		}
	}

	// Updates.
	add(r.behindItem())

	// Hosts without an OS, one line per reason.
	if it, ok := r.unidentifiedItem(); ok {
		add(it)
	}
	if len(n.Hosts) == 0 {
		if n.Present[nightdir.InventoryFile] {
			add(item{Level: "warn", Text: "The night had no internal host: nothing to inventory. Check --internal and the exporters."})
		} else {
			add(item{Level: "warn", Text: missingText(nightdir.InventoryFile) + " The inventory cannot be shown."})
		}
	}
	s.Blocks = append(s.Blocks, block{Attention: items}, block{Tiles: r.tiles()})
	return s, nil
}

// osMix says which OS families a set of hosts has: " (3 sles, 2 not
// identified)".
func (r *report) osMix(hosts []int) string {
	by := map[string]int{}
	for _, i := range hosts {
		by[cmp.Or(r.facts[i].os, "not identified")]++
	}
	return mixText(by)
}

// vanishedMix says the OS families of vanished hosts that night.
func vanishedMix(v []nightdir.VanishedHost) string {
	by := map[string]int{}
	for _, h := range v {
		os := strings.ToLower(h.OS)
		if os == "" || os == inventory.Unknown {
			os = "not identified"
		}
		by[os]++
	}
	return mixText(by)
}

// mixText writes counts per family, most first, "not identified" last.
func mixText(by map[string]int) string {
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if (a == "not identified") != (b == "not identified") {
			if a == "not identified" {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(by[b], by[a]), cmp.Compare(a, b))
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", by[k], k))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// behindItem says which hosts miss updates of their OS, family by family.
func (r *report) behindItem() item {
	behind, missing, distinct, possible := 0, 0, 0, 0
	var sub []item
	for _, f := range r.fams {
		behind += f.behind + f.earlierBehind
		missing += f.missingAll + f.earlierMissing
		distinct += f.distinctMissing()
		possible += f.possibleHosts
		if f.behind > 0 {
			sub = append(sub, item{Level: "warn", Text: fmt.Sprintf("%s: %s of %s miss %s of its %s (%s missing in all).", f.os, countText(f.behind),
				plural(len(f.hosts), "host", "hosts"), countText(len(f.missing)), plural(len(f.entries), "update", "updates"), countText(f.missingAll))})
		}
		if f.earlierBehind > 0 {
			one := f.earlierBehind == 1
			sub = append(sub, item{Level: "warn", Text: fmt.Sprintf("%s: %s not identified this night %s %s missing by the %s an earlier night gave %s, as fingerflow missing answers.",
				f.os, plural(f.earlierBehind, "host", "hosts"), map[bool]string{true: "has", false: "have"}[one], plural(f.earlierMissing, "update", "updates"), f.os,
				map[bool]string{true: "it", false: "them"}[one])})
		}
		if len(f.hosts) == 0 && len(f.unidentified) > 0 {
			sub = append(sub, item{Level: "info", Text: fmt.Sprintf("%s: %s; which updates they lack is not known.", f.os, f.unidentifiedText())})
		}
	}
	if !r.n.Run.MissingFromHistory && r.n.HasHistory() && !r.firstNight() {
		sub = append(sub, item{Level: "info", Text: "Worked out from this night's inventory alone: an update a host fetched on an earlier night counts as missing here (fingerflow missing answers from the history)."})
	}
	if len(r.n.Catalog) == 0 {
		return item{Level: "info", Text: missingText(nightdir.CatalogFile) + " Which updates hosts lack is not known."}
	}
	if behind == 0 {
		it := item{Level: "ok", Text: "No host with an identified OS misses an update of its family in the catalog."}
		if possible > 0 {
			it.Text += fmt.Sprintf(" %s may have fetched updates they are not known to have.", plural(possible, "host", "hosts"))
			it.Link = showLink(tagPossible, "hosts that may have fetched updates (possibly fetched)", possible)
		}
		it.Sub = sub
		return it
	}
	text := fmt.Sprintf("%s behind on updates: %s missing in all, of %s.", plural(behind, "host is", "hosts are"), plural(missing, "update", "updates"),
		plural(distinct, "update", "distinct updates"))
	if possible > 0 {
		sub = append(sub, item{Level: "info", Text: fmt.Sprintf("%s may have fetched some of what they lack: their traffic fits updates among other combinations (possibly fetched), neither fetched for sure nor missing.",
			plural(possible, "host", "hosts")), Link: showLink(tagPossible, "hosts with updates possibly fetched", possible)})
	}
	return item{Level: "warn", Text: text, Link: showLink(tagBehind, "hosts behind on updates", behind), Sub: sub}
}

// unidentifiedItem lists the hosts without an OS, one line per reason.
func (r *report) unidentifiedItem() (item, bool) {
	by := map[string]int{}
	total := 0
	for i, h := range r.n.Hosts {
		if r.facts[i].os == "" {
			by[whyOf(h)]++
			total++
		}
	}
	if total == 0 {
		return item{}, false
	}
	var sub []item
	for _, w := range whyOrder {
		k := by[w]
		if k == 0 {
			continue
		}
		text := fmt.Sprintf("%s: %s.", plural(k, "host", "hosts"), whyShort[w])
		if words, ok := whyWords[w]; ok {
			text = fmt.Sprintf("%s, %s: %s.", plural(k, "host", "hosts"), whyShort[w], words)
		}
		sub = append(sub, item{Level: "info", Text: text, Link: showLink(tagNoOS+"-"+w, "hosts without an OS: "+whyShort[w], k)})
	}
	return item{Level: "info", Text: fmt.Sprintf("%s of %s could not be identified (no OS).", plural(total, "host", "hosts"), countText(len(r.n.Hosts))),
		Link: showLink(tagNoOS, "hosts without an OS", total), Sub: sub}, true
}

// maxAlarmsListed is how many alarms the attention section lists; the
// analytics section lists them all.
const maxAlarmsListed = 6

// alarmItems are the alarms as sentences, "no floods or scans" first
// when there are none. With short, floods and scans are one line that
// lists at most maxAlarmsListed of them in brief.
func (r *report) alarmItems(short bool) []item {
	a := r.n.Alarms
	if a == nil {
		if r.n.Records[nightdir.AlarmsFile] != nil {
			return []item{{Level: "info", Text: "alarms.json is not of the form fingerflow run writes: its records are shown under Alarms and statistics."}}
		}
		if why := r.n.Run.Analytics; why != "" {
			// The run says why (a night computed where its flows are
			// kept).
			return []item{{Level: "info", Text: "Floods and scans were not checked: " + strings.TrimSuffix(why, ".") + "."}}
		}
		return []item{{Level: "info", Text: "Floods and scans were not checked: alarms.json is not in this directory."}}
	}
	var alarms []item
	for _, f := range a.Floods {
		text := fmt.Sprintf("%s against %s from %s to %s UTC: %s packets, %s at the peak, from %s.",
			floodWords(f.Signature), f.Target, f.Start, clockPart(f.End),
			countText(int64(math.Round(f.Packets))), rateText(f.PeakRate, "packets/s"), sourcesText(f.Sources, !short))
		if short {
			text = fmt.Sprintf("%s against %s, %s–%s UTC: %s packets from %s.", floodWords(f.Signature), f.Target,
				clockPart(f.Start), clockPart(f.End), countText(int64(math.Round(f.Packets))), sourcesText(f.Sources, false))
		}
		if f.Spoofed {
			text = strings.TrimSuffix(text, ".") + "; the sources look spoofed."
		}
		alarms = append(alarms, item{Level: "alarm", Text: text})
	}
	for _, s := range a.Scans {
		ports := "ports " + s.Ports
		if lo, hi, ok := strings.Cut(s.Ports, "-"); ok && lo == hi {
			ports = "port " + lo
		}
		kind := strings.TrimSuffix(s.Kind, "-scan")
		kind = strings.ToUpper(kind[:min(1, len(kind))]) + kind[min(1, len(kind)):]
		text := fmt.Sprintf("%s scan by %s of %s, %s, from %s to %s UTC: %s first contacts (%s answered, %s failed), %s.",
			kind, r.labelOf(s.Source), s.Target, ports, s.Start, clockPart(s.End),
			countText(s.Contacts), countText(s.Accepted), countText(s.Failed), rateText(s.Rate, "contacts/s"))
		if short {
			text = fmt.Sprintf("%s scan by %s of %s, %s, %s–%s UTC: %s first contacts, %s answered.", kind, r.labelOf(s.Source), s.Target, ports,
				clockPart(s.Start), clockPart(s.End), countText(s.Contacts), countText(s.Accepted))
		}
		alarms = append(alarms, item{Level: "alarm", Text: text})
	}
	var out []item
	switch {
	case len(alarms) == 0:
		text := "No floods or scans."
		switch {
		case a.NotScored != "":
			text += " Unexpected rates were not scored: " + a.NotScored + "."
		case len(a.Unexpected) == 0 && a.BaselineNights > 0:
			text += fmt.Sprintf(" No rate far above its level of the last %s.", plural(a.BaselineNights, "night", "nights"))
		}
		out = append(out, item{Level: "ok", Text: text})
	case short:
		it := item{Level: "alarm", Text: fmt.Sprintf("%s: %s and %s%s.", plural(len(alarms), "alarm", "alarms"),
			plural(len(a.Floods), "flood", "floods"), plural(len(a.Scans), "scan", "scans"), r.alarmTargets())}
		it.Sub = alarms[:min(len(alarms), maxAlarmsListed)]
		if k := len(alarms) - maxAlarmsListed; k > 0 {
			it.Sub = append(it.Sub, item{Level: "alarm", Text: fmt.Sprintf("and %d more: Alarms and statistics lists them all.", k)})
		}
		out = append(out, it)
	default:
		out = alarms
	}
	if a.FloodsNotKept != "" {
		out = append(out, item{Level: "alarm", Text: "More flood alarms than the detector keeps were counted: " + a.FloodsNotKept + "."})
	}
	for _, u := range a.Unexpected {
		out = append(out, item{Level: "warn", Text: fmt.Sprintf("Unexpected rate: %s %s peaked at %s at %s UTC, against a usual %s ± %s (unexpectedness %.3g).",
			u.Service, u.Measure, roundText(u.Peak), u.PeakAt, roundText(u.Mu), roundText(u.Sigma), u.Score)})
	}
	return out
}

// alarmTargets says what the floods and scans were against when they
// share one host: ", all against 10.77.0.1".
func (r *report) alarmTargets() string {
	a := r.n.Alarms
	host := func(t string) string {
		if h, _, ok := strings.Cut(t, ":"); ok {
			return h
		}
		return t
	}
	var hosts []string
	for _, f := range a.Floods {
		hosts = append(hosts, host(f.Target))
	}
	for _, s := range a.Scans {
		if s.Kind == "vertical-scan" {
			hosts = append(hosts, host(s.Target))
		}
	}
	slices.Sort(hosts)
	if hosts = slices.Compact(hosts); len(hosts) == 1 && len(a.Floods)+len(a.Scans) > 1 {
		return ", against " + r.labelOf(hosts[0])
	}
	return ""
}

// sourcesText shortens a flood's sources: "937 sources, spoofed (…)" to
// its count, a list to its first three.
func sourcesText(s string, full bool) string {
	if full || len(s) < 80 {
		return s
	}
	if head, _, ok := strings.Cut(s, " ("); ok && strings.Contains(head, "sources") {
		return head
	}
	parts := strings.Split(s, ", ")
	if len(parts) > 3 {
		more := len(parts) - 3
		if last := parts[len(parts)-1]; strings.Contains(last, " and ") {
			if _, n, ok := strings.Cut(last, " and "); ok {
				var k int
				if _, err := fmt.Sscanf(n, "%d more", &k); err == nil {
					more = len(parts) - 3 + k
				}
			}
		}
		return strings.Join(parts[:3], ", ") + fmt.Sprintf(" and %d more", more)
	}
	return s
}

// floodWords names a flood signature: "syn-flood" is "SYN flood".
func floodWords(sig string) string {
	if p, ok := strings.CutSuffix(sig, "-flood"); ok {
		return strings.ToUpper(p) + " flood"
	}
	if sig == "bogon-source" {
		return "Traffic from bogon (reserved or unallocated) source addresses"
	}
	return strings.ReplaceAll(sig, "-", " ")
}

// clockPart is the time of day of a record's time ("2027-01-25
// 08:20:31.000" → "08:20:31.000").
func clockPart(s string) string {
	if _, t, ok := strings.Cut(s, " "); ok {
		return t
	}
	return s
}

// roundText is a measure with three significant digits and an SI
// prefix.
func roundText(v float64) string {
	num, p := si(v)
	return num + p
}

// tiles are the night's key figures, stat panels that link to their
// sections.
func (r *report) tiles() []tile {
	n := r.n
	var out []tile
	hosts := tile{Label: "hosts", Value: countText(len(n.Hosts)), Href: "#inventory"}
	var newHosts int
	for _, f := range r.facts {
		if f.newHost {
			newHosts++
		}
	}
	switch {
	case !n.HasHistory():
		hosts.Sub = "no history kept"
	case n.Run.Previous == "":
		hosts.Sub = "first night in the history"
	default:
		hosts.Sub = fmt.Sprintf("+%d new, −%d gone since %s", newHosts, len(n.Run.Vanished), n.Run.Previous)
		if newHosts+len(n.Run.Vanished) > 0 {
			hosts.Level = "warn"
		}
	}
	out = append(out, hosts)
	withOS := 0
	for _, f := range r.facts {
		if f.os != "" {
			withOS++
		}
	}
	id := tile{Label: "hosts with an OS", Value: countText(withOS), Href: "#updates"}
	if len(n.Hosts) > 0 {
		id.Sub = fmt.Sprintf("%s of the hosts; %s not identified", shareText(float64(withOS)/float64(len(n.Hosts))), countText(len(n.Hosts)-withOS))
	}
	out = append(out, id)
	behind, missing, distinct := 0, 0, 0
	for _, f := range r.fams {
		behind += f.behind + f.earlierBehind
		missing += f.missingAll + f.earlierMissing
		distinct += f.distinctMissing()
	}
	bt := tile{Label: "behind on updates", Value: countText(behind), Sub: plural(missing, "update missing", "updates missing"), Level: "ok", Href: "#updates"}
	if distinct > 0 {
		bt.Sub += ", of " + plural(distinct, "update", "distinct updates")
	}
	if behind > 0 {
		bt.Level = "warn"
	}
	out = append(out, bt)
	if a := n.Alarms; a != nil {
		k := len(a.Floods) + len(a.Scans)
		at := tile{Label: "floods and scans", Value: countText(k), Sub: fmt.Sprintf("%d floods, %d scans", len(a.Floods), len(a.Scans)), Level: "ok", Href: "#analytics"}
		if k > 0 {
			at.Level = "alarm"
		}
		out = append(out, at)
	}
	if tr := r.trafficFigures(); tr.total > 0 {
		t := tile{Label: "traffic", Value: bytesText(tr.total), Href: "#traffic"}
		if tr.peak > 0 {
			t.Sub = fmt.Sprintf("peak %s at %s", bitsText(tr.peak), clockText(tr.peakAt))
		}
		out = append(out, t)
	}
	if d := n.Downloads; d != nil {
		out = append(out, tile{Label: "downloads", Value: countText(d.Total), Href: "#downloads",
			Sub: fmt.Sprintf("%s named, %s at chance level, %s unknown", countText(d.Named), countText(d.ChanceLevel), countText(d.Unknown))})
	}
	return out
}

// trafficFigures are the night's traffic in a few numbers.
type trafficFigures struct {
	total  float64   // bytes
	peak   float64   // bytes per second, the busiest second (or minute's mean)
	peakAt time.Time // when
	mean   float64   // bytes per second over the night
	span   time.Duration
}

func (r *report) trafficFigures() trafficFigures {
	var t trafficFigures
	n := r.n
	switch {
	case len(n.Seconds) > 0:
		for _, s := range n.Seconds {
			t.total += s.Bytes
			if s.Bytes > t.peak {
				t.peak, t.peakAt = s.Bytes, s.Time
			}
		}
		t.span = n.Seconds[len(n.Seconds)-1].Time.Sub(n.Seconds[0].Time) + time.Second
	case len(n.Minutes) > 0:
		for _, m := range n.Minutes {
			t.total += m.Bytes
			if m.Bytes/60 > t.peak {
				t.peak, t.peakAt = m.Bytes/60, m.Minute
			}
		}
		t.span = n.Minutes[len(n.Minutes)-1].Minute.Sub(n.Minutes[0].Minute) + time.Minute
	}
	if t.span > 0 {
		t.mean = t.total / t.span.Seconds()
	}
	return t
}
