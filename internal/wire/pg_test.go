package wire_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy/internal/rtcount"
	"github.com/go-tenancy/tenancy/internal/wire"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// client is one driver path to one wrapped connection.
type client struct {
	name string
	w    *wire.Conn
	rt   *rtcount.Counter
	// exec runs a statement and returns its rows affected.
	exec func(ctx context.Context, q string, args ...any) (int64, error)
	// strs runs a query of one text column.
	strs func(ctx context.Context, q string, args ...any) ([]string, error)
	// pgx is the native connection, if the client is pgx.
	pgx *pgx.Conn
	// db is the pool (of one connection) of a database/sql client.
	db *sql.Conn
}

// chopDialer dials TCP through rt and, if chop > 0, hands out at most chop bytes
// per Read, so that the wrapper sees messages split everywhere.
type chopDialer struct {
	rt   *rtcount.Counter
	chop int
}

func (d chopDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.rt.DialContext(ctx, network, address)
	if err != nil || d.chop == 0 {
		return c, err
	}
	return &chopConn{Conn: c, n: d.chop}, nil
}

type chopConn struct {
	net.Conn
	n, i int
}

// Read reads 1, 2, …, n, 1, 2, … bytes at a time, splitting messages at every
// offset.
func (c *chopConn) Read(p []byte) (int, error) {
	c.i = c.i%c.n + 1
	if len(p) > c.i {
		p = p[:c.i]
	}
	return c.Conn.Read(p)
}

// setup creates schemas a and b, each with a table t whose one row names its
// schema, and returns the DSN.
func setup(t *testing.T) string {
	t.Helper()
	dsn := tenancytest.NewDatabase(t)
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{"a", "b"} {
		if _, err := db.Exec(fmt.Sprintf(`CREATE SCHEMA %[1]s; CREATE TABLE %[1]s.t (v text); INSERT INTO %[1]s.t VALUES ('%[1]s')`, s)); err != nil {
			t.Fatal(err)
		}
	}
	return dsn
}

