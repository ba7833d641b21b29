package tenancy_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/rtcount"
	"github.com/go-tenancy/tenancy/migrations"
)

// The benchmarks of this file compare the library on the Citus coordinator
// (internal/citustest: a coordinator and two workers on this machine, schema-based
// sharding on, every tenant schema distributed and placed on a worker) with the
// library on plain PostgreSQL (tenancytest). All their setup runs inside the
// benchmark functions, so `go test ./...` (no -bench) never starts the clusters for
// them. The list benchmark is b.N-driven; the migration ones do a fixed workload
// per iteration, so run them once:
//
//	go test -run '^$' -bench 'CitusUsersList' -benchtime 5000x -count 3 -timeout 60m .
//	go test -run '^$' -bench 'CitusCreateTenant|CitusFleetUpgrade' -benchtime 1x -timeout 60m .

// citusServer is one of the two servers compared: its name and a function that
// returns a migEnv on a fresh database of it.
type citusServer struct {
	name string
	env  func(testing.TB, ...tenancy.MigratorOption) *migEnv
}

var citusServers = []citusServer{
	{"plain", func(t testing.TB, opts ...tenancy.MigratorOption) *migEnv {
		return newMigEnv(t, migrations.Shared, migrations.Tenant, opts...)
	}},
	{"citus", func(t testing.TB, opts ...tenancy.MigratorOption) *migEnv {
		return newCitusEnv(t, migrations.Shared, migrations.Tenant, opts...)
	}},
}

// citusListSQL is the demo's users page (examples/server/users_store.go: list),
// keyset-paginated: %s is the schema prefix ("" through tenancy).
const citusListSQL = `SELECT id, COALESCE(email, '') AS email, first_name, last_name, user_role_id, created_at, updated_at FROM %susers WHERE id > $1 ORDER BY id LIMIT $2`

const citusPage = 50

// BenchmarkCitusUsersList runs the demo's users page (50 rows after a random
// cursor in 0..50, so every page is full) for 8 tenants of the demo schema
// (migrations.Tenant, created by CreateTenant) holding 100 users each, on plain
// PostgreSQL and on the Citus coordinator, through six variants that alternate in
// rounds in one run (as BenchmarkQuery's):
//
//   - {plain,citus}-raw-pgx: a pgxpool.Pool, schema-qualified SQL, rows scanned
//     field by field;
//   - {plain,citus}-tenancy-pgx: tenancy.DB over pgx's database/sql driver, set up
//     as tenancy.Open("pgx", ...) sets it up, unqualified SQL;
//   - {plain,citus}-tenancy-pq: tenancy.DB over lib/pq, as tenancy.Open("postgres", ...).
//
// Every pool has 16 connections, and 16 goroutines (-tenancy.par to change) run
// each variant's share of a round. Metrics per variant V: V-µs/op (wall time
// over operations: the inverse of throughput), V-rt/op (round trips on the wire,
// client side), V-allocs/op; V/raw (the same server's raw-pgx time divided by
// V's: 1.0 is as fast as raw); citus/plain-C for each client C (plain time
// divided by Citus time: 1.0 is no cost for the coordinator); {plain,citus}-ping-µs,
// the median empty round trip.
func BenchmarkCitusUsersList(b *testing.B) {
	const tenants, users, conns = 8, 100, 16
	type server struct {
		name   string
		dsn    string
		tenant []tenancy.Tenant
	}
	var servers []server
	for _, s := range citusServers {
		e := s.env(b).ready(b)
		srv := server{name: s.name, dsn: e.dsn}
		for i := range tenants {
			tn := e.create(b, fmt.Sprintf("u%d", i+1))
			srv.tenant = append(srv.tenant, tn)
			mustExec(b, e.admin, fmt.Sprintf(`INSERT INTO %s.users (email, first_name, last_name, created_at)
				SELECT 'user' || g || '@%s.example', 'First' || g, 'Last' || g, now() FROM generate_series(1, %d) g`,
				pq.QuoteIdentifier(tn.Schema), tn.Schema, users))
			mustExec(b, e.admin, `ANALYZE `+pq.QuoteIdentifier(tn.Schema)+`.users`)
		}
		servers = append(servers, srv)
	}
	b.Run(fmt.Sprintf("%dtenants-%dconns", tenants, conns), func(b *testing.B) {
		var vs []*benchVariant
		defer func() {
			for _, v := range vs {
				v.close()
			}
		}()
		pings := map[string]time.Duration{}
		for _, srv := range servers {
			vs = append(vs, citusListVariants(b, srv.name, srv.dsn, srv.tenant, conns)...)
			pings[srv.name] = medianPing(b, vs[len(vs)-1].ping)
		}
		for _, v := range vs {
			if err := v.warm(benchQuery{}); err != nil {
				b.Fatalf("%s: warm-up: %v", v.name, err)
			}
		}
		perOp := citusAlternate(b, vs, tenants, conns)
		for _, c := range []string{"raw-pgx", "tenancy-pgx", "tenancy-pq"} {
			b.ReportMetric(perOp["plain-"+c]/perOp["citus-"+c], "citus/plain-"+c)
		}
		for name, d := range pings {
			b.ReportMetric(float64(d.Nanoseconds())/1e3, name+"-ping-µs")
		}
	})
}

