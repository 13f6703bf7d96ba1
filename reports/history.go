package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fingerflow/fingerflow/datasets/history"
)

// What `fingerflow history` and `fingerflow missing` print: text tables
// and their JSON forms. Times are UTC.

// historyTime is how the tables show a time: UTC to the minute.
func historyTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// osText is an OS verdict in words: family and version, or "unknown".
func osText(os, version string) string {
	if os == "" {
		return "unknown"
	}
	return strings.TrimSpace(os + " " + version)
}

// WriteHostHistory prints one row per night: the night, the OS verdict and
// its confidence, when the host was first and last seen, the catalog files
// it fetched and how many more it may have fetched (--json lists them).
func WriteHostHistory(w io.Writer, nights []history.HostNight) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NIGHT\tOS\tCONFIDENCE\tFIRST SEEN (UTC)\tLAST SEEN (UTC)\tUPDATES FETCHED\tPOSSIBLY FETCHED")
	for _, n := range nights {
		conf := "-"
		if n.Host.OS != "" {
			conf = fmt.Sprintf("%.2f", n.Host.Confidence)
		}
		updates := "-"
		if len(n.Fetches) > 0 {
			var names []string
			for _, f := range n.Fetches {
				names = append(names, f.Entry)
			}
			updates = strings.Join(names, ", ")
		}
		possible := "-"
		switch len(n.Possible) {
		case 0:
		case 1:
			possible = n.Possible[0].Entry
		default:
			possible = fmt.Sprintf("%d files", len(n.Possible))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Night, osText(n.Host.OS, n.Host.OSVersion), conf,
			historyTime(n.Host.FirstSeen), historyTime(n.Host.LastSeen), updates, possible)
	}
	return tw.Flush()
}

// HostNightJSON is one night of `fingerflow history --json`.
type HostNightJSON struct {
	Night              string      `json:"night"`
	OS                 string      `json:"os"` // "unknown" when there is no verdict
	OSVersion          string      `json:"os_version"`
	Confidence         float64     `json:"confidence"`
	Evidence           string      `json:"evidence"`
	Cluster            *int        `json:"cluster"` // null when not clustered
	ClusterDescription string      `json:"cluster_description"`
	FirstSeen          *time.Time  `json:"first_seen"`
	LastSeen           *time.Time  `json:"last_seen"`
	BytesIn            uint64      `json:"bytes_in"`
	BytesOut           uint64      `json:"bytes_out"`
	Flows              uint64      `json:"flows"`
	Updates            []FetchJSON `json:"updates"`
	// Possible are the catalog files the host may have fetched that
	// night: its traffic fits them among other combinations.
	Possible []PossibleJSON `json:"possibly_fetched"`
}

// PossibleJSON is a catalog file a host may have fetched.
type PossibleJSON struct {
	Entry   string    `json:"entry"`
	Product string    `json:"product"`
	Version string    `json:"version"`
	OS      string    `json:"os"`
	At      time.Time `json:"earliest_download"`
}

// FetchJSON is one catalog file a host fetched.
type FetchJSON struct {
	Entry   string    `json:"entry"`
	Product string    `json:"product"`
	Version string    `json:"version"`
	OS      string    `json:"os"`
	Fetched time.Time `json:"fetched"`
	Method  string    `json:"method"`           // single, connection or os-search
	Chance  *float64  `json:"chance,omitempty"` // chance the fit is a coincidence, when estimated
}

func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func fetchJSON(f history.Fetch) FetchJSON {
	j := FetchJSON{Entry: f.Entry, Product: f.Product, Version: f.Version, OS: f.OS,
		Fetched: f.Fetched.UTC(), Method: string(f.Method)}
	if !math.IsNaN(f.Chance) {
		c := f.Chance
		j.Chance = &c
	}
	return j
}

// WriteHostHistoryJSON prints nights as a JSON array of HostNightJSON.
func WriteHostHistoryJSON(w io.Writer, nights []history.HostNight) error {
	out := []HostNightJSON{}
	for _, n := range nights {
		h := n.Host
		j := HostNightJSON{
			Night: n.Night, OS: osText(h.OS, ""), OSVersion: h.OSVersion, Confidence: h.Confidence,
			Evidence: h.Evidence, ClusterDescription: h.ClusterDescription,
			FirstSeen: utcPtr(h.FirstSeen), LastSeen: utcPtr(h.LastSeen),
			BytesIn: h.BytesIn, BytesOut: h.BytesOut, Flows: h.Flows, Updates: []FetchJSON{},
		}
		if h.Cluster >= 0 {
			c := h.Cluster
			j.Cluster = &c
		}
		for _, f := range n.Fetches {
			j.Updates = append(j.Updates, fetchJSON(f))
		}
		j.Possible = []PossibleJSON{}
		for _, p := range n.Possible {
			j.Possible = append(j.Possible, PossibleJSON{Entry: p.Entry, Product: p.Product, Version: p.Version, OS: p.OS, At: p.At.UTC()})
		}
		out = append(out, j)
	}
	return writeJSON(w, out)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// appearedText says when and how an update appeared: its release date, or
// the first night whose catalog listed it.
func appearedText(m history.MissingUpdate) string {
	if !m.Entry.Released.IsZero() {
		r := m.Entry.Released.UTC()
		if r.Equal(r.Truncate(24 * time.Hour)) {
			return r.Format(time.DateOnly) + " (released)"
		}
		return historyTime(r) + " (released)"
	}
	return m.FirstNight + " (first listed)"
}

// othersText lists the other versions of the product a host fetched,
// latest last.
func othersText(fs []history.Fetch) string {
	if len(fs) == 0 {
		return "-"
	}
	var parts []string
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("%s (%s)", f.Version, f.Fetched.UTC().Format(time.DateOnly)))
	}
	return strings.Join(parts, ", ")
}

