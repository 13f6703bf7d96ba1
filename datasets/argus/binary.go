package argus

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// Reader reads binary argus 3.x files (format "argus"), as written by
// `argus -w` and `ra -w`. Only flow records (FAR) with an IPv4 or IPv6 flow
// key become flows; management records and non-IP flows (ARP, bare
// Ethernet) are skipped.
//
// Argus records are bidirectional: Src is the host that started the
// conversation, Packets/Bytes count its packets to Dst, and the Rev*
// counters the answers (HasReverse is always true). TCPFlags is the OR of
// the flags both sides sent. MinTTL and MaxTTL are both the TTL argus saw
// on the Src→Dst packets, ToS their ToS byte. ICMP flows carry
// type<<8|code in DstPort and 0 in SrcPort, as nfdump does.
type Reader struct{}

var (
	_ datasets.Reader    = (*Reader)(nil)
	_ datasets.Describer = (*Reader)(nil)
)

// Format returns "argus".
func (*Reader) Format() string { return "argus" }

// Record header and MAR constants (argus_def.h).
const (
	recTypeMask = 0xF0
	recMAR      = 0x80
	recFAR      = 0x10
	versionMask = 0x0F
	version3    = 3
	cookieV3    = 0xE5712DCB
	cookieV2    = 0xE5617ACB
	cookieV5    = 0xE57150CB
	marLen      = 128 // bytes of the initial management record
)

// Data supplement record types and sub-fields.
const (
	dsrImmediate = 0x80
	dsrFlow      = 0x02
	dsrTime      = 0x03
	dsrMetric    = 0x10
	dsrEncaps    = 0x20
	dsrNetwork   = 0x30
	dsrIPAttr    = 0x48
	dsrData      = 0x50 // user data: 16-bit length

	flowClassic5Tuple = 0x01
	flowReverse       = 0x40 // key stored responder first
	flowTypeIPv4      = 0x01
	flowTypeIPv6      = 0x02

	timeAbsTimestamp = 0x01
	timeAbsRange     = 0x02
	timeUsec         = 0x18
	timeNsec         = 0x19

	metricPktsBytes    = 0x01
	metricPktsBytesApp = 0x04

	tcpInit   = 0x03
	tcpStatus = 0x04
	tcpPerf   = 0x05

	ipAttrSrc = 0x01
	ipAttrDst = 0x02
)

// Sniff accepts an argus 3 file: a management record whose argus id field
// holds the version 3 cookie. Version 2 and 5 files are sniffed too and
// refused by Flows with a message.
func (*Reader) Sniff(head []byte) bool {
	if len(head) < 12 || head[0]&recTypeMask != recMAR {
		return false
	}
	switch binary.BigEndian.Uint32(head[8:12]) {
	case cookieV3, cookieV5:
		return true
	}
	// argus 2 MARs start with the type byte 0x80 and carry the v2 cookie.
	return binary.BigEndian.Uint32(head[8:12]) == cookieV2
}