// citusListVariants opens the three variants of one server.
func citusListVariants(b *testing.B, server, dsn string, tns []tenancy.Tenant, conns int) []*benchVariant {
	b.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatal(err)
	}
	ctxs := make([]context.Context, len(tns))
	raw := make([]string, len(tns))
	for i, tn := range tns {
		ctxs[i] = tctx(tn)
		raw[i] = fmt.Sprintf(citusListSQL, pq.QuoteIdentifier(tn.Schema)+".")
	}
	cursor := func(id int) int { return (id - 1) % (citusPage + 1) } // 0..50
	unqualified := fmt.Sprintf(citusListSQL, "")
	var vs []*benchVariant

	// raw pgx: pgxpool, schema-qualified.
	{
		rt := &rtcount.Counter{}
		cfg, err := pgxpool.ParseConfig(u.String())
		if err != nil {
			b.Fatal(err)
		}
		cfg.MaxConns = int32(conns)
		cfg.ConnConfig.DialFunc = rt.DialContext
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		vs = append(vs, &benchVariant{
			name: server + "-raw-pgx", rt: rt,
			run: func(_ benchQuery, i, id int) error {
				return citusPGXList(context.Background(), pool, raw[i], cursor(id))
			},
			warm: func(benchQuery) error {
				return warmPGX(pool, conns, func(ctx context.Context, c *pgxpool.Conn) error {
					for i := range raw {
						if err := citusPGXList(ctx, c, raw[i], 0); err != nil {
							return err
						}
					}
					return nil
				})
			},
			ping:  pool.Ping,
			close: pool.Close,
		})
	}
	tenancyVariant := func(name string, db *tenancy.DB, rt *rtcount.Counter) *benchVariant {
		pool := db.Pool()
		pool.SetMaxOpenConns(conns)
		pool.SetMaxIdleConns(conns)
		return &benchVariant{
			name: name, raw: server + "-raw-pgx", rt: rt,
			run: func(_ benchQuery, i, id int) error {
				var us []benchUser
				return db.SelectContext(ctxs[i], &us, unqualified, cursor(id), citusPage)
			},
			warm: func(benchQuery) error {
				return warmSQL(pool, conns, func(c *sqlx.Conn) error {
					for _, ctx := range ctxs {
						var us []benchUser
						if err := c.SelectContext(ctx, &us, unqualified, 0, citusPage); err != nil {
							return err
						}
					}
					return nil
				})
			},
			ping:  pool.PingContext,
			close: func() { db.Close() },
		}
	}
	// tenancy over pgx's database/sql driver, as tenancy.Open("pgx", ...).
	{
		rt := &rtcount.Counter{}
		cc, err := pgx.ParseConfig(u.String())
		if err != nil {
			b.Fatal(err)
		}
		cc.DialFunc = rt.DialContext
		cc.DefaultQueryExecMode = tenancy.PgxQueryExecMode
		cc.AfterNetConnect = tenancy.PgxAfterNetConnect
		db, err := tenancy.OpenConnector(stdlib.GetConnector(*cc), "pgx")
		if err != nil {
			b.Fatal(err)
		}
		vs = append(vs, tenancyVariant(server+"-tenancy-pgx", db, rt))
	}
	// tenancy over lib/pq, as tenancy.Open("postgres", ...).
	{
		rt := &rtcount.Counter{}
		c, err := pq.NewConnector(u.String())
		if err != nil {
			b.Fatal(err)
		}
		c.Dialer(tenancy.LibPQDialer(rt))
		db, err := tenancy.OpenConnector(c, "postgres")
		if err != nil {
			b.Fatal(err)
		}
		vs = append(vs, tenancyVariant(server+"-tenancy-pq", db, rt))
	}
	return vs
}

