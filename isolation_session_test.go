package tenancy_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/rtcount"
)

// This file is the adversarial suite for session state: what one tenant's
// statements can leave on a pooled PostgreSQL session besides search_path
// (temporary tables, held cursors, SQL prepared statements, settings, roles, text
// transactions) and every way a statement can move search_path. Each test runs on a
// pool of ONE connection, so that the second tenant's statement is certain to get
// the session the first one used, for both drivers and every isolation variant.
//
// Two tenants, acme and globex, each have an items table whose rows are tagged with
// the tenant's name; a read that returns a row of the other tag, or of "temp", is
// a leak.

// sessionEnv is one such pool with its two tenants.
type sessionEnv struct {
	*env
	acme, globex context.Context
	mode         tenancy.Mode
}

func newSessionEnv(t *testing.T, driverName string, opts []tenancy.Option) *sessionEnv {
	t.Helper()
	e := newEnvDriver(t, driverName, opts...)
	e.db.Pool().SetMaxOpenConns(1)
	s := &sessionEnv{env: e, mode: e.db.Mode()}
	s.acme = tctx(e.addTenant(t, "acme"))
	s.globex = tctx(e.addTenant(t, "globex"))
	mustExec(t, e.admin, `INSERT INTO acme.items (tenant) VALUES ('acme'), ('acme');
		INSERT INTO globex.items (tenant) VALUES ('globex')`)
	// Objects an attacker would use: a function that moves search_path as a side
	// effect, and a role to switch to.
	mustExec(t, e.admin, `CREATE FUNCTION public.move_path(s text) RETURNS text LANGUAGE sql
		AS $$ SELECT set_config('search_path', s, false) $$`)
	mustExec(t, e.admin, `DO $$BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenancy_attacker') THEN CREATE ROLE tenancy_attacker; END IF;
		END$$`)
	mustExec(t, e.admin, `GRANT USAGE ON SCHEMA acme, globex TO tenancy_attacker;
		GRANT ALL ON ALL TABLES IN SCHEMA acme, globex TO tenancy_attacker`)
	return s
}

// forEachSessionVariant runs f for both drivers and every isolation variant.
func forEachSessionVariant(t *testing.T, f func(t *testing.T, s *sessionEnv)) {
	forEachVariantOf(t, false, f)
}

// forEachVariantOf is forEachSessionVariant, for the SessionMode variants only if
// sessionOnly.
func forEachVariantOf(t *testing.T, sessionOnly bool, f func(t *testing.T, s *sessionEnv)) {
	for _, d := range drivers {
		for _, v := range isolationVariants {
			if sessionOnly && strings.HasPrefix(v.name, "transaction") {
				continue
			}
			t.Run(d+"/"+v.name, func(t *testing.T) {
				t.Parallel()
				f(t, newSessionEnv(t, d, v.opts))
			})
		}
	}
}

// tags returns the tenant tags of the items a statement with ctx reads, sorted
// as the database returns them.
func (s *sessionEnv) tags(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var tags []string
	if err := s.db.SelectContext(ctx, &tags, `SELECT tenant FROM items ORDER BY tenant`); err != nil {
		t.Fatalf("reading items: %v", err)
	}
	return tags
}

// mustOnly fails unless every item a statement with ctx reads is tagged want (and
// there is at least one).
func (s *sessionEnv) mustOnly(t *testing.T, ctx context.Context, want, after string) {
	t.Helper()
	tags := s.tags(t, ctx)
	if len(tags) == 0 {
		t.Fatalf("after %s: read no items, want %s's", after, want)
	}
	for _, g := range tags {
		if g != want {
			t.Fatalf("after %s: read items %v, want only %s's", after, tags, want)
		}
	}
}

