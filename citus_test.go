package tenancy_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/citustest"
	"github.com/go-tenancy/tenancy/migrations"
)

// The tests of this file run against a real Citus cluster (a coordinator and
// two workers, internal/citustest) with schema-based sharding on for the
// database: every schema created without saying otherwise is distributed.

// newCitusEnv is newMigEnv on a database of the Citus cluster.
func newCitusEnv(t testing.TB, shared, tenant fs.FS, opts ...tenancy.MigratorOption) *migEnv {
	t.Helper()
	return migEnvAt(t, citustest.NewDatabase(t), shared, tenant, opts...)
}

// distributed reports whether schema is a Citus distributed schema.
func (e *migEnv) distributed(t testing.TB, schema string) bool {
	t.Helper()
	return e.count(t, `SELECT count(*) FROM pg_dist_schema WHERE schemaid = (SELECT oid FROM pg_namespace WHERE nspname = $1)`, schema) == 1
}

// citusNode reads the node of schema's tables from citus_shards, behind the
// library's back.
func (e *migEnv) citusNode(t testing.TB, schema string) tenancy.Node {
	t.Helper()
	var n tenancy.Node
	err := e.admin.QueryRow(`SELECT DISTINCT nodename, nodeport FROM citus_shards WHERE table_name::text LIKE $1 || '.%'`, schema).
		Scan(&n.Host, &n.Port)
	if err != nil {
		t.Fatalf("node of %s: %v", schema, err)
	}
	return n
}

func workerNodes(t testing.TB) []tenancy.Node {
	t.Helper()
	var out []tenancy.Node
	for _, w := range citustest.Workers(t) {
		out = append(out, tenancy.Node{Host: w.Host, Port: w.Port})
	}
	if len(out) != 2 {
		t.Fatalf("want 2 workers, got %v", out)
	}
	return out
}

// citusTenantSet is a tenant migration set written the way applications write
// them, which Citus cannot take as one query: several statements per file,
// indexes, a function whose body has semicolons, a trigger, a comment with a
// semicolon, and a down migration. Citus refuses triggers on distributed tables
// unless citus.enable_unsafe_triggers is on: the file sets it for its own
// transaction (a placeholder setting, harmless on plain PostgreSQL).
func citusTenantSet() fs.FS {
	return mapFS(map[string]string{
		"1_items.up.sql": `-- items; the first table
CREATE TABLE items (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX items_name_idx ON items (name);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now(); -- a semicolon inside the body
    RETURN NEW;
END;
$$;
SET LOCAL citus.enable_unsafe_triggers TO on;
CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TABLE notes (id bigint PRIMARY KEY, item_id bigint NOT NULL REFERENCES items (id), body text);
CREATE INDEX notes_item_idx ON notes (item_id);
`,
		"1_items.down.sql": `DROP TABLE notes; DROP TABLE items; DROP FUNCTION touch();`,
		"2_tags.up.sql": `ALTER TABLE items ADD COLUMN tag text NOT NULL DEFAULT E'none\'s';
CREATE UNIQUE INDEX items_tag_name_idx ON items (tag, name);
COMMENT ON TABLE items IS 'items; with a tag';`,
		"2_tags.down.sql": `DROP INDEX items_tag_name_idx; ALTER TABLE items DROP COLUMN tag;`,
	})
}

func TestCitusSharedSchemaStaysOnCoordinator(t *testing.T) {
	e := newCitusEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	if e.distributed(t, "shared") {
		t.Fatal("the shared schema became a distributed schema")
	}
	// Its tables are coordinator-local: not Citus tables at all.
	if n := e.count(t, `SELECT count(*) FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'shared'`); n != 0 {
		t.Fatalf("%d shared tables are distributed", n)
	}
	// The demo's tenants are distributed schemas, and run the demo's migrations
	// (several statements per file, indexes) unchanged.
	tn := e.create(t, "acme")
	if !e.distributed(t, tn.Schema) {
		t.Fatal("the tenant schema is not distributed")
	}
	if v, dirty := e.version(t, "acme"); v != int64(e.m.Head()) || dirty {
		t.Fatalf("acme at %d (dirty %v), want %d", v, dirty, e.m.Head())
	}
}

