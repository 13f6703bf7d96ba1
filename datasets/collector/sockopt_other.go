//go:build !linux

package collector

import "net"

// setReadBuffer asks for a receive buffer of n bytes; the size granted is
// not known here, so n is returned.
func setReadBuffer(c *net.UDPConn, n int) (int, error) {
	return n, c.SetReadBuffer(n)
}

// socketDrops is not available outside Linux.
func socketDrops(*net.UDPConn) (uint64, bool) { return 0, false }
