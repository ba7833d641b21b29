package tenancy_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"
	"testing"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// TestTxStatusFromDrivers: the transaction status each seam reads follows BEGIN,
// a failed statement and ROLLBACK on a real server (lib/pq's is read from an
// unexported field: this test is what notices a lib/pq release that renames it).
func TestTxStatusFromDrivers(t *testing.T) {
	dsn := tenancytest.NewDatabase(t)
	for _, name := range []string{"postgres", "pgx"} {
		t.Run(name, func(t *testing.T) {
			db, err := sql.Open(name, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			c, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			status := func() byte {
				var st byte
				if err := c.Raw(func(dc any) error {
					st = tenancy.SeamTxStatus(db.Driver(), dc.(driver.Conn))
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				return st
			}
			steps := []struct {
				q    string
				want byte
			}{{"SELECT 1", 'I'}, {"BEGIN", 'T'}, {"SELECT 1/0", 'E'}, {"ROLLBACK", 'I'}}
			for _, s := range steps {
				_, _ = c.ExecContext(context.Background(), s.q)
				if got := status(); got != s.want {
					t.Fatalf("after %s: status %q, want %q", s.q, got, s.want)
				}
			}
		})
	}
}

// TestOpenPgxQueryExecMode: Open gives pgx connections tenancy.PgxQueryExecMode
// (description cache, no named statements on the session, so a tenant switch
// resets with DEALLOCATE ALL) unless the DSN chooses a mode, which it keeps.
func TestOpenPgxQueryExecMode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme := tctx(e.addTenant(t, "acme"))
	for _, c := range []struct {
		param     string
		wantNamed bool
	}{{"", false}, {"default_query_exec_mode=cache_statement", true}, {"default_query_exec_mode=cache_describe", false}} {
		t.Run("dsn="+c.param, func(t *testing.T) {
			u := mustURL(t, e.dsn)
			if k, v, ok := strings.Cut(c.param, "="); ok {
				q := u.Query()
				q.Set(k, v)
				u.RawQuery = q.Encode()
			}
			db, err := tenancy.Open("pgx", u.String())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var named int
			// With an argument, so that pgx uses its QueryExecMode (the statement
			// counts itself when pgx prepared it by name).
			if err := db.GetContext(acme, &named,
				`SELECT count(*) FROM pg_catalog.pg_prepared_statements WHERE NOT from_sql AND name <> '' AND $1::int = 1`, 1); err != nil {
				t.Fatal(err)
			}
			if got := named > 0; got != c.wantNamed {
				t.Fatalf("named prepared statements on the session: %d, want some: %v", named, c.wantNamed)
			}
		})
	}
}