func TestCitusTenantsSpreadPlacedAndIsolated(t *testing.T) {
	e := newCitusEnv(t, migrations.Shared, citusTenantSet()).ready(t)
	workers := workerNodes(t)
	ctx := context.Background()
	seen := map[tenancy.Node]int{}
	var tenants []tenancy.Tenant
	for i := range 6 {
		tn := e.create(t, fmt.Sprintf("t%d", i))
		tenants = append(tenants, tn)
		n, err := e.m.Placement(ctx, tn.Schema)
		if err != nil {
			t.Fatal(err)
		}
		if want := e.citusNode(t, tn.Schema); n != want {
			t.Fatalf("Placement(%s) = %v, citus_shards says %v", tn.Schema, n, want)
		}
		seen[n]++
	}
	for _, w := range workers {
		if seen[w] == 0 {
			t.Errorf("no tenant on worker %v: %v", w, seen)
		}
	}
	// Each tenant's statements reach its own tables on its own worker.
	for _, tn := range tenants {
		if _, err := e.db.ExecContext(tctx(tn), `INSERT INTO items (name) VALUES ($1)`, tn.Schema); err != nil {
			t.Fatal(err)
		}
	}
	// The trigger runs where the tenant's table is.
	var stamp string
	if err := e.db.GetContext(tctx(tenants[0]), &stamp, `SELECT updated_at::text FROM items`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.ExecContext(tctx(tenants[0]), `UPDATE items SET name = name`); err != nil {
		t.Fatal(err)
	}
	var touched bool
	if err := e.db.GetContext(tctx(tenants[0]), &touched, `SELECT updated_at::text <> $1 FROM items`, stamp); err != nil || !touched {
		t.Fatalf("the trigger did not run on update (%v)", err)
	}
	for _, tn := range tenants {
		var names []string
		if err := e.db.SelectContext(tctx(tn), &names, `SELECT name FROM items`); err != nil {
			t.Fatal(err)
		}
		if len(names) != 1 || names[0] != tn.Schema {
			t.Fatalf("%s reads %v", tn.Schema, names)
		}
	}
	// Status and FleetStatus tell the node.
	fleet, err := e.m.FleetStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(fleet) != len(tenants) {
		t.Fatalf("FleetStatus: %d rows", len(fleet))
	}
	for _, st := range fleet {
		if want := e.citusNode(t, st.Schema); st.Node != want {
			t.Errorf("FleetStatus %s: node %v, want %v", st.Schema, st.Node, want)
		}
	}
	st, err := e.m.Status(ctx, "t0")
	if err != nil || st.Node != e.citusNode(t, "t0") {
		t.Fatalf("Status(t0) = %+v, %v", st, err)
	}
	sh, err := e.m.Status(ctx, "shared")
	if err != nil || !sh.Node.IsZero() {
		t.Fatalf("Status(shared) = %+v, %v", sh, err)
	}
	nodes, err := e.m.Nodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0] != workers[0] || nodes[1] != workers[1] {
		t.Fatalf("Nodes = %v, %v; want %v", nodes, err, workers)
	}
}