func sqlExec(c *sql.Conn) func(ctx context.Context, q string, args ...any) (int64, error) {
	return func(ctx context.Context, q string, args ...any) (int64, error) {
		res, err := c.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
}

func sqlStrs(c *sql.Conn) func(ctx context.Context, q string, args ...any) ([]string, error) {
	return func(ctx context.Context, q string, args ...any) ([]string, error) {
		rows, err := c.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, rows.Err()
	}
}

func pqClient(t *testing.T, dsn string, chop int) *client {
	t.Helper()
	rt := &rtcount.Counter{}
	pc, err := pq.NewConnector(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pc.Dialer(wire.Dialer{Inner: chopDialer{rt: rt, chop: chop}})
	db := sql.OpenDB(pc)
	t.Cleanup(func() { db.Close() })
	ctx, cp := wire.WithCapture(context.Background())
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w := cp.Conn()
	if w == nil || !w.Available() {
		t.Fatalf("lib/pq: no available wrapper captured (%v)", w)
	}
	return &client{name: "pq", w: w, rt: rt, exec: sqlExec(c), strs: sqlStrs(c), db: c}
}

func pgxConfig(t *testing.T, dsn string, rt *rtcount.Counter, chop int, mode pgx.QueryExecMode) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	d := chopDialer{rt: rt, chop: chop}
	cfg.DialFunc = d.DialContext
	cfg.AfterNetConnect = func(ctx context.Context, _ *pgconn.Config, nc net.Conn) (net.Conn, error) {
		return wire.AfterNetConnect(ctx, nc)
	}
	cfg.DefaultQueryExecMode = mode
	return cfg
}

func pgxClient(t *testing.T, dsn string, chop int, mode pgx.QueryExecMode) *client {
	t.Helper()
	rt := &rtcount.Counter{}
	conn, err := pgx.ConnectConfig(context.Background(), pgxConfig(t, dsn, rt, chop, mode))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	w, ok := wire.From(conn.PgConn().Conn())
	if !ok || !w.Available() {
		t.Fatal("pgx: no available wrapper")
	}
	return &client{
		name: "pgx-" + mode.String(), w: w, rt: rt, pgx: conn,
		exec: func(ctx context.Context, q string, args ...any) (int64, error) {
			tag, err := conn.Exec(ctx, q, args...)
			return tag.RowsAffected(), err
		},
		strs: func(ctx context.Context, q string, args ...any) ([]string, error) {
			rows, err := conn.Query(ctx, q, args...)
			if err != nil {
				return nil, err
			}
			return pgx.CollectRows(rows, pgx.RowTo[string])
		},
	}
}

func stdlibClient(t *testing.T, dsn string, chop int) *client {
	t.Helper()
	rt := &rtcount.Counter{}
	db := sql.OpenDB(stdlib.GetConnector(*pgxConfig(t, dsn, rt, chop, pgx.QueryExecModeCacheStatement)))
	t.Cleanup(func() { db.Close() })
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var w *wire.Conn
	if err := c.Raw(func(dc any) error {
		var ok bool
		w, ok = wire.From(dc.(*stdlib.Conn).Conn().PgConn().Conn())
		if !ok {
			return errors.New("not wrapped")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return &client{name: "pgx-stdlib", w: w, rt: rt, exec: sqlExec(c), strs: sqlStrs(c), db: c}
}

var modes = []pgx.QueryExecMode{
	pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec,
	pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol,
}

// clients returns one client of every driver path on dsn.
func clients(t *testing.T, dsn string, chop int) []*client {
	cs := []*client{pqClient(t, dsn, chop), stdlibClient(t, dsn, chop)}
	for _, m := range modes {
		cs = append(cs, pgxClient(t, dsn, chop, m))
	}
	return cs
}

func prefix(t *testing.T, c *client, sql string) {
	t.Helper()
	if err := c.w.Prefix(sql); err != nil {
		t.Fatalf("%s: Prefix: %v", c.name, err)
	}
}

func one(t *testing.T, c *client, got []string, err error, want string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("%s: got %q, want [%q]", c.name, got, want)
	}
}

// TestPrefixScopes: a prefix SET search_path makes the unqualified statement
// that follows resolve in that schema, with and without arguments, on every
// driver path, with exactly the round trips of the statement alone.
func TestPrefixScopes(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	for _, c := range clients(t, dsn, 0) {
		queries := []struct {
			q    string
			args []any
		}{
			{"SELECT v FROM t", nil},
			{"SELECT v FROM t WHERE $1::int = 1", []any{1}},
		}
		for _, qa := range queries {
			// Run 0: statements the driver has not seen (pgx prepares or describes
			// them first); run 1: the same again, cached.
			for i, schema := range []string{"a", "b"} {
				for run := 0; run < 2; run++ {
					// Baseline: the same statement (its own text), in the schema
					// already set, no prefix.
					if _, err := c.exec(ctx, "SET search_path TO "+schema); err != nil {
						t.Fatal(err)
					}
					c.rt.Reset()
					got, err := c.strs(ctx, qa.q+fmt.Sprintf(" /* base %d */", i), qa.args...)
					one(t, c, got, err, schema)
					base := c.rt.Reset()

					other := map[string]string{"a": "b", "b": "a"}[schema]
					if _, err := c.exec(ctx, "SET search_path TO "+other); err != nil {
						t.Fatal(err)
					}
					prefix(t, c, "SET search_path TO "+schema)
					c.rt.Reset()
					got, err = c.strs(ctx, qa.q+fmt.Sprintf(" /* prefixed %d */", i), qa.args...)
					one(t, c, got, err, schema)
					if n := c.rt.Reset(); n != base {
						t.Errorf("%s %q run %d: %d round trips with a prefix, %d without", c.name, qa.q, run, n, base)
					}
					if o := c.w.Outcome(); !o.Sent || !o.Committed() {
						t.Errorf("%s: outcome %+v, want sent and committed", c.name, o)
					}
					got, err = c.strs(ctx, "SHOW search_path")
					one(t, c, got, err, schema)
				}
			}
		}
	}
}

// TestPreparedTwice: a database/sql prepared statement (lib/pq and pgx's stdlib)
// run twice with prefixes for different schemas runs in each.
func TestPreparedTwice(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	for _, c := range []*client{pqClient(t, dsn, 0), stdlibClient(t, dsn, 0)} {
		if _, err := c.exec(ctx, "SET search_path TO a"); err != nil {
			t.Fatal(err)
		}
		st, err := c.db.PrepareContext(ctx, "SELECT v FROM t WHERE $1::int = 1")
		if err != nil {
			t.Fatal(err)
		}
		for _, schema := range []string{"b", "a", "b"} {
			prefix(t, c, "SET search_path TO "+schema)
			c.rt.Reset()
			var v string
			if err := st.QueryRowContext(ctx, 1).Scan(&v); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if v != schema {
				t.Errorf("%s: prepared statement ran in %q, want %q", c.name, v, schema)
			}
			if n := c.rt.Reset(); n != 1 {
				t.Errorf("%s: %d round trips for a prepared execution, want 1", c.name, n)
			}
		}
		st.Close()
	}
}

func countX(t *testing.T, dsn string) int {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM a.t WHERE v = 'x') + (SELECT count(*) FROM b.t WHERE v = 'x')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func sqlState(err error) string {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return string(pe.Code)
	}
	var ge *pgconn.PgError
	if errors.As(err, &ge) {
		return ge.Code
	}
	return ""
}

// TestPrefixFailure: when a prefix statement fails, the driver's statement does
// not run, the driver reports the prefix's error, Outcome has it, and the
// connection stays usable.
func TestPrefixFailure(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	for _, c := range clients(t, dsn, 0) {
		for _, tc := range []struct{ prefix, code string }{
			{"SET search_path TO a; SELECT 1/0", "22012"},
			{"SET LOCAL statement_timeout = 'x'", "22023"},
		} {
			for _, args := range [][]any{nil, {"x"}} {
				q := "INSERT INTO t VALUES ('x')"
				if args != nil {
					q = "INSERT INTO t VALUES ($1)"
				}
				if _, err := c.exec(ctx, "SET search_path TO b"); err != nil {
					t.Fatal(err)
				}
				prefix(t, c, tc.prefix)
				_, err := c.exec(ctx, q, args...)
				if sqlState(err) != tc.code {
					t.Fatalf("%s: prefix %q: got %v, want SQLSTATE %s", c.name, tc.prefix, err, tc.code)
				}
				if n := countX(t, dsn); n != 0 {
					t.Fatalf("%s: prefix %q failed but the INSERT ran (%d rows)", c.name, tc.prefix, n)
				}
				o := c.w.Outcome()
				var we *wire.Error
				if !o.Sent || !o.Done || !errors.As(o.Err, &we) || we.Code != tc.code || o.Committed() {
					t.Errorf("%s: outcome %+v", c.name, o)
				}
				if c.w.TxStatus() != 'I' {
					t.Errorf("%s: TxStatus %q after the failed batch, want I", c.name, c.w.TxStatus())
				}
				// Usable, and the failed prefix's SET was rolled back with it.
				got, err := c.strs(ctx, "SELECT v FROM t")
				one(t, c, got, err, "b")
				// A prefix after a failed one still works (the reserved statement
				// the failure left behind is closed first).
				prefix(t, c, "SET search_path TO a")
				got, err = c.strs(ctx, "SELECT v FROM t WHERE $1::int = 1", 1)
				one(t, c, got, err, "a")
			}
		}
	}
}

// TestFiltered: what the driver sees is what it would see without the prefix:
// rows affected, several result sets of one lib/pq simple query, an empty query,
// an error position, and several MB of rows through reads of a few bytes.
func TestFiltered(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	cs := clients(t, dsn, 0)
	// Reads of 1 to 61 bytes from the network, for two of the driver paths.
	cs = append(cs, pqClient(t, dsn, 61), pgxClient(t, dsn, 61, pgx.QueryExecModeCacheStatement))
	cs[len(cs)-2].name += "-chopped"
	cs[len(cs)-1].name += "-chopped"
	{
		for _, c := range cs {
			// A prefix whose statements return rows and notices.
			pre := "SET search_path TO a; SELECT 'junk' FROM generate_series(1, 3); DO $$BEGIN RAISE NOTICE 'hi; there'; END$$"
			prefix(t, c, pre)
			n, err := c.exec(ctx, "UPDATE t SET v = v WHERE true")
			if err != nil || n != 1 {
				t.Fatalf("%s: UPDATE: %d, %v; want 1 row", c.name, n, err)
			}
			prefix(t, c, pre)
			n, err = c.exec(ctx, "UPDATE t SET v = v WHERE $1", false)
			if err != nil || n != 0 {
				t.Fatalf("%s: UPDATE: %d, %v; want 0 rows", c.name, n, err)
			}

			// Several MB, streamed.
			prefix(t, c, pre)
			got, err := c.strs(ctx, "SELECT repeat(v, 1000) || g FROM t, generate_series(1, 3000) g")
			if err != nil || len(got) != 3000 || got[2999] != strings.Repeat("a", 1000)+"3000" {
				t.Fatalf("%s: big result: %d rows, %v", c.name, len(got), err)
			}

			// An error in the driver's statement: its position is the driver's.
			prefix(t, c, pre)
			_, err = c.exec(ctx, "SELECT nosuchcolumn FROM t")
			var pe *pq.Error
			var ge *pgconn.PgError
			switch {
			case errors.As(err, &pe):
				if pe.Position != "8" {
					t.Errorf("%s: error position %q, want 8", c.name, pe.Position)
				}
			case errors.As(err, &ge):
				if ge.Position != 8 {
					t.Errorf("%s: error position %d, want 8", c.name, ge.Position)
				}
			default:
				t.Fatalf("%s: got %v, want an undefined column error", c.name, err)
			}
			if o := c.w.Outcome(); o.Err != nil || !o.Aborted || o.Committed() {
				t.Errorf("%s: outcome %+v, want aborted by the driver's statement", c.name, o)
			}
		}
	}

	// lib/pq: several result sets in one simple query, and an empty query.
	c := pqClient(t, dsn, 5)
	prefix(t, c, "SET search_path TO b")
	rows, err := c.db.QueryContext(ctx, "SELECT v FROM t; SELECT 'two'; SELECT v || '3' FROM t")
	if err != nil {
		t.Fatal(err)
	}
	var sets []string
	for {
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			sets = append(sets, s)
		}
		if !rows.NextResultSet() {
			break
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if strings.Join(sets, ",") != "b,two,b3" {
		t.Errorf("result sets %q, want b,two,b3", sets)
	}
	prefix(t, c, "SET search_path TO a")
	if _, err := c.db.ExecContext(ctx, "-- nothing"); err != nil {
		t.Errorf("empty query with a prefix: %v", err)
	}
	if o := c.w.Outcome(); !o.Committed() {
		t.Errorf("empty query: outcome %+v", o)
	}
	got, err := c.strs(ctx, "SELECT v FROM t")
	one(t, c, got, err, "a")
}

// TestBatch: a prefix in front of a pgx Batch, in every exec mode.
func TestBatch(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	for _, m := range modes {
		c := pgxClient(t, dsn, 0, m)
		for _, schema := range []string{"a", "b"} {
			prefix(t, c, "SET search_path TO "+schema)
			b := &pgx.Batch{}
			b.Queue("SELECT v FROM t")
			b.Queue("SELECT v || $1 FROM t", "!")
			b.Queue("UPDATE t SET v = v")
			c.rt.Reset()
			br := c.pgx.SendBatch(ctx, b)
			var v1, v2 string
			if err := br.QueryRow().Scan(&v1); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if err := br.QueryRow().Scan(&v2); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			tag, err := br.Exec()
			if err != nil {
				t.Fatal(err)
			}
			if err := br.Close(); err != nil {
				t.Fatal(err)
			}
			if v1 != schema || v2 != schema+"!" || tag.RowsAffected() != 1 {
				t.Errorf("%s: batch got %q %q %d in %s", c.name, v1, v2, tag.RowsAffected(), schema)
			}
			if o := c.w.Outcome(); !o.Committed() {
				t.Errorf("%s: outcome %+v", c.name, o)
			}
		}
	}
}

// TestTxStatus: TxStatus follows BEGIN, a failed statement, ROLLBACK, COMMIT; a
// prefix armed in a failed transaction is not sent, so ROLLBACK works.
func TestTxStatus(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	for _, c := range clients(t, dsn, 0) {
		st := func(want byte) {
			t.Helper()
			if got := c.w.TxStatus(); got != want {
				t.Fatalf("%s: TxStatus %q, want %q", c.name, got, want)
			}
		}
		st('I')
		mustExec(t, c, "BEGIN")
		st('T')
		prefix(t, c, "SET LOCAL search_path TO b")
		got, err := c.strs(ctx, "SELECT v FROM t WHERE $1::int = 1", 1)
		one(t, c, got, err, "b")
		if o := c.w.Outcome(); o.TxStatus != 'T' || o.Committed() || o.Err != nil {
			t.Errorf("%s: outcome in a transaction %+v", c.name, o)
		}
		if _, err := c.exec(ctx, "SELECT 1/0"); err == nil {
			t.Fatal("1/0 succeeded")
		}
		st('E')
		prefix(t, c, "SET search_path TO a")
		mustExec(t, c, "ROLLBACK")
		st('I')
		if o := c.w.Outcome(); o.Sent || !errors.Is(o.Err, wire.ErrAbortedTx) {
			t.Errorf("%s: outcome of a prefix in a failed transaction %+v", c.name, o)
		}
		mustExec(t, c, "BEGIN")
		mustExec(t, c, "COMMIT")
		st('I')
	}
}

func mustExec(t *testing.T, c *client, q string) {
	t.Helper()
	if _, err := c.exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %s: %v", c.name, q, err)
	}
}

// TestCopy: a COPY started by the driver's statement after a prefix works and
// goes to the prefix's schema.
func TestCopy(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()

	c := pqClient(t, dsn, 0)
	mustExec(t, c, "SET search_path TO b")
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	prefix(t, c, "SET LOCAL search_path TO a")
	st, err := tx.Prepare("COPY t (v) FROM STDIN")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		if _, err := st.Exec("copied"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Exec(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	p := pgxClient(t, dsn, 0, pgx.QueryExecModeCacheStatement)
	prefix(t, p, "SET search_path TO a")
	n, err := p.pgx.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"v"}, pgx.CopyFromSlice(500, func(int) ([]any, error) { return []any{"copied"}, nil }))
	if err != nil || n != 500 {
		t.Fatalf("pgx CopyFrom: %d, %v", n, err)
	}
	// COPY TO STDOUT through a prefix (pgconn).
	prefix(t, p, "SET search_path TO a")
	var out strings.Builder
	tag, err := p.pgx.PgConn().CopyTo(ctx, &out, "COPY (SELECT count(*) FROM t WHERE v = 'copied') TO STDOUT")
	if err != nil || out.String() != "1500\n" || tag.RowsAffected() != 1 {
		t.Fatalf("CopyTo: %q %v %v; want 1500 copied rows in a", out.String(), tag, err)
	}
}

// TestCancel: lib/pq dials its cancel connection through the same dialer; that
// connection goes passive and the cancel reaches the server (pgx dials its own
// with DialFunc, without AfterNetConnect).
func TestCancel(t *testing.T) {
	dsn := setup(t)
	for _, c := range []*client{pqClient(t, dsn, 0), pgxClient(t, dsn, 0, pgx.QueryExecModeCacheStatement)} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		prefix(t, c, "SET search_path TO a")
		start := time.Now()
		_, err := c.exec(ctx, "SELECT pg_sleep(30)")
		cancel()
		if err == nil || time.Since(start) > 20*time.Second {
			t.Fatalf("%s: pg_sleep was not cancelled: %v", c.name, err)
		}
		if c.pgx == nil && sqlState(err) != "57014" {
			t.Errorf("%s: got %v, want query_canceled from the server", c.name, err)
		}
	}
}
