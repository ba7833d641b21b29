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

// TestAffinityRoundTrips: statements alternating between two tenants, one at a
// time, on a pool with idle connections. database/sql hands out the connection
// returned last every time; with affinity it trades for the idle connection on
// the right schema (no switch), without it every statement switches. Counted on
// the wire. The statement has an argument, so lib/pq sends it in two round trips
// (parse, then bind and execute) and a switch cannot ride along (see
// TestRoundTrips).
func TestAffinityRoundTrips(t *testing.T) {
	t.Parallel()
	const rounds = 50
	for _, tc := range []struct {
		name     string
		affinity bool
		spread   bool  // the idle connections are on the two schemas already (else on none)
		want     int64 // round trips for 2*rounds alternating statements
	}{
		{"on", true, true, 4 * rounds},
		// Idle connections that were never used are not brought into use: one
		// session serves both tenants, switching every time, as without affinity.
		{"on/cold pool", true, false, 6 * rounds},
		{"off", false, true, 6 * rounds},
		{"off/cold pool", false, false, 6 * rounds},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tenancy.WithAffinity(tc.affinity))
			e.db.Pool().SetMaxOpenConns(4)
			e.db.Pool().SetMaxIdleConns(4)
			ctxs := []context.Context{tctx(e.addTenant(t, "acme")), tctx(e.addTenant(t, "globex"))}
			if tc.spread {
				holdConns(t, e.db, 4, ctxs...)
			} else {
				holdConns(t, e.db, 4)
			}
			e.rt.Reset()
			for i := 0; i < rounds; i++ {
				for _, ctx := range ctxs {
					if _, err := e.db.ExecContext(ctx, `SELECT $1::int`, i); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got := e.rt.RoundTrips(); got != tc.want {
				t.Errorf("%d alternating statements: %d round trips, want %d", 2*rounds, got, tc.want)
			}
			if n := e.db.Pool().Stats().OpenConnections; n != 4 {
				t.Errorf("%d open connections, want 4", n)
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
		if _, err := c.ExecContext(actx, `CREATE TEMP TABLE scratch (n int)`); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			churn()
			for _, ctx := range []context.Context{bctx, actx} {
				if got := pid(c, ctx); got != p {
					t.Fatalf("backend changed under a *sql.Conn: %d, then %d", p, got)
				}
			}
			if _, err := c.ExecContext(bctx, `INSERT INTO pg_temp.scratch VALUES (1)`); err != nil {
				t.Fatalf("session state of the *sql.Conn lost: %v", err)
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
