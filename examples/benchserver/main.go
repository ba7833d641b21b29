// Command benchserver serves the demo's users list four times, in one process, for
// the HTTP-level benchmark in BENCHMARKS.md (run it with examples/load/bench.sh):
//
//   - on -addr, through tenancy: Middleware (Tenant header) + Registry + DB over
//     the -driver database/sql driver, the query unqualified;
//   - on -baseline-addr, without tenancy: the Tenant header is checked against a
//     map of known schemas and the same query runs on a plain *sqlx.DB over the
//     same driver, schema-qualified. It is the least an application must do
//     without the library;
//   - on -pgx-addr, the same without database/sql: a pgxpool.Pool,
//     schema-qualified, rows scanned field by field (the fastest way to write it
//     with pgx);
//   - on -native-addr, through tenancy without database/sql: the same Middleware
//     and Registry, and a tenancypgx.Pool running the unqualified query, rows
//     scanned field by field as on -pgx-addr.
//
// All four use the same database, the same data, the same pool size and the same
// JSON encoding, so their differences are the library's and the stack's costs. On
// start it creates -tenants tenants (bench_0001..) with 20 users each, unless they
// exist.
//
//	go run ./examples/benchserver -tenants 24 [-driver pgx|postgres] [-latency 0.2ms]
//
// -driver picks the database/sql driver of the first two: pgx (pgx/v5/stdlib, the
// default) or postgres (lib/pq). -latency puts internal/latproxy between the
// handlers' pools and PostgreSQL, delaying each direction by that much, to show
// what round trips cost across a network (set-up and migrations go direct).
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
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/latproxy"
	"github.com/go-tenancy/tenancy/internal/pgserver"
	"github.com/go-tenancy/tenancy/migrations"
	"github.com/go-tenancy/tenancy/tenancypgx"
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

