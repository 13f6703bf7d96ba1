// Package chtest starts Debian's clickhouse-server for tests: a few servers
// on free loopback ports, each with its own temporary data directory and a
// minimal configuration, stopped when the test binary ends. The first
// server also knows the cluster "fingerflow_test" whose shards are all of
// them, for Distributed tables. A test package starts them once in its
// TestMain; without the server binary, or under -short, it gets none and
// its tests skip with a message saying why.
package chtest

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Cluster is the name of the cluster the first server knows.
const Cluster = "fingerflow_test"

// UsersConfig is the package's users file: user "default", no password.
const UsersConfig = "/etc/clickhouse-server/users.xml"

// Server is one running clickhouse-server.
type Server struct {
	Port int    // native protocol port on 127.0.0.1
	Addr string // "127.0.0.1:Port"
	dir  string
	cmd  *exec.Cmd
	done chan error
}

// DSN is the server's DSN for database db ("default" when empty), with
// the given query parameters appended ("table=flows").
func (s *Server) DSN(db string, params ...string) string {
	if db == "" {
		db = "default"
	}
	dsn := "clickhouse://default@" + s.Addr + "/" + db
	if len(params) > 0 {
		dsn += "?" + strings.Join(params, "&")
	}
	return dsn
}

// Servers are the servers a test package started; Why says why there are
// none.
type Servers struct {
	List []*Server
	Why  string
}

// Need returns the first n servers, or skips t with the reason there are
// none.
func (ss *Servers) Need(t testing.TB, n int) []*Server {
	t.Helper()
	if testing.Short() {
		t.Skip("clickhouse-server tests skipped under -short")
	}
	if len(ss.List) < n {
		t.Skip(ss.Why)
	}
	return ss.List[:n]
}

// Main starts n servers, runs the tests and stops the servers: call it
// from TestMain as os.Exit(chtest.Main(m, &servers, 2)).
func Main(m *testing.M, ss *Servers, n int) int {
	flag.Parse()
	if testing.Short() {
		ss.Why = "clickhouse-server tests skipped under -short"
		return m.Run()
	}
	list, err := Start(n)
	if err != nil {
		ss.Why = err.Error()
		fmt.Fprintf(os.Stderr, "chtest: %v; ClickHouse tests will skip\n", err)
		return m.Run()
	}
	ss.List = list
	defer func() {
		for _, s := range list {
			s.Stop()
		}
	}()
	return m.Run()
}

// Start starts n servers and waits until each answers. On error it stops
// those it started. Free ports are picked before the servers start, so
// another process may take one in between: Start then tries again with
// other ports, three times in all.
func Start(n int) ([]*Server, error) {
	var err error
	for range 3 {
		var list []*Server
		if list, err = start(n); err == nil || !strings.Contains(err.Error(), "Address already in use") {
			return list, err
		}
	}
	return nil, err
}

func start(n int) ([]*Server, error) {
	bin, err := exec.LookPath("clickhouse-server")
	if err != nil {
		return nil, fmt.Errorf("clickhouse-server not installed (Debian package clickhouse-server)")
	}
	if _, err := os.Stat(UsersConfig); err != nil {
		return nil, fmt.Errorf("clickhouse-server has no %s: %v", UsersConfig, err)
	}
	ports := make([]int, 2*n)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	var shards strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&shards, "<shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>", ports[2*i])
	}
	var out []*Server
	stopAll := func() {
		for _, s := range out {
			s.Stop()
		}
	}
	for i := 0; i < n; i++ {
		remote := ""
		if i == 0 {
			remote = "<remote_servers><" + Cluster + ">" + shards.String() + "</" + Cluster + "></remote_servers>"
		}
		s, err := startOne(bin, ports[2*i], ports[2*i+1], remote)
		if err != nil {
			stopAll()
			return nil, err
		}
		out = append(out, s)
	}
	for _, s := range out {
		if err := s.wait(30 * time.Second); err != nil {
			stopAll()
			return nil, err
		}
	}
	return out, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

const configTemplate = `<?xml version="1.0"?>
<yandex>
<logger><level>warning</level><log>DIR/server.log</log><errorlog>DIR/err.log</errorlog><console>0</console></logger>
<tcp_port>TCP</tcp_port><http_port>HTTP</http_port><listen_host>127.0.0.1</listen_host>
<path>DIR/data/</path><tmp_path>DIR/tmp/</tmp_path><users_config>USERS</users_config>
<default_profile>default</default_profile><default_database>default</default_database>
<mark_cache_size>268435456</mark_cache_size>
REMOTE
</yandex>
`

func startOne(bin string, tcp, http int, remote string) (*Server, error) {
	dir, err := os.MkdirTemp("", "fingerflow-clickhouse-")
	if err != nil {
		return nil, err
	}
	cfg := strings.NewReplacer("DIR", dir, "TCP", strconv.Itoa(tcp), "HTTP", strconv.Itoa(http),
		"USERS", UsersConfig, "REMOTE", remote).Replace(configTemplate)
	path := filepath.Join(dir, "config.xml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(bin, "--config-file="+path)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("clickhouse-server: %w", err)
	}
	s := &Server{Port: tcp, Addr: fmt.Sprintf("127.0.0.1:%d", tcp), dir: dir, cmd: cmd, done: make(chan error, 1)}
	go func() {
		s.done <- cmd.Wait()
		log.Close()
	}()
	return s, nil
}

// wait polls the native port until the server answers a query.
func (s *Server) wait(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		if err := ping(ctx, s.Addr); err == nil {
			return nil
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("clickhouse-server on port %d exited (%v): %s", s.Port, err, s.tail())
		case <-ctx.Done():
			return fmt.Errorf("clickhouse-server on port %d did not answer within %v: %s", s.Port, limit, s.tail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ping connects over the native protocol and asks the server to answer.
func ping(ctx context.Context, addr string) error {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Ping(ctx)
}

func (s *Server) tail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "err.log"))
	if len(b) == 0 {
		b, _ = os.ReadFile(filepath.Join(s.dir, "stdout.log"))
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ")
}

// Stop ends the server and removes its directory.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
	os.RemoveAll(s.dir)
}
