package nightdir

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/models/inventory"
)

// Host is one host of a night's inventory (a row of inventory.csv, an
// element of inventory.json's hosts): the verdict and what the inventory
// shows beside it.
type Host struct {
	Addr      netip.Addr
	Verdict   inventory.Verdict
	FirstSeen time.Time
	LastSeen  time.Time
	// TTL is the commonest TTL of the host's own packets in words ("63,
	// initial 64"), or "not recorded" when the exporter does not say.
	TTL string
	// Cluster is the host's cluster (-1: not clustered) and ClusterText
	// its description.
	Cluster     int
	ClusterText string
	// Changed says what changed since the previous night ("new host",
	// "OS debian → windows", "3 new updates", "" when nothing did), and
	// NewUpdates lists the updates fetched for the first time.
	Changed    string
	NewUpdates []string
	// Missing are the catalog entries of the host's OS family that the
	// history says it has not fetched since they appeared and could not
	// have (history.DB.MissingForOS: what `fingerflow missing` answers),
	// by entry. Only a run that says so in run.json
	// (RunSummary.MissingFromHistory) fills it; the morning report
	// otherwise works them out from this night alone.
	Missing []string
}

// inventoryColumns are the columns of the inventory CSV.
var inventoryColumns = [...]string{
	"host", "os", "os_version", "confidence", "score", "updates", "update_files", "update_list",
	"possibly_fetched", "unidentified", "evidence", "ttl", "cluster", "cluster_description", "first_seen", "last_seen", "changed",
}

