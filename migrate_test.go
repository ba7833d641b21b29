package tenancy_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/golang-migrate/migrate/v4/database"
	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// migEnv is one test's database for migration tests: empty (no shared schema yet),
// with a Migrator over the given migration sets and an admin *sql.DB for looking
// behind the library's back.
type migEnv struct {
	dsn   string
	db    *tenancy.DB
	reg   *tenancy.Registry
	m     *tenancy.Migrator
	admin *sql.DB
}

func newMigEnv(t testing.TB, shared, tenant fs.FS, opts ...tenancy.MigratorOption) *migEnv {
	t.Helper()
	return migEnvAt(t, tenancytest.NewDatabase(t), shared, tenant, opts...)
}

// migEnvAt is newMigEnv on the database dsn.
func migEnvAt(t testing.TB, dsn string, shared, tenant fs.FS, opts ...tenancy.MigratorOption) *migEnv {
	t.Helper()
	e := &migEnv{dsn: dsn}
	var err error
	if e.admin, err = sql.Open("postgres", e.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.admin.Close() })
	e.db, e.reg, e.m = openMigrator(t, e.dsn, shared, tenant, opts...)
	return e
}

// openMigrator opens a DB, Registry and Migrator of their own on dsn: what another
// process (replica) would have.
func openMigrator(t testing.TB, dsn string, shared, tenant fs.FS, opts ...tenancy.MigratorOption) (*tenancy.DB, *tenancy.Registry, *tenancy.Migrator) {
	t.Helper()
	db, err := tenancy.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg, err := tenancy.NewRegistry(db)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tenancy.NewMigrator(db, reg, shared, tenant, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return db, reg, m
}

// ready migrates the shared schema.
func (e *migEnv) ready(t testing.TB) *migEnv {
	t.Helper()
	if _, err := e.m.MigrateShared(context.Background()); err != nil {
		t.Fatalf("MigrateShared: %v", err)
	}
	return e
}

func (e *migEnv) create(t testing.TB, schema string) tenancy.Tenant {
	t.Helper()
	tn, err := e.m.CreateTenant(context.Background(), tenancy.NewTenant{
		Name: "Tenant " + schema, Schema: schema, Host: schema + ".example.com"})
	if err != nil {
		t.Fatalf("CreateTenant(%s): %v", schema, err)
	}
	return tn
}

// register inserts a registry row by hand, with no schema.
func (e *migEnv) register(t testing.TB, schema string) {
	t.Helper()
	mustExec(t, e.admin, `INSERT INTO shared.tenants (name, schema) VALUES ($1, $2)`, "Tenant "+schema, schema)
}

// version reads schema's version table behind the library's back: -1 if it has
// no row.
func (e *migEnv) version(t testing.TB, schema string) (int64, bool) {
	t.Helper()
	v, d := int64(-1), false
	err := e.admin.QueryRow(`SELECT version, dirty FROM `+pq.QuoteIdentifier(schema)+`.schema_migrations`).Scan(&v, &d)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("version of %s: %v", schema, err)
	}
	return v, d
}

