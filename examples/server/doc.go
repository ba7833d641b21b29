// Command server is the demo of package tenancy: a small multi-tenant HTTP API
// (users, roles and permissions, one schema per tenant), a tenant admin API, and
// the migration CLI of package tenancycli, in one binary that needs no setup:
//
//	go run ./examples/server                 # serve (starts an embedded PostgreSQL)
//	go run ./examples/server status          # migration CLI: see `help`
//
// Without DATABASE_URL it starts PostgreSQL from the local binaries with its data
// in -data-dir (default $TMPDIR/tenancy-demo-pgdata, kept across restarts), migrates
// the shared schema, creates the demo tenants acme and globex on a fresh database,
// and prints curl commands to try. Ctrl-C (SIGINT) or SIGTERM shuts it down
// gracefully: in-flight requests finish, the pool closes, PostgreSQL stops.
//
// The code is meant to be copied. Each file holds one concern:
//
//   - main.go, config.go: flags and environment, dispatch to server or CLI;
//   - database.go: DATABASE_URL or an embedded PostgreSQL; the tenancy DB,
//     registry and migrator;
//   - serve.go, banner.go, seed.go: start-up, graceful shutdown, demo data;
//   - routes.go, middleware.go, httpjson.go: routing, access log, admin
//     authentication, JSON in and problem+json out;
//   - admin.go: the tenant admin API (create, list, drop, upgrade, fleet upgrade);
//   - users.go, users_store.go, roles.go, roles_store.go, lookup.go: the
//     tenant-scoped API and the shared e-mail directory.
//
// Handlers get everything through the app value (no globals) and use the
// request's context for every query: behind [tenancy.Middleware] that context
// names the tenant, and the [tenancy.DB] runs each query in that tenant's schema.
package main
