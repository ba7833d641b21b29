package tenancy_test

import (
	"context"
	"database/sql"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/pgbouncer"
	"github.com/go-tenancy/tenancy/internal/rtcount"
)

// These tests put PgBouncer between the library and PostgreSQL (the Debian
// pgbouncer binary, started by internal/pgbouncer). They show that TransactionMode
// stays isolated behind transaction pooling, and precisely how SessionMode breaks
// there: see SECURITY.md.

// startBouncer starts a pgbouncer in front of the server and database of dsn and
// returns it with the URL of the database through it. Without pgbouncer the test
// fails, saying how to install it; under -short it is skipped.
func startBouncer(t *testing.T, dsn, poolMode string, poolSize int) (*pgbouncer.Bouncer, string) {
	t.Helper()
	if _, err := pgbouncer.FindBinary(); err != nil {
		if testing.Short() {
			t.Skipf("skipped in -short mode: %v", err)
		}
		t.Fatalf("these tests need PgBouncer: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := pgbouncer.Start(ctx, pgbouncer.Config{Upstream: dsn, PoolMode: poolMode, PoolSize: poolSize})
	if err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Errorf("stop pgbouncer: %v", err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return b, b.URL(strings.TrimPrefix(u.Path, "/"))
}

// TestPgBouncerTransactionModeIsolation runs the mixed load in TransactionMode
// through PgBouncer in transaction pooling mode: 30 tenants, 32 goroutines, up to 24
// client connections sharing 4 server connections. Every result is checked as in
// TestIsolationUnderLoad, including after statements that leave a session-level
// search_path on a server connection that the next client's transaction inherits.
func TestPgBouncerTransactionModeIsolation(t *testing.T) {
	t.Parallel()
	for _, d := range loadDrivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			pgbouncerLoad(t, d)
		})
	}
}

// throughBouncer opens a TransactionMode DB over driverName on the database URL
// through PgBouncer. pgx as Open sets it up (QueryExecModeCacheDescribe) keeps no
// named statements on a server connection; pgx-stmtcache gets
// default_query_exec_mode=exec instead of its statement cache, whose named
// statements transaction pooling (before PgBouncer 1.21) does not carry to the
// next transaction.
func throughBouncer(t *testing.T, driverName, through string, opts ...tenancy.Option) *tenancy.DB {
	t.Helper()
	if driverName == "pgx-stmtcache" {
		u := mustURL(t, through)
		q := u.Query()
		q.Set("default_query_exec_mode", "exec")
		u.RawQuery = q.Encode()
		through = u.String()
	}
	return openCountedDriver(t, driverName, through, &rtcount.Counter{}, opts...)
}

func pgbouncerLoad(t *testing.T, driverName string) {
	const tenants, workers, clients, serverConns = 30, 32, 24, 4
	perWorker := 250
	if testing.Short() {
		perWorker = 60
	}
	e := newEnv(t)
	ts := loadSchemas(t, e, tenants)
	b, through := startBouncer(t, e.dsn, "transaction", serverConns)
	db := throughBouncer(t, driverName, through, tenancy.WithMode(tenancy.TransactionMode))
	db.Pool().SetMaxOpenConns(clients)
	db.Pool().SetMaxIdleConns(clients)
	dbname := strings.TrimPrefix(mustURL(t, e.dsn).Path, "/")

	// A sampler asks PgBouncer, every 200 operations, how many client and server
	// connections the test's database has (SHOW POOLS; connections that only
	// carry cancel requests are not counted).
	var maxClients, maxServers atomic.Int64
	tick := make(chan struct{}, 1)
	done, sampled := make(chan struct{}), make(chan error, 1)
	go func() {
		ctx := context.Background()
		for {
			select {
			case <-done:
				sampled <- nil
				return
			case <-tick:
			}
			pools, err := b.Show(ctx, "POOLS")
			if err != nil {
				sampled <- err
				return
			}
			for _, p := range pools {
				if p["database"] != dbname {
					continue
				}
				raise(&maxClients, sum(p, "cl_active", "cl_waiting"))
				raise(&maxServers, sum(p, "sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login", "sv_being_canceled"))
			}
		}
	}()

	// (TransactionMode prepares only inside a transaction, where PgBouncer keeps
	// the server connection: opPrepared does that.)
	w := defaultWeights
	// Enough cancellations that some reach the server mid-statement through
	// PgBouncer (which forwards the cancel request).
	w[opCancel], w[opTxCancel] = 5, 5
	r := newLoad(t, db, ts, loadConfig{
		workers: workers, weights: w, cancelAfter: 40 * time.Millisecond,
		onOp: func(n int64, _ bool) {
			if n%200 == 0 {
				select {
				case tick <- struct{}{}:
				default:
				}
			}
		},
	})
	start := time.Now()
	r.run(perWorker, nil)
	close(done)
	if err := <-sampled; err != nil {
		t.Fatalf("sampler: %v", err)
	}
	r.summary(t, time.Since(start))
	t.Logf("PgBouncer: at most %d client and %d server connections for the database", maxClients.Load(), maxServers.Load())

	if got := r.ops.Load(); got != int64(workers*perWorker) {
		t.Errorf("ran %d operations, want %d", got, workers*perWorker)
	}
	if errs, first := r.round(); errs != 0 {
		t.Errorf("final round of reads: %d errors, first: %v", errs, first)
	}
	r.verify(t, e.admin)
	if driverName == "postgres" && r.midQuery.Load() == 0 { // pgx drops the connection instead
		t.Error("no cancellation reached the server through PgBouncer")
	}
	// A server connection closed after a cancellation and its replacement logging
	// in can both show in one SHOW POOLS sample: allow that one transient extra.
	if m := maxServers.Load(); m < 1 || m > serverConns+1 {
		t.Errorf("PgBouncer used up to %d server connections, want 1 to %d (+1 transient)", m, serverConns)
	}
	if m := maxClients.Load(); m <= serverConns {
		t.Errorf("at most %d client connections were seen: not more clients than server connections (%d)", m, serverConns)
	}
}

