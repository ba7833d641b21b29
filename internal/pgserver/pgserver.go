// Package pgserver starts a PostgreSQL server from locally installed binaries, for
// tests (a throwaway cluster in a temporary directory) and for the demo server (a
// cluster in a data directory that survives restarts).
//
// The server runs as a child process of the caller, listens on 127.0.0.1 only, has
// no Unix-domain socket, accepts every local connection without a password (trust
// authentication, superuser "postgres"), and trades durability for speed (fsync,
// synchronous_commit and full_page_writes are off): it is not for production data.
//
// PostgreSQL refuses to run as root. When the caller is root, pgserver runs initdb
// and postgres as the OS user "postgres" (which must exist, as it does wherever a
// distribution package of PostgreSQL is installed) and gives that user the data
// directory.
package pgserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy/internal/proc"
)

// Superuser is the name of the superuser role of every cluster that [Start]
// creates; [Server.URL] connects as it.
const Superuser = "postgres"

// MaxConnections is the server's max_connections: high enough for tests that open
// many connections at once, such as concurrency and pool-exhaustion tests.
const MaxConnections = 300

const (
	// startAttempts bounds how often Start retries with another free port when the
	// one it picked was taken between picking and binding (Config.Port == 0 only).
	startAttempts = 5
	// stopTimeout is how long Stop waits for a fast shutdown before it escalates to
	// an immediate shutdown, and killTimeout how long it then waits before SIGKILL.
	stopTimeout = 30 * time.Second
	killTimeout = 10 * time.Second
	// waitDelay bounds how long waiting for an exited process also waits for its
	// output pipe to close (a surviving backend could hold it open).
	waitDelay = 5 * time.Second
)

// Errors returned by [FindBinDir] and [Start]. They are wrapped with details;
// test with errors.Is.
var (
	// ErrNotFound means no PostgreSQL server binaries were found. FindBinDir returns
	// it, and Start when Config.BinDir is "". Its message says how to install them.
	ErrNotFound = errors.New("PostgreSQL server binaries (initdb, postgres) not found")

	// ErrAlreadyRunning is returned by Start when Config.DataDir holds a
	// postmaster.pid of a live process: a server already runs on that cluster.
	ErrAlreadyRunning = errors.New("a PostgreSQL server is already running in the data directory")

	// ErrNotCluster is returned by Start when Config.DataDir exists, is not empty
	// and holds no PostgreSQL cluster (no PG_VERSION file), so it is neither reused
	// nor initialised.
	ErrNotCluster = errors.New("data directory is not empty and holds no PostgreSQL cluster")
)

// errPortInUse marks a start attempt that failed because another process holds the
// port; Start retries those with another port when it picked the port itself.
var errPortInUse = errors.New("port already in use")

// Config configures [Start]. The zero value is valid: a throwaway cluster in a
// temporary directory, on a free port, with binaries found by [FindBinDir].
type Config struct {
	// DataDir is the cluster's data directory. "" (the default) creates a temporary
	// directory that Stop removes. Otherwise the directory is kept: if it holds a
	// cluster (a PG_VERSION file) that cluster is reused, if it is missing or empty
	// it is created and initialised with initdb, and anything else is
	// [ErrNotCluster]. When the caller is root, every parent directory of DataDir
	// must be searchable by the OS user "postgres".
	DataDir string

	// Port is the TCP port on 127.0.0.1. 0 (the default) picks a free port, and
	// picks another if that one is taken before the server binds it.
	Port int

	// BinDir is the directory that holds initdb and postgres. "" (the default) uses
	// [FindBinDir].
	BinDir string

	// Settings are extra server configuration parameters, name to value, such as
	// "shared_preload_libraries": "citus" or "wal_level": "logical". Each is passed
	// to postgres as a -c option after pgserver's own (so it overrides those, for
	// example "max_connections"), in order of name. The parameters pgserver relies
	// on to reach the server (port, listen_addresses, unix_socket_directories,
	// data_directory, config_file, hba_file) cannot be set, nor can an empty name or
	// a name holding "=" or whitespace: Start returns an error for those.
	Settings map[string]string

	// Logf, if not nil, receives diagnostics: each line the server and initdb print
	// (their log), and notes such as port retries. It is called from other
	// goroutines until Stop returns, so it must be safe for concurrent use. nil
	// discards them; the tail of the output is kept for error messages either way.
	Logf func(format string, args ...any)
}

