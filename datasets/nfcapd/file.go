package nfcapd

import (
	"bytes"
	"compress/bzip2"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Magic is the first two bytes of every nfdump file (0xA50C, little-endian).
const Magic = 0xA50C

// Layout versions of the nfdump file format.
const (
	LayoutV1 = 1 // nfdump 1.6 and earlier
	LayoutV2 = 2 // nfdump 1.7
)

const (
	headerLen      = 40       // fileHeaderV2_t
	blockHeaderLen = 12       // dataBlock_t
	maxBlock       = 16 << 20 // largest block accepted, compressed or not (nfdump writes at most 5 MiB)
	maxAppendix    = 64       // appendix blocks accepted (nfdump writes one)

	blockType2 = 2 // nfdump 1.6 records
	blockType3 = 3 // V3 records

	flagBlockUncompressed = 1 // block flag bit 0: this block is not compressed
)

// Compression is the block compression of a layout-2 file.
type Compression uint8

// Block compressions nfdump 1.7 writes.
const (
	None Compression = 0
	LZO  Compression = 1
	BZ2  Compression = 2
	LZ4  Compression = 3
	ZSTD Compression = 4
)

func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case LZO:
		return "lzo"
	case BZ2:
		return "bz2"
	case LZ4:
		return "lz4"
	case ZSTD:
		return "zstd"
	}
	return fmt.Sprintf("unknown (%d)", uint8(c))
}

// Header is the file header of a layout-2 nfdump file.
type Header struct {
	Layout         uint16 // LayoutV2
	NfdumpVersion  uint32 // version of the nfdump that wrote the file, 0x01070100 for 1.7.1
	Created        time.Time
	Compression    Compression
	Encrypted      bool
	AppendixBlocks uint16
	AppendixOffset uint64
	BlockSize      uint32
	DataBlocks     uint32
}

// NfdumpString renders NfdumpVersion as "1.7.1".
func (h Header) NfdumpString() string {
	v := h.NfdumpVersion
	return fmt.Sprintf("%d.%d.%d", v>>24, v>>16&0xff, v>>8&0xff)
}

// Stat is the statistics record nfcapd stores in the file's appendix (what
// `nfdump -I` prints).
type Stat struct {
	Flows, Bytes, Packets                             uint64
	FlowsTCP, FlowsUDP, FlowsICMP, FlowsOther         uint64
	BytesTCP, BytesUDP, BytesICMP, BytesOther         uint64
	PacketsTCP, PacketsUDP, PacketsICMP, PacketsOther uint64
	First, Last                                       time.Time
	SequenceFailures                                  uint64
}

// Exporter is a flow exporter announced in the file's data blocks.
type Exporter struct {
	SysID   uint16     // nfcapd's internal id, referenced by flow records
	Addr    netip.Addr // the exporter's address
	Version uint32     // NetFlow version (5, 9, 10 for IPFIX)
	ID      uint32     // exporter/observation domain id set by the device

	// Counters from exporter stat records.
	Packets, Flows   uint64
	SequenceFailures uint32

	Samplers []Sampler
}

// Sampler ids with a special meaning in nfdump.
const (
	SamplerOverwrite = -3 // set by the collector's operator (nfcapd -s -N)
	SamplerDefault   = -2 // default set by the operator (nfcapd -s N)
	SamplerGeneric   = -1 // announced by the exporter without an id
)

// Sampler is a packet sampler announced for an exporter.
type Sampler struct {
	ID             int64
	Algorithm      uint16
	PacketInterval uint32
	SpaceInterval  uint32
}

// Rate is the sampling interval (1 in Rate packets), or 0 when the sampler
// says nothing usable.
func (s Sampler) Rate() uint32 {
	if s.PacketInterval == 0 {
		return 0
	}
	r := (uint64(s.PacketInterval) + uint64(s.SpaceInterval)) / uint64(s.PacketInterval)
	if r > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(r)
}

// exporterState is what flow decoding needs per exporter sysid.
type exporterState struct {
	known        bool
	addr         netip.Addr
	rate         uint32 // rate for records without a sampler element
	rateOverride uint32 // operator's overwrite rate, 0 when none
	samplers     []Sampler
}

// File reads one nfdump file block by block. It is not safe for concurrent
// use.
type File struct {
	ctx    context.Context
	name   string
	r      io.ReaderAt
	closer io.Closer
	size   int64

	hdr      Header
	ident    string
	stat     Stat
	hasStat  bool
	appxErr  error // why the appendix could not be read; returned at the end
	nextOff  int64 // file offset of the next data block
	blockNum uint32

	// Current block.
	blockOff int64  // file offset of the current block
	recs     uint32 // records left in the current block
	recIdx   int    // index of the next record in the current block
	data     []byte // unread part of the current block
	*buffers
	ownBuffers bool // Close releases the buffers (not pooled by a Reader)

	err error // sticky error of Next

	exp       []exporterState
	exporters []Exporter // in order of announcement
}

// Open opens the nfdump file at path and reads its header and appendix.
// Layout-1 files (nfdump 1.6) are refused with an error wrapping
// datasets.ErrUnsupported. The context is checked once per block.
//
// An appendix that cannot be read (a truncated file has lost it) does not
// fail Open: the flows before the damage are still read, and Next returns
// the appendix error instead of io.EOF at the end.
func Open(ctx context.Context, path string) (*File, error) {
	return open(ctx, path, nil)
}

// buffers are the block buffers a File reuses from block to block; a
// Reader also reuses them from file to file.
type buffers struct {
	raw  []byte // compressed block
	buf  []byte // decompressed block
	zstd *zstd.Decoder
}

// open opens path with the given buffers, or new ones when b is nil.
func open(ctx context.Context, path string, b *buffers) (*File, error) {
	f, err := datasets.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	nf, err := newFile(ctx, path, f, st.Size(), b)
	if err != nil {
		f.Close()
		return nil, err
	}
	nf.closer = f
	return nf, nil
}

// newFile reads an nfdump file of size bytes from r with the given
// buffers (new ones when b is nil); name is used in errors.
func newFile(ctx context.Context, name string, r io.ReaderAt, size int64, b *buffers) (*File, error) {
	nf := &File{ctx: ctx, name: name, r: r, size: size, buffers: b}
	if b == nil {
		nf.buffers, nf.ownBuffers = new(buffers), true
	}
	if err := nf.readHeader(); err != nil {
		return nil, err
	}
	nf.appxErr = nf.readAppendix()
	return nf, nil
}

// Close releases the file.
func (nf *File) Close() error {
	if nf.ownBuffers && nf.zstd != nil {
		nf.zstd.Close()
		nf.zstd = nil
	}
	if nf.closer != nil {
		return nf.closer.Close()
	}
	return nil
}

// Header returns the file header.
func (nf *File) Header() Header { return nf.hdr }

// Ident returns the ident string from the appendix ("" when there is none).
func (nf *File) Ident() string { return nf.ident }

// Stat returns the appendix's statistics record and whether there was one.
func (nf *File) Stat() (Stat, bool) { return nf.stat, nf.hasStat }

// Exporters returns the exporters announced in the data blocks read so
// far, with their samplers and counters.
func (nf *File) Exporters() []Exporter { return nf.exporters }

func (nf *File) errorf(off int64, format string, args ...any) error {
	return fmt.Errorf("%s: offset %d: %w", nf.name, off, fmt.Errorf(format, args...))
}

func (nf *File) readHeader() error {
	var h [headerLen]byte
	n, err := nf.r.ReadAt(h[:], 0)
	if n == headerLen {
		err = nil
	}
	if n < 4 {
		if n == 0 && nf.size == 0 {
			return fmt.Errorf("%s: %w", nf.name, datasets.ErrEmpty)
		}
		return nf.errorf(0, "file header: %w", io.ErrUnexpectedEOF)
	}
	le := binary.LittleEndian
	if le.Uint16(h[0:]) != Magic {
		return nf.errorf(0, "bad magic %#04x: %w", le.Uint16(h[0:]), datasets.ErrCorrupt)
	}
	switch v := le.Uint16(h[2:]); v {
	case LayoutV2:
	case LayoutV1:
		return fmt.Errorf("%s: nfdump 1.6 file (layout 1): convert with nfdump 1.7: nfdump -r FILE -w NEW: %w", nf.name, datasets.ErrUnsupported)
	default:
		return nf.errorf(2, "unknown nfdump file layout %d: %w", v, datasets.ErrUnsupported)
	}
	if err != nil {
		return nf.errorf(0, "file header: %w", io.ErrUnexpectedEOF)
	}
	nf.hdr = Header{
		Layout:         LayoutV2,
		NfdumpVersion:  le.Uint32(h[4:]),
		Created:        time.Unix(int64(le.Uint64(h[8:])), 0).UTC(),
		Compression:    Compression(h[16]),
		Encrypted:      h[17] != 0,
		AppendixBlocks: le.Uint16(h[18:]),
		AppendixOffset: le.Uint64(h[24:]),
		BlockSize:      le.Uint32(h[32:]),
		DataBlocks:     le.Uint32(h[36:]),
	}
	if nf.hdr.Compression > ZSTD {
		return nf.errorf(16, "compression %d: %w", h[16], datasets.ErrUnsupported)
	}
	if nf.hdr.Encrypted {
		return nf.errorf(17, "encrypted file: %w", datasets.ErrUnsupported)
	}
	nf.nextOff = headerLen
	return nil
}

// readAppendix reads the ident and stat records after the data blocks.
func (nf *File) readAppendix() error {
	h := nf.hdr
	if h.AppendixBlocks == 0 {
		return nil
	}
	if h.AppendixBlocks > maxAppendix {
		return nf.errorf(18, "%d appendix blocks: %w", h.AppendixBlocks, datasets.ErrCorrupt)
	}
	if h.AppendixOffset < headerLen {
		return nf.errorf(24, "appendix offset %d: %w", h.AppendixOffset, datasets.ErrCorrupt)
	}
	if h.AppendixOffset >= uint64(nf.size) {
		return nf.errorf(int64(min(h.AppendixOffset, 1<<62)), "appendix beyond the end of the file (%d bytes): %w", nf.size, io.ErrUnexpectedEOF)
	}
	off := int64(h.AppendixOffset)
	for range h.AppendixBlocks {
		next, nrec, data, err := nf.loadBlock(off)
		if err != nil {
			return err
		}
		for i := range int(nrec) {
			typ, rec, rest, err := nextRecord(data)
			if err != nil {
				return nf.errorf(off, "appendix record %d: %w", i, err)
			}
			data = rest
			switch typ {
			case typeIdent:
				s := rec[4:]
				if i := bytes.IndexByte(s, 0); i >= 0 {
					s = s[:i]
				}
				nf.ident = string(s)
			case typeStat:
				if len(rec) < 4+18*8 {
					return nf.errorf(off, "appendix record %d: stat record of %d bytes: %w", i, len(rec), datasets.ErrCorrupt)
				}
				nf.stat = parseStat(rec[4:])
				nf.hasStat = true
			}
		}
		off = next
	}
	return nil
}

func parseStat(b []byte) Stat {
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[8*i:]) }
	ms := func(v uint64) time.Time {
		if v == 0 {
			return time.Time{}
		}
		return time.UnixMilli(int64(v)).UTC()
	}
	return Stat{
		Flows: u(0), Bytes: u(1), Packets: u(2),
		FlowsTCP: u(3), FlowsUDP: u(4), FlowsICMP: u(5), FlowsOther: u(6),
		BytesTCP: u(7), BytesUDP: u(8), BytesICMP: u(9), BytesOther: u(10),
		PacketsTCP: u(11), PacketsUDP: u(12), PacketsICMP: u(13), PacketsOther: u(14),
		First: ms(u(15)), Last: ms(u(16)),
		SequenceFailures: u(17),
	}
}

