// Package inventory infers, for each host of a night's flows, its likely
// operating system family (and release, where the evidence allows) and the
// catalog updates it fetched, from evidence that adds up per host: catalog
// files its downloads were recognised as (each weighed by how likely such a
// fit is by chance), the initial TTL of its own packets, endpoint and port
// hints from an editable rules file, and the cluster it falls in.
//
// Only catalog evidence, and a TTL class that names one family (initial
// TTL 128: Windows), can give a host an OS: other TTLs rule families out,
// hints and clusters raise or lower the confidence of a verdict and are
// shown beside it, and a host whose downloads named nothing (or only what
// chance explains) and whose TTL names no family stays "unknown".
package inventory

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/models/downloads"
)

// Unknown is the OS family of a host without enough catalog evidence.
const Unknown = "unknown"

// Kind says where a piece of evidence comes from.
type Kind string

// Kinds of evidence.
const (
	// KindDownload: a single download named a catalog file.
	KindDownload Kind = "download"
	// KindConnection: a keep-alive connection explained as catalog files
	// (and responses of files outside the catalog seen whole elsewhere).
	KindConnection Kind = "connection"
	// KindOSSearch: a download found by searching only the files of the
	// host's OS, after its other evidence named the OS.
	KindOSSearch Kind = "os-search"
	// KindIndex: a download of a package mirror's index (apt-get update):
	// evidence for the index's family, never an update.
	KindIndex Kind = "index"
	// KindTTL: the initial TTL of the host's packets.
	KindTTL Kind = "ttl"
	// KindHint: a rule of the hints file matched the host's traffic.
	KindHint Kind = "hint"
	// KindCluster: the OS of most hosts in the host's cluster.
	KindCluster Kind = "cluster"
)

// Fetch is a download or connection that catalog files were recognised in.
type Fetch struct {
	Kind Kind // KindDownload, KindConnection or KindOSSearch
	// ID names the download; fetches of one download (the classifier's
	// answer and a search among the host's OS files) count once, the
	// stronger.
	ID     int
	Files  []string
	When   time.Time
	Server netip.AddrPort
	// Chance is the probability that a download of files outside the
	// catalog, with this one's size and losses, fits this well (for a
	// connection: the number of combinations expected to fit by chance).
	Chance float64
	Loss   string // what the reverse direction said about losses, in words
	// Exact says the transfer lost nothing, so its payload is the files'
	// exact sum: only such a fit can name a host's OS on its own.
	Exact bool
}

// Why a host has no OS.
const (
	// WhyNoCatalogTraffic: none of its downloads could hold a catalog
	// file (none of catalog size), and no TTL names its family.
	WhyNoCatalogTraffic = "no-catalog-traffic"
	// WhyUnresolved: downloads of catalog size that the counters cannot
	// resolve: keep-alive or pipelined connections of several files,
	// lost packets, fits that many combinations share.
	WhyUnresolved = "unresolved-connections"
	// WhyWeak: files were named, but at chances too high to add up to a
	// family.
	WhyWeak = "weak-evidence"
	// WhyConflicting: evidence for two families, neither far enough
	// ahead (or ruled out by the host's TTL).
	WhyConflicting = "conflicting-evidence"
	// WhyNoFamilies: the catalog names no OS family.
	WhyNoFamilies = "catalog-without-families"
)

// Hint is weak evidence for or against OS families: a TTL class, a rule
// match, a cluster's majority.
type Hint struct {
	Kind   Kind
	OS     []string // families it speaks for
	Weight float64  // log10 odds it adds to those families (negative: against)
	Text   string
	// Class marks a TTL class: the host runs one of the families OS
	// lists (or any family but those Not lists), never another.
	Class bool
	Not   []string
}

// allows reports whether a Class hint leaves family fam possible.
func (h *Hint) allows(fam string) bool {
	if slices.Contains(h.Not, fam) {
		return false
	}
	return len(h.OS) == 0 || slices.Contains(h.OS, fam)
}

