package tenancycli

import (
	"bytes"
	"context"
	"flag"
	"regexp"
	"testing"
	"testing/fstest"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// The drift and lint commands are not in cli.go's command table yet: run them
// directly.
func TestDriftAndLintCommands(t *testing.T) {
	t.Parallel()
	db, err := tenancy.Open("postgres", tenancytest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg, err := tenancy.NewRegistry(db)
	if err != nil {
		t.Fatal(err)
	}
	set := fstest.MapFS{
		"1_items.up.sql": {Data: []byte("CREATE TABLE items (id int PRIMARY KEY, email text);")},
		"2_once.up.sql": {Data: []byte("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'items_email_key') THEN\n" +
			"ALTER TABLE items ADD CONSTRAINT items_email_key UNIQUE (email); END IF; END $$;")},
	}
	m, err := tenancy.NewMigrator(db, reg, migrations.Shared, set, tenancy.WithCloneTemplate("tpl"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := m.MigrateShared(ctx); err != nil {
		t.Fatal(err)
	}
	// acme is a copy of the template, which got the constraint; globex runs the
	// migrations, which find the template's constraint and skip it.
	if _, err := m.CreateTenant(ctx, tenancy.NewTenant{Name: "acme", Schema: "acme"}); err != nil {
		t.Fatal(err)
	}
	plain, err := tenancy.NewMigrator(db, reg, migrations.Shared, set)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.CreateTenant(ctx, tenancy.NewTenant{Name: "globex", Schema: "globex"}); err != nil {
		t.Fatal(err)
	}
	run := func(f func(*cli, context.Context, *flag.FlagSet, []string) int, name string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		c := &cli{Config: Config{Migrator: m, Registry: reg, Name: "tenancy", Stdout: &out, Stderr: &errOut}, m: m, reg: reg,
			cmd: &command{name: name}}
		code := f(c, ctx, c.newFlagSet(c.cmd), args)
		return code, out.String(), errOut.String()
	}
	code, out, _ := run((*cli).drift, "drift")
	if code != ExitFailure || !regexp.MustCompile(`(?m)^acme +2 +same +0 +0$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^globex +2 +DRIFTED +2 +0$`).MatchString(out) {
		t.Fatalf("drift: %d\n%s", code, out)
	}
	code, out, _ = run((*cli).drift, "drift", "acme", "--reference", "tpl")
	if code != ExitOK || !regexp.MustCompile(`schema "acme" matches "tpl" \(\d+ catalog items\)`).MatchString(out) {
		t.Fatalf("drift acme: %d\n%s", code, out)
	}
	code, out, _ = run((*cli).drift, "drift", "globex")
	if code != ExitFailure || !regexp.MustCompile(`(?m)^  missing: constraint items items_email_key UNIQUE \(email\)$`).MatchString(out) {
		t.Fatalf("drift acme vs template: %d\n%s", code, out)
	}
	// The fleet report carries it too.
	rep, err := m.UpgradeFleet(ctx, tenancy.FleetOptions{CheckDrift: true})
	if err != nil || rep.Drifted != 1 || len(rep.Drift) != 2 {
		t.Fatalf("fleet report drift: %d of %d, %v", rep.Drifted, len(rep.Drift), err)
	}
	code, out, errOut := run((*cli).fleetUpgrade, "fleet-upgrade", "--check-drift")
	if code != ExitFailure || !regexp.MustCompile(`(?m)^DRIFTED globex: 2 items missing, 0 extra$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^drift: 1 of 2 tenants compared differ from the reference$`).MatchString(out) ||
		!regexp.MustCompile(`1 tenants drifted from the reference schema`).MatchString(errOut) {
		t.Fatalf("fleet-upgrade --check-drift: %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = run((*cli).fleetUpgrade, "fleet-upgrade", "--drift-reference", "globex", "--json")
	if code != ExitFailure || !regexp.MustCompile(`"drifted": 1`).MatchString(out) || !regexp.MustCompile(`"drift": "drifted"`).MatchString(out) {
		t.Fatalf("fleet-upgrade --drift-reference --json: %d\n%s", code, out)
	}
	code, out, errOut = run((*cli).lint, "lint")
	if code != ExitFailure || !regexp.MustCompile(`tenant migration 2 \(once, up\) line 1: queries the catalog without a schema filter`).MatchString(out) ||
		errOut != "tenancy: 1 warnings\n" {
		t.Fatalf("lint: %d\n%s\n%s", code, out, errOut)
	}
}
