package tenancy_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/go-tenancy/tenancy"
)

// This file proves, under concurrent load, that no tenant ever sees another's data
// and that no statement runs in the wrong schema. faults_test.go and
// pgbouncer_test.go run the same load while breaking things.
//
// Every tenant schema has, besides the items table of addTenant, a one-row marker
// table holding the schema's own name. Every read returns the marker and
// current_schema() next to the rows, so a statement that ran in the wrong schema is
// caught even when it returns no tagged rows. Decoy marker and items tables in
// public and in the shared schema make a statement that fell back to either of them
// return data ("public", "shared") instead of failing with "relation does not
// exist", so a fallback shows up as a violation rather than as an error.

// opKind is one kind of operation of the load.
type opKind int

const (
	opWrite      opKind = iota // INSERT … RETURNING the marker and current_schema()
	opNamedWrite               // NamedExecContext INSERT
	opRead                     // latest rows with marker, current_schema() and backend pid
	opCount                    // count(*), foreign rows, marker; count ≥ commits seen before
	opPrepared                 // one DB-wide prepared statement, run with this tenant's context
	opConn                     // one *sql.Conn, reads for this tenant, another, and this again
	opShared                   // the Shared handle with a tenant context runs in the shared schema
	opTxCommit                 // transaction: write, checked reads, commit
	opTxRollback               // transaction: write, then roll back
	opSavepoint                // SAVEPOINT, write, SET LOCAL search_path elsewhere, ROLLBACK TO, write, commit
	opSQLError                 // a statement that fails (division by zero, missing table)
	opTxError                  // transaction: write, then a failing statement; rolled back
	opCancel                   // context deadline hits mid-statement (pg_sleep)
	opTxCancel                 // context deadline hits mid-transaction after a write
	opDisturb                  // session-level SET search_path / set_config / RESET left on the connection
	opTemp                     // a temporary marker table (the tenant's own name) left on the session
	opCursor                   // FETCH from a held cursor left on the session, then DECLARE one WITH HOLD
	opTxSet                    // transaction: SET / SET LOCAL / set_config of another tenant's schema, then checked reads
	opSlow                     // a statement that exceeds statement_timeout (fault tests only)
	opTxSlow                   // SET LOCAL statement_timeout, write, slow statement (fault tests only)
	numOps
)

var opNames = [numOps]string{
	"write", "named-write", "read", "count", "prepared", "conn", "shared",
	"tx-commit", "tx-rollback", "savepoint", "sql-error", "tx-error",
	"cancel", "tx-cancel", "disturb", "temp", "cursor", "tx-set", "slow", "tx-slow",
}

func (k opKind) String() string { return opNames[k] }

// defaultWeights is the operation mix of the load, in parts per about a thousand:
// reads dominate, and every kind of write, transaction ending and failure is
// present. Context cancellations are rare because they are by far the dearest:
// lib/pq sends the cancel request on a new connection and then closes the
// cancelled one, so each costs the server two process starts (about 25ms each on
// a small machine, one at a time in the postmaster).
var defaultWeights = [numOps]int{
	opWrite: 110, opNamedWrite: 45, opRead: 220, opCount: 90, opPrepared: 65, opConn: 45, opShared: 45,
	opTxCommit: 90, opTxRollback: 55, opSavepoint: 55, opSQLError: 55, opTxError: 45,
	opCancel: 1, opTxCancel: 1, opDisturb: 45, opTemp: 30, opCursor: 30, opTxSet: 30,
}

const (
	// readSQL returns one row per latest item of the schema it runs in (or one row
	// with a NULL tag when there is none), each with the schema's marker,
	// current_schema() and the server backend's pid. No arguments: one round trip.
	readSQL = `SELECT m.schema AS marker, COALESCE(current_schema(), '') AS cur, i.tenant AS tag, pg_backend_pid() AS pid
		FROM marker m LEFT JOIN LATERAL (SELECT tenant FROM items ORDER BY id DESC LIMIT 5) i ON true`
	// writeSQL inserts a row tagged $1 and says where it landed.
	writeSQL = `INSERT INTO items (tenant) VALUES ($1)
		RETURNING (SELECT schema FROM marker) AS marker, COALESCE(current_schema(), '') AS cur`
	// countSQL counts the schema's rows and those tagged for another tenant.
	countSQL = `SELECT (SELECT schema FROM marker) AS marker, COALESCE(current_schema(), '') AS cur,
		count(*) AS n, count(*) FILTER (WHERE tenant <> (SELECT schema FROM marker)) AS foreign_rows FROM items`
	// sleepSQL outlasts every deadline and statement_timeout of the tests by far,
	// so that a cancel request that is slow to arrive still finds it running.
	sleepSQL = `SELECT pg_sleep(1)`
)

type readRow struct {
	Marker string         `db:"marker"`
	Cur    string         `db:"cur"`
	Tag    sql.NullString `db:"tag"`
	PID    int            `db:"pid"`
}

type whereRow struct {
	Marker string `db:"marker"`
	Cur    string `db:"cur"`
}

type countRow struct {
	Marker  string `db:"marker"`
	Cur     string `db:"cur"`
	N       int64  `db:"n"`
	Foreign int64  `db:"foreign_rows"`
}

// errExpectation marks an error that is the load's own finding (an operation that
// should have failed succeeded, a result that breaks a rule), as opposed to an
// error the database returned. Fault tests tolerate the latter, never the former.
var errExpectation = errors.New("expectation failed")

// loadTenant is one tenant of the load and what is known about its rows.
type loadTenant struct {
	tenancy.Tenant
	ctx context.Context
	// committed counts rows whose commit was acknowledged; uncertain counts rows
	// whose commit failed with an error that may have come after the server
	// committed (fault tests). The schema must end with between committed and
	// committed+uncertain rows.
	committed atomic.Int64
	uncertain atomic.Int64
}