// TestPgBouncerSessionState: behind transaction pooling, session state one client
// leaves on a server connection (a temporary table shadowing the tenant table, a
// held cursor, a role) does not reach another client's transaction in
// TransactionMode, for both drivers. One server connection, two client
// connections: the second is certain to get the server session the first used.
func TestPgBouncerSessionState(t *testing.T) {
	t.Parallel()
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			s := newSessionEnv(t, d, nil)
			_, through := startBouncer(t, s.dsn, "transaction", 1)
			db := throughBouncer(t, d, through, tenancy.WithMode(tenancy.TransactionMode))
			ctx := context.Background()
			c1, err := db.Pool().Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c1.Close()
			c2, err := db.Pool().Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			tx, err := c1.BeginTx(s.acme, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				`CREATE TEMP TABLE items AS SELECT 1 AS id, 'temp'::text AS tenant`,
				`DECLARE held CURSOR WITH HOLD FOR SELECT tenant FROM items`,
				`SET SESSION AUTHORIZATION tenancy_attacker`,
			} {
				if _, err := tx.ExecContext(s.acme, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			rows, err := c2.QueryContext(s.globex, `SELECT tenant, current_user FROM items`)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var tag, user string
				if err := rows.Scan(&tag, &user); err != nil {
					t.Fatal(err)
				}
				if tag != "globex" || user == "tenancy_attacker" {
					t.Errorf("globex's read behind PgBouncer saw row %q as %q", tag, user)
				}
				n++
			}
			if err := rows.Close(); err != nil || n != 1 {
				t.Fatalf("globex read %d rows (%v), want its 1", n, err)
			}
			if _, err := c2.ExecContext(s.globex, `FETCH ALL FROM held`); err == nil {
				t.Error("globex fetched from acme's held cursor behind PgBouncer")
			}
		})
	}
}

// sum adds up the integer columns of a SHOW row.
func sum(row map[string]string, cols ...string) int64 {
	var n int64
	for _, c := range cols {
		v, _ := strconv.ParseInt(row[c], 10, 64)
		n += v
	}
	return n
}

