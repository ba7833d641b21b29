package tenancypgx_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/go-tenancy/tenancy/tenancypgx"
)

// WithSearchPath schemas follow the tenant's in its search_path, and no tenant
// may use them.
func TestWithSearchPath(t *testing.T) {
	e := newEnv(t, 0)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			p := e.pool(t, 1, nil, pgx.QueryExecModeExec, tenancypgx.WithMode(m.mode), tenancypgx.WithSearchPath("shared"))
			var v string
			if err := p.QueryRow(ctxFor(acme), "SELECT v FROM config WHERE k = 'plan'").Scan(&v); err != nil || v != "gold" {
				t.Errorf("unqualified shared table from a tenant: %q, %v", v, err)
			}
			got, err := collect(p.Query(ctxFor(acme), "SELECT array_to_string(current_schemas(false), ',')"))
			if err != nil || !same(got, []string{"acme,shared"}) {
				t.Errorf("current_schemas: %v, %v", got, err)
			}
			// The shared handle's path is the shared schema alone.
			got, err = collect(p.Shared().Query(ctxFor(acme), "SELECT array_to_string(current_schemas(false), ',')"))
			if err != nil || !same(got, []string{"shared"}) {
				t.Errorf("shared current_schemas: %v, %v", got, err)
			}
		})
	}
}

// A per-statement QueryExecMode would bypass the Pool's choice: refused.
func TestPerStatementExecModeRefused(t *testing.T) {
	e := newEnv(t, 0)
	var tc turnCounter
	p := e.pool(t, 1, &tc, pgx.QueryExecModeExec)
	before := tc.load()
	_, err := p.Exec(ctxFor(acme), "SELECT $1::int", pgx.QueryExecModeCacheStatement, 1)
	if !errors.Is(err, tenancypgx.ErrQueryExecMode) {
		t.Errorf("Exec: %v", err)
	}
	if err := p.QueryRow(ctxFor(acme), "SELECT $1::int", pgx.QueryExecModeSimpleProtocol, 1).Scan(new(int)); !errors.Is(err, tenancypgx.ErrQueryExecMode) {
		t.Errorf("QueryRow: %v", err)
	}
	if d := tc.load() - before; d != 0 {
		t.Errorf("%d round trips", d)
	}
	// Named arguments (a QueryRewriter) work.
	var n int
	if err := p.QueryRow(ctxFor(acme), "SELECT count(*) FROM items WHERE id >= @min", pgx.NamedArgs{"min": 2}).Scan(&n); err != nil || n != 1 {
		t.Errorf("named args: %d, %v", n, err)
	}
}