// WriteMissing prints one row per update and host missing it: the entry,
// when it appeared, the host, its latest known OS, when it was last seen
// and the other versions of the same product it fetched. Updates no host
// misses have no row.
func WriteMissing(w io.Writer, updates []history.MissingUpdate) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UPDATE\tAPPEARED\tHOST\tOS\tLAST SEEN (UTC)\tOTHER VERSIONS FETCHED")
	for _, m := range updates {
		for _, h := range m.Hosts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Entry.Entry, appearedText(m), h.Addr,
				osText(h.OS, h.OSVersion), historyTime(h.LastSeen), othersText(h.Others))
		}
	}
	return tw.Flush()
}

// MissingJSON is one update of `fingerflow missing --json`.
type MissingJSON struct {
	Entry      string            `json:"entry"`
	Product    string            `json:"product"`
	Version    string            `json:"version"`
	OS         string            `json:"os"`
	OSVersion  string            `json:"os_version"`
	Released   *time.Time        `json:"released"`    // null when the catalog gives no date
	FirstNight string            `json:"first_night"` // first night whose catalog listed it
	Appeared   time.Time         `json:"appeared"`    // released, else the start of first_night
	Hosts      []MissingHostJSON `json:"hosts"`
	// Possible are the hosts of its OS that may have fetched it (their
	// traffic fits it among other combinations): not missing it.
	Possible []MissingHostJSON `json:"possibly_fetched"`
	// Unidentified are the hosts seen since it appeared whose OS no night
	// named (flow counters could not tell their family): in neither list
	// above, though any of them may run its OS and lack it.
	Unidentified []UnidentifiedHostJSON `json:"unidentified"`
}

// UnidentifiedHostJSON is a host of no known OS seen since an update
// appeared.
type UnidentifiedHostJSON struct {
	Host      string     `json:"host"`
	LastSeen  *time.Time `json:"last_seen"`
	LastNight string     `json:"last_night"`
	// MayHaveFetched: a download of the host since then may be the update.
	MayHaveFetched bool `json:"may_have_fetched"`
	// Why is its last night's reason for no OS ("" when not recorded).
	Why string `json:"why"`
}

// MissingHostJSON is a host missing an update.
type MissingHostJSON struct {
	Host      string      `json:"host"`
	OS        string      `json:"os"`
	OSVersion string      `json:"os_version"`
	LastSeen  *time.Time  `json:"last_seen"`
	LastNight string      `json:"last_night"`
	Others    []FetchJSON `json:"other_versions_fetched"`
}

func missingHostsJSON(hs []history.MissingHost) []MissingHostJSON {
	out := []MissingHostJSON{}
	for _, h := range hs {
		hj := MissingHostJSON{Host: h.Addr.String(), OS: h.OS, OSVersion: h.OSVersion,
			LastSeen: utcPtr(h.LastSeen), LastNight: h.LastNight, Others: []FetchJSON{}}
		for _, f := range h.Others {
			hj.Others = append(hj.Others, fetchJSON(f))
		}
		out = append(out, hj)
	}
	return out
}

// WriteMissingJSON prints updates as a JSON array of MissingJSON, updates
// no host misses included (with no hosts).
func WriteMissingJSON(w io.Writer, updates []history.MissingUpdate) error {
	out := []MissingJSON{}
	for _, m := range updates {
		e := m.Entry
		j := MissingJSON{Entry: e.Entry, Product: e.Product, Version: e.Version, OS: e.OS, OSVersion: e.OSVersion,
			Released: utcPtr(e.Released), FirstNight: m.FirstNight, Appeared: m.Appeared.UTC(),
			Hosts: missingHostsJSON(m.Hosts), Possible: missingHostsJSON(m.Possible), Unidentified: []UnidentifiedHostJSON{}}
		for _, h := range m.Unidentified {
			j.Unidentified = append(j.Unidentified, UnidentifiedHostJSON{Host: h.Addr.String(), LastSeen: utcPtr(h.LastSeen),
				LastNight: h.LastNight, MayHaveFetched: h.MayHaveFetched, Why: h.Why})
		}
		out = append(out, j)
	}
	return writeJSON(w, out)
}
