package tenancycli_test

// The CLI on a real Citus cluster (internal/citustest: a coordinator and two
// workers, schema-based sharding on): where tenants are, create --node, move.

import (
	"context"
	"database/sql"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/citustest"
)

// newCitusFixture is newFixture on a database of the Citus cluster, with the
// shared schema migrated.
func newCitusFixture(t *testing.T) (*fixture, *sql.DB) {
	t.Helper()
	dsn := citustest.NewDatabase(t)
	f := fixtureAt(t, dsn)
	admin, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	f.ok([]string{"migrate-shared"})
	return f, admin
}

// citusWorkers returns the cluster's two workers, ordered by port.
func citusWorkers(t *testing.T) []tenancy.Node {
	t.Helper()
	var out []tenancy.Node
	for _, w := range citustest.Workers(t) {
		out = append(out, tenancy.Node{Host: w.Host, Port: w.Port})
	}
	if len(out) != 2 {
		t.Fatalf("want 2 Citus workers, got %v", out)
	}
	return out
}

// shardNode reads the node of schema's tables from citus_shards, behind the
// CLI's and the library's back.
func shardNode(t *testing.T, admin *sql.DB, schema string) tenancy.Node {
	t.Helper()
	rows, err := admin.Query(`SELECT DISTINCT nodename, nodeport FROM citus_shards WHERE table_name::text LIKE $1 || '.%'`, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var nodes []tenancy.Node
	for rows.Next() {
		var n tenancy.Node
		if err := rows.Scan(&n.Host, &n.Port); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 {
		t.Fatalf("citus_shards: %s's tables are on %v, want one node", schema, nodes)
	}
	return nodes[0]
}

func TestCitusStatusCreateNodeAndMove(t *testing.T) {
	t.Parallel()
	f, admin := newCitusFixture(t)
	workers := citusWorkers(t)
	q := regexp.QuoteMeta

	// create --node puts each tenant on the worker named, whatever Citus
	// would have chosen.
	f.ok([]string{"create", "Acme", "acme", "--node", workers[0].String()}, `created tenant "Acme" \(id 1\): schema acme`)
	f.ok([]string{"create", "--node=" + workers[1].String(), "Globex", "globex"}, `schema globex`)
	f.ok([]string{"create", "Initech", "initech", "--node", workers[1].String()}, `schema initech`)
	want := map[string]tenancy.Node{"acme": workers[0], "globex": workers[1], "initech": workers[1]}
	for s, n := range want {
		if got := shardNode(t, admin, s); got != n {
			t.Errorf("create %s --node %v: citus_shards puts it on %v", s, n, got)
		}
	}

	// status: a NODE column, the coordinator for the shared schema.
	f.ok([]string{"status"},
		`(?m)^SCHEMA +TENANT +VERSION +HEAD +PENDING +DIRTY +NODE$`,
		`(?m)^shared +\(shared\) +2 +2 +0 +no +coordinator$`,
		`(?m)^acme +1 +2 +2 +0 +no +`+q(workers[0].String())+`$`,
		`(?m)^globex +2 +2 +2 +0 +no +`+q(workers[1].String())+`$`,
		`(?m)^initech +3 +2 +2 +0 +no +`+q(workers[1].String())+`$`,
		`(?m)^3 tenants$`)
	f.ok([]string{"status", "acme"}, `(?m)^node +`+q(workers[0].String())+`$`)

	// status --json: "node" per tenant, none for the shared schema.
	var doc struct {
		Shared  map[string]any `json:"shared"`
		Tenants []struct {
			Schema string `json:"schema"`
			Node   string `json:"node"`
		} `json:"tenants"`
	}
	out := f.ok([]string{"status", "--json"})
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if _, ok := doc.Shared["node"]; ok {
		t.Errorf("status --json: the shared schema has a node: %v", doc.Shared)
	}
	if len(doc.Tenants) != 3 {
		t.Fatalf("status --json: %d tenants\n%s", len(doc.Tenants), out)
	}
	for _, tn := range doc.Tenants {
		if tn.Node != want[tn.Schema].String() {
			t.Errorf("status --json: %s has node %q, want %q", tn.Schema, tn.Node, want[tn.Schema])
		}
	}

	// fleet-upgrade shows the node too (all at head: skipped).
	f.ok([]string{"fleet-upgrade"}, `(?m)^SCHEMA +NODE +FROM +TO +RESULT`, `(?m)^acme +`+q(workers[0].String())+` +2 +2 +skipped`)

	// move: acme to the other worker, from and to printed, placement after.
	f.ok([]string{"move", "acme", workers[1].String()},
		`^moved tenant schema acme from `+q(workers[0].String())+` to `+q(workers[1].String())+`\n$`)
	if got := shardNode(t, admin, "acme"); got != workers[1] {
		t.Errorf("after move acme %v: citus_shards puts it on %v", workers[1], got)
	}
	if n, err := f.cfg.Migrator.Placement(context.Background(), "acme"); err != nil || n != workers[1] {
		t.Errorf("after move acme %v: Placement = %v, %v", workers[1], n, err)
	}
	f.ok([]string{"status", "acme"}, `(?m)^node +`+q(workers[1].String())+`$`)
	// And back, with logical replication.
	f.ok([]string{"move", "acme", workers[0].String(), "--logical-replication"}, `from `+q(workers[1].String())+` to `+q(workers[0].String()))
	if got := shardNode(t, admin, "acme"); got != workers[0] {
		t.Errorf("after move acme %v --logical-replication: citus_shards puts it on %v", workers[0], got)
	}

	// To the node it is on: nothing moved.
	f.ok([]string{"move", "globex", workers[1].String()}, `^tenant schema globex is already on `+q(workers[1].String())+`: nothing moved\n$`)
	if got := shardNode(t, admin, "globex"); got != workers[1] {
		t.Errorf("globex moved to %v", got)
	}

	// An unknown node: exit 1, a clear error, nothing moved.
	r := f.fails(1, []string{"move", "globex", "127.0.0.1:1"}, `error: .*not a node of the Citus cluster: 127\.0\.0\.1:1`)
	if r.out != "" {
		t.Errorf("move to an unknown node printed %q", r.out)
	}
	if got := shardNode(t, admin, "globex"); got != workers[1] {
		t.Errorf("after a move to an unknown node, globex is on %v", got)
	}
	// Bad input.
	f.fails(1, []string{"move", "nope", workers[0].String()}, `unknown tenant`)
	f.fails(1, []string{"move", "shared", workers[0].String()}, `error: .*shared schema stays on the coordinator`)
	f.fails(2, []string{"move", "globex", "no-port"}, `node "no-port": want host:port`, `tenancy move --help`)
	if r := f.fails(2, []string{"create", "Other", "other", "--node", "no-port"}, `--node: node "no-port": want host:port`); strings.Contains(r.errOut, "tenancy: tenancy:") {
		t.Errorf("the error repeats its prefix: %s", r.errOut)
	}
	if r := f.fails(2, []string{"move", "globex", "no-port"}); strings.Contains(r.errOut, "tenancy: tenancy:") {
		t.Errorf("the error repeats its prefix: %s", r.errOut)
	}
	f.fails(1, []string{"create", "Other", "other", "--node", "127.0.0.1:1"}, `not a node of the Citus cluster`)
	var n int
	if err := admin.QueryRow(`SELECT count(*) FROM pg_namespace WHERE nspname = 'other'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("create --node on an unknown node left schema other (%d, %v)", n, err)
	}
	f.ok([]string{"status"}, `(?m)^3 tenants$`, `(?m)^globex +2 +2 +2 +0 +no +`+q(workers[1].String())+`$`)
}

// On plain PostgreSQL there is nowhere to move to: move fails and says why;
// status has no NODE column.
func TestMovePlainPostgres(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ok([]string{"migrate-shared"})
	f.ok([]string{"create", "Acme", "acme"})
	r := f.fails(1, []string{"move", "acme", "127.0.0.1:5432"}, `error: .*not a Citus distributed schema.*not a Citus coordinator`)
	if r.out != "" {
		t.Errorf("move on plain PostgreSQL printed %q", r.out)
	}
	f.fails(1, []string{"create", "Globex", "globex", "--node", "127.0.0.1:5432"}, `Citus`)
	out := f.ok([]string{"status"}, `(?m)^SCHEMA +TENANT +VERSION +HEAD +PENDING +DIRTY$`, `(?m)^1 tenants$`)
	if regexp.MustCompile(`NODE|coordinator`).MatchString(out) {
		t.Errorf("status on plain PostgreSQL mentions nodes:\n%s", out)
	}
	if f.version("acme") != 2 {
		t.Error("acme changed")
	}
}
