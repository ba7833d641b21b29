package tenancypgx_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/rtcount"
	"github.com/go-tenancy/tenancy/tenancypgx"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// turnCounter counts client turns on the wire (internal/rtcount: writes that
// follow a read, or open the connection), i.e. round trips the client starts.
type turnCounter struct{ rtcount.Counter }

func (tc *turnCounter) load() int64 { return tc.RoundTrips() }

// dialCounting returns a pgconn DialFunc that counts turns in tc.
func dialCounting(tc *turnCounter) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return tc.DialContext
}

// env is a test database with tenant schemas whose items tables hold rows named
// after their tenant ("acme-1", "acme-2", …).
type env struct {
	dsn     string
	admin   *pgxpool.Pool
	tenants []string
	role    string // a NOLOGIN role the tests may SET ROLE to
}

var (
	acme   = "acme"
	globex = "globex"
)

// newEnv creates the schemas: acme (2 items), globex (1 item), more tenants
// t00… with 1+i%3 items, and shared (one row in shared.config).
func newEnv(t testing.TB, more int) *env {
	t.Helper()
	dsn := tenancytest.NewDatabase(t)
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatalf("admin pool: %v", err)
	}
	t.Cleanup(admin.Close)
	e := &env{dsn: dsn, admin: admin}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	e.role = "tenancypgx_other_" + hex.EncodeToString(b[:])
	sqls := []string{
		"CREATE SCHEMA shared",
		"CREATE TABLE shared.config (k text PRIMARY KEY, v text)",
		"INSERT INTO shared.config VALUES ('plan', 'gold')",
		"CREATE ROLE " + e.role + " NOLOGIN",
	}
	items := map[string]int{acme: 2, globex: 1}
	e.tenants = []string{acme, globex}
	for i := 0; i < more; i++ {
		s := tenantName(i)
		e.tenants = append(e.tenants, s)
		items[s] = 1 + i%3
	}
	for _, s := range e.tenants {
		sqls = append(sqls,
			"CREATE SCHEMA "+s,
			"CREATE TABLE "+s+".items (id int PRIMARY KEY, name text NOT NULL)",
			"INSERT INTO "+s+".items SELECT g, '"+s+"-' || g FROM generate_series(1, "+itoa(items[s])+") g",
			"GRANT USAGE ON SCHEMA "+s+" TO "+e.role,
		)
	}
	sqls = append(sqls,
		// A function that moves search_path as a side effect.
		`CREATE FUNCTION acme.moveit() RETURNS void LANGUAGE plpgsql AS $$BEGIN PERFORM pg_catalog.set_config('search_path', 'globex', false); END$$`,
		// A procedure that commits, then moves search_path.
		`CREATE PROCEDURE acme.commit_and_move() LANGUAGE plpgsql AS $$BEGIN COMMIT; PERFORM pg_catalog.set_config('search_path', 'globex', false); END$$`,
		`CREATE FUNCTION globex.moveit() RETURNS void LANGUAGE plpgsql AS $$BEGIN PERFORM pg_catalog.set_config('search_path', 'acme', false); END$$`,
	)
	for _, q := range sqls {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		// Roles are cluster-wide: drop the role, and its grants in this
		// database, before the database goes.
		for _, q := range []string{"DROP OWNED BY " + e.role, "DROP ROLE " + e.role} {
			if _, err := admin.Exec(context.Background(), q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	return e
}

func tenantName(i int) string { return "t" + pad3(i) }

func pad3(i int) string {
	s := itoa(i)
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for i > 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	return string(b)
}

// wantItems returns the item names of schema's seed rows.
func (e *env) wantItems(t testing.TB, schema string) []string {
	t.Helper()
	names, err := collect(e.admin.Query(context.Background(), "SELECT name FROM "+schema+".items ORDER BY name"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// pool opens a Pool of size conns, counting turns in tc (if not nil).
func (e *env) pool(t testing.TB, conns int32, tc *turnCounter, mode pgx.QueryExecMode, opts ...tenancypgx.Option) *tenancypgx.Pool {
	t.Helper()
	pc := e.poolConfig(t, conns, mode)
	if tc != nil {
		pc.ConnConfig.DialFunc = dialCounting(tc)
	}
	p, err := tenancypgx.NewWithConfig(context.Background(), pc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// poolConfig is the pgxpool configuration of a pool of size conns in mode.
func (e *env) poolConfig(t testing.TB, conns int32, mode pgx.QueryExecMode) *pgxpool.Config {
	t.Helper()
	pc, err := pgxpool.ParseConfig(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	pc.MaxConns = conns
	pc.ConnConfig.DefaultQueryExecMode = mode
	return pc
}

func ctxFor(schema string) context.Context {
	return tenancy.NewContext(context.Background(), tenancy.Tenant{Name: schema, Schema: schema})
}

// collect reads a one-text-column result, sorted.
func collect(rows pgx.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	sort.Strings(out)
	return out, err
}

var modes = []struct {
	name string
	mode tenancy.Mode
}{{"session", tenancy.SessionMode}, {"transaction", tenancy.TransactionMode}}

func same(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }
