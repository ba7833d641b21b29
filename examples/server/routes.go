package main

import (
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy"
)

// app holds everything the handlers need. There are no package-level variables:
// tests build as many apps as they like, each on its own database.
type app struct {
	db  *tenancy.DB       // tenant-scoped: each query runs in the schema of its context's tenant
	reg *tenancy.Registry // the tenant registry (admin API)
	mig *tenancy.Migrator // tenant lifecycle and migrations (admin API)
	// tenants is what the tenant middleware looks tenants up with: reg in the
	// server, a stub in unit tests.
	tenants tenancy.Lookuper
	log     *slog.Logger

	adminTokenHash [sha256.Size]byte
	users          userStore
	roles          roleStore
}

// newApp builds the app. reg and mig may be nil in unit tests that use only the
// tenant-scoped API (tenants is then the lookup to use).
func newApp(db *tenancy.DB, reg *tenancy.Registry, mig *tenancy.Migrator, tenants tenancy.Lookuper,
	logger *slog.Logger, adminToken string) *app {
	if tenants == nil {
		tenants = reg
	}
	return &app{
		db: db, reg: reg, mig: mig, tenants: tenants, log: logger,
		adminTokenHash: sha256.Sum256([]byte(adminToken)),
		// The tenant transaction that creates a user also writes the shared
		// e-mail directory: it names that table with its schema, because the
		// tenant's search_path holds the tenant's schema alone.
		users: userStore{db: db, sharedUsers: pq.QuoteIdentifier(db.SharedSchema()) + ".shared_users"},
		roles: roleStore{db: db},
	}
}

// routes returns the app's HTTP handler: every route, behind the access log.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	tenant := a.tenantScoped()
	admin := a.requireAdmin

	// Shared, no tenant.
	mux.Handle("GET /health", a.handle(a.health))
	mux.Handle("GET /lookup", a.handle(a.lookupEmail))

	// Tenant admin: bearer token.
	mux.Handle("POST /tenants", admin(a.handle(a.createTenant)))
	mux.Handle("GET /tenants", admin(a.handle(a.listTenants)))
	mux.Handle("POST /tenants/upgrade", admin(a.handle(a.upgradeFleet)))
	mux.Handle("GET /tenants/{schema}", admin(a.handle(a.getTenant)))
	mux.Handle("DELETE /tenants/{schema}", admin(a.handle(a.dropTenant)))
	mux.Handle("POST /tenants/{schema}/upgrade", admin(a.handle(a.upgradeTenant)))
	mux.Handle("POST /tenants/{schema}/downgrade", admin(a.handle(a.downgradeTenant)))

	// Tenant-scoped: the tenant comes from the request. {$} matches the
	// collection path only, so that /users/1/x is a 404, not the list.
	mux.Handle("GET /users/{$}", tenant(a.handle(a.listUsers)))
	mux.Handle("POST /users/{$}", tenant(a.handle(a.createUser)))
	mux.Handle("GET /users/{id}", tenant(a.handle(a.getUser)))
	mux.Handle("PATCH /users/{id}", tenant(a.handle(a.updateUser)))
	mux.Handle("DELETE /users/{id}", tenant(a.handle(a.deleteUser)))
	mux.Handle("GET /roles/{$}", tenant(a.handle(a.listRoles)))
	mux.Handle("POST /roles/{$}", tenant(a.handle(a.createRole)))
	mux.Handle("PUT /roles/{id}/permissions/{permission_id}", tenant(a.handle(a.grantPermission)))
	mux.Handle("DELETE /roles/{id}/permissions/{permission_id}", tenant(a.handle(a.revokePermission)))
	mux.Handle("GET /permissions/{$}", tenant(a.handle(a.listPermissions)))
	mux.Handle("POST /permissions/{$}", tenant(a.handle(a.createPermission)))

	return a.accessLog(problemMux(mux))
}

// tenantScoped returns the middleware of the tenant-scoped routes: it finds the
// request's tenant (the "tenant" header, else the host), looks it up in the
// registry (cached), and puts it in the request's context, or answers 400 (no or
// malformed tenant) or 404 (unknown tenant) as application/problem+json.
//
// The demo has no user authentication. A real application authenticates the
// caller and checks, with tenancy.WithAuthorizer, that the caller belongs to the
// tenant the request names: a header is only a claim.
func (a *app) tenantScoped() func(http.Handler) http.Handler {
	mw := tenancy.Middleware(
		tenancy.FirstOf(tenancy.HeaderResolver{}, tenantHost(tenancy.HostResolver{})),
		a.tenants,
		tenancy.WithLogger(a.log),
	)
	return func(h http.Handler) http.Handler { return mw(noteTenant(h)) }
}

// tenantHost resolves the tenant by host, except for hosts that name the server
// itself (an IP address, or plain "localhost"): those name no tenant, so that
// `curl http://127.0.0.1:8080/users/` is answered 400 "no tenant" rather than 404
// "unknown tenant 127.0.0.1". acme.localhost names the tenant acme.
func tenantHost(hr tenancy.HostResolver) tenancy.TenantResolver {
	return tenancy.ResolverFunc(func(r *http.Request) (tenancy.Key, error) {
		k, err := hr.ResolveTenant(r)
		if err != nil || k.IsZero() {
			return k, err
		}
		if _, ipErr := netip.ParseAddr(strings.Trim(k.Value, "[]")); ipErr == nil || k.Value == "localhost" {
			return tenancy.Key{}, nil
		}
		return k, nil
	})
}
