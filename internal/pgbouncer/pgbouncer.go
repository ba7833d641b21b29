// Package pgbouncer starts a PgBouncer in front of a PostgreSQL server, for tests:
// the locally installed pgbouncer binary (Debian/Ubuntu: apt-get install -y
// pgbouncer), in transaction pooling mode unless told otherwise, on a free port of
// 127.0.0.1, with a configuration of its own in a temporary directory.
//
// The bouncer accepts every client without a password (auth_type = trust, with the
// upstream user as the only known user), has no Unix-domain socket, and passes any
// database name through to the server (a "*" fallback database entry). Server
// connections are made as the upstream URL's user, with its password if it has one.
//
// PgBouncer refuses to run as root. When the caller is root, Start runs it as the OS
// user "postgres" (as internal/pgserver runs PostgreSQL), which must exist, as it
// does wherever a distribution package of PostgreSQL is installed.
package pgbouncer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/lib/pq" // the "postgres" driver, for the admin console

	"github.com/go-tenancy/tenancy/internal/proc"
)

// Defaults of [Config].
const (
	DefaultPoolMode      = "transaction"
	DefaultPoolSize      = 4
	DefaultMaxClientConn = 500
)

const (
	// startAttempts bounds how often Start retries with another free port when the
	// one it picked was taken before pgbouncer bound it.
	startAttempts = 5
	// stopTimeout is how long Stop waits for pgbouncer to exit after SIGTERM before
	// it kills the process.
	stopTimeout = 10 * time.Second
	// waitDelay bounds how long waiting for an exited process also waits for its
	// output pipe to close.
	waitDelay = 5 * time.Second
	// adminDB is the name of PgBouncer's admin console database.
	adminDB = "pgbouncer"
)

// ErrNotFound is returned (wrapped) by [FindBinary] and [Start] when no pgbouncer
// binary is installed. Its message says how to install one.
var ErrNotFound = errors.New("pgbouncer binary not found on PATH or at /usr/sbin/pgbouncer; " +
	"install it (Debian/Ubuntu: apt-get install -y pgbouncer; Fedora/RHEL: dnf install -y pgbouncer; " +
	"macOS: brew install pgbouncer)")

// errPortInUse marks a start attempt that failed because the port was taken.
var errPortInUse = errors.New("port already in use")

// Config configures [Start].
type Config struct {
	// Upstream is a lib/pq URL of the PostgreSQL server, such as
	// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. Its host, port,
	// user, password and sslmode (disable, allow, prefer or require; default
	// prefer) are used; its database name is not, since clients name theirs.
	// Required.
	Upstream string

	// PoolMode is pool_mode: "transaction" (the default, [DefaultPoolMode]),
	// "session" or "statement".
	PoolMode string

	// PoolSize is default_pool_size: how many server connections PgBouncer opens
	// at most per database and user (default [DefaultPoolSize], 4).
	PoolSize int

	// MaxClientConn is max_client_conn (default [DefaultMaxClientConn]).
	MaxClientConn int

	// Binary is the pgbouncer executable. "" (the default) uses [FindBinary].
	Binary string

	// Logf, if not nil, receives each line pgbouncer prints. It is called from
	// another goroutine until Stop returns, so it must be safe for concurrent use.
	// The tail of the output is kept for error messages either way.
	Logf func(format string, args ...any)
}

// Bouncer is a running pgbouncer started by [Start]. Its methods are safe for
// concurrent use.
type Bouncer struct {
	port int
	user string // the upstream user, which clients log in as
	dir  string // the temporary directory with the configuration
	conf string // the configuration file

	cmd     *exec.Cmd
	output  *proc.TailWriter
	exited  chan struct{} // closed when cmd.Wait has returned
	waitErr error         // read only after exited is closed

	stopOnce sync.Once
	stopErr  error
}

// FindBinary returns the path of the pgbouncer executable: the one on PATH, else
// /usr/sbin/pgbouncer (where Debian installs it, often not on a user's PATH). If
// there is none it returns an error wrapping [ErrNotFound].
func FindBinary() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer", "/usr/local/bin/pgbouncer"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("pgbouncer: %w", ErrNotFound)
}

// upstream is what Start takes from Config.Upstream.
type upstream struct {
	host, port, user, password, sslmode string
}