func (e *migEnv) count(t testing.TB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.admin.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (e *migEnv) schemaExists(t testing.TB, schema string) bool {
	return e.count(t, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema) == 1
}

// schemas returns the non-system schemas.
func (e *migEnv) schemas(t testing.TB) []string {
	t.Helper()
	return e.strings(t, `SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1`)
}

func (e *migEnv) strings(t testing.TB, q string, args ...any) []string {
	t.Helper()
	rows, err := e.admin.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// catalog is a fingerprint of everything user-visible in the database: every
// relation with its columns, every schema, every constraint, and the contents of
// every version table and of the registry. Plan and Status must not change it.
func (e *migEnv) catalog(t testing.TB) string {
	t.Helper()
	parts := e.schemas(t)
	parts = append(parts, e.strings(t, `SELECT n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' ||
		coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum)
		FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' ORDER BY 1`)...)
	parts = append(parts, e.strings(t, `SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
		WHERE connamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname ~ '^pg_' OR nspname = 'information_schema') ORDER BY 1`)...)
	for _, s := range e.strings(t, `SELECT table_schema FROM information_schema.tables WHERE table_name = 'schema_migrations' ORDER BY 1`) {
		v, d := e.version(t, s)
		parts = append(parts, fmt.Sprintf("%s@%d/%v", s, v, d))
	}
	if e.schemaExists(t, "shared") && e.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'shared' AND tablename = 'tenants'`) == 1 {
		parts = append(parts, e.strings(t, `SELECT id || ':' || name || ':' || schema || ':' || coalesce(host, '') FROM shared.tenants ORDER BY id`)...)
	}
	return strings.Join(parts, "\n")
}

// advisoryLocks counts the advisory locks held or awaited in the test's database.
func (e *migEnv) advisoryLocks(t testing.TB) int {
	t.Helper()
	return e.count(t, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
}

// tenantFS returns the demo tenant migrations plus extra files.
func tenantFS(t testing.TB, extra map[string]string) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(migrations.Tenant, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.Tenant, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range extra {
		m[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return m
}

func mapFS(files map[string]string) fs.FS {
	m := fstest.MapFS{}
	for name, body := range files {
		m[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return m
}

// waitFor polls cond (a query against the server's state) until it holds, failing
// the test after a deadline. It observes a condition; it does not guess a delay.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMigrateSharedCreatesSchemaAndIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant)
	ctx := context.Background()
	res, err := e.m.MigrateShared(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Schema != "shared" || res.From != 0 || res.To != 2 || !slices.Equal(res.Applied, []uint{1, 2}) || res.Dirty {
		t.Fatalf("first MigrateShared = %+v, want shared 0→2 applying [1 2]", res)
	}
	if v, d := e.version(t, "shared"); v != 2 || d {
		t.Fatalf("shared.schema_migrations = %d/%v, want 2/false", v, d)
	}
	if n := e.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'shared' AND tablename IN ('tenants', 'shared_users')`); n != 2 {
		t.Fatalf("shared has %d of the 2 shared tables", n)
	}
	res, err = e.m.MigrateShared(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.From != 2 || res.To != 2 || len(res.Applied) != 0 {
		t.Fatalf("second MigrateShared = %+v, want no change at 2", res)
	}
	if n := e.count(t, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`); n != 0 {
		t.Fatalf("public has %d tables, want none", n)
	}
	st, err := e.m.Status(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if st != (tenancy.Status{Schema: "shared", Version: 2, Head: 2}) {
		t.Fatalf("Status(shared) = %+v", st)
	}
}

func TestMigrateSharedConcurrentReplicas(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant)
	const n = 8
	ms := make([]*tenancy.Migrator, n)
	for i := range ms {
		_, _, ms[i] = openMigrator(t, e.dsn, migrations.Shared, migrations.Tenant)
	}
	results := make([]tenancy.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = ms[i].MigrateShared(context.Background())
		}()
	}
	close(start)
	wg.Wait()
	applied := 0
	for i := range ms {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if results[i].To != 2 {
			t.Fatalf("replica %d: %+v, want To 2", i, results[i])
		}
		applied += len(results[i].Applied)
	}
	if applied != 2 {
		t.Fatalf("the replicas applied %d migrations in total, want each of the 2 exactly once", applied)
	}
	if v, d := e.version(t, "shared"); v != 2 || d {
		t.Fatalf("shared version %d/%v", v, d)
	}
}

func TestMigratorVersionTablesLiveInEachSchema(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	ctx := context.Background()
	e.create(t, "acme")
	e.register(t, "globex") // registered, no schema yet
	if _, err := e.m.Upgrade(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	got := e.strings(t, `SELECT table_schema FROM information_schema.tables WHERE table_name = 'schema_migrations' ORDER BY 1`)
	if want := []string{"acme", "globex", "shared"}; !slices.Equal(got, want) {
		t.Fatalf("version tables in %v, want %v", got, want)
	}
	for _, s := range []string{"acme", "globex"} {
		if v, d := e.version(t, s); v != 2 || d {
			t.Fatalf("%s at %d/%v, want 2/false", s, v, d)
		}
		// The tenant tables are in the tenant schema, and nowhere else.
		if n := e.count(t, `SELECT count(*) FROM pg_tables WHERE tablename = 'users' AND schemaname = $1`, s); n != 1 {
			t.Fatalf("%s.users missing", s)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); n != 0 {
		t.Fatalf("%d tables in public", n)
	}
	// The index of migration 2 is there: it ran, in the schema.
	if n := e.count(t, `SELECT count(*) FROM pg_indexes WHERE schemaname = 'globex' AND indexname = 'users_last_first_name_idx'`); n != 1 {
		t.Fatal("migration 2 did not create its index in globex")
	}
}

func TestMigratorUpgradeDowngradeForce(t *testing.T) {
	t.Parallel()
	v3 := tenantFS(t, map[string]string{
		"000003_notes.up.sql":   `CREATE TABLE notes (id int PRIMARY KEY, body text);`,
		"000003_notes.down.sql": `DROP TABLE notes;`,
	})
	e := newMigEnv(t, migrations.Shared, v3).ready(t)
	ctx := context.Background()
	e.create(t, "acme")
	if v, _ := e.version(t, "acme"); v != 3 {
		t.Fatalf("created at %d, want 3", v)
	}

	res, err := e.m.Downgrade(ctx, "acme", 2)
	if err != nil {
		t.Fatal(err)
	}
	if res.From != 3 || res.To != 1 || !slices.Equal(res.Applied, []uint{3, 2}) {
		t.Fatalf("Downgrade 2 = %+v, want 3→1 reverting [3 2]", res)
	}
	if e.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'acme' AND tablename = 'notes'`) != 0 {
		t.Fatal("notes survived its down migration")
	}
	if _, err := e.m.Downgrade(ctx, "acme", 2); err == nil || !strings.Contains(err.Error(), "only 1") {
		t.Fatalf("Downgrade past version 0: %v", err)
	}

	// A context that carries another tenant does not matter: the run is bound to
	// the schema it migrates.
	other := tenancy.NewContext(ctx, tenancy.Tenant{ID: 99, Schema: "globex"})
	res, err = e.m.UpgradeTo(other, "acme", 2)
	if err != nil || res.From != 1 || res.To != 2 || !slices.Equal(res.Applied, []uint{2}) {
		t.Fatalf("UpgradeTo 2 = %+v, %v", res, err)
	}
	if _, err := e.m.UpgradeTo(ctx, "acme", 7); !errors.Is(err, tenancy.ErrUnknownVersion) {
		t.Fatalf("UpgradeTo unknown version: %v", err)
	}
	res, err = e.m.Upgrade(ctx, "acme")
	if err != nil || res.From != 2 || res.To != 3 || !slices.Equal(res.Applied, []uint{3}) {
		t.Fatalf("Upgrade = %+v, %v", res, err)
	}
	// Upgrade never reverts: UpgradeTo an older version is a no-op.
	res, err = e.m.UpgradeTo(ctx, "acme", 1)
	if err != nil || res.From != 3 || res.To != 3 || len(res.Applied) != 0 {
		t.Fatalf("UpgradeTo older = %+v, %v", res, err)
	}

	// Force sets the version without running anything.
	if err := e.m.Force(ctx, "acme", 1); err != nil {
		t.Fatal(err)
	}
	if v, d := e.version(t, "acme"); v != 1 || d {
		t.Fatalf("after Force 1: %d/%v", v, d)
	}
	if e.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'acme' AND tablename = 'notes'`) != 1 {
		t.Fatal("Force ran a migration")
	}
	if err := e.m.Force(ctx, "acme", -1); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.version(t, "acme"); v != -1 {
		t.Fatalf("after Force -1: version row %d, want none", v)
	}
	if err := e.m.Force(ctx, "acme", 5); !errors.Is(err, tenancy.ErrUnknownVersion) {
		t.Fatalf("Force to unknown version: %v", err)
	}
	if err := e.m.Force(ctx, "acme", 3); err != nil {
		t.Fatal(err)
	}

	// Unknown and invalid tenants are refused before anything runs.
	for _, s := range []string{"nobody", "Bad Name", "pg_catalog", "public"} {
		_, err := e.m.Upgrade(ctx, s)
		var te *tenancy.TenantError
		if !errors.As(err, &te) || te.Key != s {
			t.Fatalf("Upgrade(%q) = %v, want a *TenantError", s, err)
		}
		if s == "nobody" && !errors.Is(err, tenancy.ErrUnknownTenant) {
			t.Fatalf("Upgrade(nobody) = %v, want ErrUnknownTenant", err)
		}
	}
	if e.schemaExists(t, "nobody") {
		t.Fatal("Upgrade of an unknown tenant created its schema")
	}
}

func TestMigratorDowngradeRefusesIrreversible(t *testing.T) {
	t.Parallel()
	tfs := tenantFS(t, map[string]string{
		"000003_one_way.up.sql": `CREATE TABLE one_way (id int);`,
	})
	e := newMigEnv(t, migrations.Shared, tfs).ready(t)
	ctx := context.Background()
	e.create(t, "acme")
	before := e.catalog(t)
	_, err := e.m.Downgrade(ctx, "acme", 1)
	var me *tenancy.MigrationError
	if !errors.Is(err, tenancy.ErrIrreversible) || !errors.As(err, &me) || me.Schema != "acme" {
		t.Fatalf("Downgrade of a migration without down file: %v", err)
	}
	if _, err := e.m.PlanDowngrade(ctx, "acme", 1); !errors.Is(err, tenancy.ErrIrreversible) {
		t.Fatalf("PlanDowngrade: %v", err)
	}
	if after := e.catalog(t); after != before {
		t.Fatalf("a refused downgrade changed the database:\n%s\n---\n%s", before, after)
	}
}

func TestMigratorPlanChangesNothing(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	ctx := context.Background()
	e.create(t, "acme")
	e.register(t, "fresh") // registered, not yet at any version (no schema)
	if _, err := e.m.Downgrade(ctx, "acme", 1); err != nil {
		t.Fatal(err)
	}
	before := e.catalog(t)

	p, err := e.m.Plan(ctx, "fresh", 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Schema != "fresh" || p.From != 0 || p.To != 2 || len(p.Steps) != 2 ||
		p.Steps[0].Version != 1 || p.Steps[0].Name != "initial" || p.Steps[0].Down ||
		!strings.Contains(p.Steps[0].SQL, "CREATE TABLE roles") || p.Steps[1].Version != 2 {
		t.Fatalf("Plan(fresh) = %+v", p)
	}
	p, err = e.m.Plan(ctx, "acme", 0)
	if err != nil || p.From != 1 || p.To != 2 || len(p.Steps) != 1 || p.Steps[0].Version != 2 {
		t.Fatalf("Plan(acme, head) = %+v, %v", p, err)
	}
	p, err = e.m.PlanDowngrade(ctx, "acme", 1)
	if err != nil || p.From != 1 || p.To != 0 || len(p.Steps) != 1 || !p.Steps[0].Down ||
		!strings.Contains(p.Steps[0].SQL, "DROP TABLE users") {
		t.Fatalf("PlanDowngrade(acme, 1) = %+v, %v", p, err)
	}
	p, err = e.m.Plan(ctx, "shared", 1)
	if err != nil || p.From != 2 || p.To != 1 || len(p.Steps) != 1 || !p.Steps[0].Down || p.Steps[0].Version != 2 {
		t.Fatalf("Plan(shared, 1) = %+v, %v", p, err)
	}
	st, err := e.m.Status(ctx, "fresh")
	if err != nil || st.Version != 0 || st.Pending != 2 || st.Head != 2 || st.TenantID == 0 {
		t.Fatalf("Status(fresh) = %+v, %v", st, err)
	}
	if _, err := e.m.Plan(ctx, "acme", 9); !errors.Is(err, tenancy.ErrUnknownVersion) {
		t.Fatalf("Plan to an unknown version: %v", err)
	}
	if _, err := e.m.Plan(ctx, "nobody", 0); !errors.Is(err, tenancy.ErrUnknownTenant) {
		t.Fatalf("Plan(nobody): %v", err)
	}
	if after := e.catalog(t); after != before {
		t.Fatalf("Plan/Status changed the database:\n%s\n---\n%s", before, after)
	}
}

func TestMigratorFailedMigrationIsCleanAndTranslated(t *testing.T) {
	t.Parallel()
	tfs := tenantFS(t, map[string]string{
		// The error is on line 3 of the file.
		"000003_bad.up.sql":   "CREATE TABLE fine (id int);\n\nSELECT no_such_column FROM fine;\n",
		"000003_bad.down.sql": "DROP TABLE fine;",
	})
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	ctx := context.Background()
	e.create(t, "acme")
	_, _, m3 := openMigrator(t, e.dsn, migrations.Shared, tfs)
	res, err := m3.Upgrade(ctx, "acme")
	var me *tenancy.MigrationError
	if !errors.As(err, &me) {
		t.Fatalf("Upgrade with a failing migration: %v (%T), want *MigrationError", err, err)
	}
	if me.Schema != "acme" || me.Version != 3 || me.Line != 3 || me.Dirty || me.TenantID == 0 || me.Op != "upgrade" {
		t.Fatalf("MigrationError = %+v", me)
	}
	var pe *pq.Error
	if !errors.As(err, &pe) || pe.Code != "42703" {
		t.Fatalf("the *pq.Error is not reachable: %v", err)
	}
	if strings.Contains(err.Error(), "CREATE TABLE") || strings.Contains(err.Error(), "dirty") {
		t.Fatalf("the error message contains the migration's SQL or says dirty: %v", err)
	}
	// The file ran as one transaction with its version: nothing of it is left,
	// and the schema is clean at the previous version.
	if res.Dirty || res.From != 2 || res.To != 2 || len(res.Applied) != 0 {
		t.Fatalf("Result = %+v, want 2→2 clean", res)
	}
	if e.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'acme' AND tablename = 'fine'`) != 0 {
		t.Fatal("the failed migration's first statement survived")
	}
	if v, d := e.version(t, "acme"); v != 2 || d {
		t.Fatalf("version table %d/%v, want 2/clean", v, d)
	}
	st, err := m3.Status(ctx, "acme")
	if err != nil || st.Dirty || st.Version != 2 || st.Pending != 1 {
		t.Fatalf("Status = %+v, %v", st, err)
	}
}

func TestMigratorFailedOwnTransactionIsDirty(t *testing.T) {
	t.Parallel()
	// A file that controls its own transactions: what it committed stays, so the
	// schema is dirty at it.
	tfs := tenantFS(t, map[string]string{
		"000003_bad.up.sql":   "BEGIN;\nCREATE TABLE fine (id int);\nCOMMIT;\nSELECT no_such_column FROM fine;\n",
		"000003_bad.down.sql": "DROP TABLE fine;",
	})
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	ctx := context.Background()
	e.create(t, "acme")
	_, _, m3 := openMigrator(t, e.dsn, migrations.Shared, tfs)
	res, err := m3.Upgrade(ctx, "acme")
	var me *tenancy.MigrationError
	if !errors.As(err, &me) || me.Version != 3 || me.Line != 4 || !me.Dirty {
		t.Fatalf("Upgrade with a failing migration: %v, want a dirty *MigrationError at 3, line 4", err)
	}
	if !res.Dirty || res.From != 2 || res.To != 3 || len(res.Applied) != 0 {
		t.Fatalf("Result = %+v, want 2→3 dirty", res)
	}
	if e.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'acme' AND tablename = 'fine'`) != 1 {
		t.Fatal("the committed part of the migration is missing")
	}
	// Dirty: every run refuses, naming tenant and version, until Force.
	for name, f := range map[string]func() error{
		"Upgrade":       func() error { _, err := m3.Upgrade(ctx, "acme"); return err },
		"Downgrade":     func() error { _, err := m3.Downgrade(ctx, "acme", 1); return err },
		"Plan":          func() error { _, err := m3.Plan(ctx, "acme", 0); return err },
		"PlanDowngrade": func() error { _, err := m3.PlanDowngrade(ctx, "acme", 1); return err },
	} {
		err := f()
		if !errors.Is(err, tenancy.ErrDirty) || !errors.As(err, &me) || me.Version != 3 || !strings.Contains(err.Error(), `"acme"`) {
			t.Fatalf("%s on a dirty schema: %v", name, err)
		}
	}
	st, err := m3.Status(ctx, "acme")
	if err != nil || !st.Dirty || st.Version != 3 {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if err := m3.Force(ctx, "acme", 2); err != nil {
		t.Fatal(err)
	}
	if st, _ := m3.Status(ctx, "acme"); st.Dirty || st.Version != 2 || st.Pending != 1 {
		t.Fatalf("Status after Force = %+v", st)
	}
}

func TestMigratorCancelReleasesLocks(t *testing.T) {
	t.Parallel()
	// Migration 3 sleeps while the marker table exists, so that the test can cancel
	// it mid-statement.
	tfs := tenantFS(t, map[string]string{
		"000003_slow.up.sql": `CREATE TABLE slow (id int);
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'sleep_marker') THEN
    PERFORM pg_sleep(120);
  END IF;
END $$;`,
		"000003_slow.down.sql": `DROP TABLE slow;`,
	})
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	e.create(t, "acme")
	_, _, m3 := openMigrator(t, e.dsn, migrations.Shared, tfs, tenancy.WithLockTimeout(3*time.Second))
	mustExec(t, e.admin, `CREATE TABLE public.sleep_marker ()`)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		res tenancy.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := m3.Upgrade(ctx, "acme")
		done <- outcome{res, err}
	}()
	waitFor(t, "the slow migration to run", func() bool {
		return e.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%PERFORM pg_sleep(120)%' AND pid <> pg_backend_pid()`) == 1
	})
	if n := e.advisoryLocks(t); n == 0 {
		t.Fatal("no advisory lock is held while the migration runs")
	}
	cancel()
	var out outcome
	select {
	case out = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Upgrade did not return after its context was cancelled")
	}
	if !errors.Is(out.err, context.Canceled) {
		t.Fatalf("cancelled Upgrade: %v, want context.Canceled", out.err)
	}
	// The migration ran as one transaction with its version: cancelled, it
	// leaves the schema clean where it was.
	if out.res.Dirty || out.res.To != 2 {
		t.Fatalf("cancelled mid-migration: %+v, want clean at 2", out.res)
	}
	mustExec(t, e.admin, `DROP TABLE public.sleep_marker`)
	// The session is gone, and every lock with it: nothing waits for it to end.
	waitFor(t, "the cancelled session to end", func() bool {
		return e.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%PERFORM pg_sleep(120)%' AND pid <> pg_backend_pid()`) == 0
	})
	if n := e.advisoryLocks(t); n != 0 {
		t.Fatalf("%d advisory locks survive the cancelled run", n)
	}
	if v, d := e.version(t, "acme"); v != 2 || d {
		t.Fatalf("version table after cancel: %d/%v, want 2/clean", v, d)
	}
	// A new run gets the lock at once (it would fail with ErrLocked after 3s if
	// it were held) and completes, with no Force needed.
	res, err := m3.Upgrade(context.Background(), "acme")
	if err != nil || res.To != 3 || !slices.Equal(res.Applied, []uint{3}) {
		t.Fatalf("Upgrade after cancel = %+v, %v", res, err)
	}
	if n := e.advisoryLocks(t); n != 0 {
		t.Fatalf("%d advisory locks after a completed run", n)
	}
}

