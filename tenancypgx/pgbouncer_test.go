package tenancypgx_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/pgbouncer"
	"github.com/go-tenancy/tenancy/tenancypgx"
)

// TransactionMode behind PgBouncer in transaction pooling (PgBouncer 1.18 from
// Debian, which does not carry protocol-level prepared statements between
// server connections): 8 client connections over 2 server connections, the
// mixed load of TestIsolationUnderConcurrency, every read checked. Each
// statement's batch is one transaction, so it stays on one server connection.
func TestPgBouncerTransactionMode(t *testing.T) {
	if _, err := pgbouncer.FindBinary(); err != nil {
		if testing.Short() {
			t.Skipf("skipped in -short mode: %v", err)
		}
		t.Fatalf("this test needs PgBouncer: %v", err)
	}
	e := newEnv(t, 4)
	seed := map[string][]string{}
	for _, s := range e.tenants {
		seed[s] = e.wantItems(t, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := pgbouncer.Start(ctx, pgbouncer.Config{Upstream: e.dsn, PoolMode: "transaction", PoolSize: 2})
	if err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Errorf("stop pgbouncer: %v", err)
		}
	})
	u, err := url.Parse(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := pgxpool.ParseConfig(b.URL(strings.TrimPrefix(u.Path, "/")))
	if err != nil {
		t.Fatal(err)
	}
	pc.MaxConns = 8
	// pgx's default, which the Pool replaces with Exec: no named statements
	// for PgBouncer to lose between server connections.
	pc.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	p, err := tenancypgx.NewWithConfig(ctx, pc, tenancypgx.WithMode(tenancy.TransactionMode))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// A raw client of the same PgBouncer leaves a session-level search_path on
	// server connections, as any other application sharing it may.
	raw, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	const goroutines, ops = 12, 60
	var reads, foreign atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 11))
			for i := 0; i < ops; i++ {
				s := e.tenants[r.IntN(len(e.tenants))]
				if r.IntN(10) == 0 {
					if _, err := raw.Exec(context.Background(), "SET search_path TO globex"); err != nil {
						errs <- fmt.Errorf("raw: %w", err)
						return
					}
					continue
				}
				if err := concurrentOp(p, s, g, r.IntN(9), seed[s], &reads, &foreign); err != nil {
					errs <- fmt.Errorf("goroutine %d op %d (%s): %w", g, i, s, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if foreign.Load() != 0 {
		t.Errorf("%d foreign rows", foreign.Load())
	}
	if reads.Load() < goroutines*ops/5 {
		t.Errorf("only %d reads checked", reads.Load())
	}
	for _, s := range e.tenants {
		if got := e.wantItems(t, s); !same(got, seed[s]) {
			t.Errorf("%s ends with %v, want %v", s, got, seed[s])
		}
	}
}
