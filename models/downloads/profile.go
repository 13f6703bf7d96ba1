package downloads

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/fingerflow/fingerflow/features"
)

// Profile describes how a file of a given size shows up as payload bytes in
// a server→client flow on one kind of path: the per-packet header the
// exporter counts, the segment size, and the application framing (HTTP
// response header, TLS records). Calibrate learns it from labelled lab flows.
//
// The expected payload of a response carrying a file of s bytes is
//
//	Base + s + RecOverhead × ⌈(s + RecLead) / RecSize⌉
//
// (RecOverhead is 0 for plain HTTP). Several responses over one connection
// add RespOverhead per further response.
type Profile struct {
	Name  string   // "http", "https", ...
	Ports []uint16 // server ports this profile is tried for first (empty: any)

	Hdr int // IP+TCP header bytes per packet (52 for IPv4 with TCP timestamps)
	MSS int // TCP payload bytes of a full segment on the calibration path
	// Fill is the typical mean payload per packet as a share of MSS on the
	// calibration path (control packets and short segments keep it below
	// 1); it turns a flow's mean packet payload into a segment size.
	Fill float64

	Base         float64 // connection + response overhead of a single download
	RecOverhead  int     // bytes added per TLS record (0: no record framing)
	RecSize      int     // plaintext bytes per full TLS record
	RecLead      int     // plaintext bytes before the body in the first record
	RespOverhead float64 // payload added by each further response on the connection

	// ReqPayload is the typical client→server payload of a single-file
	// download (handshake and one request); 0 when not calibrated.
	ReqPayload float64
	// ExtraPerRev is the most retransmitted bytes per byte of reverse
	// payload beyond one request seen in calibration, with a margin; 0 when
	// not calibrated.
	ExtraPerRev float64
	// ReqLen is the client→server payload each further request on a
	// keep-alive connection adds; 0 when unknown.
	ReqLen float64

	// DecCoef and HexCoef are the bytes the response header grows per
	// decimal and per hexadecimal digit of the file size (Content-Length,
	// and ETags that embed the size in hex, as nginx and Apache do); Base
	// holds for a size of BaseDec decimal and BaseHex hex digits.
	DecCoef, HexCoef float64
	BaseDec, BaseHex int

	// Exact holds, for catalog files seen in labelled training flows, the
	// measured payload of a clean (retransmission-free) download; it
	// replaces the formula for those files (response headers vary by a few
	// bytes with the file's name, size and date).
	Exact map[string]int64

	// Assumed marks a profile that no lab run calibrated: a TLS framing
	// guessed for a port the lab only saw plain HTTP on (see
	// AssumedTLSProfiles). Its fixed overhead is a placeholder, so it is
	// used only for servers whose downloads adaptation found to fit it.
	Assumed bool `json:",omitempty"`

	exactSize map[string]uint64 // sizes of the Exact files, while calibrating
}

// Expected is the payload a clean download of the named file of size s
// carries on this profile.
func (p *Profile) Expected(name string, s uint64) int64 {
	if v, ok := p.Exact[name]; ok {
		return v
	}
	return int64(math.Round(p.fixed(s))) + p.body(s)
}

// fixed is the fixed overhead for a file of size s: Base, adjusted for the
// digits of the size the response header spells out.
func (p *Profile) fixed(s uint64) float64 {
	if p.DecCoef == 0 && p.HexCoef == 0 {
		return p.Base
	}
	dec, hex := sizeDigits(s)
	return p.Base + p.DecCoef*float64(dec-p.BaseDec) + p.HexCoef*float64(hex-p.BaseHex)
}

// sizeDigits counts the decimal and hexadecimal digits of s.
func sizeDigits(s uint64) (dec, hex int) {
	for v := s; ; v /= 10 {
		dec++
		if v < 10 {
			break
		}
	}
	for v := s; ; v >>= 4 {
		hex++
		if v < 16 {
			break
		}
	}
	return dec, hex
}

func (p *Profile) body(s uint64) int64 {
	b := int64(s)
	if p.RecOverhead > 0 && p.RecSize > 0 {
		b += int64(p.RecOverhead) * ((int64(s) + int64(p.RecLead) + int64(p.RecSize) - 1) / int64(p.RecSize))
	}
	return b
}

// ConnOverhead is the payload a connection carries once whatever it
// transfers (TCP option bytes of the SYN-ACK, the TLS handshake).
func (p *Profile) ConnOverhead() float64 { return p.Base - p.RespOverhead }

// ForPort reports whether the profile is meant for a server port.
func (p *Profile) ForPort(port uint16) bool {
	return len(p.Ports) == 0 || slices.Contains(p.Ports, port)
}

