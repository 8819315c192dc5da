//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// freePort asks the kernel for a free loopback port.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// run runs a command to completion under a deadline; its output is in the
// error.
func run(ctx context.Context, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// postgres is a throwaway PostgreSQL cluster of the machine's binaries.
type postgres struct {
	bin, dir, data string
	port           int
	asUser         []string // runuser prefix when running as root
}

// pgBinDir is the newest /usr/lib/postgresql/<version>/bin.
func pgBinDir(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	if len(dirs) == 0 {
		t.Fatal("no PostgreSQL binaries under /usr/lib/postgresql/*/bin (apt install postgresql)")
	}
	return dirs[len(dirs)-1]
}

func startPostgres(t *testing.T) *postgres {
	t.Helper()
	p := &postgres{bin: pgBinDir(t), port: freePort(t)}
	dir, err := os.MkdirTemp("", "chatsync-chaos-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir, p.data = dir, filepath.Join(dir, "data")
	// initdb refuses root: run the cluster as the postgres user then.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user for initdb: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	t.Cleanup(func() {
		_ = p.ctl(context.Background(), "stop", "-m", "immediate")
		_ = os.RemoveAll(dir)
	})
	ctx := t.Context()
	if err := p.exec(ctx, "initdb", "-D", p.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-instructions"); err != nil {
		t.Fatal(err)
	}
	if err := p.ctl(ctx, "start"); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *postgres) exec(ctx context.Context, tool string, args ...string) error {
	argv := append(append(append([]string{}, p.asUser...), filepath.Join(p.bin, tool)), args...)
	return run(ctx, argv[0], argv[1:]...)
}

// ctl runs pg_ctl start, stop or restart on the cluster's port. fsync is
// off: the suite's restarts are clean shutdowns, which write everything
// committed whatever fsync says, and the machine has 2 cores.
func (p *postgres) ctl(ctx context.Context, action string, extra ...string) error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off -c max_connections=300", p.port, p.dir)
	args := append([]string{"-D", p.data, "-l", filepath.Join(p.dir, "log"), "-w", "-t", "60", "-o", opts, action}, extra...)
	return p.exec(ctx, "pg_ctl", args...)
}

func (p *postgres) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// redisServer is a throwaway redis-server with an append-only file, so a
// restart keeps what was written (FLUSHALL is the case that loses it).
type redisServer struct {
	dir  string
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	r := &redisServer{dir: t.TempDir(), port: freePort(t)}
	t.Cleanup(func() { r.kill() })
	if err := r.start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *redisServer) start(ctx context.Context) error {
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "everysec")
	r.cmd.Stdout, r.cmd.Stderr = nil, nil
	if err := r.cmd.Start(); err != nil {
		return err
	}
	c := r.client()
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := c.Ping(ctx).Err(); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("redis on %d did not come up: %w", r.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *redisServer) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
}

// restart stops Redis cleanly (SIGTERM: the append-only file is written)
// and starts it again on the same port.
func (r *redisServer) restart(ctx context.Context) error {
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	_ = r.cmd.Wait()
	return r.start(ctx)
}

func (r *redisServer) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// proc is a running chatsync process.
type proc struct {
	name string
	args []string
	env  []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) start() error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	p.cmd = exec.Command(p.args[0], p.args[1:]...)
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return err
	}
	p.done = make(chan struct{})
	go func() { _ = p.cmd.Wait(); f.Close(); close(p.done) }()
	return nil
}

// kill9 kills the process with SIGKILL and waits for it.
func (p *proc) kill9() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stop ends the process with SIGTERM, then SIGKILL after 10 s.
func (p *proc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill9()
	}
}
