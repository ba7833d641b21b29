package tenancy_test

import (
	"context"
	"os"
	"testing"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
)

// saasTenant is the realistic tenant migration set of testdata/saas (written by
// testdata/saas/gen.go): 160 migrations with enums extended by ALTER TYPE ...
// ADD VALUE, trigger functions, audit triggers, partial and expression indexes,
// views, data migrations, CREATE INDEX CONCURRENTLY files and a version table
// extended with a column.
var saasTenant = os.DirFS("testdata/saas/tenant")

const saasHead = 160

func TestSaaSSetCreateUpgradeDowngradeAgree(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, saasTenant).ready(t)
	ctx := context.Background()
	if e.m.Head() != saasHead {
		t.Fatalf("head %d, want %d", e.m.Head(), saasHead)
	}
	// One transaction (CreateTenant) and golang-migrate's file by file (a
	// registered tenant without a schema) give the same structure.
	e.create(t, "acme")
	e.register(t, "globex")
	if res, err := e.m.Upgrade(ctx, "globex"); err != nil || res.To != saasHead || res.Dirty {
		t.Fatalf("Upgrade from nothing = %v, %v", res.To, err)
	}
	d := mustDrift(t, e.m, "globex", "acme")
	if d.Items < 700 {
		t.Fatalf("only %d catalog items: the comparison sees too little", d.Items)
	}
	if n := e.count(t, `SELECT count(*) FROM acme.organizations`); n != 3 {
		t.Fatalf("the seed migration left %d organizations", n)
	}
	if n := e.count(t, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); n != 0 {
		t.Fatalf("%d tables in public", n)
	}
	// Down to 0 and back up.
	if res, err := e.m.Downgrade(ctx, "globex", saasHead); err != nil || res.To != 0 {
		t.Fatalf("Downgrade to 0 = %v, %v", res.To, err)
	}
	if n := e.count(t, `SELECT count(*) FROM pg_class WHERE relnamespace = 'globex'::regnamespace AND relname NOT IN ('schema_migrations', 'schema_migrations_pkey')`); n != 0 {
		t.Fatalf("%d relations left after a downgrade to 0", n)
	}
	if res, err := e.m.Upgrade(ctx, "globex"); err != nil || res.To != saasHead {
		t.Fatalf("Upgrade again = %v, %v", res.To, err)
	}
	mustDrift(t, e.m, "globex", "acme")
	// The fleet: one tenant behind by 10, one at head.
	if _, err := e.m.Downgrade(ctx, "acme", 10); err != nil {
		t.Fatal(err)
	}
	rep, err := e.m.UpgradeFleet(ctx, tenancy.FleetOptions{})
	if err != nil || rep.Upgraded != 1 || rep.Skipped != 1 {
		t.Fatalf("fleet upgrade: %+v, %v", rep, err)
	}
	mustDrift(t, e.m, "globex", "acme")
}

// mustDrift fails the test unless schema's structure equals reference's.
func mustDrift(t testing.TB, m *tenancy.Migrator, schema, reference string) tenancy.DriftReport {
	t.Helper()
	d, err := m.Drift(context.Background(), schema, reference)
	if err != nil {
		t.Fatal(err)
	}
	if d.Drifted() {
		t.Fatalf("%v:\nmissing: %q\nextra: %q", d, d.Missing, d.Extra)
	}
	return d
}