// Describe fills the format version.
func (r *Reader) Describe(ctx context.Context, path string, info *datasets.FileInfo) error {
	f, err := datasets.Open(ctx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	var h [12]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return fmt.Errorf("%s: offset 0: %w", path, unexpected(err))
	}
	info.Version = fmt.Sprintf("argus record version %d", h[0]&versionMask)
	info.Notes = append(info.Notes, "bidirectional flows; byte counts are IP-layer (link headers removed)")
	return nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// convertHint tells users of other argus versions how to read their files.
func convertHint() string {
	return "convert it with: " + CSVCommand + " > FILE.csv"
}

// Flows streams the flows of a binary argus file.
func (r *Reader) Flows(ctx context.Context, path string) iter.Seq2[datasets.Flow, error] {
	return datasets.StreamFile(ctx, path, func(name string, rd io.Reader) iter.Seq2[datasets.Flow, error] {
		return readBinary(ctx, name, rd)
	})
}

func readBinary(ctx context.Context, name string, rd io.Reader) iter.Seq2[datasets.Flow, error] {
	return func(yield func(datasets.Flow, error) bool) {
		br := bufio.NewReaderSize(rd, 64<<10)
		buf := make([]byte, 0, 1024)
		var off int64
		for i := 0; ; i++ {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					yield(datasets.Flow{}, err)
					return
				}
			}
			var h [4]byte
			if _, err := io.ReadFull(br, h[:]); err != nil {
				if errors.Is(err, io.EOF) {
					if i == 0 {
						yield(datasets.Flow{}, fmt.Errorf("%s: %w", name, datasets.ErrEmpty))
					}
					return
				}
				yield(datasets.Flow{}, fmt.Errorf("%s: offset %d: record %d: %w", name, off, i, unexpected(err)))
				return
			}
			if i == 0 && h[0]&recTypeMask != recMAR {
				yield(datasets.Flow{}, fmt.Errorf("%s: offset 0: file does not start with an argus management record: %w", name, datasets.ErrCorrupt))
				return
			}
			words := int(binary.BigEndian.Uint16(h[2:4]))
			if words < 1 {
				yield(datasets.Flow{}, fmt.Errorf("%s: offset %d: record %d: zero record length: %w", name, off, i, datasets.ErrCorrupt))
				return
			}
			n := words * 4 // at most 256 KiB
			if cap(buf) < n {
				buf = make([]byte, n)
			}
			buf = buf[:n]
			copy(buf, h[:])
			if _, err := io.ReadFull(br, buf[4:]); err != nil {
				yield(datasets.Flow{}, fmt.Errorf("%s: offset %d: record %d: %d-byte record: %w", name, off, i, n, unexpected(err)))
				return
			}
			if i == 0 {
				if err := checkMAR(buf); err != nil {
					yield(datasets.Flow{}, fmt.Errorf("%s: offset 0: %w", name, err))
					return
				}
			}
			if h[0]&recTypeMask == recFAR {
				if v := h[0] & versionMask; v != version3 {
					yield(datasets.Flow{}, fmt.Errorf("%s: offset %d: record %d: record version %d: %w; %s", name, off, i, v, datasets.ErrUnsupported, convertHint()))
					return
				}
				fl, ok, err := decodeFAR(buf)
				if err != nil {
					yield(datasets.Flow{}, fmt.Errorf("%s: offset %d: record %d: %w", name, off, i, err))
					return
				}
				if ok && !yield(fl, nil) {
					return
				}
			}
			off += int64(n)
		}
	}
}

// checkMAR validates the management record that starts every argus file.
func checkMAR(rec []byte) error {
	if rec[0]&recTypeMask != recMAR || len(rec) < 12 {
		return fmt.Errorf("file does not start with an argus management record: %w", datasets.ErrCorrupt)
	}
	switch c := binary.BigEndian.Uint32(rec[8:12]); {
	case c == cookieV3 && rec[0]&versionMask == version3:
		return nil
	case c == cookieV2:
		return fmt.Errorf("argus 2 file: %w; %s", datasets.ErrUnsupported, convertHint())
	default:
		return fmt.Errorf("argus record version %d (cookie %#x): %w; %s", rec[0]&versionMask, c, datasets.ErrUnsupported, convertHint())
	}
}

