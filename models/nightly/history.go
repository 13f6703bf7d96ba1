package nightly

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets/catalog"
	"github.com/fingerflow/fingerflow/datasets/history"
	"github.com/fingerflow/fingerflow/features"
	"github.com/fingerflow/fingerflow/models/inventory"
	"github.com/fingerflow/fingerflow/models/nightly/nightdir"
)

// historyStage writes the night into the history database (replacing an
// earlier run of the same night) and says, per host, what changed since
// the night before.
type historyStage struct {
	db *history.DB
}

// write stores run and fills each host's Changed and NewUpdates from the
// previous night of the database; sum gets the previous night, the hosts
// that vanished since, and the earlier run of this night it replaced.
func (s *historyStage) write(ctx context.Context, run history.Run, hosts []nightdir.Host, sum *nightdir.RunSummary) error {
	night := run.Info.Night
	runs, err := s.db.Runs(ctx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Night == night {
			sum.Replaced = &nightdir.ReplacedRun{Started: r.Started.UTC(), Finished: r.Finished.UTC(), Flows: r.Flows, Hosts: r.Hosts}
		}
	}
	if err := s.db.WriteRun(ctx, run); err != nil {
		return err
	}
	if err := s.missing(ctx, hosts); err != nil {
		return err
	}
	sum.MissingFromHistory = true
	prev, err := s.db.PreviousRun(ctx, night)
	if errors.Is(err, history.ErrNoRun) || (err == nil && prev.Night == "") {
		for i := range hosts {
			hosts[i].Changed = "first night in the history"
		}
		return nil
	}
	if err != nil {
		return err
	}
	sum.Previous = prev.Night
	changes, err := s.db.Changes(ctx, prev.Night, night)
	if err != nil {
		return err
	}
	byAddr := map[netip.Addr]history.HostChange{}
	for _, c := range changes {
		byAddr[c.Addr] = c
		if c.InFrom && !c.InTo {
			sum.Vanished = append(sum.Vanished, nightdir.VanishedHost{Addr: c.Addr.String(), OS: c.OSFrom})
		}
	}
	for i := range hosts {
		hosts[i].Changed, hosts[i].NewUpdates = changeText(byAddr[hosts[i].Addr], prev.Night)
	}
	return nil
}

// missing fills each host's Missing with what the history says it lacks
// of its OS family's catalog entries (history.DB.MissingForOS, the
// answer of fingerflow missing: the family is the host's latest known
// one, so a host not identified tonight lacks what its family of an
// earlier night lacks), the night just written included.
func (s *historyStage) missing(ctx context.Context, hosts []nightdir.Host) error {
	at := map[netip.Addr]int{}
	for i, h := range hosts {
		at[h.Addr] = i
		hosts[i].Missing = nil
	}
	families, err := s.db.Families(ctx)
	if err != nil {
		return err
	}
	for _, family := range families {
		ups, err := s.db.MissingForOS(ctx, family, time.Time{})
		if err != nil {
			return err
		}
		for _, u := range ups {
			for _, mh := range u.Hosts {
				if i, ok := at[mh.Addr]; ok {
					hosts[i].Missing = append(hosts[i].Missing, u.Entry.Entry)
				}
			}
		}
	}
	for i := range hosts {
		slices.Sort(hosts[i].Missing)
	}
	return nil
}

// changeText says in words how a host changed since the night prev.
func changeText(c history.HostChange, prev string) (string, []string) {
	switch {
	case !c.InFrom && c.InTo:
		return "new since " + prev, c.NewUpdates
	case c.OSChanged:
		from, to := strings.TrimSpace(c.OSFrom+" "+c.VersionFrom), strings.TrimSpace(c.OSTo+" "+c.VersionTo)
		s := fmt.Sprintf("OS %s → %s", orUnknown(from), orUnknown(to))
		if len(c.NewUpdates) > 0 {
			s += fmt.Sprintf("; %d new updates", len(c.NewUpdates))
		}
		return s, c.NewUpdates
	case len(c.NewUpdates) > 0:
		return fmt.Sprintf("%d new updates", len(c.NewUpdates)), c.NewUpdates
	}
	return "", nil
}

func orUnknown(s string) string {
	if s == "" {
		return inventory.Unknown
	}
	return s
}

// historyRun is what the history database keeps of the night.
func historyRun(cfg *Config, sum nightdir.RunSummary, started, finished time.Time, inv []nightdir.Host, cat *catalog.Catalog, hosts []features.HostStats) history.Run {
	stats := map[netip.Addr]features.HostStats{}
	for _, h := range hosts {
		stats[h.Addr] = h
	}
	r := history.Run{Info: history.RunInfo{
		Night: sum.Night, FirstFlow: sum.First, LastFlow: sum.Last, Started: started.UTC(), Finished: finished.UTC(),
		Flows: sum.Flows, FilesRead: sum.Files - sum.FilesSkipped, FilesSkipped: sum.FilesSkipped,
		Hosts: sum.Hosts, Downloads: sum.Downloads, Named: sum.Named, Version: cfg.Version,
		Model: identity(cfg.ModelPath), Catalog: identity(cfg.CatalogPaths...),
	}}
	if len(cfg.CatalogPaths) == 0 {
		r.Info.Catalog = history.Identity{Path: sum.Catalog}
	}
	for _, h := range inv {
		v := h.Verdict
		os := v.OS
		if os == inventory.Unknown {
			os = ""
		}
		var ev []string
		if os == "" && v.WhyText != "" {
			ev = append(ev, v.WhyText) // why no OS, first
		}
		for _, e := range v.Evidence {
			ev = append(ev, e.Text)
		}
		s := stats[h.Addr]
		r.Hosts = append(r.Hosts, history.Host{
			Addr: h.Addr, FirstSeen: h.FirstSeen, LastSeen: h.LastSeen, OS: os, OSVersion: v.OSVersion,
			Confidence: v.Confidence, Evidence: strings.Join(ev, "; "), Cluster: h.Cluster, ClusterDescription: h.ClusterText,
			BytesIn: s.BytesIn, BytesOut: s.BytesOut, Flows: s.FlowsOut + s.FlowsIn,
		})
		for _, u := range v.Updates {
			r.Fetches = append(r.Fetches, history.Fetch{
				Addr: h.Addr, Entry: u.Entry, Product: u.Product, Version: u.Version, OS: u.OS,
				Fetched: u.When, Chance: u.Chance, Method: fetchMethod(u.Kind),
			})
		}
		for _, p := range v.Possible {
			r.Possible = append(r.Possible, history.Possible{
				Addr: h.Addr, Entry: p.Entry, Product: p.Product, Version: p.Version, OS: p.OS, At: p.When,
			})
		}
	}
	for _, e := range cat.Files() {
		r.Catalog = append(r.Catalog, history.CatalogEntry{
			Entry: e.Name, Size: e.Size, Product: e.Product, Version: e.Version,
			OS: strings.ToLower(e.OS), OSVersion: e.OSVersion, Released: e.Released,
		})
	}
	return r
}

func fetchMethod(k inventory.Kind) history.Method {
	switch k {
	case inventory.KindConnection:
		return history.Connection
	case inventory.KindOSSearch:
		return history.OSSearch
	}
	return history.Single
}

// identity names the files a run used (a model, its catalogs) by path and
// a hash of their contents in order; no path is no file.
func identity(paths ...string) history.Identity {
	if len(paths) == 0 || paths[0] == "" {
		return history.Identity{}
	}
	id := history.Identity{Path: strings.Join(paths, ", ")}
	h := sha256.New()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return id
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return id
		}
	}
	id.Hash = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return id
}
