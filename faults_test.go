package tenancy_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/pgserver"
)

// These tests run the load of isolation_test.go while something breaks: backends
// are killed, the server restarts, statements hit statement_timeout. Requests may
// fail; none may return another tenant's data or run in another schema, and once
// the fault is over the pool must serve every tenant again by itself.

// faultWeights is the load's mix with more cancellations than usual: the fault
// tests run fewer operations, and a cancel racing a fault is a case worth having.
func faultWeights() [numOps]int {
	w := defaultWeights
	w[opCancel], w[opTxCancel] = 5, 5
	return w
}

// anyDBError tolerates every error the database returns (the load never tolerates
// errors of this package or its own findings).
func anyDBError(error) bool { return true }

// recoverRound runs rounds of checked reads for every tenant until one round has no
// error, and fails t unless that happens within maxFailures failed operations: a
// connection that died while idle in the pool may fail the one operation that finds
// it dead, and no more.
func (r *loadRun) recoverRound(t testing.TB, maxFailures int) {
	t.Helper()
	failures := 0
	for {
		errs, first := r.round()
		if errs == 0 {
			t.Logf("recovered: a full round of checked reads for all %d tenants succeeded after %d failed operations",
				len(r.tenants), failures)
			return
		}
		failures += errs
		if failures > maxFailures {
			t.Fatalf("the pool did not recover: %d failed operations after the fault (at most %d allowed), first: %v",
				failures, maxFailures, first)
		}
	}
}

// TestFaultBackendsKilled kills random server backends of the pool
// (pg_terminate_backend from an admin connection) while 32 goroutines run the
// mixed load for 20 tenants over 12 connections.
func TestFaultBackendsKilled(t *testing.T) {
	t.Parallel()
	const tenants, workers, pool, perWorker = 20, 32, 12, 250
	for _, fv := range faultVariants() {
		mode := fv.mode
		t.Run(fv.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ts := loadSchemas(t, e, tenants)
			// The application_name tells the pool's backends from the admin's.
			db := openCountedDriver(t, fv.driver, e.dsn+"&application_name=tenancy_load", e.rt, tenancy.WithMode(mode))
			db.Pool().SetMaxOpenConns(pool)
			db.Pool().SetMaxIdleConns(pool)

			tick := make(chan struct{}, 1)
			r := newLoad(t, db, ts, loadConfig{
				workers: workers, weights: faultWeights(), tolerate: anyDBError,
				onOp: func(n int64, _ bool) {
					if n%50 == 0 {
						select {
						case tick <- struct{}{}:
						default:
						}
					}
				},
			})

			// The killer terminates one backend every 50 operations.
			var killed atomic.Int64
			done, killerDone := make(chan struct{}), make(chan error, 1)
			go func() {
				for {
					select {
					case <-done:
						killerDone <- nil
						return
					case <-tick:
					}
					var n int64
					err := e.admin.QueryRow(`SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM (
						SELECT pid FROM pg_stat_activity
						WHERE datname = current_database() AND application_name = 'tenancy_load'
						ORDER BY random() LIMIT 1) victims`).Scan(&n)
					if err != nil {
						killerDone <- err
						return
					}
					killed.Add(n)
				}
			}()
			start := time.Now()
			r.run(perWorker, nil)
			close(done)
			if err := <-killerDone; err != nil {
				t.Fatalf("killer: %v", err)
			}
			r.summary(t, time.Since(start))
			t.Logf("%d backends killed", killed.Load())

			if killed.Load() < 10 {
				t.Errorf("only %d backends were killed; the test needs at least 10", killed.Load())
			}
			if r.tolerated.Load() == 0 {
				t.Error("no operation failed: the kills did not hit the load")
			}
			r.verify(t, e.admin)
			r.recoverRound(t, pool)
		})
	}
}

// gate parks workers while the server is down: a signal, not a sleep.
type gate struct {
	mu sync.Mutex
	ch chan struct{} // nil when open
}

func (g *gate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		g.ch = make(chan struct{})
	}
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
	}
}

