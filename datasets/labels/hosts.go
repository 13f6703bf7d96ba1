package labels

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/fingerflow/fingerflow/datasets"
)

// HostTruth is what a labelled population run knows of one host: its OS
// family ("none" or "" for a host that runs nothing the catalog covers)
// and the catalog files it fetched.
type HostTruth struct {
	Addr  netip.Addr
	OS    string
	Files []string
}

// ErrHosts marks a host truth file that cannot be used.
var ErrHosts = errors.New("bad host truth file")

// LoadHosts reads a host truth file (population.py's RUN.hosts.csv): a
// header naming an address column ("ip", "host" or "addr"), an "os"
// column, and optionally "catalog_files" (";"-separated file names).
func LoadHosts(ctx context.Context, path string) ([]HostTruth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadHosts(ctx, f, path)
}

// ReadHosts reads a host truth file from r; name is used in errors, which
// give the line.
func ReadHosts(ctx context.Context, r io.Reader, name string) ([]HostTruth, error) {
	cr := csv.NewReader(datasets.LimitText(r, datasets.MaxLine, datasets.CSVRecords))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: %w", name, ErrEmpty)
	}
	if errors.Is(err, datasets.ErrLineTooLong) {
		return nil, fmt.Errorf("%s: %w: %w", name, err, ErrHosts)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", name, err, ErrHosts)
	}
	col := func(names ...string) int {
		for i, h := range header {
			if slices.Contains(names, strings.ToLower(strings.TrimSpace(h))) {
				return i
			}
		}
		return -1
	}
	iAddr, iOS, iFiles := col("ip", "host", "addr", "address"), col("os"), col("catalog_files", "files")
	if iAddr < 0 || iOS < 0 {
		return nil, fmt.Errorf("%s: line 1: header %q lacks an address (ip, host, addr) or os column: %w", name, strings.Join(header, ","), ErrHosts)
	}
	var out []HostTruth
	seen := map[netip.Addr]int{}
	for {
		if len(out)%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if errors.Is(err, datasets.ErrLineTooLong) {
			return nil, fmt.Errorf("%s: %w: %w", name, err, ErrHosts)
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %v: %w", name, line, err, ErrHosts)
		}
		if len(rec) <= max(iAddr, iOS) {
			return nil, fmt.Errorf("%s: line %d: %d fields, want at least %d: %w", name, line, len(rec), max(iAddr, iOS)+1, ErrHosts)
		}
		a, err := netip.ParseAddr(strings.TrimSpace(rec[iAddr]))
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: address %q: %w", name, line, rec[iAddr], ErrHosts)
		}
		if prev, dup := seen[a]; dup {
			return nil, fmt.Errorf("%s: line %d: host %s already on line %d: %w", name, line, a, prev, ErrHosts)
		}
		seen[a] = line
		h := HostTruth{Addr: a.Unmap(), OS: strings.ToLower(strings.TrimSpace(rec[iOS]))}
		if iFiles >= 0 && iFiles < len(rec) {
			for _, f := range strings.Split(rec[iFiles], ";") {
				if f = strings.TrimSpace(f); f != "" {
					h.Files = append(h.Files, f)
				}
			}
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrEmpty)
	}
	return out, nil
}
