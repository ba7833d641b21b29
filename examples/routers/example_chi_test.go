package routers_test

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/go-tenancy/tenancy"
)

// chi: the middleware in the top-level Use runs before routing, so the routes
// under /api are written without the tenant segment. WithSkip keeps the routes
// outside /api (health checks) tenant-less.
func Example_chi() {
	r := chi.NewRouter()
	r.Use(tenancy.Middleware(tenancy.PathResolver{Prefix: "/api"}, tenants,
		tenancy.WithSkip(func(r *http.Request) bool { return !strings.HasPrefix(r.URL.Path, "/api/") })))
	r.Get("/healthz", whoami)
	r.Route("/api", func(r chi.Router) {
		r.Get("/users", whoami)
	})

	get(r, "/api/acme/users", "")
	get(r, "/healthz", "")
	get(r, "/api/globex/users", "")
	// Output:
	// 200 tenant acme, path /api/users
	// 200 no tenant, path /healthz
	// 404 {"type":"https://pkg.go.dev/github.com/go-tenancy/tenancy#ErrUnknownTenant","title":"Unknown tenant","status":404,"detail":"No tenant matches \"globex\"."}
}

// chi with the tenant in a header: the middleware can sit on a sub-router.
func Example_chiHeader() {
	r := chi.NewRouter()
	r.Get("/healthz", whoami)
	r.Route("/api", func(r chi.Router) {
		r.Use(tenancy.Middleware(tenancy.HeaderResolver{}, tenants))
		r.Get("/users", whoami)
	})

	get(r, "/api/users", "acme")
	get(r, "/healthz", "")
	// Output:
	// 200 tenant acme, path /api/users
	// 200 no tenant, path /healthz
}
