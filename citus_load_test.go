package tenancy_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-tenancy/tenancy"
)

// TestCitusIsolationUnderLoadWithMove runs tenant-scoped reads and writes from
// many goroutines on a shared pool through the coordinator while one tenant is
// moved to the other worker and back. Isolation is checked on data, not with
// current_schema() (which, for a routed statement, reports the worker
// session's): every row a tenant reads carries its own tag, and at the end each
// tenant has exactly the rows whose inserts succeeded. No statement may fail.
func TestCitusIsolationUnderLoadWithMove(t *testing.T) {
	for _, driver := range []string{"postgres", "pgx"} {
		t.Run(driver, func(t *testing.T) {
			citusLoad(t, driver, false)
		})
	}
}

func TestCitusMixedWritesDuringMove(t *testing.T) {
	for _, driver := range []string{"postgres", "pgx"} {
		t.Run(driver, func(t *testing.T) {
			citusLoad(t, driver, true)
		})
	}
}

func citusLoad(t *testing.T, driver string, mixed bool) {
	tenantSet := mapFS(map[string]string{
		"1_rows.up.sql": `CREATE TABLE tagged (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tag text NOT NULL, n int NOT NULL);
CREATE INDEX tagged_tag_idx ON tagged (tag);`,
	})
	sharedSet := mapFS(map[string]string{
		"1_audit.up.sql": `CREATE TABLE audit (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tag text NOT NULL);`,
	})
	e := newCitusEnv(t, sharedSet, tenantSet).ready(t)
	ctx := context.Background()
	const nTenants = 4
	var tenants []tenancy.Tenant
	for i := range nTenants {
		tenants = append(tenants, e.create(t, fmt.Sprintf("load%d", i)))
	}
	db, err := tenancy.Open(driver, e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Pool().SetMaxOpenConns(8)

	workers := workerNodes(t)
	moved := tenants[0].Schema
	home, err := e.m.Placement(ctx, moved)
	if err != nil {
		t.Fatal(err)
	}
	away := workers[0]
	if away == home {
		away = workers[1]
	}

	var inserted [nTenants]atomic.Int64 // inserts that succeeded
	var reads, violations, missed, failures, ops atomic.Int64
	var firstErr sync.Once
	var errText atomic.Value
	fail := func(err error) {
		failures.Add(1)
		firstErr.Do(func() { errText.Store(err.Error()) })
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	const goroutines, minOps = 12, 150
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for op := 0; ; op++ {
				if op >= minOps {
					select {
					case <-done:
						return
					default:
					}
				}
				ops.Add(1)
				i := r.IntN(nTenants)
				tn := tenants[i]
				c := tctx(tn)
				if r.IntN(3) == 0 {
					var err error
					if mixed {
						// A transaction over the tenant's worker and the
						// coordinator's shared table.
						err = db.InTx(c, nil, func(tx *tenancy.Tx) error {
							if _, err := tx.ExecContext(c, `INSERT INTO tagged (tag, n) VALUES ($1, $2)`, tn.Schema, op); err != nil {
								return err
							}
							_, err := tx.ExecContext(c, `INSERT INTO shared.audit (tag) VALUES ($1)`, tn.Schema)
							return err
						})
					} else {
						_, err = db.ExecContext(c, `INSERT INTO tagged (tag, n) VALUES ($1, $2)`, tn.Schema, op)
					}
					if err != nil {
						fail(err)
						continue
					}
					inserted[i].Add(1)
					continue
				}
				// Rows confirmed before the read began must all be seen.
				floor := inserted[i].Load()
				var foreign, total int64
				if err := db.QueryRowContext(c, `SELECT count(*) FILTER (WHERE tag <> $1), count(*) FROM tagged`, tn.Schema).
					Scan(&foreign, &total); err != nil {
					fail(err)
					continue
				}
				reads.Add(1)
				if foreign != 0 {
					violations.Add(1)
				}
				if total < floor {
					missed.Add(1)
				}
			}
		}()
	}

	// Move the tenant away and back while the load runs (once it runs).
	for ops.Load() < goroutines {
		runtime.Gosched()
	}
	before := ops.Load()
	moveErr := func() error {
		if err := e.m.MoveTenant(ctx, moved, away); err != nil {
			return err
		}
		if got := e.citusNode(t, moved); got != away {
			return fmt.Errorf("after the first move %s is on %v, want %v", moved, got, away)
		}
		return e.m.MoveTenant(ctx, moved, home)
	}()
	during := ops.Load() - before
	close(done)
	wg.Wait()
	if during == 0 {
		t.Fatal("no statement ran while the tenant moved")
	}
	if moveErr != nil {
		t.Fatalf("move under load: %v", moveErr)
	}
	if got := e.citusNode(t, moved); got != home {
		t.Fatalf("%s is on %v after moving back, want %v", moved, got, home)
	}
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d statements failed under load during the moves; first: %v", n, errText.Load())
	}
	if n := violations.Load(); n != 0 {
		t.Fatalf("%d of %d reads saw another tenant's rows", n, reads.Load())
	}
	if n := missed.Load(); n != 0 {
		t.Errorf("%d of %d reads missed rows whose inserts had been confirmed", n, reads.Load())
	}
	for i, tn := range tenants {
		want := inserted[i].Load()
		got := e.count(t, fmt.Sprintf(`SELECT count(*) FROM %s.tagged WHERE tag = $1`, tn.Schema), tn.Schema)
		all := e.count(t, fmt.Sprintf(`SELECT count(*) FROM %s.tagged`, tn.Schema))
		if int64(got) != want || all != got {
			t.Errorf("%s: %d own rows, %d in all, want %d", tn.Schema, got, all, want)
		}
	}
	if reads.Load() < goroutines*minOps/2 {
		t.Fatalf("only %d reads checked", reads.Load())
	}
	t.Logf("%s: %d reads checked, %d rows inserted, %d statements during the 2 moves, 0 violations, 0 failures",
		driver, reads.Load(), sumInserted(inserted[:]), during)
}

func sumInserted(xs []atomic.Int64) int64 {
	var n int64
	for i := range xs {
		n += xs[i].Load()
	}
	return n
}
