package main

// End-to-end tests that only make sense on Citus: where the demo's tenants are,
// and a tenant moved to another worker while the API serves it.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/citustest"
)

// workerNodes returns the Citus cluster's two workers.
func workerNodes(t *testing.T) []tenancy.Node {
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

// citusNode reads the node holding schema's tables from citus_shards, behind the
// library's back; it fails the test unless there is exactly one.
func (e *env) citusNode(schema string) tenancy.Node {
	e.t.Helper()
	var nodes []struct {
		Host string `db:"nodename"`
		Port int    `db:"nodeport"`
	}
	if err := e.st.db.Shared().SelectContext(context.Background(), &nodes,
		`SELECT DISTINCT nodename, nodeport FROM citus_shards WHERE table_name::text LIKE $1 || '.%'`, schema); err != nil {
		e.t.Fatal(err)
	}
	if len(nodes) != 1 {
		e.t.Fatalf("citus_shards: the tables of %s are on %d nodes (%v), want 1", schema, len(nodes), nodes)
	}
	return tenancy.Node{Host: nodes[0].Host, Port: nodes[0].Port}
}

// listAll returns all of a tenant's users, following the pages.
func (e *env) listAll(tenant string) []User {
	e.t.Helper()
	var all []User
	for after := int64(0); ; {
		var page []User
		e.expect(req{method: "GET", path: fmt.Sprintf("/users/?after_id=%d&limit=100", after), tenant: tenant}, 200, &page)
		all = append(all, page...)
		if len(page) < 100 {
			return all
		}
		after = page[len(page)-1].ID
	}
}

// The demo's tenants, and tenants created through the admin API, are spread over
// both workers; the shared schema stays on the coordinator.
func TestCitusPlacement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "pgx"+citusSuffix)
	ctx := context.Background()
	schemas := []string{"acme", "globex"}
	for _, s := range []string{"initech", "umbrella", "hooli", "soylent"} {
		e.expect(req{method: "POST", path: "/tenants", admin: true, body: fmt.Sprintf(`{"name":%q,"schema":%q}`, s, s)}, 201, nil)
		schemas = append(schemas, s)
	}
	workers := workerNodes(t)
	seen := map[tenancy.Node][]string{}
	for _, s := range schemas {
		n, err := e.st.mig.Placement(ctx, s)
		if err != nil {
			t.Fatalf("Placement(%s): %v", s, err)
		}
		if want := e.citusNode(s); n != want {
			t.Errorf("Placement(%s) = %v, citus_shards says %v", s, n, want)
		}
		if !slices.Contains(workers, n) {
			t.Errorf("%s is on %v, which is not a worker (%v)", s, n, workers)
		}
		seen[n] = append(seen[n], s)
	}
	for _, w := range workers {
		if len(seen[w]) == 0 {
			t.Errorf("no tenant on worker %v; placement: %v", w, seen)
		}
	}
	for _, s := range schemas {
		if n := e.countRows(`SELECT count(*) FROM pg_dist_schema WHERE schemaid = $1::regnamespace`, s); n != 1 {
			t.Errorf("tenant schema %s is not a distributed schema", s)
		}
	}
	if n := e.countRows(`SELECT count(*) FROM pg_dist_schema WHERE schemaid = 'shared'::regnamespace`); n != 0 {
		t.Error("the shared schema is a distributed schema")
	}
	if n := e.countRows(`SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text LIKE 'shared.%'`); n != 0 {
		t.Errorf("%d tables of the shared schema are Citus tables", n)
	}
	// The demo's data is where Citus says: each tenant's users are in the shard
	// on its worker.
	for _, s := range []string{"acme", "globex"} {
		var rows int
		if err := e.st.db.Shared().GetContext(ctx, &rows, `SELECT sum(result::int) FROM run_command_on_placements($1::regclass, `+
			`$$SELECT count(*) FROM %s$$) WHERE success AND (nodename, nodeport) = ($2, $3)`,
			s+".users", e.citusNode(s).Host, e.citusNode(s).Port); err != nil {
			t.Fatal(err)
		}
		if want := len(e.listAll(s)); rows != want {
			t.Errorf("%s: %d users in the shard on its worker, the API lists %d", s, rows, want)
		}
	}
}

// A tenant moves to the other worker while several clients list and create its
// users (and another tenant's): no request fails, no created user is lost, and
// no response shows another tenant's users.
func TestCitusMoveUnderLoad(t *testing.T) {
	for _, d := range []string{"pgx" + citusSuffix, "postgres" + citusSuffix} {
		t.Run(d, func(t *testing.T) { testCitusMoveUnderLoad(t, d) })
	}
}