func (g *gate) wait() {
	g.mu.Lock()
	ch := g.ch
	g.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// startServer starts a PostgreSQL server of the test's own on dataDir (a cluster
// that survives Stop) and port (0 picks one).
func startServer(dataDir string, port int) (*pgserver.Server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return pgserver.Start(ctx, pgserver.Config{DataDir: dataDir, Port: port})
}

// envOn makes an env on database dbname of srv, as newEnv does on the shared test
// server: the shared schema with its registry table, an admin pool, and (with
// opts) a counted tenancy.DB.
func envOn(t *testing.T, srv *pgserver.Server, dbname, driverName string, opts ...tenancy.Option) *env {
	t.Helper()
	root, err := sql.Open("postgres", srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, root, `CREATE DATABASE `+dbname)
	root.Close()
	return envAtDriver(t, srv.URL(dbname), driverName, opts...)
}

// TestFaultServerRestart stops the server (fast shutdown: every connection is
// closed) while 16 goroutines run the load, starts it again on the same data
// directory and port, and requires the same DB to serve every tenant correctly
// again, without being reopened.
func TestFaultServerRestart(t *testing.T) {
	t.Parallel()
	// The cluster outlives Stop, so it lives in a directory of the test's own;
	// when root, the server runs as postgres, which must be able to reach it.
	dir, err := os.MkdirTemp("", "tenancy-restart-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")
	srv, err := startServer(dataDir, 0)
	if err != nil {
		if testing.Short() && errors.Is(err, pgserver.ErrNotFound) {
			t.Skipf("skipped in -short mode: %v", err)
		}
		t.Fatalf("start server: %v", err)
	}
	port := srv.Port()
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop server: %v", err)
		}
	})

	const tenants, workers, pool, warmOps, afterOps = 10, 16, 8, 1000, 1000
	for _, fv := range faultVariants() {
		mode := fv.mode
		t.Run(fv.name, func(t *testing.T) {
			e := envOn(t, srv, "restart_"+fv.driver+"_"+mode.String(), fv.driver, tenancy.WithMode(mode))
			e.db.Pool().SetMaxOpenConns(pool)
			e.db.Pool().SetMaxIdleConns(pool)
			ts := loadSchemas(t, e, tenants)

			var (
				g                    gate
				restarted            atomic.Bool
				okAfter              atomic.Int64
				warm, recovered      = make(chan struct{}), make(chan struct{})
				warmOnce, recoveOnce sync.Once
			)
			r := newLoad(t, e.db, ts, loadConfig{
				workers: workers, weights: faultWeights(), tolerate: anyDBError,
				onOp: func(n int64, ok bool) {
					if n >= warmOps {
						warmOnce.Do(func() { close(warm) })
					}
					if ok && restarted.Load() && okAfter.Add(1) >= afterOps {
						recoveOnce.Do(func() { close(recovered) })
					}
				},
				onError: g.wait,
			})
			stop, stopped := make(chan struct{}), make(chan struct{})
			start := time.Now()
			go func() {
				defer close(stopped)
				r.run(0, stop)
			}()
			// abort stops the workers before failing the test.
			abort := func(format string, args ...any) {
				t.Helper()
				g.open()
				close(stop)
				<-stopped
				t.Fatalf(format, args...)
			}
			// Bound the waits, so that a pool that never recovers fails the test
			// instead of hanging it.
			await := func(ch <-chan struct{}, what string) {
				t.Helper()
				select {
				case <-ch:
				case <-time.After(3 * time.Minute):
					abort("timed out waiting for %s", what)
				}
			}
			await(warm, "the load to warm up")

			g.shut()
			okBefore := r.okOps.Load()
			if err := srv.Stop(); err != nil {
				abort("stop: %v", err)
			}
			var err error
			if srv, err = startServer(dataDir, port); err != nil {
				abort("start again on port %d: %v", port, err)
			}
			restarted.Store(true)
			g.open()
			await(recovered, fmt.Sprintf("%d successful operations after the restart", afterOps))
			close(stop)
			<-stopped
			r.summary(t, time.Since(start))

			if r.tolerated.Load() == 0 {
				t.Error("no operation failed: the restart did not hit the load")
			}
			if okBefore < warmOps/2 {
				t.Errorf("only %d operations succeeded before the restart", okBefore)
			}
			r.verify(t, e.admin)
			r.recoverRound(t, 0) // every connection was replaced by now: no failure allowed
		})
	}
}

// TestFaultStatementTimeout runs the load with statement_timeout set for every
// connection (a run-time parameter of the connection string) and with SET LOCAL
// statement_timeout inside transactions, plus statements that exceed them. Only
// statement timeouts are tolerated.
func TestFaultStatementTimeout(t *testing.T) {
	t.Parallel()
	const tenants, workers, pool, perWorker = 20, 32, 12, 150
	for _, fv := range faultVariants() {
		mode := fv.mode
		t.Run(fv.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ts := loadSchemas(t, e, tenants)
			db := openCountedDriver(t, fv.driver, e.dsn+"&statement_timeout=300", e.rt, tenancy.WithMode(mode))
			db.Pool().SetMaxOpenConns(pool)
			db.Pool().SetMaxIdleConns(pool)
			w := faultWeights()
			w[opSlow], w[opTxSlow] = 20, 15
			r := newLoad(t, db, ts, loadConfig{workers: workers, weights: w, tolerate: isStatementTimeout})
			start := time.Now()
			r.run(perWorker, nil)
			r.summary(t, time.Since(start))

			slow := r.perOp[opSlow].Load() + r.perOp[opTxSlow].Load()
			if n := r.timeouts.Load(); n < slow {
				t.Errorf("%d statements hit statement_timeout, want at least the %d slow ones", n, slow)
			}
			r.verify(t, e.admin)
			r.recoverRound(t, 0)
		})
	}
}

// faultVariant is one mode over one driver.
type faultVariant struct {
	name, driver string
	mode         tenancy.Mode
}

func faultVariants() []faultVariant {
	var vs []faultVariant
	for _, d := range loadDrivers {
		for _, m := range []tenancy.Mode{tenancy.SessionMode, tenancy.TransactionMode} {
			vs = append(vs, faultVariant{d + "/" + m.String(), d, m})
		}
	}
	return vs
}
