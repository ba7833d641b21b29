package tenancy_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/go-tenancy/tenancy/internal/session"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// BenchmarkSessionReset measures what scoping and resetting a session costs the
// server, statement by statement, on one pgx connection holding 0 or 500 named
// prepared statements (as pgx's statement cache does): each operation is one pgx
// batch (one round trip) of the statements named by the sub-benchmark and the pk
// query. server-µs/op is the backend's CPU time (/proc/<pid>/stat, 10 ms ticks:
// use -benchtime of a few thousand operations), available where the server runs
// on this machine under Linux.
func BenchmarkSessionReset(b *testing.B) {
	dsn := tenancytest.NewDatabase(b)
	ctx := context.Background()
	setup, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range []string{"a", "b"} {
		if _, err := setup.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA %[1]s;
			CREATE TABLE %[1]s.users (id bigint PRIMARY KEY, email text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
			INSERT INTO %[1]s.users (id, email) SELECT g, 'u' || g FROM generate_series(1, 100) g`, s)); err != nil {
			b.Fatal(err)
		}
	}
	setup.Close(ctx)
	const pk = `SELECT id, email, created_at FROM users WHERE id = $1`
	type variant struct {
		name  string
		mode  pgx.QueryExecMode
		pre   func(i int) []string
		named int // prepared statements held on the session
		// simple, if set, is sent as one simple-protocol message (one Query, its
		// statements joined) before the batch, as internal/wire puts the reset and
		// the SET in front of the driver's messages: a round trip more here, but
		// the figure is the server's CPU.
		simple func(i int) string
	}
	set := func(i int) string { return []string{`SET search_path TO "a"`, `SET search_path TO "b"`}[i%2] }
	var vs []variant
	for _, named := range []int{0, 500} {
		vs = append(vs,
			variant{"cached", pgx.QueryExecModeCacheStatement, nil, named, nil},
			variant{"unnamed", pgx.QueryExecModeCacheDescribe, nil, named, nil},
			variant{"unnamed+SET", pgx.QueryExecModeCacheDescribe, func(i int) []string { return []string{set(i)} }, named, nil},
			variant{"unnamed+reset+SET", pgx.QueryExecModeCacheDescribe, func(i int) []string {
				return append(strings.Split(session.Reset(false), "; "), set(i))
			}, named, nil},
			variant{"unnamed+reset-keeping-named+SET", pgx.QueryExecModeCacheDescribe, func(i int) []string {
				return append(strings.Split(strings.TrimSuffix(session.Reset(true), "; "+session.DeallocateSQL), "; "), session.DeallocateSQL, set(i))
			}, named, nil},
			variant{"unnamed+reset+SET-as-one-message", pgx.QueryExecModeCacheDescribe, nil, named, func(i int) string {
				return session.Reset(false) + "; " + set(i)
			}},
		)
	}
	for _, v := range vs {
		b.Run(fmt.Sprintf("named=%d/%s", v.named, v.name), func(b *testing.B) {
			cfg, err := pgx.ParseConfig(dsn)
			if err != nil {
				b.Fatal(err)
			}
			cfg.DefaultQueryExecMode = v.mode
			c, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(ctx)
			for i := 0; i < v.named; i++ {
				if _, err := c.Prepare(ctx, fmt.Sprintf("held_%d", i), fmt.Sprintf("SELECT %d AS n, 'a statement a driver keeps' AS s", i)); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := c.Exec(ctx, `SET search_path TO "a"`); err != nil {
				b.Fatal(err)
			}
			var pid int
			if err := c.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
				b.Fatal(err)
			}
			op := func(i int) error {
				if v.simple != nil {
					if _, err := c.PgConn().Exec(ctx, v.simple(i)).ReadAll(); err != nil {
						return err
					}
				}
				batch := &pgx.Batch{}
				if v.pre != nil {
					for _, s := range v.pre(i) {
						batch.Queue(s)
					}
				}
				batch.Queue(pk, 1+i%100)
				return c.SendBatch(ctx, batch).Close()
			}
			for i := 0; i < 10; i++ { // prepare and describe outside the timing
				if err := op(i); err != nil {
					b.Fatal(err)
				}
			}
			before, cpuOK := backendCPU(pid)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := op(i); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if after, ok := backendCPU(pid); ok && cpuOK {
				b.ReportMetric(float64(after-before)*1e4/float64(b.N), "server-µs/op")
			}
		})
	}
}

// backendCPU returns a local process's user+system CPU time in clock ticks
// (1/100 s on Linux).
func backendCPU(pid int) (int64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, false
	}
	var utime, stime int64
	if _, err := fmt.Sscan(f[11], &utime); err != nil {
		return 0, false
	}
	if _, err := fmt.Sscan(f[12], &stime); err != nil {
		return 0, false
	}
	return utime + stime, true
}
