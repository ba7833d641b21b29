package tenancypgx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/tenancypgx"
)

// outcome is what the globex read after acme's statements must give.
type outcome int

const (
	globexRows outcome = iota // exactly globex's seed rows
	anError                   // an error, no rows
	notAcme                   // an error or globex's rows: never anything of acme's
	exact                     // the case's exact values
)

type isoCase struct {
	name string
	// acme's statements, sent one by one outside a transaction; their errors are
	// part of the attack and ignored.
	acme []string
	// read is globex's read (default SELECT name FROM items); prep, if any, runs
	// before it in the same Tx.
	read string
	prep []string
	// globexFirst runs (and fails) before globex's read, outside a transaction.
	globexFirst []string
	want        map[tenancy.Mode]outcome
	// values of an exact outcome per mode ("admin:" + SQL: ask the admin pool).
	values map[tenancy.Mode]string
}

func both(o outcome) map[tenancy.Mode]outcome {
	return map[tenancy.Mode]outcome{tenancy.SessionMode: o, tenancy.TransactionMode: o}
}

func isoCases(e *env) []isoCase {
	return []isoCase{
		{name: "temp table shadowing items",
			acme: []string{"CREATE TEMP TABLE items AS SELECT * FROM items"},
			want: both(globexRows)},
		{name: "temp staging table filled, failure before truncate",
			acme: []string{
				"CREATE TEMP TABLE IF NOT EXISTS staging (name text)",
				"INSERT INTO staging SELECT name FROM items",
				"SELECT 1/0",
			},
			prep: []string{
				"CREATE TEMP TABLE IF NOT EXISTS staging (name text)",
				"INSERT INTO staging SELECT name FROM items",
			},
			read: "SELECT name FROM staging",
			want: both(globexRows)},
		{name: "reset undone by the failing statement it rode with",
			acme:        []string{"CREATE TEMP TABLE items AS SELECT * FROM items", "SET work_mem = '1234kB'"},
			globexFirst: []string{"SELECT 1/0", "SELECT * FROM nosuchtable"},
			want:        both(globexRows)},
		{name: "cursor WITH HOLD",
			acme: []string{"DECLARE c CURSOR WITH HOLD FOR SELECT name FROM items"},
			read: "FETCH ALL FROM c",
			want: both(anError)},
		{name: "SET SCHEMA",
			acme: []string{"SET SCHEMA 'globex'"},
			want: both(globexRows)},
		{name: "set_config session",
			acme: []string{"SELECT set_config('search_path', 'globex', false)"},
			want: both(globexRows)},
		{name: "UPDATE pg_settings",
			acme: []string{"UPDATE pg_settings SET setting = 'globex' WHERE name = 'search_path'"},
			want: both(globexRows)},
		{name: "function setting search_path",
			acme: []string{"SELECT moveit()"},
			want: both(globexRows)},
		{name: "procedure that commits, then moves search_path",
			// Runs in SessionMode with the extended protocol; elsewhere the
			// server refuses the COMMIT inside the batch (2D000).
			acme: []string{"CALL commit_and_move()"},
			want: both(globexRows)},
		{name: "SQL PREPARE then EXECUTE",
			acme: []string{"PREPARE q AS SELECT name FROM items"},
			read: "EXECUTE q",
			// TransactionMode leaves SQL prepared statements to the pooler; the
			// server re-plans q in globex's search_path.
			want: map[tenancy.Mode]outcome{tenancy.SessionMode: anError, tenancy.TransactionMode: notAcme}},
		{name: "SET ROLE",
			acme:   []string{"SET ROLE " + e.role},
			read:   "SELECT current_user::text",
			want:   both(exact),
			values: map[tenancy.Mode]string{tenancy.SessionMode: "admin:SELECT session_user::text", tenancy.TransactionMode: "admin:SELECT session_user::text"}},
		{name: "SET work_mem",
			acme: []string{"SET work_mem = '1234kB'"},
			read: "SHOW work_mem",
			want: both(exact),
			// TransactionMode leaves settings to the pooler (RESET ALL would undo
			// what PgBouncer tracks per client): documented, and pinned here.
			values: map[tenancy.Mode]string{tenancy.SessionMode: "admin:SHOW work_mem", tenancy.TransactionMode: "1234kB"}},
		{name: "text BEGIN, failure, text COMMIT",
			acme: []string{"BEGIN", "SET search_path TO globex", "SELECT 1/0", "COMMIT"},
			want: both(globexRows)},
		{name: "text BEGIN then SET LOCAL and set_config local",
			acme: []string{"BEGIN", "SET LOCAL search_path TO globex", "SELECT set_config('search_path', 'globex', true)"},
			want: both(globexRows)},
	}
}

