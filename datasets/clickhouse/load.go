package clickhouse

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"strings"
	"time"

	"github.com/fingerflow/fingerflow/datasets"
)

// FileIdent is what makes a flow file the same as one loaded before: its
// content's SHA-256. Path and size are recorded beside it.
type FileIdent struct {
	Path   string
	Size   int64
	Hash   string // hex SHA-256 of the content
	Format string // reader that decodes it
}

// Identify reads the file at path and returns its identity.
func Identify(ctx context.Context, path string) (FileIdent, error) {
	f, err := datasets.Open(ctx, path)
	if err != nil {
		return FileIdent{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return FileIdent{}, fmt.Errorf("%s: %w", path, err)
	}
	return FileIdent{Path: path, Size: n, Hash: hex.EncodeToString(h.Sum(nil))}, nil
}

// Loaded is the outcome of loading one file.
type Loaded struct {
	FileIdent
	LoadID  uint64
	Records uint64
	// Already: the file was loaded before (same content); nothing was
	// inserted.
	Already bool
}

// BlockRows is how many flows one INSERT carries.
const BlockRows = 1 << 16

// ErrNotOwn: the table is not fingerflow's own (no LoadId column, or not
// a MergeTree table): fingerflow reads it but does not load into it.
var ErrNotOwn = errors.New("not a table fingerflow loads into")

// loadHooks lets tests stop a load between blocks as a killed process
// would: without cleaning up.
type loadHooks struct {
	afterBlock func(block int) (abandon bool)
}

// Load inserts the flows of one file, tagged with a new load id, unless a
// file with the same content was loaded before. The rows become visible
// to Where only once all of them are in: a load that fails (a damaged
// file, a lost connection, a cancelled ctx) deletes what it inserted,
// and the rows of one that was killed stay invisible until the next
// call of DiscardAbandoned deletes them. Call that once before a series
// of loads; two processes must not load into the same table at once.
func (s *Store) Load(ctx context.Context, id FileIdent, flows iter.Seq2[datasets.Flow, error]) (Loaded, error) {
	return s.load(ctx, id, flows, loadHooks{})
}

func (s *Store) load(ctx context.Context, id FileIdent, flows iter.Seq2[datasets.Flow, error], hooks loadHooks) (Loaded, error) {
	res := Loaded{FileIdent: id}
	if err := s.requireOwn(ctx); err != nil {
		return res, err
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s WHERE FileHash = ? AND State = 'loaded'", s.Ident(s.cfg.FilesTable)), id.Hash).Scan(&n); err != nil {
		return res, fmt.Errorf("%s: clickhouse %s: %w", id.Path, s.cfg.Addr, reason(err))
	}
	if n > 0 {
		res.Already = true
		return res, nil
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return res, err
	}
	res.LoadID = binary.LittleEndian.Uint64(b[:]) | 1 // never 0, the default of rows without one
	if err := s.fileState(ctx, res, "loading"); err != nil {
		return res, err
	}
	blk := newBlock(res.LoadID)
	blocks := 0
	send := func() error {
		if blk.n == 0 {
			return nil
		}
		if err := s.insert(ctx, blk); err != nil {
			return err
		}
		res.Records += uint64(blk.n)
		blk.reset()
		blocks++
		return nil
	}
	var err error
	for f, ferr := range flows {
		if ferr != nil {
			err = ferr
			break
		}
		blk.add(&f)
		if blk.n == s.blockRows() {
			if err = send(); err != nil {
				break
			}
			if hooks.afterBlock != nil && hooks.afterBlock(blocks) {
				return res, fmt.Errorf("%s: load abandoned", id.Path)
			}
			if err = ctx.Err(); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = send()
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		if err = s.fileState(ctx, res, "loaded"); err == nil {
			return res, nil
		}
	}
	// Take back what was inserted, even when ctx was cancelled.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	if derr := s.discard(cctx, []uint64{res.LoadID}); derr != nil {
		err = errors.Join(err, fmt.Errorf("%s: its %d rows stay invisible, the next load deletes them: %w", id.Path, res.Records, derr))
	}
	res.Records = 0
	if strings.HasPrefix(err.Error(), id.Path) {
		return res, err
	}
	return res, fmt.Errorf("%s: %w", id.Path, err)
}

func (s *Store) blockRows() int {
	if s.rowsPerBlock > 0 {
		return s.rowsPerBlock
	}
	return BlockRows
}

// requireOwn checks that the table is fingerflow's own MergeTree table.
func (s *Store) requireOwn(ctx context.Context) error {
	if !s.checked {
		if err := s.Check(ctx); err != nil {
			return err
		}
	}
	if !s.own {
		return fmt.Errorf("%w: %s.%s has no %s column", ErrNotOwn, s.cfg.Database, s.cfg.Table, LoadColumn)
	}
	var engine string
	if err := s.conn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = ?", s.cfg.Database, s.cfg.Table).Scan(&engine); err != nil {
		return fmt.Errorf("clickhouse %s: %s.%s: %w", s.cfg.Addr, s.cfg.Database, s.cfg.Table, reason(err))
	}
	if !strings.HasSuffix(engine, "MergeTree") {
		return fmt.Errorf("%w: %s.%s is a %s table (load into each shard's MergeTree table)", ErrNotOwn, s.cfg.Database, s.cfg.Table, engine)
	}
	return nil
}

