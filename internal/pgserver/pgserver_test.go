package pgserver

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-tenancy/tenancy/internal/proc"
)

// childEnv, when set, makes the test binary act as the parent process that
// TestServerDiesWithParent kills: see TestMain.
const childEnv = "PGSERVER_TEST_ORPHAN_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		orphanParent()
		return
	}
	os.Exit(m.Run())
}

// orphanParent starts a server, reports its PID and data directory on stdout and
// waits for stdin to close, which never happens: the test kills it instead.
func orphanParent() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("%d %s\n", s.cmd.Process.Pid, s.DataDir())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = s.Stop()
	os.Exit(3) // the test treats a clean exit as a failure
}

// requireBinaries returns the binary directory, failing the test if PostgreSQL is
// not installed (skipping only under -short).
func requireBinaries(t testing.TB) string {
	t.Helper()
	dir, err := FindBinDir()
	if errors.Is(err, ErrNotFound) && testing.Short() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// startServer starts a server for t and stops it in t.Cleanup, failing the test
// if Stop fails.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	requireBinaries(t)
	if cfg.Logf == nil {
		cfg.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

// openDB opens a connection pool to url, closed in t.Cleanup.
func openDB(t testing.TB, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// searchableDir returns a new temporary directory that the OS user the server
// runs as can reach: t.TempDir is private to the caller, who may be root.
func searchableDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	// t.TempDir makes a private directory per test and one per call below it.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFindBinDir(t *testing.T) {
	t.Parallel()
	dir := requireBinaries(t)
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("FindBinDir() = %s, which has no %s: %v", dir, name, err)
		}
	}
}

func TestByVersionDesc(t *testing.T) {
	t.Parallel()
	got := byVersionDesc([]string{
		"/usr/lib/postgresql/9.6/bin",
		"/usr/lib/postgresql/15/bin",
		"/usr/lib/postgresql/devel/bin",
		"/usr/lib/postgresql/10/bin",
		"/usr/pgsql-16/bin",
	})
	want := []string{
		"/usr/pgsql-16/bin",
		"/usr/lib/postgresql/15/bin",
		"/usr/lib/postgresql/10/bin",
		"/usr/lib/postgresql/9.6/bin",
		"/usr/lib/postgresql/devel/bin",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("byVersionDesc:\ngot  %q\nwant %q", got, want)
	}
}

func TestStartTemporary(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{})

	wantURL := "postgres://postgres@127.0.0.1:" + strconv.Itoa(s.Port()) + "/app?sslmode=disable"
	if got := s.URL("app"); got != wantURL {
		t.Errorf("URL(app) = %s, want %s", got, wantURL)
	}

	db := openDB(t, s.URL("postgres"))
	var one int
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	for setting, want := range map[string]string{
		"listen_addresses":        "127.0.0.1",
		"unix_socket_directories": "",
		"fsync":                   "off",
		"synchronous_commit":      "off",
		"full_page_writes":        "off",
		"max_connections":         strconv.Itoa(MaxConnections),
		"server_encoding":         "UTF8",
		"lc_collate":              "C",
		"is_superuser":            "on",
		"port":                    strconv.Itoa(s.Port()),
	} {
		var got string
		if err := db.QueryRow("SELECT current_setting($1)", setting).Scan(&got); err != nil {
			t.Errorf("current_setting(%s): %v", setting, err)
		} else if got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(s.DataDir(), "PG_VERSION")); err != nil {
		t.Errorf("data directory %s holds no cluster: %v", s.DataDir(), err)
	}
	if owner, err := serverUser(); err != nil {
		t.Fatal(err)
	} else if owner != nil && !ownedBy(s.DataDir(), owner) {
		t.Errorf("data directory %s does not belong to %s", s.DataDir(), owner.name)
	}
	db.Close() // Stop disconnects clients anyway; this keeps the log quiet

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done is not closed after Stop")
	}
	if _, err := os.Stat(s.DataDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary data directory %s still exists after Stop: %v", s.DataDir(), err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port()))); err == nil {
		conn.Close()
		t.Errorf("port %d still accepts connections after Stop", s.Port())
	}
}

