package tenancy_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/rtcount"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// BenchmarkQuery runs the same queries through a plain *sqlx.DB (schema-qualified
// SQL, the cheapest way to reach a tenant's table without this package) and through
// a tenancy.DB (unqualified SQL, schema from the context), with the same pool size
// and data, in parallel. It reports ns/op, allocs/op and round trips per operation
// counted on the wire (rt/op).
//
//	go test -run '^$' -bench BenchmarkQuery -benchmem -count 5 . | tee bench.txt
func BenchmarkQuery(b *testing.B) {
	dsn := tenancytest.NewDatabase(b)
	const maxTenants = 500
	setupBenchTenants(b, dsn, maxTenants)

	type scenario struct {
		name    string
		tenants int
		conns   int
		mode    tenancy.Mode
		binary  bool
		// affinity adds a run of tenancy with WithAffinity(true), to show what
		// connection affinity buys.
		affinity bool
	}
	scenarios := []scenario{
		{"1tenant-16conns", 1, 16, tenancy.SessionMode, false, false},
		{"8tenants-16conns", 8, 16, tenancy.SessionMode, false, true},
		{"500tenants-16conns", 500, 16, tenancy.SessionMode, false, true},
		{"500tenants-16conns-binary", 500, 16, tenancy.SessionMode, true, false},
		{"8tenants-16conns-txmode", 8, 16, tenancy.TransactionMode, false, false},
	}
	queries := []struct {
		name string
		sql  string // %s is replaced by the schema prefix ("" for tenancy, `"t1".` for raw)
		one  bool
	}{
		{"list", `SELECT id, email, first_name, last_name, user_role_id, created_at, updated_at FROM %susers ORDER BY id LIMIT 100`, false},
		{"pk", `SELECT id, email, first_name, last_name, user_role_id, created_at, updated_at FROM %susers WHERE id = $1`, true},
	}
	for _, sc := range scenarios {
		for _, q := range queries {
			impls := []string{"raw", "tenancy"}
			if sc.affinity {
				impls = append(impls, "tenancy-affinity")
			}
			for _, impl := range impls {
				b.Run(fmt.Sprintf("%s/%s/%s", sc.name, q.name, impl), func(b *testing.B) {
					u, _ := url.Parse(dsn)
					if sc.binary {
						qv := u.Query()
						qv.Set("binary_parameters", "yes")
						u.RawQuery = qv.Encode()
					}
					rt := &rtcount.Counter{}
					c, err := pq.NewConnector(u.String())
					if err != nil {
						b.Fatal(err)
					}
					c.Dialer(rt)
					schemas := make([]string, sc.tenants)
					ctxs := make([]context.Context, sc.tenants)
					rawSQL := make([]string, sc.tenants)
					for i := range schemas {
						schemas[i] = fmt.Sprintf("t%d", i+1)
						ctxs[i] = tenancy.NewContext(context.Background(), tenancy.Tenant{ID: int64(i + 1), Schema: schemas[i]})
						rawSQL[i] = fmt.Sprintf(q.sql, pq.QuoteIdentifier(schemas[i])+".")
					}
					tenSQL := fmt.Sprintf(q.sql, "")
					var run func(i int, id int) error
					var pool *sqlx.DB
					if impl == "raw" {
						pool = sqlx.NewDb(sqlOpenDB(c), "postgres")
						run = func(i, id int) error {
							return runBenchQuery(context.Background(), pool, rawSQL[i], q.one, id)
						}
					} else {
						db, err := tenancy.OpenConnector(c, "postgres", tenancy.WithMode(sc.mode),
							tenancy.WithAffinity(impl == "tenancy-affinity"))
						if err != nil {
							b.Fatal(err)
						}
						pool = db.Pool()
						run = func(i, id int) error {
							return runBenchQuery(ctxs[i], db, tenSQL, q.one, id)
						}
					}
					defer pool.Close()
					pool.SetMaxOpenConns(sc.conns)
					pool.SetMaxIdleConns(sc.conns)
					// Warm the pool: open every connection, so that connection
					// start-up is not measured or counted.
					warm(b, pool, sc.conns)
					var seed atomic.Uint64
					rt.Reset()
					b.ReportAllocs()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						rng := rand.New(rand.NewPCG(seed.Add(1), 1))
						for pb.Next() {
							if err := run(rng.IntN(sc.tenants), 1+rng.IntN(100)); err != nil {
								b.Error(err)
								return
							}
						}
					})
					b.StopTimer()
					b.ReportMetric(float64(rt.RoundTrips())/float64(b.N), "rt/op")
				})
			}
		}
	}
}

