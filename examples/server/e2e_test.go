package main

// End-to-end tests: the app's real handler in an httptest server, on a database
// of its own (tenancytest.NewDatabase, or citustest.NewDatabase: a Citus
// coordinator with two workers and schema-based sharding on), with the demo
// tenants seeded as at start-up. They drive the HTTP API only, except where they
// check what the API must or must not have written: on Citus those checks look
// at the workers too, where tenant data really lives.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/citustest"
	"github.com/go-tenancy/tenancy/tenancytest"
)

const testToken = "test-admin-token"

// env is one test's server.
type env struct {
	t     *testing.T
	base  string
	st    *stack
	citus bool // on a Citus coordinator
}

// citusSuffix, appended to a driver name ("pgx/citus"), runs the app on a
// database of the Citus cluster instead of plain PostgreSQL.
const citusSuffix = "/citus"

// newEnv starts the app on a fresh database: shared schema migrated, demo
// tenants acme (3 users) and globex (2 users) seeded. A driver named with
// citusSuffix gets a Citus coordinator's database.
func newEnv(t *testing.T, driver string) *env {
	t.Helper()
	ctx := context.Background()
	tl := &testLog{t: t}
	t.Cleanup(tl.stop) // registered first, so it runs last
	logger := slog.New(tenancy.NewLogHandler(slog.NewTextHandler(tl, &slog.HandlerOptions{Level: slog.LevelWarn})))
	driver, citus := strings.CutSuffix(driver, citusSuffix)
	var dsn string
	if citus {
		dsn = citustest.NewDatabase(t)
	} else {
		dsn = tenancytest.NewDatabase(t)
	}
	st, err := openStack(ctx, driver, dsn, 8, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.close)
	if _, err := st.mig.MigrateShared(ctx); err != nil {
		t.Fatal(err)
	}
	a := newApp(st.db, st.reg, st.mig, nil, logger, testToken)
	if seeded, err := seedDemo(ctx, a); err != nil || !seeded {
		t.Fatalf("seedDemo = %v, %v; want true, nil", seeded, err)
	}
	srv := httptest.NewServer(a.routes())
	t.Cleanup(srv.Close)
	e := &env{t: t, base: srv.URL, st: st, citus: citus}
	if citus {
		// Guard against testing plain PostgreSQL by mistake: the demo's tenants
		// must be distributed schemas here.
		if n := e.countRows(`SELECT count(*) FROM pg_dist_schema WHERE schemaid::regnamespace::text IN ('acme', 'globex')`); n != 2 {
			t.Fatalf("on Citus, %d of the demo tenants acme and globex are distributed schemas, want 2", n)
		}
	}
	return e
}

// eachDriver runs an end-to-end test with the demo on each driver it supports,
// on plain PostgreSQL and on a Citus coordinator.
func eachDriver(t *testing.T, f func(t *testing.T, driver string)) {
	for _, d := range []string{"pgx", "postgres", "pgx" + citusSuffix, "postgres" + citusSuffix} {
		t.Run(d, func(t *testing.T) { f(t, d) })
	}
}

// testLog sends log output to t.Log, until the test ends.
type testLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (l *testLog) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
}