// decodeFAR decodes one flow record; ok is false for records without an
// IP flow key.
func decodeFAR(rec []byte) (fl datasets.Flow, ok bool, err error) {
	var (
		haveFlow, haveTime, haveMetric bool
		reverse                        bool
		srcMask, dstMask               uint32
		srcFlags, dstFlags             uint8
	)
	for p := 4; p < len(rec); {
		if len(rec)-p < 4 {
			return fl, false, fmt.Errorf("offset %d in record: %d bytes left for a DSR header: %w", p, len(rec)-p, datasets.ErrCorrupt)
		}
		typ, sub, qual := rec[p], rec[p+1], rec[p+2]
		var n int
		switch {
		case typ&dsrImmediate != 0:
			n = 4
		case typ == dsrData:
			n = int(binary.BigEndian.Uint16(rec[p+2:p+4])) * 4
		default:
			n = int(rec[p+3]) * 4
		}
		if n == 0 || p+n > len(rec) {
			return fl, false, fmt.Errorf("offset %d in record: DSR type %#x length %d overruns the %d-byte record: %w", p, typ, n, len(rec), datasets.ErrCorrupt)
		}
		d := rec[p+4 : p+n]
		be := binary.BigEndian
		switch typ {
		case dsrFlow:
			if sub&0x3F != flowClassic5Tuple {
				return fl, false, nil // not a 5-tuple key: not an IP flow
			}
			reverse = sub&flowReverse != 0
			switch qual & 0x1F {
			case flowTypeIPv4:
				if len(d) < 16 {
					return fl, false, dsrShort(p, "IPv4 flow", len(d))
				}
				fl.SrcAddr = netip.AddrFrom4([4]byte(d[0:4]))
				fl.DstAddr = netip.AddrFrom4([4]byte(d[4:8]))
				fl.Proto = d[8]
				if fl.Proto == datasets.ProtoICMP {
					icmpPorts(&fl, d[10], d[11])
				} else {
					fl.SrcPort, fl.DstPort = be.Uint16(d[10:12]), be.Uint16(d[12:14])
				}
			case flowTypeIPv6:
				if len(d) < 40 {
					return fl, false, dsrShort(p, "IPv6 flow", len(d))
				}
				fl.SrcAddr = netip.AddrFrom16([16]byte(d[0:16]))
				fl.DstAddr = netip.AddrFrom16([16]byte(d[16:32]))
				fl.Proto = d[32] // high byte of the flow-label word
				if fl.Proto == datasets.ProtoICMPv6 {
					icmpPorts(&fl, d[36], d[37])
				} else {
					fl.SrcPort, fl.DstPort = be.Uint16(d[36:38]), be.Uint16(d[38:40])
				}
			default:
				return fl, false, nil // Ethernet, ARP, ... keys
			}
			haveFlow = true
		case dsrTime:
			if qual != timeUsec && qual != timeNsec {
				return fl, false, fmt.Errorf("offset %d in record: time qualifier %#x: %w", p, qual, datasets.ErrUnsupported)
			}
			if k := sub & 0x07; k != timeAbsTimestamp && k != timeAbsRange {
				return fl, false, fmt.Errorf("offset %d in record: relative time subtype %#x: %w; %s", p, sub, datasets.ErrUnsupported, convertHint())
			}
			if len(d) < 8 {
				return fl, false, dsrShort(p, "time", len(d))
			}
			for j := 0; j+8 <= len(d); j += 8 {
				sec, frac := int64(be.Uint32(d[j:])), int64(be.Uint32(d[j+4:]))
				if sec == 0 && frac == 0 {
					continue
				}
				if qual == timeUsec {
					frac *= 1000
				}
				t := time.Unix(sec, frac).UTC()
				if fl.Start.IsZero() || t.Before(fl.Start) {
					fl.Start = t
				}
				if t.After(fl.End) {
					fl.End = t
				}
			}
			haveTime = true
		case dsrMetric:
			if sub != metricPktsBytes && sub != metricPktsBytesApp {
				return fl, false, fmt.Errorf("offset %d in record: metric subtype %#x: %w", p, sub, datasets.ErrUnsupported)
			}
			if err := decodeMetric(&fl, d, qual, sub == metricPktsBytesApp); err != nil {
				return fl, false, fmt.Errorf("offset %d in record: %w", p, err)
			}
			haveMetric = true
		case dsrEncaps:
			if len(d) >= 4 {
				srcMask = be.Uint32(d[0:4])
			}
			if len(d) >= 8 {
				dstMask = be.Uint32(d[4:8])
			}
		case dsrNetwork:
			srcFlags, dstFlags = tcpFlags(sub, d)
		case dsrIPAttr:
			if qual&ipAttrSrc != 0 && len(d) >= 2 {
				fl.MinTTL, fl.MaxTTL, fl.ToS = d[0], d[0], d[1]
			}
		}
		p += n
	}
	if !haveFlow {
		return fl, false, nil
	}
	if !haveTime || !haveMetric {
		return fl, false, fmt.Errorf("flow record without time or metric DSR: %w", datasets.ErrCorrupt)
	}
	if reverse {
		// The key was stored responder first; the counters are already
		// initiator first.
		fl.SrcAddr, fl.DstAddr = fl.DstAddr, fl.SrcAddr
		if fl.Proto != datasets.ProtoICMP && fl.Proto != datasets.ProtoICMPv6 {
			fl.SrcPort, fl.DstPort = fl.DstPort, fl.SrcPort
		}
	}
	if fl.Proto == datasets.ProtoTCP {
		fl.TCPFlags = srcFlags | dstFlags
	}
	fl.HasReverse = true
	if o, ok := linkOverhead(srcMask); ok {
		fl.Bytes = ipBytes(fl.Bytes, fl.Packets, o)
	}
	if dstMask == 0 {
		dstMask = srcMask
	}
	if o, ok := linkOverhead(dstMask); ok {
		fl.RevBytes = ipBytes(fl.RevBytes, fl.RevPackets, o)
	}
	return fl, true, nil
}