// One connection, two tenants: whatever acme's statements leave on the session,
// globex's next statement sees only globex, and acme's own next statement is
// back in acme.
func TestIsolationSessionState(t *testing.T) {
	e := newEnv(t, 0)
	acmeRows, globexSeed := e.wantItems(t, acme), e.wantItems(t, globex)
	for _, m := range modes {
		for _, x := range []struct {
			name string
			mode pgx.QueryExecMode
		}{{"extended", pgx.QueryExecModeCacheStatement}, {"simple", pgx.QueryExecModeSimpleProtocol}} {
			for _, c := range isoCases(e) {
				t.Run(m.name+"/"+x.name+"/"+c.name, func(t *testing.T) {
					p := e.pool(t, 1, nil, x.mode, tenancypgx.WithMode(m.mode))
					ctxA, ctxG := ctxFor(acme), ctxFor(globex)
					// Warm the connection for acme, so that the attack runs on a
					// session the Pool knows as acme's.
					if got, err := collect(p.Query(ctxA, "SELECT name FROM items")); err != nil || !same(got, acmeRows) {
						t.Fatalf("acme warm-up: %v, %v", got, err)
					}
					for _, q := range c.acme {
						if _, err := p.Exec(ctxA, q); err != nil {
							t.Logf("acme %q: %v", q, err)
						}
					}
					for _, q := range c.globexFirst {
						if _, err := p.Exec(ctxG, q); err == nil {
							t.Fatalf("globex %q did not fail", q)
						}
					}
					read := c.read
					if read == "" {
						read = "SELECT name FROM items"
					}
					var got []string
					var err error
					if len(c.prep) > 0 {
						got, err = inTx(p, ctxG, c.prep, read)
					} else {
						got, err = collect(p.Query(ctxG, read))
					}
					switch c.want[m.mode] {
					case globexRows:
						if err != nil || !same(got, globexSeed) {
							t.Errorf("globex read %v, %v; want %v", got, err, globexSeed)
						}
					case anError:
						if err == nil || len(got) != 0 {
							t.Errorf("globex read %v, %v; want an error", got, err)
						}
					case notAcme:
						if err == nil && !same(got, globexSeed) {
							t.Errorf("globex read %v; want an error or %v", got, globexSeed)
						}
					case exact:
						want := c.values[m.mode]
						if len(want) > 6 && want[:6] == "admin:" {
							if err := e.admin.QueryRow(context.Background(), want[6:]).Scan(&want); err != nil {
								t.Fatal(err)
							}
						}
						if err != nil || !same(got, []string{want}) {
							t.Errorf("globex read %v, %v; want %q", got, err, want)
						}
					}
					for _, a := range acmeRows {
						for _, g := range got {
							if a == g {
								t.Errorf("globex saw acme's row %q", a)
							}
						}
					}
					// Both tenants are back in their own schema.
					for _, s := range []string{acme, globex, acme} {
						got, err := collect(p.Query(ctxFor(s), "SELECT name FROM "+s+".items EXCEPT SELECT name FROM items"))
						if err != nil || len(got) != 0 {
							t.Errorf("%s afterwards: rows of its own schema missing from its reads: %v, %v", s, got, err)
						}
						got, err = collect(p.Query(ctxFor(s), "SELECT current_schema()::text"))
						if err != nil || !same(got, []string{s}) {
							t.Errorf("%s afterwards: current_schema %v, %v", s, got, err)
						}
					}
				})
			}
		}
	}
}

// inTx runs prep then read in one transaction of ctx's tenant, and rolls back.
func inTx(p *tenancypgx.Pool, ctx context.Context, prep []string, read string) ([]string, error) {
	tx, err := p.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	for _, q := range prep {
		if _, err := tx.Exec(ctx, q); err != nil {
			return nil, err
		}
	}
	return collect(tx.Query(ctx, read))
}

