package tenancy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/go-tenancy/tenancy"
)

func TestRegistryLookup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.addTenant(t, "acme")
	ctx := context.Background()

	for _, k := range []tenancy.Key{
		tenancy.SchemaKey("acme"),
		tenancy.HostKey("acme.example.com"),
		tenancy.HostKey("ACME.example.com."), // normalised on the way in
		tenancy.NameKey("Tenant acme"),
	} {
		got, err := e.reg.Lookup(ctx, k)
		if err != nil {
			t.Fatalf("Lookup(%v): %v", k, err)
		}
		if got.ID != a.ID || got.Schema != "acme" || got.Host != "acme.example.com" || got.CreatedAt.IsZero() {
			t.Fatalf("Lookup(%v) = %+v, want %+v", k, got, a)
		}
	}

	for _, k := range []tenancy.Key{
		tenancy.SchemaKey("nobody"), tenancy.SchemaKey(`x"; DROP TABLE shared.tenants; --`),
		tenancy.HostKey("nobody.example.com"), tenancy.HostKey("bad host"), tenancy.NameKey(""),
	} {
		_, err := e.reg.Lookup(ctx, k)
		var te *tenancy.TenantError
		if !errors.Is(err, tenancy.ErrUnknownTenant) || !errors.As(err, &te) {
			t.Errorf("Lookup(%v): %v, want a *TenantError wrapping ErrUnknownTenant", k, err)
		}
	}
	if n, err := e.reg.Count(ctx); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v (the registry must be intact)", n, err)
	}

	tctx, err := e.reg.Context(ctx, tenancy.SchemaKey("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tenancy.MustFromContext(tctx); got.ID != a.ID {
		t.Fatalf("Context carries %+v", got)
	}
	var schema string
	if err := e.db.GetContext(tctx, &schema, `SELECT current_schema()`); err != nil || schema != "acme" {
		t.Fatalf("query with Registry.Context ran in %q (%v)", schema, err)
	}
}

func TestRegistryCacheAndInvalidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.addTenant(t, "acme")
	ctx := context.Background()
	if _, err := e.reg.Lookup(ctx, tenancy.SchemaKey("acme")); err != nil {
		t.Fatal(err)
	}
	// A cached hit sends nothing.
	e.rt.Reset()
	for i := 0; i < 100; i++ {
		if _, err := e.reg.Lookup(ctx, tenancy.SchemaKey("acme")); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.rt.RoundTrips(); n != 0 {
		t.Fatalf("100 cached lookups cost %d round trips", n)
	}

	// A rename elsewhere is seen once invalidated.
	mustExec(t, e.admin, `UPDATE shared.tenants SET name = 'Renamed' WHERE id = $1`, a.ID)
	if got, _ := e.reg.Lookup(ctx, tenancy.SchemaKey("acme")); got.Name != "Tenant acme" {
		t.Fatalf("cache did not hold the old row: %q", got.Name)
	}
	e.reg.Invalidate(a)
	if got, _ := e.reg.Lookup(ctx, tenancy.SchemaKey("acme")); got.Name != "Renamed" {
		t.Fatalf("after Invalidate: name %q, want Renamed", got.Name)
	}

	// A miss is cached (negatively) until invalidated, then found.
	if _, err := e.reg.Lookup(ctx, tenancy.SchemaKey("late")); !errors.Is(err, tenancy.ErrUnknownTenant) {
		t.Fatal(err)
	}
	late := e.addTenant(t, "late")
	if _, err := e.reg.Lookup(ctx, tenancy.SchemaKey("late")); !errors.Is(err, tenancy.ErrUnknownTenant) {
		t.Fatalf("negative entry was not cached: %v", err)
	}
	if got, err := e.reg.Get(ctx, tenancy.SchemaKey("late")); err != nil || got.ID != late.ID {
		t.Fatalf("Get bypassing the cache: %+v, %v", got, err)
	}

	// A deletion elsewhere takes effect at once after InvalidateAll.
	mustExec(t, e.admin, `DELETE FROM shared.tenants WHERE id = $1`, a.ID)
	e.reg.InvalidateAll()
	if _, err := e.reg.Lookup(ctx, tenancy.SchemaKey("acme")); !errors.Is(err, tenancy.ErrUnknownTenant) {
		t.Fatalf("deleted tenant still found: %v", err)
	}
}