func TestCitusUpgradeDowngradeAndErrorLine(t *testing.T) {
	e := newCitusEnv(t, migrations.Shared, citusTenantSet()).ready(t)
	ctx := context.Background()
	e.create(t, "acme")
	if res, err := e.m.Downgrade(ctx, "acme", 1); err != nil || res.To != 1 {
		t.Fatalf("Downgrade = %+v, %v", res, err)
	}
	if n := e.count(t, `SELECT count(*) FROM pg_indexes WHERE schemaname = 'acme' AND indexname = 'items_tag_name_idx'`); n != 0 {
		t.Fatal("the down migration left its index")
	}
	if res, err := e.m.Upgrade(ctx, "acme"); err != nil || res.To != 2 {
		t.Fatalf("Upgrade = %+v, %v", res, err)
	}
	// The worker has the index: it was forwarded and created there. (Citus
	// hides shards from catalog views on workers; regclass finds them.)
	if n := e.count(t, `SELECT count(*) FROM run_command_on_placements('acme.items', $$SELECT count(*) FROM pg_index WHERE indrelid = '%s'::regclass AND indexrelid::regclass::text ~ 'items_tag_name_idx'$$) WHERE result = '1'`); n != 1 {
		t.Fatalf("the index is on %d placements", n)
	}

	// A failing statement in the middle of a file: the error names its line,
	// and the transactional file is rolled back with its version.
	bad := mapFS(map[string]string{
		"1_items.up.sql": "CREATE TABLE items (id bigint PRIMARY KEY);\nCREATE INDEX items_id_idx ON items (id);\n\nINSERT INTO items VALUES (1);\nINSERT INTO items\n  VALUES (1);\n",
	})
	e2 := newCitusEnv(t, migrations.Shared, bad).ready(t)
	e2.register(t, "globex")
	_, err := e2.m.Upgrade(ctx, "globex")
	var me *tenancy.MigrationError
	if !errors.As(err, &me) || me.Line != 5 || me.Dirty {
		t.Fatalf("Upgrade = %v (%+v); want a clean failure at line 5", err, me)
	}
	if pe, ok := tenancy.AsServerError(err); !ok || pe.Code != "23505" {
		t.Fatalf("want the server's 23505 through the error, got %v", err)
	}
	if v, _ := e2.version(t, "globex"); v != -1 {
		t.Fatalf("version %d recorded for a failed migration", v)
	}
	if n := e2.count(t, `SELECT count(*) FROM pg_class WHERE relname = 'items' AND relnamespace = 'globex'::regnamespace`); n != 0 {
		t.Fatal("the failed migration's table remained")
	}
}

func TestCitusCreateTenantFailureLeavesNothing(t *testing.T) {
	bad := mapFS(map[string]string{
		"1_a.up.sql": "CREATE TABLE a (id bigint PRIMARY KEY);\nCREATE INDEX a_idx ON a (id);",
		"2_b.up.sql": "CREATE TABLE b (id bigint PRIMARY KEY);\nSELECT 1/0;",
	})
	e := newCitusEnv(t, migrations.Shared, bad).ready(t)
	_, err := e.m.CreateTenant(context.Background(), tenancy.NewTenant{Name: "Acme", Schema: "acme"})
	var me *tenancy.MigrationError
	if !errors.As(err, &me) || me.Version != 2 || me.Line != 2 {
		t.Fatalf("CreateTenant = %v; want migration 2 failing at line 2", err)
	}
	if e.schemaExists(t, "acme") || e.count(t, `SELECT count(*) FROM shared.tenants`) != 0 ||
		e.count(t, `SELECT count(*) FROM pg_dist_schema`) != 0 {
		t.Fatal("a failed creation left a schema, a registry row or Citus metadata")
	}
	// Nothing on the workers either.
	if n := e.count(t, `SELECT count(*) FROM run_command_on_workers($$SELECT count(*) FROM pg_namespace WHERE nspname = 'acme'$$) WHERE result <> '0'`); n != 0 {
		t.Fatalf("the schema remained on %d workers", n)
	}
}