// WriteInventoryCSV writes the inventory as CSV, one row per host: its
// likely OS family and version, the confidence, the log10 odds of its
// catalog evidence, how many updates and which (the entries, ";"-separated
// in time order, and in words: "entry (product version) at time",
// "; "-separated), the evidence in words ("; "-separated, strongest
// first), the TTL, its cluster, first and last seen (RFC 3339, UTC) and
// what changed since the previous night.
func WriteInventoryCSV(w io.Writer, hosts []Host) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(inventoryColumns[:]); err != nil {
		return err
	}
	for _, h := range hosts {
		v := &h.Verdict
		var ups, files, possible, ev []string
		for _, u := range v.Updates {
			ups = append(ups, updateText(u))
			files = append(files, u.Entry)
		}
		for _, p := range v.Possible {
			possible = append(possible, p.Entry)
		}
		for _, e := range v.Evidence {
			ev = append(ev, e.Text)
		}
		rec := []string{
			h.Addr.String(), v.OS, v.OSVersion, strconv.FormatFloat(v.Confidence, 'f', 4, 64),
			strconv.FormatFloat(v.Score, 'f', 2, 64), strconv.Itoa(len(v.Updates)), strings.Join(files, ";"), strings.Join(ups, "; "),
			strings.Join(possible, ";"), v.WhyText, strings.Join(ev, "; "), h.TTL, strconv.Itoa(h.Cluster), h.ClusterText,
			timeText(h.FirstSeen), timeText(h.LastSeen), h.Changed,
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func updateText(u inventory.Update) string {
	s := u.Entry
	if u.Product != "" || u.Version != "" {
		s += " (" + strings.TrimSpace(u.Product+" "+u.Version) + ")"
	}
	return s + " at " + timeText(u.When)
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// InventoryMeta heads the JSON inventory.
type InventoryMeta struct {
	Night     string    `json:"night"`
	First     time.Time `json:"first_flow"`
	Last      time.Time `json:"last_flow"`
	Model     string    `json:"model"`
	Catalog   string    `json:"catalog"`
	OSAware   bool      `json:"catalog_names_os"`
	Generated string    `json:"generated_by"`
}

type jsonHost struct {
	Host       string               `json:"host"`
	OS         string               `json:"os"`
	OSVersion  string               `json:"os_version,omitempty"`
	Confidence float64              `json:"confidence"`
	Score      float64              `json:"score"`
	Updates    []inventory.Update   `json:"updates"`
	Possible   []inventory.Possible `json:"possibly_fetched"`
	Why        string               `json:"unidentified,omitempty"`
	WhyText    string               `json:"unidentified_why,omitempty"`
	Evidence   []inventory.Evidence `json:"evidence"`
	TTL        string               `json:"ttl"`
	Cluster    int                  `json:"cluster"`
	ClusterTxt string               `json:"cluster_description,omitempty"`
	FirstSeen  time.Time            `json:"first_seen"`
	LastSeen   time.Time            `json:"last_seen"`
	Changed    string               `json:"changed,omitempty"`
	NewUpdates []string             `json:"new_updates,omitempty"`
	Missing    []string             `json:"missing_updates,omitempty"`
}

// WriteInventoryJSON writes the inventory as one JSON document: meta and a
// "hosts" array with the CSV's fields, updates and evidence as objects.
func WriteInventoryJSON(w io.Writer, meta InventoryMeta, hosts []Host) error {
	doc := struct {
		InventoryMeta
		Hosts []jsonHost `json:"hosts"`
	}{InventoryMeta: meta, Hosts: make([]jsonHost, 0, len(hosts))}
	for _, h := range hosts {
		v := h.Verdict
		if v.Updates == nil {
			v.Updates = []inventory.Update{}
		}
		if v.Evidence == nil {
			v.Evidence = []inventory.Evidence{}
		}
		if v.Possible == nil {
			v.Possible = []inventory.Possible{}
		}
		doc.Hosts = append(doc.Hosts, jsonHost{
			Host: h.Addr.String(), OS: v.OS, OSVersion: v.OSVersion, Confidence: v.Confidence, Score: v.Score,
			Updates: v.Updates, Possible: v.Possible, Why: v.Why, WhyText: v.WhyText, Evidence: v.Evidence, TTL: h.TTL, Cluster: h.Cluster, ClusterTxt: h.ClusterText,
			FirstSeen: h.FirstSeen.UTC(), LastSeen: h.LastSeen.UTC(), Changed: h.Changed, NewUpdates: h.NewUpdates,
			Missing: h.Missing,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// ClusterRow is one row of clusters.csv.
type ClusterRow struct {
	Cluster     int
	Size        int
	Description string
	// Centroid is the cluster's centre in original units, one value per
	// column of the header the writer is given.
	Centroid []float64
}

// WriteClustersCSV writes clusters.csv: cluster, size, description, then
// the centroid in original units, one column per name in columns (six
// significant digits; values within 1e-9 of zero as 0).
func WriteClustersCSV(w io.Writer, columns []string, rows []ClusterRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(append([]string{"cluster", "size", "description"}, columns...)); err != nil {
		return err
	}
	for _, r := range rows {
		if len(r.Centroid) != len(columns) {
			return fmt.Errorf("cluster %d: %d centroid values for %d columns", r.Cluster, len(r.Centroid), len(columns))
		}
		rec := []string{strconv.Itoa(r.Cluster), strconv.Itoa(r.Size), r.Description}
		for _, v := range r.Centroid {
			if math.Abs(v) < 1e-9 {
				v = 0 // a mean of zeros with rounding noise: -1.04083e-17
			}
			rec = append(rec, strconv.FormatFloat(v, 'g', 6, 64))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadInventoryJSON reads what WriteInventoryJSON wrote.
func ReadInventoryJSON(r io.Reader) (InventoryMeta, []Host, error) {
	var doc struct {
		InventoryMeta
		Hosts []jsonHost `json:"hosts"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return InventoryMeta{}, nil, err
	}
	hosts := make([]Host, 0, len(doc.Hosts))
	for i, h := range doc.Hosts {
		a, err := netip.ParseAddr(h.Host)
		if err != nil {
			return InventoryMeta{}, nil, fmt.Errorf("host %d: %w", i, err)
		}
		hosts = append(hosts, Host{
			Addr: a, FirstSeen: h.FirstSeen, LastSeen: h.LastSeen, TTL: h.TTL,
			Cluster: h.Cluster, ClusterText: h.ClusterTxt, Changed: h.Changed, NewUpdates: h.NewUpdates, Missing: h.Missing,
		})
		v := &hosts[len(hosts)-1].Verdict
		v.OS, v.OSVersion, v.Confidence, v.Score, v.Updates, v.Possible, v.Evidence = h.OS, h.OSVersion, h.Confidence, h.Score, h.Updates, h.Possible, h.Evidence
		v.Why, v.WhyText = h.Why, h.WhyText
	}
	return doc.InventoryMeta, hosts, nil
}

// ClusterInfo is one row of clusters.csv without its centroid.
type ClusterInfo struct {
	Cluster     int
	Size        int
	Description string
}

// ReadClustersCSV reads the clusters of clusters.csv, centroids left out.
func ReadClustersCSV(r io.Reader) ([]ClusterInfo, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	var out []ClusterInfo
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if line == 1 {
			continue
		}
		if len(rec) < 3 {
			return nil, fmt.Errorf("line %d: %d fields, want cluster,size,description,...", line, len(rec))
		}
		c, err1 := strconv.Atoi(rec[0])
		s, err2 := strconv.Atoi(rec[1])
		if err := cmp.Or(err1, err2); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, ClusterInfo{Cluster: c, Size: s, Description: rec[2]})
	}
}