func TestStartPersistent(t *testing.T) {
	t.Parallel()
	// A directory that does not exist yet, nor does its parent: Start creates
	// them, the parent searchable by the server's OS user.
	dir := filepath.Join(searchableDir(t), "demo", "data")
	ctx := context.Background()

	s := startServer(t, Config{DataDir: dir})
	if s.DataDir() != dir {
		t.Errorf("DataDir() = %s, want %s", s.DataDir(), dir)
	}
	db := openDB(t, s.URL("postgres"))
	if _, err := db.ExecContext(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		t.Fatalf("cluster gone after Stop: %v", err)
	}
	// A postmaster.pid left by a crash, naming a PID that now belongs to an
	// unrelated process (1: init), must not block the restart.
	if err := os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	s = startServer(t, Config{DataDir: dir})
	db = openDB(t, s.URL("postgres"))
	var v string
	if err := db.QueryRowContext(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "survives" {
		t.Fatalf("after restart: SELECT v FROM kept = %q, %v; want survives", v, err)
	}
}

func TestStartAlreadyRunning(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(searchableDir(t), "data")
	s := startServer(t, Config{DataDir: dir})

	_, err := Start(context.Background(), Config{DataDir: dir})
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Start on %s: %v, want ErrAlreadyRunning", dir, err)
	}
	if db := openDB(t, s.URL("postgres")); db.Ping() != nil {
		t.Errorf("first server no longer answers after the failed second Start: %v", db.Ping())
	}
}

func TestStartNotCluster(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	dir := searchableDir(t)
	keep := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Config{DataDir: dir})
	if !errors.Is(err, ErrNotCluster) {
		t.Fatalf("Start on a non-empty directory: %v, want ErrNotCluster", err)
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "mine" {
		t.Errorf("Start touched an unrelated file: %q, %v", b, err)
	}
}

