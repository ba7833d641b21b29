package wire_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/go-tenancy/tenancy/internal/rtcount"
	"github.com/go-tenancy/tenancy/internal/wire"
)

// TestPassedThrough: what a prefix makes the server say besides its replies
// reaches pgx: NoticeResponse (OnNotice) and ParameterStatus (a reported setting
// the prefix changed); the CommandTag is the driver's statement's, in every mode.
func TestPassedThrough(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	for _, m := range modes {
		var mu sync.Mutex
		var notices []string
		cfg := pgxConfig(t, dsn, &rtcount.Counter{}, 0, m)
		cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
			mu.Lock()
			notices = append(notices, n.Message)
			mu.Unlock()
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := wire.From(conn.PgConn().Conn())
		if err := w.Prefix("SET application_name TO 'tenant_x'; DO $$BEGIN RAISE NOTICE 'from the prefix'; END$$; SET search_path TO a"); err != nil {
			t.Fatal(err)
		}
		tag, err := conn.Exec(ctx, "UPDATE t SET v = v WHERE v = $1", "a")
		if err != nil || tag.String() != "UPDATE 1" {
			t.Fatalf("%s: tag %q, %v; want UPDATE 1", m, tag, err)
		}
		mu.Lock()
		if len(notices) != 1 || notices[0] != "from the prefix" {
			t.Errorf("%s: notices %q", m, notices)
		}
		mu.Unlock()
		if got := conn.PgConn().ParameterStatus("application_name"); got != "tenant_x" {
			t.Errorf("%s: pgx sees application_name %q, want tenant_x", m, got)
		}
		conn.Close(ctx)
	}
}
