package tenancy_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
)

// TestMigrateSharedCreatesRegistryTable: on an empty database, MigrateShared
// creates the shared schema and the registry table before the application's
// shared migrations, which may then refer to it; the application's set need not
// mention it.
func TestMigrateSharedCreatesRegistryTable(t *testing.T) {
	t.Parallel()
	shared := fstest.MapFS{"1_notes.up.sql": {Data: []byte(
		`CREATE TABLE notes (id int PRIMARY KEY, tenant_id int NOT NULL REFERENCES tenants (id))`)}}
	e := newMigEnv(t, shared, migrations.Tenant)
	ctx := context.Background()
	if _, err := e.m.MigrateShared(ctx); err != nil {
		t.Fatalf("MigrateShared: %v", err)
	}
	if n := e.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'shared' AND tablename IN ('tenants', 'notes')`); n != 2 {
		t.Fatalf("%d of shared.tenants and shared.notes exist, want 2", n)
	}
	tn, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: "Acme", Schema: "acme"})
	if err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	if got, err := e.reg.Lookup(ctx, tenancy.SchemaKey("acme")); err != nil || got.ID != tn.ID {
		t.Fatalf("Lookup = %+v, %v", got, err)
	}
	// The table keeps the demo's CHECKs: a row written by hand cannot name a
	// schema the library refuses.
	if _, err := e.admin.Exec(`INSERT INTO shared.tenants (name, schema) VALUES ('x', 'public')`); err == nil {
		t.Fatal("the registry accepted schema public")
	}
}

// TestRegistryCreateTableConcurrentAndIdempotent: replicas starting at once all
// succeed, and a database made by the demo's migrations before the library owned
// the table keeps working (the old 000001 migration is now IF NOT EXISTS).
func TestRegistryCreateTableConcurrentAndIdempotent(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, reg, _ := openMigrator(t, e.dsn, migrations.Shared, migrations.Tenant)
			errs[i] = reg.CreateTable(context.Background())
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	e.ready(t) // the demo's set, whose 000001 finds the table there
	if v, d := e.version(t, "shared"); v != 2 || d {
		t.Fatalf("shared at %d (dirty %v), want 2", v, d)
	}
	if err := e.reg.CreateTable(context.Background()); err != nil {
		t.Fatalf("CreateTable again: %v", err)
	}
}

// TestWithAppRegistryTable: MigrateShared leaves the table to the application.
func TestWithAppRegistryTable(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant)
	reg, err := tenancy.NewRegistry(e.db, tenancy.WithAppRegistryTable())
	if err != nil {
		t.Fatal(err)
	}
	shared := fstest.MapFS{"1_x.up.sql": {Data: []byte(`CREATE TABLE x (id int)`)}}
	m, err := tenancy.NewMigrator(e.db, reg, shared, migrations.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.MigrateShared(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'shared' AND tablename = 'tenants'`); n != 0 {
		t.Fatal("MigrateShared created the registry table despite WithAppRegistryTable")
	}
}