// Inside a Tx nothing a statement does to search_path moves the rest of it.
func TestIsolationInsideTx(t *testing.T) {
	e := newEnv(t, 0)
	acmeRows, globexSeed := e.wantItems(t, acme), e.wantItems(t, globex)
	movers := []string{
		"SET search_path TO globex",
		"SET LOCAL search_path TO globex",
		"SELECT set_config('search_path', 'globex', true)",
		"SELECT set_config('search_path', 'globex', false)",
		"SET SCHEMA 'globex'",
		"SELECT moveit()",
		"UPDATE pg_settings SET setting = 'globex' WHERE name = 'search_path'",
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			p := e.pool(t, 1, nil, pgx.QueryExecModeExec, tenancypgx.WithMode(m.mode))
			ctxA := ctxFor(acme)
			for _, mv := range movers {
				for _, end := range []string{"commit", "rollback"} {
					tx, err := p.Begin(ctxA)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := tx.Exec(ctxA, mv); err != nil {
						t.Fatalf("%s: %v", mv, err)
					}
					got, err := collect(tx.Query(ctxA, "SELECT name FROM items"))
					if err != nil || !same(got, acmeRows) {
						t.Errorf("%s, then a read in the tx: %v, %v; want acme's rows", mv, got, err)
					}
					got, err = collect(tx.Query(context.Background(), "SELECT current_schema()::text"))
					if err != nil || !same(got, []string{acme}) {
						t.Errorf("%s, then current_schema: %v, %v", mv, got, err)
					}
					if end == "commit" {
						err = tx.Commit(ctxA)
					} else {
						err = tx.Rollback(ctxA)
					}
					if err != nil {
						t.Fatal(err)
					}
					got, err = collect(p.Query(ctxFor(globex), "SELECT name FROM items"))
					if err != nil || !same(got, globexSeed) {
						t.Errorf("%s, %s, then globex: %v, %v", mv, end, got, err)
					}
					got, err = collect(p.Query(ctxA, "SELECT name FROM items"))
					if err != nil || !same(got, acmeRows) {
						t.Errorf("%s, %s, then acme: %v, %v", mv, end, got, err)
					}
				}
			}
		})
	}
}