// loadBlock reads and decompresses the block at off. It returns the offset
// of the following block, the block's record count and its records. The
// returned slice is valid until the next call.
func (nf *File) loadBlock(off int64) (next int64, nrec uint32, data []byte, err error) {
	if err := nf.ctx.Err(); err != nil {
		return 0, 0, nil, err
	}
	if nf.size-off < blockHeaderLen {
		return 0, 0, nil, nf.errorf(off, "block header: %w", io.ErrUnexpectedEOF)
	}
	var h [blockHeaderLen]byte
	if _, err := nf.r.ReadAt(h[:], off); err != nil {
		return 0, 0, nil, nf.errorf(off, "block header: %w", err)
	}
	le := binary.LittleEndian
	nrec = le.Uint32(h[0:])
	size := le.Uint32(h[4:])
	typ := le.Uint16(h[8:])
	flags := le.Uint16(h[10:])
	if size > maxBlock {
		return 0, 0, nil, nf.errorf(off, "block of %d bytes (limit %d): %w", size, maxBlock, datasets.ErrCorrupt)
	}
	if typ != blockType3 && typ != blockType2 {
		return 0, 0, nil, nf.errorf(off, "block type %d: %w", typ, datasets.ErrCorrupt)
	}
	if int64(size) > nf.size-off-blockHeaderLen {
		return 0, 0, nil, nf.errorf(off, "block of %d bytes, %d left in file: %w", size, nf.size-off-blockHeaderLen, io.ErrUnexpectedEOF)
	}
	next = off + blockHeaderLen + int64(size)
	if cap(nf.raw) < int(size) {
		nf.raw = make([]byte, size)
	}
	raw := nf.raw[:size]
	if _, err := nf.r.ReadAt(raw, off+blockHeaderLen); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, nil, nf.errorf(off, "block data: %w", err)
	}
	if typ == blockType2 {
		// Records of nfdump 1.6 inside a layout-2 file: nothing to decode.
		return next, 0, nil, nil
	}
	data = raw
	if flags&flagBlockUncompressed == 0 && nf.hdr.Compression != None {
		data, err = nf.decompress(raw)
		if err != nil {
			return 0, 0, nil, nf.errorf(off, "%s block: %w: %w", nf.hdr.Compression, err, datasets.ErrCorrupt)
		}
	}
	// Every record is at least 4 bytes.
	if uint64(nrec)*4 > uint64(len(data)) {
		return 0, 0, nil, nf.errorf(off, "%d records in a block of %d bytes: %w", nrec, len(data), datasets.ErrCorrupt)
	}
	return next, nrec, data, nil
}

var errTooBig = errors.New("decompressed block larger than 16 MiB")

// decompress inflates one block into nf.buf.
func (nf *File) decompress(src []byte) ([]byte, error) {
	switch nf.hdr.Compression {
	case LZ4:
		// Grow the buffer until the block fits: nfdump's blocks are at
		// most 5 MiB, most far smaller.
		// LZ4 expands at most 255-fold, which bounds the growth for
		// corrupt blocks (the library reports them as a short buffer).
		limit := min(maxBlock, 255*len(src)+64)
		size := min(max(cap(nf.buf), 1<<20), limit)
		for {
			if cap(nf.buf) < size {
				nf.buf = make([]byte, size)
			}
			n, err := lz4.UncompressBlock(src, nf.buf[:size])
			if err == nil {
				return nf.buf[:n], nil
			}
			if !errors.Is(err, lz4.ErrInvalidSourceShortBuffer) || size >= limit {
				return nil, err
			}
			size = min(2*size, limit)
		}
	case ZSTD:
		if nf.zstd == nil {
			d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxBlock))
			if err != nil {
				return nil, err
			}
			nf.zstd = d
		}
		out, err := nf.zstd.DecodeAll(src, nf.buf[:0])
		if err != nil {
			return nil, err
		}
		if len(out) > maxBlock {
			return nil, errTooBig
		}
		nf.buf = out
		return out, nil
	case BZ2:
		out, err := readAllLimit(nf.buf[:0], bzip2.NewReader(bytes.NewReader(src)), maxBlock)
		if err != nil {
			return nil, err
		}
		nf.buf = out
		return out, nil
	case LZO:
		out, err := lzo1xDecompress(nf.buf, src, maxBlock)
		if err != nil {
			return nil, err
		}
		nf.buf = out
		return out, nil
	}
	return nil, fmt.Errorf("compression %d: %w", nf.hdr.Compression, datasets.ErrUnsupported)
}

// readAllLimit appends all of r to buf, failing when it exceeds limit.
func readAllLimit(buf []byte, r io.Reader, limit int) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return nil, errTooBig
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
