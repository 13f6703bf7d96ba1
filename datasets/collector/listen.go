package collector

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ErrConfig is wrapped by the errors New returns for a Config that cannot
// work (a listen address that does not parse, a rotation interval that is
// not a divisor of a day, ...), as opposed to errors of the system (a port
// already in use, a directory that cannot be created).
var ErrConfig = errors.New("invalid collector configuration")

// ParseListen checks one listen address and returns the network and
// address to bind. The forms are:
//
//	:2055              every IPv4 and IPv6 address (one dual-stack socket)
//	2055               the same
//	0.0.0.0:2055       every IPv4 address
//	[::]:2055          every IPv6 address (IPv6 only, so 0.0.0.0:2055 can
//	                   be bound beside it)
//	127.0.0.1:2055     one address; [::1]:2055, [fe80::1%eth0]:2055
//
// Host names are refused: a collector binds addresses. Port 0 picks a free
// port (see Collector.Addrs).
func ParseListen(s string) (network, address string, err error) {
	if _, perr := strconv.ParseUint(s, 10, 16); perr == nil {
		s = ":" + s
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", "", fmt.Errorf("%w: listen address %q: want HOST:PORT, :PORT or [IPv6]:PORT", ErrConfig, s)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", "", fmt.Errorf("%w: listen address %q: port %q is not a number 0-65535", ErrConfig, s, port)
	}
	if host == "" {
		return "udp", s, nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return "", "", fmt.Errorf("%w: listen address %q: %q is not an IP address", ErrConfig, s, host)
	}
	if a.Is4() || a.Is4In6() {
		return "udp4", s, nil
	}
	return "udp6", s, nil
}

// listen binds every configured address and sizes its receive buffer.
func listen(addrs []string, buffer int) ([]*net.UDPConn, []int, error) {
	var conns []*net.UDPConn
	var sizes []int
	fail := func(err error) ([]*net.UDPConn, []int, error) {
		for _, c := range conns {
			c.Close()
		}
		return nil, nil, err
	}
	for _, s := range addrs {
		network, address, err := ParseListen(s)
		if err != nil {
			return fail(err)
		}
		ua, err := net.ResolveUDPAddr(network, address)
		if err != nil {
			return fail(fmt.Errorf("%w: listen address %q: %v", ErrConfig, s, err))
		}
		c, err := net.ListenUDP(network, ua)
		if err != nil {
			return fail(fmt.Errorf("listen %s: %w", s, err))
		}
		conns = append(conns, c)
		got, err := setReadBuffer(c, buffer)
		if err != nil {
			return fail(fmt.Errorf("listen %s: socket receive buffer: %w", s, err))
		}
		sizes = append(sizes, got)
	}
	return conns, sizes, nil
}

// ParseSize reads a byte size such as 8388608, 512K, 8M, 8MiB or 1G (K, M
// and G are powers of 1024).
func ParseSize(s string) (int, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	mult := 1
	switch {
	case strings.HasSuffix(t, "K"):
		mult = 1 << 10
	case strings.HasSuffix(t, "M"):
		mult = 1 << 20
	case strings.HasSuffix(t, "G"):
		mult = 1 << 30
	}
	if mult > 1 {
		t = t[:len(t)-1]
	}
	n, err := strconv.ParseUint(t, 10, 32)
	if err != nil || n*uint64(mult) > 1<<31-1 {
		return 0, fmt.Errorf("%w: size %q: want bytes, or a number with K, M or G, below 2 GiB", ErrConfig, s)
	}
	return int(n) * mult, nil
}
