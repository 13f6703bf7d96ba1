package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/fingerflow/fingerflow/models/talkers"
)

// Stats is everything `fingerflow stats` computed; sections left nil were
// not asked for.
type Stats struct {
	Talkers *talkers.Result
}

// WriteStatsText prints every section of s as text tables, separated by
// blank lines.
func WriteStatsText(w io.Writer, s Stats) error {
	var sections []func(io.Writer) error
	if s.Talkers != nil {
		if len(s.Talkers.Tops) > 0 {
			sections = append(sections, func(w io.Writer) error { return WriteTops(w, *s.Talkers) })
		}
		if s.Talkers.Sources != nil {
			sections = append(sections, func(w io.Writer) error { return WriteSources(w, *s.Talkers) })
		}
	}
	for i, f := range sections {
		if i > 0 {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		if err := f(w); err != nil {
			return err
		}
	}
	return nil
}

// The JSON form of Stats. Times are RFC 3339 in UTC, durations seconds,
// shares fractions of the totals (0.381, not 38.1).
type (
	statsJSON struct {
		Totals  *countsJSON  `json:"totals,omitempty"`
		Tops    []topJSON    `json:"tops,omitempty"`
		Sources []sourceJSON `json:"sources,omitempty"`
		// SourcesDistinct counts every source address, listed or not.
		SourcesDistinct int `json:"sources_distinct,omitempty"`
	}
	countsJSON struct {
		Flows    uint64     `json:"flows"`
		Packets  uint64     `json:"packets"`
		Bytes    uint64     `json:"bytes"`
		First    *time.Time `json:"first,omitempty"`
		Last     *time.Time `json:"last,omitempty"`
		Duration float64    `json:"duration_s"`
	}
	topJSON struct {
		Stat     string      `json:"stat"`
		Element  string      `json:"element"`
		ByProto  bool        `json:"by_proto"`
		Order    string      `json:"order"`
		Distinct int         `json:"distinct"`
		Entries  []entryJSON `json:"entries"`
	}
	entryJSON struct {
		Key          string  `json:"key"`
		Proto        string  `json:"proto,omitempty"`
		Addr         string  `json:"addr,omitempty"`
		Port         *uint16 `json:"port,omitempty"`
		Dst          string  `json:"dst,omitempty"`
		DstPort      *uint16 `json:"dst_port,omitempty"`
		FlowsShare   float64 `json:"flows_share"`
		PacketsShare float64 `json:"packets_share"`
		BytesShare   float64 `json:"bytes_share"`
		PPS          uint64  `json:"pps"`
		BPS          uint64  `json:"bps"`
		BPP          uint64  `json:"bpp"`
		countsJSON
	}
	sourceJSON struct {
		Addr     string  `json:"addr"`
		Duration float64 `json:"duration_s"`
		Count    uint64  `json:"count"`
		Packets  uint64  `json:"packets"`
		Bytes    uint64  `json:"bytes"`
	}
)

func toCountsJSON(c talkers.Counts) countsJSON {
	j := countsJSON{Flows: c.Flows, Packets: c.Packets, Bytes: c.Bytes}
	if c.Flows > 0 {
		f, l := c.First.UTC(), c.Last.UTC()
		j.First, j.Last = &f, &l
		j.Duration = c.Duration().Seconds()
	}
	return j
}

func fraction(x, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return float64(x) / float64(total)
}

// WriteStatsJSON prints s as one indented JSON document.
func WriteStatsJSON(w io.Writer, s Stats) error {
	var out statsJSON
	if r := s.Talkers; r != nil {
		tot := toCountsJSON(r.Totals)
		out.Totals = &tot
		for _, top := range r.Tops {
			e := top.Stat.Element
			tj := topJSON{Stat: top.Stat.String(), Element: e.String(), ByProto: top.Stat.ByProto,
				Order: top.Order.String(), Distinct: top.Distinct, Entries: []entryJSON{}}
			for _, en := range top.Entries {
				ej := entryJSON{
					Key:          KeyText(e, en.Key),
					FlowsShare:   fraction(en.Flows, r.Totals.Flows),
					PacketsShare: fraction(en.Packets, r.Totals.Packets),
					BytesShare:   fraction(en.Bytes, r.Totals.Bytes),
					PPS:          en.PPS(), BPS: en.BPS(), BPP: en.BPP(),
					countsJSON: toCountsJSON(en.Counts),
				}
				if top.Stat.ByProto || e == talkers.Record || e == talkers.Proto {
					ej.Proto = KeyText(talkers.Proto, en.Key)
				}
				switch e {
				case talkers.SrcIP, talkers.DstIP, talkers.IP:
					ej.Addr = KeyText(e, en.Key)
				case talkers.SrcPort, talkers.DstPort, talkers.Port:
					ej.Port = &en.Key.Port
				case talkers.Record:
					ej.Addr, ej.Dst = en.Key.Addr.String(), en.Key.Dst.String()
					ej.Port, ej.DstPort = &en.Key.Port, &en.Key.DstPort
				}
				tj.Entries = append(tj.Entries, ej)
			}
			out.Tops = append(out.Tops, tj)
		}
		for _, src := range r.Sources {
			out.Sources = append(out.Sources, sourceJSON{Addr: src.Addr.String(), Duration: src.Duration.Seconds(),
				Count: src.Count, Packets: src.Packets, Bytes: src.Bytes})
		}
		out.SourcesDistinct = r.SourcesDistinct
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
