// Package citustest gives tests a real Citus cluster: a coordinator and two
// workers, each a throwaway PostgreSQL server (internal/pgserver) that preloads the
// locally installed Citus extension. One cluster is started per test binary, on
// first use; every test gets databases of its own on it.
//
// Citus is AGPL-licensed. It is only run here as a separate server process that
// the tests reach over the network; none of its code is part of this module.
//
// Stop the cluster after the tests with [Stop], or use tenancytest.Main as the
// TestMain, which calls it.
package citustest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy/internal/atexit"
	"github.com/go-tenancy/tenancy/internal/pgserver"
)

// ErrNotInstalled means the Citus extension is not installed for the PostgreSQL
// server that pgserver.FindBinDir finds. [Available] returns it wrapped with
// details and the way to install Citus.
var ErrNotInstalled = errors.New("citustest: Citus is not installed")

// Node is a node of the cluster, as Citus's functions (citus_schema_move,
// citus_add_node) name it: host and port.
type Node struct {
	Host string
	Port int
}

const (
	// host is where every node listens, and how the nodes name one another.
	host = "127.0.0.1"
	// workerCount is the number of worker nodes.
	workerCount = 2
	// startTimeout bounds starting the whole cluster (initdb and startup of
	// every node).
	startTimeout = 2 * time.Minute
	// setupTimeout bounds creating (or dropping) one database on every node.
	setupTimeout = time.Minute
	// addNodeAttempts bounds how often citus_add_node is tried when it fails with
	// the transient "connection marked as essential" error.
	addNodeAttempts = 5
)

// settings are the server parameters every node runs with.
var settings = map[string]string{
	"shared_preload_libraries": "citus",
	// Lets citus_schema_move (and shard moves) run online, by logical
	// replication.
	"wal_level": "logical",
	// Citus starts a maintenance daemon, a background worker, per database
	// that has the extension, and tests create many databases at once.
	"max_worker_processes": "64",
	// Room for concurrent online moves: each uses replication slots, WAL
	// senders and logical replication workers.
	"max_replication_slots":           "32",
	"max_wal_senders":                 "32",
	"max_logical_replication_workers": "16",
	// The nodes reach one another over loopback; without TLS.
	"citus.node_conninfo": "sslmode=disable",
}

// Available reports whether Citus can be used: it returns nil if the Citus
// extension library (citus.so) is installed for the PostgreSQL server that
// pgserver.FindBinDir finds, in that server's package library directory
// (`pg_config --pkglibdir` of the pg_config beside the real postgres binary, else
// the lib directory next to that binary's directory, such as
// /usr/lib/postgresql/15/lib).
// Otherwise it returns an error that wraps [ErrNotInstalled] (and
// pgserver.ErrNotFound if PostgreSQL itself is missing) and says how to install
// Citus.
func Available() error {
	binDir, err := pgserver.FindBinDir()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotInstalled, err)
	}
	lib := filepath.Join(pkgLibDir(binDir), "citus.so")
	if fi, err := os.Stat(lib); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%w for the PostgreSQL server in %s (no %s); install it as root with "+
			"the Citus kit: sudo /path/to/citus-kit/install.sh (.ci/run does this, finding the kit "+
			"in $CITUS_KIT, ../shared/citus or /work/shared/citus)", ErrNotInstalled, binDir, lib)
	}
	return nil
}

// pkgLibDir returns the directory that holds the extension libraries of the
// server in binDir. binDir may hold only symlinks to the binaries (such as
// /usr/local/bin/postgres -> /usr/lib/postgresql/15/bin/postgres): the directory
// of the real postgres binary counts.
func pkgLibDir(binDir string) string {
	if real, err := filepath.EvalSymlinks(filepath.Join(binDir, "postgres")); err == nil {
		binDir = filepath.Dir(real)
	}
	if out, err := exec.Command(filepath.Join(binDir, "pg_config"), "--pkglibdir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); dir != "" {
			return dir
		}
	}
	return filepath.Join(filepath.Dir(binDir), "lib")
}

// NewDatabase creates a fresh database for the test on every node of the cluster,
// starting the cluster on first use, and returns the lib/pq URL of the database on
// the coordinator, such as
// postgres://postgres@127.0.0.1:41234/citus_test_3_1a2b3c4d5e6f?sslmode=disable.
//
// Each node's database has the citus extension. On the coordinator's, the
// coordinator and both workers are registered (citus_set_coordinator_host,
// citus_add_node), and citus.enable_schema_based_sharding is on for the database
// (ALTER DATABASE ... SET), so every schema created in a new session becomes a
// distributed schema, placed on one of the workers. The databases are dropped on
// every node in t.Cleanup, WITH (FORCE): close pools in cleanups registered after
// NewDatabase, which run first.
//
// Databases are set up one at a time (Citus's node registration is not reliable
// when run concurrently), so NewDatabase is safe for concurrent use and tests that
// call it may run in parallel.
//
// If Citus is not installed ([Available] fails), NewDatabase fails the test if
// the environment variable CI is set to anything but "", and skips it otherwise.
// Any other failure fails the test. It must be called from the goroutine running
// the test.
func NewDatabase(t testing.TB) string {
	t.Helper()
	c := get(t)
	name, err := newDatabaseName()
	if err != nil {
		t.Fatalf("citustest: %v", err)
	}
	// Registered first, so that a database created on some nodes before a
	// failure is dropped too.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := c.dropDatabase(ctx, name); err != nil {
			t.Errorf("%v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := c.createDatabase(ctx, name); err != nil {
		t.Fatalf("%v", err)
	}
	return c.coordinator.srv.URL(name)
}