func dsrShort(p int, what string, n int) error {
	return fmt.Errorf("offset %d in record: %s DSR of %d bytes: %w", p, what, n, datasets.ErrCorrupt)
}

// decodeMetric reads the packet and byte counters, whose width (1, 2, 4 or
// 8 bytes) and directions the qualifier gives.
func decodeMetric(fl *datasets.Flow, d []byte, qual uint8, app bool) error {
	if qual < 1 || qual > 12 {
		return fmt.Errorf("metric qualifier %#x: %w", qual, datasets.ErrCorrupt)
	}
	width := 1 << ((qual - 1) % 4) // 1, 2, 4, 8
	group := (qual - 1) / 4        // 0 src+dst, 1 src, 2 dst
	per := 2
	if app {
		per = 3
	}
	dirs := 2
	if group != 0 {
		dirs = 1
	}
	if len(d) < width*per*dirs {
		return fmt.Errorf("metric DSR of %d bytes, need %d: %w", len(d), width*per*dirs, datasets.ErrCorrupt)
	}
	get := func(i int) uint64 {
		b := d[i*width:]
		switch width {
		case 1:
			return uint64(b[0])
		case 2:
			return uint64(binary.BigEndian.Uint16(b))
		case 4:
			return uint64(binary.BigEndian.Uint32(b))
		}
		return binary.BigEndian.Uint64(b)
	}
	switch group {
	case 0:
		fl.Packets, fl.Bytes = get(0), get(1)
		fl.RevPackets, fl.RevBytes = get(per), get(per+1)
	case 1:
		fl.Packets, fl.Bytes = get(0), get(1)
	case 2:
		fl.RevPackets, fl.RevBytes = get(0), get(1)
	}
	return nil
}

// tcpFlags returns the TCP flags each side sent from a network DSR.
func tcpFlags(sub uint8, d []byte) (src, dst uint8) {
	switch sub {
	case tcpPerf:
		// status, state, options, synAck, ackData; then one metrics object
		// per direction whose flags byte sits 46 bytes in.
		const head, flagsAt = 20, 46
		if len(d) < head {
			return 0, 0
		}
		per := (len(d) - head) / 2
		if per <= flagsAt {
			return 0, 0
		}
		return d[head+flagsAt], d[head+per+flagsAt]
	case tcpStatus:
		if len(d) >= 6 {
			return d[4], d[5]
		}
	case tcpInit:
		if len(d) >= 15 {
			return d[14], 0
		}
	}
	return 0, 0
}
