package wire_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/go-tenancy/tenancy/internal/session"
	"github.com/go-tenancy/tenancy/internal/wire"
)

// TestSessionReset: the library's own reset (several statements, one of them the
// DO block of DeallocateSQL) plus SET search_path, as a prefix, clears an earlier
// tenant's temporary table (which pg_temp would put in front of the schema),
// cursors and SQL prepared statements, keeps pgx's own statements, and scopes the
// statement, with and without arguments.
func TestSessionReset(t *testing.T) {
	stmts, err := wire.Split(session.Reset(true))
	if err != nil || len(stmts) < 5 || stmts[len(stmts)-1] != session.DeallocateSQL {
		t.Fatalf("Split(Reset(true)) = %q, %v", stmts, err)
	}
	dsn := setup(t)
	ctx := context.Background()
	for _, c := range clients(t, dsn, 0) {
		keep := c.name != "pq" // lib/pq's Prepare'd statements are not kept across tenants here
		reset := session.Reset(keep) + "; " + session.SetPath("a", nil, false)
		for _, args := range [][]any{nil, {1}} {
			mustExec(t, c, "SET search_path TO b")
			mustExec(t, c, "CREATE TEMP TABLE t AS SELECT 'temp'::text AS v")
			mustExec(t, c, "PREPARE leftover AS SELECT 1")
			mustExec(t, c, "BEGIN")
			mustExec(t, c, "DECLARE cur CURSOR WITH HOLD FOR SELECT 1")
			mustExec(t, c, "COMMIT")
			got, err := c.strs(ctx, "SELECT v FROM t")
			one(t, c, got, err, "temp")

			prefix(t, c, reset)
			q := "SELECT v FROM t"
			if args != nil {
				q = "SELECT v FROM t WHERE $1::int = 1"
			}
			c.rt.Reset()
			got, err = c.strs(ctx, q, args...)
			one(t, c, got, err, "a")
			if o := c.w.Outcome(); !o.Committed() {
				t.Fatalf("%s: outcome %+v", c.name, o)
			}
			got, err = c.strs(ctx, `SELECT (SELECT count(*) FROM pg_prepared_statements WHERE from_sql)::text ||
				(SELECT count(*) FROM pg_cursors WHERE name = 'cur')::text || (to_regclass('pg_temp.t') IS NULL)::text`)
			one(t, c, got, err, "00true")
		}
	}
}

