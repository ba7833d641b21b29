package tenancy_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
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
