package nfcapd

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// Record types inside blocks (nffileV2.h, nfxV3.h, exporter.h).
const (
	typeExporterInfo  = 7
	typeExporterStat  = 8
	typeSamplerLegacy = 9
	typeV3            = 11
	typeSampler       = 15
	typeIdent         = 0x8001
	typeStat          = 0x8002
)

// Element ids of V3 records and the least data length read from each.
const (
	exGenericFlow  = 1 // 48 bytes
	exIPv4Flow     = 2 // 8
	exIPv6Flow     = 3 // 32
	exFlowMisc     = 4 // 12 used
	exCntFlow      = 5 // 24
	exIPReceivedV4 = 12
	exIPReceivedV6 = 13
	exSamplerInfo  = 18 // 10 used
)

var minElement = [...]int{
	exGenericFlow:  48,
	exIPv4Flow:     8,
	exIPv6Flow:     32,
	exFlowMisc:     12,
	exCntFlow:      24,
	exIPReceivedV4: 4,
	exIPReceivedV6: 16,
	exSamplerInfo:  10,
}

const (
	afInet  = 2
	afInet6 = 10
)

var le = binary.LittleEndian

// nextRecord splits the first record off a block's data.
func nextRecord(data []byte) (typ uint16, rec, rest []byte, err error) {
	if len(data) < 4 {
		return 0, nil, nil, fmt.Errorf("record header: %d bytes left in block: %w", len(data), datasets.ErrCorrupt)
	}
	typ = le.Uint16(data)
	size := int(le.Uint16(data[2:]))
	if size < 4 || size > len(data) {
		return 0, nil, nil, fmt.Errorf("record type %d of %d bytes, %d left in block: %w", typ, size, len(data), datasets.ErrCorrupt)
	}
	return typ, data[:size], data[size:], nil
}

// addr6 reads an IPv6 address nfdump stores as two host-order uint64s,
// high half first.
func addr6(b []byte) netip.Addr {
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], le.Uint64(b))
	binary.BigEndian.PutUint64(a[8:], le.Uint64(b[8:]))
	return netip.AddrFrom16(a)
}

// addr4 reads an IPv4 address stored as a host-order uint32.
func addr4(b []byte) netip.Addr {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], le.Uint32(b))
	return netip.AddrFrom4(a)
}

// Next decodes the next flow record into fl, reading blocks as needed. It
// returns io.EOF after the last flow; any other error is final and is
// returned again by later calls. Exporter and sampler records met on the
// way update Exporters.
func (nf *File) Next(fl *datasets.Flow) error {
	if nf.err != nil {
		return nf.err
	}
	for {
		for nf.recs > 0 {
			idx := nf.recIdx
			nf.recIdx++
			nf.recs--
			typ, rec, rest, err := nextRecord(nf.data)
			if err != nil {
				return nf.fail(nf.errorf(nf.blockOff, "record %d: %w", idx, err))
			}
			nf.data = rest
			switch typ {
			case typeV3:
				if err := nf.decodeV3(rec, fl); err != nil {
					return nf.fail(nf.errorf(nf.blockOff, "record %d: %w", idx, err))
				}
				return nil
			case typeExporterInfo:
				err = nf.addExporter(rec)
			case typeExporterStat:
				err = nf.addExporterStat(rec)
			case typeSampler:
				err = nf.addSampler(rec)
			}
			if err != nil {
				return nf.fail(nf.errorf(nf.blockOff, "record %d: %w", idx, err))
			}
		}
		if nf.dataDone() {
			if nf.appxErr != nil {
				return nf.fail(nf.appxErr)
			}
			nf.err = io.EOF
			return io.EOF
		}
		next, nrec, data, err := nf.loadBlock(nf.nextOff)
		if err != nil {
			return nf.fail(err)
		}
		nf.blockOff, nf.nextOff = nf.nextOff, next
		nf.blockNum++
		nf.recs, nf.recIdx, nf.data = nrec, 0, data
	}
}

