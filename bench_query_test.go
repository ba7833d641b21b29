package tenancy_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/latproxy"
	"github.com/go-tenancy/tenancy/internal/rtcount"
	"github.com/go-tenancy/tenancy/tenancypgx"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// BenchmarkQuery runs the same queries without the library and through it, with
// lib/pq and with pgx, side by side in one benchmark invocation, so that the ratios
// of one run compare like with like on a noisy machine:
//
//   - raw-pq: a plain *sqlx.DB over lib/pq, schema-qualified SQL (the cheapest way
//     to reach a tenant's table without this package on lib/pq);
//   - tenancy-pq: tenancy.DB over lib/pq, unqualified SQL, schema from the context;
//     tenancy-pq-affinity adds WithAffinity(true) where the scenario asks for it;
//   - raw-pgx: a pgxpool.Pool, schema-qualified SQL, rows scanned field by field
//     (the fastest way a user would write the same thing with pgx);
//   - tenancy-pgx: tenancy.Open("pgx", ...) with pgx/v5/stdlib, through
//     database/sql and sqlx like tenancy-pq;
//   - tenancypgx, the native pgx package: see tenancyPGXVariant;
//   - hand-exec, hand-set, hand-isolated and hand-cached: parts of the same
//     isolation written by hand on a pgxpool.Pool, to tell the library's cost
//     from its SQL's (bench_hand_test.go).
//
// Every scenario runs at three one-way delays between client and server: none
// (loopback), and 0.1 ms and 0.25 ms added by internal/latproxy, which shows what
// round trips cost across a network. b.N operations run on each variant, in
// rounds (at least ten, at most 50 operations per variant each) that alternate
// the variants (the first one rotates), each with -tenancy.par goroutines
// (GOMAXPROCS by default, as b.RunParallel).
//
// Metrics, per variant V: V-µs/op (wall time over operations, with -tenancy.par
// goroutines at once: the inverse of throughput, not one operation's latency),
// V-rt/op (round trips per operation counted on
// the wire by internal/rtcount), V-allocs/op (the whole process's, so the proxy's
// and pgxpool's are in it; they are near zero); for each tenancy variant,
// V/raw-pq or V/raw-pgx, the raw variant's time divided by V's (1.0: as fast as
// raw; higher is faster); ping-µs, the median round trip of an empty statement
// on the connection path (the effective latency: the proxy's delay plus its
// wake-up and the machine's). ns/op is the sum over the variants.
//
//	go test -run '^$' -bench BenchmarkQuery -benchtime 2000x -count 3 . | tee bench.txt
//	go test -run '^$' -bench 'BenchmarkQuery/8tenants-16conns/delay=0.1ms' -benchtime 200x .
func BenchmarkQuery(b *testing.B) {
	dsn := tenancytest.NewDatabase(b)
	const maxTenants = 500
	setupBenchTenants(b, dsn, maxTenants)

	delays := []time.Duration{0, 100 * time.Microsecond, 250 * time.Microsecond}
	scenarios := []benchScenario{
		{name: "1tenant-16conns", tenants: 1, conns: 16, pgx: true, delays: delays},
		{name: "8tenants-16conns", tenants: 8, conns: 16, affinity: true, pgx: true, delays: delays},
		{name: "500tenants-16conns", tenants: 500, conns: 16, affinity: true, pgx: true, delays: delays},
		// lib/pq only: a lib/pq setting that makes a parameterised statement one
		// round trip instead of two.
		{name: "500tenants-16conns-binary", tenants: 500, conns: 16, binary: true, delays: delays[:1]},
		{name: "8tenants-16conns-txmode", tenants: 8, conns: 16, mode: tenancy.TransactionMode, pgx: true, delays: delays[:1]},
	}
	for _, sc := range scenarios {
		for _, delay := range sc.delays {
			b.Run(sc.name+"/delay="+delayName(delay), func(b *testing.B) {
				u, err := url.Parse(dsn)
				if err != nil {
					b.Fatal(err)
				}
				if delay > 0 {
					p, err := latproxy.Start(u.Host, delay)
					if err != nil {
						b.Fatal(err)
					}
					defer p.Close()
					u.Host = p.Addr()
				}
				vs := benchVariants(b, sc, u)
				defer func() {
					for _, v := range vs {
						v.close()
					}
				}()
				ping := medianPing(b, vs[0].ping)
				for _, q := range benchQueries {
					b.Run(q.name, func(b *testing.B) {
						for _, v := range vs {
							if !v.warmed[q.name] {
								if err := v.warm(q); err != nil {
									b.Fatalf("%s: warm-up: %v", v.name, err)
								}
								v.warmed[q.name] = true
							}
						}
						runAlternating(b, vs, q, sc.tenants)
						b.ReportMetric(float64(ping.Nanoseconds())/1e3, "ping-µs")
					})
				}
			})
		}
	}
}