// Workers returns the cluster's worker nodes ordered by port, starting the
// cluster on first use like [NewDatabase] (and failing or skipping the test the
// same way if it cannot).
func Workers(t testing.TB) []Node {
	t.Helper()
	c := get(t)
	nodes := make([]Node, len(c.workers))
	for i, w := range c.workers {
		nodes[i] = Node{Host: host, Port: w.srv.Port()}
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Port < nodes[j].Port })
	return nodes
}

// Stop stops the cluster if this test binary started one, and removes its data
// directories. It is safe to call more than once and concurrently; calls after
// the first return nil. [NewDatabase] and [Workers] fail after Stop.
func Stop() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.stopped = true
	c := shared.c
	shared.c = nil
	if c == nil {
		return nil
	}
	return c.stop()
}

// shared is the test binary's one cluster, started on first use.
var shared struct {
	mu      sync.Mutex
	started bool // a start has been attempted; err holds its result
	stopped bool // Stop was called
	err     error
	c       *cluster
}

// startDuration is how long starting the cluster took, for the tests to report.
var startDuration time.Duration

// dbCounter numbers the databases this test binary creates.
var dbCounter atomic.Uint64

// get returns the cluster, starting it on first use, or ends the test: a skip if
// Citus is not installed and CI is unset, else a failure.
func get(t testing.TB) *cluster {
	t.Helper()
	if err := available(); err != nil {
		notInstalled(t, err)
		return nil // not reached with a real testing.TB
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.stopped {
		t.Fatalf("citustest: the cluster is used after Stop")
	}
	if !shared.started {
		shared.started = true
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		begin := time.Now()
		shared.c, shared.err = startCluster(ctx)
		startDuration = time.Since(begin)
		cancel()
		if shared.err == nil {
			atexit.Register(Stop)
		}
	}
	if shared.err != nil {
		t.Fatalf("%v", shared.err)
	}
	return shared.c
}

// available is Available's result, found once per test binary.
var available = sync.OnceValue(Available)

// notInstalled ends the test because Citus is not installed (err is why): it fails
// the test under CI (the environment variable CI is set), where the tests must
// run, and skips it, loudly, elsewhere.
func notInstalled(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%v (CI is set, so the Citus tests must run)", err)
		return // not reached with a real testing.TB
	}
	t.Skipf("SKIPPED: Citus not installed: %v; CI runs these tests", err)
}

// newDatabaseName returns a name that no other test, of this or another test
// binary, uses: a per-binary counter and a random suffix.
func newDatabaseName() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random database name: %w", err)
	}
	return fmt.Sprintf("citus_test_%d_%s", dbCounter.Add(1), hex.EncodeToString(b[:])), nil
}

// cluster is a running coordinator and its workers.
type cluster struct {
	// setupMu serialises creating and dropping databases: citus_add_node run
	// concurrently for different databases has failed with XX000 "failure on
	// connection marked as essential".
	setupMu     sync.Mutex
	coordinator *node
	workers     []*node
}

// node is one server of the cluster.
type node struct {
	name  string // "coordinator", "worker 1", ...
	srv   *pgserver.Server
	admin *sql.DB // connected to the database "postgres"
}

// nodes returns the coordinator and then the workers.
func (c *cluster) nodes() []*node {
	return append([]*node{c.coordinator}, c.workers...)
}

// startCluster starts the coordinator and the workers concurrently.
func startCluster(ctx context.Context) (*cluster, error) {
	names := []string{"coordinator"}
	for i := 1; i <= workerCount; i++ {
		names = append(names, fmt.Sprintf("worker %d", i))
	}
	nodes := make([]*node, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = startNode(ctx, name)
		}()
	}
	wg.Wait()
	c := &cluster{}
	for i, n := range nodes {
		if n == nil {
			continue
		}
		if i == 0 {
			c.coordinator = n
		} else {
			c.workers = append(c.workers, n)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(fmt.Errorf("citustest: start the Citus cluster: %w", err), c.stop())
	}
	return c, nil
}

// startNode starts one server with the Citus settings.
func startNode(ctx context.Context, name string) (*node, error) {
	srv, err := pgserver.Start(ctx, pgserver.Config{Settings: settings})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	admin, err := sql.Open("postgres", srv.URL("postgres"))
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%s: connect: %w", name, err), srv.Stop())
	}
	return &node{name: name, srv: srv, admin: admin}, nil
}