func TestCitusMoveTenant(t *testing.T) {
	e := newCitusEnv(t, migrations.Shared, citusTenantSet()).ready(t)
	workers := workerNodes(t)
	ctx := context.Background()
	tn := e.create(t, "acme")
	for i := range 20 {
		if _, err := e.db.ExecContext(tctx(tn), `INSERT INTO items (name) VALUES ($1)`, fmt.Sprint("item", i)); err != nil {
			t.Fatal(err)
		}
	}
	from, err := e.m.Placement(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	to := workers[0]
	if from == to {
		to = workers[1]
	}
	before, _ := e.m.Status(ctx, "acme")

	// Bad input first: nothing moves.
	for _, c := range []struct {
		schema string
		node   tenancy.Node
		want   error
	}{
		{"acme", tenancy.Node{Host: "127.0.0.1", Port: 1}, tenancy.ErrUnknownNode},
		{"nosuch", to, tenancy.ErrUnknownTenant},
		{"Bad-Name", to, tenancy.ErrInvalidSchemaName},
		{"shared", to, tenancy.ErrNotDistributed},
	} {
		if err := e.m.MoveTenant(ctx, c.schema, c.node); !errors.Is(err, c.want) {
			t.Errorf("MoveTenant(%s, %v) = %v, want %v", c.schema, c.node, err, c.want)
		}
	}
	if got := e.citusNode(t, "acme"); got != from {
		t.Fatalf("a refused move moved acme to %v", got)
	}

	if err := e.m.MoveTenant(ctx, "acme", to); err != nil {
		t.Fatal(err)
	}
	if got := e.citusNode(t, "acme"); got != to {
		t.Fatalf("acme is on %v after the move, want %v", got, to)
	}
	if n, err := e.m.Placement(ctx, "acme"); err != nil || n != to {
		t.Fatalf("Placement = %v, %v", n, err)
	}
	// Moving it where it is does nothing.
	if err := e.m.MoveTenant(ctx, "acme", to); err != nil {
		t.Fatalf("move to the same node: %v", err)
	}
	// Data, version table and registry are as before; the tenant keeps working.
	var n int
	if err := e.db.GetContext(tctx(tn), &n, `SELECT count(*) FROM items`); err != nil || n != 20 {
		t.Fatalf("after the move acme has %d items (%v)", n, err)
	}
	after, err := e.m.Status(ctx, "acme")
	if err != nil || after.Version != before.Version || after.Dirty || after.TenantID != before.TenantID || after.Node != to {
		t.Fatalf("status before %+v, after %+v (%v)", before, after, err)
	}
	if _, err := e.m.Downgrade(ctx, "acme", 1); err != nil {
		t.Fatalf("a migration after the move: %v", err)
	}
	// Back, with logical replication (nobody writes to acme now), on a pool of
	// one connection: the move reads what it needs on the connection it holds.
	e.db.Pool().SetMaxOpenConns(1)
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := e.m.MoveTenant(mctx, "acme", from, tenancy.LogicalReplication()); err != nil {
		t.Fatal(err)
	}
	if got := e.citusNode(t, "acme"); got != from {
		t.Fatalf("acme is on %v, want %v", got, from)
	}
}

func TestCitusPlaceOn(t *testing.T) {
	e := newCitusEnv(t, migrations.Shared, citusTenantSet()).ready(t)
	workers := workerNodes(t)
	ctx := context.Background()
	for i := range 4 {
		want := workers[i%2]
		tn, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: fmt.Sprint("T", i), Schema: fmt.Sprint("p", i)}, tenancy.PlaceOn(want))
		if err != nil {
			t.Fatal(err)
		}
		if got := e.citusNode(t, tn.Schema); got != want {
			t.Fatalf("%s on %v, want %v", tn.Schema, got, want)
		}
	}
	// An unknown node is refused before anything is created.
	_, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: "X", Schema: "px"}, tenancy.PlaceOn(tenancy.Node{Host: "10.0.0.1", Port: 5432}))
	if !errors.Is(err, tenancy.ErrUnknownNode) {
		t.Fatalf("CreateTenant on an unknown node = %v", err)
	}
	if e.schemaExists(t, "px") || e.count(t, `SELECT count(*) FROM shared.tenants WHERE schema = 'px'`) != 0 {
		t.Fatal("a refused placement created something")
	}
}

