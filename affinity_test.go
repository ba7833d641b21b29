package tenancy_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"

	"github.com/go-tenancy/tenancy"
)

// holdConns takes n connections of db's pool at once and runs one statement on
// each, in the schema of ctxs[i%len(ctxs)] (with no ctxs, only a ping), then
// returns them all: afterwards the pool has n idle connections, spread over the
// tenants (or on no schema).
func holdConns(t *testing.T, db *tenancy.DB, n int, ctxs ...context.Context) {
	t.Helper()
	conns := make([]*sql.Conn, n)
	for i := range conns {
		c, err := db.Pool().Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		if len(ctxs) == 0 {
			err = c.PingContext(context.Background())
		} else {
			_, err = c.ExecContext(ctxs[i%len(ctxs)], `SELECT 1`)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

// TestAffinityTrades: statements alternating between two tenants, one at a time,
// on a pool whose idle sessions belong to both. database/sql hands out the
// connection returned last every time; with affinity it trades for an idle
// session of the statement's own tenant, so no session passes to another tenant
// and none is reset: each tenant's temporary table survives all the statements.
// Without affinity the one connection in use alternates, and every switch clears
// the session. (Every statement carries its SET either way, so the round trips are
// the same: what a trade saves is the reset's work on the server.)
func TestAffinityTrades(t *testing.T) {
	t.Parallel()
	const rounds = 50
	for _, tc := range []struct {
		name     string
		affinity bool
	}{{"on", true}, {"off", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tenancy.WithAffinity(tc.affinity))
			e.db.Pool().SetMaxOpenConns(4)
			e.db.Pool().SetMaxIdleConns(4)
			ctxs := []context.Context{tctx(e.addTenant(t, "acme")), tctx(e.addTenant(t, "globex"))}
			// Each idle session gets a temp table of its tenant's.
			conns := make([]*sql.Conn, 4)
			for i := range conns {
				c, err := e.db.Pool().Conn(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				conns[i] = c
				if _, err := c.ExecContext(ctxs[i%2], `CREATE TEMP TABLE mark (n int)`); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range conns {
				c.Close()
			}
			e.rt.Reset()
			lost := 0
			for i := 0; i < rounds; i++ {
				for _, ctx := range ctxs {
					if _, err := e.db.ExecContext(ctx, `INSERT INTO pg_temp.mark VALUES (1)`); err != nil {
						lost++
					}
				}
			}
			if tc.affinity && lost != 0 {
				t.Errorf("with affinity %d of %d statements found their session reset", lost, 2*rounds)
			}
			if !tc.affinity && lost < rounds {
				t.Errorf("without affinity only %d of %d statements found their session reset; want every switch", lost, 2*rounds)
			}
			if got := e.rt.RoundTrips(); got != 2*rounds {
				t.Errorf("%d alternating statements: %d round trips, want %d (SET and statement in one message)", 2*rounds, got, 2*rounds)
			}
			if n := e.rt.Open(); n != 4 {
				t.Errorf("%d physical connections open, want 4", n)
			}
		})
	}
}

// TestAffinityKeepsSessions: a physical connection never moves under a *sql.Conn
// after its first statement, under a transaction, or under a prepared statement,
// whatever other connections of the pool do meanwhile.
func TestAffinityKeepsSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, tenancy.WithAffinity(true))
	e.db.Pool().SetMaxOpenConns(6)
	e.db.Pool().SetMaxIdleConns(6)
	a, b := e.addTenant(t, "acme"), e.addTenant(t, "globex")
	actx, bctx := tctx(a), tctx(b)
	holdConns(t, e.db, 4, actx, bctx)

	pid := func(ex interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}, ctx context.Context) int {
		t.Helper()
		var p int
		if err := ex.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Churn: statements for both tenants on the rest of the pool, so that idle
	// connections are traded all the time.
	churn := func() {
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 20; j++ {
					ctx := actx
					if (i+j)%2 == 0 {
						ctx = bctx
					}
					if _, err := e.db.ExecContext(ctx, `SELECT 1`); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}

	t.Run("sql.Conn", func(t *testing.T) {
		c, err := e.db.Pool().Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		p := pid(c, actx)
		for i := 0; i < 5; i++ {
			// Session state of acme's survives the churn on the *sql.Conn (another
			// tenant's statement on it would clear it: TestSessionTempTablesSameTenant).
			if _, err := c.ExecContext(actx, `CREATE TEMP TABLE IF NOT EXISTS scratch (n int)`); err != nil {
				t.Fatal(err)
			}
			churn()
			if got := pid(c, actx); got != p {
				t.Fatalf("backend changed under a *sql.Conn: %d, then %d", p, got)
			}
			if _, err := c.ExecContext(actx, `INSERT INTO pg_temp.scratch VALUES (1)`); err != nil {
				t.Fatalf("session state of the *sql.Conn lost: %v", err)
			}
			churn()
			if got := pid(c, bctx); got != p {
				t.Fatalf("backend changed under a *sql.Conn: %d, then %d", p, got)
			}
		}
	})
	t.Run("transaction", func(t *testing.T) {
		err := e.db.InTx(bctx, nil, func(tx *tenancy.Tx) error {
			var p int
			if err := tx.QueryRow(`SELECT pg_backend_pid()`).Scan(&p); err != nil {
				return err
			}
			for i := 0; i < 5; i++ {
				churn()
				var got int
				if err := tx.QueryRow(`SELECT pg_backend_pid()`).Scan(&got); err != nil {
					return err
				}
				if got != p {
					return fmt.Errorf("backend changed under a transaction: %d, then %d", p, got)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("prepared statement", func(t *testing.T) {
		st, err := e.db.PreparexContext(actx, `SELECT current_schema()::text, pg_backend_pid()`)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for i := 0; i < 10; i++ {
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; j < 10; j++ {
						want, ctx := "acme", actx
						if (g+j)%2 == 0 {
							want, ctx = "globex", bctx
						}
						var schema string
						var p int
						if err := st.QueryRowxContext(ctx).Scan(&schema, &p); err != nil {
							t.Error(err)
							return
						}
						if schema != want {
							t.Errorf("prepared statement ran in %q, want %q", schema, want)
						}
					}
				}()
			}
			churn()
			wg.Wait()
		}
	})
	// Every physical connection is accounted for: as many are open as database/sql
	// counts, and closing the DB closes them all.
	if open, want := e.rt.Open(), int64(e.db.Pool().Stats().OpenConnections); open != want {
		t.Errorf("%d physical connections open, database/sql counts %d", open, want)
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	if open := e.rt.Open(); open != 0 {
		t.Errorf("%d physical connections still open after Close", open)
	}
}