type benchScenario struct {
	name     string
	tenants  int
	conns    int
	mode     tenancy.Mode
	binary   bool // lib/pq's binary_parameters=yes
	affinity bool // add tenancy-pq-affinity
	pgx      bool // add the pgx variants
	delays   []time.Duration
}

type benchQuery struct {
	name string
	sql  string // %s is replaced by the schema prefix ("" for tenancy, `"t1".` for raw)
	one  bool   // one row by primary key, with $1; else a list without arguments
}

var benchQueries = []benchQuery{
	{"list", `SELECT id, email, first_name, last_name, user_role_id, created_at, updated_at FROM %susers ORDER BY id LIMIT 100`, false},
	{"pk", `SELECT id, email, first_name, last_name, user_role_id, created_at, updated_at FROM %susers WHERE id = $1`, true},
}

// benchParallel is the number of goroutines per variant in BenchmarkQuery.
var benchParallel = flag.Int("tenancy.par", 0, "BenchmarkQuery: goroutines per variant (0: GOMAXPROCS)")

// benchVariantsFlag limits BenchmarkQuery's optional variants (the raw ones always run).
var benchVariantsFlag = flag.String("tenancy.variants", "", "BenchmarkQuery: regexp of the tenancy variants to run (empty: all)")

func benchWanted(name string) bool {
	if *benchVariantsFlag == "" {
		return true
	}
	ok, err := regexp.MatchString(*benchVariantsFlag, name)
	return err == nil && ok
}

func delayName(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + "ms"
}

// benchVariant is one way of running the benchmark's queries.
type benchVariant struct {
	name string
	raw  string // for a tenancy variant, the raw variant its ratio is against
	rt   *rtcount.Counter
	// run runs query q for tenant i (0-based) with primary key id.
	run func(q benchQuery, i, id int) error
	// warm opens every connection of the pool and readies it for q (pgx
	// prepares each statement on each connection on first use).
	warm   func(q benchQuery) error
	ping   func(context.Context) error
	close  func()
	warmed map[string]bool
}

// queryTenants returns the schemas t1..tn and a context for each.
func queryTenants(n int) ([]string, []context.Context) {
	schemas := make([]string, n)
	ctxs := make([]context.Context, n)
	for i := range schemas {
		schemas[i] = fmt.Sprintf("t%d", i+1)
		ctxs[i] = tenancy.NewContext(context.Background(), tenancy.Tenant{ID: int64(i + 1), Schema: schemas[i]})
	}
	return schemas, ctxs
}

// qualified returns q's SQL for each schema, schema-qualified.
func qualified(q benchQuery, schemas []string) []string {
	out := make([]string, len(schemas))
	for i, s := range schemas {
		out[i] = fmt.Sprintf(q.sql, pq.QuoteIdentifier(s)+".")
	}
	return out
}