func TestCitusReferenceTables(t *testing.T) {
	shared := mapFS(map[string]string{
		"1_plans.up.sql": `CREATE TABLE plans (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO plans VALUES (1, 'free'), (2, 'pro');`,
	})
	tenant := mapFS(map[string]string{
		"1_subs.up.sql": `CREATE TABLE subscriptions (id bigint PRIMARY KEY, plan_id bigint NOT NULL REFERENCES shared.plans (id));
CREATE INDEX subscriptions_plan_idx ON subscriptions (plan_id);`,
	})
	e := newCitusEnv(t, shared, tenant, tenancy.WithReferenceTables("plans")).ready(t)
	if n := e.count(t, `SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'shared.plans'::regclass AND partmethod = 'n' AND repmodel = 't'`); n != 1 {
		t.Fatal("shared.plans is not a reference table")
	}
	// Idempotent: a second start-up does it again without error.
	if _, err := e.m.MigrateShared(context.Background()); err != nil {
		t.Fatal(err)
	}
	tn := e.create(t, "acme")
	if _, err := e.db.ExecContext(tctx(tn), `INSERT INTO subscriptions VALUES (1, 2)`); err != nil {
		t.Fatal(err)
	}
	_, err := e.db.ExecContext(tctx(tn), `INSERT INTO subscriptions VALUES (2, 3)`)
	if pe, ok := tenancy.AsServerError(err); !ok || pe.Code != "23503" {
		t.Fatalf("a subscription to a missing plan: %v", err)
	}
	var name string
	if err := e.db.GetContext(tctx(tn), &name, `SELECT p.name FROM subscriptions s JOIN shared.plans p ON p.id = s.plan_id`); err != nil || name != "pro" {
		t.Fatalf("join with the reference table: %q, %v", name, err)
	}
	// Without the option the same tenant set cannot be created: the foreign key
	// needs a reference table. The error is Citus's, and nothing remains.
	e2 := newCitusEnv(t, shared, tenant).ready(t)
	if _, err := e2.m.CreateTenant(context.Background(), tenancy.NewTenant{Name: "A", Schema: "acme"}); err == nil {
		t.Fatal("a foreign key from a tenant table to a local shared table was accepted")
	}
	if e2.schemaExists(t, "acme") {
		t.Fatal("the failed creation left its schema")
	}
}

