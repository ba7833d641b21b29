package tenancy_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
)

// snapshot is what a failed CreateTenant must leave as it found it: the schemas
// and the registry.
func (e *migEnv) snapshot(t testing.TB) string {
	t.Helper()
	return strings.Join(e.schemas(t), ",") + "|" +
		strings.Join(e.strings(t, `SELECT id || ':' || name || ':' || schema || ':' || coalesce(host, '') FROM shared.tenants ORDER BY id`), ",")
}

func TestLifecycleCreateTenant(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	ctx := context.Background()
	// A lookup before the tenant exists caches "unknown tenant".
	if _, err := e.reg.Lookup(ctx, tenancy.SchemaKey("acme")); !errors.Is(err, tenancy.ErrUnknownTenant) {
		t.Fatalf("lookup before create: %v", err)
	}
	tn, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: "Acme Inc.", Schema: "acme", Host: "WWW.Acme.example.COM.:8443"})
	if err != nil {
		t.Fatal(err)
	}
	if tn.ID == 0 || tn.Name != "Acme Inc." || tn.Schema != "acme" || tn.Host != "www.acme.example.com" || tn.CreatedAt.IsZero() {
		t.Fatalf("created %+v", tn)
	}
	// The negative cache entry is gone: the tenant resolves at once.
	got, err := e.reg.Lookup(ctx, tenancy.HostKey("www.acme.example.com"))
	if err != nil || got.ID != tn.ID {
		t.Fatalf("lookup after create: %+v, %v", got, err)
	}
	if got, err := e.reg.Lookup(ctx, tenancy.SchemaKey("acme")); err != nil || got.ID != tn.ID {
		t.Fatalf("schema lookup after create: %+v, %v", got, err)
	}
	if v, d := e.version(t, "acme"); v != 2 || d {
		t.Fatalf("version %d/%v, want 2", v, d)
	}
	// golang-migrate's exact version table format.
	if got := e.strings(t, `SELECT column_name || ' ' || data_type || ' ' || is_nullable FROM information_schema.columns
		WHERE table_schema = 'acme' AND table_name = 'schema_migrations' ORDER BY ordinal_position`); !slices.Equal(got,
		[]string{"version bigint NO", "dirty boolean NO"}) {
		t.Fatalf("version table columns %v", got)
	}
	if got := e.strings(t, `SELECT tablename FROM pg_tables WHERE schemaname = 'acme' ORDER BY 1`); !slices.Equal(got,
		[]string{"permissions", "roles", "roles_permissions_link", "schema_migrations", "users"}) {
		t.Fatalf("acme tables %v", got)
	}
	if n := e.count(t, `SELECT count(*) FROM pg_indexes WHERE schemaname = 'acme' AND indexname = 'users_last_first_name_idx'`); n != 1 {
		t.Fatal("migration 2 did not run")
	}
	// The tenant works through the DB and golang-migrate agrees with its version.
	if _, err := e.db.ExecContext(tenancy.NewContext(ctx, tn), `INSERT INTO users (email) VALUES ('a@acme.test')`); err != nil {
		t.Fatal(err)
	}
	if res, err := e.m.Upgrade(ctx, "acme"); err != nil || len(res.Applied) != 0 || res.From != 2 {
		t.Fatalf("Upgrade of a new tenant: %+v, %v", res, err)
	}
	// No host: stored as NULL.
	tn2, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: "Globex", Schema: "globex"})
	if err != nil || tn2.Host != "" {
		t.Fatalf("create without host: %+v, %v", tn2, err)
	}
	if n := e.count(t, `SELECT count(*) FROM shared.tenants WHERE schema = 'globex' AND host IS NULL`); n != 1 {
		t.Fatal("an empty host was not stored as NULL")
	}
}