func (s *Store) fileState(ctx context.Context, l Loaded, state string) error {
	batch, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (FileHash, Path, Size, Format, Records, LoadId, State, Time)", s.Ident(s.cfg.FilesTable)))
	if err == nil {
		err = batch.Append(l.Hash, l.Path, uint64(max(l.Size, 0)), l.Format, l.Records, l.LoadID, state, time.Now())
		if err == nil {
			err = batch.Send()
		} else {
			_ = batch.Abort()
		}
	}
	if err != nil {
		return fmt.Errorf("%s: clickhouse %s: recording the file as %s: %w", l.Path, s.cfg.Addr, state, reason(err))
	}
	return nil
}

// DiscardAbandoned deletes the rows of loads that never finished (a
// killed process) and marks them discarded. It returns how many loads it
// discarded.
func (s *Store) DiscardAbandoned(ctx context.Context) (int, error) {
	if err := s.requireOwn(ctx); err != nil {
		return 0, err
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT LoadId FROM %s GROUP BY LoadId HAVING max(State) = 'loading'", s.Ident(s.cfg.FilesTable)))
	if err != nil {
		return 0, fmt.Errorf("clickhouse %s: %w", s.cfg.Addr, reason(err))
	}
	var ids []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("clickhouse %s: %w", s.cfg.Addr, reason(err))
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("clickhouse %s: %w", s.cfg.Addr, reason(err))
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return len(ids), s.discard(ctx, ids)
}

// discard deletes the rows of the given loads, waits for the deletion to
// finish and marks the loads discarded.
func (s *Store) discard(ctx context.Context, ids []uint64) error {
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = fmt.Sprint(id)
	}
	in := strings.Join(list, ", ")
	if err := s.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DELETE WHERE LoadId IN (%s)", s.Table(), in)); err != nil {
		return fmt.Errorf("clickhouse %s: deleting loads %s: %w", s.cfg.Addr, in, reason(err))
	}
	for {
		var pending uint64
		if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND table = ? AND is_done = 0",
			s.cfg.Database, s.cfg.Table).Scan(&pending); err != nil {
			return fmt.Errorf("clickhouse %s: waiting for the deletion: %w", s.cfg.Addr, reason(err))
		}
		if pending == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	q := fmt.Sprintf("INSERT INTO %s (FileHash, Path, Size, Format, Records, LoadId, State, Time) SELECT FileHash, Path, Size, Format, 0, LoadId, 'discarded', now() FROM %s WHERE LoadId IN (%s) AND State = 'loading'",
		s.Ident(s.cfg.FilesTable), s.Ident(s.cfg.FilesTable), in)
	if err := s.conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("clickhouse %s: marking loads %s discarded: %w", s.cfg.Addr, in, reason(err))
	}
	return nil
}

// block holds up to BlockRows flows column by column.
type block struct {
	n        int
	load     uint64
	recv     []time.Time
	start    []uint64
	end      []uint64
	exporter [][]byte
	sampling []uint32
	src, dst [][]byte
	sport    []uint16
	dport    []uint16
	proto    []uint8
	flags    []uint8
	bytes    []uint64
	packets  []uint64
	hasRev   []uint8
	revBytes []uint64
	revPkts  []uint64
	inIf     []uint32
	outIf    []uint32
	tos      []uint8
	minTTL   []uint8
	maxTTL   []uint8
	loadIDs  []uint64
	addrs    []byte // the address columns' bytes, 48 a row
}

func newBlock(load uint64) *block { return &block{load: load} }

