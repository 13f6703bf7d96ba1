package nfcapd

import (
	"encoding/binary"
	"errors"
)

var (
	errLZOInput     = errors.New("lzo: input overrun")
	errLZOOutput    = errors.New("lzo: output larger than limit")
	errLZOLookBack  = errors.New("lzo: match before start of output")
	errLZONoEnd     = errors.New("lzo: no end marker")
	errLZOTrailing  = errors.New("lzo: data after end marker")
	errLZOLongCount = errors.New("lzo: run length overflow")
)

// lzo1xDecompress inflates an LZO1X stream (as written by nfdump's
// minilzo lzo1x_1_compress) from src, appending to dst[:0] and never growing
// the output beyond limit. Every read and write is bounds-checked, so
// corrupt input gives an error, never a panic.
func lzo1xDecompress(dst, src []byte, limit int) ([]byte, error) {
	out := dst[:0]
	ip := 0
	need := func(n int) bool { return len(src)-ip >= n }
	// run reads an extended run length: zero bytes add 255 each, then one
	// non-zero byte is added to base.
	run := func(base int) (int, bool) {
		n := 0
		for ip < len(src) && src[ip] == 0 {
			n += 255
			ip++
			if n > limit {
				return 0, false
			}
		}
		if ip >= len(src) {
			return 0, false
		}
		n += base + int(src[ip])
		ip++
		return n, true
	}
	literals := func(n int) error {
		if !need(n) {
			return errLZOInput
		}
		if len(out)+n > limit {
			return errLZOOutput
		}
		out = append(out, src[ip:ip+n]...)
		ip += n
		return nil
	}
	match := func(pos, n int) error {
		if pos < 0 || pos >= len(out) {
			return errLZOLookBack
		}
		if len(out)+n > limit {
			return errLZOOutput
		}
		if pos+n <= len(out) {
			out = append(out, out[pos:pos+n]...)
			return nil
		}
		for i := 0; i < n; i++ { // overlaps its own output
			out = append(out, out[pos+i])
		}
		return nil
	}

	if !need(1) {
		return nil, errLZOInput
	}
	state := 0 // literals copied after the last match (4: a long run)
	var t, next int
	if src[0] > 17 {
		t = int(src[0]) - 17
		ip++
		if err := literals(t); err != nil {
			return nil, err
		}
		if t < 4 {
			state = t
		} else {
			state = 4
		}
	}
	for {
		if !need(1) {
			return nil, errLZONoEnd
		}
		t = int(src[ip])
		ip++
		var pos int
		switch {
		case t < 16:
			switch state {
			case 0: // literal run
				if t == 0 {
					var ok bool
					if t, ok = run(15); !ok {
						return nil, errLZOLongCount
					}
				}
				if err := literals(t + 3); err != nil {
					return nil, err
				}
				state = 4
				continue
			case 4: // 3-byte match far back
				if !need(1) {
					return nil, errLZOInput
				}
				next = t & 3
				pos = len(out) - (1 + 0x0800) - t>>2 - int(src[ip])<<2
				ip++
				t = 3
			default: // 2-byte match after a short literal run
				if !need(1) {
					return nil, errLZOInput
				}
				next = t & 3
				pos = len(out) - 1 - t>>2 - int(src[ip])<<2
				ip++
				t = 2
			}
		case t >= 64:
			if !need(1) {
				return nil, errLZOInput
			}
			next = t & 3
			pos = len(out) - 1 - (t>>2)&7 - int(src[ip])<<3
			ip++
			t = t>>5 + 1
		case t >= 32:
			t &= 31
			if t == 0 {
				var ok bool
				if t, ok = run(31); !ok {
					return nil, errLZOLongCount
				}
			}
			t += 2
			if !need(2) {
				return nil, errLZOInput
			}
			v := int(binary.LittleEndian.Uint16(src[ip:]))
			ip += 2
			pos = len(out) - 1 - v>>2
			next = v & 3
		default: // 16..31
			far := (t & 8) << 11
			t &= 7
			if t == 0 {
				var ok bool
				if t, ok = run(7); !ok {
					return nil, errLZOLongCount
				}
			}
			t += 2
			if !need(2) {
				return nil, errLZOInput
			}
			v := int(binary.LittleEndian.Uint16(src[ip:]))
			ip += 2
			pos = len(out) - far - v>>2
			next = v & 3
			if pos == len(out) {
				if t != 3 {
					return nil, errLZONoEnd
				}
				if ip != len(src) {
					return nil, errLZOTrailing
				}
				return out, nil
			}
			pos -= 0x4000
		}
		if err := match(pos, t); err != nil {
			return nil, err
		}
		// Up to three literals follow a match.
		state = next
		if next > 0 {
			if err := literals(next); err != nil {
				return nil, err
			}
		}
	}
}
