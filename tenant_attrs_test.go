package tenancy_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-tenancy/tenancy"
)

// TestTenantColumnsAndSuspension: the application's own registry columns come
// with every lookup (and List and All), cached with the row; a suspended
// tenant is refused with a 403 problem before the handler runs.
func TestTenantColumnsAndSuspension(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mustExec(t, e.admin, `ALTER TABLE shared.tenants ADD COLUMN plan text NOT NULL DEFAULT 'free',
		ADD COLUMN status text NOT NULL DEFAULT 'active', ADD COLUMN seats int, ADD COLUMN price numeric(6,2)`)
	acme, globex := e.addTenant(t, "acme"), e.addTenant(t, "globex")
	mustExec(t, e.admin, `UPDATE shared.tenants SET plan = 'pro', seats = 25, price = 99.50 WHERE id = $1`, acme.ID)
	mustExec(t, e.admin, `UPDATE shared.tenants SET status = 'suspended' WHERE id = $1`, globex.ID)

	reg, err := tenancy.NewRegistry(e.db, tenancy.WithTenantColumns("plan", "status", "seats", "price"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := reg.Lookup(ctx, tenancy.SchemaKey("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Attr("plan"); !ok || v != "pro" {
		t.Errorf("Attr(plan) = %v, %v", v, ok)
	}
	if v, _ := got.Attr("seats"); v != int64(25) {
		t.Errorf("Attr(seats) = %#v, want int64 25", v)
	}
	if s := got.AttrString("price"); s != "99.50" {
		t.Errorf("AttrString(price) = %q", s)
	}
	if _, ok := got.Attr("region"); ok {
		t.Error("Attr(region) found a column that was not asked for")
	}
	if m := got.Attrs(); len(m) != 4 || m["status"] != "active" {
		t.Errorf("Attrs() = %v", m)
	}
	ts, err := reg.List(ctx, tenancy.ListOptions{})
	if err != nil || len(ts) != 2 || ts[1].AttrString("status") != "suspended" || ts[1].AttrString("seats") != "" {
		t.Errorf("List = %+v, %v", ts, err)
	}
	n := 0
	for tn, err := range reg.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if tn.AttrString("plan") == "" {
			t.Errorf("All: %s has no plan", tn.Schema)
		}
		n++
	}
	if n != 2 {
		t.Errorf("All gave %d tenants", n)
	}

	ran := 0
	h := tenancy.Middleware(tenancy.HeaderResolver{}, reg, tenancy.WithSuspended(func(t tenancy.Tenant) bool {
		return t.AttrString("status") == "suspended"
	}))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran++
		// The column is in the request's Tenant: no second query.
		w.Write([]byte(tenancy.MustFromContext(r.Context()).AttrString("plan")))
	}))
	serve := func(tenant string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Tenant", tenant)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	e.rt.Reset()
	if rec := serve("acme"); rec.Code != 200 || rec.Body.String() != "pro" {
		t.Errorf("acme: %d %s", rec.Code, rec.Body)
	}
	if rt := e.rt.RoundTrips(); rt != 0 {
		t.Errorf("serving a cached tenant with its columns took %d round trips, want 0", rt)
	}
	rec := serve("globex")
	if rec.Code != 403 || ran != 1 || !strings.Contains(rec.Body.String(), `"title":"Tenant suspended"`) {
		t.Errorf("suspended globex: %d %s (handler ran %d times)", rec.Code, rec.Body, ran)
	}
	if tenancy.StatusCode(&tenancy.TenantError{Err: tenancy.ErrTenantSuspended}) != 403 {
		t.Error("StatusCode(ErrTenantSuspended) is not 403")
	}

	// A column that does not exist fails every lookup as a registry failure.
	bad, err := tenancy.NewRegistry(e.db, tenancy.WithTenantColumns("region"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Lookup(ctx, tenancy.SchemaKey("acme")); !errors.Is(err, tenancy.ErrRegistryUnavailable) {
		t.Errorf("lookup with a missing column: %v, want ErrRegistryUnavailable", err)
	}
	for _, cols := range [][]string{{"Plan"}, {"schema"}, {"plan", "plan"}, {"a;b"}} {
		if _, err := tenancy.NewRegistry(e.db, tenancy.WithTenantColumns(cols...)); err == nil {
			t.Errorf("WithTenantColumns(%q) accepted", cols)
		}
	}
}