type config struct {
	addr, baseAddr, pgxAddr, nativeAddr string
	tenants, conns                      int
	affinity                            bool
	driver                              string
	latency                             time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8081", "listen address of the tenancy handler")
	flag.StringVar(&cfg.baseAddr, "baseline-addr", "127.0.0.1:8082", "listen address of the baseline handler (*sqlx.DB, same driver)")
	flag.StringVar(&cfg.pgxAddr, "pgx-addr", "127.0.0.1:8083", "listen address of the pgx baseline handler (pgxpool)")
	flag.StringVar(&cfg.nativeAddr, "native-addr", "127.0.0.1:8084", "listen address of the tenancypgx handler (native pgx through tenancy)")
	flag.IntVar(&cfg.tenants, "tenants", 24, "tenants to create (bench_0001..)")
	flag.IntVar(&cfg.conns, "conns", 16, "connection pool size of each handler")
	flag.BoolVar(&cfg.affinity, "affinity", false, "turn on connection affinity (tenancy.WithAffinity)")
	flag.StringVar(&cfg.driver, "driver", "pgx", "database/sql driver of the tenancy and baseline handlers: pgx or postgres (lib/pq)")
	flag.DurationVar(&cfg.latency, "latency", 0, "one-way delay added between the handlers and PostgreSQL (e.g. 0.2ms); 0: none")
	flag.Parse()
	if cfg.driver != "pgx" && cfg.driver != "postgres" {
		log.Fatalf("-driver %q: want pgx or postgres", cfg.driver)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, cfg config) error {
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		srv, err := pgserver.Start(ctx, pgserver.Config{})
		if err != nil {
			return err
		}
		defer srv.Stop()
		dsn = srv.URL("postgres")
	}
	if err := setup(ctx, dsn, cfg.tenants); err != nil {
		return err
	}
	// The handlers' pools connect through the proxy, if any.
	serveDSN := dsn
	if cfg.latency > 0 {
		u, err := url.Parse(dsn)
		if err != nil {
			return fmt.Errorf("DATABASE_URL must be a postgres:// URL with -latency: %w", err)
		}
		p, err := latproxy.Start(u.Host, cfg.latency)
		if err != nil {
			return err
		}
		defer p.Close()
		u.Host = p.Addr()
		serveDSN = u.String()
	}
	db, err := tenancy.Open(cfg.driver, serveDSN, tenancy.WithAffinity(cfg.affinity))
	if err != nil {
		return err
	}
	defer db.Close()
	raw, err := sqlx.Open(cfg.driver, serveDSN)
	if err != nil {
		return err
	}
	defer raw.Close()
	for _, p := range []*sqlx.DB{db.Pool(), raw} {
		p.SetMaxOpenConns(cfg.conns)
		p.SetMaxIdleConns(cfg.conns)
	}
	pcfg, err := pgxpool.ParseConfig(serveDSN)
	if err != nil {
		return err
	}
	pcfg.MaxConns = int32(cfg.conns)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	ncfg, err := pgxpool.ParseConfig(serveDSN)
	if err != nil {
		return err
	}
	ncfg.MaxConns = int32(cfg.conns)
	native, err := tenancypgx.NewWithConfig(ctx, ncfg)
	if err != nil {
		return err
	}
	defer native.Close()
	reg, err := tenancy.NewRegistry(db)
	if err != nil {
		return err
	}
	baseline := make(map[string]string, cfg.tenants) // schema -> qualified query
	for i := 1; i <= cfg.tenants; i++ {
		schema := fmt.Sprintf("bench_%04d", i)
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
	withPGX := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, ok := baseline[r.Header.Get("Tenant")]
		if !ok {
			http.Error(w, "unknown tenant", http.StatusNotFound)
			return
		}
		users, err := pgxUsers(r.Context(), pool, q, 0, 100)
		if err != nil {
			http.Error(w, "database error", http.StatusInternalServerError)
			return
		}
		writeJSON(w, users)
	})
	withNative := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		users, err := pgxUsers(r.Context(), native, tenantSQL, 0, 100)
		if err != nil {
			http.Error(w, "database error", http.StatusInternalServerError)
			return
		}
		writeJSON(w, users)
	}))

	servers := []*http.Server{
		{Addr: cfg.addr, Handler: route(withTenancy), ReadHeaderTimeout: 5 * time.Second},
		{Addr: cfg.baseAddr, Handler: route(withoutTenancy), ReadHeaderTimeout: 5 * time.Second},
		{Addr: cfg.pgxAddr, Handler: route(withPGX), ReadHeaderTimeout: 5 * time.Second},
		{Addr: cfg.nativeAddr, Handler: route(withNative), ReadHeaderTimeout: 5 * time.Second},
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func(s *http.Server) { errc <- s.ListenAndServe() }(s)
	}
	fmt.Printf("ready: tenancy http://%s/users/  baseline http://%s/users/  pgx http://%s/users/  native http://%s/users/  tenants bench_0001..bench_%04d  driver %s  latency %v\n",
		cfg.addr, cfg.baseAddr, cfg.pgxAddr, cfg.nativeAddr, cfg.tenants, cfg.driver, cfg.latency)
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

// setup migrates the shared schema and creates the tenants, through lib/pq and
// without the proxy: it is not measured.
func setup(ctx context.Context, dsn string, n int) error {
	db, err := tenancy.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
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
	for i := 1; i <= n; i++ {
		if err := ensureTenant(ctx, m, reg, db, fmt.Sprintf("bench_%04d", i)); err != nil {
			return err
		}
	}
	return nil
}

// querier is what pgxUsers needs of a pool: *pgxpool.Pool and *tenancypgx.Pool
// both have it.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// pgxUsers runs the list query on pool, scanning field by field.
func pgxUsers(ctx context.Context, pool querier, q string, after, limit int) ([]user, error) {
	rows, err := pool.Query(ctx, q, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	users := []user{}
	for rows.Next() {
		var u user
		if err := rows.Scan(&u.ID, &u.Email, &u.FirstName, &u.LastName, &u.UserRoleID, &u.CreatedAt, &u.UpdatedAt); err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, rows.Err()
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
