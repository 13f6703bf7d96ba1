// Package netflow reads NetFlow v1, v5, v9 and IPFIX export packets
// recorded in a pcap or pcapng capture (tcpdump of a collector's UDP port)
// as flows. Captures are read through datasets/capture; v5, v9 and IPFIX
// are decoded with goflow2, v1 here. Template and sampling state is kept
// per exporter address and per capture, never globally; data that arrives
// before its template, and export packets that do not decode, are skipped
// and counted (Stats), and the Reader's Logger says so. Only a damaged
// capture file ends iteration with an error.
package netflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"strings"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/fingerflow/fingerflow/datasets/capture"
)

// Format is the name this reader registers under.
const Format = "netflow-pcap"

// Reader reads NetFlow/IPFIX export captures. The zero value is ready to use.
type Reader struct {
	// Logger, when set, receives one summary line per file with the frames
	// and export packets that gave no flows.
	Logger *slog.Logger
}

var (
	_ datasets.Reader    = (*Reader)(nil)
	_ datasets.Describer = (*Reader)(nil)
)

// Format returns "netflow-pcap".
func (*Reader) Format() string { return Format }

// sniffPackets is how many UDP datagrams in the head Sniff looks at.
const sniffPackets = 4

// Sniff reports whether head is a pcap or pcapng capture whose first UDP
// datagrams carry NetFlow v1/v5/v9 or IPFIX headers with counts and lengths
// that agree with the datagram. An ordinary packet capture is refused.
func (*Reader) Sniff(head []byte) bool {
	if capture.Sniff(head) == capture.NotCapture {
		return false
	}
	cr, err := capture.NewReader(bytes.NewReader(head))
	if err != nil {
		return false
	}
	seen := 0
	for i := 0; i < 64 && seen < sniffPackets; i++ {
		pk, err := cr.Next()
		if err != nil {
			break
		}
		u, skip := decodeFrame(pk.LinkType, pk.Data)
		if skip == skipNotUDP || skip == skipFragment {
			return false // a collector capture holds UDP datagrams only
		}
		if skip != skipNone {
			continue
		}
		if !plausibleExport(u.Payload, u.Length) {
			return false
		}
		seen++
	}
	return seen > 0
}

// Flows streams the flows of the capture at path.
func (r *Reader) Flows(ctx context.Context, path string) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		f, err := datasets.Open(ctx, path)
		if err != nil {
			yield(datasets.Flow{}, err)
			return
		}
		defer f.Close()
		stopped := false
		st, err := r.Decode(ctx, path, f, func(fl *datasets.Flow) bool {
			if !yield(*fl, nil) {
				stopped = true
				return false
			}
			return true
		})
		if r.Logger != nil && st.Skipped()+st.NoTemplateSets > 0 {
			r.Logger.Warn("netflow capture: export data skipped", "file", path,
				"fragments", st.Fragments, "short", st.Short, "not_export", st.NotExport,
				"corrupt", st.Corrupt, "sets_without_template", st.NoTemplateSets)
		}
		if err != nil && !stopped {
			yield(datasets.Flow{}, err)
		}
	}
}

// Decode reads a capture from rd (name is used in errors) and passes each
// flow to emit, which returns false to stop early. The Flow passed to emit
// is only valid during the call. It returns what it saw besides the flows;
// the error, if any, names the file, the capture offset and the packet
// (from 1), and wraps io.ErrUnexpectedEOF for a truncated capture or
// datasets.ErrCorrupt for a damaged one.
func (r *Reader) Decode(ctx context.Context, name string, rd io.Reader, emit func(*datasets.Flow) bool) (st Stats, err error) {
	cr, err := capture.NewReader(rd)
	if err != nil {
		return st, fmt.Errorf("%s: %w", name, err)
	}
	defer func() {
		var names []string
		for _, lt := range cr.LinkTypes() {
			names = append(names, capture.LinkName(lt))
		}
		st.LinkType = strings.Join(names, ", ")
	}()
	d := newDecoder(&st)
	for i := 0; ; i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		pk, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("%s: %w", name, err)
		}
		st.Frames++
		u, skip := decodeFrame(pk.LinkType, pk.Data)
		switch skip {
		case skipLink:
			st.NotIP++
			continue
		case skipNotUDP:
			st.NotUDP++
			continue
		case skipFragment:
			st.Fragments++
			continue
		case skipShort:
			st.Short++
			continue
		}
		if len(u.Payload) < u.Length {
			st.Short++ // cut by the snap length
			continue
		}
		if !d.packet(u.Src, u.Payload, emit) {
			return st, nil
		}
	}
}

// Describe reads the whole capture and fills the NetFlow versions seen
// (Version), the link type (Ident), exporters, sampling rates, and notes on
// observation domains, templates and packets that could not be decoded.
func (r *Reader) Describe(ctx context.Context, path string, info *datasets.FileInfo) error {
	f, err := datasets.Open(ctx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := r.Decode(ctx, path, f, func(*datasets.Flow) bool { return true })
	if err != nil {
		return err
	}
	describe(&st, info)
	return nil
}

func describe(st *Stats, info *datasets.FileInfo) {
	var vs []string
	for _, v := range st.sortedVersions() {
		name := fmt.Sprintf("NetFlow v%d", v)
		if v == 10 {
			name = "IPFIX"
		}
		vs = append(vs, fmt.Sprintf("%s (%d packets)", name, st.Versions[v]))
	}
	info.Version = strings.Join(vs, ", ")
	info.Ident = "link type " + st.LinkType
	info.Exporters = append(info.Exporters, st.Exporters...)
	info.SamplingRates = append(info.SamplingRates, st.SamplingRates...)
	if len(st.Domains) > 0 {
		info.Notes = append(info.Notes, "observation domains: "+strings.Join(st.Domains, ", "))
	}
	if st.Templates > 0 {
		info.Notes = append(info.Notes, fmt.Sprintf("templates: %d", st.Templates))
	}
	if n := st.Skipped(); n > 0 {
		info.Notes = append(info.Notes, fmt.Sprintf(
			"%d of %d frames gave no flows: %d not IP, %d not UDP, %d IP fragments, %d short, %d not NetFlow/IPFIX, %d corrupt export packets",
			n, st.Frames, st.NotIP, st.NotUDP, st.Fragments, st.Short, st.NotExport, st.Corrupt))
	}
	if st.NoTemplateSets > 0 {
		info.Notes = append(info.Notes, fmt.Sprintf("%d data sets (%d bytes) arrived before their template and were dropped",
			st.NoTemplateSets, st.NoTemplateBytes))
	}
}
