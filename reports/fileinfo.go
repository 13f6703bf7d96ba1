package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// fileInfoJSON is the --json form of datasets.FileInfo.
type fileInfoJSON struct {
	Path          string            `json:"path"`
	Format        string            `json:"format"`
	Version       string            `json:"version,omitempty"`
	Compression   string            `json:"compression,omitempty"`
	Ident         string            `json:"ident,omitempty"`
	Flows         uint64            `json:"flows"`
	Packets       uint64            `json:"packets"`
	Bytes         uint64            `json:"bytes"`
	First         *time.Time        `json:"first,omitempty"`
	Last          *time.Time        `json:"last,omitempty"`
	Exporters     []string          `json:"exporters"`
	SamplingRates []uint32          `json:"sampling_rates"`
	Protocols     map[string]uint64 `json:"protocols"`
	Notes         []string          `json:"notes,omitempty"`
}

// WriteFileInfoJSON writes descriptions of files as a JSON array, as
// info --json prints them.
func WriteFileInfoJSON(w io.Writer, infos []datasets.FileInfo) error {
	out := []fileInfoJSON{}
	for _, info := range infos {
		out = append(out, toJSON(info))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func sortedProtocols(m map[uint8]uint64) []uint8 {
	protos := slices.Collect(maps.Keys(m))
	slices.SortFunc(protos, func(a, b uint8) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		return int(a) - int(b)
	})
	return protos
}

func samplingText(rates []uint32) string {
	if len(rates) == 0 {
		return "-"
	}
	var parts []string
	for _, r := range slices.Sorted(slices.Values(rates)) {
		switch r {
		case 0:
			parts = append(parts, "unknown")
		case 1:
			parts = append(parts, "none (1:1)")
		default:
			parts = append(parts, fmt.Sprintf("1:%d", r))
		}
	}
	return strings.Join(parts, ", ")
}

// WriteFileInfo writes a file's description as info prints it, like
// nfdump -I.
func WriteFileInfo(w io.Writer, info datasets.FileInfo) error {
	ew := &errWriter{w: w}
	w = ew
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-12s %s\n", k+":", v)
		}
	}
	fmt.Fprintln(w, info.Path)
	line("Format", info.Format)
	line("Version", info.Version)
	line("Compression", info.Compression)
	line("Ident", info.Ident)
	line("Flows", fmt.Sprint(info.Flows))
	line("Packets", fmt.Sprint(info.Packets))
	line("Bytes", fmt.Sprintf("%d (%s)", info.Bytes, HumanBytes(info.Bytes)))
	if !info.First.IsZero() {
		line("First", info.First.UTC().Format(time.RFC3339Nano))
		line("Last", info.Last.UTC().Format(time.RFC3339Nano))
		line("Duration", info.Last.Sub(info.First).String())
	}
	var exp []string
	for _, a := range info.Exporters {
		exp = append(exp, a.String())
	}
	if len(exp) == 0 {
		exp = []string{"unknown"}
	}
	line("Exporters", strings.Join(exp, ", "))
	line("Sampling", samplingText(info.SamplingRates))
	var protos []string
	for _, p := range sortedProtocols(info.Protocols) {
		protos = append(protos, fmt.Sprintf("%s %d (%.1f%%)", datasets.ProtoName(p), info.Protocols[p], 100*float64(info.Protocols[p])/float64(max(info.Flows, 1))))
	}
	line("Protocols", strings.Join(protos, ", "))
	for _, n := range info.Notes {
		line("Note", n)
	}
	return ew.err
}

func toJSON(info datasets.FileInfo) fileInfoJSON {
	j := fileInfoJSON{
		Path: info.Path, Format: info.Format, Version: info.Version,
		Compression: info.Compression, Ident: info.Ident,
		Flows: info.Flows, Packets: info.Packets, Bytes: info.Bytes,
		Exporters: []string{}, SamplingRates: []uint32{}, Protocols: map[string]uint64{},
		Notes: info.Notes,
	}
	if !info.First.IsZero() {
		first, last := info.First.UTC(), info.Last.UTC()
		j.First, j.Last = &first, &last
	}
	for _, a := range info.Exporters {
		j.Exporters = append(j.Exporters, a.String())
	}
	j.SamplingRates = append(j.SamplingRates, slices.Sorted(slices.Values(info.SamplingRates))...)
	for p, n := range info.Protocols {
		j.Protocols[datasets.ProtoName(p)] = n
	}
	return j
}

// HumanBytes renders n in binary units (7.3 GiB).
func HumanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
