package tenancy_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-tenancy/tenancy"
)

func TestNoTenantFailsClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.addTenant(t, "acme")
	ctx := context.Background()
	var n int

	checks := map[string]error{}
	_, checks["ExecContext"] = e.db.ExecContext(ctx, `INSERT INTO items (tenant) VALUES ('x')`)
	checks["GetContext"] = e.db.GetContext(ctx, &n, `SELECT count(*) FROM items`)
	checks["SelectContext"] = e.db.SelectContext(ctx, &[]int{}, `SELECT n FROM items`)
	checks["QueryRowxContext"] = e.db.QueryRowxContext(ctx, `SELECT 1`).Scan(&n)
	_, checks["QueryxContext"] = e.db.QueryxContext(ctx, `SELECT 1`)
	_, checks["BeginTxx"] = e.db.BeginTxx(ctx, nil)
	checks["InTx"] = e.db.InTx(ctx, nil, func(*tenancy.Tx) error { return nil })
	_, checks["Pool().ExecContext"] = e.db.Pool().ExecContext(ctx, `SELECT 1`)
	_, checks["Pool().Exec"] = e.db.Pool().Exec(`SELECT 1`)
	_, checks["PreparexContext"] = e.db.PreparexContext(ctx, `SELECT count(*) FROM items`)
	if st, err := e.db.PreparexContext(tctx(a), `SELECT count(*) FROM items`); err != nil {
		t.Fatalf("prepare: %v", err)
	} else {
		checks["Stmt.QueryRowxContext"] = st.QueryRowxContext(ctx).Scan(&n)
		st.Close()
	}
	if c, err := e.db.Pool().Conn(ctx); err != nil {
		t.Fatal(err)
	} else {
		_, checks["sql.Conn.ExecContext"] = c.ExecContext(ctx, `SELECT 1`)
		c.Close()
	}
	for name, err := range checks {
		if !errors.Is(err, tenancy.ErrNoTenant) {
			t.Errorf("%s without tenant: got %v, want ErrNoTenant", name, err)
		}
	}
	// Nothing was written anywhere.
	var rows int
	if err := e.admin.QueryRow(`SELECT count(*) FROM acme.items`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("acme.items has %d rows (err %v), want 0", rows, err)
	}
	// Ping needs no tenant.
	if err := e.db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestTenantsSeeOnlyTheirOwnRows(t *testing.T) {
	t.Parallel()
	for _, v := range driverVariants() {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvDriver(t, v.driver, v.opts...)
			e.db.Pool().SetMaxOpenConns(1) // every statement on one connection: maximal reuse
			a, b := e.addTenant(t, "acme"), e.addTenant(t, "globex")
			for i := 0; i < 3; i++ {
				for _, tn := range []tenancy.Tenant{a, b, b, a} {
					if _, err := e.db.ExecContext(tctx(tn), `INSERT INTO items (tenant) VALUES ($1)`, tn.Schema); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, tn := range []tenancy.Tenant{a, b} {
				var tags []string
				if err := e.db.SelectContext(tctx(tn), &tags, `SELECT tenant FROM items`); err != nil {
					t.Fatal(err)
				}
				if len(tags) != 6 {
					t.Errorf("%s sees %d rows, want 6", tn.Schema, len(tags))
				}
				for _, tag := range tags {
					if tag != tn.Schema {
						t.Errorf("%s sees a row of %s", tn.Schema, tag)
					}
				}
			}
		})
	}
}

func TestSearchPathHoldsOnlyTheTenantSchema(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.addTenant(t, "acme")
	// A table that exists in public only must not be reachable unqualified.
	mustExec(t, e.admin, `CREATE TABLE public.only_in_public (x int)`)
	if sp := searchPath(t, e.db, tctx(a)); sp != `"acme"` && sp != `acme` {
		t.Fatalf("search_path = %s, want acme alone", sp)
	}
	_, err := e.db.ExecContext(tctx(a), `SELECT * FROM only_in_public`)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("unqualified public table from tenant: err = %v, want 'does not exist'", err)
	}

	// With WithSearchPath, the listed schema follows the tenant's.
	db2 := openCounted(t, e.dsn, e.rt, tenancy.WithSearchPath("shared"))
	if sp := searchPath(t, db2, tctx(a)); sp != `"acme", "shared"` && sp != `acme, shared` {
		t.Fatalf("search_path = %s, want acme, shared", sp)
	}
}

func TestInvalidTenantSchemaRunsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.db.Pool().SetMaxOpenConns(1)
	if err := e.db.Ping(context.Background()); err != nil { // open the connection
		t.Fatal(err)
	}
	for _, schema := range []string{`a"; DROP SCHEMA shared CASCADE; --`, "a,public", "public", "pg_catalog", "", "Acme", "shared"} {
		ctx := tctx(tenancy.Tenant{Schema: schema})
		e.rt.Reset()
		_, err := e.db.ExecContext(ctx, `CREATE TABLE t (x int)`)
		if !errors.Is(err, tenancy.ErrInvalidSchemaName) {
			t.Errorf("schema %q: err = %v, want ErrInvalidSchemaName", schema, err)
		}
		if n := e.rt.RoundTrips(); n != 0 {
			t.Errorf("schema %q: %d round trips, want none", schema, n)
		}
	}
	var n int
	if err := e.admin.QueryRow(`SELECT count(*) FROM pg_tables WHERE tablename = 't'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a table was created (%d, %v)", n, err)
	}
	if err := e.admin.QueryRow(`SELECT count(*) FROM shared.tenants`).Scan(&n); err != nil {
		t.Fatalf("shared schema damaged: %v", err)
	}
}

// TestStaleSearchPathIsNeverTrusted drives one pooled connection through everything
// that can change or undo its search_path behind the library's back, and checks that
// the next tenant statement still runs in its own schema.
func TestStaleSearchPathIsNeverTrusted(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// disturb runs on the connection (which is on acme's schema) and tries to
		// leave it somewhere else.
		disturb func(t *testing.T, e *env, acme, globex context.Context)
	}{
		{"user SET search_path", func(t *testing.T, e *env, acme, globex context.Context) {
			db := e.db
			if _, err := db.ExecContext(acme, `SET search_path TO globex`); err != nil {
				t.Fatal(err)
			}
		}},
		{"user set_config", func(t *testing.T, e *env, acme, globex context.Context) {
			db := e.db
			if _, err := db.ExecContext(acme, `SELECT set_config('search_path', 'globex', false)`); err != nil {
				t.Fatal(err)
			}
		}},
		{"RESET ALL", func(t *testing.T, e *env, acme, globex context.Context) {
			db := e.db
			if _, err := db.ExecContext(acme, `RESET ALL`); err != nil {
				t.Fatal(err)
			}
		}},
		{"DISCARD ALL", func(t *testing.T, e *env, acme, globex context.Context) {
			db := e.db
			if _, err := db.ExecContext(acme, `DISCARD ALL`); err != nil {
				t.Fatal(err)
			}
		}},
		{"rollback undoes a SET made in the transaction", func(t *testing.T, e *env, acme, globex context.Context) {
			db := e.db
			tx, err := db.BeginTxx(globex, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(`SET search_path TO acme`); err != nil {
				t.Fatal(err)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
		}},
		{"rollback to savepoint", func(t *testing.T, e *env, acme, globex context.Context) {
			db := e.db
			err := db.InTx(globex, nil, func(tx *tenancy.Tx) error {
				for _, q := range []string{`SAVEPOINT s`, `SET search_path TO acme`, `ROLLBACK TO SAVEPOINT s`} {
					if _, err := tx.Exec(q); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"failed statement", func(t *testing.T, e *env, acme, globex context.Context) {
			db := e.db
			if _, err := db.ExecContext(globex, `SELECT * FROM no_such_table`); err == nil {
				t.Fatal("expected an error")
			}
		}},
		{"failed transaction", func(t *testing.T, e *env, acme, globex context.Context) {
			db := e.db
			err := db.InTx(globex, nil, func(tx *tenancy.Tx) error {
				_, err := tx.Exec(`SELECT 1/0`)
				return err
			})
			if err == nil {
				t.Fatal("expected an error")
			}
		}},
		{"cancelled mid-query", func(t *testing.T, e *env, acme, globex context.Context) {
			db := e.db
			ctx, cancel := context.WithCancel(globex)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := db.ExecContext(ctx, `SELECT pg_sleep(30) /* cancel me */`)
				done <- err
			}()
			// Cancel once the server is running the statement: a cancel request
			// that arrives earlier is ignored by the server. pg_stat_activity is
			// the only signal; poll it, bounded.
			deadline := time.Now().Add(20 * time.Second)
			for {
				var n int
				if err := e.admin.QueryRow(`SELECT count(*) FROM pg_stat_activity
					WHERE state = 'active' AND query LIKE '%cancel me%' AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the statement never started")
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			if err := <-done; err == nil {
				t.Fatal("expected cancellation")
			}
		}},
		{"timeout mid-transaction", func(t *testing.T, e *env, acme, globex context.Context) {
			db := e.db
			ctx, cancel := context.WithTimeout(globex, 50*time.Millisecond)
			defer cancel()
			err := db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
				_, err := tx.ExecContext(ctx, `SELECT pg_sleep(5)`)
				return err
			})
			if err == nil {
				t.Fatal("expected a timeout")
			}
		}},
		{"backend terminated", func(t *testing.T, e *env, acme, globex context.Context) {
			db := e.db
			var pid int
			if err := db.GetContext(globex, &pid, `SELECT pg_backend_pid()`); err != nil {
				t.Fatal(err)
			}
			var ok bool
			if err := e.admin.QueryRow(`SELECT pg_terminate_backend($1, 5000)`, pid).Scan(&ok); err != nil || !ok {
				t.Fatalf("terminate backend: %v %v", ok, err)
			}
			// The next statement on the dead connection fails; the pool then
			// replaces it.
			if _, err := db.ExecContext(globex, `SELECT 1`); err == nil {
				t.Log("the pool noticed the dead connection before the statement")
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.db.Pool().SetMaxOpenConns(1)
			a, b := e.addTenant(t, "acme"), e.addTenant(t, "globex")
			mustExec(t, e.admin, `INSERT INTO acme.items (tenant) VALUES ('acme')`)
			mustExec(t, e.admin, `INSERT INTO globex.items (tenant) VALUES ('globex')`)
			acme, globex := tctx(a), tctx(b)
			check := func(ctx context.Context, want string) {
				t.Helper()
				var got []string
				if err := e.db.SelectContext(ctx, &got, `SELECT tenant FROM items`); err != nil {
					t.Fatalf("select for %s: %v", want, err)
				}
				if len(got) != 1 || got[0] != want {
					t.Fatalf("select for %s saw %v", want, got)
				}
			}
			check(acme, "acme") // the connection is on acme
			tc.disturb(t, e, acme, globex)
			check(acme, "acme")
			check(globex, "globex")
			tc.disturb(t, e, acme, globex)
			check(globex, "globex")
			check(acme, "acme")
		})
	}
}