// citusPGXList runs the page query on q with pgx, scanning field by field.
func citusPGXList(ctx context.Context, q pgxQuerier, sql string, after int) error {
	rows, err := q.Query(ctx, sql, after, citusPage)
	if err != nil {
		return err
	}
	defer rows.Close()
	us := make([]benchUser, 0, citusPage)
	for rows.Next() {
		var u benchUser
		if err := rows.Scan(&u.ID, &u.Email, &u.FirstName, &u.LastName, &u.UserRoleID, &u.CreatedAt, &u.UpdatedAt); err != nil {
			return err
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(us) != citusPage {
		return fmt.Errorf("page of %d rows, want %d", len(us), citusPage)
	}
	return nil
}

// citusAlternate is runAlternating with conns goroutines per variant by default
// (-tenancy.par overrides), returning each variant's µs per operation.
func citusAlternate(b *testing.B, vs []*benchVariant, tenants, conns int) map[string]float64 {
	par := *benchParallel
	if par <= 0 {
		par = conns
	}
	return alternate(b, vs, benchQuery{}, tenants, par)
}

// benchEnvInt reads a positive count from the environment, or returns def.
func benchEnvInt(b *testing.B, name string, def int) int {
	b.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive count", name, s)
	}
	return n
}

// BenchmarkCitusCreateTenant creates tenants of the demo set (migrations.Tenant)
// one after the other, on plain PostgreSQL and on Citus (a distributed schema on a
// worker; each statement of each file sent to the coordinator, which forwards it),
// and reports the median, 95th percentile and maximum of one create.
// TENANCY_BENCH_CITUS_CREATES sets the creates per server per iteration (default 100).
func BenchmarkCitusCreateTenant(b *testing.B) {
	n := benchEnvInt(b, "TENANCY_BENCH_CITUS_CREATES", 100)
	for _, s := range citusServers {
		b.Run("server="+s.name, func(b *testing.B) {
			e := s.env(b).ready(b)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				all := make([]time.Duration, n)
				for j := range n {
					name := fmt.Sprintf("c%d_%04d", i, j)
					start := time.Now()
					if _, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: name, Schema: name, Host: strings.ReplaceAll(name, "_", "-") + ".example.com"}); err != nil {
						b.Fatal(err)
					}
					all[j] = time.Since(start)
				}
				slices.Sort(all)
				b.ReportMetric(ms(all[n/2]), "median-ms/create")
				b.ReportMetric(ms(all[n*95/100]), "p95-ms/create")
				b.ReportMetric(ms(all[n-1]), "max-ms/create")
			}
		})
	}
}

// BenchmarkCitusFleetUpgrade creates a fleet of the demo set on each server
// (four creates at a time, outside the timer; the time is reported as
// create-s/fleet), then upgrades it with one new migration (a column and an
// index on users) and again with nothing to apply. TENANCY_BENCH_CITUS_FLEET sets
// the fleet size (default 1,000).
func BenchmarkCitusFleetUpgrade(b *testing.B) {
	n := benchEnvInt(b, "TENANCY_BENCH_CITUS_FLEET", 1000)
	for _, s := range citusServers {
		b.Run(fmt.Sprintf("server=%s/tenants=%d", s.name, n), func(b *testing.B) {
			e := s.env(b).ready(b)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				// A fresh database per iteration: the fleet at version 2, and a
				// migrator whose set adds version 3.
				if i > 0 {
					e = s.env(b).ready(b)
				}
				_, _, m3 := openMigrator(b, e.dsn, migrations.Shared, tenantFS(b, map[string]string{
					"000003_users_locale.up.sql": `ALTER TABLE users ADD COLUMN locale varchar(16) NOT NULL DEFAULT 'en';
CREATE INDEX users_locale_idx ON users (locale, id);`,
					"000003_users_locale.down.sql": `DROP INDEX users_locale_idx; ALTER TABLE users DROP COLUMN locale;`,
				}))
				start := time.Now()
				citusCreateMany(b, e.m, "f", n)
				b.ReportMetric(time.Since(start).Seconds(), "create-s/fleet")
				b.StartTimer()
				rep, err := m3.UpgradeFleet(ctx, tenancy.FleetOptions{})
				if err != nil || rep.Upgraded != n {
					b.Fatalf("upgraded %d of %d: %v", rep.Upgraded, n, err)
				}
				b.ReportMetric(rep.Duration.Seconds(), "one-migration-s/fleet")
				b.ReportMetric(ms(rep.Duration)/float64(n), "one-migration-ms/tenant")
				rep, err = m3.UpgradeFleet(ctx, tenancy.FleetOptions{})
				if err != nil || rep.Skipped != n {
					b.Fatalf("skipped %d of %d: %v", rep.Skipped, n, err)
				}
				b.ReportMetric(rep.Duration.Seconds(), "nothing-s/fleet")
			}
		})
	}
}

// citusCreateMany is createMany, failing on the first error without waiting for
// the rest of a fleet that may take minutes.
func citusCreateMany(b *testing.B, m *tenancy.Migrator, prefix string, n int) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var first error
	var once sync.Once
	next := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				s := fmt.Sprintf("%s_%04d", prefix, j)
				if _, err := m.CreateTenant(ctx, tenancy.NewTenant{Name: s, Schema: s}); err != nil {
					once.Do(func() { first = fmt.Errorf("CreateTenant(%s): %w", s, err); cancel() })
				}
			}
		}()
	}
	for j := range n {
		if ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}