// Evidence is one item of a verdict, as the inventory shows it.
type Evidence struct {
	Kind   Kind     `json:"kind"`
	OS     string   `json:"os,omitempty"`
	Files  []string `json:"files,omitempty"`
	Weight float64  `json:"weight"`
	Chance float64  `json:"chance,omitempty"`
	Text   string   `json:"text"`
}

// Update is a catalog entry a host fetched.
type Update struct {
	Entry   string    `json:"entry"`
	Product string    `json:"product,omitempty"`
	Version string    `json:"version,omitempty"`
	OS      string    `json:"os,omitempty"`
	When    time.Time `json:"when"`
	Kind    Kind      `json:"via"`
	Chance  float64   `json:"chance"`
	Server  string    `json:"server,omitempty"`
	Weight  float64   `json:"weight"`
}

// Possible is a catalog entry a host may have fetched: one of its
// downloads or connections fits the entry among other combinations, so
// its counters can neither name the entry nor rule it out (see
// downloads.Classifier.Possible). The host is neither known to have
// fetched it nor to miss it.
type Possible struct {
	Entry   string    `json:"entry"`
	Product string    `json:"product,omitempty"`
	Version string    `json:"version,omitempty"`
	OS      string    `json:"os,omitempty"`
	When    time.Time `json:"when"` // the earliest download that could hold it
}

// HostEvidence is everything known of one host.
type HostEvidence struct {
	Fetches []Fetch
	Hints   []Hint
	// Trials is the number of the host's downloads that could have been
	// named (of a catalog file's size): the more there are, the likelier
	// some fit by chance.
	Trials int
}

// Verdict is what the evidence says about one host.
type Verdict struct {
	OS         string     `json:"os"`
	OSVersion  string     `json:"os_version,omitempty"`
	Confidence float64    `json:"confidence"`
	Score      float64    `json:"score"` // log10 odds of the catalog evidence for OS (catalog evidence only)
	Evidence   []Evidence `json:"evidence"`
	Updates    []Update   `json:"updates"`
	// Possible are the catalog entries the host may have fetched, of its
	// OS's family when it has one (of any family when not), updates left
	// out; by entry.
	Possible []Possible `json:"possibly_fetched"`
	// ByTTL says the host's TTL class decided the family (with or without
	// catalog evidence of it).
	ByTTL bool `json:"by_ttl,omitempty"`
	// Why says why a host has no OS (one of the Why* reasons; "" when it
	// has one), WhyText the same in words with the host's figures.
	Why     string `json:"unidentified,omitempty"`
	WhyText string `json:"unidentified_why,omitempty"`

	lead string
	// leadScore and secondScore are the best two families' catalog
	// scores, ruledOut the families with catalog evidence a TTL class
	// ruled out.
	leadScore, secondScore float64
	ruledOut               []string
}

// Config weighs the evidence.
type Config struct {
	// MinScore is the log10 odds catalog evidence must reach to give a
	// host an OS: 2 means its downloads fit the OS's files a hundred
	// times better than unrelated downloads would by chance.
	MinScore float64
	// Margin is how far the best family must lead the next one.
	Margin float64
	// MaxWeight caps what one download counts: however exact the fit, a
	// label or export error can make one wrong.
	MaxWeight float64
	// MaxInexact caps what a fit that is not exact (a transfer with
	// losses) counts: below MinScore, so that one such download never
	// names a host's OS by itself.
	MaxInexact float64
	// MinUpdateWeight is the least a fetch must count for its files to be
	// listed as updates of a host whose OS it matches.
	MinUpdateWeight float64
	// FreeTrials is the number of downloads of catalog size a host may
	// make before its evidence is discounted for the chance fits so many
	// downloads bring: log10(trials/FreeTrials) is taken off every
	// family's score.
	FreeTrials float64
}

