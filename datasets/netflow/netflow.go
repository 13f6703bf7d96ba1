// Package netflow reads NetFlow v1, v5, v9 and IPFIX export packets recorded
// in a pcap or pcapng capture (tcpdump of a collector's UDP port) as flows.
//
// Captures are read with gopacket's pcapgo (no cgo). Link (Ethernet with
// VLAN tags, Linux SLL and SLL2, raw IP, BSD loopback), IPv4/IPv6 and UDP
// headers are walked by hand: only the source address and UDP payload are
// needed, and IP fragments are not reassembled but skipped and counted.
// NetFlow v5, v9 and IPFIX are decoded with goflow2 (decoders/netflowlegacy,
// decoders/netflow); NetFlow v1, which goflow2 does not read, is decoded here
// (see decodeV1 for the layout).
//
// Template state lives in one template store per exporter address (goflow2
// keys by version, observation domain and template ID inside it), created
// per Decode call, never global. Data sets that arrive before their template
// are dropped and counted (Stats.NoTemplateSets), not an error. Options
// records carrying a sampling interval (v9 fields 34, 48–50; IPFIX 34, 302,
// 305, 306) set Flow.SamplingRate for later flows of that exporter and
// domain, per sampler ID where the flows name one.
//
// An export packet that does not decode is skipped and counted
// (Stats.Corrupt); the other packets of the capture are still read. Only a
// damaged capture file (truncated record, bad header) ends iteration with an
// error naming the file and offset.
package netflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"strings"

	"github.com/fingerflow/fingerflow/datasets"
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
	if captureKind(head) == 0 {
		return false
	}
	src, err := openCapture(bytes.NewReader(head))
	if err != nil {
		return false
	}
	lt := src.LinkType()
	seen := 0
	for i := 0; i < 64 && seen < sniffPackets; i++ {
		data, _, err := src.ZeroCopyReadPacketData()
		if err != nil {
			break
		}
		u, skip := decodeFrame(lt, data)
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
		f, err := os.Open(path)
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
// the error, if any, names the file, the capture offset and the packet, and
// wraps io.ErrUnexpectedEOF for a truncated capture or datasets.ErrCorrupt
// for a damaged one.
func (r *Reader) Decode(ctx context.Context, name string, rd io.Reader, emit func(*datasets.Flow) bool) (Stats, error) {
	var st Stats
	src, err := openCapture(rd)
	if err != nil {
		return st, fmt.Errorf("%s: offset 0: %w", name, wrapCaptureErr(err))
	}
	lt := src.LinkType()
	st.LinkType = lt.String()
	if lt == linkTypeLinuxSLL2 {
		st.LinkType = "LinuxSLL2"
	}
	d := newDecoder(&st)
	for i := 0; ; i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		off := src.Offset()
		data, _, err := src.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("%s: offset %d: packet %d: %w", name, off, i, wrapCaptureErr(err))
		}
		st.Frames++
		u, skip := decodeFrame(lt, data)
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

func wrapCaptureErr(err error) error {
	err = captureErr(err)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return err
	case errors.Is(err, errCorruptCapture), errors.Is(err, errNotCapture):
		return fmt.Errorf("%w: %v", datasets.ErrCorrupt, err)
	}
	return err
}

// Describe reads the whole capture and fills the NetFlow versions seen
// (Version), the link type (Ident), exporters, sampling rates, and notes on
// observation domains, templates and packets that could not be decoded.
func (r *Reader) Describe(ctx context.Context, path string, info *datasets.FileInfo) error {
	f, err := os.Open(path)
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