func TestStartSettings(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Settings: map[string]string{
		"max_connections":  "57", // overrides pgserver's own
		"wal_level":        "logical",
		"application_name": "has spaces, and = signs",
		"tenancy.custom":   "x", // a placeholder (extension) parameter
	}})
	db := openDB(t, s.URL("postgres"))
	for setting, want := range map[string]string{
		"max_connections":  "57",
		"wal_level":        "logical",
		"application_name": "has spaces, and = signs",
		"tenancy.custom":   "x",
		"fsync":            "off", // pgserver's own settings stay
	} {
		var got string
		if err := db.QueryRow("SELECT current_setting($1)", setting).Scan(&got); err != nil {
			t.Errorf("current_setting(%s): %v", setting, err)
		} else if got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
	// The log shows the server's messages, such as one this test provokes. The
	// server writes it to its output pipe after answering the query, so it
	// arrives a moment later: poll, within a deadline.
	if _, err := db.Exec("DO $$BEGIN RAISE LOG 'pgserver-logtail-marker'; END$$"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.LogTail(), "pgserver-logtail-marker") {
		if time.Now().After(deadline) {
			t.Fatalf("LogTail() lacks the message logged 10s ago:\n%s", s.LogTail())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStartBadSetting(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	// postgres itself rejects an unknown parameter; the error carries its log.
	_, err := Start(context.Background(), Config{Settings: map[string]string{"no_such_parameter": "1"}})
	if err == nil || !strings.Contains(err.Error(), "no_such_parameter") {
		t.Fatalf("Start with an unknown parameter: %v, want an error quoting the server's complaint", err)
	}
}

func TestStartReservedSettings(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"port", "Listen_Addresses", "unix_socket_directories", "data_directory",
		"config_file", "hba_file", "", "a=b", "a b"} {
		_, err := Start(context.Background(), Config{Settings: map[string]string{name: "1"}})
		if err == nil || !strings.Contains(err.Error(), "Config.Settings") {
			t.Errorf("Start with setting %q: %v, want an error naming Config.Settings", name, err)
		}
	}
}

func TestStartBadBinDir(t *testing.T) {
	t.Parallel()
	_, err := Start(context.Background(), Config{BinDir: t.TempDir()})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Start with an empty BinDir: %v, want ErrNotFound", err)
	}
}

func TestStartBadPort(t *testing.T) {
	t.Parallel()
	if _, err := Start(context.Background(), Config{Port: 70000}); err == nil || !strings.Contains(err.Error(), "Config.Port") {
		t.Fatalf("Start with port 70000: %v, want an error naming Config.Port", err)
	}
}

// TestStartCleansUp runs sequentially: it points TMPDIR at its own directory to
// see that failed starts leave no temporary data directory behind.
func TestStartCleansUp(t *testing.T) {
	requireBinaries(t)
	tmp := searchableDir(t)
	t.Setenv("TMPDIR", tmp)
	assertEmpty := func() {
		t.Helper()
		if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
			t.Errorf("a failed Start left %s behind", entries[0].Name())
		}
	}

	t.Run("context canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Start(ctx, Config{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Start with a canceled context: %v, want context.Canceled", err)
		}
		assertEmpty()
	})

	t.Run("port taken", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		taken := l.Addr().(*net.TCPAddr).Port

		_, err = Start(context.Background(), Config{Port: taken})
		if err == nil || !errors.Is(err, errPortInUse) || !strings.Contains(err.Error(), "Address already in use") {
			t.Errorf("Start on a taken port: %v, want errPortInUse with the server's log", err)
		}
		assertEmpty()
	})
}

// TestStartRetriesTakenPort simulates losing the race for a picked port: the first
// port the picker offers is taken, so Start must retry with the next one.
func TestStartRetriesTakenPort(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port

	var mu sync.Mutex
	var picks []int
	var log strings.Builder
	pick := func() (int, error) {
		mu.Lock()
		defer mu.Unlock()
		p := taken
		if len(picks) > 0 {
			var err error
			if p, err = proc.FreePort(); err != nil {
				return 0, err
			}
		}
		picks = append(picks, p)
		return p, nil
	}
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(&log, format+"\n", args...)
		t.Logf(format, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := start(ctx, Config{Logf: logf}, pick)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer func() {
		if err := s.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()

	mu.Lock()
	defer mu.Unlock()
	if len(picks) != 2 || s.Port() != picks[1] || s.Port() == taken {
		t.Errorf("picked ports %v, server on %d; want a retry after %d", picks, s.Port(), taken)
	}
	if !strings.Contains(log.String(), fmt.Sprintf("port %d was taken", taken)) {
		t.Errorf("the retry was not logged; log:\n%s", log.String())
	}
}

// TestServerDiesWithParent kills a process that started a server without stopping
// it, and expects the server to exit (Linux: parent-death signal).
func TestServerDiesWithParent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux-only")
	}
	t.Parallel()
	requireBinaries(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(exe, "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"=1")
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = child.Process.Kill()
		t.Fatalf("child reported no server (%v): %q", err, line)
	}
	var pid int
	var dataDir string
	if _, err := fmt.Sscan(line, &pid, &dataDir); err != nil {
		_ = child.Process.Kill()
		t.Fatalf("child's report %q: %v", line, err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	if !running(pid) {
		t.Fatalf("server PID %d is not running while its parent lives", pid)
	}

	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for running(pid) {
		select {
		case <-ctx.Done():
			t.Fatalf("server PID %d still runs 30s after its parent was killed", pid)
		case <-tick.C:
		}
	}
}

// running reports whether pid is a live process (not gone, not a zombie that
// nobody reaps).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