// dataDone reports whether all data blocks have been read. A header with
// no block count is what nfcapd leaves when it dies before closing the file
// (it counts blocks at close): then blocks are read up to the end of the
// file.
func (nf *File) dataDone() bool {
	if nf.hdr.DataBlocks > 0 || nf.hdr.AppendixBlocks > 0 {
		return nf.blockNum >= nf.hdr.DataBlocks
	}
	return nf.nextOff >= nf.size
}

func (nf *File) fail(err error) error {
	nf.err = err
	return err
}

// decodeV3 fills fl from a V3 flow record.
func (nf *File) decodeV3(rec []byte, fl *datasets.Flow) error {
	if len(rec) < 12 {
		return fmt.Errorf("flow record of %d bytes: %w", len(rec), datasets.ErrCorrupt)
	}
	*fl = datasets.Flow{}
	numEl := int(le.Uint16(rec[4:]))
	sysID := le.Uint16(rec[8:])
	p := rec[12:]
	var (
		received  netip.Addr
		hasSample bool
		selector  uint64
		sampSys   uint16
	)
	for i := 0; i < numEl; i++ {
		if len(p) < 4 {
			return fmt.Errorf("element %d: header beyond record end: %w", i, datasets.ErrCorrupt)
		}
		et := int(le.Uint16(p))
		el := int(le.Uint16(p[2:]))
		if el < 4 || el > len(p) {
			return fmt.Errorf("element %d (type %d) of %d bytes, %d left in record: %w", i, et, el, len(p), datasets.ErrCorrupt)
		}
		d := p[4:el]
		p = p[el:]
		if et < len(minElement) && len(d) < minElement[et] {
			return fmt.Errorf("element %d (type %d) of %d bytes, want %d: %w", i, et, el, minElement[et]+4, datasets.ErrCorrupt)
		}
		switch et {
		case exGenericFlow:
			fl.Start = time.UnixMilli(int64(le.Uint64(d))).UTC()
			fl.End = time.UnixMilli(int64(le.Uint64(d[8:]))).UTC()
			fl.Packets = le.Uint64(d[24:])
			fl.Bytes = le.Uint64(d[32:])
			fl.SrcPort = le.Uint16(d[40:])
			fl.DstPort = le.Uint16(d[42:])
			fl.Proto = d[44]
			fl.TCPFlags = d[45]
			fl.ToS = d[47]
		case exIPv4Flow:
			fl.SrcAddr = addr4(d)
			fl.DstAddr = addr4(d[4:])
		case exIPv6Flow:
			fl.SrcAddr = addr6(d)
			fl.DstAddr = addr6(d[16:])
		case exFlowMisc:
			fl.InIf = le.Uint32(d)
			fl.OutIf = le.Uint32(d[4:])
		case exCntFlow:
			fl.RevPackets = le.Uint64(d[8:])
			fl.RevBytes = le.Uint64(d[16:])
			fl.HasReverse = fl.RevPackets != 0 || fl.RevBytes != 0
		case exIPReceivedV4:
			received = addr4(d)
		case exIPReceivedV6:
			received = addr6(d)
		case exSamplerInfo:
			hasSample = true
			selector = le.Uint64(d)
			sampSys = le.Uint16(d[8:])
		}
	}
	var ex *exporterState
	if int(sysID) < len(nf.exp) && nf.exp[sysID].known {
		ex = &nf.exp[sysID]
	}
	if received.IsValid() && !received.IsUnspecified() {
		fl.Exporter = received
	} else if ex != nil {
		fl.Exporter = ex.addr
	}
	if hasSample && int(sampSys) < len(nf.exp) && nf.exp[sampSys].known {
		ex = &nf.exp[sampSys]
		fl.SamplingRate = ex.rate
		for _, s := range ex.samplers {
			if uint64(s.ID) == selector && ex.rateOverride == 0 {
				fl.SamplingRate = s.Rate()
			}
		}
	} else if ex != nil {
		fl.SamplingRate = ex.rate
	}
	return nil
}