func TestLifecycleCreateFailuresLeaveNothing(t *testing.T) {
	t.Parallel()
	failing := tenantFS(t, map[string]string{
		"000003_boom.up.sql": "CREATE TABLE made_before_boom (id int);\nSELECT no_such_column FROM made_before_boom;",
	})
	slow := tenantFS(t, map[string]string{
		"000003_slow.up.sql": `CREATE TABLE slow (id int); SELECT pg_sleep(120);`,
	})
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	ctx := context.Background()
	e.create(t, "acme") // name "Tenant acme", host acme.example.com
	mustExec(t, e.admin, `CREATE SCHEMA lonely; CREATE TABLE lonely.keep (id int)`)
	_, _, mFail := openMigrator(t, e.dsn, migrations.Shared, failing)
	_, _, mSlow := openMigrator(t, e.dsn, migrations.Shared, slow)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()

	cases := []struct {
		name  string
		m     *tenancy.Migrator
		ctx   context.Context
		nt    tenancy.NewTenant
		check func(error) bool
		step  string
	}{
		{"duplicate name", e.m, ctx, tenancy.NewTenant{Name: "Tenant acme", Schema: "newco"},
			conflictOn("name"), "register"},
		{"duplicate schema", e.m, ctx, tenancy.NewTenant{Name: "Other", Schema: "acme"},
			conflictOn("schema"), "register"},
		{"duplicate host", e.m, ctx, tenancy.NewTenant{Name: "Other", Schema: "newco", Host: "ACME.example.com"},
			conflictOn("host"), "register"},
		{"schema exists unregistered", e.m, ctx, tenancy.NewTenant{Name: "Lonely", Schema: "lonely"},
			func(err error) bool { return errors.Is(err, tenancy.ErrSchemaExists) }, "create schema"},
		{"failing migration", mFail, ctx, tenancy.NewTenant{Name: "Newco", Schema: "newco"},
			func(err error) bool {
				var me *tenancy.MigrationError
				return errors.As(err, &me) && me.Version == 3 && me.Line == 2 && me.Schema == "newco"
			}, "migrate"},
		{"cancelled context", e.m, cancelled, tenancy.NewTenant{Name: "Newco", Schema: "newco"},
			func(err error) bool { return errors.Is(err, context.Canceled) }, "connect"},
	}
	for _, c := range cases {
		before := e.snapshot(t)
		_, err := c.m.CreateTenant(c.ctx, c.nt)
		var te *tenancy.TenantError
		if !errors.As(err, &te) || te.Op != "create" || te.Key != c.nt.Schema || !c.check(err) {
			t.Fatalf("%s: CreateTenant = %v", c.name, err)
		}
		if !strings.Contains(err.Error(), ": "+c.step+": ") {
			t.Fatalf("%s: the error does not name step %q: %v", c.name, c.step, err)
		}
		if after := e.snapshot(t); after != before {
			t.Fatalf("%s left something behind:\n%s\n%s", c.name, before, after)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM lonely.keep`); n != 0 {
		t.Fatal("the unregistered schema was touched")
	}

	// Cancelled in the middle of a migration: the transaction goes with it.
	before := e.snapshot(t)
	ctx2, cancel2 := context.WithCancel(ctx)
	defer cancel2()
	done := make(chan error, 1)
	go func() {
		_, err := mSlow.CreateTenant(ctx2, tenancy.NewTenant{Name: "Slowco", Schema: "slowco"})
		done <- err
	}()
	waitFor(t, "the slow migration to run", func() bool {
		return e.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()`) == 1
	})
	cancel2()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), ": migrate: ") {
			t.Fatalf("cancelled mid-migration: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("CreateTenant did not return after cancellation")
	}
	waitFor(t, "the cancelled session to end", func() bool {
		return e.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()`) == 0
	})
	if after := e.snapshot(t); after != before {
		t.Fatalf("cancelled create left something behind:\n%s\n%s", before, after)
	}
}

func conflictOn(field string) func(error) bool {
	return func(err error) bool {
		var ce *tenancy.ConflictError
		return errors.Is(err, tenancy.ErrConflict) && errors.As(err, &ce) && ce.Field == field
	}
}

func TestLifecycleCreateRejectsBadInput(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	ctx := context.Background()
	before := e.snapshot(t)
	badSchemas := []string{
		"", "public", "information_schema", "pg_temp", "pg_x", "shared", "Acme", "1acme", "acme-co",
		"acme;drop", `acme"; DROP SCHEMA shared CASCADE; --`, "acme'); DROP TABLE shared.tenants; --",
		"acme co", "acme\x00", "ãcme", strings.Repeat("a", 64),
	}
	for _, s := range badSchemas {
		_, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: "X", Schema: s})
		if !errors.Is(err, tenancy.ErrInvalidSchemaName) {
			t.Errorf("schema %q: %v, want ErrInvalidSchemaName", s, err)
		}
	}
	for _, n := range []string{"", "   ", strings.Repeat("n", 101), "bad\xffutf8", "nul\x00"} {
		_, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: n, Schema: "newco"})
		var te *tenancy.TenantError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "name") {
			t.Errorf("name %q: %v", n, err)
		}
	}
	for _, h := range []string{"a b.com", "-bad.com", "x..com", "exämple.com"} {
		_, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: "Newco", Schema: "newco", Host: h})
		if !errors.Is(err, tenancy.ErrInvalidHost) {
			t.Errorf("host %q: %v, want ErrInvalidHost", h, err)
		}
	}
	if after := e.snapshot(t); after != before {
		t.Fatalf("invalid input created something:\n%s\n%s", before, after)
	}
	// 63 bytes and 100 characters are fine.
	if _, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: strings.Repeat("é", 100), Schema: strings.Repeat("a", 63)}); err != nil {
		t.Fatalf("longest valid name and schema: %v", err)
	}
}