// Transaction control through a Tx's methods is refused before anything is
// sent; savepoints work, including recovery with ROLLBACK TO SAVEPOINT.
func TestTxControlRefused(t *testing.T) {
	e := newEnv(t, 0)
	acmeRows := e.wantItems(t, acme)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			var tc turnCounter
			p := e.pool(t, 1, &tc, pgx.QueryExecModeExec, tenancypgx.WithMode(m.mode))
			ctx := ctxFor(acme)
			tx, err := p.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			before := tc.load()
			for _, q := range []string{
				"COMMIT", "commit;", "  /* a /* nested */ comment */ COMMIT", "-- c\nEND", "ROLLBACK", "rollback and chain",
				"ABORT", "BEGIN", "START TRANSACTION", "PREPARE TRANSACTION 'x'", "(COMMIT)",
			} {
				if _, err := tx.Exec(ctx, q); !errors.Is(err, tenancypgx.ErrTxControl) {
					t.Errorf("Exec(%q): %v, want ErrTxControl", q, err)
				}
				if _, err := tx.Query(ctx, q); !errors.Is(err, tenancypgx.ErrTxControl) {
					t.Errorf("Query(%q): %v, want ErrTxControl", q, err)
				}
				var b pgx.Batch
				b.Queue(q)
				if err := tx.SendBatch(ctx, &b).Close(); !errors.Is(err, tenancypgx.ErrTxControl) {
					t.Errorf("SendBatch(%q): %v, want ErrTxControl", q, err)
				}
			}
			if d := tc.load() - before; d != 0 {
				t.Errorf("%d round trips for refused statements", d)
			}
			for _, q := range []string{"SAVEPOINT s", "INSERT INTO items VALUES (50, 'acme-50')", "SELECT 1/0"} {
				_, err := tx.Exec(ctx, q)
				if (err != nil) != (q == "SELECT 1/0") {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT s"); err != nil {
				t.Fatalf("ROLLBACK TO SAVEPOINT: %v", err)
			}
			got, err := collect(tx.Query(ctx, "SELECT name FROM items"))
			if err != nil || !same(got, acmeRows) {
				t.Errorf("after ROLLBACK TO: %v, %v", got, err)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A statement that ends the transaction anyway (here a multi-statement text
// under the simple protocol, SessionMode) ends the Tx: it refuses every later
// statement, and the connection is trusted by nobody. In TransactionMode the
// Pool uses the extended protocol whatever it was configured with, so the
// server refuses the text (42601) and the transaction is merely aborted.
func TestTxEndedByStatement(t *testing.T) {
	e := newEnv(t, 0)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			p := e.pool(t, 1, nil, pgx.QueryExecModeSimpleProtocol, tenancypgx.WithMode(m.mode))
			ctx := ctxFor(acme)
			tx, err := p.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tx.Exec(ctx, "SELECT 1; COMMIT; INSERT INTO items VALUES (90, 'acme-90')")
			if m.mode == tenancy.TransactionMode {
				var pe *pgconn.PgError
				if !errors.As(err, &pe) || pe.Code != "42601" {
					t.Fatalf("multi-statement text in TransactionMode: %v, want SQLSTATE 42601", err)
				}
				if err := tx.Rollback(ctx); err != nil {
					t.Fatal(err)
				}
				if got := e.wantItems(t, acme); len(got) != 2 {
					t.Errorf("acme items: %v", got)
				}
				return
			}
			if !errors.Is(err, tenancypgx.ErrTxEnded) {
				t.Fatalf("SELECT 1; COMMIT; INSERT: %v, want ErrTxEnded", err)
			}
			// The session-level SET outlived the COMMIT: the INSERT after it
			// landed in acme.
			if got := e.wantItems(t, acme); len(got) != 3 {
				t.Errorf("acme items: %v", got)
			}
			if _, err := e.admin.Exec(context.Background(), "DELETE FROM acme.items WHERE id = 90"); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, "DELETE FROM items"); !errors.Is(err, tenancypgx.ErrTxEnded) {
				t.Errorf("later statement: %v, want ErrTxEnded", err)
			}
			if err := tx.Commit(ctx); !errors.Is(err, tenancypgx.ErrTxEnded) {
				t.Errorf("Commit: %v, want ErrTxEnded", err)
			}
			if got := e.wantItems(t, acme); len(got) != 2 {
				t.Errorf("acme items: %v", got)
			}
			got, err := collect(p.Query(ctxFor(globex), "SELECT name FROM items"))
			if err != nil || !same(got, e.wantItems(t, globex)) {
				t.Errorf("globex afterwards: %v, %v", got, err)
			}
		})
	}
}

// Outside a Tx, a statement that leaves the server in a transaction is rolled
// back and reported (SessionMode); in TransactionMode the Pool's own transaction
// around the statement absorbs a BEGIN.
func TestStatementOpeningTransaction(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(t, 1, nil, pgx.QueryExecModeExec)
	ctx := ctxFor(acme)
	if _, err := p.Exec(ctx, "BEGIN"); !errors.Is(err, tenancypgx.ErrOpenedTx) {
		t.Errorf("BEGIN: %v, want ErrOpenedTx", err)
	}
	var b pgx.Batch
	b.Queue("BEGIN")
	b.Queue("INSERT INTO items VALUES (60, 'acme-60')")
	if err := p.SendBatch(ctx, &b).Close(); !errors.Is(err, tenancypgx.ErrOpenedTx) {
		t.Errorf("batch with BEGIN: %v, want ErrOpenedTx", err)
	}
	if got := e.wantItems(t, acme); len(got) != 2 {
		t.Errorf("the batch's insert was not rolled back: %v", got)
	}
	tp := e.pool(t, 1, nil, pgx.QueryExecModeExec, tenancypgx.WithMode(tenancy.TransactionMode))
	if _, err := tp.Exec(ctx, "BEGIN"); err != nil {
		t.Errorf("TransactionMode BEGIN: %v", err)
	}
	got, err := collect(tp.Query(ctxFor(globex), "SELECT name FROM items"))
	if err != nil || !same(got, e.wantItems(t, globex)) {
		t.Errorf("globex afterwards: %v, %v", got, err)
	}
}
