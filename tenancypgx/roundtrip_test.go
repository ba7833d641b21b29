package tenancypgx_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/tenancypgx"
)

var execModes = []struct {
	name string
	mode pgx.QueryExecMode
}{
	{"CacheStatement", pgx.QueryExecModeCacheStatement},
	{"CacheDescribe", pgx.QueryExecModeCacheDescribe},
	{"DescribeExec", pgx.QueryExecModeDescribeExec},
	{"Exec", pgx.QueryExecModeExec},
	{"SimpleProtocol", pgx.QueryExecModeSimpleProtocol},
}

// Every statement is one round trip, whether its connection switches tenant
// (and so carries the reset) or not, in both modes and every QueryExecMode.
func TestRoundTrips(t *testing.T) {
	e := newEnv(t, 0)
	for _, m := range modes {
		for _, x := range execModes {
			t.Run(m.name+"/"+x.name, func(t *testing.T) {
				var tc turnCounter
				p := e.pool(t, 1, &tc, x.mode, tenancypgx.WithMode(m.mode))
				if err := p.Ping(context.Background()); err != nil {
					t.Fatal(err)
				}
				turns := func(what string, want int64, f func() error) {
					t.Helper()
					before := tc.load()
					if err := f(); err != nil && want > 0 {
						t.Fatalf("%s: %v", what, err)
					}
					if got := tc.load() - before; got != want {
						t.Errorf("%s: %d round trips, want %d", what, got, want)
					}
				}
				for _, switching := range []bool{false, true} {
					for i := 0; i < 3; i++ {
						s := acme
						if switching && i%2 == 1 {
							s = globex
						}
						ctx := ctxFor(s)
						turns("Exec", 1, func() error { _, err := p.Exec(ctx, "UPDATE items SET name = name WHERE id = 0"); return err })
						turns("Exec args", 1, func() error { _, err := p.Exec(ctx, "UPDATE items SET name = name WHERE id = $1", 0); return err })
						turns("Query", 1, func() error { _, err := collect(p.Query(ctx, "SELECT name FROM items")); return err })
						turns("QueryRow args", 1, func() error {
							var n string
							return p.QueryRow(ctx, "SELECT name FROM items WHERE id = $1", 1).Scan(&n)
						})
						turns("SendBatch", 1, func() error {
							var b pgx.Batch
							b.Queue("SELECT 1")
							b.Queue("SELECT name FROM items WHERE id = $1", 1)
							b.Queue("UPDATE items SET name = name WHERE id = 0")
							return p.SendBatch(ctx, &b).Close()
						})
						var tx *tenancypgx.Tx
						turns("Begin", 1, func() (err error) { tx, err = p.Begin(ctx); return err })
						turns("Tx.Exec", 1, func() error { _, err := tx.Exec(ctx, "UPDATE items SET name = name WHERE id = $1", 0); return err })
						turns("Tx.Query", 1, func() error { _, err := collect(tx.Query(ctx, "SELECT name FROM items")); return err })
						turns("Commit", 1, func() error { return tx.Commit(ctx) })
					}
				}
				// A failing statement: one round trip in SessionMode; in
				// TransactionMode the server is left in the failed transaction,
				// which costs a ROLLBACK.
				want := int64(1)
				if m.mode == tenancy.TransactionMode {
					want = 2
				}
				turns("failing Exec", want, func() error {
					if _, err := p.Exec(ctxFor(acme), "SELECT 1/0"); err == nil {
						t.Error("no error")
					}
					return nil
				})
			})
		}
	}
}

// CopyFrom costs pgx's own round trips plus the flight that puts the session in
// the schema (and, in TransactionMode, the COMMIT).
func TestCopyFromRoundTrips(t *testing.T) {
	e := newEnv(t, 0)
	var rawTC turnCounter
	pc, err := pgxpool.ParseConfig(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	pc.MaxConns = 1
	pc.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pc.ConnConfig.DialFunc = dialCounting(&rawTC)
	raw, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	// pgconn reads while it writes the COPY data, so a read can land between two
	// of its writes and count as a turn that is no round trip (raw pgx's own
	// count is 2 or 3 turns, more under load). So raw pgx's and tenancypgx's
	// copies alternate, and the fewest extra turns over the pairs is compared:
	// both sides of a pair see the same minute of the machine.
	turns := func(tc *turnCounter, copy func() error) int64 {
		before := tc.load()
		if err := copy(); err != nil {
			t.Fatal(err)
		}
		return tc.load() - before
	}
	id := 300
	rawCopy := func() error {
		id++
		_, err := raw.CopyFrom(context.Background(), pgx.Identifier{"acme", "items"}, []string{"id", "name"}, pgx.CopyFromRows([][]any{{id, "acme-raw"}}))
		return err
	}
	for _, m := range modes {
		var tc turnCounter
		p := e.pool(t, 1, &tc, pgx.QueryExecModeExec, tenancypgx.WithMode(m.mode))
		if err := p.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		tenancyCopy := func() error {
			id++
			_, err := p.CopyFrom(ctxFor(acme), pgx.Identifier{"items"}, []string{"id", "name"}, pgx.CopyFromRows([][]any{{id, "acme-310"}}))
			return err
		}
		extra := int64(1) // the flight that puts the session in the schema
		if m.mode == tenancy.TransactionMode {
			extra++ // and the COMMIT
		}
		least := int64(-1)
		for i := 0; i < 10; i++ {
			r, got := turns(&rawTC, rawCopy), turns(&tc, tenancyCopy)
			if got < 1 {
				t.Fatalf("%s: CopyFrom counted %d round trips", m.name, got)
			}
			if d := got - r; least < 0 || d < least {
				least = d
			}
		}
		// A bound, not an equality: a pair may count one turn less on either side.
		if least > extra {
			t.Errorf("%s: CopyFrom costs at least %d round trips more than raw pgx's in every one of 10 pairs, want at most %d", m.name, least, extra)
		}
	}
	// CopyFrom names the tenant's table, never another schema's.
	p := e.pool(t, 1, nil, pgx.QueryExecModeExec)
	if _, err := p.CopyFrom(ctxFor(acme), pgx.Identifier{"globex", "items"}, []string{"id", "name"}, pgx.CopyFromRows([][]any{{400, "x"}})); err == nil {
		t.Error("CopyFrom into another schema accepted")
	}
}