func TestMigratorLockedSchemaTimesOut(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	e.create(t, "acme")
	_, _, m := openMigrator(t, e.dsn, migrations.Shared, migrations.Tenant, tenancy.WithLockTimeout(200*time.Millisecond))
	// Hold golang-migrate's lock for acme's version table, as a golang-migrate
	// CLI run would.
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
	_, err = m.Upgrade(context.Background(), "acme")
	var me *tenancy.MigrationError
	if !errors.Is(err, tenancy.ErrLocked) || !errors.As(err, &me) || me.Schema != "acme" {
		t.Fatalf("Upgrade of a locked schema: %v, want ErrLocked", err)
	}
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Upgrade(context.Background(), "acme"); err != nil {
		t.Fatalf("Upgrade after unlock: %v", err)
	}
}

func TestNewMigratorValidates(t *testing.T) {
	t.Parallel()
	db, err := tenancy.Open("postgres", "postgres://127.0.0.1:1/none?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg, err := tenancy.NewRegistry(db)
	if err != nil {
		t.Fatal(err)
	}
	other, err := tenancy.Open("postgres", "postgres://127.0.0.1:1/none?sslmode=disable", tenancy.WithSharedSchema("common"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ok := mapFS(map[string]string{"1_a.up.sql": "SELECT 1;"})
	cases := map[string]struct {
		db      *tenancy.DB
		reg     *tenancy.Registry
		shared  fs.FS
		tenant  fs.FS
		opts    []tenancy.MigratorOption
		wantErr string
	}{
		"ok":                {db, reg, ok, ok, nil, ""},
		"nil db":            {nil, reg, ok, ok, nil, "nil DB"},
		"nil registry":      {db, nil, ok, ok, nil, "nil Registry"},
		"mismatched schema": {other, reg, ok, ok, nil, `shared schema "shared"`},
		"nil fs":            {db, reg, nil, ok, nil, "shared migrations: nil"},
		"empty":             {db, reg, ok, mapFS(map[string]string{"README": "x"}), nil, "tenant migrations: no files"},
		"version 0":         {db, reg, ok, mapFS(map[string]string{"0_a.up.sql": "SELECT 1;"}), nil, "version 0"},
		"down only":         {db, reg, ok, mapFS(map[string]string{"1_a.up.sql": "", "2_b.down.sql": ""}), nil, "no up file"},
		"duplicate": {db, reg, ok, mapFS(map[string]string{"1_a.up.sql": "", "1_b.up.sql": ""}), nil,
			"duplicate"},
		"bad table":         {db, reg, ok, ok, []tenancy.MigratorOption{tenancy.WithVersionTable("Bad")}, "WithVersionTable"},
		"bad lock timeout":  {db, reg, ok, ok, []tenancy.MigratorOption{tenancy.WithLockTimeout(0)}, "WithLockTimeout"},
		"bad concurrency":   {db, reg, ok, ok, []tenancy.MigratorOption{tenancy.WithFleetConcurrency(0)}, "WithFleetConcurrency"},
		"nil logger":        {db, reg, ok, ok, []tenancy.MigratorOption{tenancy.WithMigrationLogger(nil)}, "nil logger"},
		"shared handle ok":  {db.Shared(), reg, ok, ok, nil, ""},
		"subdirectory only": {db, reg, ok, mapFS(map[string]string{"tenant/1_a.up.sql": ""}), nil, "no files"},
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		c := cases[name]
		_, err := tenancy.NewMigrator(c.db, c.reg, c.shared, c.tenant, c.opts...)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", name, err, c.wantErr)
		}
	}
}

// migrateLockID is the advisory lock golang-migrate's postgres driver takes for a
// version table.
func migrateLockID(t testing.TB, dbName, schema, table string) int64 {
	t.Helper()
	s, err := database.GenerateAdvisoryLockId(dbName, schema, table)
	if err != nil {
		t.Fatal(err)
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestMigratorConnectionsAreNotReturnedToPool(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	e.create(t, "acme")
	ctx := context.Background()
	for name, run := range map[string]func(*tenancy.Migrator) error{
		"MigrateShared": func(m *tenancy.Migrator) error { _, err := m.MigrateShared(ctx); return err },
		"Upgrade":       func(m *tenancy.Migrator) error { _, err := m.Upgrade(ctx, "acme"); return err },
		"Force":         func(m *tenancy.Migrator) error { return m.Force(ctx, "acme", 2) },
		"Downgrade": func(m *tenancy.Migrator) error {
			if _, err := m.Downgrade(ctx, "acme", 1); err != nil {
				return err
			}
			_, err := m.Upgrade(ctx, "acme")
			return err
		},
	} {
		db, _, m := openMigrator(t, e.dsn, migrations.Shared, migrations.Tenant)
		if err := run(m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// The registry read's pooled connection was taken for the run and closed
		// after it, with the run's session.
		if n := db.Pool().Stats().OpenConnections; n != 0 {
			t.Fatalf("%s: %d connections left open in the pool, want 0", name, n)
		}
	}
}

func TestMigratorCustomSharedSchemaAndVersionTable(t *testing.T) {
	t.Parallel()
	dsn := tenancytest.NewDatabase(t)
	admin, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	db, err := tenancy.Open("postgres", dsn, tenancy.WithSharedSchema("common"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg, err := tenancy.NewRegistry(db)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tenancy.NewMigrator(db, reg, migrations.Shared, migrations.Tenant, tenancy.WithVersionTable("tenancy_versions"))
	if err != nil {
		t.Fatal(err)
	}
	e := &migEnv{dsn: dsn, db: db, reg: reg, m: m, admin: admin}
	ctx := context.Background()
	if _, err := m.MigrateShared(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateTenant(ctx, tenancy.NewTenant{Name: "Acme", Schema: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateTenant(ctx, tenancy.NewTenant{Name: "Common", Schema: "common"}); !errors.Is(err, tenancy.ErrInvalidSchemaName) {
		t.Fatalf("a tenant in the shared schema: %v", err)
	}
	rep, err := m.UpgradeFleet(ctx, tenancy.FleetOptions{})
	if err != nil || rep.Skipped != 1 || rep.Shared.To != 2 {
		t.Fatalf("UpgradeFleet: %+v, %v", rep, err)
	}
	got := e.strings(t, `SELECT table_schema || '.' || table_name FROM information_schema.tables
		WHERE table_name IN ('tenancy_versions', 'schema_migrations') ORDER BY 1`)
	if want := []string{"acme.tenancy_versions", "common.tenancy_versions"}; !slices.Equal(got, want) {
		t.Fatalf("version tables %v, want %v", got, want)
	}
	if e.schemaExists(t, "shared") {
		t.Fatal(`a schema "shared" was created`)
	}
	sts, err := m.FleetStatus(ctx)
	if err != nil || len(sts) != 1 || sts[0].Version != 2 || sts[0].Schema != "acme" {
		t.Fatalf("FleetStatus: %+v, %v", sts, err)
	}
	if st, err := m.Status(ctx, "common"); err != nil || st.Version != 2 || st.Head != 2 {
		t.Fatalf("Status(common): %+v, %v", st, err)
	}
}

func TestMigratorCancelAtRandomPointsNeverLeavesDirty(t *testing.T) {
	t.Parallel()
	// 30 transactional migrations, each creating one table and writing a row;
	// every 7th also sleeps a little, so that cancellations land mid-statement as
	// well as between migrations. Whatever the point of cancellation, the schema
	// must be clean at a version whose tables are exactly those it has.
	const n = 30
	files := map[string]string{}
	for i := 1; i <= n; i++ {
		body := fmt.Sprintf("CREATE TABLE t%02d (id int PRIMARY KEY);\nINSERT INTO t%02d VALUES (%d);", i, i, i)
		if i%7 == 0 {
			body += "\nSELECT pg_sleep(0.02);"
		}
		files[fmt.Sprintf("%d_t%02d.up.sql", i, i)] = body
		files[fmt.Sprintf("%d_t%02d.down.sql", i, i)] = fmt.Sprintf("DROP TABLE t%02d;", i)
	}
	tfs := mapFS(files)
	e := newMigEnv(t, migrations.Shared, tfs).ready(t)
	e.register(t, "acme")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 14))
	seenPartial := false
	for round := 0; round < 12; round++ {
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(time.Duration(rng.IntN(150_000))*time.Microsecond, cancel)
		var res tenancy.Result
		var err error
		if cur := e.mustStatus(t, "acme").Version; round%3 == 2 && cur > 0 {
			res, err = e.m.Downgrade(ctx, "acme", int(cur))
		} else {
			res, err = e.m.Upgrade(ctx, "acme")
		}
		timer.Stop()
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: %v", round, err)
		}
		if res.Dirty {
			t.Fatalf("round %d: result dirty: %+v", round, res)
		}
		v, d := int64(-1), false // (a run cancelled very early may not have created the version table)
		if e.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'acme' AND tablename = 'schema_migrations'`) == 1 {
			v, d = e.version(t, "acme")
		}
		if d {
			t.Fatalf("round %d: the schema is dirty at %d after a cancellation", round, v)
		}
		v = max(v, 0)
		// (A run cancelled before it read the version reports 0 → 0.)
		if uint(v) != res.To && (err == nil || res.From != 0 || res.To != 0) {
			t.Fatalf("round %d: Result.To = %d, version table %d", round, res.To, v)
		}
		if got := e.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'acme' AND tablename ~ '^t[0-9]+$'`); got != int(v) {
			t.Fatalf("round %d: version %d with %d tables", round, v, got)
		}
		if v > 0 && v < n {
			seenPartial = true
		}
	}
	if res, err := e.m.Upgrade(context.Background(), "acme"); err != nil || res.To != n {
		t.Fatalf("final Upgrade = %+v, %v", res, err)
	}
	t.Logf("a cancellation left a partial run: %v", seenPartial)
}

func (e *migEnv) mustStatus(t testing.TB, schema string) tenancy.Status {
	t.Helper()
	st, err := e.m.Status(context.Background(), schema)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