// TestPipelineInFlight: with an earlier pgx pipeline batch still unanswered, a
// prefix armed for the next one goes in front of that one only: the filter
// counts ReadyForQuery messages to know which replies are the prefix's.
func TestPipelineInFlight(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	c := pgxClient(t, dsn, 0, pgx.QueryExecModeExec)
	mustExec(t, c, "SET search_path TO b")
	p := c.pgx.PgConn().StartPipeline(ctx)
	p.SendQueryParams("SELECT v FROM t, pg_sleep(0.05)", nil, nil, nil, nil)
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	prefix(t, c, "SET search_path TO a; SELECT 'noise' FROM generate_series(1, 10)")
	p.SendQueryParams("SELECT v FROM t", nil, nil, nil, nil)
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 4 {
		res, err := p.GetResults()
		if err != nil {
			t.Fatal(err)
		}
		switch r := res.(type) {
		case *pgconn.ResultReader:
			rr := r.Read()
			if rr.Err != nil || len(rr.Rows) != 1 {
				t.Fatalf("result %+v", rr)
			}
			got = append(got, string(rr.Rows[0][0]))
		case *pgconn.PipelineSync:
			got = append(got, "sync")
		default:
			t.Fatalf("unexpected %T", res)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "b sync a sync"; join(got) != want {
		t.Fatalf("pipeline results %q, want %q", join(got), want)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// TestSetLocalOneBatch pins down a limit: outside a transaction block, a SET
// LOCAL prefix lives in the implicit transaction of the driver's first batch, so
// it covers the statement only when the driver sends the statement in one batch
// (ending in one Sync). lib/pq with arguments and pgx's DescribeExec mode send
// Parse/Describe/Sync, then Bind/Execute/Sync: the SET LOCAL has ended before
// the execution. (pgx's cache modes do the same on a statement's first use.)
// A session-level SET commits at that first Sync and covers both.
func TestSetLocalOneBatch(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	for _, c := range clients(t, dsn, 0) {
		for _, args := range [][]any{nil, {1}} {
			q := "SELECT v FROM t"
			if args != nil {
				q += " WHERE $1::int = 1"
			}
			mustExec(t, c, "SET search_path TO b")
			if _, err := c.strs(ctx, q, args...); err != nil { // warm the caches
				t.Fatal(err)
			}
			want := "a"
			if args != nil && c.name == "pq" || c.name == "pgx-describe exec" {
				want = "b"
			}
			prefix(t, c, "SET LOCAL search_path TO a")
			got, err := c.strs(ctx, q, args...)
			one(t, c, got, err, want)
			got, err = c.strs(ctx, "SHOW search_path")
			one(t, c, got, err, "b")
		}
	}
}

// TestPrefixEachBatch: a SET LOCAL prefix armed with PrefixEachBatch covers the
// statement on every driver path, also where the driver parses and executes in
// two batches (lib/pq with arguments, pgx's describe modes, and pgx's cache
// modes on first use, run 0), with exactly the round trips of the statement
// alone; it is spent once a batch that executes has gone out, and leaves the
// session's search_path as it was.
func TestPrefixEachBatch(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	for _, c := range clients(t, dsn, 0) {
		if bindsEarlierParse[c.name] {
			continue // TestPrefixEachBatchRefusesBind
		}
		for i, args := range [][]any{nil, {1}} {
			for run := range 2 {
				q := fmt.Sprintf("SELECT v FROM t /* %d */", i)
				if args != nil {
					q = fmt.Sprintf("SELECT v FROM t WHERE $1::int = 1 /* %d */", i)
				}
				mustExec(t, c, "SET search_path TO b")
				c.rt.Reset()
				got, err := c.strs(ctx, q+" /* base */", args...)
				one(t, c, got, err, "b")
				base := c.rt.Reset()

				if err := c.w.PrefixEachBatch("SET LOCAL search_path TO a"); err != nil {
					t.Fatal(err)
				}
				got, err = c.strs(ctx, q, args...)
				one(t, c, got, err, "a")
				if n := c.rt.Reset(); n != base {
					t.Errorf("%s %q run %d: %d round trips with the prefix, %d without", c.name, q, run, n, base)
				}
				if o := c.w.Outcome(); !o.Sent || o.Err != nil || o.Aborted {
					t.Errorf("%s: outcome %+v", c.name, o)
				}
				if c.w.Disarm() {
					t.Errorf("%s: the prefix was still armed after a batch that executed", c.name)
				}
				// Spent: the next statement runs without it, in the session's path.
				got, err = c.strs(ctx, q, args...)
				one(t, c, got, err, "b")
				got, err = c.strs(ctx, "SHOW search_path")
				one(t, c, got, err, "b")
			}
		}
	}
}

// bindsEarlierParse names the clients that execute a statement with arguments
// by binding what an earlier batch parsed (lib/pq; pgx's statement-cache and
// describe-exec modes, the stdlib client's being the statement cache).
var bindsEarlierParse = map[string]bool{"pq": true, "pgx-cache statement": true, "pgx-describe exec": true, "pgx-stdlib": true}

// TestPrefixEachBatchRefusesBind: where the batch that executes binds a
// statement parsed in an earlier batch, a per-batch prefix refuses it (behind
// a transaction pooler that statement may be another client's): the write
// fails with ErrBindsEarlierParse, nothing runs without the prefix, and the
// Conn goes passive. The statement cache's cached statements start their batch
// with a Bind even without arguments.
func TestPrefixEachBatchRefusesBind(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	for _, c := range clients(t, dsn, 0) {
		if !bindsEarlierParse[c.name] {
			continue
		}
		mustExec(t, c, "SET search_path TO b")
		q := "SELECT v FROM t WHERE $1::int = 1"
		if _, err := c.strs(ctx, q, 1); err != nil { // warm the caches
			t.Fatal(err)
		}
		if err := c.w.PrefixEachBatch("SET LOCAL search_path TO a"); err != nil {
			t.Fatal(err)
		}
		// (lib/pq reports any failed write as driver.ErrBadConn.)
		got, err := c.strs(ctx, q, 1)
		if err == nil {
			t.Fatalf("%s: got %q, want the write refused", c.name, got)
		}
		if why := c.w.Unavailable(); c.w.Available() || !errors.Is(why, wire.ErrBindsEarlierParse) {
			t.Fatalf("%s: %v; the Conn is available=%v because %v", c.name, err, c.w.Available(), why)
		}
	}
}