func TestLifecycleCreateFallsBackForOwnTransactions(t *testing.T) {
	t.Parallel()
	// A file with its own BEGIN/COMMIT, and one that cannot run in a transaction.
	tfs := tenantFS(t, map[string]string{
		"000003_explicit_tx.up.sql":  "-- golang-migrate style\nBEGIN;\nCREATE TABLE audit (id int, note text);\nCOMMIT;\n",
		"000004_concurrently.up.sql": "CREATE INDEX CONCURRENTLY audit_note_idx ON audit (note);",
	})
	e := newMigEnv(t, migrations.Shared, tfs).ready(t)
	ctx := context.Background()
	tn := e.create(t, "acme")
	if v, d := e.version(t, "acme"); v != 4 || d {
		t.Fatalf("version %d/%v, want 4", v, d)
	}
	if n := e.count(t, `SELECT count(*) FROM pg_indexes WHERE schemaname = 'acme' AND indexname = 'audit_note_idx'`); n != 1 {
		t.Fatal("the concurrent index is missing")
	}
	if got, err := e.reg.Lookup(ctx, tenancy.SchemaKey("acme")); err != nil || got.ID != tn.ID {
		t.Fatalf("lookup: %+v, %v", got, err)
	}

	// Only the CONCURRENTLY file: the one-transaction attempt fails and is retried.
	cfs := tenantFS(t, map[string]string{
		"000003_concurrently.up.sql": "CREATE INDEX CONCURRENTLY users_email_lower_idx ON users (lower(email));",
	})
	_, _, mc := openMigrator(t, e.dsn, migrations.Shared, cfs)
	if _, err := mc.CreateTenant(ctx, tenancy.NewTenant{Name: "Globex", Schema: "globex"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.version(t, "globex"); v != 3 {
		t.Fatalf("globex at %d, want 3", v)
	}

	// A failure on this path is undone too: the schema it created is dropped.
	bad := tenantFS(t, map[string]string{
		"000003_explicit_tx.up.sql": "BEGIN;\nCREATE TABLE audit (id int);\nCOMMIT;\n",
		"000004_boom.up.sql":        "SELECT 1/0;",
	})
	_, _, mb := openMigrator(t, e.dsn, migrations.Shared, bad)
	before := e.snapshot(t)
	_, err := mb.CreateTenant(ctx, tenancy.NewTenant{Name: "Initech", Schema: "initech", Host: "acme.example.com"})
	if !errors.Is(err, tenancy.ErrConflict) {
		t.Fatalf("duplicate host on the staged path: %v", err)
	}
	_, err = mb.CreateTenant(ctx, tenancy.NewTenant{Name: "Initech", Schema: "initech"})
	var me *tenancy.MigrationError
	if !errors.As(err, &me) || me.Version != 4 {
		t.Fatalf("failing staged create: %v", err)
	}
	if after := e.snapshot(t); after != before {
		t.Fatalf("failed staged create left something behind:\n%s\n%s", before, after)
	}
}

func TestLifecycleAdoptExisting(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	ctx := context.Background()
	mustExec(t, e.admin, `CREATE SCHEMA legacy; CREATE TABLE legacy.old_data (id int); INSERT INTO legacy.old_data VALUES (1)`)
	if _, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: "Legacy", Schema: "legacy"}); !errors.Is(err, tenancy.ErrSchemaExists) {
		t.Fatalf("without AdoptExisting: %v", err)
	}
	tn, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: "Legacy", Schema: "legacy"}, tenancy.AdoptExisting())
	if err != nil {
		t.Fatal(err)
	}
	if v, d := e.version(t, "legacy"); v != 2 || d || tn.ID == 0 {
		t.Fatalf("adopted at %d/%v (%+v)", v, d, tn)
	}
	if n := e.count(t, `SELECT count(*) FROM legacy.old_data`); n != 1 {
		t.Fatal("adoption lost the schema's data")
	}
	// Without an existing schema, AdoptExisting creates one.
	if _, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: "New", Schema: "newco"}, tenancy.AdoptExisting()); err != nil {
		t.Fatal(err)
	}
	// A failed adoption registers nothing and keeps the schema.
	mustExec(t, e.admin, `CREATE SCHEMA broken; CREATE TABLE broken.users (id int)`) // migration 1 creates users: it fails
	_, err = e.m.CreateTenant(ctx, tenancy.NewTenant{Name: "Broken", Schema: "broken"}, tenancy.AdoptExisting())
	var me *tenancy.MigrationError
	if !errors.As(err, &me) || me.Version != 1 || me.Op != "adopt" {
		t.Fatalf("failed adoption: %v", err)
	}
	if !e.schemaExists(t, "broken") || e.count(t, `SELECT count(*) FROM shared.tenants WHERE schema = 'broken'`) != 0 {
		t.Fatal("a failed adoption dropped the schema or registered the tenant")
	}
}