// DefaultConfig is the weighing measured on lab populations (see the
// package tests).
func DefaultConfig() Config {
	return Config{MinScore: 1.6, Margin: 1, MaxWeight: 4, MaxInexact: 1.2, MinUpdateWeight: 0.5, FreeTrials: 10}
}

// catalogShare is the assumed probability that a host's download is of a
// catalog file its OS fetches and is named: about half of a managed
// host's large downloads are updates (lab populations: 55 to 65%).
const catalogShare = 0.5

// Weight is what a fetch counts for the OS family of its files, in log10
// odds: how much likelier its answer is if the host fetched those files
// (catalogShare) than if the download was of files outside the catalog
// and fitted them by chance. chance is the probability of some chance fit
// (Fetch.Chance), share the probability that a chance fit lands on files
// of this family (the family's share of the catalog, per file; 1 for a
// search among the family's files only). The result is capped at max:
// however exact the fit, a label or export error can make one wrong.
func Weight(chance, share, max float64) float64 {
	p := chance * share
	if p <= 0 {
		return max
	}
	return math.Min(max, math.Max(0, math.Log10(catalogShare/p)))
}

// Infer weighs one host's fetches and hints. cat gives each file's OS
// family, release and product; osAware is false when the catalog has no
// OS column, so that no family can be named (updates are still listed
// when the catalog evidence as a whole reaches MinScore).
func Infer(cfg Config, cat *catalog.Catalog, shares map[string]float64, ev HostEvidence) Verdict {
	fetches, hints := ev.Fetches, ev.Hints
	v := Verdict{OS: Unknown}
	weights := make([]float64, len(fetches))
	for i, f := range fetches {
		share := 1.0
		if f.Kind != KindOSSearch && f.Kind != KindIndex {
			for _, name := range f.Files {
				share *= shares[familyOf(cat, name)]
			}
		}
		limit := cfg.MaxWeight
		if !f.Exact {
			limit = min(limit, cfg.MaxInexact)
		}
		weights[i] = Weight(f.Chance, share, limit)
	}
	// Each download counts once, with its strongest answer, for the
	// family of its files (a fetch's files are of one family, or it is
	// split between them).
	strongest := map[int]int{}
	for i, f := range fetches {
		if j, ok := strongest[f.ID]; !ok || weights[i] > weights[j] {
			strongest[f.ID] = i
		}
	}
	// A download's weight is shared by the files it shows; a file counts
	// with its strongest download, so a file named again and again (an
	// unknown file that fits it by chance, fetched daily) counts once.
	// In fetch order, so that of two fetches as strong the earlier counts
	// (the same night gives the same verdict, to the time of each update).
	order := make([]int, 0, len(strongest))
	for _, i := range strongest {
		order = append(order, i)
	}
	slices.Sort(order)
	best := map[string]fileScore{} // per file: the strongest fetch naming it
	for _, i := range order {
		w := weights[i] / float64(max(len(fetches[i].Files), 1))
		for _, name := range fetches[i].Files {
			if b, ok := best[name]; !ok || w > b.weight {
				best[name] = fileScore{w, i}
			}
		}
	}
	// A host with many downloads of catalog size gets chance fits by
	// number alone: beyond FreeTrials, every tenfold more costs one.
	penalty := math.Log10(math.Max(1, float64(ev.Trials)/cfg.FreeTrials))
	// Sums in file order: the same night gives the same scores to the
	// last bit.
	names := slices.Sorted(maps.Keys(best))
	score := map[string]float64{}
	for _, name := range names {
		score[familyOf(cat, name)] += best[name].weight
	}
	for fam := range score {
		score[fam] -= penalty
	}
	// A TTL class rules families out: a host that sends TTL 64 is not
	// Windows, unless the family's catalog evidence is decisive by a
	// margin on its own (then the TTL is said to contradict it, and the
	// confidence pays for it).
	var class *Hint
	for i := range hints {
		if hints[i].Class {
			class = &hints[i]
		}
	}
	families := make([]string, 0, len(score))
	overruled := map[string]bool{}
	for f := range score {
		switch {
		case class == nil || class.allows(f):
			families = append(families, f)
		case score[f] >= cfg.MinScore+cfg.Margin:
			families = append(families, f)
			overruled[f] = true
		case f != "" && score[f] > 0:
			v.ruledOut = append(v.ruledOut, f)
		}
	}
	slices.Sort(v.ruledOut)
	slices.SortFunc(families, func(a, b string) int { return cmp.Or(cmp.Compare(score[b], score[a]), cmp.Compare(a, b)) })
	lead, second := "", 0.0
	if len(families) > 0 {
		lead = families[0]
	}
	if len(families) > 1 {
		second = score[families[1]]
	}
	// lead is "" when the catalog names no family: the evidence can then
	// list updates, never an OS.
	decided := len(families) > 0 && score[lead] >= cfg.MinScore && score[lead]-second >= cfg.Margin
	// A TTL class that names one family of the catalog (initial TTL 128:
	// Windows) decides for it: with any catalog evidence of the family,
	// or alone, at the confidence the TTL alone carries. A class that
	// only rules families out (64: not Windows) never decides between the
	// families it leaves.
	byTTL := false
	if !decided && class != nil && len(class.OS) > 0 {
		var fams []string
		for fam := range shares {
			if fam != "" && class.allows(fam) {
				fams = append(fams, fam)
			}
		}
		if len(fams) == 1 && (lead == "" || lead == fams[0]) {
			lead, second, decided, byTTL = fams[0], 0, true, true
		}
	}
	v.lead, v.leadScore, v.secondScore = lead, score[lead], second
	if decided {
		v.Score = round2(math.Max(score[lead], 0))
		if lead != "" {
			v.OS = lead
		}
		// Hints move the confidence; only a TTL class decides.
		margin := math.Max(score[lead], 0) - second
		for _, h := range hints {
			if (h.Class && h.allows(lead)) || (!h.Class && slices.Contains(h.OS, lead)) {
				margin += h.Weight
			}
		}
		if overruled[lead] {
			margin -= cfg.Margin
		}
		// However much evidence there is, a label or export error can
		// make it wrong: the confidence stops at one download's cap.
		v.Confidence = round4(1 - math.Pow(10, -math.Min(math.Max(margin, 0), cfg.MaxWeight)))
		v.OSVersion = osVersion(cat, best, lead)
		v.ByTTL = byTTL
	}
	// Evidence in words, strongest first.
	for i, f := range fetches {
		w := weights[i]
		fam := ""
		if len(f.Files) > 0 {
			fam = familyOf(cat, f.Files[0])
		}
		v.Evidence = append(v.Evidence, Evidence{
			Kind: f.Kind, OS: fam, Files: f.Files, Weight: round2(w), Chance: f.Chance,
			Text: fetchText(&fetches[i], fam, w),
		})
	}
	for _, h := range hints {
		text := h.Text
		if h.Class && overruled[lead] && decided {
			text += fmt.Sprintf("; contradicts the %s files, which outweigh it (confidence lowered)", lead)
		}
		if v.ByTTL && h.Class {
			if score[lead] > 0 {
				text += fmt.Sprintf("; with the host's %s files, names it %s", lead, lead)
			} else {
				text += fmt.Sprintf("; names the host %s with no catalog file, by the TTL alone", lead)
			}
		}
		os := strings.Join(h.OS, "/")
		if len(h.Not) > 0 {
			os = "not " + strings.Join(h.Not, "/")
		}
		v.Evidence = append(v.Evidence, Evidence{Kind: h.Kind, OS: os, Weight: round2(h.Weight), Text: text})
	}
	slices.SortStableFunc(v.Evidence, func(a, b Evidence) int { return cmp.Compare(b.Weight, a.Weight) })
	if !decided {
		return v
	}
	// The family's files alone: when they do not reach MinScore (the OS
	// rests on the package index or the TTL), a file named at a chance
	// that is not negligible is not listed as fetched on its own: it may
	// be a file outside the catalog that fits (it is left possibly
	// fetched).
	var files float64
	for _, name := range names {
		if b := best[name]; familyOf(cat, name) == lead && fetches[b.fetch].Kind != KindIndex {
			files += b.weight
		}
	}
	corroborated := files-penalty >= cfg.MinScore
	for name, b := range best {
		f := fetches[b.fetch]
		if familyOf(cat, name) != lead || b.weight < cfg.MinUpdateWeight || f.Kind == KindIndex {
			continue
		}
		if !corroborated && !(f.Exact && downloads.Negligible(f.Chance)) {
			continue
		}
		u := Update{Entry: name, OS: lead, When: f.When, Kind: f.Kind, Chance: f.Chance, Weight: round2(b.weight)}
		if f.Server.IsValid() {
			u.Server = f.Server.String()
		}
		if e, ok := cat.Lookup(name); ok {
			u.Product, u.Version = e.Product, e.Version
		}
		v.Updates = append(v.Updates, u)
	}
	slices.SortFunc(v.Updates, func(a, b Update) int { return cmp.Or(a.When.Compare(b.When), cmp.Compare(a.Entry, b.Entry)) })
	return v
}

