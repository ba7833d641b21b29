package tenancy_test

import (
	"context"
	"sync"
	"testing"

	"github.com/go-tenancy/tenancy"
)

// TestDBHooksCalled: a DB opened with WithHooks calls Statement around each
// statement (done with the statement's error), SchemaSwitch when a session passes
// to another tenant (with the reset in front of the statement, for both drivers as
// Open sets them up), and AffinityTrade for each trade attempt.
func TestDBHooksCalled(t *testing.T) {
	t.Parallel()
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var stmts, failed, trades int
			var switches []tenancy.SwitchEvent
			h := tenancy.Hooks{
				Statement: func(ctx context.Context, e tenancy.StatementEvent) func(error) {
					mu.Lock()
					stmts++
					mu.Unlock()
					return func(err error) {
						if err != nil {
							mu.Lock()
							failed++
							mu.Unlock()
						}
					}
				},
				SchemaSwitch: func(ctx context.Context, e tenancy.SwitchEvent) {
					mu.Lock()
					switches = append(switches, e)
					mu.Unlock()
				},
				AffinityTrade: func(ctx context.Context, e tenancy.TradeEvent) {
					mu.Lock()
					trades++
					mu.Unlock()
				},
			}
			e := newEnvDriver(t, d, tenancy.WithHooks(h), tenancy.WithAffinity(true))
			e.db.Pool().SetMaxOpenConns(1)
			acme, globex := tctx(e.addTenant(t, "acme")), tctx(e.addTenant(t, "globex"))
			var n int
			for _, ctx := range []context.Context{acme, acme, globex} {
				if err := e.db.GetContext(ctx, &n, `SELECT count(*) FROM items WHERE id > $1`, 0); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.db.ExecContext(globex, `SELECT 1/0`); err == nil {
				t.Fatal("division by zero succeeded")
			}
			mu.Lock()
			defer mu.Unlock()
			if stmts != 4 || failed != 1 {
				t.Errorf("Statement hook: %d statements, %d failed; want 4 and 1", stmts, failed)
			}
			// A new connection is reset too (its state is not proven): acme, then globex.
			if len(switches) != 2 || switches[0].Schema != "acme" || switches[1].Schema != "globex" {
				t.Fatalf("SchemaSwitch: %+v, want acme then globex", switches)
			}
			wantInFront := d != "postgres-plain" // a parameterised statement's reset goes first without the wire
			for _, s := range switches {
				if s.WithStatement != wantInFront || s.Mode != tenancy.SessionMode {
					t.Errorf("switch %+v: WithStatement %v, want %v", s, s.WithStatement, wantInFront)
				}
			}
			if trades == 0 {
				t.Error("AffinityTrade was never called")
			}
		})
	}
}
