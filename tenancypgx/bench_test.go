package tenancypgx_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/tenancypgx"
)

// BenchmarkQuery compares raw pgxpool, with schema-qualified SQL, against
// tenancypgx with unqualified SQL, on the same tenants: a one-row read by
// primary key, spread round-robin over 1, 8 or 500 tenants, on 16 connections,
// in parallel. roundtrips/op is counted on the wire.
//
//	go test -run '^$' -bench BenchmarkQuery -benchtime 2000x ./tenancypgx/
func BenchmarkQuery(b *testing.B) {
	e := newEnv(b, 0)
	var sb strings.Builder
	var names []string
	for i := 0; i < 500; i++ {
		s := fmt.Sprintf("b%03d", i)
		names = append(names, s)
		fmt.Fprintf(&sb, "CREATE SCHEMA %[1]s; CREATE TABLE %[1]s.items (id int PRIMARY KEY, name text NOT NULL); INSERT INTO %[1]s.items VALUES (1, '%[1]s-1');\n", s)
	}
	if _, err := e.admin.Exec(context.Background(), sb.String()); err != nil {
		b.Fatal(err)
	}
	config := func(tc *turnCounter) *pgxpool.Config {
		pc, err := pgxpool.ParseConfig(e.dsn)
		if err != nil {
			b.Fatal(err)
		}
		pc.MaxConns, pc.MinConns = 16, 16
		pc.ConnConfig.DialFunc = dialCounting(tc)
		return pc
	}
	var tcRaw, tcSess, tcTx turnCounter
	raw, err := pgxpool.NewWithConfig(context.Background(), config(&tcRaw))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(raw.Close)
	sess, err := tenancypgx.NewWithConfig(context.Background(), config(&tcSess))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sess.Close)
	txp, err := tenancypgx.NewWithConfig(context.Background(), config(&tcTx), tenancypgx.WithMode(tenancy.TransactionMode))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(txp.Close)
	for _, n := range []int{1, 8, 500} {
		ctxs := make([]context.Context, n)
		rawSQL, rawArgSQL := make([]string, n), make([]string, n)
		for i := range ctxs {
			ctxs[i] = ctxFor(names[i])
			rawSQL[i] = "SELECT name FROM " + names[i] + ".items WHERE id = 1"
			rawArgSQL[i] = "SELECT name FROM " + names[i] + ".items WHERE id = $1"
		}
		for _, withArgs := range []bool{false, true} {
			argName := "noargs"
			if withArgs {
				argName = "args"
			}
			run := func(name string, tc *turnCounter, q func(i int) (string, error)) {
				b.Run(fmt.Sprintf("tenants=%d/%s/%s", n, argName, name), func(b *testing.B) {
					var next atomic.Int64
					before := tc.load()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							i := int(next.Add(1)) % n
							got, err := q(i)
							if err != nil {
								b.Error(err)
								return
							}
							if got != names[i]+"-1" {
								b.Errorf("got %q for %s", got, names[i])
								return
							}
						}
					})
					b.StopTimer()
					b.ReportMetric(float64(tc.load()-before)/float64(b.N), "roundtrips/op")
				})
			}
			scan := func(r pgx.Row) (string, error) {
				var s string
				err := r.Scan(&s)
				return s, err
			}
			run("pgxpool", &tcRaw, func(i int) (string, error) {
				if withArgs {
					return scan(raw.QueryRow(context.Background(), rawArgSQL[i], 1))
				}
				return scan(raw.QueryRow(context.Background(), rawSQL[i]))
			})
			for _, v := range []struct {
				name string
				p    *tenancypgx.Pool
				tc   *turnCounter
			}{{"tenancypgx-session", sess, &tcSess}, {"tenancypgx-transaction", txp, &tcTx}} {
				run(v.name, v.tc, func(i int) (string, error) {
					if withArgs {
						return scan(v.p.QueryRow(ctxs[i], "SELECT name FROM items WHERE id = $1", 1))
					}
					return scan(v.p.QueryRow(ctxs[i], "SELECT name FROM items WHERE id = 1"))
				})
			}
		}
	}
}
