package tenancy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
)

// archiveSet has a trigger whose function writes an unqualified table: it
// resolves the name in whatever search_path the statement that fires it runs.
var archiveSet = map[string]string{
	"1_items.up.sql": `CREATE TABLE items (id int PRIMARY KEY);
CREATE TABLE items_archive (item_id int);
CREATE FUNCTION items_archive_cleanup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM items_archive WHERE item_id = OLD.id;
  RETURN OLD;
END
$$;
CREATE TRIGGER items_cleanup AFTER DELETE ON items FOR EACH ROW EXECUTE FUNCTION items_archive_cleanup();`,
	"2_pinned_by_hand.up.sql": `CREATE FUNCTION shared_lookup() RETURNS int LANGUAGE sql SET search_path = shared AS $$ SELECT 1 $$;`,
}

func TestTenantSafeFunctionsPinTriggersToTheirTenant(t *testing.T) {
	t.Parallel()
	for _, safe := range []bool{false, true} {
		var opts []tenancy.MigratorOption
		if safe {
			opts = append(opts, tenancy.WithTenantSafeFunctions())
		}
		e := newMigEnv(t, migrations.Shared, mapFS(archiveSet), opts...).ready(t)
		ctx := context.Background()
		e.create(t, "tenanta")
		e.register(t, "tenantb") // migrated by golang-migrate's path
		if _, err := e.m.Upgrade(ctx, "tenantb"); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"tenanta", "tenantb"} {
			mustExec(t, e.admin, `INSERT INTO `+s+`.items VALUES (1); INSERT INTO `+s+`.items_archive VALUES (1)`)
		}
		// A statement on tenantb's search_path deletes tenanta's item: the
		// trigger of tenanta fires there.
		conn, err := e.admin.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `SET search_path TO tenantb`); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `DELETE FROM tenanta.items WHERE id = 1`); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		aLeft := e.count(t, `SELECT count(*) FROM tenanta.items_archive`)
		bLeft := e.count(t, `SELECT count(*) FROM tenantb.items_archive`)
		if safe && (aLeft != 0 || bLeft != 1) {
			t.Fatalf("pinned: tenanta archive %d, tenantb archive %d; want 0 and 1", aLeft, bLeft)
		}
		if !safe && (aLeft != 1 || bLeft != 0) {
			t.Fatalf("unpinned (the hazard this guards against): tenanta %d, tenantb %d; want 1 and 0", aLeft, bLeft)
		}
		if safe {
			// A clone's functions are pinned to the clone, not to the template.
			_, _, mc := openMigrator(t, e.dsn, migrations.Shared, mapFS(archiveSet), tenancy.WithTenantSafeFunctions(), tenancy.WithCloneTemplate("tpl"))
			if err := mc.RebuildTemplate(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := mc.CreateTenant(ctx, tenancy.NewTenant{Name: "C", Schema: "tenantc"}); err != nil {
				t.Fatal(err)
			}
			mustDrift(t, mc, "tenantc", "tenanta")
			for _, s := range []string{"tenanta", "tenantb", "tenantc"} {
				cfg := e.strings(t, `SELECT p.proname || ' ' || array_to_string(p.proconfig, ',') FROM pg_proc p WHERE p.pronamespace = $1::regnamespace ORDER BY 1`, s)
				if len(cfg) != 2 || cfg[0] != "items_archive_cleanup search_path="+s+", pg_temp" || !strings.HasPrefix(cfg[1], "shared_lookup search_path=shared") {
					t.Fatalf("%s functions: %q", s, cfg)
				}
			}
		}
	}
}
