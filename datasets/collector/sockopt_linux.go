//go:build linux

package collector

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// setReadBuffer asks for a receive buffer of n bytes. SO_RCVBUFFORCE (which
// needs CAP_NET_ADMIN) may exceed net.core.rmem_max; SO_RCVBUF is capped by
// it. It returns the buffer the kernel granted (Linux reports twice the
// usable size, which is what is returned here halved).
func setReadBuffer(c *net.UDPConn, n int) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var got int
	var serr error
	err = rc.Control(func(fd uintptr) {
		if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n) != nil {
			if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n); serr != nil {
				return
			}
		}
		got, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	})
	if err == nil {
		err = serr
	}
	return got / 2, err
}

// socketDrops returns how many datagrams the kernel dropped for c because
// its receive buffer was full (the drops column of /proc/net/udp and udp6
// for the socket's inode), and false where that cannot be read.
func socketDrops(c *net.UDPConn) (uint64, bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var ino uint64
	if err := rc.Control(func(fd uintptr) {
		var st syscall.Stat_t
		if syscall.Fstat(int(fd), &st) == nil {
			ino = st.Ino
		}
	}); err != nil || ino == 0 {
		return 0, false
	}
	want := strconv.FormatUint(ino, 10)
	for _, name := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
			fs := strings.Fields(sc.Text())
			if len(fs) >= 13 && fs[9] == want {
				f.Close()
				d, err := strconv.ParseUint(fs[12], 10, 64)
				return d, err == nil
			}
		}
		f.Close()
	}
	return 0, false
}
