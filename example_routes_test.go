package tenancy_test

import (
	"fmt"
	"net/http"

	"github.com/go-tenancy/tenancy"
)

// Under a mount point: the tenant segment follows "/api", and handlers (or a
// router that routes after the middleware) see the path without it. Paths
// outside "/api" name no tenant.
func ExamplePathResolver_prefix() {
	show := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := tenancy.FromContext(r.Context())
		fmt.Fprintf(w, "tenant %s, path %s\n", t.Schema, r.URL.Path)
	})
	h := tenancy.Middleware(tenancy.PathResolver{Prefix: "/api"}, exampleTenants)(show)

	exampleGet(h, "/api/acme/users/42", "")
	exampleGet(h, "/api/nobody/users", "")
	// Output:
	// 200 text/plain; charset=utf-8
	// tenant acme, path /api/users/42
	// 404 application/problem+json
	// {"type":"https://pkg.go.dev/github.com/go-tenancy/tenancy#ErrUnknownTenant","title":"Unknown tenant","status":404,"detail":"No tenant matches \"nobody\"."}
}

// Health checks and sign-up need no tenant: WithSkip lets them through untouched.
func ExampleWithSkip() {
	show := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok := tenancy.FromContext(r.Context())
		fmt.Fprintf(w, "%s, tenant: %v\n", r.URL.Path, ok)
	})
	skip := tenancy.WithSkip(func(r *http.Request) bool {
		return r.URL.Path == "/healthz" || r.URL.Path == "/signup"
	})
	h := tenancy.Middleware(tenancy.HeaderResolver{}, exampleTenants, skip)(show)

	exampleGet(h, "/healthz", "")
	exampleGet(h, "/orders", "acme")
	exampleGet(h, "/orders", "")
	// Output:
	// 200 text/plain; charset=utf-8
	// /healthz, tenant: false
	// 200 text/plain; charset=utf-8
	// /orders, tenant: true
	// 400 application/problem+json
	// {"type":"https://pkg.go.dev/github.com/go-tenancy/tenancy#ErrNoTenant","title":"No tenant","status":400,"detail":"The request does not name a tenant."}
}

// With an optional tenant, a request that names none is served without one (a
// landing page), but a request naming an unknown tenant is still refused.
func ExampleWithOptionalTenant() {
	show := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t, ok := tenancy.FromContext(r.Context()); ok {
			fmt.Fprintf(w, "welcome back, %s\n", t.Name)
			return
		}
		fmt.Fprintln(w, "welcome, stranger")
	})
	h := tenancy.Middleware(tenancy.HeaderResolver{}, exampleTenants, tenancy.WithOptionalTenant())(show)

	exampleGet(h, "/", "acme")
	exampleGet(h, "/", "")
	exampleGet(h, "/", "globex")
	// Output:
	// 200 text/plain; charset=utf-8
	// welcome back, Acme
	// 200 text/plain; charset=utf-8
	// welcome, stranger
	// 404 application/problem+json
	// {"type":"https://pkg.go.dev/github.com/go-tenancy/tenancy#ErrUnknownTenant","title":"Unknown tenant","status":404,"detail":"No tenant matches \"globex\"."}
}
