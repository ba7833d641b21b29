package tenancy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
)

func TestLintWarnsAndDropRefusesExtensionSchemas(t *testing.T) {
	t.Parallel()
	set := mapFS(map[string]string{
		"1_items.up.sql": "CREATE TABLE items (id int PRIMARY KEY, email text);\n" +
			"-- a comment that says NOTIFY and pg_constraint is not a warning\n" +
			"CREATE INDEX items_email ON items (email);",
		"2_ext.up.sql": "CREATE EXTENSION IF NOT EXISTS citext;",
		"3_notify.up.sql": "CREATE FUNCTION items_changed() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n" +
			"  PERFORM pg_notify('items', NEW.id::text);\n  RETURN NEW;\nEND $$;",
		"4_constraint_once.up.sql": "SELECT 1;\nDO $$ BEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'items_email_key') THEN\n" +
			"    ALTER TABLE items ADD CONSTRAINT items_email_key UNIQUE (email);\n  END IF;\nEND $$;",
		"5_constraint_scoped.up.sql": "DO $$ BEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'items_id_check' AND connamespace = current_schema()::regnamespace) THEN\n" +
			"    ALTER TABLE items ADD CONSTRAINT items_id_check CHECK (id > 0);\n  END IF;\nEND $$;",
	})
	e := newMigEnv(t, migrations.Shared, set).ready(t)
	var got []string
	for _, w := range e.m.Lint() {
		got = append(got, w.String())
	}
	want := []string{
		"tenant migration 2 (ext, up) line 1: CREATE EXTENSION",
		"tenant migration 3 (notify, up) line 1: NOTIFY channels are database-wide",
		"tenant migration 4 (constraint_once, up) line 2: queries the catalog without a schema filter",
	}
	if len(got) != len(want) {
		t.Fatalf("Lint = %q", got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Fatalf("Lint[%d] = %q, want %q...", i, got[i], want[i])
		}
	}

	// What the lint warns about: the extension lands in the first tenant's
	// schema, and the unscoped check skips the constraint for the second.
	ctx := context.Background()
	e.create(t, "first")
	e.create(t, "second")
	if n := e.count(t, `SELECT count(*) FROM pg_extension WHERE extnamespace = 'first'::regnamespace`); n != 1 {
		t.Fatalf("citext is not in the first tenant's schema (%d)", n)
	}
	d, err := e.m.Drift(ctx, "second", "first")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Drifted() || len(d.Missing) == 0 || !strings.Contains(strings.Join(d.Missing, "\n"), "items_email_key") {
		t.Fatalf("Drift does not show the constraint the second tenant lacks: %v %q %q", d, d.Missing, d.Extra)
	}
	// DropTenant refuses to drop the extension with the schema.
	err = e.m.DropTenant(ctx, "first")
	if !errors.Is(err, tenancy.ErrSchemaHasExtension) || !strings.Contains(err.Error(), "citext") {
		t.Fatalf("DropTenant of a schema with an extension: %v", err)
	}
	if !e.schemaExists(t, "first") || e.count(t, `SELECT count(*) FROM shared.tenants WHERE schema = 'first'`) != 1 {
		t.Fatal("the refused drop dropped something")
	}
	if err := e.m.DropTenant(ctx, "second"); err != nil {
		t.Fatalf("DropTenant without an extension: %v", err)
	}
}