// Server is a running PostgreSQL server started by [Start]. Its methods are safe
// for concurrent use.
type Server struct {
	port    int
	dataDir string
	tempDir bool // dataDir was created by Start and is removed by Stop

	cmd    *exec.Cmd
	output *proc.TailWriter
	exited chan struct{} // closed when cmd.Wait has returned
	// waitErr is cmd.Wait's result; read it only after exited is closed.
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// FindBinDir returns the directory that holds the PostgreSQL server binaries
// initdb and postgres. It looks, in this order, in the directory of postgres found
// on PATH and the directory that symlink points into (if initdb is beside it), in
// `pg_config --bindir`, and in
// /usr/lib/postgresql/*/bin (Debian, Ubuntu) and /usr/pgsql-*/bin (RHEL, Fedora),
// highest major version first. If none holds both binaries it returns an error that
// wraps [ErrNotFound] and says how to install PostgreSQL.
func FindBinDir() (string, error) {
	var candidates []string
	if p, err := exec.LookPath("postgres"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
		// PATH may hold only a symlink to postgres (Homebrew, hand-made links);
		// initdb is surely beside the real binary.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
	}
	if p, err := exec.LookPath("pg_config"); err == nil {
		// pg_config also comes with the client library's development package
		// (libpq-dev), so its bindir may lack the server: hasServer checks.
		if out, err := exec.Command(p, "--bindir").Output(); err == nil {
			candidates = append(candidates, strings.TrimSpace(string(out)))
		}
	}
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"} {
		dirs, _ := filepath.Glob(pattern) // the patterns are valid
		candidates = append(candidates, byVersionDesc(dirs)...)
	}
	for _, dir := range candidates {
		if hasServer(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("pgserver: %w on PATH, via pg_config --bindir, or in "+
		"/usr/lib/postgresql/*/bin or /usr/pgsql-*/bin; install the PostgreSQL server "+
		"(Debian/Ubuntu: apt-get install -y postgresql; Fedora/RHEL: dnf install -y postgresql-server; "+
		"macOS: brew install postgresql), or point the tests at a running server with "+
		"TENANCY_TEST_DATABASE_URL=postgres://user:password@host:port/dbname?sslmode=disable",
		ErrNotFound)
}

// hasServer reports whether dir holds both initdb and postgres as regular files.
func hasServer(dir string) bool {
	if dir == "" {
		return false
	}
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// byVersionDesc sorts directories such as /usr/lib/postgresql/15/bin by the
// version number in the path, highest first, so 15 comes before 9.6.
func byVersionDesc(dirs []string) []string {
	version := func(dir string) []int {
		// The version is the last path element before "bin", after any prefix
		// such as "pgsql-".
		s := filepath.Base(filepath.Dir(dir))
		s = s[strings.LastIndexByte(s, '-')+1:]
		var v []int
		for _, part := range strings.Split(s, ".") {
			n, err := strconv.Atoi(part)
			if err != nil {
				return nil
			}
			v = append(v, n)
		}
		return v
	}
	sort.SliceStable(dirs, func(i, j int) bool {
		a, b := version(dirs[i]), version(dirs[j])
		for k := 0; k < len(a) && k < len(b); k++ {
			if a[k] != b[k] {
				return a[k] > b[k]
			}
		}
		return len(a) > len(b)
	})
	return dirs
}

// Start initialises the cluster if needed, starts postgres as a child process and
// returns once the server accepts connections. ctx bounds only the startup (initdb,
// launch and the readiness check); the server keeps running after ctx is done,
// until [Server.Stop].
//
// On Linux the server is sent SIGQUIT (immediate shutdown) if the calling process
// dies without calling Stop, so it is not orphaned; a temporary data directory is
// then left behind.
//
// Errors name the step that failed and include the tail of initdb's or the
// server's output. Start returns an error wrapping [ErrNotFound] when no binaries
// are found, [ErrAlreadyRunning] when a server already runs in Config.DataDir,
// [ErrNotCluster] when Config.DataDir holds something else, and ctx.Err() when ctx
// ends first. Start may be called concurrently, but not twice at once for the same
// Config.DataDir.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	return start(ctx, cfg, proc.FreePort)
}

// start is Start with the port picker as a parameter, so that tests can simulate
// losing the race for a port.
func start(ctx context.Context, cfg Config, pickPort func() (int, error)) (_ *Server, err error) {
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("pgserver: Config.Port %d is out of range [0, 65535]", cfg.Port)
	}
	settings, err := settingArgs(cfg.Settings)
	if err != nil {
		return nil, err
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	binDir := cfg.BinDir
	if binDir == "" {
		if binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	} else if !hasServer(binDir) {
		return nil, fmt.Errorf("pgserver: Config.BinDir %s: %w there", binDir, ErrNotFound)
	}
	owner, err := serverUser()
	if err != nil {
		return nil, err
	}

	dataDir, tempDir := cfg.DataDir, cfg.DataDir == ""
	if tempDir {
		if dataDir, err = os.MkdirTemp("", "tenancy-pgserver-"); err != nil {
			return nil, fmt.Errorf("pgserver: create temporary data directory: %w", err)
		}
		defer func() {
			if err != nil {
				_ = os.RemoveAll(dataDir)
			}
		}()
	} else if dataDir, err = filepath.Abs(dataDir); err != nil {
		return nil, fmt.Errorf("pgserver: Config.DataDir: %w", err)
	}

	if err := prepareDataDir(ctx, dataDir, binDir, owner, logf); err != nil {
		return nil, err
	}

	for attempt := 1; ; attempt++ {
		port := cfg.Port
		if port == 0 {
			if port, err = pickPort(); err != nil {
				return nil, fmt.Errorf("pgserver: pick a free port: %w", err)
			}
		}
		s, err := launch(ctx, binDir, dataDir, port, settings, owner, logf)
		if err == nil {
			s.tempDir = tempDir
			return s, nil
		}
		if cfg.Port != 0 || attempt == startAttempts || !errors.Is(err, errPortInUse) {
			return nil, err
		}
		logf("pgserver: port %d was taken before the server bound it; retrying with another port", port)
	}
}

// prepareDataDir makes dataDir hold a cluster owned by owner: it reuses an existing
// cluster and runs initdb in a missing or empty directory.
func prepareDataDir(ctx context.Context, dataDir, binDir string, owner *osUser, logf func(string, ...any)) error {
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err == nil {
		if pid, ok := runningPID(dataDir); ok {
			return fmt.Errorf("pgserver: %s: %w (PID %d); stop it first", dataDir, ErrAlreadyRunning, pid)
		}
		// initdb made the cluster's files the owner's; a cluster created by
		// another user (or copied in) is handed over the same way.
		return chownTree(dataDir, owner, false)
	}

	entries, err := os.ReadDir(dataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Parents must stay searchable by the owner; the data directory
		// itself must be private (postgres insists), which Chmod sees to.
		if err := os.MkdirAll(filepath.Dir(dataDir), 0o755); err != nil {
			return fmt.Errorf("pgserver: create data directory: %w", err)
		}
		if err := os.Mkdir(dataDir, 0o700); err != nil {
			return fmt.Errorf("pgserver: create data directory: %w", err)
		}
	case err != nil:
		return fmt.Errorf("pgserver: read data directory: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("pgserver: %s: %w", dataDir, ErrNotCluster)
	}
	if err := os.Chmod(dataDir, 0o700); err != nil {
		return fmt.Errorf("pgserver: data directory: %w", err)
	}
	if err := chownTree(dataDir, owner, true); err != nil {
		return err
	}

	out := proc.NewTailWriter("initdb", logf)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"),
		"--pgdata="+dataDir,
		"--username="+Superuser,
		"--auth=trust",
		"--encoding=UTF8",
		"--no-locale",
		// The cluster is disposable or a demo: skipping the fsync of every
		// file initdb writes saves a third of its time (1.5s against 2.2s).
		"--no-sync",
	)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = dataDir // not the caller's, which the owner may not be allowed to enter
	cmd.SysProcAttr = sysProcAttr(owner)
	cmd.WaitDelay = waitDelay
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("pgserver: initdb %s: %w%s\n%s", dataDir, err, owner.hint(), out.Tail())
	}
	return nil
}

// reservedSettings are the parameters Config.Settings may not set: pgserver
// depends on them to find and reach its server.
var reservedSettings = map[string]bool{
	"port":                    true,
	"listen_addresses":        true,
	"unix_socket_directories": true,
	"data_directory":          true,
	"config_file":             true,
	"hba_file":                true,
}

// settingArgs turns Config.Settings into postgres -c arguments, ordered by name so
// the command line does not depend on map order.
func settingArgs(settings map[string]string) ([]string, error) {
	names := make([]string, 0, len(settings))
	for name := range settings {
		switch {
		case name == "" || strings.ContainsAny(name, "= \t\r\n"):
			return nil, fmt.Errorf("pgserver: Config.Settings: invalid parameter name %q", name)
		case reservedSettings[strings.ToLower(name)]:
			return nil, fmt.Errorf("pgserver: Config.Settings: parameter %s is set by pgserver and cannot be overridden", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	args := make([]string, 0, 2*len(names))
	for _, name := range names {
		args = append(args, "-c", name+"="+settings[name])
	}
	return args, nil
}

// launch starts postgres on port and waits until it accepts connections. settings
// are extra arguments (-c name=value pairs) that come after pgserver's own.
func launch(ctx context.Context, binDir, dataDir string, port int, settings []string, owner *osUser, logf func(string, ...any)) (*Server, error) {
	s := &Server{
		port:    port,
		dataDir: dataDir,
		output:  proc.NewTailWriter("postgres", logf),
		exited:  make(chan struct{}),
	}
	// Settings are passed on the command line rather than written to
	// postgresql.conf, so a persistent cluster keeps working if they change
	// and a reused cluster cannot override them.
	args := []string{
		"-D", dataDir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		// No Unix-domain socket: no dependency on /var/run/postgresql,
		// and no lock file outside the data directory.
		"-c", "unix_socket_directories=",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=" + strconv.Itoa(MaxConnections),
		"-c", "shared_buffers=64MB",
	}
	// postgres applies -c options in order, so a later one wins.
	s.cmd = exec.Command(filepath.Join(binDir, "postgres"), append(args, settings...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	s.cmd.Dir = dataDir
	s.cmd.SysProcAttr = sysProcAttr(owner)
	s.cmd.WaitDelay = waitDelay
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgserver: start postgres: %w%s", err, owner.hint())
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	if err := s.waitReady(ctx); err != nil {
		s.kill()
		if errors.Is(err, errPortInUse) || portInUse(s.output.Tail()) {
			return nil, fmt.Errorf("pgserver: start postgres on 127.0.0.1:%d: %w\n%s", port, errPortInUse, s.output.Tail())
		}
		return nil, fmt.Errorf("pgserver: start postgres on 127.0.0.1:%d in %s: %w\n%s", port, dataDir, err, s.output.Tail())
	}
	return s, nil
}

// waitReady polls until the server accepts a connection and proves to be ours,
// the process exits, or ctx is done.
func (s *Server) waitReady(ctx context.Context) error {
	// connect_timeout bounds the whole connection setup, which lib/pq does not
	// bound by the context: a process that took the port and accepts but never
	// answers would otherwise hang the probe.
	connector, err := pq.NewConnector(s.URL("postgres") + "&connect_timeout=2")
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()

	delay := 5 * time.Millisecond
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		// Another server can hold the port if ours lost the race for it; asking
		// for the data directory tells the two apart. Until ours is up the
		// query fails with "connection refused" or "the database system is
		// starting up".
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		var dir string
		err := db.QueryRowContext(attempt, "SELECT current_setting('data_directory')").Scan(&dir)
		cancel()
		switch {
		case err == nil && dir == s.dataDir:
			return nil
		case err == nil:
			return fmt.Errorf("%w: a server for data directory %s answered", errPortInUse, dir)
		}

		select {
		case <-s.exited:
			return fmt.Errorf("server exited during startup (%v)", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("%w; last connection attempt: %v", ctx.Err(), err)
		case <-timer.C:
		}
		if delay < 100*time.Millisecond {
			delay *= 2
		}
		timer.Reset(delay)
	}
}

// portInUse reports whether postgres's output says it could not bind its port.
func portInUse(output string) bool {
	return strings.Contains(output, "Address already in use") ||
		strings.Contains(output, "could not create any TCP/IP sockets")
}

// kill ends a server that failed to start (immediate shutdown) and waits for it.
func (s *Server) kill() {
	_ = s.cmd.Process.Signal(immediateShutdown)
	select {
	case <-s.exited:
	case <-time.After(killTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// URL returns a lib/pq connection URL for database dbname as the superuser, for
// example postgres://postgres@127.0.0.1:54321/dbname?sslmode=disable. Every cluster
// has a database named "postgres".
func (s *Server) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(Superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port returns the TCP port the server listens on at 127.0.0.1.
func (s *Server) Port() int { return s.port }

// DataDir returns the absolute path of the cluster's data directory. For a
// temporary cluster it no longer exists after Stop.
func (s *Server) DataDir() string { return s.dataDir }

// LogTail returns the last few kilobytes of the server's output (its log), for
// error messages about failures the server may have explained there, such as a
// query that failed because of the server's configuration.
func (s *Server) LogTail() string { return s.output.Tail() }

// Done returns a channel that is closed when the server process has exited, after
// Stop or because it died.
func (s *Server) Done() <-chan struct{} { return s.exited }

// Stop shuts the server down and waits for it to exit: a fast shutdown (SIGINT,
// which disconnects clients), escalated to an immediate shutdown after 30s and to
// SIGKILL 10s later. It then removes the data directory if Start created it.
//
// Stop returns an error if the server had exited before Stop (it crashed; the
// error holds the tail of its output), if it did not exit cleanly, or if the data
// directory could not be removed. Stop is safe to call more than once and
// concurrently; later calls wait for the first and return its result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	var errs []error
	select {
	case <-s.exited:
		errs = append(errs, fmt.Errorf("pgserver: server on port %d had exited before Stop (%v)\n%s",
			s.port, s.waitErr, s.output.Tail()))
	default:
		errs = append(errs, s.shutdown())
	}
	if s.tempDir {
		if err := os.RemoveAll(s.dataDir); err != nil {
			errs = append(errs, fmt.Errorf("pgserver: remove temporary data directory: %w", err))
		}
	}
	return errors.Join(errs...)
}

// shutdown signals the running server to stop, escalating as Stop documents.
func (s *Server) shutdown() error {
	if err := s.cmd.Process.Signal(fastShutdown); err != nil {
		// The process exited between the check and the signal.
		<-s.exited
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	escalated := ""
	select {
	case <-s.exited:
	case <-timer.C:
		escalated = "immediate shutdown after fast shutdown timed out"
		_ = s.cmd.Process.Signal(immediateShutdown)
		timer.Reset(killTimeout)
		select {
		case <-s.exited:
		case <-timer.C:
			escalated = "killed after fast and immediate shutdown timed out"
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	switch {
	case escalated != "":
		return fmt.Errorf("pgserver: stop server on port %d: %s (%v)\n%s", s.port, escalated, s.waitErr, s.output.Tail())
	case s.waitErr != nil:
		return fmt.Errorf("pgserver: stop server on port %d: %w\n%s", s.port, s.waitErr, s.output.Tail())
	}
	return nil
}

// runningPID returns the PID recorded in dataDir's postmaster.pid if that process
// is a live postgres. A stale file (the server crashed or was killed) is left for
// postgres, which replaces it.
func runningPID(dataDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, processAlive(pid)
}

// chownTree gives dir (and, if all, everything below it) to owner; with all false
// it recurses only if dir itself belongs to someone else. A nil owner (the caller
// runs the server as itself) does nothing.
func chownTree(dir string, owner *osUser, all bool) error {
	if owner == nil {
		return nil
	}
	if !all && ownedBy(dir, owner) {
		return nil
	}
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, owner.uid, owner.gid)
	})
	if err != nil {
		return fmt.Errorf("pgserver: give data directory to OS user %s: %w", owner.name, err)
	}
	return nil
}

// osUser is the OS user the server runs as when the caller is root.
type osUser struct {
	name     string
	uid, gid int
}

// hint adds to an error a reminder of which user the server runs as, since the
// usual failure is a directory that user cannot reach.
func (u *osUser) hint() string {
	if u == nil {
		return ""
	}
	return fmt.Sprintf(" (running as OS user %s, uid %d: every parent directory of the data directory must be searchable by it)", u.name, u.uid)
}