func (s *sessionEnv) exec(t *testing.T, ctx context.Context, q string) {
	t.Helper()
	if _, err := s.db.ExecContext(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// adminCount counts rows of table tagged tag, behind the library's back.
func (s *sessionEnv) adminCount(t *testing.T, table, tag string) int {
	t.Helper()
	var n int
	if err := s.admin.QueryRow(`SELECT count(*) FROM `+table+` WHERE tenant = $1`, tag).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSessionTempTables: a temporary table one tenant creates never shadows or
// stands in for another tenant's table (PostgreSQL searches pg_temp before the
// schemas of search_path), for reads, writes, and the staging pattern.
func TestSessionTempTables(t *testing.T) {
	t.Parallel()
	forEachSessionVariant(t, func(t *testing.T, s *sessionEnv) {
		s.exec(t, s.acme, `CREATE TEMP TABLE items AS SELECT id, 'temp' AS tenant, n FROM items`)
		// globex's first statement fails after the reset it carried, which the
		// failure rolls back with it: the session must not count as reset.
		if _, err := s.db.ExecContext(s.globex, `SELECT 1/0`); err == nil {
			t.Fatal("division by zero succeeded")
		}
		s.mustOnly(t, s.globex, "globex", "acme created a temp table items")

		// A write by globex lands in globex.items, not in acme's temp table.
		s.exec(t, s.acme, `CREATE TEMP TABLE IF NOT EXISTS items AS SELECT id, 'temp' AS tenant, n FROM items`)
		s.exec(t, s.globex, `INSERT INTO items (tenant) VALUES ('globex')`)
		if n := s.adminCount(t, "globex.items", "globex"); n != 2 {
			t.Fatalf("globex.items has %d globex rows after globex's insert, want 2", n)
		}

		// The staging pattern: acme stages rows and fails before cleaning up; globex
		// stages (IF NOT EXISTS finds a table) and copies staging into its items.
		// In SessionMode acme stages statement by statement; in both modes it
		// stages inside a committed transaction (a temp table outlives it).
		stage := func(q string) {
			t.Helper()
			s.exec(t, s.acme, q)
		}
		if s.mode == tenancy.SessionMode {
			stage(`CREATE TEMP TABLE IF NOT EXISTS staging (tenant text)`)
			stage(`INSERT INTO staging VALUES ('acme'), ('acme')`)
			if _, err := s.db.ExecContext(s.acme, `SELECT 1/0`); err == nil {
				t.Fatal("division by zero succeeded")
			}
			s.exec(t, s.globex, `CREATE TEMP TABLE IF NOT EXISTS staging (tenant text)`)
			s.exec(t, s.globex, `INSERT INTO items (tenant) SELECT tenant FROM staging`)
		}
		err := s.db.InTx(s.acme, nil, func(tx *tenancy.Tx) error {
			if _, err := tx.ExecContext(s.acme, `CREATE TEMP TABLE IF NOT EXISTS staging2 (tenant text)`); err != nil {
				return err
			}
			_, err := tx.ExecContext(s.acme, `INSERT INTO staging2 VALUES ('acme')`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.db.InTx(s.globex, nil, func(tx *tenancy.Tx) error {
			if _, err := tx.ExecContext(s.globex, `CREATE TEMP TABLE IF NOT EXISTS staging2 (tenant text)`); err != nil {
				return err
			}
			_, err := tx.ExecContext(s.globex, `INSERT INTO items (tenant) SELECT tenant FROM staging2`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := s.adminCount(t, "globex.items", "acme"); n != 0 {
			t.Fatalf("acme's staged rows were written into globex.items (%d rows)", n)
		}
	})
}

// TestSessionTempTablesSameTenant pins what happens to a tenant's own temporary
// table: in SessionMode it lives while the session stays with that tenant (the
// next statement of the same tenant on the same session sees it) and is dropped
// when the session passes to another tenant; in TransactionMode it lives for one
// transaction's worth of statements at most (every transaction starts clean).
func TestSessionTempTablesSameTenant(t *testing.T) {
	t.Parallel()
	forEachSessionVariant(t, func(t *testing.T, s *sessionEnv) {
		s.exec(t, s.acme, `CREATE TEMP TABLE scratch AS SELECT 1 AS x`)
		var n int
		err := s.db.GetContext(s.acme, &n, `SELECT count(*) FROM scratch`)
		if s.mode == tenancy.SessionMode {
			if err != nil || n != 1 {
				t.Fatalf("same tenant's next statement: count %d, %v; want its temp table", n, err)
			}
		} else if err == nil {
			t.Fatal("TransactionMode: a temp table outlived its transaction")
		}
		s.tags(t, s.globex)
		if err := s.db.GetContext(s.acme, &n, `SELECT count(*) FROM scratch`); err == nil {
			t.Fatal("acme's temp table survived globex's use of the session")
		}
		// Inside one transaction a temp table works in both modes.
		err = s.db.InTx(s.acme, nil, func(tx *tenancy.Tx) error {
			if _, err := tx.ExecContext(s.acme, `CREATE TEMP TABLE t2 AS SELECT 2 AS x`); err != nil {
				return err
			}
			return tx.GetContext(s.acme, &n, `SELECT x FROM t2`)
		})
		if err != nil || n != 2 {
			t.Fatalf("temp table inside a transaction: %d, %v", n, err)
		}
	})
}

// TestSessionHeldCursors: a cursor declared WITH HOLD outlives its transaction,
// but not the session's passing to another tenant.
func TestSessionHeldCursors(t *testing.T) {
	t.Parallel()
	forEachSessionVariant(t, func(t *testing.T, s *sessionEnv) {
		err := s.db.InTx(s.acme, nil, func(tx *tenancy.Tx) error {
			_, err := tx.ExecContext(s.acme, `DECLARE export CURSOR WITH HOLD FOR SELECT tenant FROM items`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var tags []string
		err = s.db.SelectContext(s.globex, &tags, `FETCH ALL FROM export`)
		if err == nil || len(tags) != 0 {
			t.Fatalf("globex fetched %v from acme's held cursor (err %v)", tags, err)
		}
	})
}

// TestSessionPreparedStatementsSQL: a statement acme prepares with SQL PREPARE
// (directly or from a function) is gone when globex uses the session; globex's
// EXECUTE of that name fails instead of running acme's statement. SessionMode
// only: behind a transaction pooler SQL PREPARE is outside TransactionMode's
// promise (SECURITY.md), and protocol-level Prepare outside a transaction is
// refused (TestTransactionModeRefusesPrepare).
func TestSessionPreparedStatementsSQL(t *testing.T) {
	t.Parallel()
	forEachVariantOf(t, true, func(t *testing.T, s *sessionEnv) {
		s.exec(t, s.acme, `PREPARE wipe AS DELETE FROM items`)
		s.exec(t, s.acme, `DO $$BEGIN EXECUTE 'PREPARE wipe2 AS DELETE FROM items'; END$$`)
		for _, q := range []string{`EXECUTE wipe`, `EXECUTE wipe2`} {
			if _, err := s.db.ExecContext(s.globex, q); err == nil {
				t.Fatalf("globex ran acme's prepared statement (%s)", q)
			}
		}
		if n := s.adminCount(t, "globex.items", "globex"); n != 1 {
			t.Fatalf("globex.items has %d rows, want 1", n)
		}
	})
}

// TestSessionSettingsAndRole: settings and the role one tenant sets do not reach
// another tenant's statements. In TransactionMode the role is reset per
// transaction; session-level settings are out of scope there (SECURITY.md), and
// SET LOCAL ends with the transaction anyway.
func TestSessionSettingsAndRole(t *testing.T) {
	t.Parallel()
	forEachSessionVariant(t, func(t *testing.T, s *sessionEnv) {
		s.exec(t, s.acme, `INSERT INTO items (tenant) VALUES ('acme')`) // sets lastval()
		s.exec(t, s.acme, `LISTEN acme_events`)
		s.exec(t, s.acme, `SET ROLE tenancy_attacker`)
		s.exec(t, s.acme, `SET work_mem = '77MB'`)
		s.exec(t, s.acme, `SET app.tenant_id = 'acme'`)
		var got struct {
			User    string `db:"u"`
			WorkMem string `db:"w"`
			App     string `db:"a"`
		}
		err := s.db.GetContext(s.globex, &got,
			`SELECT current_user AS u, current_setting('work_mem') AS w, COALESCE(current_setting('app.tenant_id', true), '') AS a`)
		if err != nil {
			t.Fatal(err)
		}
		if got.User == "tenancy_attacker" {
			t.Fatalf("globex ran as acme's role %q", got.User)
		}
		if s.mode == tenancy.SessionMode && (got.WorkMem == "77MB" || got.App == "acme") {
			t.Fatalf("globex saw acme's settings: work_mem %s, app.tenant_id %q", got.WorkMem, got.App)
		}
		if s.mode == tenancy.SessionMode {
			var last int64
			if err := s.db.GetContext(s.globex, &last, `SELECT lastval()`); err == nil {
				t.Fatalf("globex read acme's lastval() %d", last)
			}
			var listening int
			if err := s.db.GetContext(s.globex, &listening, `SELECT count(*) FROM pg_listening_channels()`); err != nil || listening != 0 {
				t.Fatalf("globex's session listens on %d of acme's channels (%v)", listening, err)
			}
		}
	})
}

// searchPathMovers are statements that move search_path without any keyword a
// word list would look for, or through the catalog, or through objects that run
// later. Each is run by acme; the next statement of acme itself (the case a
// per-connection memory of the schema gets wrong) and of globex must read their
// own rows.
var searchPathMovers = []string{
	`SET search_path TO globex`,
	`SET SCHEMA 'globex'`,
	`SET search_path = "glob" "ex"`, // syntax error: must not matter either way
	`SELECT set_config('search_path', 'globex', false)`,
	`SELECT pg_catalog.set_config(U&'search\005fpath', 'globex', false)`,
	`UPDATE pg_settings SET setting = 'globex' WHERE name = 'search_path'`,
	`SELECT public.move_path('globex')`,
	`DO $$BEGIN PERFORM set_config('search_path', 'globex', false); END$$`,
	`PREPARE mv AS SELECT set_config('search_path', 'globex', false)`,
	`EXECUTE mv`,
	`RESET search_path`,
	`RESET ALL`,
	`DISCARD ALL`,
	`SELECT 1; SET search_path TO globex`,
	`SET search_path TO public`,
}

// TestSessionSearchPathMovers: no statement can move a later statement to another
// schema, whatever it does to search_path, in either direction.
func TestSessionSearchPathMovers(t *testing.T) {
	t.Parallel()
	forEachSessionVariant(t, func(t *testing.T, s *sessionEnv) {
		for _, q := range searchPathMovers {
			_, _ = s.db.ExecContext(s.acme, q) // may fail (DISCARD ALL in a block, syntax): irrelevant
			s.primeAfter(t, s.acme, q)
			s.mustOnly(t, s.acme, "acme", q)
			_, _ = s.db.ExecContext(s.globex, strings.ReplaceAll(q, "globex", "acme"))
			s.primeAfter(t, s.globex, q)
			s.mustOnly(t, s.globex, "globex", q+" (by globex)")
		}
	})
}

// primeAfter absorbs what a user's DISCARD ALL does to pgx itself, with or
// without this library: it drops pgx's cached prepared statements, so pgx's next
// use of one fails once with SQLSTATE 26000 (and pgx forgets it). The read that
// absorbs it must fail that way or succeed with the tenant's rows, never more.
func (s *sessionEnv) primeAfter(t *testing.T, ctx context.Context, q string) {
	t.Helper()
	if q != `DISCARD ALL` {
		return
	}
	var tags []string
	err := s.db.SelectContext(ctx, &tags, `SELECT tenant FROM items ORDER BY tenant`)
	if err != nil && !strings.Contains(err.Error(), "26000") {
		t.Fatalf("after DISCARD ALL: %v", err)
	}
}

// TestSessionSearchPathMoversInTx: inside a library transaction, a statement that
// moves search_path (session-level or LOCAL, directly or through a function) does
// not move the rest of the transaction.
func TestSessionSearchPathMoversInTx(t *testing.T) {
	t.Parallel()
	movers := []string{
		`SET search_path TO globex`,
		`SET LOCAL search_path TO globex`,
		`SELECT set_config('search_path', 'globex', true)`,
		`SELECT set_config('search_path', 'globex', false)`,
		`SELECT public.move_path('globex')`,
		`SET search_path TO public`,
	}
	forEachSessionVariant(t, func(t *testing.T, s *sessionEnv) {
		err := s.db.InTx(s.acme, nil, func(tx *tenancy.Tx) error {
			for _, q := range movers {
				if _, err := tx.ExecContext(s.acme, q); err != nil {
					return fmt.Errorf("%s: %w", q, err)
				}
				var tags []string
				if err := tx.SelectContext(s.acme, &tags, `SELECT tenant FROM items`); err != nil {
					return fmt.Errorf("after %s: %w", q, err)
				}
				for _, g := range tags {
					if g != "acme" {
						return fmt.Errorf("after %s the transaction read %v", q, tags)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		s.mustOnly(t, s.acme, "acme", "the transaction")
		s.mustOnly(t, s.globex, "globex", "acme's transaction")
	})
}

// TestSessionTextTransactions: a transaction the library did not open is refused
// (plain BEGIN/COMMIT text) or, when it hides in a multi-statement text, rolled back
// and reported; inside a library Tx, text COMMIT/ROLLBACK is refused, and a hidden
// one makes the Tx refuse the rest. In no case does a later statement run in another
// schema or see another tenant's rows.
func TestSessionTextTransactions(t *testing.T) {
	t.Parallel()
	forEachSessionVariant(t, func(t *testing.T, s *sessionEnv) {
		ctx := context.Background()
		c, err := s.db.Pool().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{`BEGIN`, `start transaction`, `COMMIT`, `ROLLBACK`, `END`, `ABORT`} {
			if _, err := c.ExecContext(s.acme, q); !errors.Is(err, tenancy.ErrTxControl) {
				t.Fatalf("%s outside BeginTx: %v, want ErrTxControl", q, err)
			}
		}
		// The family of the review: BEGIN as text, the library's scoping inside it,
		// a failure, COMMIT as text (a silent ROLLBACK) — hidden in multi-statement
		// texts so that no text check sees them.
		// (In TransactionMode the statement runs inside the library's own
		// transaction, where BEGIN is a no-op, and that transaction's COMMIT ends it.)
		_, err = c.ExecContext(s.acme, `SELECT 1; BEGIN`)
		if s.mode == tenancy.SessionMode && !errors.Is(err, tenancy.ErrUnmanagedTx) ||
			s.mode == tenancy.TransactionMode && err != nil {
			t.Fatalf("text BEGIN hidden in a multi-statement text: %v", err)
		}
		var tags []string
		rows, err := c.QueryContext(s.globex, `SELECT tenant FROM items`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var g string
			if err := rows.Scan(&g); err != nil {
				t.Fatal(err)
			}
			tags = append(tags, g)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if len(tags) != 1 || tags[0] != "globex" {
			t.Fatalf("after the rolled-back text transaction globex read %v", tags)
		}
		_, _ = c.ExecContext(s.globex, `SELECT 1/0`)
		_, err = c.ExecContext(s.globex, `SELECT 1; COMMIT`)
		if err != nil {
			t.Fatalf("a COMMIT outside any transaction: %v", err)
		}
		_ = c.Close()
		s.mustOnly(t, s.globex, "globex", "text transaction control")
		s.mustOnly(t, s.acme, "acme", "text transaction control")

		// Inside a library Tx.
		tx, err := s.db.BeginTxx(s.acme, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{`COMMIT`, `ROLLBACK`, `END`, `BEGIN`} {
			if _, err := tx.ExecContext(s.acme, q); !errors.Is(err, tenancy.ErrTxControl) {
				t.Fatalf("%s inside a Tx: %v, want ErrTxControl", q, err)
			}
		}
		if _, err := tx.ExecContext(s.acme, `INSERT INTO items (tenant) VALUES ('acme')`); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(s.acme, `SELECT 1; ROLLBACK`); !errors.Is(err, tenancy.ErrTxEnded) {
			t.Fatalf("ROLLBACK hidden in a text inside a Tx: %v, want ErrTxEnded", err)
		}
		if _, err := tx.ExecContext(s.acme, `INSERT INTO items (tenant) VALUES ('acme')`); !errors.Is(err, tenancy.ErrTxEnded) {
			t.Fatalf("statement after the hidden ROLLBACK: %v, want ErrTxEnded", err)
		}
		if err := tx.Commit(); !errors.Is(err, tenancy.ErrTxEnded) {
			t.Fatalf("Commit after the hidden ROLLBACK: %v, want ErrTxEnded", err)
		}
		if n := s.adminCount(t, "acme.items", "acme"); n != 2 {
			t.Fatalf("acme.items has %d rows, want the 2 it had", n)
		}
		s.mustOnly(t, s.globex, "globex", "a Tx ended behind the library's back")
	})
}

// TestTransactionModeRefusesPrepare: in TransactionMode a statement prepared
// outside a transaction would live on one server connection that a transaction
// pooler hands to other clients; it is refused with a clear error, and works
// inside a transaction.
func TestTransactionModeRefusesPrepare(t *testing.T) {
	t.Parallel()
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			s := newSessionEnv(t, d, []tenancy.Option{tenancy.WithMode(tenancy.TransactionMode)})
			if _, err := s.db.PreparexContext(s.acme, `SELECT tenant FROM items`); !errors.Is(err, tenancy.ErrPrepareOutsideTx) {
				t.Fatalf("PrepareContext outside a transaction: %v, want ErrPrepareOutsideTx", err)
			}
			err := s.db.InTx(s.acme, nil, func(tx *tenancy.Tx) error {
				st, err := tx.PreparexContext(s.acme, `SELECT tenant FROM items`)
				if err != nil {
					return err
				}
				defer st.Close()
				var tags []string
				if err := st.SelectContext(s.acme, &tags); err != nil {
					return err
				}
				if len(tags) != 2 || tags[0] != "acme" {
					return fmt.Errorf("prepared read %v", tags)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSessionMigratorStartsClean: the connection the migrator pins carries nothing
// an earlier tenant left on it: a tenant migration's INSERT lands in the tenant's
// table, not in a temporary table of that name left on the pooled session.
func TestSessionMigratorStartsClean(t *testing.T) {
	t.Parallel()
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := newEnvDriver(t, d)
			e.db.Pool().SetMaxOpenConns(2)
			e.db.Pool().SetMaxIdleConns(2)
			acme := tctx(e.addTenant(t, "acme"))
			m, err := tenancy.NewMigrator(e.db, e.reg, sharedNoop(), tenantItemsSet())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			gt, err := m.CreateTenant(ctx, tenancy.NewTenant{Name: "Globex", Schema: "globex"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Downgrade(ctx, "globex", 1); err != nil {
				t.Fatal(err)
			}
			// Leave a temp table "items" on both pooled sessions, from globex's own
			// application code: no other tenant's statement comes between, so only
			// the migrator's own reset of the session it pins can clear them. (acme
			// checks the pool works for another tenant meanwhile.)
			if _, err := e.db.ExecContext(acme, `SELECT 1`); err != nil {
				t.Fatal(err)
			}
			var conns []*sql.Conn
			for _, tc := range []context.Context{tctx(gt), tctx(gt)} {
				c, err := e.db.Pool().Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.ExecContext(tc, `CREATE TEMP TABLE items (id int, tenant text, n int)`); err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
			for _, c := range conns {
				_ = c.Close()
			}
			if _, err := m.Upgrade(ctx, "globex"); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := e.admin.QueryRow(`SELECT count(*) FROM globex.items WHERE tenant = 'seeded'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Fatalf("globex.items has %d seeded rows, want 1 (the migration's insert went elsewhere)", n)
			}
		})
	}
}

// sharedNoop is a shared migration set with nothing in it but one no-op file.
func sharedNoop() fs.FS {
	return fstest.MapFS{
		"000001_noop.up.sql":   {Data: []byte(`SELECT 1`)},
		"000001_noop.down.sql": {Data: []byte(`SELECT 1`)},
	}
}

// tenantItemsSet creates an items table and seeds one row into it.
func tenantItemsSet() fs.FS {
	return fstest.MapFS{
		"000001_items.up.sql":   {Data: []byte(`CREATE TABLE items (id serial PRIMARY KEY, tenant text NOT NULL, n int NOT NULL DEFAULT 0)`)},
		"000001_items.down.sql": {Data: []byte(`DROP TABLE items`)},
		"000002_seed.up.sql":    {Data: []byte(`INSERT INTO items (tenant) VALUES ('seeded')`)},
		"000002_seed.down.sql":  {Data: []byte(`DELETE FROM items WHERE tenant = 'seeded'`)},
	}
}

// TestSessionScopingKeepsResults: the statements sent in front of a statement in
// the same message do not change what the statement returns: RowsAffected is the
// statement's own, in every variant and for both drivers.
func TestSessionScopingKeepsResults(t *testing.T) {
	t.Parallel()
	forEachSessionVariant(t, func(t *testing.T, s *sessionEnv) {
		// globex 1 row, acme 2: each switch carries a reset, the repeat does not.
		for i, ctx := range []context.Context{s.globex, s.acme, s.acme, s.globex} {
			want := int64([]int{1, 2, 2, 1}[i])
			res, err := s.db.ExecContext(ctx, `UPDATE items SET n = n + 1`)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := res.RowsAffected(); err != nil || n != want {
				t.Fatalf("UPDATE affected %d rows (%v), want %d", n, err, want)
			}
		}
	})
}

// TestPgxStatementCacheAcrossShapes: the same SQL text on one connection
// alternating between two tenants whose users tables differ (a column added in
// one only, as when tenants are at different migration versions), through pgx in
// every QueryExecMode it offers: each read gets its own tenant's row and columns,
// and no error. (pgx's cache modes, with one statement per SQL text, would fail
// with "cached plan must not change result type" or a result-format mismatch;
// the text is tagged with the tenant: see conn.tagged.)
func TestPgxStatementCacheAcrossShapes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			mustExec(t, e.admin, `CREATE SCHEMA acme; CREATE SCHEMA globex;
				CREATE TABLE acme.users (id int PRIMARY KEY, email text);
				CREATE TABLE globex.users (id int PRIMARY KEY, email text, plan text);
				INSERT INTO acme.users VALUES (1, 'a@acme.example');
				INSERT INTO globex.users VALUES (1, 'g@globex.example', 'gold')`)
			u := mustURL(t, e.dsn)
			q := u.Query()
			q.Set("default_query_exec_mode", mode)
			u.RawQuery = q.Encode()
			db := openCountedDriver(t, "pgx", u.String(), &rtcount.Counter{})
			db.Pool().SetMaxOpenConns(1)
			acme := tctx(tenancy.Tenant{Schema: "acme"})
			globex := tctx(tenancy.Tenant{Schema: "globex"})
			for i := 0; i < 6; i++ {
				ctx, wantCols, wantEmail := acme, 2, "a@acme.example"
				if i%2 == 1 {
					ctx, wantCols, wantEmail = globex, 3, "g@globex.example"
				}
				rows, err := db.QueryxContext(ctx, `SELECT * FROM users WHERE id = $1`, 1)
				if err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				cols, _ := rows.Columns()
				var got []map[string]any
				for rows.Next() {
					m := map[string]any{}
					if err := rows.MapScan(m); err != nil {
						t.Fatal(err)
					}
					got = append(got, m)
				}
				if err := rows.Close(); err != nil {
					t.Fatal(err)
				}
				if err := rows.Err(); err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				if len(cols) != wantCols || len(got) != 1 || got[0]["email"] != wantEmail {
					t.Fatalf("read %d: columns %v, rows %v; want %d columns and %s", i, cols, got, wantCols, wantEmail)
				}
			}
		})
	}
}
