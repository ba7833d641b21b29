package tenancy_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
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

func TestSaaSSetCloneEqualsMigrations(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, saasTenant).ready(t)
	ctx := context.Background()
	e.create(t, "migrated") // no template: the migrations
	_, _, mc := openMigrator(t, e.dsn, migrations.Shared, saasTenant, tenancy.WithCloneTemplate("tenant_template"))
	if err := mc.RebuildTemplate(ctx); err != nil {
		t.Fatalf("RebuildTemplate: %v", err)
	}
	var cloned1 tenancy.Tenant
	for _, s := range []string{"cloned1", "cloned2"} {
		tn, err := mc.CreateTenant(ctx, tenancy.NewTenant{Name: s, Schema: s})
		if err != nil {
			t.Fatalf("CreateTenant by clone: %v", err)
		}
		if s == "cloned1" {
			cloned1 = tn
		}
		d := mustDrift(t, mc, s, "migrated")
		if d.Items < 700 {
			t.Fatalf("%d catalog items", d.Items)
		}
		if v, dirty := e.version(t, s); v != saasHead || dirty {
			t.Fatalf("%s at %d/%v", s, v, dirty)
		}
	}
	mustDrift(t, mc, "tenant_template", "migrated")
	// The same rows, and sequences that go on where the template's are.
	for _, q := range []string{`SELECT count(*) FROM %s.organizations`, `SELECT count(*) FROM %s.audit_log`, `SELECT count(*) FROM %s.labels`} {
		if a, b := e.count(t, fmt.Sprintf(q, "migrated")), e.count(t, fmt.Sprintf(q, "cloned1")); a != b {
			t.Fatalf("%s: %d migrated, %d cloned", q, a, b)
		}
	}
	// (In the tenant's context: the product's trigger functions resolve their
	// names in the caller's search_path.)
	var id int
	if err := e.db.QueryRowxContext(tctx(cloned1), `INSERT INTO organizations (name) VALUES ('New') RETURNING id`).Scan(&id); err != nil || id != 4 {
		t.Fatalf("next organization id %d, %v; want 4", id, err)
	}
	// Triggers work on the copy's own tables.
	if _, err := e.db.ExecContext(tctx(cloned1), `UPDATE organizations SET name = 'Renamed' WHERE id = 4`); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, `SELECT count(*) FROM cloned1.audit_log WHERE table_name = 'organizations' AND row_id = 4`); n != 2 {
		t.Fatalf("%d audit rows for the new organization, want 2", n)
	}
	if n := e.count(t, `SELECT count(*) FROM migrated.audit_log WHERE row_id = 4`); n != 0 {
		t.Fatal("the copy's trigger wrote into another schema")
	}
	// A clone upgrades and downgrades like any tenant.
	if _, err := mc.Downgrade(ctx, "cloned2", 5); err != nil {
		t.Fatal(err)
	}
	if res, err := mc.Upgrade(ctx, "cloned2"); err != nil || res.To != saasHead {
		t.Fatalf("Upgrade of a clone: %v, %v", res.To, err)
	}
	mustDrift(t, mc, "cloned2", "migrated")
	// A failed clone leaves nothing: a duplicate host, and a cancelled context.
	before := e.snapshot(t)
	if _, err := mc.CreateTenant(ctx, tenancy.NewTenant{Name: "cloned1", Schema: "cloned3"}); !errors.Is(err, tenancy.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := mc.CreateTenant(cctx, tenancy.NewTenant{Name: "cloned3", Schema: "cloned3"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled clone: %v", err)
	}
	if after := e.snapshot(t); after != before {
		t.Fatalf("a failed clone left something behind:\n%s\n%s", before, after)
	}
}

func TestSaaSSetParallelCreatesSucceed(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, saasTenant).ready(t)
	_, _, mc := openMigrator(t, e.dsn, migrations.Shared, saasTenant, tenancy.WithCloneTemplate("tenant_template"))
	for _, c := range []struct {
		m      *tenancy.Migrator
		prefix string
		n      int
	}{{e.m, "mig", 64}, {mc, "clone", 64}} {
		errs := make(chan error, c.n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range c.n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				s := fmt.Sprintf("%s_%02d", c.prefix, i)
				_, err := c.m.CreateTenant(context.Background(), tenancy.NewTenant{Name: s, Schema: s})
				errs <- err
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("%d parallel creates (%s): %v", c.n, c.prefix, err)
			}
		}
		if n := e.count(t, `SELECT count(*) FROM shared.tenants WHERE schema LIKE $1`, c.prefix+"_%"); n != c.n {
			t.Fatalf("%d %s tenants registered, want %d", n, c.prefix, c.n)
		}
	}
	mustDrift(t, e.m, "clone_63", "mig_63")
}
