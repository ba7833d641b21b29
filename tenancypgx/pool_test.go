package tenancypgx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/go-tenancy/tenancy"
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

var _ = tenancy.ErrNoTenant