func TestTransactions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.addTenant(t, "acme"), e.addTenant(t, "globex")

	t.Run("commit and rollback", func(t *testing.T) {
		err := e.db.InTx(tctx(a), nil, func(tx *tenancy.Tx) error {
			_, err := tx.ExecContext(tctx(a), `INSERT INTO items (tenant) VALUES ('commit')`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		err = e.db.InTx(tctx(a), nil, func(tx *tenancy.Tx) error {
			if _, err := tx.Exec(`INSERT INTO items (tenant) VALUES ('rollback')`); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx returned %v, want boom", err)
		}
		var tags []string
		if err := e.db.SelectContext(tctx(a), &tags, `SELECT tenant FROM items ORDER BY id`); err != nil {
			t.Fatal(err)
		}
		if strings.Join(tags, ",") != "commit" {
			t.Fatalf("rows after commit+rollback: %v", tags)
		}
	})

	t.Run("panic rolls back", func(t *testing.T) {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("panic was swallowed")
				}
			}()
			_ = e.db.InTx(tctx(b), nil, func(tx *tenancy.Tx) error {
				if _, err := tx.Exec(`INSERT INTO items (tenant) VALUES ('panic')`); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		var n int
		if err := e.admin.QueryRow(`SELECT count(*) FROM globex.items WHERE tenant = 'panic'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("panicked transaction left %d rows (%v)", n, err)
		}
	})

	t.Run("statements follow the transaction's tenant", func(t *testing.T) {
		err := e.db.InTx(tctx(b), nil, func(tx *tenancy.Tx) error {
			if tx.Schema() != "globex" {
				t.Errorf("Schema() = %q", tx.Schema())
			}
			var schema string
			// A context without a tenant runs in the transaction's schema.
			if err := tx.GetContext(context.Background(), &schema, `SELECT current_schema()`); err != nil {
				return err
			}
			if schema != "globex" {
				t.Errorf("current_schema() in tx = %q", schema)
			}
			// A context naming another tenant is refused.
			_, err := tx.ExecContext(tctx(a), `INSERT INTO items (tenant) VALUES ('wrong')`)
			if !errors.Is(err, tenancy.ErrTenantMismatch) {
				t.Errorf("other tenant's context in tx: %v, want ErrTenantMismatch", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestSharedHandle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.addTenant(t, "acme")
	shared := e.db.Shared()
	for _, ctx := range []context.Context{context.Background(), tctx(a)} {
		var schema string
		if err := shared.GetContext(ctx, &schema, `SELECT current_schema()`); err != nil {
			t.Fatal(err)
		}
		if schema != "shared" {
			t.Fatalf("shared handle runs in %q", schema)
		}
		var n int
		if err := shared.GetContext(ctx, &n, `SELECT count(*) FROM tenants`); err != nil || n != 1 {
			t.Fatalf("shared tenants count = %d, %v", n, err)
		}
	}
	// The tenant handle cannot see shared tables unqualified.
	if _, err := e.db.ExecContext(tctx(a), `SELECT * FROM tenants`); err == nil {
		t.Fatal("tenant statement reached the shared registry table unqualified")
	}
}

// TestRoundTrips counts, on the wire, what each call costs. The figures are the ones
// documented in doc.go.
func TestRoundTrips(t *testing.T) {
	t.Parallel()
	type step struct {
		name string
		run  func(db *tenancy.DB, a, b context.Context) error
		want [4]int64 // lib/pq, pgx, lib/pq without the wire, pgx in statement-cache mode
	}
	noArgs := func(ctx context.Context, db *tenancy.DB) error {
		_, err := db.ExecContext(ctx, `SELECT 1`)
		return err
	}
	// SHOW is not one of the statements a SET is sent in front of (and unlike
	// SHOW search_path, it does not make the connection forget its schema).
	notPipelined := func(ctx context.Context, db *tenancy.DB) error {
		_, err := db.ExecContext(ctx, `SHOW work_mem`)
		return err
	}
	queryNoArgs := func(ctx context.Context, db *tenancy.DB) error {
		var ids []int
		return db.SelectContext(ctx, &ids, `SELECT id FROM items`)
	}
	withArgs := func(ctx context.Context, db *tenancy.DB) error {
		var n int
		return db.GetContext(ctx, &n, `SELECT count(*) FROM items WHERE id > $1`, 0)
	}
	tx := func(ctx context.Context, db *tenancy.DB) error {
		return db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
			_, err := tx.Exec(`SELECT 1`)
			return err
		})
	}
	// want is per driver: lib/pq and pgx as Open sets them up, and lib/pq without
	// the wire. With the wire (LibPQDialer, PgxAfterNetConnect) what scopes a
	// statement rides in front of its first message, so the counts are the
	// driver's own: lib/pq parses, then executes a parameterised statement (2
	// round trips); pgx prepares a statement the first time it sees its text on a
	// connection (2 round trips, then 1), and pings a connection idle for over a
	// second when database/sql reuses it (the first step's extra one), as raw pgx
	// through database/sql does. The only extra round trips: a reset before BEGIN
	// when the session passes to another tenant, the reset after BEGIN in
	// TransactionMode, and, in TransactionMode, BEGIN and COMMIT around a
	// standalone statement that is not a single data statement (SHOW, DDL, ...)
	// or that the driver executes by binding what an earlier batch parsed
	// (lib/pq with arguments, pgx's statement cache): the two batches must stay
	// on one server connection behind a pooler. On pgx as Open sets it up, a
	// standalone data statement gets its reset and SET LOCAL in front of each
	// batch pgx sends for it (its own implicit transactions; the one that
	// executes parses again). Without the wire (postgres-plain), a parameterised
	// statement's SET goes first in a message of its own, with BEGIN and COMMIT
	// in TransactionMode.
	session := []step{
		{"first statement, no args: reset; SET; query in one message", func(db *tenancy.DB, a, b context.Context) error { return noArgs(a, db) }, [4]int64{1, 2, 1, 2}},
		{"same tenant again: SET; query", func(db *tenancy.DB, a, b context.Context) error { return noArgs(a, db) }, [4]int64{1, 1, 1, 1}},
		{"switch tenant, no args: reset; SET; query", func(db *tenancy.DB, a, b context.Context) error { return noArgs(b, db) }, [4]int64{1, 1, 1, 1}},
		{"switch, query returning rows", func(db *tenancy.DB, a, b context.Context) error { return queryNoArgs(a, db) }, [4]int64{1, 2, 1, 2}},
		{"switch, not pipelinable: reset; SET, then statement", func(db *tenancy.DB, a, b context.Context) error { return notPipelined(b, db) }, [4]int64{2, 2, 2, 2}},
		{"parameterised, same tenant: SET, then statement", func(db *tenancy.DB, a, b context.Context) error { return withArgs(b, db) }, [4]int64{2, 2, 3, 2}},
		{"parameterised, switch: reset; SET, then statement", func(db *tenancy.DB, a, b context.Context) error { return withArgs(a, db) }, [4]int64{2, 2, 3, 2}},
		{"transaction, same tenant: BEGIN, SET; query, COMMIT", func(db *tenancy.DB, a, b context.Context) error { return tx(a, db) }, [4]int64{3, 3, 3, 3}},
		{"transaction, switch: reset; SET, BEGIN, SET; query, COMMIT", func(db *tenancy.DB, a, b context.Context) error { return tx(b, db) }, [4]int64{4, 4, 4, 4}},
	}
	txmode := []step{
		{"statement, no args: reset; SET LOCAL; query in one message", func(db *tenancy.DB, a, b context.Context) error { return noArgs(a, db) }, [4]int64{1, 2, 1, 2}},
		{"statement, other tenant: same", func(db *tenancy.DB, a, b context.Context) error { return noArgs(b, db) }, [4]int64{1, 1, 1, 1}},
		{"query returning rows", func(db *tenancy.DB, a, b context.Context) error { return queryNoArgs(a, db) }, [4]int64{1, 2, 1, 3}},
		{"not pipelinable: BEGIN; reset; SET LOCAL, statement, COMMIT", func(db *tenancy.DB, a, b context.Context) error { return notPipelined(a, db) }, [4]int64{3, 3, 3, 3}},
		{"parameterised: pgx: reset; SET LOCAL in front of each batch; else BEGIN; ..., COMMIT", func(db *tenancy.DB, a, b context.Context) error { return withArgs(a, db) }, [4]int64{3, 2, 4, 3}},
		{"transaction: BEGIN, reset; SET LOCAL, SET LOCAL; query, COMMIT", func(db *tenancy.DB, a, b context.Context) error { return tx(a, db) }, [4]int64{4, 4, 4, 4}},
	}
	for _, m := range []struct {
		mode  tenancy.Mode
		steps []step
	}{{tenancy.SessionMode, session}, {tenancy.TransactionMode, txmode}} {
		for di, d := range drivers {
			t.Run(d+"/"+m.mode.String(), func(t *testing.T) {
				t.Parallel()
				e := newEnvDriver(t, d, tenancy.WithMode(m.mode))
				e.db.Pool().SetMaxOpenConns(1)
				a, b := tctx(e.addTenant(t, "acme")), tctx(e.addTenant(t, "globex"))
				if err := e.db.Ping(context.Background()); err != nil { // open the connection
					t.Fatal(err)
				}
				for _, s := range m.steps {
					e.rt.Reset()
					if err := s.run(e.db, a, b); err != nil {
						t.Fatalf("%s: %v", s.name, err)
					}
					got := e.rt.RoundTrips()
					t.Logf("%-62s %d round trips", s.name, got)
					if got != s.want[di] {
						t.Errorf("%s: %d round trips, want %d", s.name, got, s.want[di])
					}
				}
			})
		}
	}
}

// TestConcurrentIsolation runs many goroutines over more tenants than connections,
// mixing writes, reads, committed and rolled-back transactions, savepoint rollbacks,
// failing statements and cancellations, and checks every row read belongs to the
// reader's tenant.
func TestConcurrentIsolation(t *testing.T) {
	t.Parallel()
	for _, v := range driverVariants() {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvDriver(t, v.driver, v.opts...)
			e.db.Pool().SetMaxOpenConns(4)
			e.db.Pool().SetMaxIdleConns(4)
			const tenants, workers, opsPerWorker = 12, 24, 60
			ts := make([]tenancy.Tenant, tenants)
			for i := range ts {
				ts[i] = e.addTenant(t, fmt.Sprintf("t%02d", i))
			}
			committed := make([]int64, tenants) // rows each tenant must end with
			var mu sync.Mutex
			var wg sync.WaitGroup
			errc := make(chan error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(seed uint64) {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(seed, 7))
					for i := 0; i < opsPerWorker; i++ {
						ti := rng.IntN(tenants)
						tn := ts[ti]
						ctx := tctx(tn)
						if err := isolationOp(ctx, e.db, tn, rng.IntN(6), func() {
							mu.Lock()
							committed[ti]++
							mu.Unlock()
						}); err != nil {
							errc <- fmt.Errorf("tenant %s: %w", tn.Schema, err)
							return
						}
					}
				}(uint64(w))
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Error(err)
			}
			for i, tn := range ts {
				var n int64
				if err := e.admin.QueryRow(fmt.Sprintf(`SELECT count(*) FROM %s.items`, tn.Schema)).Scan(&n); err != nil {
					t.Fatal(err)
				}
				var foreign int64
				if err := e.admin.QueryRow(fmt.Sprintf(`SELECT count(*) FROM %s.items WHERE tenant <> $1`, tn.Schema), tn.Schema).Scan(&foreign); err != nil {
					t.Fatal(err)
				}
				if n != committed[i] || foreign != 0 {
					t.Errorf("%s: %d rows (%d foreign), want %d committed", tn.Schema, n, foreign, committed[i])
				}
			}
		})
	}
}

// isolationOp performs one random operation for tenant tn and verifies what it read.
// onCommit is called once per row known to be committed.
func isolationOp(ctx context.Context, db *tenancy.DB, tn tenancy.Tenant, op int, onCommit func()) error {
	checkAll := func(q interface {
		SelectContext(context.Context, any, string, ...any) error
	}) error {
		var tags []string
		if err := q.SelectContext(ctx, &tags, `SELECT tenant FROM items`); err != nil {
			return err
		}
		for _, tag := range tags {
			if tag != tn.Schema {
				return fmt.Errorf("read a row of %s", tag)
			}
		}
		return nil
	}
	switch op {
	case 0: // write
		if _, err := db.ExecContext(ctx, `INSERT INTO items (tenant) VALUES ($1)`, tn.Schema); err != nil {
			return err
		}
		onCommit()
		return nil
	case 1: // read
		return checkAll(db)
	case 2: // transaction that commits
		err := db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO items (tenant) VALUES ($1)`, tn.Schema); err != nil {
				return err
			}
			return checkAll(tx)
		})
		if err == nil {
			onCommit()
		}
		return err
	case 3: // transaction that rolls back after a write
		errRollback := errors.New("rollback")
		err := db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO items (tenant) VALUES ($1)`, tn.Schema); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			return fmt.Errorf("rollback transaction: %v", err)
		}
		return checkAll(db)
	case 4: // savepoint rolled back, then a failing statement outside
		err := db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
			for _, q := range []string{`SAVEPOINT s`, `INSERT INTO items (tenant) VALUES ('` + tn.Schema + `')`, `SET LOCAL search_path TO public`, `ROLLBACK TO SAVEPOINT s`} {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			return checkAll(tx)
		})
		if err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, `SELECT * FROM no_such_table`); err == nil {
			return errors.New("missing table did not fail")
		}
		return nil
	default: // cancelled mid-query
		cctx, cancel := context.WithTimeout(ctx, time.Millisecond)
		defer cancel()
		_, _ = db.ExecContext(cctx, `SELECT pg_sleep(0.05)`)
		return checkAll(db)
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]tenancy.Option{
		"mode":          tenancy.WithMode(tenancy.Mode(9)),
		"shared schema": tenancy.WithSharedSchema("Bad Name"),
		"search path":   tenancy.WithSearchPath("public"),
	} {
		if _, err := tenancy.Open("postgres", "postgres://localhost/x", opt); err == nil {
			t.Errorf("%s: invalid option accepted", name)
		}
	}
	if _, err := tenancy.Open("no-such-driver", ""); err == nil {
		t.Error("unknown driver accepted")
	}
	var _ = sql.ErrNoRows
}