// citusMoves serialises the moves of the tests of this binary, which share one
// Citus cluster: Citus names the replication slots of an online move after the
// node, the owner and an operation id that each database counts on its own, so
// two moves in two databases of the cluster at once can pick the same slot name
// and one fails ("replication slot ... already exists").
var citusMoves sync.Mutex

// outcome is one request of the load.
type outcome struct {
	tenant, method string
	status         int
	err            error
	body           []byte
	sentEmail      string // for a POST
	duringMove     bool   // started after the move started and ended before it returned
}

func testCitusMoveUnderLoad(t *testing.T, driver string) {
	t.Parallel()
	e := newEnv(t, driver)
	ctx := context.Background()
	const (
		moving      = "acme"
		clients     = 4 // on the moving tenant
		bystanders  = 2 // on globex, which stays
		warmUp      = 20
		minRequests = 300
	)
	from, err := e.st.mig.Placement(ctx, moving)
	if err != nil {
		t.Fatal(err)
	}
	var to tenancy.Node
	for _, w := range workerNodes(t) {
		if w != from {
			to = w
		}
	}
	if to.IsZero() || from.IsZero() {
		t.Fatalf("%s is on %v; no other worker to move it to (%v)", moving, from, workerNodes(t))
	}

	citusMoves.Lock()
	defer citusMoves.Unlock()
	var (
		total     atomic.Int64
		moveState atomic.Int32 // 0 before, 1 during, 2 after the move
		warmed    = make(chan struct{})
		warmOnce  sync.Once
		mu        sync.Mutex
		outcomes  []outcome
		wg        sync.WaitGroup
	)
	client := &http.Client{}
	send := func(tenant, method, path, body string) outcome {
		o := outcome{tenant: tenant, method: method}
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		hr, err := http.NewRequestWithContext(ctx, method, e.base+path, rd)
		if err != nil {
			o.err = err
			return o
		}
		hr.Header.Set("Tenant", tenant)
		if body != "" {
			hr.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(hr)
		if err != nil {
			o.err = err
			return o
		}
		defer res.Body.Close()
		o.status = res.StatusCode
		o.body, o.err = io.ReadAll(res.Body)
		return o
	}
	load := func(g int, tenant string) {
		defer wg.Done()
		for i := 0; ; i++ {
			if moveState.Load() == 2 && total.Load() >= minRequests {
				return
			}
			before := moveState.Load()
			var o outcome
			if i%2 == 0 {
				email := fmt.Sprintf("load-%d-%d@%s.example", g, i, tenant)
				o = send(tenant, "POST", "/users/", fmt.Sprintf(`{"email":%q,"first_name":"Load"}`, email))
				o.sentEmail = email
			} else {
				o = send(tenant, "GET", "/users/?limit=100", "")
			}
			o.duringMove = before == 1 && moveState.Load() == 1
			mu.Lock()
			outcomes = append(outcomes, o)
			mu.Unlock()
			if total.Add(1) >= warmUp {
				warmOnce.Do(func() { close(warmed) })
			}
		}
	}
	for g := range clients + bystanders {
		tenant := moving
		if g >= clients {
			tenant = "globex"
		}
		wg.Add(1)
		go load(g, tenant)
	}
	// The move starts once the load is running, and the load runs until it
	// has returned.
	<-warmed
	moveState.Store(1)
	start := time.Now()
	moveErr := e.st.mig.MoveTenant(ctx, moving, to)
	took := time.Since(start)
	moveState.Store(2)
	wg.Wait()
	if moveErr != nil {
		t.Fatalf("MoveTenant(%s, %v): %v", moving, to, moveErr)
	}

	// Where it is now, by the library and by Citus.
	if n, err := e.st.mig.Placement(ctx, moving); err != nil || n != to {
		t.Errorf("after the move, Placement(%s) = %v, %v; want %v (from %v)", moving, n, err, to, from)
	}
	if n := e.citusNode(moving); n != to {
		t.Errorf("after the move, citus_shards puts %s on %v, want %v", moving, n, to)
	}

	// What each tenant owns: its seeded users and those created with a 201.
	owned := map[string]map[int64]string{moving: {}, "globex": {}}
	for _, s := range []string{moving, "globex"} {
		for _, u := range demoTenants() {
			if u.schema != s {
				continue
			}
			for i, du := range u.users {
				owned[s][int64(i+1)] = du.email
			}
		}
	}
	failures, during := 0, 0
	var lists []outcome
	for _, o := range outcomes {
		if o.duringMove {
			during++
		}
		if o.err != nil || o.status < 200 || o.status > 299 {
			failures++
			if failures <= 10 {
				t.Errorf("%s %s (during the move: %v): status %d, error %v, body %s", o.method, o.tenant, o.duringMove, o.status, o.err, o.body)
			}
			continue
		}
		if o.method == "GET" {
			lists = append(lists, o)
			continue
		}
		var u User
		if err := json.Unmarshal(o.body, &u); err != nil || o.status != 201 || u.Email != o.sentEmail || u.ID == 0 {
			t.Errorf("POST %s %s: status %d, body %s (%v)", o.tenant, o.sentEmail, o.status, o.body, err)
			continue
		}
		if prev, dup := owned[o.tenant][u.ID]; dup {
			t.Errorf("%s: id %d was given to %s and to %s", o.tenant, u.ID, prev, u.Email)
		}
		owned[o.tenant][u.ID] = u.Email
	}
	if failures > 0 {
		t.Errorf("%d of %d requests failed", failures, len(outcomes))
	}
	if during == 0 {
		t.Errorf("none of the %d requests ran while the move did", len(outcomes))
	}
	t.Logf("the move took %v", took.Round(time.Millisecond))
	t.Logf("%d requests, %d of them while %s moved from %v to %v; %d lists checked", len(outcomes), during, moving, from, to, len(lists))

	// Every list showed only the tenant's own users (id and e-mail as created).
	for _, o := range lists {
		var users []User
		if err := json.Unmarshal(o.body, &users); err != nil {
			t.Fatalf("GET %s: %s: %v", o.tenant, o.body, err)
		}
		for _, u := range users {
			if owned[o.tenant][u.ID] != u.Email {
				t.Fatalf("GET /users/ for %s listed user %d %s, which %s does not own (it has %q under that id)",
					o.tenant, u.ID, u.Email, o.tenant, owned[o.tenant][u.ID])
			}
		}
	}
	// No user created with a 201 is lost, and nothing else appeared.
	for tenant, want := range owned {
		got := map[int64]string{}
		for _, u := range e.listAll(tenant) {
			got[u.ID] = u.Email
		}
		for id, email := range want {
			if got[id] != email {
				t.Errorf("%s: user %d %s was created (201) but is listed as %q after the move; %s",
					tenant, id, email, got[id], e.whereIsUser(tenant, email))
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d users listed after the move, want the %d seeded or created", tenant, len(got), len(want))
		}
	}
}

// whereIsUser says, for a failure message, where a user that the API does not
// list can be found: in the shared directory on the coordinator, and in each
// worker's copy of the tenant's users shard (the copy a move leaves behind is
// dropped later, by Citus's deferred cleanup).
func (e *env) whereIsUser(tenant, email string) string {
	e.t.Helper()
	ctx := context.Background()
	var dir int
	if err := e.st.db.Shared().GetContext(ctx, &dir, `SELECT count(*) FROM shared_users WHERE email = $1`, email); err != nil {
		return fmt.Sprintf("(shared_users: %v)", err)
	}
	var shard int64
	if err := e.st.db.Shared().GetContext(ctx, &shard, `SELECT shardid FROM pg_dist_shard WHERE logicalrelid = $1::regclass`, tenant+".users"); err != nil {
		return fmt.Sprintf("in shared_users %d times (shard: %v)", dir, err)
	}
	rows, err := e.st.db.Shared().QueryContext(ctx, fmt.Sprintf(`SELECT nodename, nodeport, success, result FROM run_command_on_workers(`+
		`$q$SELECT count(*) FROM %s.users_%d WHERE email = '%s'$q$) ORDER BY nodeport`, tenant, shard, email))
	if err != nil {
		return fmt.Sprintf("in shared_users %d times (workers: %v)", dir, err)
	}
	defer rows.Close()
	out := fmt.Sprintf("in shared_users %d times; in shard %s.users_%d:", dir, tenant, shard)
	for rows.Next() {
		var host, result string
		var port int
		var ok bool
		if err := rows.Scan(&host, &port, &ok, &result); err != nil {
			return out + " " + err.Error()
		}
		out += fmt.Sprintf(" on %s:%d %s (ok %v)", host, port, result, ok)
	}
	return out
}
