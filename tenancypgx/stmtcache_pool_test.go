package tenancypgx_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/go-tenancy/tenancy/tenancypgx"
)

// The Pool's own statement cache (stmtcache.go), on a pool of one connection so
// that every statement shares one session.

// prepStmt is one row of pg_prepared_statements.
type prepStmt struct {
	name, statement string
	fromSQL         bool
}

// prepared lists the prepared statements of the pool's only connection, read
// through the unscoped pgxpool (which prepares nothing in QueryExecModeExec).
func prepared(t *testing.T, p *tenancypgx.Pool) []prepStmt {
	t.Helper()
	rows, err := p.Pool().Query(context.Background(), "SELECT name, statement, from_sql FROM pg_prepared_statements ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (prepStmt, error) {
		var s prepStmt
		return s, r.Scan(&s.name, &s.statement, &s.fromSQL)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// cachedFor returns the names of the Pool's statements for sql.
func cachedFor(t *testing.T, p *tenancypgx.Pool, sql string) []string {
	t.Helper()
	var names []string
	for _, s := range prepared(t, p) {
		if s.statement == sql {
			if s.fromSQL || !strings.HasPrefix(s.name, "tenancypgx_") {
				t.Fatalf("statement %q: name %q, from_sql %v", sql, s.name, s.fromSQL)
			}
			names = append(names, s.name)
		}
	}
	return names
}

// usersPool is an env with usersTables and a Pool of one connection.
func usersPool(t *testing.T) (*env, *tenancypgx.Pool) {
	t.Helper()
	e := newEnv(t, 0)
	usersTables(t, e)
	return e, e.pool(t, 1, nil, pgx.QueryExecModeExec)
}

func wantShape(t *testing.T, p *tenancypgx.Pool, schema, want string) {
	t.Helper()
	got, err := shape(p.Query(ctxFor(schema), userSQL, 1))
	if err != nil {
		t.Fatalf("%s: %v", schema, err)
	}
	if got != want {
		t.Fatalf("%s: got %s, want %s", schema, got, want)
	}
}

// A statement is prepared once per connection for its tenant and reused; a
// switch to another tenant drops it (the reset's DEALLOCATE ALL) and prepares
// the other tenant's, whose table has another shape.
func TestStatementCachePerTenant(t *testing.T) {
	_, p := usersPool(t)
	var first []string
	for i := 0; i < 3; i++ {
		wantShape(t, p, acme, wantUser[acme])
		names := cachedFor(t, p, userSQL)
		if len(names) != 1 {
			t.Fatalf("acme, round %d: %d cached statements for the SQL, want 1", i, len(names))
		}
		if first == nil {
			first = names
		} else if names[0] != first[0] {
			t.Fatalf("acme, round %d: statement %s replaced %s without a switch", i, names[0], first[0])
		}
	}
	for round := 0; round < 3; round++ {
		for _, s := range []string{globex, acme} {
			wantShape(t, p, s, wantUser[s])
			wantShape(t, p, s, wantUser[s])
			names := cachedFor(t, p, userSQL)
			if len(names) != 1 || names[0] == first[0] {
				t.Fatalf("%s, round %d: cached %v (acme's first was %s): want one new statement", s, round, names, first[0])
			}
			first = names
		}
	}
}

// A migration that changes a cached statement's result (a column added, a
// column's type changed) while the connection holds it: the next use gets the
// new columns, no error, and the stale statement is closed.
func TestStatementCacheAfterMigration(t *testing.T) {
	e, p := usersPool(t)
	wantShape(t, p, acme, wantUser[acme])
	wantShape(t, p, acme, wantUser[acme])
	old := cachedFor(t, p, userSQL)
	for _, step := range []struct{ ddl, want string }{
		{"ALTER TABLE acme.users ADD COLUMN name text DEFAULT 'Acme'", "id,email,name=1,a@acme,Acme"},
		{"ALTER TABLE acme.users ALTER COLUMN id TYPE bigint", "id,email,name=1,a@acme,Acme"},
		{"ALTER TABLE acme.users DROP COLUMN email", "id,name=1,Acme"},
	} {
		if _, err := e.admin.Exec(context.Background(), step.ddl); err != nil {
			t.Fatal(err)
		}
		wantShape(t, p, acme, step.want)
		wantShape(t, p, acme, step.want)
		now := cachedFor(t, p, userSQL)
		if len(now) != 1 || now[0] == old[0] {
			t.Fatalf("after %q: cached %v, before %v: want the stale one closed and one new", step.ddl, now, old)
		}
		old = now
	}
	// The other tenant's table was not touched.
	wantShape(t, p, globex, wantUser[globex])
}

// The tenant's own SQL drops the cached statements (DEALLOCATE ALL, or one by
// name): the next use prepares the statement again, no error.
func TestStatementCacheDeallocatedByTenant(t *testing.T) {
	_, p := usersPool(t)
	ctx := ctxFor(acme)
	wantShape(t, p, acme, wantUser[acme])
	wantShape(t, p, acme, wantUser[acme])
	for i := 0; i < 2; i++ {
		if _, err := p.Exec(ctx, "DEALLOCATE ALL"); err != nil {
			t.Fatalf("DEALLOCATE ALL, %d: %v", i, err)
		}
		if n := len(prepared(t, p)); n != 0 {
			t.Fatalf("after DEALLOCATE ALL: %d statements", n)
		}
		wantShape(t, p, acme, wantUser[acme])
		wantShape(t, p, acme, wantUser[acme])
	}
	names := cachedFor(t, p, userSQL)
	if len(names) != 1 {
		t.Fatalf("cached %v", names)
	}
	if _, err := p.Exec(ctx, `DEALLOCATE "`+names[0]+`"`); err != nil {
		t.Fatal(err)
	}
	wantShape(t, p, acme, wantUser[acme])
	if now := cachedFor(t, p, userSQL); len(now) != 1 || now[0] == names[0] {
		t.Fatalf("after DEALLOCATE by name: cached %v, dropped %s", now, names[0])
	}
}

// An attacker who controls acme's SQL replaces acme's cached statement with an
// SQL-level one of the same name. It can only ever run for acme: at the switch
// to globex the reset drops it, and globex's statement is its own.
func TestStatementCacheHijackStaysInTenant(t *testing.T) {
	_, p := usersPool(t)
	ctx := ctxFor(acme)
	wantShape(t, p, acme, wantUser[acme])
	names := cachedFor(t, p, userSQL)
	if len(names) != 1 {
		t.Fatalf("cached %v", names)
	}
	for _, q := range []string{
		`DEALLOCATE "` + names[0] + `"`,
		`PREPARE "` + names[0] + `"(int) AS SELECT $1 AS id, 'hijacked'::text AS email, 'x'::text AS name`,
	} {
		if _, err := p.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// acme now runs the attacker's statement (or fails): acme's own business.
	got, err := shape(p.Query(ctx, userSQL, 1))
	t.Logf("acme after the hijack: %q, %v", got, err)
	if strings.Contains(got, "globex") {
		t.Fatalf("acme got globex's row: %s", got)
	}
	for i := 0; i < 2; i++ {
		wantShape(t, p, globex, wantUser[globex])
		for _, s := range prepared(t, p) {
			if s.fromSQL {
				t.Fatalf("globex's session holds the SQL-level statement %s: %s", s.name, s.statement)
			}
		}
	}
	wantShape(t, p, acme, wantUser[acme])
}

// A cached statement that fails (a unique violation) stays cached, and the
// connection stays the tenant's: the same statement is reused, not prepared
// again under a new name after a reset. (A statement that fails in the flight
// that switched the connection is not kept: the reset was undone with it, so
// the next statement there resets again.)
func TestStatementCacheFailingStatement(t *testing.T) {
	_, p := usersPool(t)
	ctx := ctxFor(acme)
	wantShape(t, p, acme, wantUser[acme]) // the connection is acme's
	const ins = "INSERT INTO users (id, email) VALUES ($1, $2)"
	var first []string
	for i := 0; i < 4; i++ {
		_, err := p.Exec(ctx, ins, 1, "dup")
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23505" {
			t.Fatalf("insert %d: %v, want 23505", i, err)
		}
		names := cachedFor(t, p, ins)
		if len(names) != 1 || first != nil && names[0] != first[0] {
			t.Fatalf("insert %d: cached %v, first %v", i, names, first)
		}
		first = names
	}
	if _, err := p.Exec(ctx, ins, 2, "b@acme"); err != nil {
		t.Fatal(err)
	}
	if names := cachedFor(t, p, ins); len(names) != 1 || names[0] != first[0] {
		t.Fatalf("after the good insert: cached %v, want %v", names, first)
	}
	var n int
	if err := p.QueryRow(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil || n != 2 {
		t.Fatalf("acme.users: %d rows, %v; want 2", n, err)
	}
}

// The capacity bounds the statements kept per connection; beyond it statements
// run unnamed. Capacity 0, named arguments and a pgx tracer keep nothing.
func TestStatementCacheCapacityAndBypass(t *testing.T) {
	e := newEnv(t, 0)
	queries := []string{
		"SELECT name FROM items WHERE id = $1",
		"SELECT name FROM items WHERE id >= $1 ORDER BY id LIMIT 1",
		"SELECT name FROM items WHERE id <= $1 ORDER BY id DESC LIMIT 1",
	}
	run := func(t *testing.T, p *tenancypgx.Pool, n int) {
		t.Helper()
		for i := 0; i < 2; i++ {
			for _, q := range queries {
				var name string
				if err := p.QueryRow(ctxFor(acme), q, 1).Scan(&name); err != nil || name != "acme-1" {
					t.Fatalf("%s: %q, %v", q, name, err)
				}
			}
		}
		if got := len(prepared(t, p)); got != n {
			t.Fatalf("%d statements prepared, want %d", got, n)
		}
	}
	t.Run("capacity=2", func(t *testing.T) {
		run(t, e.pool(t, 1, nil, pgx.QueryExecModeExec, tenancypgx.WithStatementCache(2)), 2)
	})
	t.Run("capacity=0", func(t *testing.T) {
		run(t, e.pool(t, 1, nil, pgx.QueryExecModeExec, tenancypgx.WithStatementCache(0)), 0)
	})
	t.Run("simple-protocol", func(t *testing.T) { run(t, e.pool(t, 1, nil, pgx.QueryExecModeSimpleProtocol), 0) })
	t.Run("named-args", func(t *testing.T) {
		p := e.pool(t, 1, nil, pgx.QueryExecModeExec)
		var name string
		if err := p.QueryRow(ctxFor(acme), "SELECT name FROM items WHERE id = @id", pgx.NamedArgs{"id": 2}).Scan(&name); err != nil || name != "acme-2" {
			t.Fatalf("%q, %v", name, err)
		}
		if got := len(prepared(t, p)); got != 0 {
			t.Fatalf("%d statements prepared, want 0", got)
		}
	})
	t.Run("tracer", func(t *testing.T) {
		pc := e.poolConfig(t, 1, pgx.QueryExecModeExec)
		tr := &countingTracer{}
		pc.ConnConfig.Tracer = tr
		p, err := tenancypgx.NewWithConfig(context.Background(), pc)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		run(t, p, 0)
		if tr.batches == 0 {
			t.Fatal("the tracer saw no batch")
		}
	})
	if _, err := tenancypgx.New(context.Background(), e.dsn, tenancypgx.WithStatementCache(-1)); err == nil {
		t.Fatal("WithStatementCache(-1): no error")
	}
}

// countingTracer is a pgx tracer that counts the batches it sees.
type countingTracer struct{ batches int }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *countingTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.batches++
	return ctx
}
func (c *countingTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *countingTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// A tenant's statement that moves search_path for the rest of the session (a
// function's side effect, or set_config by hand) must not move the tenant's
// next cached statement: PostgreSQL re-parses a cached statement under the
// search_path in effect when it runs, so every use is preceded by the SET.
func TestStatementCacheAfterSearchPathMoved(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(t, 1, nil, pgx.QueryExecModeExec)
	ctx := ctxFor(acme)
	const q = "SELECT name FROM items"
	want := e.wantItems(t, acme)
	for _, move := range []string{
		"SELECT moveit()",
		"SELECT pg_catalog.set_config('search_path', 'globex', false)",
		"SET search_path TO globex",
	} {
		for i := 0; i < 2; i++ {
			if got, err := collect(p.Query(ctx, q)); err != nil || !same(got, want) {
				t.Fatalf("before %q: %v, %v; want %v", move, got, err, want)
			}
		}
		if _, err := p.Exec(ctx, move); err != nil {
			t.Fatalf("%s: %v", move, err)
		}
		if got, err := collect(p.Query(ctx, q)); err != nil || !same(got, want) {
			t.Fatalf("after %q: %v, %v; want %v", move, got, err, want)
		}
		if n := len(cachedFor(t, p, q)); n != 1 {
			t.Fatalf("after %q: %d cached statements, want 1", move, n)
		}
	}
}

// An innocent author's temporary table that shadows a tenant table, created
// after the statement was cached: as with pgx's own cache, PostgreSQL re-parses
// the cached statement only if the session had no temporary schema yet when it
// was parsed (the search_path then changes); otherwise it keeps reading the
// tenant's table. Either way the rows are the tenant's own, and the temporary
// table is gone for the next tenant. The package documentation states this.
func TestStatementCacheTempTableShadow(t *testing.T) {
	e := newEnv(t, 0)
	const q = "SELECT name FROM items"
	for _, c := range []struct {
		name string
		pre  []string
		want []string
	}{
		{"no-temp-schema-yet", nil, []string{"temp"}},
		{"temp-schema-exists", []string{"CREATE TEMP TABLE x (a int)", "DROP TABLE x"}, e.wantItems(t, acme)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := e.pool(t, 1, nil, pgx.QueryExecModeExec)
			ctx := ctxFor(acme)
			for _, s := range c.pre {
				if _, err := p.Exec(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 2; i++ {
				if got, err := collect(p.Query(ctx, q)); err != nil || !same(got, e.wantItems(t, acme)) {
					t.Fatalf("before: %v, %v", got, err)
				}
			}
			for _, s := range []string{"CREATE TEMP TABLE items (id int, name text)", "INSERT INTO items VALUES (1, 'temp')"} {
				if _, err := p.Exec(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := collect(p.Query(ctx, q)); err != nil || !same(got, c.want) {
				t.Fatalf("after the temporary table: %v, %v; want %v", got, err, c.want)
			}
			if got, err := collect(p.Query(ctxFor(globex), q)); err != nil || !same(got, e.wantItems(t, globex)) {
				t.Fatalf("globex: %v, %v", got, err)
			}
		})
	}
}

// Faults in a cached flight: the backend killed while the connection holds
// cached statements, and a cached statement cancelled mid-run. The next
// statements run, in their tenant's schema, and nothing is retried that ran.
func TestStatementCacheFaults(t *testing.T) {
	e := newEnv(t, 0)
	p := e.pool(t, 1, nil, pgx.QueryExecModeExec)
	const q = "SELECT name FROM items"
	read := func(s string) error {
		got, err := collect(p.Query(ctxFor(s), q))
		if err == nil && !same(got, e.wantItems(t, s)) {
			t.Fatalf("%s read %v", s, got)
		}
		return err
	}
	for i := 0; i < 2; i++ {
		if err := read(acme); err != nil {
			t.Fatal(err)
		}
	}
	pid := backendPID(t, p, acme)
	if _, err := e.admin.Exec(context.Background(), "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	// The statement on the killed connection fails (or pgxpool has already
	// replaced it); the one after runs on a new connection.
	_ = read(acme)
	for _, s := range []string{acme, globex, acme} {
		if err := read(s); err != nil {
			t.Fatalf("%s after the kill: %v", s, err)
		}
	}
	if backendPID(t, p, acme) == pid {
		t.Fatal("still on the killed backend")
	}

	// A cached statement cancelled while it runs.
	const slow = "SELECT count(*) FROM items, pg_sleep($1::float8)"
	var n int
	for i := 0; i < 2; i++ {
		if err := p.QueryRow(ctxFor(acme), slow, 0.0).Scan(&n); err != nil || n != 2 {
			t.Fatalf("slow, %d: %d, %v", i, n, err)
		}
	}
	ctx, cancel := context.WithCancel(ctxFor(acme))
	go func() {
		// Cancel once the statement is running on the server.
		for {
			var running bool
			if err := e.admin.QueryRow(context.Background(),
				"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query = $1 AND state = 'active')", slow).Scan(&running); err != nil || running {
				break
			}
		}
		cancel()
	}()
	if err := p.QueryRow(ctx, slow, 30.0).Scan(&n); err == nil {
		t.Fatal("cancelled statement: no error")
	}
	cancel()
	for _, s := range []string{acme, globex, acme} {
		if err := read(s); err != nil {
			t.Fatalf("%s after the cancel: %v", s, err)
		}
	}
	if err := p.QueryRow(ctxFor(acme), slow, 0.0).Scan(&n); err != nil || n != 2 {
		t.Fatalf("slow after the cancel: %d, %v", n, err)
	}
}

// backendPID returns the server process that ran a statement for schema.
func backendPID(t *testing.T, p *tenancypgx.Pool, schema string) int32 {
	t.Helper()
	var pid int32
	if err := p.QueryRow(ctxFor(schema), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}