func TestCitusWorkerIsRefused(t *testing.T) {
	dsn := citustest.NewDatabase(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	w := workerNodes(t)[0]
	u.Host = fmt.Sprintf("%s:%d", w.Host, w.Port)
	_, _, m := openMigrator(t, u.String(), migrations.Shared, migrations.Tenant)
	if _, err := m.MigrateShared(context.Background()); !errors.Is(err, tenancy.ErrNotCoordinator) {
		t.Fatalf("MigrateShared on a worker = %v, want ErrNotCoordinator", err)
	}
	admin, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var n int
	if err := admin.QueryRow(`SELECT count(*) FROM pg_namespace WHERE nspname = 'shared'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the worker got a shared schema (%d, %v)", n, err)
	}
}

func TestPlacementOnPlainPostgres(t *testing.T) {
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	ctx := context.Background()
	e.create(t, "acme")
	if n, err := e.m.Placement(ctx, "acme"); err != nil || !n.IsZero() {
		t.Fatalf("Placement = %v, %v; want the zero Node", n, err)
	}
	if st, err := e.m.Status(ctx, "acme"); err != nil || !st.Node.IsZero() {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if err := e.m.MoveTenant(ctx, "acme", tenancy.Node{Host: "127.0.0.1", Port: 5432}); !errors.Is(err, tenancy.ErrNotDistributed) {
		t.Fatalf("MoveTenant = %v, want ErrNotDistributed", err)
	}
	_, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: "G", Schema: "globex"}, tenancy.PlaceOn(tenancy.Node{Host: "127.0.0.1", Port: 5432}))
	if !errors.Is(err, tenancy.ErrNotDistributed) || e.schemaExists(t, "globex") {
		t.Fatalf("CreateTenant with PlaceOn on plain PostgreSQL = %v", err)
	}
	if err := e.m.ReferenceTables(ctx, "tenants"); err != nil {
		t.Fatalf("ReferenceTables on plain PostgreSQL: %v", err)
	}
	if nodes, err := e.m.Nodes(ctx); err != nil || len(nodes) != 0 {
		t.Fatalf("Nodes = %v, %v", nodes, err)
	}
}

func TestParseNode(t *testing.T) {
	for in, want := range map[string]tenancy.Node{
		"127.0.0.1:5432":  {Host: "127.0.0.1", Port: 5432},
		"worker-1:6432":   {Host: "worker-1", Port: 6432},
		"[::1]:5432":      {Host: "::1", Port: 5432},
		"db.example:1":    {Host: "db.example", Port: 1},
		"db.example:6553": {Host: "db.example", Port: 6553},
	} {
		got, err := tenancy.ParseNode(in)
		if err != nil || got != want {
			t.Errorf("ParseNode(%q) = %v, %v", in, got, err)
		}
		if s := got.String(); s != in {
			t.Errorf("String() = %q, want %q", s, in)
		}
	}
	for _, in := range []string{"", "host", ":5432", "host:0", "host:65536", "host:x", "a:b:c"} {
		if _, err := tenancy.ParseNode(in); err == nil || !strings.Contains(err.Error(), "host:port") {
			t.Errorf("ParseNode(%q) = %v, want an error naming host:port", in, err)
		}
	}
	if (tenancy.Node{}).String() != "" || !(tenancy.Node{}).IsZero() {
		t.Error("the zero Node")
	}
}

func TestCitusUpgradeFleet(t *testing.T) {
	e := newCitusEnv(t, migrations.Shared, citusTenantSet()).ready(t)
	ctx := context.Background()
	for i := range 6 {
		e.create(t, fmt.Sprintf("f%d", i))
		if _, err := e.m.Downgrade(ctx, fmt.Sprintf("f%d", i), 1); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := e.m.UpgradeFleet(ctx, tenancy.FleetOptions{Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Upgraded != 6 || rep.Failed != 0 {
		t.Fatalf("report: %+v", rep)
	}
	for _, tr := range rep.Tenants {
		if tr.To != 2 || tr.Node != e.citusNode(t, tr.Schema) {
			t.Errorf("%s: to %d on %v, want 2 on %v", tr.Schema, tr.To, tr.Node, e.citusNode(t, tr.Schema))
		}
		if v, dirty := e.version(t, tr.Schema); v != 2 || dirty {
			t.Errorf("%s at %d (dirty %v)", tr.Schema, v, dirty)
		}
	}
	// Every tenant has the new unique index on its worker.
	if n := e.count(t, `SELECT count(*) FROM citus_shards s, LATERAL run_command_on_placements(s.table_name,
		$$SELECT count(*) FROM pg_index WHERE indrelid = '%s'::regclass AND indexrelid::regclass::text ~ 'items_tag_name_idx'$$) r
		WHERE s.table_name::text LIKE 'f%.items' AND r.result = '1'`); n != 6 {
		t.Fatalf("the index is on %d of 6 tenants' placements", n)
	}
	again, err := e.m.UpgradeFleet(ctx, tenancy.FleetOptions{})
	if err != nil || again.Skipped != 6 || again.Upgraded != 0 {
		t.Fatalf("second run: %+v, %v", again, err)
	}
	fleet, err := e.m.FleetStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range fleet {
		if st.Version != 2 || st.Pending != 0 || st.Node.IsZero() {
			t.Errorf("FleetStatus %+v", st)
		}
	}
}

func TestCitusIgnoresCloneTemplate(t *testing.T) {
	e := newCitusEnv(t, migrations.Shared, citusTenantSet(), tenancy.WithCloneTemplate("tpl")).ready(t)
	tn := e.create(t, "acme")
	if !e.distributed(t, tn.Schema) || e.schemaExists(t, "tpl") {
		t.Fatal("on Citus a tenant is created by its migrations, as a distributed schema, with no template")
	}
	if v, dirty := e.version(t, "acme"); v != 2 || dirty {
		t.Fatalf("acme at %d (dirty %v)", v, dirty)
	}
}
