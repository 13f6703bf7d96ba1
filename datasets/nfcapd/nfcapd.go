// Package nfcapd reads the flow files nfcapd, nfpcapd and sfcapd write
// (nfdump 1.7, file layout 2): every block compression nfdump uses (none,
// LZO, BZ2, LZ4, ZSTD), the appendix (ident and statistics) and the
// exporter and sampler records, which give each flow its Exporter and
// SamplingRate. nfdump 1.6 files (layout 1) are refused with an error that
// says how to convert them. The format is decoded here, with every length
// checked against the bytes that hold it, so a damaged file gives an error
// naming the file, block offset and record, never a panic.
package nfcapd

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"iter"
	"sync"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// Reader reads nfcapd files. The zero value is ready to use; a Reader
// reuses block buffers from one file to the next and must not be copied
// after first use.
//
// Every block header is validated before its data is used: its size against
// a 16 MiB limit and the bytes left in the file (a short file gives
// io.ErrUnexpectedEOF naming the block offset), its record count against
// its size, every record and element length against the bytes that hold
// them. Errors name the file, the block's offset and the record index. A
// file whose appendix is lost (truncated) still yields its flows, then the
// error; a file nfcapd never closed (no block count in its header) is read
// block by block up to its end.
//
// Field mapping: msecFirst/msecLast → Start/End (UTC), inPackets/inBytes →
// Packets/Bytes, outPackets/outBytes → RevPackets/RevBytes (HasReverse when
// either is non-zero: nfdump keeps the reverse direction of NSEL and biflow
// records there), srcTos → ToS, input/output → InIf/OutIf, the received-from
// address (nfdump's "ra") or else the exporter record's address → Exporter.
// SamplingRate is (packetInterval+spaceInterval)/packetInterval of the
// sampler that applies (the record's sampler element, else the exporter's
// overwrite, generic or default sampler); 0 when the exporter announced
// none. nfcapd has already scaled counters by the sampling rate when it
// stored them. nfdump 1.7.1 records carry no TTLs: MinTTL and MaxTTL are 0.
type Reader struct {
	pool sync.Pool // of *buffers
}

func (r *Reader) open(ctx context.Context, path string) (*File, error) {
	b, _ := r.pool.Get().(*buffers)
	if b == nil {
		b = new(buffers)
	}
	nf, err := open(ctx, path, b)
	if err != nil {
		r.pool.Put(b)
		return nil, err
	}
	return nf, nil
}

func (r *Reader) close(nf *File) {
	nf.Close()
	r.pool.Put(nf.buffers)
}

var (
	_ datasets.Reader    = (*Reader)(nil)
	_ datasets.Describer = (*Reader)(nil)
)

// Format returns "nfcapd".
func (r *Reader) Format() string { return "nfcapd" }

// Sniff accepts nfdump's magic followed by file layout 1 or 2.
func (r *Reader) Sniff(head []byte) bool {
	if len(head) < 4 || binary.LittleEndian.Uint16(head) != Magic {
		return false
	}
	v := binary.LittleEndian.Uint16(head[2:])
	return v == LayoutV1 || v == LayoutV2
}

// Flows streams the flow records of the file at path.
func (r *Reader) Flows(ctx context.Context, path string) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		nf, err := r.open(ctx, path)
		if err != nil {
			yield(datasets.Flow{}, err)
			return
		}
		defer r.close(nf)
		var fl datasets.Flow
		for {
			err := nf.Next(&fl)
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(datasets.Flow{}, err)
				return
			}
			if !yield(fl, nil) {
				return
			}
		}
	}
}

// Describe fills what the file itself says, like `nfdump -I` and
// `nfdump -E`: layout and nfdump version, compression, ident, the appendix
// statistics, exporters and their samplers. It reads all blocks to find the
// exporter records.
func (r *Reader) Describe(ctx context.Context, path string, info *datasets.FileInfo) error {
	nf, err := r.open(ctx, path)
	if err != nil {
		return err
	}
	defer r.close(nf)
	var fl datasets.Flow
	for {
		err := nf.Next(&fl)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if nf.appxErr != nil {
		return nf.appxErr
	}
	h := nf.Header()
	info.Version = fmt.Sprintf("layout 2, written by nfdump %s", h.NfdumpString())
	info.Compression = h.Compression.String()
	info.Ident = nf.Ident()
	info.Notes = append(info.Notes,
		fmt.Sprintf("created %s, %d data blocks", h.Created.Format(time.RFC3339), h.DataBlocks))
	if st, ok := nf.Stat(); ok {
		info.Notes = append(info.Notes,
			fmt.Sprintf("stat record: %d flows, %d packets, %d bytes (tcp %d/%d/%d, udp %d/%d/%d, icmp %d/%d/%d, other %d/%d/%d flows/packets/bytes)",
				st.Flows, st.Packets, st.Bytes,
				st.FlowsTCP, st.PacketsTCP, st.BytesTCP,
				st.FlowsUDP, st.PacketsUDP, st.BytesUDP,
				st.FlowsICMP, st.PacketsICMP, st.BytesICMP,
				st.FlowsOther, st.PacketsOther, st.BytesOther),
			fmt.Sprintf("stat record: first %s, last %s, %d sequence failures",
				st.First.Format(time.RFC3339Nano), st.Last.Format(time.RFC3339Nano), st.SequenceFailures))
	}
	seen := map[uint32]bool{}
	for _, s := range info.SamplingRates {
		seen[s] = true
	}
	for _, e := range nf.Exporters() {
		info.Exporters = append(info.Exporters, e.Addr)
		note := fmt.Sprintf("exporter %s: sysid %d, version %d, id %d, %d packets, %d flows, %d sequence failures",
			e.Addr, e.SysID, e.Version, e.ID, e.Packets, e.Flows, e.SequenceFailures)
		for _, s := range e.Samplers {
			note += fmt.Sprintf("; sampler id %d algorithm %d: 1 in %d", s.ID, s.Algorithm, s.Rate())
			if !seen[s.Rate()] {
				seen[s.Rate()] = true
				info.SamplingRates = append(info.SamplingRates, s.Rate())
			}
		}
		info.Notes = append(info.Notes, note)
	}
	return nil
}