func (b *block) reset() {
	*b = block{load: b.load,
		recv: b.recv[:0], start: b.start[:0], end: b.end[:0], exporter: b.exporter[:0], sampling: b.sampling[:0],
		src: b.src[:0], dst: b.dst[:0], sport: b.sport[:0], dport: b.dport[:0], proto: b.proto[:0], flags: b.flags[:0],
		bytes: b.bytes[:0], packets: b.packets[:0], hasRev: b.hasRev[:0], revBytes: b.revBytes[:0], revPkts: b.revPkts[:0],
		inIf: b.inIf[:0], outIf: b.outIf[:0], tos: b.tos[:0], minTTL: b.minTTL[:0], maxTTL: b.maxTTL[:0], loadIDs: b.loadIDs[:0],
		addrs: b.addrs[:0],
	}
}

// addr16 is an address as the table keeps it: 16 bytes, IPv4 mapped, zero
// when invalid.
func addr16(a netip.Addr) [16]byte {
	if !a.IsValid() {
		return [16]byte{}
	}
	return a.As16()
}

// Addr is the address a 16-byte column value stands for: IPv4-mapped
// addresses come back as IPv4, 16 zero bytes as no address.
func Addr(b [16]byte) netip.Addr {
	if b == ([16]byte{}) {
		return netip.Addr{}
	}
	return netip.AddrFrom16(b).Unmap()
}

func nanos(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(max(t.UnixNano(), 0))
}

func (b *block) add(f *datasets.Flow) {
	b.n++
	end := f.End
	if f.Start.After(end) {
		end = f.Start
	}
	b.recv = append(b.recv, time.Unix(max(end.Unix(), 0), 0))
	b.start = append(b.start, nanos(f.Start))
	b.end = append(b.end, nanos(f.End))
	for _, a := range [3]netip.Addr{f.Exporter, f.SrcAddr, f.DstAddr} {
		x := addr16(a)
		b.addrs = append(b.addrs, x[:]...)
	}
	b.sampling = append(b.sampling, f.SamplingRate)
	b.sport = append(b.sport, f.SrcPort)
	b.dport = append(b.dport, f.DstPort)
	b.proto = append(b.proto, f.Proto)
	b.flags = append(b.flags, f.TCPFlags)
	b.bytes = append(b.bytes, f.Bytes)
	b.packets = append(b.packets, f.Packets)
	rev := uint8(0)
	if f.HasReverse {
		rev = 1
	}
	b.hasRev = append(b.hasRev, rev)
	b.revBytes = append(b.revBytes, f.RevBytes)
	b.revPkts = append(b.revPkts, f.RevPackets)
	b.inIf = append(b.inIf, f.InIf)
	b.outIf = append(b.outIf, f.OutIf)
	b.tos = append(b.tos, f.ToS)
	b.minTTL = append(b.minTTL, f.MinTTL)
	b.maxTTL = append(b.maxTTL, f.MaxTTL)
	b.loadIDs = append(b.loadIDs, b.load)
}

// insert sends the block as one INSERT.
func (s *Store) insert(ctx context.Context, b *block) error {
	names := make([]string, 0, len(Columns)+1)
	for _, c := range Columns {
		names = append(names, c.Name)
	}
	names = append(names, LoadColumn)
	batch, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (%s)", s.Table(), strings.Join(names, ", ")))
	if err != nil {
		return fmt.Errorf("clickhouse %s: %w", s.cfg.Addr, reason(err))
	}
	b.exporter, b.src, b.dst = b.exporter[:0], b.src[:0], b.dst[:0]
	for i := 0; i < b.n; i++ {
		row := b.addrs[48*i : 48*i+48]
		b.exporter = append(b.exporter, row[0:16])
		b.src = append(b.src, row[16:32])
		b.dst = append(b.dst, row[32:48])
	}
	cols := []any{b.recv, b.start, b.end, b.exporter, b.sampling, b.src, b.dst, b.sport, b.dport, b.proto, b.flags,
		b.bytes, b.packets, b.hasRev, b.revBytes, b.revPkts, b.inIf, b.outIf, b.tos, b.minTTL, b.maxTTL, b.loadIDs}
	for i, c := range cols {
		if err := batch.Column(i).Append(c); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("clickhouse %s: column %s: %w", s.cfg.Addr, names[i], reason(err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhouse %s: insert: %w", s.cfg.Addr, reason(err))
	}
	return nil
}