// benchVariants opens the scenario's variants on the server at u (which may be a
// latproxy in front of it).
func benchVariants(b *testing.B, sc benchScenario, u *url.URL) []*benchVariant {
	b.Helper()
	schemas, ctxs := queryTenants(sc.tenants)
	rawSQL := map[string][]string{}
	for _, q := range benchQueries {
		rawSQL[q.name] = qualified(q, schemas)
	}
	pqURL := *u
	if sc.binary {
		qv := pqURL.Query()
		qv.Set("binary_parameters", "yes")
		pqURL.RawQuery = qv.Encode()
	}
	var vs []*benchVariant
	add := func(v *benchVariant) {
		v.warmed = map[string]bool{}
		vs = append(vs, v)
	}

	// lib/pq, raw and through tenancy.
	pqConnector := func() (*pq.Connector, *rtcount.Counter) {
		rt := &rtcount.Counter{}
		c, err := pq.NewConnector(pqURL.String())
		if err != nil {
			b.Fatal(err)
		}
		c.Dialer(rt)
		return c, rt
	}
	{
		c, rt := pqConnector()
		pool := sqlx.NewDb(sql.OpenDB(c), "postgres")
		add(sqlxVariant(sc, "raw-pq", "", rt, pool, func(q benchQuery, i, id int) error {
			return runBenchQuery(context.Background(), pool, rawSQL[q.name][i], q.one, id)
		}))
	}
	pqImpls := []string{"tenancy-pq"}
	if sc.affinity {
		pqImpls = append(pqImpls, "tenancy-pq-affinity")
	}
	for _, impl := range pqImpls {
		if !benchWanted(impl) {
			continue
		}
		c, rt := pqConnector()
		c.Dialer(tenancy.LibPQDialer(rt)) // as tenancy.Open sets lib/pq up
		db, err := tenancy.OpenConnector(c, "postgres", tenancy.WithMode(sc.mode),
			tenancy.WithAffinity(impl == "tenancy-pq-affinity"))
		if err != nil {
			b.Fatal(err)
		}
		v := sqlxVariant(sc, impl, "raw-pq", rt, db.Pool(), func(q benchQuery, i, id int) error {
			return runBenchQuery(ctxs[i], db, fmt.Sprintf(q.sql, ""), q.one, id)
		})
		v.warm = tenancyWarm(ctxs, db, sc.conns)
		add(v)
	}
	if !sc.pgx {
		return vs
	}

	// pgx: a pgxpool.Pool, and tenancy through pgx's database/sql driver.
	{
		rt := &rtcount.Counter{}
		pool, err := pgxpool.NewWithConfig(context.Background(), benchPGXConfig(b, u, sc.conns, rt))
		if err != nil {
			b.Fatal(err)
		}
		add(&benchVariant{
			name: "raw-pgx", rt: rt,
			run: func(q benchQuery, i, id int) error {
				return runPGXQuery(context.Background(), pool, rawSQL[q.name][i], q.one, id)
			},
			warm: func(q benchQuery) error {
				// Every connection prepares every tenant's statement once (pgx's
				// statement cache, 512 by default, holds them all), so that the
				// timed run sees the steady state.
				return warmPGX(pool, sc.conns, func(ctx context.Context, c *pgxpool.Conn) error {
					for i := range schemas {
						if err := runPGXQuery(ctx, c, rawSQL[q.name][i], q.one, 1); err != nil {
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
	// database/sql over pgx without tenancy: what the database/sql layer costs.
	{
		rt := &rtcount.Counter{}
		cc, err := pgx.ParseConfig(u.String())
		if err != nil {
			b.Fatal(err)
		}
		cc.DialFunc = rt.DialContext
		pool := sqlx.NewDb(sql.OpenDB(stdlib.GetConnector(*cc)), "pgx")
		v := sqlxVariant(sc, "raw-pgx-sql", "raw-pgx", rt, pool, func(q benchQuery, i, id int) error {
			return runBenchQuery(context.Background(), pool, rawSQL[q.name][i], q.one, id)
		})
		v.warm = func(q benchQuery) error {
			return warmSQL(pool, sc.conns, func(c *sqlx.Conn) error {
				for i := range schemas {
					if err := runBenchQuery(context.Background(), c, rawSQL[q.name][i], q.one, 1); err != nil {
						return err
					}
				}
				return nil
			})
		}
		add(v)
	}
	// tenancy through pgx's database/sql driver, in pgx's statement-cache mode
	// (named statements kept on the session) and in the description-cache mode
	// tenancy.Open uses (unnamed statements).
	pgxImpls := []struct {
		name     string
		mode     pgx.QueryExecMode
		affinity bool
	}{
		{"tenancy-pgx-stmtcache", pgx.QueryExecModeCacheStatement, false},
		{"tenancy-pgx", pgx.QueryExecModeCacheDescribe, false},
	}
	if sc.affinity {
		pgxImpls = append(pgxImpls, struct {
			name     string
			mode     pgx.QueryExecMode
			affinity bool
		}{"tenancy-pgx-affinity", pgx.QueryExecModeCacheDescribe, true})
	}
	for _, impl := range pgxImpls {
		if !benchWanted(impl.name) {
			continue
		}
		rt := &rtcount.Counter{}
		cc, err := pgx.ParseConfig(u.String())
		if err != nil {
			b.Fatal(err)
		}
		cc.DialFunc = rt.DialContext
		cc.DefaultQueryExecMode = impl.mode
		cc.AfterNetConnect = tenancy.PgxAfterNetConnect // as tenancy.Open sets pgx up
		db, err := tenancy.OpenConnector(stdlib.GetConnector(*cc), "pgx", tenancy.WithMode(sc.mode),
			tenancy.WithAffinity(impl.affinity))
		if err != nil {
			b.Fatal(err)
		}
		v := sqlxVariant(sc, impl.name, "raw-pgx", rt, db.Pool(), func(q benchQuery, i, id int) error {
			return runBenchQuery(ctxs[i], db, fmt.Sprintf(q.sql, ""), q.one, id)
		})
		v.warm = tenancyWarm(ctxs, db, sc.conns)
		add(v)
	}
	for _, v := range handVariants(b, sc, u, schemas, rawSQL) {
		add(v)
	}
	if benchWanted("tenancypgx") {
		add(tenancyPGXVariant(b, sc, u, ctxs))
	}
	return vs
}

// benchPGXConfig is the pgxpool configuration of a variant: the scenario's
// connections, counted on the wire by rt.
func benchPGXConfig(b *testing.B, u *url.URL, conns int, rt *rtcount.Counter) *pgxpool.Config {
	b.Helper()
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = int32(conns)
	cfg.ConnConfig.DialFunc = rt.DialContext
	return cfg
}

// tenancyPGXVariant is the native pgx package: a tenancypgx.Pool over pgxpool,
// with the same scenario's connections, counted on the wire.
func tenancyPGXVariant(b *testing.B, sc benchScenario, u *url.URL, ctxs []context.Context) *benchVariant {
	b.Helper()
	rt := &rtcount.Counter{}
	pool, err := tenancypgx.NewWithConfig(context.Background(), benchPGXConfig(b, u, sc.conns, rt), tenancypgx.WithMode(sc.mode))
	if err != nil {
		b.Fatal(err)
	}
	return &benchVariant{
		name: "tenancypgx", raw: "raw-pgx", rt: rt,
		run: func(q benchQuery, i, id int) error {
			return runPGXQuery(ctxs[i], pool, fmt.Sprintf(q.sql, ""), q.one, id)
		},
		warm: func(q benchQuery) error {
			for range sc.conns {
				for _, ctx := range ctxs {
					if err := runPGXQuery(ctx, pool, fmt.Sprintf(q.sql, ""), q.one, 1); err != nil {
						return err
					}
				}
			}
			return nil
		},
		ping:  func(ctx context.Context) error { return pool.Ping(ctx) },
		close: pool.Close,
	}
}

// tenancyWarm runs q on every connection of db for every tenant, as raw-pgx's
// warm-up prepares every tenant's statement on every connection: pgx caches
// statements per tenant (see tenancy's conn.tagged), so the timed run then sees
// the steady state, not first preparations.
func tenancyWarm(ctxs []context.Context, db *tenancy.DB, n int) func(benchQuery) error {
	return func(q benchQuery) error {
		return warmSQL(db.Pool(), n, func(c *sqlx.Conn) error {
			for _, ctx := range ctxs {
				if err := runBenchQuery(ctx, c, fmt.Sprintf(q.sql, ""), q.one, 1); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

// sqlxVariant makes a variant on a database/sql pool of sc.conns connections.
func sqlxVariant(sc benchScenario, name, raw string, rt *rtcount.Counter, pool *sqlx.DB, run func(q benchQuery, i, id int) error) *benchVariant {
	pool.SetMaxOpenConns(sc.conns)
	pool.SetMaxIdleConns(sc.conns)
	return &benchVariant{
		name: name, raw: raw, rt: rt, run: run,
		warm: func(benchQuery) error {
			return warmSQL(pool, sc.conns, func(c *sqlx.Conn) error { return c.PingContext(context.Background()) })
		},
		ping:  pool.PingContext,
		close: func() { pool.Close() },
	}
}

// warmSQL holds n connections of pool at once (so that n are opened) and runs f
// on each.
func warmSQL(pool *sqlx.DB, n int, f func(*sqlx.Conn) error) error {
	conns := make([]*sqlx.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := pool.Connx(context.Background())
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if err := f(c); err != nil {
			return err
		}
	}
	return nil
}

// warmPGX holds n connections of pool at once and runs f on each, in parallel.
func warmPGX(pool *pgxpool.Pool, n int, f func(context.Context, *pgxpool.Conn) error) error {
	ctx := context.Background()
	conns := make([]*pgxpool.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	errs := make(chan error, n)
	for _, c := range conns {
		go func() { errs <- f(ctx, c) }()
	}
	var first error
	for range conns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// pgxQuerier is a pgxpool.Pool or one of its connections.
type pgxQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// runPGXQuery runs one of the benchmark's queries the way a pgx user would write
// it for speed: rows scanned into the struct field by field.
func runPGXQuery(ctx context.Context, q pgxQuerier, sql string, one bool, id int) error {
	if one {
		var u benchUser
		return q.QueryRow(ctx, sql, id).Scan(&u.ID, &u.Email, &u.FirstName, &u.LastName, &u.UserRoleID, &u.CreatedAt, &u.UpdatedAt)
	}
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return err
	}
	defer rows.Close()
	var us []benchUser
	for rows.Next() {
		var u benchUser
		if err := rows.Scan(&u.ID, &u.Email, &u.FirstName, &u.LastName, &u.UserRoleID, &u.CreatedAt, &u.UpdatedAt); err != nil {
			return err
		}
		us = append(us, u)
	}
	_ = us
	return rows.Err()
}

// medianPing returns the median duration of 21 pings (one round trip each).
func medianPing(b *testing.B, ping func(context.Context) error) time.Duration {
	b.Helper()
	ds := make([]time.Duration, 21)
	for i := range ds {
		start := time.Now()
		if err := ping(context.Background()); err != nil {
			b.Fatal(err)
		}
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// runAlternating runs b.N operations of q on each variant, in rounds that
// alternate the variants, and reports each one's time, round trips and
// allocations per operation, and each tenancy variant's ratio to its raw one.
func runAlternating(b *testing.B, vs []*benchVariant, q benchQuery, tenants int) {
	par := *benchParallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	alternate(b, vs, q, tenants, par)
}

// alternate is runAlternating on par goroutines per variant; it returns each
// variant's µs per operation.
func alternate(b *testing.B, vs []*benchVariant, q benchQuery, tenants, par int) map[string]float64 {
	// At least ten rounds, and at most roundOps operations per variant in each:
	// a variant's connections then never sit idle for a second while the others
	// run, which would make pgxpool (on Acquire) and pgx's stdlib (on
	// ResetSession) ping them, an extra round trip no steady load pays.
	const roundOps = 50
	rounds := max(min(b.N, 10), (b.N+roundOps-1)/roundOps)
	type total struct {
		d      time.Duration
		ops    int
		rt     int64
		allocs uint64
	}
	totals := make([]total, len(vs))
	var seed atomic.Uint64
	var ms runtime.MemStats
	b.ReportAllocs()
	b.ResetTimer()
	for r := range rounds {
		n := b.N / rounds
		if r < b.N%rounds {
			n++
		}
		for k := range vs {
			j := (k + r) % len(vs)
			v := vs[j]
			runtime.ReadMemStats(&ms)
			mallocs, rt0 := ms.Mallocs, v.rt.RoundTrips()
			start := time.Now()
			if err := runN(n, par, &seed, tenants, q, v.run); err != nil {
				b.Fatalf("%s: %v", v.name, err)
			}
			totals[j].d += time.Since(start)
			runtime.ReadMemStats(&ms)
			totals[j].allocs += ms.Mallocs - mallocs
			totals[j].rt += v.rt.RoundTrips() - rt0
			totals[j].ops += n
		}
	}
	b.StopTimer()
	perOp := map[string]float64{}
	for j, v := range vs {
		t := totals[j]
		us := float64(t.d.Nanoseconds()) / 1e3 / float64(t.ops)
		perOp[v.name] = us
		b.ReportMetric(us, v.name+"-µs/op")
		b.ReportMetric(float64(t.rt)/float64(t.ops), v.name+"-rt/op")
		b.ReportMetric(float64(t.allocs)/float64(t.ops), v.name+"-allocs/op")
	}
	for _, v := range vs {
		if v.raw != "" {
			b.ReportMetric(perOp[v.raw]/perOp[v.name], v.name+"/"+v.raw)
		}
	}
	return perOp
}

// runN runs n operations of q on par goroutines, on random tenants and ids.
func runN(n, par int, seed *atomic.Uint64, tenants int, q benchQuery, run func(q benchQuery, i, id int) error) error {
	var next atomic.Int64
	errs := make(chan error, par)
	for range par {
		go func() {
			rng := rand.New(rand.NewPCG(seed.Add(1), 1))
			for next.Add(1) <= int64(n) {
				if err := run(q, rng.IntN(tenants), 1+rng.IntN(100)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range par {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
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