// loadSchemas creates n tenants t00…t(n-1) with a marker table each, and the decoy
// tables in public and in the shared schema.
func loadSchemas(t testing.TB, e *env, n int) []*loadTenant {
	t.Helper()
	for _, s := range []string{"public", "shared"} {
		mustExec(t, e.admin, fmt.Sprintf(`CREATE TABLE %[1]s.marker (schema text NOT NULL);
			INSERT INTO %[1]s.marker VALUES ('%[1]s');
			CREATE TABLE %[1]s.items (id serial PRIMARY KEY, tenant text NOT NULL, n int NOT NULL DEFAULT 0)`, s))
	}
	ts := make([]*loadTenant, n)
	for i := range ts {
		tn := e.addTenant(t, fmt.Sprintf("t%02d", i))
		mustExec(t, e.admin, fmt.Sprintf(`CREATE TABLE %[1]s.marker (schema text NOT NULL);
			INSERT INTO %[1]s.marker VALUES ('%[1]s')`, tn.Schema))
		ts[i] = &loadTenant{Tenant: tn, ctx: tctx(tn)}
	}
	return ts
}

// loadConfig says how to run a load.
type loadConfig struct {
	workers int
	weights [numOps]int
	// tolerate, if not nil, accepts errors returned by the database that the
	// fault being injected may cause (a killed connection, a statement timeout):
	// they are counted, not failures, and every write they interrupt counts as
	// uncertain. Results are still all checked; errors of this package
	// (ErrNoTenant, ErrTenantMismatch, ErrInvalidSchemaName) and errExpectation are
	// never tolerated.
	tolerate func(error) bool
	// onOp, if not nil, is called by a worker after each operation with the number
	// of operations done so far and whether this one succeeded.
	onOp func(total int64, ok bool)
	// onError, if not nil, is called by a worker after a tolerated error, before
	// its next operation (the restart test parks workers there while the server is
	// down).
	onError func()
	// cancelAfter is the least deadline of the cancel operations (default 1ms; up
	// to 4 times more at random). Behind PgBouncer a statement may queue for a
	// server connection longer than that, and be cancelled before it starts.
	cancelAfter time.Duration
}

// loadRun is one load over a set of tenants.
type loadRun struct {
	cfg     loadConfig
	db      *tenancy.DB
	tenants []*loadTenant
	stmt    *sqlx.Stmt // the DB-wide prepared statement of opPrepared
	total   int        // sum of weights

	ops              atomic.Int64
	perOp            [numOps]atomic.Int64
	okOps            atomic.Int64
	checked          atomic.Int64 // results (rows, markers, counts) verified
	violations       atomic.Int64 // results from another tenant or another schema
	unexpected       atomic.Int64 // errors that must not happen
	tolerated        atomic.Int64 // database errors accepted by cfg.tolerate
	timeouts         atomic.Int64 // statements cancelled by statement_timeout
	failedAsIntended atomic.Int64 // deliberate failures (sql-error, cancel, …) that failed
	midQuery         atomic.Int64 // cancellations the server reported (57014 query_canceled)
	late             atomic.Int64 // cancel operations whose statements completed before the cancel landed
	pids             sync.Map     // server backend pids seen by reads
	outcomes         sync.Map     // how cancel operations ended: string → *atomic.Int64

	mu   sync.Mutex
	msgs []string // the first problems, for the report
}

func newLoad(t testing.TB, db *tenancy.DB, tenants []*loadTenant, cfg loadConfig) *loadRun {
	t.Helper()
	r := &loadRun{cfg: cfg, db: db, tenants: tenants}
	for _, w := range cfg.weights {
		r.total += w
	}
	if cfg.weights[opPrepared] > 0 && db.Mode() == tenancy.SessionMode {
		// (TransactionMode prepares only inside a transaction: opPrepared then
		// prepares in one of its own.)
		st, err := db.PreparexContext(tenants[0].ctx, readSQL)
		if err != nil {
			t.Fatalf("prepare the shared statement: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		r.stmt = st
	}
	return r
}

// run runs perWorker operations on each of cfg.workers goroutines, or, if until is
// not nil, operations until it is closed.
func (r *loadRun) run(perWorker int, until <-chan struct{}) {
	var wg sync.WaitGroup
	for w := 0; w < r.cfg.workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for i := 0; until != nil || i < perWorker; i++ {
				if until != nil {
					select {
					case <-until:
						return
					default:
					}
				}
				r.one(rng)
			}
		}(w)
	}
	wg.Wait()
}

func (r *loadRun) pick(rng *rand.Rand) opKind {
	n := rng.IntN(r.total)
	for k, w := range r.cfg.weights {
		if n < w {
			return opKind(k)
		}
		n -= w
	}
	panic("unreachable")
}

func (r *loadRun) one(rng *rand.Rand) {
	tn := r.tenants[rng.IntN(len(r.tenants))]
	other := r.tenants[rng.IntN(len(r.tenants))]
	kind := r.pick(rng)
	r.perOp[kind].Add(1)
	err := r.op(kind, tn, other, rng)
	n := r.ops.Add(1)
	if isStatementTimeout(err) {
		r.timeouts.Add(1)
	}
	if err == nil {
		r.okOps.Add(1)
	} else if r.accepts(err) {
		r.tolerated.Add(1)
	} else {
		r.unexpected.Add(1)
		r.note("%s for %s: unexpected error: %v", kind, tn.Schema, err)
	}
	if r.cfg.onOp != nil {
		r.cfg.onOp(n, err == nil)
	}
	if err != nil && r.cfg.onError != nil {
		r.cfg.onError()
	}
}

// accepts reports whether cfg.tolerate accepts err.
func (r *loadRun) accepts(err error) bool {
	return r.cfg.tolerate != nil && !errors.Is(err, errExpectation) && !isTenancyError(err) && r.cfg.tolerate(err)
}

func isTenancyError(err error) bool {
	return errors.Is(err, tenancy.ErrNoTenant) || errors.Is(err, tenancy.ErrTenantMismatch) ||
		errors.Is(err, tenancy.ErrInvalidSchemaName)
}

func (r *loadRun) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) < 20 {
		r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
	}
}

// violation records a result that belongs to another tenant or schema.
func (r *loadRun) violation(format string, args ...any) error {
	r.violations.Add(1)
	msg := fmt.Sprintf(format, args...)
	r.note("VIOLATION: %s", msg)
	return fmt.Errorf("%w: %s", errExpectation, msg)
}

// checkWhere checks that a statement for want ran in want's schema.
func (r *loadRun) checkWhere(what, want string, w whereRow) error {
	r.checked.Add(1)
	if w.Marker != want || w.Cur != want {
		return r.violation("%s for %s ran in schema %q (marker %q)", what, want, w.Cur, w.Marker)
	}
	return nil
}