func parseUpstream(raw string) (upstream, error) {
	if raw == "" {
		return upstream{}, errors.New("pgbouncer: Config.Upstream is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		// url.Parse's error would repeat the URL, password included.
		return upstream{}, errors.New("pgbouncer: Config.Upstream must be a postgres://user@host:port/db URL")
	}
	up := upstream{host: u.Hostname(), port: u.Port(), user: u.User.Username(), sslmode: u.Query().Get("sslmode")}
	up.password, _ = u.User.Password()
	if up.port == "" {
		up.port = "5432"
	}
	if up.user == "" {
		return upstream{}, errors.New("pgbouncer: Config.Upstream must name a user")
	}
	switch up.sslmode {
	case "":
		up.sslmode = "prefer"
	case "disable", "allow", "prefer", "require":
	default:
		return upstream{}, fmt.Errorf("pgbouncer: Config.Upstream: sslmode %q is not supported (use disable, allow, prefer or require)", up.sslmode)
	}
	for _, s := range []string{up.host, up.port, up.user, up.password} {
		// Keep the generated configuration well-formed.
		if strings.ContainsAny(s, "'\"\\\n\r\x00") {
			return upstream{}, errors.New("pgbouncer: Config.Upstream: quotes, backslashes and newlines are not supported in host, port, user or password")
		}
	}
	return up, nil
}

// Start writes a configuration to a new temporary directory, starts pgbouncer and
// returns once its admin console answers on the chosen port with this instance's
// configuration. ctx bounds only the startup; the bouncer runs until [Bouncer.Stop].
// pgbouncer connects to the upstream server lazily, when clients arrive, so Start
// succeeds even if the server is down.
//
// On Linux pgbouncer is sent SIGTERM if the calling process dies without calling
// Stop, so it is not orphaned.
//
// Errors: [ErrNotFound] (wrapped) when no binary is found; otherwise the error
// names the step that failed and includes the tail of pgbouncer's output.
func Start(ctx context.Context, cfg Config) (_ *Bouncer, err error) {
	up, err := parseUpstream(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	if cfg.PoolMode == "" {
		cfg.PoolMode = DefaultPoolMode
	}
	switch cfg.PoolMode {
	case "transaction", "session", "statement":
	default:
		return nil, fmt.Errorf("pgbouncer: Config.PoolMode %q is not one of transaction, session, statement", cfg.PoolMode)
	}
	if cfg.PoolSize == 0 {
		cfg.PoolSize = DefaultPoolSize
	}
	if cfg.MaxClientConn == 0 {
		cfg.MaxClientConn = DefaultMaxClientConn
	}
	if cfg.PoolSize < 0 || cfg.MaxClientConn < 0 {
		return nil, errors.New("pgbouncer: Config.PoolSize and Config.MaxClientConn must not be negative")
	}
	bin := cfg.Binary
	if bin == "" {
		if bin, err = FindBinary(); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("pgbouncer: Config.Binary: %w (%v)", ErrNotFound, err)
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	owner, err := runUser()
	if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "tenancy-pgbouncer-")
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: create temporary directory: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	// pgbouncer reads its files, and writes nothing, as owner.
	auth := filepath.Join(dir, "userlist.txt")
	if err := os.WriteFile(auth, []byte(fmt.Sprintf("%q %q\n", up.user, up.password)), 0o600); err != nil {
		return nil, fmt.Errorf("pgbouncer: write auth file: %w", err)
	}
	if err := chown(owner, dir, auth); err != nil {
		return nil, err
	}

	for attempt := 1; ; attempt++ {
		port, err := proc.FreePort()
		if err != nil {
			return nil, fmt.Errorf("pgbouncer: pick a free port: %w", err)
		}
		conf := filepath.Join(dir, "pgbouncer.ini")
		if err := os.WriteFile(conf, []byte(configText(cfg, up, port, auth)), 0o600); err != nil {
			return nil, fmt.Errorf("pgbouncer: write configuration: %w", err)
		}
		if err := chown(owner, conf); err != nil {
			return nil, err
		}
		b, err := launch(ctx, bin, conf, dir, port, up.user, owner, logf)
		if err == nil {
			return b, nil
		}
		if attempt == startAttempts || !errors.Is(err, errPortInUse) {
			return nil, err
		}
		logf("pgbouncer: port %d was taken before pgbouncer bound it; retrying with another port", port)
	}
}

// configText returns the pgbouncer.ini for one instance.
func configText(cfg Config, up upstream, port int, authFile string) string {
	var b strings.Builder
	b.WriteString("[databases]\n")
	// The fallback entry: any database name a client asks for is opened on the
	// upstream server under the same name.
	fmt.Fprintf(&b, "* = host=%s port=%s user=%s", up.host, up.port, up.user)
	if up.password != "" {
		fmt.Fprintf(&b, " password=%s", up.password)
	}
	b.WriteString("\n\n[pgbouncer]\n")
	for _, kv := range [][2]string{
		{"listen_addr", "127.0.0.1"},
		{"listen_port", strconv.Itoa(port)},
		{"unix_socket_dir", ""}, // no Unix-domain socket
		{"auth_type", "trust"},
		{"auth_file", authFile},
		{"admin_users", up.user},
		{"stats_users", up.user},
		{"pool_mode", cfg.PoolMode},
		{"default_pool_size", strconv.Itoa(cfg.PoolSize)},
		{"min_pool_size", "0"},
		{"reserve_pool_size", "0"},
		{"max_client_conn", strconv.Itoa(cfg.MaxClientConn)},
		{"server_tls_sslmode", up.sslmode},
		// lib/pq sends none of these, other drivers (pgx) do.
		{"ignore_startup_parameters", "extra_float_digits"},
		{"logfile", ""}, // log to stderr, which Start captures
		{"pidfile", ""},
		{"log_connections", "0"},
		{"log_disconnections", "0"},
		{"log_stats", "0"},
		{"server_login_retry", "1"},
	} {
		fmt.Fprintf(&b, "%s = %s\n", kv[0], kv[1])
	}
	return b.String()
}

// launch starts pgbouncer with conf and waits until it answers on port.
func launch(ctx context.Context, bin, conf, dir string, port int, user string, owner *osUser, logf func(string, ...any)) (*Bouncer, error) {
	b := &Bouncer{
		port:   port,
		user:   user,
		dir:    dir,
		conf:   conf,
		output: proc.NewTailWriter("pgbouncer", logf),
		exited: make(chan struct{}),
	}
	b.cmd = exec.Command(bin, conf)
	b.cmd.Stdout, b.cmd.Stderr = b.output, b.output
	b.cmd.Dir = dir
	b.cmd.SysProcAttr = sysProcAttr(owner)
	b.cmd.WaitDelay = waitDelay
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgbouncer: start %s: %w%s", bin, err, owner.hint())
	}
	go func() {
		b.waitErr = b.cmd.Wait()
		close(b.exited)
	}()
	if err := b.waitReady(ctx); err != nil {
		b.kill()
		tail := b.output.Tail()
		if errors.Is(err, errPortInUse) || strings.Contains(tail, "Address already in use") {
			return nil, fmt.Errorf("pgbouncer: listen on 127.0.0.1:%d: %w\n%s", port, errPortInUse, tail)
		}
		return nil, fmt.Errorf("pgbouncer: start on 127.0.0.1:%d: %w%s\n%s", port, err, owner.hint(), tail)
	}
	return b, nil
}

// waitReady polls the admin console until it answers and proves to be this
// instance (its conffile is ours), the process exits, or ctx is done.
func (b *Bouncer) waitReady(ctx context.Context) error {
	delay := 5 * time.Millisecond
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		rows, err := b.Show(attempt, "CONFIG")
		cancel()
		if err == nil {
			for _, r := range rows {
				if r["key"] == "conffile" {
					if r["value"] == b.conf {
						return nil
					}
					return fmt.Errorf("%w: a pgbouncer with configuration %s answered", errPortInUse, r["value"])
				}
			}
			return errors.New("SHOW CONFIG has no conffile row")
		}
		select {
		case <-b.exited:
			return fmt.Errorf("pgbouncer exited during startup (%v)", b.waitErr)
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

// URL returns a lib/pq URL for database dbname through the bouncer, as the
// upstream user, for example
// postgres://postgres@127.0.0.1:6432/dbname?sslmode=disable.
func (b *Bouncer) URL(dbname string) string {
	u := url.URL{
		Scheme: "postgres",
		User:   url.User(b.user),
		Host:   net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)),
		Path:   "/" + dbname,
		// connect_timeout bounds connection setup, which lib/pq does not bound
		// by the context.
		RawQuery: "sslmode=disable&connect_timeout=10",
	}
	return u.String()
}

// Port returns the TCP port the bouncer listens on at 127.0.0.1.
func (b *Bouncer) Port() int { return b.port }

// Done returns a channel that is closed when the pgbouncer process has exited.
func (b *Bouncer) Done() <-chan struct{} { return b.exited }

// Show runs SHOW what (for example "POOLS", "SERVERS", "CLIENTS", "CONFIG") on the
// admin console and returns its rows, each a map from column name to value (NULL
// as ""). It opens and closes a connection of its own.
func (b *Bouncer) Show(ctx context.Context, what string) ([]map[string]string, error) {
	if !isWord(what) {
		return nil, fmt.Errorf("pgbouncer: Show: %q is not a SHOW subject", what)
	}
	var out []map[string]string
	err := b.console(ctx, func(c *sql.Conn) error {
		// No arguments: lib/pq uses the simple query protocol, the only one the
		// console speaks.
		rows, err := c.QueryContext(ctx, "SHOW "+what)
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			row := make(map[string]string, len(cols))
			for i, c := range cols {
				row[c] = vals[i].String
			}
			out = append(out, row)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: SHOW %s: %w", what, err)
	}
	return out, nil
}

// Command runs an admin console command that returns no rows, such as
// "RECONNECT", "PAUSE", "RESUME" or "KILL db".
func (b *Bouncer) Command(ctx context.Context, command string) error {
	for _, w := range strings.Fields(command) {
		if !isWord(w) {
			return fmt.Errorf("pgbouncer: Command: %q is not a console command", command)
		}
	}
	err := b.console(ctx, func(c *sql.Conn) error {
		_, err := c.ExecContext(ctx, command)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgbouncer: %s: %w", command, err)
	}
	return nil
}

func (b *Bouncer) console(ctx context.Context, fn func(*sql.Conn) error) error {
	db, err := sql.Open("postgres", b.URL(adminDB))
	if err != nil {
		return err
	}
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}

// isWord reports whether s is a non-empty run of ASCII letters, digits and '_'.
func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Stop shuts pgbouncer down (SIGTERM, its immediate shutdown, which closes every
// client and server connection; SIGKILL after 10s), waits for it to exit and
// removes its temporary directory. It returns an error if pgbouncer had exited
// before Stop (the error holds the tail of its output) or the directory could not
// be removed. Stop is safe to call more than once and concurrently; later calls
// return the first one's result.
func (b *Bouncer) Stop() error {
	b.stopOnce.Do(func() { b.stopErr = b.stop() })
	return b.stopErr
}

func (b *Bouncer) stop() error {
	var errs []error
	select {
	case <-b.exited:
		errs = append(errs, fmt.Errorf("pgbouncer: on port %d had exited before Stop (%v)\n%s",
			b.port, b.waitErr, b.output.Tail()))
	default:
		_ = b.cmd.Process.Signal(terminate)
		timer := time.NewTimer(stopTimeout)
		select {
		case <-b.exited:
		case <-timer.C:
			_ = b.cmd.Process.Kill()
			<-b.exited
			errs = append(errs, fmt.Errorf("pgbouncer: on port %d killed after SIGTERM timed out\n%s", b.port, b.output.Tail()))
		}
		timer.Stop()
	}
	if err := os.RemoveAll(b.dir); err != nil {
		errs = append(errs, fmt.Errorf("pgbouncer: remove temporary directory: %w", err))
	}
	return errors.Join(errs...)
}

// kill ends a pgbouncer that failed to start and waits for it.
func (b *Bouncer) kill() {
	_ = b.cmd.Process.Kill()
	<-b.exited
}

// osUser is the OS user pgbouncer runs as when the caller is root.
type osUser struct {
	name     string
	uid, gid int
}

// hint adds to an error a reminder of which user pgbouncer runs as.
func (u *osUser) hint() string {
	if u == nil {
		return ""
	}
	return fmt.Sprintf(" (running as OS user %s, uid %d: the temporary directory's parents must be searchable by it)", u.name, u.uid)
}

// chown gives paths to owner; a nil owner does nothing.
func chown(owner *osUser, paths ...string) error {
	if owner == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, owner.uid, owner.gid); err != nil {
			return fmt.Errorf("pgbouncer: give %s to OS user %s: %w", p, owner.name, err)
		}
	}
	return nil
}