// stop stops every node that was started.
func (c *cluster) stop() error {
	var errs []error
	for _, n := range c.nodes() {
		if n == nil {
			continue
		}
		if err := errors.Join(n.admin.Close(), n.srv.Stop()); err != nil {
			errs = append(errs, fmt.Errorf("citustest: stop %s: %w", n.name, err))
		}
	}
	return errors.Join(errs...)
}

// createDatabase creates database name with the citus extension on every node and
// registers the nodes in the coordinator's.
func (c *cluster) createDatabase(ctx context.Context, name string) error {
	c.setupMu.Lock()
	defer c.setupMu.Unlock()
	quoted := pq.QuoteIdentifier(name)
	// Each node's database and extension, on all nodes at once (about 0.5s a
	// node, half of it CREATE EXTENSION); the nodes are registered afterwards,
	// as citus_add_node connects to the worker's database of the same name.
	nodes := c.nodes()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.createDatabase(ctx, name)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	co := c.coordinator
	return co.inDatabase(ctx, name, func(db *sql.Conn) error {
		if _, err := db.ExecContext(ctx, "SELECT citus_set_coordinator_host($1, $2)", host, co.srv.Port()); err != nil {
			return co.errorf(err, "citus_set_coordinator_host in database %s", name)
		}
		for _, w := range c.workers {
			if err := addNode(ctx, db, w.srv.Port()); err != nil {
				return co.errorf(err, "citus_add_node(%s, %d) for %s in database %s", host, w.srv.Port(), w.name, name)
			}
		}
		if _, err := db.ExecContext(ctx, "ALTER DATABASE "+quoted+" SET citus.enable_schema_based_sharding = on"); err != nil {
			return co.errorf(err, "enable schema-based sharding in database %s", name)
		}
		return nil
	})
}

// addNode runs citus_add_node, retrying the transient error Citus reports when a
// connection it needs fails (XX000 "failure on connection marked as essential").
// citus_add_node of a node already added returns its ID, so a retry after a
// failure late in the call is harmless.
func addNode(ctx context.Context, db *sql.Conn, port int) error {
	var err error
	for attempt := 1; ; attempt++ {
		if _, err = db.ExecContext(ctx, "SELECT citus_add_node($1, $2)", host, port); err == nil || !essentialConnFailure(err) {
			return err
		}
		if attempt == addNodeAttempts {
			return fmt.Errorf("%w (tried %d times)", err, addNodeAttempts)
		}
		// A growing pause gives whatever broke the connection time to pass.
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after %d attempts, the last failing with: %w)", ctx.Err(), attempt, err)
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
}

// essentialConnFailure reports whether err is Citus's "failure on connection
// marked as essential" error.
func essentialConnFailure(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "XX000" &&
		strings.Contains(pqErr.Message, "connection marked as essential")
}

// createDatabase creates database name on n and the citus extension in it.
func (n *node) createDatabase(ctx context.Context, name string) error {
	// template0 is never connected to, so no session in it can make CREATE
	// DATABASE fail; FILE_COPY is the faster strategy for a small template.
	if _, err := n.admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)+" TEMPLATE template0 STRATEGY FILE_COPY"); err != nil {
		return n.errorf(err, "create database %s", name)
	}
	return n.inDatabase(ctx, name, func(db *sql.Conn) error {
		if _, err := db.ExecContext(ctx, "CREATE EXTENSION citus"); err != nil {
			return n.errorf(err, "CREATE EXTENSION citus in database %s", name)
		}
		return nil
	})
}

// dropDatabase drops database name on every node, WITH (FORCE), and reports every
// failure: first on the coordinator, whose sessions (its maintenance daemon's
// among them) reach into the workers' databases, then on the workers at once.
func (c *cluster) dropDatabase(ctx context.Context, name string) error {
	c.setupMu.Lock()
	defer c.setupMu.Unlock()
	errs := []error{c.coordinator.dropDatabase(ctx, name)}
	workerErrs := make([]error, len(c.workers))
	var wg sync.WaitGroup
	for i, w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			workerErrs[i] = w.dropDatabase(ctx, name)
		}()
	}
	wg.Wait()
	return errors.Join(append(errs, workerErrs...)...)
}

// dropDatabase drops database name on n if it exists.
func (n *node) dropDatabase(ctx context.Context, name string) error {
	if _, err := n.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
		return n.errorf(err, "drop database %s", name)
	}
	return nil
}

// inDatabase runs f on a connection to database name on n.
func (n *node) inDatabase(ctx context.Context, name string, f func(*sql.Conn) error) error {
	db, err := sql.Open("postgres", n.srv.URL(name))
	if err != nil {
		return n.errorf(err, "connect to database %s", name)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return n.errorf(err, "connect to database %s", name)
	}
	defer conn.Close()
	return f(conn)
}

// errorf returns an error that names the node, says what failed and includes the
// tail of the node's log.
func (n *node) errorf(err error, format string, args ...any) error {
	return fmt.Errorf("citustest: %s (127.0.0.1:%d): %s: %w\n%s",
		n.name, n.srv.Port(), fmt.Sprintf(format, args...), err, n.srv.LogTail())
}