func TestRegistryCollapsesConcurrentMisses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addTenant(t, "acme")
	if err := e.db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.db.Pool().SetMaxOpenConns(1) // no new connections (their startup would count)
	e.rt.Reset()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := e.reg.Lookup(context.Background(), tenancy.SchemaKey("acme")); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	// One query: SET search_path (shared) + parse + execute. Concurrent misses for
	// the same key share it; without collapsing this would be ~100.
	if n := e.rt.RoundTrips(); n > 6 {
		t.Fatalf("50 concurrent lookups of one key cost %d round trips", n)
	}
}

func TestRegistryListAndAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const n = 2500
	mustExec(t, e.admin, `INSERT INTO shared.tenants (name, schema)
		SELECT 'T' || i, 't' || i FROM generate_series(1, $1) AS i`, n)

	var seen int
	var last int64
	for page := 0; ; page++ {
		ts, err := e.reg.List(ctx, tenancy.ListOptions{AfterID: last, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) == 0 {
			break
		}
		for _, tn := range ts {
			if tn.ID <= last {
				t.Fatalf("page %d not ordered by id: %d after %d", page, tn.ID, last)
			}
			last = tn.ID
			seen++
		}
	}
	if seen != n {
		t.Fatalf("List pages returned %d tenants, want %d", seen, n)
	}

	seen = 0
	for tn, err := range e.reg.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if tn.Schema != fmt.Sprintf("t%d", seen+1) {
			t.Fatalf("All out of order at %d: %s", seen, tn.Schema)
		}
		seen++
	}
	if seen != n {
		t.Fatalf("All streamed %d tenants, want %d", seen, n)
	}
	// Breaking out early stops the stream without error.
	seen = 0
	for range e.reg.All(ctx) {
		if seen++; seen == 3 {
			break
		}
	}
	if _, err := e.reg.List(ctx, tenancy.ListOptions{Limit: 20000}); err == nil {
		t.Fatal("List accepted a limit over 10000")
	}
}

func TestRegistryUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addTenant(t, "acme")
	e.db.Close()
	_, err := e.reg.Lookup(context.Background(), tenancy.SchemaKey("acme"))
	if !errors.Is(err, tenancy.ErrRegistryUnavailable) {
		t.Fatalf("closed DB: %v, want ErrRegistryUnavailable", err)
	}
	if errors.Is(err, tenancy.ErrUnknownTenant) {
		t.Fatal("an outage must not look like an unknown tenant")
	}
}

// TestMiddlewareEndToEnd serves two tenants through the middleware, the registry
// and the DB, and checks each request sees its own tenant's rows only.
func TestMiddlewareEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.addTenant(t, "acme"), e.addTenant(t, "globex")
	mustExec(t, e.admin, `INSERT INTO acme.items (tenant) VALUES ('acme'), ('acme')`)
	mustExec(t, e.admin, `INSERT INTO globex.items (tenant) VALUES ('globex')`)
	e.db.Pool().SetMaxOpenConns(2)

	mw := tenancy.Middleware(tenancy.FirstOf(tenancy.HeaderResolver{}, tenancy.HostResolver{}), e.reg)
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var tags []string
		if err := e.db.SelectContext(r.Context(), &tags, `SELECT tenant FROM items`); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(tags)
	})))
	defer srv.Close()

	get := func(header, host string) (int, []string) {
		req, _ := http.NewRequest("GET", srv.URL+"/items", nil)
		if header != "" {
			req.Header.Set("Tenant", header)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tags []string
		if resp.StatusCode == 200 {
			json.NewDecoder(resp.Body).Decode(&tags)
		}
		return resp.StatusCode, tags
	}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tn, want := a, 2
			if i%2 == 1 {
				tn, want = b, 1
			}
			code, tags := get(tn.Schema, "")
			if i%4 >= 2 {
				code, tags = get("", tn.Host+":8080")
			}
			if code != 200 || len(tags) != want {
				t.Errorf("%s: %d %v", tn.Schema, code, tags)
			}
			for _, tag := range tags {
				if tag != tn.Schema {
					t.Errorf("%s saw %s's row", tn.Schema, tag)
				}
			}
		}(i)
	}
	wg.Wait()

	// The host resolves to "localhost" here (no tenant has it): 404, no fallback.
	for _, c := range []struct {
		header string
		want   int
	}{{"nobody", 404}, {"Bad-Name", 400}, {"", 404}} {
		if code, _ := get(c.header, ""); code != c.want {
			t.Errorf("tenant header %q: status %d, want %d", c.header, code, c.want)
		}
	}
}
