package tenancypgx_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/go-tenancy/tenancy/tenancypgx"
)

// Several tenants on a pool smaller than the number of goroutines, with mixed
// statements: reads, temp tables (some shadowing items), errors, cancellations
// mid-statement, transactions that roll back, statements that move search_path.
// Every read is checked against the tenant's own data.
func TestIsolationUnderConcurrency(t *testing.T) {
	e := newEnv(t, 6)
	seed := map[string][]string{}
	for _, s := range e.tenants {
		seed[s] = e.wantItems(t, s)
	}
	const goroutines, ops = 12, 80
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			p := e.pool(t, 4, nil, pgx.QueryExecModeCacheStatement, tenancypgx.WithMode(m.mode))
			var reads, foreign atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			for g := 0; g < goroutines; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(g), 7))
					for i := 0; i < ops; i++ {
						s := e.tenants[r.IntN(len(e.tenants))]
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
			if reads.Load() < goroutines*ops/4 {
				t.Errorf("only %d reads checked", reads.Load())
			}
			for _, s := range e.tenants {
				if got := e.wantItems(t, s); !same(got, seed[s]) {
					t.Errorf("%s ends with %v, want %v", s, got, seed[s])
				}
			}
		})
	}
}

// checkRows counts rows that are not schema's.
func checkRows(schema string, names []string, reads, foreign *atomic.Int64) {
	reads.Add(1)
	for _, n := range names {
		if !strings.HasPrefix(n, schema+"-") {
			foreign.Add(1)
		}
	}
}

func concurrentOp(p *tenancypgx.Pool, s string, g, op int, seed []string, reads, foreign *atomic.Int64) error {
	ctx := ctxFor(s)
	switch op {
	case 0: // plain read: exactly the tenant's rows
		got, err := collect(p.Query(ctx, "SELECT name FROM items"))
		if err != nil {
			return err
		}
		checkRows(s, got, reads, foreign)
		if !same(got, seed) {
			return fmt.Errorf("read %v, want %v", got, seed)
		}
	case 1: // argument, one row
		var name string
		if err := p.QueryRow(ctx, "SELECT name FROM items WHERE id = $1", 1).Scan(&name); err != nil {
			return err
		}
		checkRows(s, []string{name}, reads, foreign)
	case 2: // temp tables, one shadowing items
		if _, err := p.Exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS items AS SELECT * FROM items"); err != nil {
			return err
		}
		if _, err := p.Exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS scratch AS SELECT name FROM items"); err != nil {
			return err
		}
		got, err := collect(p.Query(ctx, "SELECT name FROM scratch"))
		if err == nil { // another connection may have no scratch table
			checkRows(s, got, reads, foreign)
		}
	case 3: // an error
		if _, err := p.Exec(ctx, "SELECT name::int FROM items"); err == nil {
			return fmt.Errorf("no error")
		}
	case 4: // cancelled while its rows are on their way
		cctx, cancel := context.WithCancel(ctx)
		rows, err := p.Query(cctx, "SELECT name FROM items, pg_sleep(0.01)")
		cancel()
		if err == nil {
			var got []string
			for rows.Next() {
				var n string
				if rows.Scan(&n) == nil {
					got = append(got, n)
				}
			}
			rows.Close()
			checkRows(s, got, reads, foreign)
		}
	case 5: // a transaction that writes, reads and rolls back
		tx, err := p.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "INSERT INTO items VALUES ($1, $2)", 1000+g, s+"-tx"); err != nil {
			return err
		}
		got, err := collect(tx.Query(context.Background(), "SELECT name FROM items"))
		if err != nil {
			return err
		}
		checkRows(s, got, reads, foreign)
		if len(got) != len(seed)+1 {
			return fmt.Errorf("tx read %v", got)
		}
		return tx.Rollback(ctx)
	case 6: // move search_path to another tenant, with and without a transaction
		if _, err := p.Exec(ctx, "SELECT set_config('search_path', 'globex', false)"); err != nil {
			return err
		}
		if _, err := p.Exec(ctx, "SET search_path TO acme"); err != nil {
			return err
		}
	case 7: // the shared handle
		var v string
		if err := p.Shared().QueryRow(ctx, "SELECT v FROM config WHERE k = 'plan'").Scan(&v); err != nil || v != "gold" {
			return fmt.Errorf("shared: %q, %v", v, err)
		}
	case 8: // a held cursor and a batch
		// Fails if this tenant's cursor is still open on the connection.
		_, _ = p.Exec(ctx, "DECLARE c CURSOR WITH HOLD FOR SELECT name FROM items")
		var b pgx.Batch
		b.Queue("SELECT name FROM items ORDER BY id LIMIT 1")
		b.Queue("FETCH ALL FROM c") // fails unless the cursor is this tenant's, on this connection
		br := p.SendBatch(ctx, &b)
		var first string
		if err := br.QueryRow().Scan(&first); err != nil {
			br.Close()
			return err
		}
		checkRows(s, []string{first}, reads, foreign)
		got, err := collect(br.Query())
		if err == nil {
			checkRows(s, got, reads, foreign)
		}
		br.Close()
	}
	return nil
}