// checkRead checks the rows of readSQL for want.
func (r *loadRun) checkRead(what, want string, rows []readRow) error {
	if len(rows) == 0 {
		return r.violation("%s for %s returned no marker row", what, want)
	}
	for _, row := range rows {
		r.checked.Add(1)
		r.pids.Store(row.PID, true)
		if row.Marker != want || row.Cur != want || (row.Tag.Valid && row.Tag.String != want) {
			return r.violation("%s for %s saw marker %q, current_schema %q, row of %q",
				what, want, row.Marker, row.Cur, row.Tag.String)
		}
	}
	return nil
}

func scanReads(rows *sql.Rows, err error) ([]readRow, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []readRow
	for rows.Next() {
		var x readRow
		if err := rows.Scan(&x.Marker, &x.Cur, &x.Tag, &x.PID); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// read runs readSQL with db (a DB, Tx or anything with SelectContext) for tn.
func (r *loadRun) read(what string, q interface {
	SelectContext(context.Context, any, string, ...any) error
}, ctx context.Context, tn *loadTenant) error {
	var rows []readRow
	if err := q.SelectContext(ctx, &rows, readSQL); err != nil {
		return err
	}
	return r.checkRead(what, tn.Schema, rows)
}

// write inserts one row for tn with q and checks where it landed.
func (r *loadRun) write(what string, q interface {
	QueryRowxContext(context.Context, string, ...any) *sqlx.Row
}, ctx context.Context, tn *loadTenant) error {
	var w whereRow
	if err := q.QueryRowxContext(ctx, writeSQL, tn.Schema).StructScan(&w); err != nil {
		return err
	}
	return r.checkWhere(what, tn.Schema, w)
}

// count checks the schema's row count against the commits acknowledged before it
// started, and that no row is tagged for another tenant.
func (r *loadRun) count(ctx context.Context, tn *loadTenant) error {
	before := tn.committed.Load()
	var c countRow
	if err := r.db.GetContext(ctx, &c, countSQL); err != nil {
		return err
	}
	if err := r.checkWhere("count", tn.Schema, whereRow{c.Marker, c.Cur}); err != nil {
		return err
	}
	if c.Foreign != 0 {
		return r.violation("%s has %d rows tagged for other tenants", tn.Schema, c.Foreign)
	}
	if c.N < before {
		return r.violation("%s sees %d rows, but %d commits were acknowledged before the read", tn.Schema, c.N, before)
	}
	return nil
}

// intended records a deliberate failure: err must not be nil, and it must be one of
// the kinds the operation can produce (ok) or one the load tolerates.
func (r *loadRun) intended(kind opKind, err error, ok func(error) bool) error {
	if err == nil {
		return fmt.Errorf("%w: %s did not fail", errExpectation, kind)
	}
	if isTenancyError(err) {
		return err
	}
	if pqCode(err) == "57014" {
		r.midQuery.Add(1)
	}
	if isStatementTimeout(err) {
		r.timeouts.Add(1)
	}
	if !ok(err) && !r.accepts(err) {
		return fmt.Errorf("%w: %s failed with an unexpected error: %v", errExpectation, kind, err)
	}
	r.failedAsIntended.Add(1)
	return nil
}

// pqCode returns the SQLSTATE of a lib/pq or pgx error, or "".
func pqCode(err error) string {
	se, _ := tenancy.AsServerError(err)
	return se.Code
}

func isStatementTimeout(err error) bool {
	return pqCode(err) == "57014" && strings.Contains(err.Error(), "statement timeout")
}

func isCode(codes ...string) func(error) bool {
	return func(err error) bool {
		c := pqCode(err)
		for _, want := range codes {
			if c == want {
				return true
			}
		}
		return false
	}
}

// isCancel accepts what a statement cut short by its context's deadline returns:
// the context's error, the server's query_canceled, a transaction database/sql
// already rolled back, or (when the deadline struck just as the previous statement
// on the connection completed, so lib/pq closed the connection after it) a bad
// connection.
func isCancel(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		pqCode(err) == "57014" || errors.Is(err, sql.ErrTxDone) || errors.Is(err, driver.ErrBadConn)
}

// cancelled judges a cancel operation: it must fail as a cancellation, unless its
// deadline expired while its last statement was completing anyway (lib/pq then
// returns the result and closes the connection).
func (r *loadRun) cancelled(kind opKind, cctx context.Context, err error) error {
	r.outcome(kind.String() + ": " + cancelClass(err))
	if err == nil && cctx.Err() != nil {
		r.late.Add(1)
		return nil
	}
	return r.intended(kind, err, isCancel)
}

// deadline returns a random deadline for a cancel operation.
func (r *loadRun) deadline(rng *rand.Rand) time.Duration {
	d := r.cfg.cancelAfter
	if d == 0 {
		d = time.Millisecond
	}
	return d + time.Duration(rng.Int64N(int64(3*d)))
}

// cancelClass names how a cancel operation ended, for the summary.
func cancelClass(err error) string {
	switch {
	case err == nil:
		return "completed"
	case pqCode(err) != "":
		return "server " + pqCode(err)
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	case errors.Is(err, driver.ErrBadConn):
		return "bad connection"
	case errors.Is(err, sql.ErrTxDone):
		return "tx done"
	}
	return "other"
}

func (r *loadRun) outcome(what string) {
	n, _ := r.outcomes.LoadOrStore(what, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
}

// op runs one operation for tn (other is a second tenant some operations also use).
func (r *loadRun) op(kind opKind, tn, other *loadTenant, rng *rand.Rand) error {
	ctx, db := tn.ctx, r.db
	errRollback := errors.New("deliberate rollback")
	switch kind {
	case opWrite:
		if err := r.write("write", db, ctx, tn); err != nil {
			tn.uncertain.Add(1)
			return err
		}
		tn.committed.Add(1)
		return nil

	case opNamedWrite:
		res, err := db.NamedExecContext(ctx, `INSERT INTO items (tenant, n) VALUES (:tenant, :n)`,
			map[string]any{"tenant": tn.Schema, "n": rng.IntN(1000)})
		if err != nil {
			tn.uncertain.Add(1)
			return err
		}
		tn.committed.Add(1)
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("%w: named insert affected %d rows (%v)", errExpectation, n, err)
		}
		return nil

	case opRead:
		return r.read("read", db, ctx, tn)

	case opCount:
		return r.count(ctx, tn)

	case opPrepared:
		// database/sql prepares the statement again, with this context, on each
		// connection it lands on; PostgreSQL re-parses it whenever search_path
		// changed since it was last planned.
		var rows []readRow
		if r.stmt == nil {
			err := db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
				st, err := tx.PreparexContext(ctx, readSQL)
				if err != nil {
					return err
				}
				defer st.Close()
				return st.SelectContext(ctx, &rows)
			})
			if err != nil {
				return err
			}
			return r.checkRead("prepared in a transaction", tn.Schema, rows)
		}
		if err := r.stmt.SelectContext(ctx, &rows); err != nil {
			return err
		}
		return r.checkRead("prepared", tn.Schema, rows)

	case opConn:
		c, err := db.Pool().Conn(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		for _, x := range []*loadTenant{tn, other, tn} {
			rows, err := scanReads(c.QueryContext(x.ctx, readSQL))
			if err != nil {
				return err
			}
			if err := r.checkRead("conn", x.Schema, rows); err != nil {
				return err
			}
		}
		return nil

	case opShared:
		var w whereRow
		if err := db.Shared().GetContext(ctx, &w, `SELECT schema AS marker, COALESCE(current_schema(), '') AS cur FROM marker`); err != nil {
			return err
		}
		return r.checkWhere("shared handle", db.SharedSchema(), w)

	case opTxCommit:
		err := db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
			// A context without a tenant runs in the transaction's schema.
			if err := r.write("tx write", tx, context.Background(), tn); err != nil {
				return err
			}
			return r.read("tx read", tx, ctx, tn)
		})
		if err != nil {
			tn.uncertain.Add(1)
			return err
		}
		tn.committed.Add(1)
		return nil

	case opTxRollback:
		err := db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
			if err := r.write("tx write", tx, ctx, tn); err != nil {
				return err
			}
			return errRollback
		})
		if errors.Is(err, errRollback) {
			return nil
		}
		if err == nil {
			return fmt.Errorf("%w: InTx returned nil for a rolled-back transaction", errExpectation)
		}
		return err

	case opSavepoint:
		err := db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT s`); err != nil {
				return err
			}
			if err := r.write("write before savepoint rollback", tx, ctx, tn); err != nil {
				return err
			}
			// Move this transaction elsewhere, then undo it.
			if _, err := tx.ExecContext(ctx, `SET LOCAL search_path TO `+other.Schema); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
				return err
			}
			if err := r.read("read after ROLLBACK TO SAVEPOINT", tx, ctx, tn); err != nil {
				return err
			}
			return r.write("write after ROLLBACK TO SAVEPOINT", tx, ctx, tn)
		})
		if err != nil {
			tn.uncertain.Add(1)
			return err
		}
		tn.committed.Add(1)
		return nil

	case opSQLError:
		var err error
		if rng.IntN(2) == 0 {
			_, err = db.ExecContext(ctx, `SELECT 1/0`)
		} else {
			var n int
			err = db.GetContext(ctx, &n, `SELECT count(*) FROM no_such_table`)
		}
		return r.intended(kind, err, isCode("22012", "42P01"))

	case opTxError:
		err := db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
			if err := r.write("tx write", tx, ctx, tn); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `SELECT 1/0`)
			return err
		})
		return r.intended(kind, err, isCode("22012"))

	case opCancel:
		// Hold a connection first, so that the deadline hits the statement rather
		// than the wait for a pooled connection.
		c, err := db.Pool().Conn(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		cctx, cancel := context.WithTimeout(ctx, r.deadline(rng))
		defer cancel()
		_, err = c.ExecContext(cctx, sleepSQL)
		return r.cancelled(kind, cctx, err)

	case opTxCancel:
		c, err := db.Pool().Conn(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		cctx, cancel := context.WithTimeout(ctx, 2*r.deadline(rng))
		defer cancel()
		tx, err := c.BeginTx(cctx, nil)
		if err == nil {
			defer tx.Rollback()
			_, err = tx.ExecContext(cctx, `INSERT INTO items (tenant) VALUES ($1)`, tn.Schema)
			if err == nil {
				_, err = tx.ExecContext(cctx, sleepSQL)
			}
		}
		return r.cancelled(kind, cctx, err)

	case opDisturb:
		// What an application (or a hostile query) can do to its connection's
		// session: the next statement, of any tenant, must not inherit it.
		q := []string{
			`SET search_path TO ` + other.Schema,
			`SELECT set_config('search_path', '` + other.Schema + `', false)`,
			`RESET search_path`,
			`SET search_path TO public`,
		}[rng.IntN(4)]
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
		return r.read("read after "+q, db, ctx, tn)

	case opTemp:
		// A temporary table named like the tenant's marker shadows it for the
		// rest of the session's use by this tenant; holding the tenant's own name,
		// it is harmless to the tenant and caught at once if it reaches another.
		_, err := db.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS marker AS SELECT '`+tn.Schema+`'::text AS schema`)
		if err != nil {
			return err
		}
		return r.read("read after a temp table", db, ctx, tn)

	case opCursor:
		rows, err := db.QueryContext(ctx, `FETCH ALL FROM held`)
		if err == nil {
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					rows.Close()
					return err
				}
				r.checked.Add(1)
				if s != tn.Schema {
					rows.Close()
					return r.violation("FETCH from a held cursor for %s returned %s's marker", tn.Schema, s)
				}
			}
			err = rows.Close()
		}
		if err != nil && pqCode(err) != "34000" { // invalid_cursor_name: none left here
			return err
		}
		err = db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
			_, err := tx.ExecContext(ctx, `DECLARE held CURSOR WITH HOLD FOR SELECT schema FROM marker`)
			return err
		})
		if err != nil && pqCode(err) != "42P03" { // duplicate_cursor: this tenant left one
			return err
		}
		return nil

	case opTxSet:
		q := []string{
			`SET search_path TO ` + other.Schema,
			`SET LOCAL search_path TO ` + other.Schema,
			`SELECT set_config('search_path', '` + other.Schema + `', true)`,
			`SELECT set_config('search_path', '` + other.Schema + `', false)`,
		}[rng.IntN(4)]
		err := db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
			if err := r.write("tx write", tx, ctx, tn); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
			if err := r.read("tx read after "+q, tx, ctx, tn); err != nil {
				return err
			}
			return r.write("tx write after "+q, tx, ctx, tn)
		})
		if err != nil {
			tn.uncertain.Add(2)
			return err
		}
		tn.committed.Add(2)
		return nil

	case opSlow:
		_, err := db.ExecContext(ctx, sleepSQL)
		return r.intended(kind, err, isCode("57014"))

	case opTxSlow:
		err := db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
			if _, err := tx.ExecContext(ctx, `SET LOCAL statement_timeout = 50`); err != nil {
				return err
			}
			if err := r.write("tx write", tx, ctx, tn); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, sleepSQL)
			return err
		})
		return r.intended(kind, err, isCode("57014"))
	}
	panic("unknown op")
}

