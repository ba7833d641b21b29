package tenancytest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy/internal/atexit"
	"github.com/go-tenancy/tenancy/internal/pgserver"
)

// EnvDatabaseURL names the environment variable that points the tests at a running
// PostgreSQL server (13 or later) instead of a throwaway one. Its value is a lib/pq
// URL, such as postgres://user:password@localhost:5432/postgres?sslmode=disable, of
// a database that the user may connect to; the user needs the CREATEDB privilege
// (or must own the databases it drops, which [NewDatabase] ensures).
const EnvDatabaseURL = "TENANCY_TEST_DATABASE_URL"

const (
	// startTimeout bounds starting the shared server (initdb and startup), or
	// connecting to the one EnvDatabaseURL names.
	startTimeout = 2 * time.Minute
	// ddlTimeout bounds one CREATE DATABASE or DROP DATABASE.
	ddlTimeout = time.Minute
)

// shared is the test binary's one server. It is process state, not configuration:
// it is started on first use and stopped by Main.
var shared sharedServer

// dbCounter numbers the databases this test binary creates, so that their names
// show the order of creation.
var dbCounter atomic.Uint64

// Main runs the tests and then stops the server that [NewDatabase] started, if it
// did, and exits with the tests' status. Use it as the whole TestMain of every
// package whose tests call NewDatabase:
//
//	func TestMain(m *testing.M) { tenancytest.Main(m) }
//
// Main also stops the other shared servers that internal test helpers started (a
// Citus cluster, for example), which register themselves with internal/atexit.
//
// If stopping the server fails (it crashed during the tests, or its temporary
// directory could not be removed), Main prints why and exits with status 1 even if
// the tests passed.
//
// Without Main the server lives until the test binary exits; on Linux it is then
// shut down by a parent-death signal, but its temporary data directory is left
// behind.
func Main(m *testing.M) {
	code := m.Run()
	// Other shared test servers (internal/citustest's cluster) registered their
	// stop functions when they started.
	if err := errors.Join(shared.stop(), atexit.Run()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// NewDatabase creates an empty database for the test and returns its lib/pq
// connection URL, such as
// postgres://postgres@127.0.0.1:41234/tenancy_test_7_1a2b3c4d5e6f?sslmode=disable.
// The database is dropped in t.Cleanup, WITH (FORCE), so connections the test left
// open do not block the drop (they are terminated); close pools before that in
// cleanups registered after NewDatabase, as those run first.
//
// The databases live on one server per test binary: the server [EnvDatabaseURL]
// names, or else a throwaway one that NewDatabase starts on first use (about a
// second or two: initdb, then startup) and [Main] stops. Each database gets a
// unique name, so tests that use NewDatabase may run in parallel; NewDatabase is
// safe for concurrent use.
//
// If no server can be had, NewDatabase fails the test with t.Fatalf and a message
// that says how to install PostgreSQL or set EnvDatabaseURL; every later call in
// the same test binary fails with the same error at once. Only under -short, and
// only when PostgreSQL is not installed, it skips the test instead. It must be
// called from the goroutine running the test.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin, base, suffix, err := shared.get()
	if err != nil {
		if testing.Short() && errors.Is(err, pgserver.ErrNotFound) {
			t.Skipf("skipped in -short mode: %v", err)
		}
		t.Fatalf("%v", err)
	}

	name, err := newDatabaseName()
	if err != nil {
		t.Fatalf("tenancytest: %v", err)
	}
	quoted := pq.QuoteIdentifier(name)
	ctx, cancel := context.WithTimeout(context.Background(), ddlTimeout)
	defer cancel()
	// template0 is never connected to (datallowconn is false), so, unlike the
	// default template1, a session left in it cannot make CREATE DATABASE fail.
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+quoted+" TEMPLATE template0"+suffix); err != nil {
		t.Fatalf("tenancytest: create database %s on %s: %v", name, base.Redacted(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ddlTimeout)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoted+" WITH (FORCE)"); err != nil {
			t.Errorf("tenancytest: drop database %s: %v", name, err)
		}
	})

	u := *base
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

