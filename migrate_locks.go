package tenancy

import (
	"context"
	"database/sql"
	"sync"
)

// A tenant's creation in one transaction locks every object it creates until it
// commits: about two thousand locks for a product with a few hundred
// migrations. PostgreSQL's lock table has room for max_locks_per_transaction ×
// (max_connections + max_prepared_transactions) locks (6,400 by default) for all
// sessions together, and a transaction that finds it full fails with "out of
// shared memory" (53200): sixteen sign-ups at once exhausted it. So creations
// share a lock budget, half of the server's lock table, each weighing the
// number of locks a creation took (measured on the first one, which runs
// alone); those that do not fit wait for others to finish. The budget is per
// Migrator (per process): replicas creating tenants at the same moment each
// have their own.

// createGate is the lock budget of a Migrator's creations.
type createGate struct {
	mu       sync.Mutex
	cond     *sync.Cond
	budget   int // 0: not read yet
	used     int
	estimate int // locks one creation takes; 0: not measured yet
}

// acquire waits until a creation fits in the budget (or ctx ends), and returns
// its weight, to pass to release.
func (g *createGate) acquire(ctx context.Context, m *Migrator) (int, error) {
	g.mu.Lock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	if g.budget == 0 {
		g.mu.Unlock()
		budget, err := m.lockBudget(ctx)
		if err != nil {
			return 0, err
		}
		g.mu.Lock()
		if g.budget == 0 {
			g.budget = budget
		}
	}
	w := g.budget // unmeasured: alone
	if g.estimate > 0 {
		w = min(g.estimate, g.budget)
	}
	stop := context.AfterFunc(ctx, func() {
		g.mu.Lock()
		g.cond.Broadcast()
		g.mu.Unlock()
	})
	defer stop()
	for g.used > 0 && g.used+w > g.budget {
		if err := ctx.Err(); err != nil {
			g.mu.Unlock()
			return 0, err
		}
		g.cond.Wait()
		if g.estimate > 0 {
			w = min(g.estimate, g.budget)
		}
	}
	g.used += w
	g.mu.Unlock()
	return w, nil
}

func (g *createGate) release(w int) {
	g.mu.Lock()
	g.used -= w
	g.cond.Broadcast()
	g.mu.Unlock()
}

// measured reports whether a creation's lock count is known.
func (g *createGate) measured() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.estimate > 0
}

// observe records the number of locks a creation holds before its commit (with
// a margin: the next tenant's names are longer or its rows more).
func (g *createGate) observe(n int) {
	g.mu.Lock()
	g.estimate = max(g.estimate, n+n/8+8)
	g.cond.Broadcast()
	g.mu.Unlock()
}

// lockBudget reads half the size of the server's lock table.
func (m *Migrator) lockBudget(ctx context.Context) (int, error) {
	var n int
	err := m.db.Shared().QueryRowxContext(unscoped(ctx), `SELECT current_setting('max_locks_per_transaction')::int *
		(current_setting('max_connections')::int + current_setting('max_prepared_transactions')::int) / 2`).Scan(&n)
	if err != nil {
		return 0, err
	}
	return max(n, 1), nil
}

// countLocks returns how many locks tx's session holds.
func countLocks(ctx context.Context, tx *sql.Tx) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pg_catalog.pg_locks WHERE pid = pg_backend_pid()`).Scan(&n)
	return n, err
}