// verify fails t unless the load saw no violation and no unexpected error, ran
// every kind of operation it was given, and left every tenant with exactly (or, in
// fault tests, between the bounds of) the rows it committed, none of them foreign,
// and the decoys untouched.
func (r *loadRun) verify(t testing.TB, admin *sql.DB) {
	t.Helper()
	r.mu.Lock()
	for _, m := range r.msgs {
		t.Error(m)
	}
	r.mu.Unlock()
	if v := r.violations.Load(); v != 0 {
		t.Errorf("%d results came from another tenant or schema", v)
	}
	if u := r.unexpected.Load(); u != 0 {
		t.Errorf("%d operations failed unexpectedly", u)
	}
	// Every kind of operation the mix expects at least 10 of must have run (the
	// chance that one of them did not is e^-10).
	for k, w := range r.cfg.weights {
		if expected := float64(w) * float64(r.ops.Load()) / float64(r.total); expected >= 10 && r.perOp[k].Load() == 0 {
			t.Errorf("no %s operation ran (%.0f expected)", opKind(k), expected)
		}
	}
	if r.checked.Load() == 0 {
		t.Error("no result was checked")
	}
	r.verifyRows(t, admin)
}

// verifyRows checks every tenant's rows behind the library's back.
func (r *loadRun) verifyRows(t testing.TB, admin *sql.DB) {
	t.Helper()
	for _, tn := range r.tenants {
		var n, foreign int64
		err := admin.QueryRow(fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE tenant <> $1) FROM %s.items`, tn.Schema),
			tn.Schema).Scan(&n, &foreign)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := tn.committed.Load(), tn.committed.Load()
		if r.cfg.tolerate != nil {
			hi += tn.uncertain.Load()
		}
		if foreign != 0 || n < lo || n > hi {
			t.Errorf("%s: %d rows, %d of them foreign; want 0 foreign and between %d and %d rows", tn.Schema, n, foreign, lo, hi)
		}
	}
	for _, s := range []string{"public", "shared"} {
		var items int
		var marker string
		if err := admin.QueryRow(fmt.Sprintf(`SELECT (SELECT count(*) FROM %[1]s.items), (SELECT string_agg(schema, ',') FROM %[1]s.marker)`, s)).
			Scan(&items, &marker); err != nil {
			t.Fatal(err)
		}
		if items != 0 || marker != s {
			t.Errorf("decoy %s: %d items (want 0), marker %q", s, items, marker)
		}
	}
}

// round runs a checked read and a checked count for every tenant and returns the
// number of errors (violations are recorded as usual).
func (r *loadRun) round() (errs int, first error) {
	for _, tn := range r.tenants {
		for _, f := range []func() error{
			func() error { return r.read("final read", r.db, tn.ctx, tn) },
			func() error { return r.count(tn.ctx, tn) },
		} {
			if err := f(); err != nil {
				errs++
				if first == nil {
					first = fmt.Errorf("%s: %w", tn.Schema, err)
				}
			}
		}
	}
	return errs, first
}

func (r *loadRun) summary(t testing.TB, elapsed time.Duration) {
	t.Helper()
	var b strings.Builder
	for k := range r.perOp {
		if n := r.perOp[k].Load(); n > 0 {
			fmt.Fprintf(&b, " %s=%d", opKind(k), n)
		}
	}
	pids := 0
	r.pids.Range(func(any, any) bool { pids++; return true })
	var outcomes []string
	r.outcomes.Range(func(k, v any) bool {
		outcomes = append(outcomes, fmt.Sprintf("%s=%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(outcomes)
	fmt.Fprintf(&b, "; cancels: %s", strings.Join(outcomes, ", "))
	t.Logf("%d ops in %v (%.0f ops/s), %d ok, %d failed as intended (%d cancelled by the server mid-statement, %d cancels landed late), "+
		"%d tolerated errors, %d results checked, %d backend pids seen, %d violations, %d unexpected errors;%s",
		r.ops.Load(), elapsed.Round(time.Millisecond), float64(r.ops.Load())/elapsed.Seconds(), r.okOps.Load(),
		r.failedAsIntended.Load(), r.midQuery.Load(), r.late.Load(), r.tolerated.Load(), r.checked.Load(), pids,
		r.violations.Load(), r.unexpected.Load(), b.String())
}

// TestIsolationUnderLoad runs 50 tenants' worth of mixed operations (60,032 per
// driver and variant; 10,048 under -short) on 64 goroutines over a pool of 16
// connections, for both drivers in every variant, and checks every result: no row of another tenant, no statement in another
// schema, every committed row where it belongs and nothing else.
func TestIsolationUnderLoad(t *testing.T) {
	t.Parallel()
	const tenants, workers, pool = 50, 64, 16
	total := 60_000
	if testing.Short() {
		total = 10_000
	}
	perWorker := (total + workers - 1) / workers
	for _, d := range loadDrivers {
		for _, v := range isolationVariants {
			t.Run(d+"/"+v.name, func(t *testing.T) {
				t.Parallel()
				e := newEnvDriver(t, d, v.opts...)
				e.db.Pool().SetMaxOpenConns(pool)
				e.db.Pool().SetMaxIdleConns(pool)
				ts := loadSchemas(t, e, tenants)
				r := newLoad(t, e.db, ts, loadConfig{workers: workers, weights: defaultWeights})

				start := time.Now()
				r.run(perWorker, nil)
				elapsed := time.Since(start)
				r.summary(t, elapsed)

				if got, want := r.ops.Load(), int64(perWorker*workers); got != want || got < int64(total) {
					t.Errorf("ran %d operations, want %d (≥ %d)", got, want, total)
				}
				if s := e.db.Pool().Stats(); s.MaxOpenConnections != pool {
					t.Errorf("pool allows %d connections, want %d", s.MaxOpenConnections, pool)
				}
				if errs, first := r.round(); errs != 0 {
					t.Errorf("final round of reads: %d errors, first: %v", errs, first)
				}
				r.verify(t, e.admin)
				deliberate := r.perOp[opSQLError].Load() + r.perOp[opTxError].Load() + r.perOp[opCancel].Load() + r.perOp[opTxCancel].Load()
				if n := r.failedAsIntended.Load() + r.late.Load(); n != deliberate {
					t.Errorf("%d of %d deliberate failures failed", n, deliberate)
				}
				// lib/pq cancels with a cancel request, which the server answers
				// with 57014; pgx (by default) sets a deadline on the network
				// connection and drops it, so the server reports nothing and the
				// load sees the context's error.
				if d == "postgres" && r.midQuery.Load() == 0 {
					t.Error("no statement was cancelled by the server mid-query")
				}
			})
		}
	}
}

// hostileSchemas are schema names an attacker, a corrupted registry row or a bug
// may put in a Tenant. Each must be refused before anything reaches the server.
var hostileSchemas = []string{
	`a"; drop schema shared cascade; --`,
	`a"; DROP SCHEMA shared CASCADE; --`,
	`acme"; SET search_path TO shared; --`,
	"a,public", "a, public", "acme,shared", `"acme"`, `"acme", public`, "a'b", "acme'; --",
	"a b", " acme", "acme ", "ac\nme", "acme\n", "\tacme", "ac\x00me", "acme\x00", "\x00",
	"acme;", "a.b", "shared.tenants", "$user", "1acme", "acme-corp", `a\b`, "acme/*", "*/acme",
	"public", "PUBLIC", "pg_catalog", "pg_toast", "pg_temp", "pg_anything", "information_schema",
	"shared", "SHARED",
	strings.Repeat("a", 64), strings.Repeat("a", 100), strings.Repeat("é", 40),
	"Acme", "ACME", "acmE",
	"\u0430cme",                // Cyrillic а
	"acme\u200b",               // zero-width space
	"\uff41\uff43\uff4d\uff45", // fullwidth acme
	"acme\u0301",               // combining accent
	"straße", "ǆ",
	"\xff\xfe", "acme\xc3",
	"",
}

// catalogSnapshot lists every schema and table of the database, and the registry.
func catalogSnapshot(t testing.TB, admin *sql.DB) string {
	t.Helper()
	var s string
	err := admin.QueryRow(`SELECT
		(SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace) || ' | ' ||
		(SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY schemaname, tablename) FROM pg_tables) || ' | ' ||
		(SELECT string_agg(id || ':' || schema, ',' ORDER BY id) FROM shared.tenants)`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHostileSchemaNames puts each hostile schema name in a context with
// NewContext and tries every entry point of the DB with it: each must fail with a
// *SchemaNameError (errors.Is ErrInvalidSchemaName) naming it, send nothing to the
// server, and leave the catalog as it was.
func TestHostileSchemaNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.db.Pool().SetMaxOpenConns(1) // one connection, opened before counting
	acme := e.addTenant(t, "acme")
	acmeCtx := tctx(acme)
	mustExec(t, e.admin, `CREATE TABLE public.marker (schema text); INSERT INTO public.marker VALUES ('public')`)
	if err := e.db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	acmeStmt, err := e.db.PreparexContext(acmeCtx, `SELECT count(*) FROM items`)
	if err != nil {
		t.Fatal(err)
	}
	defer acmeStmt.Close()
	before := catalogSnapshot(t, e.admin)

	type entry struct {
		name string
		call func(ctx context.Context) error
	}
	var n int
	entries := []entry{
		{"ExecContext", func(ctx context.Context) error {
			_, err := e.db.ExecContext(ctx, `CREATE TABLE pwned (x int)`)
			return err
		}},
		{"QueryContext", func(ctx context.Context) error {
			rows, err := e.db.QueryContext(ctx, `SELECT 1`)
			if err == nil {
				rows.Close()
			}
			return err
		}},
		{"QueryxContext", func(ctx context.Context) error {
			rows, err := e.db.QueryxContext(ctx, `SELECT 1`)
			if err == nil {
				rows.Close()
			}
			return err
		}},
		{"QueryRowxContext", func(ctx context.Context) error { return e.db.QueryRowxContext(ctx, `SELECT 1`).Scan(&n) }},
		{"GetContext", func(ctx context.Context) error { return e.db.GetContext(ctx, &n, `SELECT 1`) }},
		{"SelectContext", func(ctx context.Context) error { return e.db.SelectContext(ctx, &[]int{}, `SELECT 1`) }},
		{"NamedExecContext", func(ctx context.Context) error {
			_, err := e.db.NamedExecContext(ctx, `CREATE TABLE pwned AS SELECT :x AS x`, map[string]any{"x": 1})
			return err
		}},
		{"NamedQueryContext", func(ctx context.Context) error {
			rows, err := e.db.NamedQueryContext(ctx, `SELECT :x`, map[string]any{"x": 1})
			if err == nil {
				rows.Close()
			}
			return err
		}},
		{"PreparexContext", func(ctx context.Context) error {
			st, err := e.db.PreparexContext(ctx, `SELECT 1`)
			if err == nil {
				st.Close()
			}
			return err
		}},
		{"BeginTxx", func(ctx context.Context) error {
			tx, err := e.db.BeginTxx(ctx, nil)
			if err == nil {
				tx.Rollback()
			}
			return err
		}},
		{"InTx", func(ctx context.Context) error {
			return e.db.InTx(ctx, nil, func(*tenancy.Tx) error {
				return errors.New("InTx ran its function")
			})
		}},
		{"Pool().ExecContext", func(ctx context.Context) error {
			_, err := e.db.Pool().ExecContext(ctx, `CREATE TABLE pwned (x int)`)
			return err
		}},
		{"Pool().QueryRowContext", func(ctx context.Context) error { return e.db.Pool().QueryRowContext(ctx, `SELECT 1`).Scan(&n) }},
		{"Pool().PrepareContext", func(ctx context.Context) error {
			st, err := e.db.Pool().PrepareContext(ctx, `SELECT 1`)
			if err == nil {
				st.Close()
			}
			return err
		}},
		{"Pool().BeginTx", func(ctx context.Context) error {
			tx, err := e.db.Pool().BeginTx(ctx, nil)
			if err == nil {
				tx.Rollback()
			}
			return err
		}},
		{"sql.Conn.ExecContext", func(ctx context.Context) error {
			c, err := e.db.Pool().Conn(context.Background())
			if err != nil {
				return fmt.Errorf("%w: Conn: %v", errExpectation, err)
			}
			defer c.Close()
			_, err = c.ExecContext(ctx, `CREATE TABLE pwned (x int)`)
			return err
		}},
		{"Stmt prepared for acme", func(ctx context.Context) error { return acmeStmt.GetContext(ctx, &n) }},
	}

	for _, schema := range hostileSchemas {
		ctx := tctx(tenancy.Tenant{ID: 666, Name: "hostile", Schema: schema})
		if got, ok := tenancy.FromContext(ctx); !ok || got.Schema != schema {
			t.Fatalf("FromContext does not return the tenant as given: %+v", got)
		}
		for _, ep := range entries {
			e.rt.Reset()
			err := ep.call(ctx)
			var sne *tenancy.SchemaNameError
			if !errors.Is(err, tenancy.ErrInvalidSchemaName) || !errors.As(err, &sne) || sne.Name != schema || sne.Reason == "" {
				t.Errorf("%s with schema %q: %v, want a *SchemaNameError for it", ep.name, schema, err)
			}
			if rt := e.rt.RoundTrips(); rt != 0 {
				t.Errorf("%s with schema %q: %d round trips, want none", ep.name, schema, rt)
			}
		}
		// The registry refuses to look up an invalid name without a query.
		e.rt.Reset()
		if _, err := e.reg.Context(context.Background(), tenancy.SchemaKey(schema)); !errors.Is(err, tenancy.ErrUnknownTenant) {
			t.Errorf("Registry.Context(%q): %v, want ErrUnknownTenant", schema, err)
		}
		// "shared" is a well-formed name, reserved by the DB rather than by the
		// rules: the registry looks it up (as a bound parameter) and finds nothing.
		if rt := e.rt.RoundTrips(); rt != 0 && tenancy.ValidateSchemaName(schema) != nil {
			t.Errorf("Registry.Context(%q): %d round trips, want none", schema, rt)
		}
		if err := e.db.ValidateSchemaName(schema); !errors.Is(err, tenancy.ErrInvalidSchemaName) {
			t.Errorf("DB.ValidateSchemaName(%q) = %v", schema, err)
		}
	}

	// Inside a transaction bound to acme, a statement whose context names a
	// hostile schema is refused as a mismatch, before its name is looked at.
	err = e.db.InTx(acmeCtx, nil, func(tx *tenancy.Tx) error {
		for _, schema := range hostileSchemas {
			ctx := tctx(tenancy.Tenant{Schema: schema})
			e.rt.Reset()
			_, err := tx.ExecContext(ctx, `CREATE TABLE pwned (x int)`)
			if !errors.Is(err, tenancy.ErrTenantMismatch) {
				t.Errorf("statement for %q in acme's transaction: %v, want ErrTenantMismatch", schema, err)
			}
			if rt := e.rt.RoundTrips(); rt != 0 {
				t.Errorf("statement for %q in acme's transaction: %d round trips", schema, rt)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The Shared handle ignores the context's tenant, hostile or not: it runs in
	// the shared schema and nowhere else.
	for _, schema := range hostileSchemas[:3] {
		var cur string
		if err := e.db.Shared().GetContext(tctx(tenancy.Tenant{Schema: schema}), &cur, `SELECT current_schema()`); err != nil || cur != "shared" {
			t.Errorf("Shared handle with tenant %q ran in %q (%v)", schema, cur, err)
		}
	}

	if after := catalogSnapshot(t, e.admin); after != before {
		t.Errorf("the catalog changed:\nbefore %s\nafter  %s", before, after)
	}
	// The connection is still usable, and still scoped.
	var cur string
	if err := e.db.GetContext(acmeCtx, &cur, `SELECT current_schema()`); err != nil || cur != "acme" {
		t.Fatalf("after the hostile calls, acme's statement ran in %q (%v)", cur, err)
	}
}

// TestHostileSchemaNamesReservedBySearchPath: a schema named in WithSearchPath is
// shared by every tenant's search_path; DB.ValidateSchemaName refuses it as a
// tenant schema, and a context naming it must be refused too, as the shared schema
// is.
func TestHostileSchemaNamesReservedBySearchPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mustExec(t, e.admin, `CREATE SCHEMA lookup; CREATE TABLE lookup.codes (code text)`)
	db := openCounted(t, e.dsn, e.rt, tenancy.WithSearchPath("lookup"))
	if err := db.ValidateSchemaName("lookup"); !errors.Is(err, tenancy.ErrInvalidSchemaName) {
		t.Fatalf("DB.ValidateSchemaName(lookup) = %v, want ErrInvalidSchemaName", err)
	}
	for _, schema := range []string{"shared", "lookup"} {
		ctx := tctx(tenancy.Tenant{Schema: schema})
		_, err := db.ExecContext(ctx, `INSERT INTO codes VALUES ('written by a tenant')`)
		if !errors.Is(err, tenancy.ErrInvalidSchemaName) {
			t.Errorf("statement for a tenant with schema %q: %v, want ErrInvalidSchemaName", schema, err)
		}
	}
	var n int
	if err := e.admin.QueryRow(`SELECT count(*) FROM lookup.codes`).Scan(&n); err != nil || n != 0 {
		t.Errorf("lookup.codes has %d rows (%v), want 0", n, err)
	}
}

// TestHostileMissingSchema: a valid name whose schema does not exist (a dropped
// tenant, a stale registry row) is skipped by PostgreSQL; the statement must then
// find nothing, not fall back to public.
func TestHostileMissingSchema(t *testing.T) {
	t.Parallel()
	for _, v := range driverVariants() {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvDriver(t, v.driver, v.opts...)
			mustExec(t, e.admin, `CREATE TABLE public.marker (schema text); INSERT INTO public.marker VALUES ('public')`)
			ghost := tctx(tenancy.Tenant{Schema: "ghost"})
			var cur sql.NullString
			if err := e.db.GetContext(ghost, &cur, `SELECT current_schema()`); err != nil || cur.Valid {
				t.Errorf("current_schema() for a missing schema = %v (%v), want NULL", cur, err)
			}
			var marker string
			err := e.db.GetContext(ghost, &marker, `SELECT schema FROM marker`)
			if pqCode(err) != "42P01" {
				t.Errorf("unqualified table for a missing schema: marker %q, err %v; want 42P01 undefined_table", marker, err)
			}
			if _, err := e.db.ExecContext(ghost, `CREATE TABLE pwned (x int)`); pqCode(err) != "3F000" {
				t.Errorf("CREATE TABLE for a missing schema: %v, want 3F000 (no schema has been selected)", err)
			}
		})
	}
}

// TestIsolationSavepointAfterError: the usual use of a savepoint is to recover from
// a failed statement inside a transaction (SAVEPOINT, statement fails, ROLLBACK TO
// SAVEPOINT, carry on). It must work in both modes, and the transaction must stay
// in its tenant's schema afterwards.
func TestIsolationSavepointAfterError(t *testing.T) {
	t.Parallel()
	for _, v := range driverVariants() {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvDriver(t, v.driver, v.opts...)
			ts := loadSchemas(t, e, 2)
			acme := ts[0]
			r := newLoad(t, e.db, ts, loadConfig{})
			err := e.db.InTx(acme.ctx, nil, func(tx *tenancy.Tx) error {
				if _, err := tx.Exec(`SAVEPOINT s`); err != nil {
					return err
				}
				if err := r.write("write before the error", tx, acme.ctx, acme); err != nil {
					return err
				}
				if _, err := tx.Exec(`SELECT 1/0`); pqCode(err) != "22012" {
					return fmt.Errorf("division by zero: %v", err)
				}
				if _, err := tx.Exec(`ROLLBACK TO SAVEPOINT s`); err != nil {
					return fmt.Errorf("ROLLBACK TO SAVEPOINT after an error: %w", err)
				}
				if err := r.write("write after ROLLBACK TO SAVEPOINT", tx, acme.ctx, acme); err != nil {
					return err
				}
				return r.read("read after ROLLBACK TO SAVEPOINT", tx, acme.ctx, acme)
			})
			if err != nil {
				t.Fatal(err)
			}
			acme.committed.Add(1)
			r.verify(t, e.admin)
		})
	}
}

// TestIsolationPrepareInTransactionMode: in TransactionMode a statement prepared
// inside a transaction must be parsed in the tenant's schema (PostgreSQL resolves
// table names when it parses), even with a decoy table where the session's default
// search_path points, and every execution must see the transaction's tenant only.
// (Outside a transaction TransactionMode refuses to prepare:
// TestTransactionModeRefusesPrepare.)
func TestIsolationPrepareInTransactionMode(t *testing.T) {
	t.Parallel()
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e := newEnvDriver(t, d, tenancy.WithMode(tenancy.TransactionMode))
			a, b := e.addTenant(t, "acme"), e.addTenant(t, "globex")
			mustExec(t, e.admin, `INSERT INTO acme.items (tenant) VALUES ('acme'); INSERT INTO globex.items (tenant) VALUES ('globex');
				CREATE TABLE public.items (tenant text); INSERT INTO public.items VALUES ('public')`)
			for _, tn := range []tenancy.Tenant{a, b, a} {
				err := e.db.InTx(tctx(tn), nil, func(tx *tenancy.Tx) error {
					st, err := tx.PreparexContext(tctx(tn), `SELECT tenant FROM items`)
					if err != nil {
						return err
					}
					defer st.Close()
					for range 2 {
						var tags []string
						if err := st.SelectContext(tctx(tn), &tags); err != nil {
							return err
						}
						if len(tags) != 1 || tags[0] != tn.Schema {
							return fmt.Errorf("prepared statement run for %s returned %v", tn.Schema, tags)
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestIsolationSearchPathSideEffects: a server-side function that changes
// search_path as a side effect (set_config inside its body) does not move the
// connection's next statement, in either mode, since every statement carries its
// own SET; and a function with a SET search_path clause works as PostgreSQL
// defines it (the setting holds inside it and is restored when it returns).
func TestIsolationSearchPathSideEffects(t *testing.T) {
	t.Parallel()
	for _, d := range drivers {
		for _, mode := range []tenancy.Mode{tenancy.SessionMode, tenancy.TransactionMode} {
			t.Run(d+"/"+mode.String(), func(t *testing.T) {
				t.Parallel()
				e := newEnvDriver(t, d, tenancy.WithMode(mode))
				e.db.Pool().SetMaxOpenConns(1)
				ts := loadSchemas(t, e, 2)
				t00 := ts[0]
				mustExec(t, e.admin, `CREATE FUNCTION public.moves_path() RETURNS int LANGUAGE plpgsql AS $$
				BEGIN PERFORM set_config('search_path', 't01', false); RETURN 1; END $$;
				CREATE FUNCTION public.scoped_path() RETURNS text LANGUAGE sql SET search_path = t01
				AS $$ SELECT current_schema()::text $$`)
				r := newLoad(t, e.db, ts, loadConfig{})
				if err := r.read("read", e.db, t00.ctx, t00); err != nil {
					t.Fatal(err)
				}

				var inside string
				if err := e.db.GetContext(t00.ctx, &inside, `SELECT public.scoped_path()`); err != nil || inside != "t01" {
					t.Fatalf("scoped_path() = %q, %v", inside, err)
				}
				if err := r.read("read after a function with a SET clause", e.db, t00.ctx, t00); err != nil {
					t.Errorf("%v", err)
				}

				if _, err := e.db.ExecContext(t00.ctx, `SELECT public.moves_path()`); err != nil {
					t.Fatal(err)
				}
				var rows []readRow
				if err := e.db.SelectContext(t00.ctx, &rows, readSQL); err != nil {
					t.Fatal(err)
				}
				if len(rows) != 1 || rows[0].Marker != "t00" || rows[0].Cur != "t00" {
					t.Fatalf("after moves_path(), t00's read saw %+v; want schema t00", rows)
				}
			})
		}
	}
}
