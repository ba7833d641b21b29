// Command benchserver serves the demo's users list twice, in one process, for the
// HTTP-level benchmark in BENCHMARKS.md (run it with examples/load/bench.sh):
//
//   - on -addr, through tenancy: Middleware (Tenant header) + Registry + DB, the
//     query unqualified;
//   - on -baseline-addr, without tenancy: the Tenant header is checked against a
//     map of known schemas and the same query runs on a plain *sqlx.DB,
//     schema-qualified. It is the least an application must do without the library.
//
// Both use the same database, the same data, the same pool size and the same JSON
// encoding, so their difference is the library's cost. On start it creates
// -tenants tenants (bench_0001..) with 20 users each, unless they exist.
//
//	go run ./examples/benchserver -tenants 24
//
// Without DATABASE_URL it starts a throwaway PostgreSQL from the local binaries.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/pgserver"
	"github.com/go-tenancy/tenancy/migrations"
)

const listSQL = `SELECT id, email, first_name, last_name, user_role_id, created_at, updated_at FROM %susers WHERE id > $1 ORDER BY id LIMIT $2`

type user struct {
	ID         int64      `db:"id" json:"id"`
	Email      *string    `db:"email" json:"email"`
	FirstName  *string    `db:"first_name" json:"first_name"`
	LastName   *string    `db:"last_name" json:"last_name"`
	UserRoleID *int64     `db:"user_role_id" json:"user_role_id"`
	CreatedAt  *time.Time `db:"created_at" json:"created_at"`
	UpdatedAt  *time.Time `db:"updated_at" json:"updated_at"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address of the tenancy handler")
	baseAddr := flag.String("baseline-addr", "127.0.0.1:8082", "listen address of the baseline handler")
	tenants := flag.Int("tenants", 24, "tenants to create (bench_0001..)")
	conns := flag.Int("conns", 16, "connection pool size of each handler")
	affinity := flag.Bool("affinity", false, "turn on connection affinity (tenancy.WithAffinity)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *baseAddr, *tenants, *conns, *affinity); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr, baseAddr string, n, conns int, affinity bool) error {
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		srv, err := pgserver.Start(ctx, pgserver.Config{})
		if err != nil {
			return err
		}
		defer srv.Stop()
		dsn = srv.URL("postgres")
	}
	db, err := tenancy.Open("postgres", dsn, tenancy.WithAffinity(affinity))
	if err != nil {
		return err
	}
	defer db.Close()
	raw, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer raw.Close()
	for _, p := range []*sqlx.DB{db.Pool(), raw} {
		p.SetMaxOpenConns(conns)
		p.SetMaxIdleConns(conns)
	}
	reg, err := tenancy.NewRegistry(db)
	if err != nil {
		return err
	}
	m, err := tenancy.NewMigrator(db, reg, migrations.Shared, migrations.Tenant)
	if err != nil {
		return err
	}
	if _, err := m.MigrateShared(ctx); err != nil {
		return err
	}
	baseline := make(map[string]string, n) // schema -> qualified query
	for i := 1; i <= n; i++ {
		schema := fmt.Sprintf("bench_%04d", i)
		if err := ensureTenant(ctx, m, reg, db, schema); err != nil {
			return err
		}
		baseline[schema] = fmt.Sprintf(listSQL, `"`+schema+`".`)
	}

	tenantSQL := fmt.Sprintf(listSQL, "")
	mw := tenancy.Middleware(tenancy.HeaderResolver{}, reg)
	withTenancy := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		users := []user{}
		if err := db.SelectContext(r.Context(), &users, tenantSQL, 0, 100); err != nil {
			http.Error(w, "database error", http.StatusInternalServerError)
			return
		}
		writeJSON(w, users)
	}))
	withoutTenancy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, ok := baseline[r.Header.Get("Tenant")]
		if !ok {
			http.Error(w, "unknown tenant", http.StatusNotFound)
			return
		}
		users := []user{}
		if err := raw.SelectContext(r.Context(), &users, q, 0, 100); err != nil {
			http.Error(w, "database error", http.StatusInternalServerError)
			return
		}
		writeJSON(w, users)
	})

	servers := []*http.Server{
		{Addr: addr, Handler: route(withTenancy), ReadHeaderTimeout: 5 * time.Second},
		{Addr: baseAddr, Handler: route(withoutTenancy), ReadHeaderTimeout: 5 * time.Second},
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func(s *http.Server) { errc <- s.ListenAndServe() }(s)
	}
	fmt.Printf("ready: tenancy http://%s/users/  baseline http://%s/users/  tenants bench_0001..bench_%04d\n", addr, baseAddr, n)
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	return nil
}

// route serves /users/ and /health.
func route(users http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /users/", users)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux
}

func ensureTenant(ctx context.Context, m *tenancy.Migrator, reg *tenancy.Registry, db *tenancy.DB, schema string) error {
	if _, err := reg.Get(ctx, tenancy.SchemaKey(schema)); err == nil {
		return nil
	} else if !errors.Is(err, tenancy.ErrUnknownTenant) {
		return err
	}
	t, err := m.CreateTenant(ctx, tenancy.NewTenant{Name: "Bench " + schema, Schema: schema})
	if err != nil {
		return err
	}
	tctx := tenancy.NewContext(ctx, t)
	_, err = db.ExecContext(tctx, `INSERT INTO users (email, first_name, last_name, created_at)
		SELECT 'user' || g || '@' || $1 || '.example', 'First' || g, 'Last' || g, now()
		FROM generate_series(1, 20) g`, schema)
	return err
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
