package routers_test

import (
	"fmt"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/go-tenancy/tenancy"
)

// gorilla/mux: Use runs after a route matched, so the route pattern holds the
// tenant segment; the handler sees the path without it (and mux.Vars still has
// it).
func Example_gorilla() {
	r := mux.NewRouter()
	r.HandleFunc("/healthz", whoami)
	api := r.PathPrefix("/api").Subrouter()
	api.Use(tenancy.Middleware(tenancy.PathResolver{Prefix: "/api"}, tenants))
	api.HandleFunc("/{tenant}/users", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "var %s; ", mux.Vars(r)["tenant"])
		whoami(w, r)
	})

	get(r, "/api/acme/users", "")
	get(r, "/healthz", "")
	get(r, "/api/globex/users", "")
	// Output:
	// 200 var acme; tenant acme, path /api/users
	// 200 no tenant, path /healthz
	// 404 {"type":"https://pkg.go.dev/github.com/go-tenancy/tenancy#ErrUnknownTenant","title":"Unknown tenant","status":404,"detail":"No tenant matches \"globex\"."}
}