// raise sets max to n if n is larger.
func raise(max *atomic.Int64, n int64) {
	for old := max.Load(); n > old && !max.CompareAndSwap(old, n); old = max.Load() {
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// seen is what one read through PgBouncer saw: readSQL's first row.
type seen struct {
	marker, cur, tag string
	pid              int
}

func readOn(t *testing.T, c *sql.Conn, tn *loadTenant) seen {
	t.Helper()
	rows, err := scanReads(c.QueryContext(tn.ctx, readSQL))
	if err != nil {
		t.Fatalf("read for %s: %v", tn.Schema, err)
	}
	if len(rows) != 1 {
		t.Fatalf("read for %s returned %d rows, want 1", tn.Schema, len(rows))
	}
	return seen{rows[0].Marker, rows[0].Cur, rows[0].Tag.String, rows[0].PID}
}

// TestPgBouncerSessionModeUnsafe shows, step by step, why SessionMode is unsafe
// behind transaction pooling, with one server connection and two client
// connections c1 and c2, and that TransactionMode (or session pooling) is not.
//
// search_path is not the problem any more: every statement carries its SET, so the
// four reads (c1 for t00, c2 for t01, c1 for t00 again, then c2 for t01 after
// PgBouncer replaced the server connection) see their own tenant in every
// configuration. What SessionMode cannot see behind transaction pooling is that the
// server session a client connection proved to be its tenant's was meanwhile used
// by another client: c1 (t00) leaves a temporary table on the server connection,
// and c2 (t01), whose client connection still counts its session as t01's, reads
// t00's rows from it. TransactionMode clears the session at the start of every
// transaction; under session pooling the clients have server connections of their
// own, and c2's statement resets the session it passed to another tenant anyway.
func TestPgBouncerSessionModeUnsafe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ts := loadSchemas(t, e, 2)
	t00, t01 := ts[0], ts[1]
	mustExec(t, e.admin, `INSERT INTO t00.items (tenant) VALUES ('t00'); INSERT INTO t01.items (tenant) VALUES ('t01')`)
	ctx := context.Background()

	for _, tc := range []struct {
		name     string
		poolMode string
		poolSize int
		mode     tenancy.Mode
		// newPID[i]: whether the backend pid changed at step i+1.
		newPID [4]bool
		leak   bool // c2 reads c1's temporary table
	}{
		{"SessionMode behind transaction pooling", "transaction", 1, tenancy.SessionMode,
			[4]bool{false, false, false, true}, true},
		{"TransactionMode behind transaction pooling", "transaction", 1, tenancy.TransactionMode,
			[4]bool{false, false, false, true}, false},
		{"SessionMode behind session pooling", "session", 2, tenancy.SessionMode,
			[4]bool{false, true, true, true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, through := startBouncer(t, e.dsn, tc.poolMode, tc.poolSize)
			db := openCounted(t, through, &rtcount.Counter{}, tenancy.WithMode(tc.mode))
			c1, err := db.Pool().Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c1.Close()
			c2, err := db.Pool().Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()

			var got [4]seen
			got[0] = readOn(t, c1, t00)
			got[1] = readOn(t, c2, t01)
			got[2] = readOn(t, c1, t00)

			// c1 leaves session state; c2, the innocent author, stages into a temp
			// table of the same name and reads it back.
			if _, err := c1.ExecContext(t00.ctx, `CREATE TEMP TABLE staging AS SELECT 't00'::text AS tenant`); err != nil {
				t.Fatal(err)
			}
			var leaked []string
			err = func() error {
				if _, err := c2.ExecContext(t01.ctx, `CREATE TEMP TABLE IF NOT EXISTS staging (tenant text)`); err != nil {
					return err
				}
				rows, err := c2.QueryContext(t01.ctx, `SELECT tenant FROM staging`)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var s string
					if err := rows.Scan(&s); err != nil {
						return err
					}
					leaked = append(leaked, s)
				}
				return rows.Err()
			}()
			if err != nil && tc.mode == tenancy.SessionMode {
				t.Fatal(err)
			}
			if (len(leaked) > 0) != tc.leak {
				t.Errorf("c2 (t01) read %v from a temp table c1 (t00) left: leak = %v, want %v", leaked, len(leaked) > 0, tc.leak)
			}

			// Under session pooling each client keeps its server connection
			// until it disconnects: there is nothing to hand over, and RECONNECT
			// would wait for the clients to leave.
			if tc.poolMode == "transaction" {
				reconnect(t, b)
			}
			got[3] = readOn(t, c2, t01)

			want := [4]string{"t00", "t01", "t00", "t01"}
			prev := got[0].pid
			for i, g := range got {
				if g.marker != want[i] || g.cur != want[i] || g.tag != want[i] {
					t.Errorf("step %d: read saw marker %q, current_schema %q, row of %q; want %q", i+1, g.marker, g.cur, g.tag, want[i])
				}
				if i > 0 && (g.pid != prev) != tc.newPID[i] {
					t.Errorf("step %d: backend pid %d after %d: changed = %v, want %v", i+1, g.pid, prev, g.pid != prev, tc.newPID[i])
				}
				prev = g.pid
			}
			t.Logf("steps saw %+v, c2 read %v", got, leaked)
		})
	}
}

// reconnect makes PgBouncer close its (idle) server connections and waits until
// SHOW SERVERS lists none: bounded polling, as PgBouncer signals nothing.
func reconnect(t *testing.T, b *pgbouncer.Bouncer) {
	t.Helper()
	ctx := context.Background()
	if err := b.Command(ctx, "RECONNECT"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err := b.Show(ctx, "SERVERS")
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("PgBouncer still lists %d server connections after RECONNECT: %v", len(rows), rows)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
