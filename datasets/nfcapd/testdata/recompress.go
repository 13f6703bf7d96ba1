//go:build ignore

// recompress copies an uncompressed nfdump 1.7 (layout 2) file, compressing
// every block with ZSTD the way nfdump 1.7.2+ does (compression 4 in the file
// header, each block one zstd frame). Used by gen.sh because nfdump 1.7.1
// cannot write ZSTD.
//
//	go run recompress.go IN OUT
package main

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/klauspost/compress/zstd"
)

func main() {
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "recompress:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	if len(b) < 40 || le.Uint16(b) != 0xA50C || le.Uint16(b[2:]) != 2 || b[16] != 0 {
		return fmt.Errorf("%s: not an uncompressed layout-2 nfdump file", in)
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		return err
	}
	hdr := append([]byte(nil), b[:40]...)
	hdr[16] = 4 // ZSTD
	nblocks := int(le.Uint32(b[36:])) + int(le.Uint16(b[18:]))
	res := hdr
	off := 40
	for i := 0; i < nblocks; i++ {
		if i == int(le.Uint32(b[36:])) {
			le.PutUint64(res[24:], uint64(len(res))) // appendix offset
		}
		bh := append([]byte(nil), b[off:off+12]...)
		size := int(le.Uint32(bh[4:]))
		data := enc.EncodeAll(b[off+12:off+12+size], nil)
		le.PutUint32(bh[4:], uint32(len(data)))
		res = append(res, bh...)
		res = append(res, data...)
		off += 12 + size
	}
	return os.WriteFile(out, res, 0o644)
}
