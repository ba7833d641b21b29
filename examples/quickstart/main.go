// Command quickstart is the README's quick start, as a complete program: run it
// against an empty PostgreSQL database and it creates the shared schema, the
// tenant registry and a first tenant, then serves that tenant's users.
//
//	DATABASE_URL='postgres://localhost/app?sslmode=disable' go run ./examples/quickstart
//	curl -s localhost:8080/users/ -H 'Tenant: acme'
//
// Its test (main_test.go) runs it against a fresh database in CI, so the README
// cannot drift from a program that works.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"os"
	"testing/fstest"

	"github.com/go-tenancy/tenancy"
)

// The migrations. A real application embeds directories of .sql files instead
// (//go:embed migrations/tenant/*.sql, then fs.Sub). The registry table
// (shared.tenants) is the library's: MigrateShared creates it first.
var (
	sharedMigrations = fstest.MapFS{"1_signups.up.sql": {Data: []byte(
		`CREATE TABLE signups (email text PRIMARY KEY, tenant_id int REFERENCES tenants (id) ON DELETE CASCADE)`)}}
	tenantMigrations = fstest.MapFS{"1_users.up.sql": {Data: []byte(
		`CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE)`)}}
)

func main() {
	ctx := context.Background()
	db, err := tenancy.Open("postgres", os.Getenv("DATABASE_URL")) // lib/pq
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	h, err := setup(ctx, db)
	if err != nil {
		log.Fatal(err)
	}
	log.Print("listening on 127.0.0.1:8080; try: curl -s localhost:8080/users/ -H 'Tenant: acme'")
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", h))
}

// setup migrates the database, creates the tenant "acme" if it is new, and
// returns the HTTP handler.
func setup(ctx context.Context, db *tenancy.DB) (http.Handler, error) {
	reg, err := tenancy.NewRegistry(db) // reads shared.tenants, cached
	if err != nil {
		return nil, err
	}
	m, err := tenancy.NewMigrator(db, reg, sharedMigrations, tenantMigrations)
	if err != nil {
		return nil, err
	}
	// Every start-up: the registry table, then the shared migrations.
	if _, err := m.MigrateShared(ctx); err != nil {
		return nil, err
	}
	// A tenant: its registry row and its schema at the newest migration, atomically.
	acme, err := m.CreateTenant(ctx, tenancy.NewTenant{Name: "Acme", Schema: "acme", Host: "acme.localhost"})
	switch {
	case errors.Is(err, tenancy.ErrConflict): // created by an earlier run
	case err != nil:
		return nil, err
	default:
		// Runs in acme's schema: INSERT INTO "acme".users ...
		_, err = db.ExecContext(tenancy.NewContext(ctx, acme), `INSERT INTO users (email) VALUES ('alice@acme.example')`)
		if err != nil {
			return nil, err
		}
	}

	// Tenant from the "Tenant" header, else from the Host (acme.localhost).
	mw := tenancy.Middleware(tenancy.FirstOf(tenancy.HeaderResolver{}, tenancy.HostResolver{}), reg)
	mux := http.NewServeMux()
	mux.Handle("GET /users/", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var emails []string
		// Runs in the request tenant's schema, and nowhere else.
		if err := db.SelectContext(r.Context(), &emails, `SELECT email FROM users ORDER BY id`); err != nil {
			http.Error(w, "database error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(emails)
	})))
	return mux, nil
}