func TestLifecycleDropTenant(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	ctx := context.Background()
	acme := e.create(t, "acme")
	e.create(t, "globex")
	mustExec(t, e.admin, `INSERT INTO shared.shared_users (email, tenant_id) VALUES ('a@acme.test', $1)`, acme.ID)
	mustExec(t, e.admin, `CREATE SCHEMA lonely`)
	if _, err := e.reg.Lookup(ctx, tenancy.SchemaKey("acme")); err != nil { // cached
		t.Fatal(err)
	}
	if err := e.m.DropTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if e.schemaExists(t, "acme") || e.count(t, `SELECT count(*) FROM shared.tenants WHERE schema = 'acme'`) != 0 {
		t.Fatal("acme's schema or registry row survived")
	}
	if n := e.count(t, `SELECT count(*) FROM shared.shared_users`); n != 0 {
		t.Fatal("shared_users rows of the dropped tenant survived")
	}
	if _, err := e.reg.Lookup(ctx, tenancy.SchemaKey("acme")); !errors.Is(err, tenancy.ErrUnknownTenant) {
		t.Fatalf("the cache still has the dropped tenant: %v", err)
	}
	for _, s := range []string{"acme", "lonely", "nobody"} {
		if err := e.m.DropTenant(ctx, s); !errors.Is(err, tenancy.ErrUnknownTenant) {
			t.Fatalf("DropTenant(%s) = %v, want ErrUnknownTenant", s, err)
		}
	}
	for _, s := range []string{"shared", "public", "pg_catalog", `globex" CASCADE; --`} {
		if err := e.m.DropTenant(ctx, s); !errors.Is(err, tenancy.ErrInvalidSchemaName) {
			t.Fatalf("DropTenant(%q) = %v, want ErrInvalidSchemaName", s, err)
		}
	}
	if !e.schemaExists(t, "lonely") || !e.schemaExists(t, "globex") || !e.schemaExists(t, "shared") {
		t.Fatal("DropTenant dropped a schema it must not touch")
	}
}

func TestLifecycleDropTenantWaitsForMigrationLock(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	e.create(t, "acme")
	_, _, m := openMigrator(t, e.dsn, migrations.Shared, migrations.Tenant, tenancy.WithLockTimeout(200*time.Millisecond))
	conn, err := e.admin.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var dbName string
	if err := conn.QueryRowContext(context.Background(), `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	id := migrateLockID(t, dbName, "acme", "schema_migrations")
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_lock($1)`, id); err != nil {
		t.Fatal(err)
	}
	if err := m.DropTenant(context.Background(), "acme"); !errors.Is(err, tenancy.ErrLocked) {
		t.Fatalf("DropTenant while a migration holds the lock: %v, want ErrLocked", err)
	}
	if !e.schemaExists(t, "acme") || e.count(t, `SELECT count(*) FROM shared.tenants WHERE schema = 'acme'`) != 1 {
		t.Fatal("a refused DropTenant dropped something")
	}
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, id); err != nil {
		t.Fatal(err)
	}
	if err := m.DropTenant(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
}