// addExporter records an exporter info record.
func (nf *File) addExporter(rec []byte) error {
	if len(rec) < 32 {
		return fmt.Errorf("exporter record of %d bytes: %w", len(rec), datasets.ErrCorrupt)
	}
	e := Exporter{
		Version: le.Uint32(rec[4:]),
		SysID:   le.Uint16(rec[26:]),
		ID:      le.Uint32(rec[28:]),
	}
	switch le.Uint16(rec[24:]) {
	case afInet:
		e.Addr = addr4(rec[16:])
	case afInet6:
		e.Addr = addr6(rec[8:])
	}
	if int(e.SysID) >= len(nf.exp) {
		nf.exp = append(nf.exp, make([]exporterState, int(e.SysID)+1-len(nf.exp))...)
	}
	nf.exp[e.SysID] = exporterState{known: true, addr: e.Addr}
	for i := range nf.exporters {
		if nf.exporters[i].SysID == e.SysID {
			nf.exporters[i] = e
			return nil
		}
	}
	nf.exporters = append(nf.exporters, e)
	return nil
}

func (nf *File) exporter(sysID uint16) *Exporter {
	for i := range nf.exporters {
		if nf.exporters[i].SysID == sysID {
			return &nf.exporters[i]
		}
	}
	return nil
}

// addExporterStat adds an exporter stat record's counters.
func (nf *File) addExporterStat(rec []byte) error {
	if len(rec) < 8 {
		return fmt.Errorf("exporter stat record of %d bytes: %w", len(rec), datasets.ErrCorrupt)
	}
	n := int(le.Uint32(rec[4:]))
	if n > (len(rec)-8)/24 {
		return fmt.Errorf("exporter stat record of %d bytes with %d entries: %w", len(rec), n, datasets.ErrCorrupt)
	}
	for i := range n {
		b := rec[8+24*i:]
		sys := le.Uint32(b)
		if sys > 0xffff {
			continue
		}
		if e := nf.exporter(uint16(sys)); e != nil {
			e.SequenceFailures += le.Uint32(b[4:])
			e.Packets += le.Uint64(b[8:])
			e.Flows += le.Uint64(b[16:])
		}
	}
	return nil
}

// addSampler records a sampler for its exporter; samplers of unknown
// exporters are ignored, as nfdump does.
func (nf *File) addSampler(rec []byte) error {
	if len(rec) < 24 {
		return fmt.Errorf("sampler record of %d bytes: %w", len(rec), datasets.ErrCorrupt)
	}
	s := Sampler{
		Algorithm:      le.Uint16(rec[6:]),
		ID:             int64(le.Uint64(rec[8:])),
		PacketInterval: le.Uint32(rec[16:]),
		SpaceInterval:  le.Uint32(rec[20:]),
	}
	sys := le.Uint16(rec[4:])
	e := nf.exporter(sys)
	if e == nil || int(sys) >= len(nf.exp) {
		return nil
	}
	// A sampler announced again with the same id replaces the old one.
	replaced := false
	for i := range e.Samplers {
		if e.Samplers[i].ID == s.ID {
			e.Samplers[i] = s
			replaced = true
		}
	}
	if !replaced {
		e.Samplers = append(e.Samplers, s)
	}
	st := &nf.exp[sys]
	st.samplers = e.Samplers
	// Rate for records without a sampler element: the operator's
	// overwrite, else the exporter's generic sampler, else the operator's
	// default. An overwrite also applies to records naming a sampler.
	st.rate, st.rateOverride = 0, 0
	for _, id := range []int64{SamplerDefault, SamplerGeneric, SamplerOverwrite} {
		for _, x := range e.Samplers {
			if x.ID == id {
				st.rate = x.Rate()
				if id == SamplerOverwrite {
					st.rateOverride = st.rate
				}
			}
		}
	}
	return nil
}
