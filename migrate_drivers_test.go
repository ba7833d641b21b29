package tenancy_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/rtcount"
	"github.com/go-tenancy/tenancy/migrations"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// TestMigratorOnEachDriver runs the Migrator's life cycle over each driver: the
// shared schema, tenant creation (and a duplicate refused as a conflict, not as
// a driver error), status, plan, downgrade, upgrade, the fleet, and drop. The
// migration suites proper run on lib/pq; this shows nothing in them depends on it.
func TestMigratorOnEachDriver(t *testing.T) {
	t.Parallel()
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			dsn := tenancytest.NewDatabase(t)
			db := openCountedDriver(t, d, dsn, &rtcount.Counter{})
			reg, err := tenancy.NewRegistry(db)
			if err != nil {
				t.Fatal(err)
			}
			m, err := tenancy.NewMigrator(db, reg, migrations.Shared, migrations.Tenant)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := m.MigrateShared(ctx); err != nil {
				t.Fatalf("MigrateShared: %v", err)
			}
			acme, err := m.CreateTenant(ctx, tenancy.NewTenant{Name: "Acme", Schema: "acme", Host: "acme.example.com"})
			if err != nil {
				t.Fatalf("CreateTenant: %v", err)
			}
			for _, dup := range []tenancy.NewTenant{
				{Name: "Acme", Schema: "acme2"},
				{Name: "Acme 2", Schema: "acme"},
				{Name: "Acme 3", Schema: "acme3", Host: "acme.example.com"},
			} {
				_, err := m.CreateTenant(ctx, dup)
				if !errors.Is(err, tenancy.ErrConflict) || tenancy.StatusCode(err) != http.StatusConflict {
					t.Fatalf("duplicate %+v: %v (status %d), want ErrConflict / 409", dup, err, tenancy.StatusCode(err))
				}
			}
			head := m.Head()
			st, err := m.Status(ctx, "acme")
			if err != nil || st.Version != head || st.Dirty {
				t.Fatalf("Status: %+v, %v; want version %d, clean", st, err, head)
			}
			if _, err := m.Downgrade(ctx, "acme", 1); err != nil {
				t.Fatalf("Downgrade: %v", err)
			}
			plan, err := m.Plan(ctx, "acme", 0)
			if err != nil || len(plan.Steps) != 1 {
				t.Fatalf("Plan: %+v, %v; want one step", plan, err)
			}
			report, err := m.UpgradeFleet(ctx, tenancy.FleetOptions{Concurrency: 2})
			if err != nil {
				t.Fatalf("UpgradeFleet: %v (%+v)", err, report)
			}
			if st, err := m.Status(ctx, "acme"); err != nil || st.Version != head {
				t.Fatalf("after the fleet upgrade: %+v, %v", st, err)
			}
			// The tenant's tables are there, in its schema, through the same DB.
			var n int
			if err := db.GetContext(tenancy.NewContext(ctx, acme), &n, `SELECT count(*) FROM users`); err != nil {
				t.Fatalf("reading the new tenant's users: %v", err)
			}
			if err := m.DropTenant(ctx, "acme"); err != nil {
				t.Fatalf("DropTenant: %v", err)
			}
			var exists bool
			if err := db.Shared().GetContext(ctx, &exists,
				`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'acme')`); err != nil || exists {
				t.Fatalf("schema acme after DropTenant: exists %v, %v", exists, err)
			}
		})
	}
}