// newDatabaseName returns a name that no other test, of this or another test
// binary sharing the server, uses: a per-binary counter and a random suffix.
func newDatabaseName() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random database name: %w", err)
	}
	return fmt.Sprintf("tenancy_test_%d_%s", dbCounter.Add(1), hex.EncodeToString(b[:])), nil
}

// sharedServer is the server NewDatabase creates databases on. Its methods are
// safe for concurrent use.
type sharedServer struct {
	mu      sync.Mutex
	started bool  // start has been attempted; err holds its result
	stopped bool  // Main has stopped it
	err     error // why the server is unusable
	srv     *pgserver.Server
	admin   *sql.DB  // connected to base
	base    *url.URL // the server's admin URL; databases swap its path
	// createSuffix ends each CREATE DATABASE: " STRATEGY FILE_COPY" on the test
	// server if it is PostgreSQL 15 or later. Copying the small template's files
	// and checkpointing, with fsync off, takes about half as long there (median
	// 11ms against 21ms) as the default WAL_LOG strategy, which writes the whole
	// template to the WAL. On a server whose checkpoints are costly WAL_LOG is
	// the better choice, so EnvDatabaseURL's server keeps the default.
	createSuffix string
}

// get returns the admin pool and URL and the CREATE DATABASE suffix, starting the
// server on first use. A failed start is remembered: initdb is not retried for
// every test.
func (s *sharedServer) get() (*sql.DB, *url.URL, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, nil, "", errors.New("tenancytest: NewDatabase called after Main stopped the server")
	}
	if !s.started {
		s.started = true
		s.err = s.start()
	}
	return s.admin, s.base, s.createSuffix, s.err
}

// start connects to the server EnvDatabaseURL names or starts a throwaway one.
func (s *sharedServer) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	raw := os.Getenv(EnvDatabaseURL)
	from := EnvDatabaseURL
	if raw == "" {
		srv, err := pgserver.Start(ctx, pgserver.Config{})
		if err != nil {
			if errors.Is(err, pgserver.ErrNotFound) {
				return fmt.Errorf("tenancytest: %w", err)
			}
			return fmt.Errorf("tenancytest: start a PostgreSQL server for the tests "+
				"(or set %s to use a running one): %w", EnvDatabaseURL, err)
		}
		s.srv = srv
		raw, from = srv.URL("postgres"), "the test server"
	}

	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// url.Parse's error would repeat the URL, password included.
		return s.fail(fmt.Errorf("tenancytest: %s must be a postgres:// URL, "+
			"such as postgres://user:password@localhost:5432/postgres?sslmode=disable", EnvDatabaseURL))
	}
	admin, err := sql.Open("postgres", raw)
	var version int
	if err == nil {
		err = admin.QueryRowContext(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version)
	}
	if err != nil {
		if admin != nil {
			admin.Close()
		}
		return s.fail(fmt.Errorf("tenancytest: connect to %s (%s): %w", from, u.Redacted(), err))
	}
	s.admin, s.base = admin, u
	if s.srv != nil && version >= 150000 {
		s.createSuffix = " STRATEGY FILE_COPY"
	}
	return nil
}

// fail stops a server start started before returning err.
func (s *sharedServer) fail(err error) error {
	if s.srv != nil {
		err = errors.Join(err, s.srv.Stop())
		s.srv = nil
	}
	return err
}

// stop closes the admin pool and stops the server if this binary started one.
// Later NewDatabase calls fail.
func (s *sharedServer) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	var errs []error
	if s.admin != nil {
		errs = append(errs, s.admin.Close())
		s.admin = nil
	}
	if s.srv != nil {
		errs = append(errs, s.srv.Stop())
		s.srv = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tenancytest: stop the test server: %w", err)
	}
	return nil
}
