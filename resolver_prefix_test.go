package tenancy_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/go-tenancy/tenancy"
)

func TestPathResolverPrefix(t *testing.T) {
	res := tenancy.PathResolver{Prefix: "/api/v1"}
	for _, c := range []struct {
		target      string
		value       string // "" = zero Key
		strip, keep string
		malformed   bool
	}{
		{target: "/api/v1/acme/users", value: "acme", strip: "/api/v1/acme", keep: "/api/v1"},
		{target: "/api/v1/acme", value: "acme", strip: "/api/v1/acme", keep: "/api/v1"},
		{target: "/api/v1", value: ""},
		{target: "/api/v1/", value: ""},
		{target: "/api/v1x/acme", value: ""}, // not under the prefix at a segment boundary
		{target: "/acme/users", value: ""},
		{target: "/", value: ""},
		{target: "/api/v1//acme", malformed: true},
		{target: "/api/v1/../acme", malformed: true},
		{target: "/api/v1/%61cme/x", malformed: true},
		{target: "/api/%761/acme/x", malformed: true}, // the prefix itself encoded
	} {
		req := httptest.NewRequest("GET", "http://x"+c.target, nil)
		if u, err := url.ParseRequestURI(c.target); err == nil {
			req.URL = u
		}
		k, err := res.ResolveTenant(req)
		if c.malformed {
			if !errors.Is(err, tenancy.ErrMalformedRequest) {
				t.Errorf("%s: %+v, %v; want ErrMalformedRequest", c.target, k, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.target, err)
			continue
		}
		if k.Value != c.value || k.StripPrefix != c.strip || k.KeepPrefix != c.keep {
			t.Errorf("%s: %+v, want value %q strip %q keep %q", c.target, k, c.value, c.strip, c.keep)
		}
	}
}

func TestPathResolverPrefixValidated(t *testing.T) {
	for _, p := range []string{"api", "/api/", "//api", "/a//b", "/a/../b", "/."} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Prefix %q: Middleware did not panic", p)
				}
			}()
			tenancy.Middleware(tenancy.PathResolver{Prefix: p}, exampleTenants)
		}()
	}
}

// TestMiddlewarePrefixPaths: the path next sees keeps the prefix, drops the
// tenant segment, and keeps RawPath consistent; AllAgree keeps the prefix too.
func TestMiddlewarePrefixPaths(t *testing.T) {
	var gotPath, gotRaw string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotRaw = r.URL.Path, r.URL.RawPath
	})
	for _, res := range []tenancy.TenantResolver{
		tenancy.PathResolver{Prefix: "/api"},
		tenancy.AllAgree(tenancy.PathResolver{Prefix: "/api"}, tenancy.HeaderResolver{}),
	} {
		h := tenancy.Middleware(res, exampleTenants)(next)
		for _, c := range []struct{ target, path, raw string }{
			{"/api/acme/users/a%2Fb", "/api/users/a/b", "/api/users/a%2Fb"},
			{"/api/acme/users", "/api/users", ""},
			{"/api/acme", "/api/", ""},
		} {
			gotPath, gotRaw = "-", "-"
			req := httptest.NewRequest("GET", c.target, nil)
			req.Header.Set("Tenant", "acme")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 || gotPath != c.path || gotRaw != c.raw {
				t.Errorf("%T %s: %d, path %q raw %q; want %q %q", res, c.target, rec.Code, gotPath, gotRaw, c.path, c.raw)
			}
			if req.URL.EscapedPath() != c.target {
				t.Errorf("the caller's request was modified: %s", req.URL.EscapedPath())
			}
		}
	}
}

// TestMiddlewareSkipAndOptional: skipped requests never reach the resolver or the
// Lookuper; an optional tenant lets a tenant-less request through but still
// refuses a malformed or unknown one.
func TestMiddlewareSkipAndOptional(t *testing.T) {
	lookups := 0
	lk := tenancy.LookuperFunc(func(ctx context.Context, k tenancy.Key) (tenancy.Tenant, error) {
		lookups++
		return exampleTenants(ctx, k)
	})
	resolved := 0
	res := tenancy.ResolverFunc(func(r *http.Request) (tenancy.Key, error) {
		resolved++
		return tenancy.HeaderResolver{}.ResolveTenant(r)
	})
	served := map[string]bool{}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok := tenancy.FromContext(r.Context())
		served[r.Header.Get("Tenant")] = ok
	})
	skip := tenancy.WithSkip(func(r *http.Request) bool { return r.URL.Path == "/healthz" })
	h := tenancy.Middleware(res, lk, skip, tenancy.WithOptionalTenant())(next)
	do := func(path, tenant string) int {
		req := httptest.NewRequest("GET", path, nil)
		if tenant != "" {
			req.Header.Set("Tenant", tenant)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := do("/healthz", "globex"); code != 200 || resolved != 0 || lookups != 0 {
		t.Errorf("skipped request: %d, %d resolutions, %d lookups; want 200, 0, 0", code, resolved, lookups)
	}
	if ok, seen := served["globex"]; !seen || ok {
		t.Errorf("skipped request reached next with a tenant (%v) or not at all (%v)", ok, seen)
	}
	if code := do("/", ""); code != 200 || lookups != 0 {
		t.Errorf("no tenant, optional: %d, %d lookups; want 200, 0", code, lookups)
	}
	if code := do("/", "acme"); code != 200 || !served["acme"] {
		t.Errorf("acme: %d, tenant in context %v", code, served["acme"])
	}
	if code := do("/", "globex"); code != 404 {
		t.Errorf("unknown tenant with an optional tenant: %d, want 404", code)
	}
	if code := do("/", "Not A Schema!"); code != 400 {
		t.Errorf("malformed tenant with an optional tenant: %d, want 400", code)
	}
	if code := do("/", "acme"); code != 200 {
		t.Errorf("acme again: %d", code)
	}
}
