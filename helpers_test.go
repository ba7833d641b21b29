package tenancy_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/rtcount"
	"github.com/go-tenancy/tenancy/migrations"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// env is one test's database: a fresh PostgreSQL database with the shared schema and
// registry table, a tenancy.DB whose round trips are counted, and a plain admin
// *sql.DB for setting up and checking behind the library's back.
type env struct {
	dsn   string
	db    *tenancy.DB
	reg   *tenancy.Registry
	rt    *rtcount.Counter
	admin *sql.DB
}

func newEnv(t testing.TB, opts ...tenancy.Option) *env {
	t.Helper()
	return newEnvDriver(t, "postgres", opts...)
}

// newEnvDriver is newEnv over the named driver: "postgres" (lib/pq) or "pgx"
// (pgx through database/sql).
func newEnvDriver(t testing.TB, driverName string, opts ...tenancy.Option) *env {
	t.Helper()
	e := envAtDriver(t, tenancytest.NewDatabase(t), driverName, opts...)
	var err error
	e.reg, err = tenancy.NewRegistry(e.db)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// envAtDriver makes an env (without a Registry) on the empty database at dsn.
func envAtDriver(t testing.TB, dsn, driverName string, opts ...tenancy.Option) *env {
	t.Helper()
	admin, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	reg, err := fs.ReadFile(migrations.Shared, "000001_tenants.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, admin, `CREATE SCHEMA shared`)
	mustExec(t, admin, `SET search_path TO shared; `+string(reg))

	e := &env{dsn: dsn, admin: admin, rt: &rtcount.Counter{}}
	e.db = openCountedDriver(t, driverName, dsn, e.rt, opts...)
	return e
}

// drivers are the database/sql drivers every isolation suite runs with: lib/pq and
// pgx as Open sets them up (what scopes a statement rides in front of it on the
// wire), and lib/pq without that ("postgres-plain": a connector built by hand, or
// a TLS connection, where the SET of a parameterised statement goes in a message
// of its own).
// "pgx-stmtcache" is pgx in its own default mode (QueryExecModeCacheStatement),
// which keeps named statements on the session and so takes the other reset.
var drivers = []string{"postgres", "pgx", "postgres-plain", "pgx-stmtcache"}

// loadDrivers are the drivers the long load tests run with.
var loadDrivers = drivers[:2]

func openCountedDriver(t testing.TB, driverName, dsn string, rt *rtcount.Counter, opts ...tenancy.Option) *tenancy.DB {
	t.Helper()
	switch driverName {
	case "postgres":
		return openCounted(t, dsn, rt, opts...)
	case "postgres-plain":
		c, err := pq.NewConnector(dsn)
		if err != nil {
			t.Fatal(err)
		}
		c.Dialer(rt)
		db, err := tenancy.OpenConnector(c, "postgres", opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DialFunc = rt.DialContext
	cfg.AfterNetConnect = tenancy.PgxAfterNetConnect
	switch {
	case strings.Contains(dsn, "default_query_exec_mode"): // the DSN's choice, as with Open
	case driverName == "pgx-stmtcache":
		cfg.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	default:
		cfg.DefaultQueryExecMode = tenancy.PgxQueryExecMode // as Open sets pgx up
	}
	db, err := tenancy.OpenConnector(stdlib.GetConnector(*cfg), "pgx", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openCounted(t testing.TB, dsn string, rt *rtcount.Counter, opts ...tenancy.Option) *tenancy.DB {
	t.Helper()
	c, err := pq.NewConnector(dsn)
	if err != nil {
		t.Fatal(err)
	}
	c.Dialer(tenancy.LibPQDialer(rt))
	db, err := tenancy.OpenConnector(c, "postgres", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// addTenant creates schema with an items table and registers the tenant.
func (e *env) addTenant(t testing.TB, schema string) tenancy.Tenant {
	t.Helper()
	q := pq.QuoteIdentifier(schema)
	mustExec(t, e.admin, fmt.Sprintf(`CREATE SCHEMA %s;
		CREATE TABLE %s.items (id serial PRIMARY KEY, tenant text NOT NULL, n int NOT NULL DEFAULT 0)`, q, q))
	var tn tenancy.Tenant
	err := e.admin.QueryRow(`INSERT INTO shared.tenants (name, schema, host) VALUES ($1, $2, $3)
		RETURNING id, name, schema, host, created_at`,
		"Tenant "+schema, schema, schema+".example.com").Scan(&tn.ID, &tn.Name, &tn.Schema, &tn.Host, &tn.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func tctx(t tenancy.Tenant) context.Context { return tenancy.NewContext(context.Background(), t) }

// searchPath returns the search_path a statement with ctx sees.
func searchPath(t testing.TB, db *tenancy.DB, ctx context.Context) string {
	t.Helper()
	var sp string
	if err := db.GetContext(ctx, &sp, `SHOW search_path`); err != nil {
		t.Fatal(err)
	}
	return sp
}

// isolationVariants are the configurations the isolation tests run under: both
// modes, and SessionMode with connection affinity (physical connections traded
// between database/sql's connections).
var isolationVariants = []struct {
	name string
	opts []tenancy.Option
}{
	{"session", []tenancy.Option{tenancy.WithMode(tenancy.SessionMode)}},
	{"session+affinity", []tenancy.Option{tenancy.WithMode(tenancy.SessionMode), tenancy.WithAffinity(true)}},
	{"transaction", []tenancy.Option{tenancy.WithMode(tenancy.TransactionMode)}},
}

// driverVariant is one isolation variant over one driver.
type driverVariant struct {
	name, driver string
	opts         []tenancy.Option
}

// driverVariants are isolationVariants for every driver, named "driver/variant".
func driverVariants() []driverVariant {
	var vs []driverVariant
	for _, d := range drivers {
		for _, v := range isolationVariants {
			vs = append(vs, driverVariant{d + "/" + v.name, d, v.opts})
		}
	}
	return vs
}