// Validate checks that the profile's numbers are usable; errors name the
// profile and the field.
func (p *Profile) Validate() error {
	nonNeg := func(v float64) bool { return finite(v) && v >= 0 }
	switch {
	case p.Name == "":
		return fmt.Errorf("profile without a name")
	case p.Hdr < 20 || p.Hdr > 200:
		return fmt.Errorf("profile %q: header size %d out of range", p.Name, p.Hdr)
	case p.MSS < 256 || p.MSS > 65535:
		return fmt.Errorf("profile %q: MSS %d out of range", p.Name, p.MSS)
	case !finite(p.Fill) || p.Fill < 0 || p.Fill > 1:
		return fmt.Errorf("profile %q: segment fill %v, want a share in [0, 1]", p.Name, p.Fill)
	case p.RecOverhead < 0 || p.RecOverhead > 512 || (p.RecOverhead > 0 && p.RecSize < 256) || p.RecSize < 0 || p.RecSize > 1<<20:
		return fmt.Errorf("profile %q: TLS record framing %d/%d out of range", p.Name, p.RecOverhead, p.RecSize)
	case p.RecLead < 0 || (p.RecSize > 0 && p.RecLead >= p.RecSize):
		return fmt.Errorf("profile %q: TLS record lead %d out of range", p.Name, p.RecLead)
	case !nonNeg(p.Base):
		return fmt.Errorf("profile %q: overhead %v bytes, want 0 or more", p.Name, p.Base)
	case !nonNeg(p.RespOverhead):
		return fmt.Errorf("profile %q: response overhead %v bytes, want 0 or more", p.Name, p.RespOverhead)
	case !nonNeg(p.ReqPayload) || !nonNeg(p.ReqLen):
		return fmt.Errorf("profile %q: request payload %v, request length %v, want 0 or more", p.Name, p.ReqPayload, p.ReqLen)
	case !nonNeg(p.ExtraPerRev):
		return fmt.Errorf("profile %q: ExtraPerRev %v, want 0 or more", p.Name, p.ExtraPerRev)
	case !finite(p.DecCoef) || !finite(p.HexCoef) || math.Abs(p.DecCoef) > 1e6 || math.Abs(p.HexCoef) > 1e6:
		return fmt.Errorf("profile %q: size-digit coefficients %v/%v out of range", p.Name, p.DecCoef, p.HexCoef)
	case p.BaseDec < 0 || p.BaseDec > 20 || p.BaseHex < 0 || p.BaseHex > 16:
		return fmt.Errorf("profile %q: size digits %d/%d out of range", p.Name, p.BaseDec, p.BaseHex)
	}
	for _, name := range slices.Sorted(maps.Keys(p.Exact)) {
		if v := p.Exact[name]; name == "" || v <= 0 {
			return fmt.Errorf("profile %q: exact payload %d for %q", p.Name, v, name)
		}
	}
	return nil
}

// commonMTUs are link MTUs seen on real paths, largest first: Ethernet, PPPoE,
// tunnels (VXLAN, GRE, IPsec, WireGuard), the IPv6 minimum, jumbo frames.
var commonMTUs = []int{9000, 1500, 1492, 1480, 1472, 1460, 1450, 1440, 1420, 1400, 1380, 1360, 1350, 1280}

// SegmentSize estimates the full-segment payload of a flow: its mean payload
// per packet divided by the profile's Fill gives an estimate, and the
// calibrated MSS is kept when the estimate is within 1.5% of it; otherwise
// the segment of the nearest common MTU is used (a VPN or tunnel on the
// path lowers it, jumbo frames raise it). MSS and Hdr are IPv4 figures: an
// IPv6 flow over the same links has segments IPv6Extra bytes shorter.
func (p *Profile) SegmentSize(payload int64, packets uint64, ipv6 bool) int {
	mss, hdr := p.MSS, p.Hdr
	if ipv6 {
		mss -= features.IPv6Extra
		hdr += features.IPv6Extra
	}
	if packets == 0 || payload <= 0 {
		return mss
	}
	fill := p.Fill
	if fill <= 0 || fill > 1 {
		fill = 1
	}
	est := float64(payload) / float64(packets) / fill
	if math.Abs(est-float64(mss)) <= 0.015*float64(mss) {
		return mss
	}
	best, bestD := mss, math.Inf(1)
	for _, mtu := range commonMTUs {
		seg := mtu - hdr
		if d := math.Abs(float64(seg) - est); d < bestD {
			best, bestD = seg, d
		}
	}
	return best
}

// TLS framings AssumedTLSProfiles tries: the per-record overhead of TLS 1.2
// with AES-GCM (5 header + 8 nonce + 16 tag) and of TLS 1.3 (5 + 16 + 1
// content type), with records of 16,384 plaintext bytes or one less (the
// lab's HTTPS calibration found 29 bytes per 16,383).
var assumedTLS = []struct {
	name          string
	overhead, rec int
}{
	{"https-tls12-16383", 29, 16383},
	{"https-tls12-16384", 29, 16384},
	{"https-tls13-16383", 22, 16383},
	{"https-tls13-16384", 22, 16384},
}

// assumedTLSFill is how full TLS packets are against plain HTTP ones on the
// same path (record ends make short segments): 0.951 against 0.996 in the
// lab's calibration.
const assumedTLSFill = 0.955

// AssumedTLSProfiles derives, from a plain HTTP profile, TLS profiles for
// port 443 when no lab run calibrated HTTPS: the same path (headers,
// segment size, the response header inside the TLS stream), each of the
// common TLS record framings, and a fixed overhead that is only a
// placeholder (the handshake's size depends on the server's certificate
// chain). Adaptation fits each server's downloads to the framing they
// follow and finds the handshake's size as the server's offset; servers
// it cannot fit are not scored with them.
func AssumedTLSProfiles(http Profile) []Profile {
	var out []Profile
	for _, f := range assumedTLS {
		p := http
		p.Name = f.name
		p.Ports = []uint16{443}
		p.Assumed = true
		p.RecOverhead, p.RecSize, p.RecLead = f.overhead, f.rec, 0
		p.Fill = http.Fill * assumedTLSFill
		p.Exact = nil
		p.exactSize = nil
		p.ReqPayload = 0 // learnt per server by adaptation
		p.ReqLen = http.ReqLen + float64(f.overhead)
		p.RespOverhead = http.RespOverhead + float64(f.overhead)
		out = append(out, p)
	}
	return out
}