// req is one request: a tenant-scoped one if tenant is set, an admin one if
// admin is.
type req struct {
	method, path string
	body         string
	tenant       string // the tenant header
	host         string // the Host header, if not the server's address
	admin        bool   // send the admin token
	token        string // send this bearer token instead
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(r req) resp {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequestWithContext(context.Background(), r.method, e.base+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.tenant != "" {
		hr.Header.Set("Tenant", r.tenant)
	}
	if r.host != "" {
		hr.Host = r.host
	}
	switch {
	case r.token != "":
		hr.Header.Set("Authorization", "Bearer "+r.token)
	case r.admin:
		hr.Header.Set("Authorization", "Bearer "+testToken)
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// expect does r and fails the test unless the status is status; it decodes a
// JSON body into out if out is not nil. For an error status it also checks that
// the body is a problem document whose detail contains each of details.
func (e *env) expect(r req, status int, out any, details ...string) resp {
	e.t.Helper()
	res := e.do(r)
	if res.status != status {
		e.t.Fatalf("%s %s: status %d, want %d; body: %s", r.method, r.path, res.status, status, res.body)
	}
	if status >= 400 {
		var p tenancy.Problem
		if ct := res.header.Get("Content-Type"); ct != tenancy.ProblemContentType {
			e.t.Errorf("%s %s: Content-Type %q, want %q", r.method, r.path, ct, tenancy.ProblemContentType)
		}
		if err := json.Unmarshal(res.body, &p); err != nil || p.Status != status {
			e.t.Errorf("%s %s: body %s is not a problem with status %d (%v)", r.method, r.path, res.body, status, err)
		}
		for _, d := range details {
			if !strings.Contains(p.Detail, d) {
				e.t.Errorf("%s %s: detail %q does not contain %q", r.method, r.path, p.Detail, d)
			}
		}
	}
	if out != nil {
		if err := json.Unmarshal(res.body, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", r.method, r.path, res.body, err)
		}
	}
	return res
}

func emails(users []User) []string {
	var s []string
	for _, u := range users {
		s = append(s, u.Email)
	}
	return s
}

// countRows counts rows with a query in the shared schema (to check that a
// refused request wrote nothing).
func (e *env) countRows(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.st.db.Shared().GetContext(context.Background(), &n, query, args...); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// countOnWorkers runs query, which must return one count, on every worker of the
// Citus cluster (through the coordinator, run_command_on_workers) and returns
// the sum. It is 0 off Citus. query is inlined into a dollar-quoted string: no
// parameters.
func (e *env) countOnWorkers(query string) int {
	e.t.Helper()
	if !e.citus {
		return 0
	}
	var n, failed int
	if err := e.st.db.Shared().QueryRowContext(context.Background(),
		`SELECT coalesce(sum(result::bigint) FILTER (WHERE success), 0), count(*) FILTER (WHERE NOT success) `+
			`FROM run_command_on_workers($q$`+query+`$q$)`).Scan(&n, &failed); err != nil {
		e.t.Fatal(err)
	}
	if failed != 0 {
		e.t.Fatalf("%q failed on %d workers", query, failed)
	}
	return n
}

// countSchemas counts the schemas whose names match the regular expression re
// on the database, and on Citus on every worker too (a dropped or refused
// tenant must leave no schema anywhere).
func (e *env) countSchemas(re string) int {
	e.t.Helper()
	q := `SELECT count(*) FROM pg_namespace WHERE nspname ~ '` + re + `'`
	return e.countRows(q) + e.countOnWorkers(q)
}

func TestHealth(t *testing.T) { eachDriver(t, testHealth) }

func testHealth(t *testing.T, driver string) {
	t.Parallel()
	e := newEnv(t, driver)
	var body map[string]string
	e.expect(req{method: "GET", path: "/health"}, 200, &body)
	if body["status"] != "ok" {
		t.Errorf("GET /health = %v", body)
	}
}

// Two tenants never see each other's users: not in lists, not by id (an id that
// exists only in the other tenant is a 404, for GET, PATCH and DELETE), whether
// the tenant is named by header or by host.
func TestTenantIsolation(t *testing.T) { eachDriver(t, testTenantIsolation) }

func testTenantIsolation(t *testing.T, driver string) {
	t.Parallel()
	e := newEnv(t, driver)

	var acme, globex []User
	e.expect(req{method: "GET", path: "/users/", tenant: "acme"}, 200, &acme)
	e.expect(req{method: "GET", path: "/users/", host: "globex.localhost"}, 200, &globex)
	if got, want := strings.Join(emails(acme), " "), "alice@acme.example bob@acme.example carol@acme.example"; got != want {
		t.Errorf("acme's users: %s, want %s", got, want)
	}
	if got, want := strings.Join(emails(globex), " "), "hank@globex.example homer@globex.example"; got != want {
		t.Errorf("globex's users: %s, want %s", got, want)
	}

	// The host names the tenant too, with any port and case.
	var byHost []User
	e.expect(req{method: "GET", path: "/users/", host: "ACME.localhost:8080"}, 200, &byHost)
	if len(byHost) != 3 || byHost[0].Email != "alice@acme.example" {
		t.Errorf("acme by host: %v", emails(byHost))
	}

	// acme's user 3 (carol) has no counterpart in globex, which has ids 1 and 2.
	e.expect(req{method: "GET", path: "/users/3", tenant: "globex"}, 404, nil, "no user with id 3")
	e.expect(req{method: "PATCH", path: "/users/3", tenant: "globex", body: `{"first_name":"Mallory"}`}, 404, nil)
	e.expect(req{method: "DELETE", path: "/users/3", tenant: "globex"}, 404, nil)
	var carol User
	e.expect(req{method: "GET", path: "/users/3", tenant: "acme"}, 200, &carol)
	if carol.Email != "carol@acme.example" || *carol.FirstName != "Carol" {
		t.Errorf("acme's user 3 after globex's attempts: %+v", carol)
	}

	// Same id, different tenant, different user.
	var a1, g1 User
	e.expect(req{method: "GET", path: "/users/1", tenant: "acme"}, 200, &a1)
	e.expect(req{method: "GET", path: "/users/1", tenant: "globex"}, 200, &g1)
	if a1.Email != "alice@acme.example" || g1.Email != "hank@globex.example" {
		t.Errorf("user 1: acme %q, globex %q", a1.Email, g1.Email)
	}

	// A user created in globex does not appear in acme.
	e.expect(req{method: "POST", path: "/users/", tenant: "globex", body: `{"email":"marge@globex.example"}`}, 201, nil)
	e.expect(req{method: "GET", path: "/users/", tenant: "acme"}, 200, &acme)
	if len(acme) != 3 {
		t.Errorf("acme sees %v after a globex user was created", emails(acme))
	}

	// Header and host disagree: the header wins (FirstOf), never a mix.
	var hdr []User
	e.expect(req{method: "GET", path: "/users/", tenant: "globex", host: "acme.localhost"}, 200, &hdr)
	if len(hdr) != 3 || hdr[0].Email != "hank@globex.example" {
		t.Errorf("header globex, host acme: %v", emails(hdr))
	}
}

func TestTenantResolution(t *testing.T) { eachDriver(t, testTenantResolution) }

func testTenantResolution(t *testing.T, driver string) {
	t.Parallel()
	e := newEnv(t, driver)
	e.expect(req{method: "GET", path: "/users/"}, 400, nil, "does not name a tenant")
	e.expect(req{method: "GET", path: "/users/", host: "localhost:8080"}, 400, nil, "does not name a tenant")
	e.expect(req{method: "GET", path: "/users/", tenant: "initech"}, 404, nil, `"initech"`)
	e.expect(req{method: "GET", path: "/users/", host: "initech.localhost"}, 404, nil, `"initech.localhost"`)
	e.expect(req{method: "GET", path: "/users/", tenant: "Acme!"}, 400, nil, "malformed")
	e.expect(req{method: "GET", path: "/users/", tenant: "shared"}, 404, nil)
	e.expect(req{method: "GET", path: "/roles/", tenant: "public"}, 400, nil, "malformed") // not a tenant schema name
}

func TestUsersCRUD(t *testing.T) { eachDriver(t, testUsersCRUD) }

func testUsersCRUD(t *testing.T, driver string) {
	t.Parallel()
	e := newEnv(t, driver)

	var dana User
	res := e.expect(req{method: "POST", path: "/users/", tenant: "acme",
		body: `{"email":"Dana@ACME.example","first_name":"Dana","last_name":"Doe","user_role_id":2}`}, 201, &dana)
	if dana.ID != 4 || dana.Email != "dana@acme.example" || *dana.LastName != "Doe" || *dana.UserRoleID != 2 ||
		dana.CreatedAt == nil || dana.UpdatedAt == nil {
		t.Errorf("created user: %+v", dana)
	}
	if loc := res.header.Get("Location"); loc != "/users/4" {
		t.Errorf("Location %q, want /users/4", loc)
	}
	var got User
	e.expect(req{method: "GET", path: "/users/4", tenant: "acme"}, 200, &got)
	if got.Email != dana.Email {
		t.Errorf("GET /users/4: %+v", got)
	}

	// The e-mail directory knows the address, in the same tenant.
	var lk lookupResponse
	e.expect(req{method: "GET", path: "/lookup?email=DANA@acme.example"}, 200, &lk)
	if lk.Tenant.Schema != "acme" || lk.Email != "dana@acme.example" {
		t.Errorf("lookup: %+v", lk)
	}

	// An address in use, in this tenant or another, is a conflict; nothing is
	// written.
	before := e.countRows(`SELECT count(*) FROM shared_users`)
	e.expect(req{method: "POST", path: "/users/", tenant: "acme", body: `{"email":"dana@acme.example"}`}, 409, nil, "already in use")
	e.expect(req{method: "POST", path: "/users/", tenant: "globex", body: `{"email":"dana@acme.example"}`}, 409, nil, "already in use")
	e.expect(req{method: "POST", path: "/users/", tenant: "acme", body: `{"email":"hank@globex.example"}`}, 409, nil)
	if after := e.countRows(`SELECT count(*) FROM shared_users`); after != before {
		t.Errorf("shared_users: %d rows before the conflicts, %d after", before, after)
	}
	var globex []User
	e.expect(req{method: "GET", path: "/users/", tenant: "globex"}, 200, &globex)
	if len(globex) != 2 {
		t.Errorf("globex after the refused insert: %v", emails(globex))
	}

	// A role that does not exist in this tenant.
	e.expect(req{method: "POST", path: "/users/", tenant: "acme", body: `{"email":"eve@acme.example","user_role_id":99}`}, 422, nil, "no role")

	// PATCH: change the address (the directory follows), clear a field, keep the rest.
	e.expect(req{method: "PATCH", path: "/users/4", tenant: "acme",
		body: `{"email":"dana.doe@acme.example","last_name":null}`}, 200, &got)
	if got.Email != "dana.doe@acme.example" || got.LastName != nil || *got.FirstName != "Dana" || *got.UserRoleID != 2 ||
		!got.UpdatedAt.After(*dana.UpdatedAt) {
		t.Errorf("patched user: %+v", got)
	}
	e.expect(req{method: "GET", path: "/lookup?email=dana.doe@acme.example"}, 200, &lk)
	e.expect(req{method: "GET", path: "/lookup?email=dana@acme.example"}, 404, nil)
	e.expect(req{method: "PATCH", path: "/users/4", tenant: "acme", body: `{"email":"alice@acme.example"}`}, 409, nil)
	e.expect(req{method: "PATCH", path: "/users/4", tenant: "acme", body: `{}`}, 400, nil, "sets no field")
	e.expect(req{method: "PATCH", path: "/users/4", tenant: "acme", body: `{"email":null}`}, 400, nil, "cannot be null")

	// DELETE removes the user and its directory entry.
	e.expect(req{method: "DELETE", path: "/users/4", tenant: "acme"}, 204, nil)
	e.expect(req{method: "GET", path: "/users/4", tenant: "acme"}, 404, nil)
	e.expect(req{method: "DELETE", path: "/users/4", tenant: "acme"}, 404, nil)
	e.expect(req{method: "GET", path: "/lookup?email=dana.doe@acme.example"}, 404, nil)
	if n := e.countRows(`SELECT count(*) FROM shared_users WHERE email LIKE 'dana%'`); n != 0 {
		t.Errorf("%d shared_users rows left for dana", n)
	}

	// Paging: after_id and limit, with a Link to the next page.
	var page1, page2 []User
	res = e.expect(req{method: "GET", path: "/users/?limit=2", tenant: "acme"}, 200, &page1)
	if len(page1) != 2 || page1[1].ID != 2 {
		t.Fatalf("page 1: %v", emails(page1))
	}
	if link := res.header.Get("Link"); link != `</users/?after_id=2&limit=2>; rel="next"` {
		t.Errorf("Link %q", link)
	}
	e.expect(req{method: "GET", path: "/users/?after_id=2&limit=2", tenant: "acme"}, 200, &page2)
	if len(page2) != 1 || page2[0].Email != "carol@acme.example" {
		t.Errorf("page 2: %v", emails(page2))
	}
	var empty json.RawMessage
	e.expect(req{method: "GET", path: "/users/?after_id=1000", tenant: "acme"}, 200, &empty)
	if string(bytes.TrimSpace(empty)) != "[]" {
		t.Errorf("empty page: %s, want []", empty)
	}
}

// Invalid input is refused with a clear message, and nothing is written.
func TestValidation(t *testing.T) { eachDriver(t, testValidation) }

func testValidation(t *testing.T, driver string) {
	t.Parallel()
	e := newEnv(t, driver)
	users := func() int { return e.countRows(`SELECT count(*) FROM acme.users`) }
	before := users()
	cases := []struct {
		r      req
		status int
		detail string
	}{
		{req{method: "POST", path: "/users/", body: `{"email":`}, 400, "not valid JSON"},
		{req{method: "POST", path: "/users/", body: `[1]`}, 400, "JSON object"},
		{req{method: "POST", path: "/users/", body: `{"email":"x@acme.example","role":"admin"}`}, 400, `Unknown field "role"`},
		{req{method: "POST", path: "/users/", body: `{"email":"x@acme.example","first_name":1}`}, 400, `"first_name" must be a JSON string`},
		{req{method: "POST", path: "/users/", body: `{"email":"` + strings.Repeat("x", 245) + `@acme.example"}`}, 400, "longer than 256"},
		{req{method: "POST", path: "/users/", body: `{"email":"x@acme.example","last_name":"` + strings.Repeat("x", 101) + `"}`}, 400, "at most 100"},
		{req{method: "POST", path: "/users/", body: `{"email":"x@acme.example","first_name":"` + strings.Repeat("x", 2<<20) + `"}`}, 413, "larger than 1048576"},
		{req{method: "POST", path: "/users/", body: `{"email":"x"}`}, 400, "not an e-mail address"},
		{req{method: "PATCH", path: "/users/1", body: `{"first_name":"` + strings.Repeat("ü", 101) + `"}`}, 400, "101 characters"},
		{req{method: "GET", path: "/users/abc"}, 400, "positive integer"},
		{req{method: "GET", path: "/users/0"}, 400, "positive integer"},
		{req{method: "GET", path: "/users/99999999999999999999"}, 400, "positive integer"},
		{req{method: "GET", path: "/users/?limit=1000"}, 400, "from 1 to 100"},
		{req{method: "GET", path: "/users/?after_id=-1"}, 400, "after_id"},
		{req{method: "POST", path: "/roles/", body: `{"role_description":"no name"}`}, 400, `"role_name" is required`},
		{req{method: "POST", path: "/permissions/", body: `{"name":"p","account_id":1e12}`}, 400, "account_id"},
	}
	for _, tc := range cases {
		tc.r.tenant = "acme"
		e.expect(tc.r, tc.status, nil, tc.detail)
	}
	if after := users(); after != before {
		t.Errorf("acme.users: %d rows before, %d after the refused requests", before, after)
	}
	var alice User
	e.expect(req{method: "GET", path: "/users/1", tenant: "acme"}, 200, &alice)
	if *alice.FirstName != "Alice" {
		t.Errorf("a refused PATCH changed user 1: %+v", alice)
	}

	// Not JSON at all.
	res := e.do(req{method: "POST", path: "/users/", tenant: "acme"})
	if res.status != 400 {
		t.Errorf("POST without a body: status %d", res.status)
	}
	// Unknown routes and methods are problems too.
	e.expect(req{method: "GET", path: "/nowhere"}, 404, nil)
	res = e.expect(req{method: "PUT", path: "/users/", tenant: "acme"}, 405, nil)
	if allow := res.header.Get("Allow"); !strings.Contains(allow, "POST") {
		t.Errorf("405 Allow %q", allow)
	}
}

func TestRolesAndPermissions(t *testing.T) { eachDriver(t, testRolesAndPermissions) }

func testRolesAndPermissions(t *testing.T, driver string) {
	t.Parallel()
	e := newEnv(t, driver)
	var role Role
	e.expect(req{method: "POST", path: "/roles/", tenant: "acme", body: `{"role_name":"auditor","role_description":"Reads everything"}`}, 201, &role)
	var perm Permission
	e.expect(req{method: "POST", path: "/permissions/", tenant: "acme", body: `{"name":"audit.read","title":"Read the audit log"}`}, 201, &perm)
	if role.ID != 4 || perm.ID != 4 || perm.UUID == nil || len(*perm.UUID) != 36 {
		t.Fatalf("created role %+v, permission %+v", role, perm)
	}
	path := fmt.Sprintf("/roles/%d/permissions/%d", role.ID, perm.ID)
	e.expect(req{method: "PUT", path: path, tenant: "acme"}, 204, nil)
	e.expect(req{method: "PUT", path: path, tenant: "acme"}, 204, nil) // idempotent
	e.expect(req{method: "PUT", path: "/roles/99/permissions/1", tenant: "acme"}, 404, nil, "no role with id 99")
	e.expect(req{method: "PUT", path: "/roles/1/permissions/99", tenant: "acme"}, 404, nil, "no permission with id 99")
	// Both missing: the role is named, whichever foreign key the server reports.
	e.expect(req{method: "PUT", path: "/roles/99/permissions/98", tenant: "acme"}, 404, nil, "no role with id 99")
	// globex has no role 4.
	e.expect(req{method: "PUT", path: path, tenant: "globex"}, 404, nil, "no role")

	var roles []Role
	e.expect(req{method: "GET", path: "/roles/", tenant: "acme"}, 200, &roles)
	if len(roles) != 4 || roles[3].PermissionIDs == nil || len(roles[3].PermissionIDs) != 1 || roles[3].PermissionIDs[0] != perm.ID {
		t.Errorf("roles: %+v", roles)
	}
	if fmt.Sprint(roles[0].PermissionIDs) != "[1 2 3]" {
		t.Errorf("admin's permissions: %v", roles[0].PermissionIDs)
	}
	e.expect(req{method: "DELETE", path: path, tenant: "acme"}, 204, nil)
	e.expect(req{method: "GET", path: "/roles/", tenant: "acme"}, 200, &roles)
	if len(roles[3].PermissionIDs) != 0 {
		t.Errorf("after revoke: %+v", roles[3])
	}
	var perms []Permission
	e.expect(req{method: "GET", path: "/permissions/", tenant: "globex"}, 200, &perms)
	if len(perms) != 3 {
		t.Errorf("globex's permissions: %+v", perms)
	}
}

// TestIDColumnsBigint checks the migrated schemas for integer columns: ids and
// the columns referring to them must be bigint (Citus distributes tenant tables
// with identity columns only if they are bigint, and cannot change them later).
// The registry's id is the tenancy package's, and account_id refers to nothing.
func TestIDColumnsBigint(t *testing.T) {
	for _, d := range []string{"postgres", "postgres" + citusSuffix} {
		t.Run(d, func(t *testing.T) { testIDColumnsBigint(t, d) })
	}
}

func testIDColumnsBigint(t *testing.T, driver string) {
	t.Parallel()
	e := newEnv(t, driver)
	var cols []string
	if err := e.st.db.Shared().SelectContext(context.Background(), &cols,
		`SELECT table_schema || '.' || table_name || '.' || column_name FROM information_schema.columns `+
			`WHERE table_schema IN ('shared', 'acme') AND data_type IN ('smallint', 'integer') ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	want := []string{"acme.permissions.account_id", "shared.tenants.id"}
	if !slices.Equal(cols, want) {
		t.Errorf("integer columns %q, want only %q", cols, want)
	}
}

func TestAdminAuth(t *testing.T) { eachDriver(t, testAdminAuth) }

func testAdminAuth(t *testing.T, driver string) {
	t.Parallel()
	e := newEnv(t, driver)
	for _, r := range []req{
		{method: "GET", path: "/tenants"},
		{method: "GET", path: "/tenants", token: "wrong"},
		{method: "GET", path: "/tenants", token: testToken + "x"},
		{method: "GET", path: "/tenants/acme", token: " "},
		{method: "POST", path: "/tenants", body: `{"name":"X","schema":"x"}`},
		{method: "DELETE", path: "/tenants/acme"},
		{method: "POST", path: "/tenants/upgrade"},
		{method: "POST", path: "/tenants/acme/downgrade"},
	} {
		res := e.expect(r, 401, nil, "admin token")
		if res.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", r.method, r.path)
		}
	}
	// Nothing was dropped or downgraded.
	var v tenantView
	e.expect(req{method: "GET", path: "/tenants/acme", admin: true}, 200, &v)
	if v.Version != 2 {
		t.Errorf("acme at version %d after refused requests", v.Version)
	}
}

func TestAdminTenants(t *testing.T) { eachDriver(t, testAdminTenants) }

func testAdminTenants(t *testing.T, driver string) {
	t.Parallel()
	e := newEnv(t, driver)
	var created tenantView
	res := e.expect(req{method: "POST", path: "/tenants", admin: true,
		body: `{"name":"Initech","schema":"initech","host":"Initech.localhost"}`}, 201, &created)
	if created.Schema != "initech" || created.Host != "initech.localhost" || created.Version != 2 || created.Head != 2 ||
		created.Dirty || created.ID == 0 {
		t.Errorf("created: %+v", created)
	}
	if loc := res.header.Get("Location"); loc != "/tenants/initech" {
		t.Errorf("Location %q", loc)
	}
	if e.citus {
		// A tenant created through the API is a distributed schema on a worker.
		n, err := e.st.mig.Placement(context.Background(), "initech")
		if err != nil || !slices.Contains(workerNodes(t), n) {
			t.Errorf("Placement(initech) = %v, %v; want one of the workers %v", n, err, workerNodes(t))
		}
	}
	// The new tenant serves requests at once (no stale negative cache entry).
	var users []User
	e.expect(req{method: "GET", path: "/users/", tenant: "initech"}, 200, &users)
	if len(users) != 0 {
		t.Errorf("new tenant's users: %v", users)
	}

	e.expect(req{method: "POST", path: "/tenants", admin: true, body: `{"name":"Initech","schema":"initech2"}`}, 409, nil, `name "Initech"`)
	e.expect(req{method: "POST", path: "/tenants", admin: true, body: `{"name":"Other","schema":"initech"}`}, 409, nil, `schema "initech"`)
	e.expect(req{method: "POST", path: "/tenants", admin: true, body: `{"name":"Other","schema":"other","host":"initech.localhost"}`}, 409, nil, `host "initech.localhost"`)
	for _, bad := range []struct{ body, detail string }{
		{`{"name":"X","schema":"Bad-Name"}`, "upper-case"},
		{`{"name":"X","schema":"pg_x"}`, `"pg_"`},
		{`{"name":"X","schema":"shared"}`, "reserved"},
		{`{"name":"X","schema":"public"}`, "system schema"},
		{`{"name":"X","schema":"` + strings.Repeat("a", 64) + `"}`, "63 bytes"},
		{`{"name":"X","schema":"x1","host":"a b"}`, "Invalid host"},
		{`{"name":"  ","schema":"x2"}`, `"name" is required`},
		{`{"name":"` + strings.Repeat("n", 101) + `","schema":"x3"}`, "at most 100"},
		{`{"name":"X","schema":"x4","plan":"gold"}`, `Unknown field "plan"`},
	} {
		e.expect(req{method: "POST", path: "/tenants", admin: true, body: bad.body}, 400, nil, bad.detail)
	}
	if n := e.countRows(`SELECT count(*) FROM tenants`); n != 3 {
		t.Errorf("%d tenants registered, want 3", n)
	}
	if n := e.countSchemas(`^(x[0-9]|other|initech2)$`); n != 0 {
		t.Errorf("%d schemas of refused tenants exist", n)
	}

	// List, paginated.
	var page []tenancy.Tenant
	res = e.expect(req{method: "GET", path: "/tenants?limit=2", admin: true}, 200, &page)
	if len(page) != 2 || page[0].Schema != "acme" || page[1].Schema != "globex" || res.header.Get("Link") == "" {
		t.Errorf("page 1: %+v, Link %q", page, res.header.Get("Link"))
	}
	e.expect(req{method: "GET", path: fmt.Sprintf("/tenants?limit=2&after_id=%d", page[1].ID), admin: true}, 200, &page)
	if len(page) != 1 || page[0].Schema != "initech" {
		t.Errorf("page 2: %+v", page)
	}
	e.expect(req{method: "GET", path: "/tenants?limit=0", admin: true}, 400, nil)

	var v tenantView
	e.expect(req{method: "GET", path: "/tenants/globex", admin: true}, 200, &v)
	if v.Name != "Globex" || v.Version != 2 || v.Dirty || v.Pending != 0 {
		t.Errorf("globex: %+v", v)
	}
	e.expect(req{method: "GET", path: "/tenants/nope", admin: true}, 404, nil, `"nope"`)
	e.expect(req{method: "GET", path: "/tenants/shared", admin: true}, 404, nil)

	// Drop: the schema, its users and their directory entries go.
	e.expect(req{method: "POST", path: "/users/", tenant: "initech", body: `{"email":"peter@initech.example"}`}, 201, nil)
	e.expect(req{method: "DELETE", path: "/tenants/initech", admin: true}, 204, nil)
	e.expect(req{method: "DELETE", path: "/tenants/initech", admin: true}, 404, nil)
	e.expect(req{method: "GET", path: "/users/", tenant: "initech"}, 404, nil)
	e.expect(req{method: "GET", path: "/lookup?email=peter@initech.example"}, 404, nil)
	if n := e.countSchemas(`^initech$`); n != 0 {
		t.Errorf("schema initech survived the drop (%d copies, workers included)", n)
	}
	if e.citus {
		if n := e.countRows(`SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text LIKE 'initech.%'`); n != 0 {
			t.Errorf("%d Citus tables of initech survived the drop", n)
		}
	}
	e.expect(req{method: "DELETE", path: "/tenants/shared", admin: true}, 404, nil)
}

func TestAdminMigrations(t *testing.T) { eachDriver(t, testAdminMigrations) }

func testAdminMigrations(t *testing.T, driver string) {
	t.Parallel()
	e := newEnv(t, driver)
	status := func(schema string) tenantView {
		var v tenantView
		e.expect(req{method: "GET", path: "/tenants/" + schema, admin: true}, 200, &v)
		return v
	}
	indexExists := func(schema string) bool {
		t.Helper()
		exists := e.countRows(`SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'users_last_first_name_idx'`, schema) == 1
		if e.citus {
			// The coordinator's index is on the shell table; the data is in the
			// worker's shard, which must agree. (Citus hides shards from catalog
			// views on workers; regclass finds them.)
			onShard := e.countRows(`SELECT count(*) FROM run_command_on_placements($1::regclass, `+
				`$$SELECT count(*) FROM pg_index WHERE indrelid = '%s'::regclass AND indexrelid::regclass::text ~ 'users_last_first_name_idx'$$) `+
				`WHERE success AND result = '1'`, schema+".users") == 1
			if onShard != exists {
				t.Fatalf("%s.users: index on the coordinator %v, on the worker's shard %v", schema, exists, onShard)
			}
		}
		return exists
	}

	// An upgrade to an older version does nothing, also as a dry run.
	var plan planView
	e.expect(req{method: "POST", path: "/tenants/acme/upgrade?version=1&dry_run=true", admin: true}, 200, &plan)
	if plan.From != 2 || plan.To != 2 || len(plan.Steps) != 0 {
		t.Errorf("upgrade plan to an older version: %+v", plan)
	}

	// Dry-run a downgrade: the plan, and nothing changed.
	e.expect(req{method: "POST", path: "/tenants/acme/downgrade?steps=1&dry_run=true", admin: true}, 200, &plan)
	if !plan.DryRun || plan.From != 2 || plan.To != 1 || len(plan.Steps) != 1 || plan.Steps[0].Direction != "down" ||
		!strings.Contains(plan.Steps[0].SQL, "DROP INDEX users_last_first_name_idx") {
		t.Errorf("downgrade plan: %+v", plan)
	}
	if v := status("acme"); v.Version != 2 || !indexExists("acme") {
		t.Fatalf("the downgrade dry run changed acme: %+v", v)
	}

	var res resultView
	e.expect(req{method: "POST", path: "/tenants/acme/downgrade?steps=1", admin: true}, 200, &res)
	if res.From != 2 || res.To != 1 || fmt.Sprint(res.Applied) != "[2]" || res.Dirty {
		t.Errorf("downgrade: %+v", res)
	}
	if v := status("acme"); v.Version != 1 || v.Pending != 1 || indexExists("acme") {
		t.Errorf("after downgrade: %+v, index %v", v, indexExists("acme"))
	}
	e.expect(req{method: "POST", path: "/tenants/acme/downgrade?steps=5", admin: true}, 422, nil, "only 1")
	e.expect(req{method: "POST", path: "/tenants/acme/downgrade?steps=0", admin: true}, 400, nil)

	// Dry-run the upgrade: the plan with its SQL, and nothing changed.
	e.expect(req{method: "POST", path: "/tenants/acme/upgrade?dry_run=true", admin: true}, 200, &plan)
	if plan.From != 1 || plan.To != 2 || len(plan.Steps) != 1 || plan.Steps[0].Version != 2 || plan.Steps[0].Direction != "up" ||
		!strings.Contains(plan.Steps[0].SQL, "CREATE INDEX users_last_first_name_idx") {
		t.Errorf("upgrade plan: %+v", plan)
	}
	if v := status("acme"); v.Version != 1 || indexExists("acme") {
		t.Fatalf("the upgrade dry run changed acme: %+v", v)
	}
	e.expect(req{method: "POST", path: "/tenants/acme/upgrade?version=7", admin: true}, 422, nil, "not a tenant migration")
	e.expect(req{method: "POST", path: "/tenants/acme/upgrade?dry_run=maybe", admin: true}, 400, nil)
	e.expect(req{method: "POST", path: "/tenants/nope/upgrade", admin: true}, 404, nil)
	e.expect(req{method: "POST", path: "/tenants/shared/upgrade", admin: true}, 404, nil)

	// Fleet upgrade: acme is brought up, globex is skipped, per-tenant report.
	var rep fleetView
	e.expect(req{method: "POST", path: "/tenants/upgrade", admin: true}, 200, &rep)
	if rep.Upgraded != 1 || rep.Skipped != 1 || rep.Failed != 0 || rep.NotRun != 0 || len(rep.Tenants) != 2 ||
		rep.Shared.Schema != "shared" {
		t.Fatalf("fleet report: %+v", rep)
	}
	if tr := rep.Tenants[0]; tr.Schema != "acme" || tr.Outcome != "upgraded" || tr.From != 1 || tr.To != 2 || fmt.Sprint(tr.Applied) != "[2]" {
		t.Errorf("acme in the report: %+v", tr)
	}
	if tr := rep.Tenants[1]; tr.Schema != "globex" || tr.Outcome != "skipped" || tr.To != 2 {
		t.Errorf("globex in the report: %+v", tr)
	}
	if v := status("acme"); v.Version != 2 || !indexExists("acme") {
		t.Errorf("after the fleet upgrade: %+v", v)
	}

	// A dirty tenant fails in the report (and the request says so), the others
	// are not held back; an upgrade of it alone is a 409.
	if _, err := e.st.db.Shared().ExecContext(context.Background(), `UPDATE globex.schema_migrations SET dirty = true`); err != nil {
		t.Fatal(err)
	}
	e.expect(req{method: "POST", path: "/tenants/acme/downgrade", admin: true}, 200, nil)
	e.expect(req{method: "POST", path: "/tenants/upgrade?tenants=acme,globex,nope", admin: true}, 200, &rep)
	if rep.Upgraded != 1 || rep.Failed != 2 {
		t.Errorf("fleet report with a dirty tenant: %+v", rep)
	}
	outcomes := map[string]string{}
	for _, tr := range rep.Tenants {
		outcomes[tr.Schema] = tr.Outcome + " " + tr.Error
	}
	if !strings.HasPrefix(outcomes["acme"], "upgraded") || !strings.Contains(outcomes["globex"], "dirty") ||
		!strings.Contains(outcomes["nope"], "unknown tenant") {
		t.Errorf("outcomes: %v", outcomes)
	}
	e.expect(req{method: "POST", path: "/tenants/globex/upgrade", admin: true}, 409, nil, "dirty")
	if v := status("globex"); !v.Dirty {
		t.Errorf("globex: %+v, want dirty", v)
	}
}
