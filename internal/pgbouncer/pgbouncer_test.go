package pgbouncer

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-tenancy/tenancy/internal/pgserver"
)

// start runs a throwaway PostgreSQL server and a bouncer in front of it, both
// stopped in t.Cleanup. Without pgbouncer (or PostgreSQL) the test fails, saying how
// to install it; under -short it is skipped instead.
func start(t *testing.T, cfg Config) (*Bouncer, *pgserver.Server) {
	t.Helper()
	if _, err := FindBinary(); err != nil {
		if testing.Short() {
			t.Skipf("skipped in -short mode: %v", err)
		}
		t.Fatalf("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgserver.Start(ctx, pgserver.Config{})
	if err != nil {
		if testing.Short() && errors.Is(err, pgserver.ErrNotFound) {
			t.Skipf("skipped in -short mode: %v", err)
		}
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop server: %v", err)
		}
	})
	cfg.Upstream = srv.URL("postgres")
	cfg.Logf = t.Logf
	b, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Errorf("stop pgbouncer: %v", err)
		}
	})
	return b, srv
}

func open(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func config(t *testing.T, b *Bouncer) map[string]string {
	t.Helper()
	rows, err := b.Show(context.Background(), "CONFIG")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, r := range rows {
		m[r["key"]] = r["value"]
	}
	return m
}

func TestStartQueryStop(t *testing.T) {
	t.Parallel()
	b, srv := start(t, Config{})
	ctx := context.Background()

	// A query through the bouncer reaches the upstream server.
	db := open(t, b.URL("postgres"))
	var dir string
	if err := db.QueryRowContext(ctx, `SELECT current_setting('data_directory')`).Scan(&dir); err != nil {
		t.Fatalf("query through pgbouncer: %v", err)
	}
	if dir != srv.DataDir() {
		t.Fatalf("pgbouncer reached a server with data directory %s, want %s", dir, srv.DataDir())
	}

	conf := config(t, b)
	for k, want := range map[string]string{
		"pool_mode":         "transaction",
		"default_pool_size": "4",
		"listen_addr":       "127.0.0.1",
		"unix_socket_dir":   "",
		"auth_type":         "trust",
	} {
		if got, ok := conf[k]; !ok || got != want {
			t.Errorf("SHOW CONFIG %s = %q (present %v), want %q", k, got, ok, want)
		}
	}
	if os.Geteuid() == 0 {
		// pgbouncer refuses root: it must run as someone else.
		var uid int
		st, err := os.ReadFile("/proc/" + strconv.Itoa(b.cmd.Process.Pid) + "/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(st), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
				uid = atoi(t, f[1])
			}
		}
		if uid == 0 {
			t.Errorf("pgbouncer runs as root")
		}
	}

	db.Close()
	if err := b.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := b.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	select {
	case <-b.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if _, err := os.Stat(b.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory %s still there after Stop (%v)", b.dir, err)
	}
	db2 := open(t, b.URL("postgres"))
	if err := db2.PingContext(ctx); err == nil {
		t.Error("pgbouncer still answers after Stop")
	}
}

// TestTransactionPooling shows what the harness is for: with one server connection,
// every client connection's transactions run on the same backend, one after another.
func TestTransactionPooling(t *testing.T) {
	t.Parallel()
	b, _ := start(t, Config{PoolSize: 1})
	ctx := context.Background()
	db := open(t, b.URL("postgres"))

	const clients = 3
	conns := make([]*sql.Conn, clients)
	for i := range conns {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	pids := map[int]bool{}
	for round := 0; round < 2; round++ {
		for _, c := range conns {
			var pid int
			if err := c.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
				t.Fatal(err)
			}
			pids[pid] = true
		}
	}
	if len(pids) != 1 {
		t.Fatalf("%d client connections used %d server backends, want 1 (pool size 1)", clients, len(pids))
	}
	clientsShown, err := b.Show(ctx, "CLIENTS")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range clientsShown {
		if r["database"] == "postgres" {
			n++
		}
	}
	if n != clients {
		t.Errorf("SHOW CLIENTS lists %d clients of database postgres, want %d", n, clients)
	}
	servers, err := b.Show(ctx, "SERVERS")
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 1 {
		t.Errorf("SHOW SERVERS lists %d server connections, want 1: %v", len(servers), servers)
	}
	if err := b.Command(ctx, "RECONNECT"); err != nil {
		t.Fatalf("RECONNECT: %v", err)
	}
	if err := b.Command(ctx, "RECONNECT; SHUTDOWN"); err == nil || !strings.Contains(err.Error(), "not a console command") {
		t.Errorf("Command with an injected second command: %v, want it refused before sending", err)
	}
	if _, err := b.Show(ctx, "CONFIG; SHUTDOWN"); err == nil || !strings.Contains(err.Error(), "not a SHOW subject") {
		t.Errorf("Show with an injected command: %v, want it refused before sending", err)
	}
	select {
	case <-b.Done():
		t.Fatal("pgbouncer exited")
	default:
	}
}

func TestBinaryNotFound(t *testing.T) {
	t.Parallel()
	_, err := Start(context.Background(), Config{
		Upstream: "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable",
		Binary:   "/nonexistent/pgbouncer",
	})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Start with a missing binary: %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "apt-get install -y pgbouncer") {
		t.Errorf("error does not say how to install pgbouncer: %v", err)
	}
}

func TestParseUpstream(t *testing.T) {
	t.Parallel()
	up, err := parseUpstream("postgres://alice:s3cret@db.internal:6543/app?sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	if want := (upstream{host: "db.internal", port: "6543", user: "alice", password: "s3cret", sslmode: "require"}); up != want {
		t.Fatalf("parseUpstream = %+v, want %+v", up, want)
	}
	text := configText(Config{PoolMode: "transaction", PoolSize: 2, MaxClientConn: 9}, up, 7000, "/x/userlist.txt")
	for _, want := range []string{
		"* = host=db.internal port=6543 user=alice password=s3cret\n",
		"listen_port = 7000\n", "pool_mode = transaction\n", "default_pool_size = 2\n",
		"max_client_conn = 9\n", "server_tls_sslmode = require\n", "unix_socket_dir = \n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("configuration lacks %q:\n%s", want, text)
		}
	}
	up, err = parseUpstream("postgres://bob@localhost/app")
	if err != nil || up.port != "5432" || up.sslmode != "prefer" || up.password != "" {
		t.Fatalf("defaults: %+v, %v", up, err)
	}
	for _, bad := range []string{
		"", "mysql://x@h/db", "postgres:///db", "postgres://h/db", "postgres://u@h/db?sslmode=verify-full",
		"postgres://u:pa%27ss@h/db", "postgres://u%0A@h/db", "%zz",
	} {
		if _, err := parseUpstream(bad); err == nil {
			t.Errorf("parseUpstream(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "pa'ss") {
			t.Errorf("parseUpstream(%q) error leaks the password: %v", bad, err)
		}
	}
	for _, c := range []Config{
		{Upstream: "postgres://u@h/db", PoolMode: "bogus"},
		{Upstream: "postgres://u@h/db", PoolSize: -1},
	} {
		if _, err := Start(context.Background(), c); err == nil {
			t.Errorf("Start(%+v) accepted", c)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
