package tenancy_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go-tenancy/tenancy/internal/rtcount"
	"github.com/go-tenancy/tenancy/internal/session"
)

// The by-hand variants of BenchmarkQuery answer one question: of what tenancypgx
// costs against raw pgx, how much is the library's code and how much is the SQL
// that isolation needs? Each writes, on a plain pgxpool.Pool and without this
// module's packages (but internal/session's SQL text), what a user would write to
// get part of the same guarantee, and sends it in one batch as tenancypgx does:
//
//   - hand-exec: raw-pgx's schema-qualified statement in pgx's
//     QueryExecModeExec: parsed and planned every time, no SET. What giving up
//     pgx's statement cache costs alone.
//   - hand-set: SET search_path TO "tN" in front of every statement, the
//     statement unqualified. No reset: sessions keep what a tenant leaves on
//     them. The per-statement SET alone.
//   - hand-isolated: tenancypgx's flight written out: the session reset when the
//     connection last served another schema (or nothing yet), the SET, the
//     statement, the connection's owner recorded after a clean batch.
//   - hand-cached: the fastest any design that sets search_path with every
//     statement can be: hand-set, but the statement is a named one prepared
//     for its schema on its connection (during the warm-up, after a SET to
//     that schema) and reused with pgx's binary formats, as pgx's statement
//     cache would; no reset, so prepared statements survive switches. It bounds
//     a per-connection, per-schema plan cache from above: a cache that keeps
//     the isolation would also pay the reset at a switch and lose its
//     statements there (the reset drops them).
//
// All four use pgx's QueryExecModeExec, as tenancypgx does. pgx's default statement
// cache cannot be used this way: it prepares a statement it has not cached in a
// round trip before the batch, so before the batch's SET, in whatever schema the
// session is on (a new session: "relation users does not exist"; a session
// another tenant used: that tenant's table, whose shape may differ).
//
// tenancypgx ÷ hand-isolated is then the library's own cost, and hand-isolated ÷
// raw-pgx the price of the isolation's SQL, in three steps: hand-exec (no cached
// plan), hand-set (+ the SET), hand-isolated (+ the reset at a switch).

// handVariants returns the by-hand variants the -tenancy.variants flag asks for.
func handVariants(b *testing.B, sc benchScenario, u *url.URL, schemas []string, rawSQL map[string][]string) []*benchVariant {
	b.Helper()
	var vs []*benchVariant
	for _, h := range []struct {
		name               string
		set, reset, cached bool
	}{
		{"hand-exec", false, false, false},
		{"hand-set", true, false, false},
		{"hand-isolated", true, true, false},
		{"hand-cached", true, false, true},
	} {
		if benchWanted(h.name) {
			vs = append(vs, handVariant(b, sc, u, schemas, rawSQL, h.name, h.set, h.reset, h.cached))
		}
	}
	return vs
}

func handVariant(b *testing.B, sc benchScenario, u *url.URL, schemas []string, rawSQL map[string][]string, name string, set, reset, cached bool) *benchVariant {
	b.Helper()
	rt := &rtcount.Counter{}
	cfg := benchPGXConfig(b, u, sc.conns, rt)
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	sets := make([]string, len(schemas))
	for i, s := range schemas {
		sets[i] = session.SetPath(s, nil, false)
	}
	// The extended protocol takes one statement per Parse.
	resetStmts := strings.Split(session.Reset(false), "; ")
	var owners sync.Map   // *pgx.Conn → the schema its last clean batch ran in
	var prepared sync.Map // *pgx.Conn → map[string]bool of its statement names
	// prepare readies the named statement of q for schema i on c if it is not
	// yet: a SET, then a Prepare (two round trips, in the warm-up).
	prepare := func(ctx context.Context, c *pgxpool.Conn, q benchQuery, i int) (string, error) {
		name := fmt.Sprintf("hand_%d_%s", i, q.name)
		m, _ := prepared.LoadOrStore(c.Conn(), map[string]bool{})
		if m.(map[string]bool)[name] {
			return name, nil
		}
		if _, err := c.Exec(ctx, sets[i]); err != nil {
			return "", err
		}
		if _, err := c.Conn().Prepare(ctx, name, fmt.Sprintf(q.sql, "")); err != nil {
			return "", err
		}
		m.(map[string]bool)[name] = true
		return name, nil
	}
	runOn := func(ctx context.Context, c *pgxpool.Conn, q benchQuery, i, id int) error {
		var batch pgx.Batch
		if reset {
			if owner, _ := owners.Load(c.Conn()); owner != schemas[i] {
				owners.Delete(c.Conn())
				for _, s := range resetStmts {
					batch.Queue(s)
				}
			}
		}
		query := rawSQL[q.name][i]
		if set {
			batch.Queue(sets[i])
			query = fmt.Sprintf(q.sql, "")
		}
		if cached {
			// pgx runs a batch item whose SQL is the name of a statement
			// prepared on the connection as that statement.
			var err error
			if query, err = prepare(ctx, c, q, i); err != nil {
				return err
			}
		}
		if q.one {
			batch.Queue(query, id)
		} else {
			batch.Queue(query)
		}
		br := c.SendBatch(ctx, &batch)
		for n := batch.Len() - 1; n > 0; n-- {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return err
			}
		}
		err := runPGXQuery(ctx, batchQuerier{br}, "", q.one, id)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err == nil && reset {
			owners.Store(c.Conn(), schemas[i])
		}
		return err
	}
	return &benchVariant{
		name: name, raw: "raw-pgx", rt: rt,
		run: func(q benchQuery, i, id int) error {
			ctx := context.Background()
			c, err := pool.Acquire(ctx)
			if err != nil {
				return err
			}
			defer c.Release()
			return runOn(ctx, c, q, i, id)
		},
		// Every connection runs every tenant's statement once, as raw-pgx's
		// warm-up does, so that each connection has an owner before the timed run.
		warm: func(q benchQuery) error {
			return warmPGX(pool, sc.conns, func(ctx context.Context, c *pgxpool.Conn) error {
				for i := range schemas {
					if err := runOn(ctx, c, q, i, 1); err != nil {
						return err
					}
				}
				return nil
			})
		},
		ping:  pool.Ping,
		close: pool.Close,
	}
}

// batchQuerier reads the next result of a batch as runPGXQuery's query.
type batchQuerier struct{ br pgx.BatchResults }

func (q batchQuerier) Query(context.Context, string, ...any) (pgx.Rows, error) { return q.br.Query() }
func (q batchQuerier) QueryRow(context.Context, string, ...any) pgx.Row        { return q.br.QueryRow() }
