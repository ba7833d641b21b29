package tenancypgx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/tenancypgx"
)

// Fail closed: without a tenant, or with a malformed schema, nothing is sent.
func TestRefusedBeforeAnythingIsSent(t *testing.T) {
	e := newEnv(t, 0)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			var tc turnCounter
			p := e.pool(t, 1, &tc, pgx.QueryExecModeExec, tenancypgx.WithMode(m.mode), tenancypgx.WithSearchPath("shared"))
			if err := p.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				ctx  context.Context
				want error
			}{
				{context.Background(), tenancy.ErrNoTenant},
				{ctxFor("Acme"), tenancy.ErrInvalidSchemaName},
				{ctxFor("public"), tenancy.ErrInvalidSchemaName},
				{ctxFor("pg_catalog"), tenancy.ErrInvalidSchemaName},
				{ctxFor("shared"), tenancy.ErrInvalidSchemaName},
				{ctxFor(`a"; DROP SCHEMA acme CASCADE; --`), tenancy.ErrInvalidSchemaName},
				{ctxFor("acme,public"), tenancy.ErrInvalidSchemaName},
				{ctxFor(""), tenancy.ErrInvalidSchemaName},
			}
			before := tc.load()
			for _, c := range cases {
				_, err := p.Exec(c.ctx, "DELETE FROM items")
				check(t, "Exec", err, c.want)
				_, err = p.Query(c.ctx, "SELECT name FROM items")
				check(t, "Query", err, c.want)
				check(t, "QueryRow", p.QueryRow(c.ctx, "SELECT 1").Scan(new(int)), c.want)
				_, err = p.Begin(c.ctx)
				check(t, "Begin", err, c.want)
				_, err = p.CopyFrom(c.ctx, pgx.Identifier{"items"}, []string{"id", "name"}, pgx.CopyFromRows([][]any{{9, "x"}}))
				check(t, "CopyFrom", err, c.want)
				err = p.SendBatch(c.ctx, &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{{SQL: "SELECT 1"}}}).Close()
				check(t, "SendBatch", err, c.want)
			}
			if d := tc.load() - before; d != 0 {
				t.Errorf("%d round trips for refused statements, want 0", d)
			}
			if got := e.wantItems(t, acme); len(got) != 2 {
				t.Errorf("acme items: %v", got)
			}
		})
	}
}

func check(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

func TestOptionsAreValidated(t *testing.T) {
	e := newEnv(t, 0)
	for _, o := range []tenancypgx.Option{
		tenancypgx.WithMode(tenancy.Mode(7)),
		tenancypgx.WithSharedSchema("Shared"),
		tenancypgx.WithSearchPath("public"),
		tenancypgx.WithSearchPath("ok", "pg_x"),
		nil,
	} {
		p, err := tenancypgx.New(context.Background(), e.dsn, o)
		if err == nil {
			p.Close()
			t.Errorf("option accepted")
		}
	}
	p, err := tenancypgx.New(context.Background(), e.dsn, tenancypgx.WithSharedSchema("globex"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.SharedSchema() != "globex" || p.Mode() != tenancy.SessionMode {
		t.Errorf("shared %q mode %v", p.SharedSchema(), p.Mode())
	}
	// The shared schema is reserved: no tenant may use it.
	if _, err := p.Exec(ctxFor("globex"), "SELECT 1"); !errors.Is(err, tenancy.ErrInvalidSchemaName) {
		t.Errorf("tenant on the shared schema: %v", err)
	}
	got, err := collect(p.Shared().Query(context.Background(), "SELECT name FROM items"))
	if err != nil || !same(got, e.wantItems(t, globex)) {
		t.Errorf("shared read %v, %v", got, err)
	}
}

// A tenant's Tx is bound to it: a context naming another tenant is refused, one
// naming none runs in the Tx's schema.
func TestTxIsBoundToItsTenant(t *testing.T) {
	e := newEnv(t, 0)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			p := e.pool(t, 1, nil, pgx.QueryExecModeExec, tenancypgx.WithMode(m.mode))
			tx, err := p.Begin(ctxFor(acme))
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(context.Background())
			if _, err := tx.Exec(ctxFor(globex), "DELETE FROM items"); !errors.Is(err, tenancy.ErrTenantMismatch) {
				t.Errorf("other tenant in tx: %v", err)
			}
			got, err := collect(tx.Query(context.Background(), "SELECT name FROM items"))
			if err != nil || !same(got, e.wantItems(t, acme)) {
				t.Errorf("tx read %v, %v", got, err)
			}
			if err := tx.Commit(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := tx.Rollback(context.Background()); !errors.Is(err, pgx.ErrTxClosed) {
				t.Errorf("rollback after commit: %v", err)
			}
			if _, err := tx.Exec(ctxFor(acme), "SELECT 1"); !errors.Is(err, pgx.ErrTxClosed) {
				t.Errorf("exec after commit: %v", err)
			}
		})
	}
}