func TestLifecycleCreateTenantLeavesAPooledConnectionClean(t *testing.T) {
	t.Parallel()
	// A migration that changes a session setting, which a transaction's COMMIT
	// keeps for the session.
	tfs := tenantFS(t, map[string]string{
		"000003_settings.up.sql": `SET statement_timeout = '1234ms'; CREATE TABLE t3 (id int);`,
	})
	e := newMigEnv(t, migrations.Shared, tfs).ready(t)
	db, _, m := openMigrator(t, e.dsn, migrations.Shared, tfs)
	db.Pool().SetMaxOpenConns(1) // the next statement gets the very connection CreateTenant used
	tn, err := m.CreateTenant(context.Background(), tenancy.NewTenant{Name: "Acme", Schema: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if st := db.Pool().Stats(); st.OpenConnections != 1 || st.Idle != 1 {
		t.Fatalf("pool after CreateTenant: %+v, want its connection back, idle", st)
	}
	var timeout string
	if err := db.GetContext(tenancy.NewContext(context.Background(), tn), &timeout, `SHOW statement_timeout`); err != nil {
		t.Fatal(err)
	}
	if timeout != "0" {
		t.Fatalf("statement_timeout on the recycled connection is %q: the migration's SET leaked", timeout)
	}
}

func TestLifecycleCreateVersionTableExistsBeforeMigrations(t *testing.T) {
	t.Parallel()
	// A product that extends its version table, as golang-migrate allows: the
	// table exists before the first file runs.
	tfs := tenantFS(t, map[string]string{
		"000003_version_table_audit.up.sql": "ALTER TABLE schema_migrations ADD COLUMN applied_at timestamptz NOT NULL DEFAULT now();",
		"000004_concurrently.up.sql":        "CREATE UNIQUE INDEX CONCURRENTLY users_email_lower_idx ON users (lower(email));",
	})
	e := newMigEnv(t, migrations.Shared, tfs).ready(t)
	ctx := context.Background()
	e.create(t, "acme")
	if v, d := e.version(t, "acme"); v != 4 || d {
		t.Fatalf("version %d/%v, want 4", v, d)
	}
	if n := e.count(t, `SELECT count(*) FROM information_schema.columns WHERE table_schema = 'acme' AND table_name = 'schema_migrations' AND column_name = 'applied_at'`); n != 1 {
		t.Fatal("the version table lacks the column a migration added")
	}
	if n := e.count(t, `SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'users_email_lower_idx' AND c.relnamespace = 'acme'::regnamespace AND i.indisvalid`); n != 1 {
		t.Fatal("the index built without CONCURRENTLY is missing or invalid")
	}
	// golang-migrate's own path (a registered tenant without a schema) agrees.
	e.register(t, "globex")
	if res, err := e.m.Upgrade(ctx, "globex"); err != nil || res.To != 4 {
		t.Fatalf("Upgrade from nothing = %+v, %v", res, err)
	}
	if got, want := e.strings(t, `SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_schema = 'globex' AND table_name = 'schema_migrations' ORDER BY 1`),
		e.strings(t, `SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_schema = 'acme' AND table_name = 'schema_migrations' ORDER BY 1`); !slices.Equal(got, want) {
		t.Fatalf("version tables differ: %v and %v", got, want)
	}

	// A failing file of such a set names the step, the file and the line, and
	// leaves nothing.
	bad := tenantFS(t, map[string]string{
		"000003_version_table_audit.up.sql": "ALTER TABLE schema_migrations ADD COLUMN applied_at timestamptz;",
		"000004_concurrently.up.sql":        "CREATE INDEX CONCURRENTLY users_x_idx ON users (lower(email));",
		"000005_boom.up.sql":                "-- a comment\nALTER TABLE no_such_table ADD COLUMN a int;",
	})
	_, _, mb := openMigrator(t, e.dsn, migrations.Shared, bad)
	before := e.snapshot(t)
	_, err := mb.CreateTenant(ctx, tenancy.NewTenant{Name: "Initech", Schema: "initech"})
	var me *tenancy.MigrationError
	var pe *pq.Error
	if !errors.As(err, &me) || me.Version != 5 || me.Line != 2 || me.Op != "create" || !errors.As(err, &pe) || pe.Code != "42P01" {
		t.Fatalf("failing create: %v", err)
	}
	if !strings.Contains(err.Error(), "migrate") || strings.Contains(err.Error(), "create schema") {
		t.Fatalf("the error does not name the step: %v", err)
	}
	if after := e.snapshot(t); after != before {
		t.Fatalf("failed create left something behind:\n%s\n%s", before, after)
	}
}