type benchUser struct {
	ID         int64      `db:"id"`
	Email      *string    `db:"email"`
	FirstName  *string    `db:"first_name"`
	LastName   *string    `db:"last_name"`
	UserRoleID *int64     `db:"user_role_id"`
	CreatedAt  *time.Time `db:"created_at"`
	UpdatedAt  *time.Time `db:"updated_at"`
}

type selecter interface {
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
	GetContext(ctx context.Context, dest any, query string, args ...any) error
}

func runBenchQuery(ctx context.Context, q selecter, sql string, one bool, id int) error {
	if one {
		var u benchUser
		return q.GetContext(ctx, &u, sql, id)
	}
	var us []benchUser
	return q.SelectContext(ctx, &us, sql)
}

func sqlOpenDB(c driver.Connector) *sql.DB { return sql.OpenDB(c) }

// setupBenchTenants creates schemas t1..tn, each with the demo's users table holding
// 100 rows, in one round trip.
func setupBenchTenants(b *testing.B, dsn string, n int) {
	b.Helper()
	admin, err := sql.Open("postgres", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	_, err = admin.Exec(fmt.Sprintf(`DO $$
BEGIN
  FOR i IN 1..%d LOOP
    EXECUTE format('CREATE SCHEMA %%I', 't' || i);
    EXECUTE format('CREATE TABLE %%I.users (
        id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        email varchar(256) UNIQUE, first_name varchar(100), last_name varchar(100),
        user_role_id integer, created_at timestamptz, updated_at timestamptz)', 't' || i);
    EXECUTE format('INSERT INTO %%I.users (email, first_name, last_name, created_at)
        SELECT ''user'' || g || ''@t%%s.example'', ''First'' || g, ''Last'' || g, now()
        FROM generate_series(1, 100) g', 't' || i, i);
  END LOOP;
END $$`, n))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := admin.Exec(`ANALYZE`); err != nil {
		b.Fatal(err)
	}
}

// warm opens n connections in pool and returns them to it.
func warm(b *testing.B, pool *sqlx.DB, n int) {
	b.Helper()
	conns := make([]*sql.Conn, n)
	for i := range conns {
		c, err := pool.Conn(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if err := c.PingContext(context.Background()); err != nil {
			b.Fatal(err)
		}
		conns[i] = c
	}
	for _, c := range conns {
		c.Close()
	}
}

// BenchmarkServerSpread runs the list query of 8 tenants through plain *sqlx.DB
// pools only: one pool of 16 connections (database/sql reuses the connection
// returned last, so a couple of server processes do all the work), and 8 pools of
// 2, one per tenant (as many server processes as perfect connection affinity would
// keep busy). No tenancy, no switch: it measures what spreading the same load over
// more server processes costs on the machine, which is what decides whether
// affinity should bring unused connections into use.
//
//	go test -run '^$' -bench BenchmarkServerSpread -benchtime 20000x -count 3 .
func BenchmarkServerSpread(b *testing.B) {
	dsn := tenancytest.NewDatabase(b)
	const tenants = 8
	setupBenchTenants(b, dsn, tenants)
	sqls := make([]string, tenants)
	for i := range sqls {
		sqls[i] = fmt.Sprintf(`SELECT id, email, first_name, last_name, user_role_id, created_at, updated_at FROM %s.users ORDER BY id LIMIT 100`,
			pq.QuoteIdentifier(fmt.Sprintf("t%d", i+1)))
	}
	for _, pools := range []int{1, tenants} {
		b.Run(fmt.Sprintf("pools=%d", pools), func(b *testing.B) {
			ps := make([]*sqlx.DB, pools)
			for i := range ps {
				ps[i] = sqlx.MustOpen("postgres", dsn)
				ps[i].SetMaxOpenConns(16 / pools)
				ps[i].SetMaxIdleConns(16 / pools)
				defer ps[i].Close()
			}
			var seed atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				rng := rand.New(rand.NewPCG(seed.Add(1), 1))
				for pb.Next() {
					t := rng.IntN(tenants)
					var us []benchUser
					if err := ps[t%pools].SelectContext(context.Background(), &us, sqls[t]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
