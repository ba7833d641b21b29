package wire_test

import (
	"context"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go-tenancy/tenancy/internal/wire"
)

// TestPgxpool: the wrapper set through pgxpool.Config.ConnConfig is found again
// on an acquired connection and scopes its statements.
func TestPgxpool(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 2
	cfg.ConnConfig.AfterNetConnect = func(ctx context.Context, _ *pgconn.Config, nc net.Conn) (net.Conn, error) {
		return wire.AfterNetConnect(ctx, nc)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, schema := range []string{"a", "b", "a"} {
		pc, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w, ok := wire.From(pc.Conn().PgConn().Conn())
		if !ok {
			t.Fatal("pooled connection not wrapped")
		}
		if err := w.Prefix("SET search_path TO " + schema); err != nil {
			t.Fatal(err)
		}
		var v string
		if err := pc.QueryRow(ctx, "SELECT v FROM t WHERE $1::int = 1", 1).Scan(&v); err != nil {
			t.Fatal(err)
		}
		pc.Release()
		if v != schema {
			t.Fatalf("pooled query ran in %q, want %q", v, schema)
		}
	}
}