// fileScore is the strongest fetch naming a file.
type fileScore struct {
	weight float64
	fetch  int
}

// Shares is each OS family's share of a catalog's files, index entries
// left out (keyed by the lower-case family; "" for entries without one).
func Shares(cat *catalog.Catalog) map[string]float64 {
	out := map[string]float64{}
	files := cat.Files()
	for _, e := range files {
		out[strings.ToLower(e.OS)]++
	}
	for k := range out {
		out[k] /= float64(len(files))
	}
	return out
}

// familyOf is the OS family of a catalog file ("" when the catalog does
// not say).
func familyOf(cat *catalog.Catalog, name string) string {
	if e, ok := cat.Lookup(name); ok {
		return strings.ToLower(e.OS)
	}
	return ""
}

// osVersion is the release most of the weight of the family's files points
// to, when they name one.
func osVersion(cat *catalog.Catalog, best map[string]fileScore, fam string) string {
	votes := map[string]float64{}
	for name, b := range best {
		e, ok := cat.Lookup(name)
		if !ok || strings.ToLower(e.OS) != fam || e.OSVersion == "" {
			continue
		}
		votes[e.OSVersion] += b.weight
	}
	bestV, bestW := "", 0.0
	for v, w := range votes {
		if w > bestW || (w == bestW && v < bestV) {
			bestV, bestW = v, w
		}
	}
	return bestV
}

func fetchText(f *Fetch, fam string, w float64) string {
	var what string
	switch f.Kind {
	case KindConnection:
		what = fmt.Sprintf("keep-alive connection carried %s", strings.Join(f.Files, ", "))
	case KindOSSearch:
		what = fmt.Sprintf("download fits %s among the host's OS files", strings.Join(f.Files, ", "))
	case KindIndex:
		what = fmt.Sprintf("fetched the package index (%s) from %s", strings.Join(f.Files, ", "), f.Server)
	default:
		what = fmt.Sprintf("download named %s", strings.Join(f.Files, ", "))
	}
	if fam != "" {
		what += " (" + fam + ")"
	}
	chance := fmt.Sprintf("chance fit %.2g", f.Chance)
	if f.Chance < 1e-4 {
		chance = "chance fit below 1e-4"
	}
	s := fmt.Sprintf("%s; %s; %s, counts %.1f", what, f.Loss, chance, w)
	if f.Loss == "" {
		s = fmt.Sprintf("%s; %s, counts %.1f", what, chance, w)
	}
	return s
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// Lead is the family the verdict's catalog evidence points to, decided or
// not ("" when there is none).
func (v *Verdict) Lead() string { return v.lead }
