package tenancypgx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/go-tenancy/tenancy/tenancypgx"
)

func TestEachTenantReadsItsOwnRows(t *testing.T) {
	e := newEnv(t, 0)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			p := e.pool(t, 1, nil, pgx.QueryExecModeCacheStatement, tenancypgx.WithMode(m.mode))
			for i := 0; i < 4; i++ {
				for _, s := range []string{acme, globex} {
					got, err := collect(p.Query(ctxFor(s), "SELECT name FROM items"))
					if err != nil {
						t.Fatal(err)
					}
					if want := e.wantItems(t, s); !same(got, want) {
						t.Fatalf("%s read %v, want %v", s, got, want)
					}
				}
			}
			var v string
			if err := p.Shared().QueryRow(context.Background(), "SELECT v FROM config WHERE k = $1", "plan").Scan(&v); err != nil || v != "gold" {
				t.Fatalf("shared: %q, %v", v, err)
			}
			var n int
			if err := p.QueryRow(ctxFor(acme), "SELECT count(*) FROM items WHERE id > $1", 100).Scan(&n); err != nil || n != 0 {
				t.Fatalf("count: %d, %v", n, err)
			}
			if err := p.QueryRow(ctxFor(acme), "SELECT name FROM items WHERE id = $1", 100).Scan(new(string)); !errors.Is(err, pgx.ErrNoRows) {
				t.Fatalf("no row: %v", err)
			}
		})
	}
}

// Server errors come back as pgx returns them: *pgconn.PgError, for errors.As,
// from Exec, from rows, from a Tx and from a batch, after the Pool's own
// statements in front of them.
func TestServerErrorsUnchanged(t *testing.T) {
	e := newEnv(t, 0)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			p := e.pool(t, 1, nil, pgx.QueryExecModeExec, tenancypgx.WithMode(m.mode))
			ctx := ctxFor(acme)
			code := func(what string, err error, want string) {
				t.Helper()
				var pe *pgconn.PgError
				if !errors.As(err, &pe) || pe.Code != want {
					t.Errorf("%s: %v, want SQLSTATE %s", what, err, want)
				}
			}
			_, err := p.Exec(ctx, "SELECT 1/0")
			code("Exec", err, "22012")
			_, err = collect(p.Query(ctx, "SELECT (10 / (2 - id))::text FROM items ORDER BY id DESC"))
			code("rows", err, "22012")
			_, err = p.Exec(ctx, "INSERT INTO items VALUES (1, 'dup')")
			code("unique", err, "23505")
			_, err = p.Exec(ctx, "SELECT * FROM nosuchtable")
			code("undefined table", err, "42P01")
			tx, err := p.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tx.Exec(ctx, "SELECT 1/0")
			code("Tx.Exec", err, "22012")
			if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxCommitRollback) {
				t.Errorf("commit of a failed tx: %v", err)
			}
			var b pgx.Batch
			b.Queue("SELECT 1")
			b.Queue("SELECT 1/0")
			br := p.SendBatch(ctx, &b)
			if _, err := br.Exec(); err != nil {
				t.Error(err)
			}
			_, err = br.Exec()
			code("batch", err, "22012")
			code("batch close", br.Close(), "22012")
			got, err := collect(p.Query(ctx, "SELECT name FROM items"))
			if err != nil || !same(got, e.wantItems(t, acme)) {
				t.Errorf("afterwards: %v, %v", got, err)
			}
		})
	}
}
