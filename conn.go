package tenancy

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/go-tenancy/tenancy/internal/session"
	"github.com/go-tenancy/tenancy/internal/wire"
)

// This file holds the driver layer: a driver.Connector whose connections put every
// statement in the schema named by the statement's context. database/sql hands the
// context of each QueryContext/ExecContext/BeginTx call down to the driver, so the
// connection itself can check the scope, switch search_path when (and only when) it
// must, and refuse to run a statement that has no scope. Because the check lives on
// the connection, it holds for every path to it: the [DB] methods, [DB.Pool], a
// *sql.Conn, prepared statements, and code that never heard of this package.

// connector wraps the driver's connector.
type connector struct {
	inner driver.Connector
	cfg   *config
	aff   *affinity // nil when connections do not trade (TransactionMode, WithAffinity(false))
	seam  seam
}

var (
	_ driver.Connector = (*connector)(nil)
	_ io.Closer        = (*connector)(nil)
)

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	cctx, cp := wire.WithCapture(ctx)
	ic, err := c.inner.Connect(cctx)
	if err != nil {
		return nil, err
	}
	return &conn{inner: ic, w: wireOf(ic, cp), cfg: c.cfg, aff: c.aff, seam: c.seam, fresh: true}, nil
}

// wireOf finds the wire.Conn under a new driver connection, if its network
// connection was made through one: lib/pq dialing through wire.Dialer reports it
// to the capture; under pgx, AfterNetConnect put it below pgconn.
func wireOf(ic driver.Conn, cp *wire.Capture) *wire.Conn {
	if w := cp.Conn(); w != nil {
		return w
	}
	if pc, ok := ic.(interface{ Conn() *pgx.Conn }); ok {
		if p := pc.Conn(); p != nil {
			if w, ok := wire.From(p.PgConn().Conn()); ok {
				return w
			}
		}
	}
	return nil
}

func (c *connector) Driver() driver.Driver { return c.inner.Driver() }

// Close closes the inner connector if it has a Close method (database/sql calls it
// from DB.Close).
func (c *connector) Close() error {
	if cl, ok := c.inner.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// dsnConnector adapts a driver without DriverContext to driver.Connector.
type dsnConnector struct {
	dsn string
	drv driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

// conn is one of database/sql's connections. It holds one physical connection
// (inner), which it may trade with an idle conn's (see affinity.go). database/sql
// never uses a driver.Conn from two goroutines at once; the fields an idle conn's
// trade changes (inner, owner, and the list fields) are guarded by aff.mu while it
// is parked.
//
// # What a connection trusts
//
// Nothing about a session is remembered that the server has not confirmed, and
// nothing that a statement could change is trusted at all:
//
//   - search_path is set in front of every statement (SET, or SET LOCAL in
//     TransactionMode), in the same message when the driver allows it. No memory of
//     "this session is already on schema X" exists to go stale, so no statement,
//     function, trigger, rollback or text transaction can make a later statement run
//     elsewhere.
//   - owner is the one thing remembered: the schema whose statements last ran on
//     the session, recorded only once a reset sent for it succeeded outside any
//     transaction (so nothing can roll the reset back) and the server then reported
//     itself idle. A statement for any other schema, or on a session whose owner is
//     unknown, first clears what an earlier tenant may have left there
//     (session.Reset: cursors, temporary tables, settings, role, SQL prepared
//     statements), in the same message as the statement when it can.
//   - after every statement the server's transaction status is compared with what
//     the library expects: a transaction the library did not open is rolled back and
//     reported, one that ended under a library Tx makes the Tx refuse the rest.
type conn struct {
	inner driver.Conn
	// w is the protocol-level wrapper under inner's network connection, or nil:
	// with it, what scopes a statement goes in front of it in the same flight
	// whatever the statement (see wire). It moves with inner in an affinity trade.
	w    *wire.Conn
	cfg  *config
	aff  *affinity
	seam seam

	// owner is the schema whose statements last ran on this session after a
	// proven reset (see above), or "" when unknown: a new connection, a reset that
	// failed or could be rolled back, an unexpected transaction status, a
	// connection pinned for the migrator, a driver that cannot tell the status.
	owner string

	// fresh: no statement has run since database/sql handed the connection out, so
	// its physical connection may still be traded.
	fresh bool
	// stmts counts the open prepared statements on the physical connection; while
	// there are any, it is not traded, and a reset keeps protocol-level statements.
	stmts int
	// parked: returned to database/sql's pool and not used since. listed: on the
	// idle list. prev, next: the list links. Guarded by aff.mu (parked is read
	// without it by the connection's own user; see affinity.touch).
	parked, listed bool
	prev, next     *conn

	// bound is the scope of the open transaction (or of a pinned connection): every
	// statement on the connection runs in it, whatever its own context says, and a
	// context naming another schema is refused.
	bound *scope
	// pinned is the scope of a connection handed to the migrator; see DB.pin.
	pinned *scope

	inTx bool // a transaction begun through BeginTx is open
	// txEnded: the server ended the open transaction although the library did not
	// (a COMMIT hidden in a multi-statement text); every further statement of it is
	// refused.
	txEnded bool
	// broken: the session could not be brought back to a known state (a ROLLBACK
	// of a transaction the library did not open failed); database/sql discards it.
	broken bool
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

// txMode reports whether statements get transaction-local search_path. A pinned
// connection (the migrator's) always uses session mode: migrations manage their own
// transactions and take session-level advisory locks.
func (cn *conn) txMode() bool { return cn.cfg.mode == TransactionMode && cn.pinned == nil }

// target returns the schema a statement with this context must run in.
func (cn *conn) target(ctx context.Context) (string, error) {
	s := scopeFrom(ctx)
	if b := cn.bound; b != nil {
		if s != nil && s.schema != b.schema {
			return "", fmt.Errorf("%w: statement for schema %q on a connection bound to %q",
				ErrTenantMismatch, s.schema, b.schema)
		}
		return b.schema, nil
	}
	if s == nil {
		if p := cn.pinned; p != nil {
			return p.schema, nil
		}
		return "", ErrNoTenant
	}
	if p := cn.pinned; p != nil && p.schema != s.schema {
		return "", fmt.Errorf("%w: statement for schema %q on a connection pinned to %q",
			ErrTenantMismatch, s.schema, p.schema)
	}
	if s.err != nil {
		return "", s.err
	}
	if s.tenant != nil && cn.cfg.isReserved(s.schema) {
		return "", &SchemaNameError{Name: s.schema, Reason: "it is reserved for shared tables"}
	}
	return s.schema, nil
}

// plan is what is sent in front of one statement.
type plan struct {
	schema string
	// prefix: the statements (joined with "; ") that scope the session for it, or
	// "" for none (transaction control inside a transaction).
	prefix string
	// resets: prefix clears the session for schema, and the connection may record
	// schema as its owner once it is proven (see conn.settled).
	resets bool
	// wired: the prefix went in front of the statement on the wire (conn.arm), so
	// the reset is proven only if the wire reports it committed.
	wired bool
	// local: a TransactionMode statement outside a transaction whose SET LOCAL
	// prefix goes in front of each of the driver's batches for it (wire
	// PrefixEachBatch): it runs in its own implicit transaction, with no BEGIN to
	// finish.
	local bool
}

// begin checks and plans a statement with ctx's scope: the first step of every
// statement, prepared or not, and of BeginTx.
func (cn *conn) begin(ctx context.Context, query string) (plan, error) {
	cn.touch()
	schema, err := cn.target(ctx)
	if err != nil {
		return plan{}, err
	}
	if cn.inTx && cn.txEnded {
		return plan{}, ErrTxEnded
	}
	switch txControl(query) {
	case txEnds:
		return plan{}, fmt.Errorf("%w: %q (use the Tx's Commit or Rollback, or DB.BeginTxx / DB.InTx)",
			ErrTxControl, firstWord(query))
	case txSavepoint:
		if cn.inTx {
			// Resolves no name, and is all an aborted transaction accepts: a
			// ROLLBACK TO SAVEPOINT recovering from an error must not follow a SET.
			return plan{schema: schema}, nil
		}
	}
	return cn.planFor(ctx, schema), nil
}

// planFor returns what must precede a statement in schema (see the type comment).
func (cn *conn) planFor(ctx context.Context, schema string) plan {
	if cn.txMode() {
		set := cn.cfg.setSQL(schema, true)
		if cn.inTx {
			return plan{schema: schema, prefix: set} // the session was cleared at BeginTx
		}
		return plan{schema: schema, prefix: session.ResetLocal + "; " + set}
	}
	set := cn.cfg.setSQL(schema, false)
	if cn.inTx {
		return plan{schema: schema, prefix: set} // the session was reset at BeginTx
	}
	fresh := cn.fresh
	cn.fresh = false
	if cn.owner == schema || fresh && cn.aff != nil && cn.stmts == 0 && cn.pinned == nil && cn.trade(ctx, schema) {
		return plan{schema: schema, prefix: set}
	}
	return plan{schema: schema, prefix: session.Reset(cn.seam.keepsStatements(cn)) + "; " + set, resets: true}
}

// trade asks the affinity list for an idle session of schema's (see affinity.go),
// and tells the AffinityTrade hook, if any.
func (cn *conn) trade(ctx context.Context, schema string) bool {
	ok := cn.aff.take(cn, schema)
	if h := cn.cfg.hooks; h != nil && h.AffinityTrade != nil {
		h.AffinityTrade(ctx, TradeEvent{Schema: schema, Traded: ok})
	}
	return ok
}

// inlined returns the text that sends p's prefix and query in one message, or ""
// when they must go separately: the driver must send a statement without
// arguments in one simple-protocol message, and query must be one statement that
// PostgreSQL runs inside a transaction block (see pipelinable), outside a library
// transaction in TransactionMode as in SessionMode.
func (cn *conn) inlined(p plan, query string, st driver.Stmt, args []driver.NamedValue, exec bool) string {
	if p.prefix == "" || st != nil || len(args) != 0 || !cn.seam.inline(exec) || !pipelinable(query) {
		return ""
	}
	return p.prefix + "; " + query
}

// scope sends p's prefix on its own, ahead of its statement. In TransactionMode
// outside a transaction it opens the statement's transaction (BEGIN in the same
// message), which the caller ends with finish.
func (cn *conn) scope(ctx context.Context, p plan) error {
	if p.prefix == "" {
		return nil
	}
	q := p.prefix
	implicit := cn.txMode() && !cn.inTx
	if implicit {
		q = "BEGIN; " + q
	}
	if _, err := cn.innerExec(ctx, q, nil); err != nil {
		if implicit {
			cn.rollbackText(ctx)
		}
		return cn.settled(ctx, plan{}, err)
	}
	if !implicit && !cn.inTx && p.resets && cn.txStatus() == 'I' {
		// The reset is committed: nothing can undo it.
		cn.owner = p.schema
	}
	return nil
}

// arm gets p's prefix in front of the statement query: in the same flight on the
// wire when the connection has a wire.Conn and query may run in a transaction
// block (the prefix makes it part of one), else in a message of its own (scope).
// It returns the plan settled must check: with the prefix on the wire, whether
// the reset is proven is known only from the wire's outcome; after scope, the
// owner is already recorded.
func (cn *conn) arm(ctx context.Context, p plan, query string) (plan, error) {
	if p.prefix == "" {
		return p, nil
	}
	if cn.w != nil && cn.w.Available() && pipelinable(query) {
		q := p.prefix
		if cn.txMode() && !cn.inTx {
			// SET LOCAL lasts for one implicit transaction, and a statement the
			// driver sends as two batches (describe, then execute) spans two.
			if cn.seam.parsesToExecute(cn) {
				// The prefix goes in front of each, so the statement is described
				// and run with it, in the driver's own round trips; the batch that
				// executes parses it again, so the two may run on different
				// server connections behind a pooler.
				if cn.w.PrefixEachBatch(q) == nil {
					p.wired, p.local = true, true
					cn.switched(ctx, p, true)
					return p, nil
				}
			}
			// Else open a transaction block in front of it, ended by finish:
			// the execution binds what the first batch parsed, which only that
			// server connection has.
			q = "BEGIN; " + q
		}
		if cn.w.Prefix(q) == nil {
			p.wired = true
			cn.switched(ctx, p, true)
			return p, nil
		}
	}
	cn.switched(ctx, p, false)
	if err := cn.scope(ctx, p); err != nil {
		return p, err
	}
	p.resets = false // scope recorded the owner if the reset is proven
	return p, nil
}

// unsent withdraws a wired prefix the driver never sent (it failed before
// writing anything): nothing ran, and the next statement must not carry it.
func (cn *conn) unsent(p plan) {
	if p.wired && (p.local || !cn.w.Outcome().Sent) {
		// (A per-batch prefix is withdrawn in any case: the statement is sent.)
		cn.w.Disarm()
	}
}

// finish ends the transaction scope opened for a standalone statement in
// TransactionMode (p's, by scope): COMMIT if the statement succeeded, else
// ROLLBACK.
func (cn *conn) finish(ctx context.Context, p plan, err error) error {
	if !cn.txMode() || cn.inTx || p.local {
		return err
	}
	if err != nil {
		cn.rollbackText(ctx)
		return err
	}
	if _, err := cn.innerExec(ctx, "COMMIT", nil); err != nil {
		return err
	}
	return nil
}

// rollbackText ends a transaction the library opened or found open as text. It
// runs even if ctx is cancelled; if it fails, the session is beyond repair and the
// connection is reported bad when database/sql next checks it.
func (cn *conn) rollbackText(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := cn.innerExec(rctx, "ROLLBACK", nil); err != nil {
		cn.broken = true
	}
}

// settled checks the session once a statement (with its rows, for a query) is
// done, and records p's schema as the owner when p's reset is proven. err is the
// statement's error; settled returns it, or a worse one.
//
// Outside a library transaction the server must be idle: a transaction left open
// (a BEGIN sent as text, a multi-statement text ending inside one) is rolled back
// and reported as ErrUnmanagedTx, and the owner forgotten, since the session ran
// statements the library did not scope. Inside one it must not be idle: if it is,
// the transaction ended behind the library's back and the Tx refuses the rest.
func (cn *conn) settled(ctx context.Context, p plan, err error) error {
	st := cn.txStatus()
	switch {
	case st == 0:
		cn.owner = "" // nothing proven: reset before the next statement
	case cn.inTx:
		if st == 'I' {
			cn.txEnded, cn.owner = true, ""
			return errors.Join(err, ErrTxEnded)
		}
	case st != 'I':
		cn.owner = ""
		cn.rollbackText(ctx)
		return errors.Join(err, ErrUnmanagedTx)
	case err == nil && p.resets && (!p.wired || cn.w.Outcome().Committed()):
		cn.owner = p.schema
	}
	return err
}

// txStatus is the server's transaction status as last reported: read by the wire
// when there is one (it sees every ReadyForQuery), else asked of the driver.
func (cn *conn) txStatus() byte {
	if cn.w != nil && cn.w.Available() {
		if st := cn.w.TxStatus(); st != 0 {
			return st
		}
	}
	return cn.seam.txStatus(cn.inner)
}

func (cn *conn) innerExec(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if ex, ok := cn.inner.(driver.ExecerContext); ok {
		res, err := ex.ExecContext(ctx, query, args)
		if err != driver.ErrSkip {
			return res, err
		}
	}
	st, err := cn.innerPrepare(ctx, query)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return stmtExec(ctx, st, args)
}

func (cn *conn) innerPrepare(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := cn.inner.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return cn.inner.Prepare(query)
}

func (cn *conn) innerBegin(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := cn.inner.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	if opts.Isolation != 0 || opts.ReadOnly {
		return nil, errors.New("tenancy: driver does not support transaction options")
	}
	//lint:ignore SA1019 fallback for drivers without ConnBeginTx
	return cn.inner.Begin()
}

func (cn *conn) innerQuery(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := cn.inner.(driver.QueryerContext); ok {
		rows, err := q.QueryContext(ctx, query, args)
		if err != driver.ErrSkip {
			return rows, err
		}
	}
	st, err := cn.innerPrepare(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := stmtQuery(ctx, st, args)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &closeStmtRows{Rows: rows, st: st}, nil
}

// ExecContext runs query in the schema of ctx's scope.
func (cn *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return cn.exec(ctx, query, nil, args)
}

// QueryContext runs query in the schema of ctx's scope.
func (cn *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return cn.query(ctx, query, nil, args)
}

// exec runs a statement that returns no rows, query's text or the prepared st (if
// not nil), in the schema of ctx's scope, with the statements that scope the
// session in front of it: in the same message when the driver allows it (one
// round trip; if the statement fails, PostgreSQL undoes them with it), else in a
// message of their own first.
func (cn *conn) exec(ctx context.Context, query string, st driver.Stmt, args []driver.NamedValue) (res driver.Result, err error) {
	p, err := cn.begin(ctx, query)
	if err != nil {
		return nil, err
	}
	if done := cn.observe(ctx, p, query); done != nil {
		defer func() { done(err) }()
	}
	if q := cn.inlined(p, query, st, args, true); q != "" {
		cn.switched(ctx, p, true)
		res, err := cn.innerExec(ctx, q, nil)
		return res, cn.settled(ctx, p, err)
	}
	if p, err = cn.arm(ctx, p, query); err != nil {
		return nil, err
	}
	if st != nil {
		res, err = stmtExec(ctx, st, args)
	} else {
		res, err = cn.innerExec(ctx, cn.tagged(query, p.schema), args)
	}
	cn.unsent(p)
	err = cn.finish(ctx, p, err)
	if err == nil && dropsStatements(query) {
		err = cn.seam.statementsDropped(ctx, cn.inner)
	}
	return res, cn.settled(ctx, p, err)
}

// query is exec for statements that return rows. The session is checked (and a
// TransactionMode statement's transaction ended) when the rows are closed, which
// database/sql always does.
func (cn *conn) query(ctx context.Context, query string, st driver.Stmt, args []driver.NamedValue) (driver.Rows, error) {
	p, err := cn.begin(ctx, query)
	if err != nil {
		return nil, err
	}
	done := cn.observe(ctx, p, query)
	var rows driver.Rows
	if q := cn.inlined(p, query, st, args, false); q != "" {
		cn.switched(ctx, p, true)
		rows, err = cn.innerQuery(ctx, q, nil)
		if err != nil {
			return nil, observed(done, cn.settled(ctx, p, err))
		}
		return &scopedRows{wrapRows: wrapRows{rows}, cn: cn, ctx: ctx, p: p, done: done}, nil
	}
	if p, err = cn.arm(ctx, p, query); err != nil {
		return nil, observed(done, err)
	}
	if st != nil {
		rows, err = stmtQuery(ctx, st, args)
	} else {
		rows, err = cn.innerQuery(ctx, cn.tagged(query, p.schema), args)
	}
	cn.unsent(p)
	if err != nil {
		err = cn.finish(ctx, p, err)
		return nil, observed(done, cn.settled(ctx, p, err))
	}
	return &scopedRows{wrapRows: wrapRows{rows}, cn: cn, ctx: ctx, p: p, finish: cn.txMode() && !cn.inTx, done: done}, nil
}

// observe calls the Statement hook, if any, and returns what to call when the
// statement is done (nil without one).
func (cn *conn) observe(ctx context.Context, p plan, query string) func(error) {
	h := cn.cfg.hooks
	if h == nil || h.Statement == nil {
		return nil
	}
	var t *Tenant
	if s := scopeFrom(ctx); s != nil {
		t = s.tenant
	}
	return h.Statement(ctx, StatementEvent{Query: query, Schema: p.schema, Tenant: t})
}

// observed calls done, if not nil, with err, and returns err.
func observed(done func(error), err error) error {
	if done != nil {
		done(err)
	}
	return err
}

// switched calls the SchemaSwitch hook, if any, when p passes the session to
// another tenant; inFront says the reset goes in front of the statement.
func (cn *conn) switched(ctx context.Context, p plan, inFront bool) {
	if h := cn.cfg.hooks; h != nil && h.SchemaSwitch != nil && p.resets {
		h.SchemaSwitch(ctx, SwitchEvent{Schema: p.schema, WithStatement: inFront, Mode: cn.cfg.mode})
	}
}

// tagged returns query as the driver gets it. A driver that caches prepared
// statements by SQL text (pgx's default mode) would reuse, for one tenant, a
// statement prepared and described for another, whose tables may have another
// shape (tenants at different migration versions): PostgreSQL then refuses the
// execution ("cached plan must not change result type"), or the cached result
// description does not match. So its text gets a trailing comment naming the
// schema (a valid schema name cannot end a comment): statements are cached per
// tenant, exactly as the schema-qualified SQL one would write without this
// package would be.
func (cn *conn) tagged(query, schema string) string {
	if schema == "" || !cn.seam.cachesByText(cn.inner) {
		return query
	}
	return query + "\n-- tenancy: " + schema
}

// BeginTx starts a transaction bound to the schema of ctx's scope. In SessionMode
// a session that belongs to another tenant (or none proven) is reset before BEGIN,
// outside the transaction, so that a ROLLBACK cannot undo the reset. In
// TransactionMode the session is cleared right after BEGIN, before any statement
// (or savepoint) of the caller's. Every statement of the transaction then carries
// its own SET (SET LOCAL in TransactionMode).
func (cn *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	p, err := cn.begin(ctx, "")
	if err != nil {
		return nil, err
	}
	if !cn.txMode() && p.resets {
		if err := cn.scope(ctx, p); err != nil {
			return nil, err
		}
	}
	tx, err := cn.innerBegin(ctx, opts)
	if err != nil {
		return nil, cn.settled(ctx, plan{}, err)
	}
	cn.inTx, cn.txEnded = true, false
	cn.bound = &scope{schema: p.schema}
	if cn.txMode() {
		if _, err := cn.innerExec(ctx, p.prefix, nil); err != nil {
			_ = tx.Rollback()
			cn.endTx()
			return nil, cn.settled(ctx, plan{}, err)
		}
	}
	return &connTx{inner: tx, cn: cn, ctx: ctx}, nil
}

// Begin is required by driver.Conn; database/sql always uses BeginTx.
func (cn *conn) Begin() (driver.Tx, error) {
	return nil, errors.New("tenancy: Begin without a context is not supported; use BeginTx")
}

type connTx struct {
	inner driver.Tx
	cn    *conn
	ctx   context.Context
}

func (t *connTx) Commit() error {
	cn := t.cn
	ended := cn.txEnded
	err := t.inner.Commit()
	cn.endTx()
	if ended {
		// The server ended it already; whatever it did is not this Commit's.
		return errors.Join(ErrTxEnded, err)
	}
	return cn.settled(t.ctx, plan{}, err)
}

func (t *connTx) Rollback() error {
	cn := t.cn
	err := t.inner.Rollback()
	cn.endTx()
	return cn.settled(t.ctx, plan{}, err)
}

func (cn *conn) endTx() {
	cn.inTx, cn.txEnded, cn.bound = false, false, nil
}

// PrepareContext prepares query on this connection. Each execution is checked
// against and scoped to the schema of its own context, like a direct statement
// (PostgreSQL re-analyses a prepared statement when search_path has changed since
// it was prepared).
//
// Preparing needs a scope too: the server resolves the statement's table names
// against search_path when it parses it. (database/sql prepares again, with the
// execution's context, on each connection a pooled statement runs on.)
//
// In TransactionMode a statement can be prepared only inside a transaction: a
// protocol-level prepared statement lives on one server connection, and behind a
// transaction pooler the next transaction may run on another, where the same name
// is another client's statement. Outside one, PrepareContext returns
// [ErrPrepareOutsideTx].
func (cn *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if cn.txMode() && !cn.inTx {
		cn.touch()
		return nil, ErrPrepareOutsideTx
	}
	p, err := cn.begin(ctx, query)
	if err != nil {
		return nil, err
	}
	if err := cn.scope(ctx, p); err != nil {
		return nil, err
	}
	st, err := cn.innerPrepare(ctx, query)
	if err != nil {
		return nil, cn.settled(ctx, plan{}, err)
	}
	cn.stmts++
	return &connStmt{inner: st, cn: cn, query: query}, nil
}

// Prepare is required by driver.Conn; database/sql uses PrepareContext.
func (cn *conn) Prepare(query string) (driver.Stmt, error) {
	return cn.PrepareContext(context.Background(), query)
}

// touch marks the connection in use (see affinity.touch).
func (cn *conn) touch() {
	if cn.aff != nil {
		cn.aff.touch(cn)
	}
}

// Close closes the physical connection the conn holds. database/sql calls it on
// an idle conn from its own goroutines, so it first takes the conn off the idle
// list, which also settles which physical connection it holds.
func (cn *conn) Close() error {
	cn.touch()
	return cn.inner.Close()
}

// Ping needs no scope: it runs no SQL of the caller's.
func (cn *conn) Ping(ctx context.Context) error {
	cn.touch()
	if p, ok := cn.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// ResetSession is called by database/sql before a pooled connection is reused. The
// session's owner is kept: when the next statement is for the same schema, it needs
// no reset. What belonged to the previous borrower (a transaction binding, a pin) is
// dropped.
func (cn *conn) ResetSession(ctx context.Context) error {
	cn.touch()
	if cn.inTx || cn.broken {
		// inTx cannot happen through database/sql; be safe if it does.
		return driver.ErrBadConn
	}
	cn.bound, cn.pinned = nil, nil
	if r, ok := cn.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

// IsValid is called by database/sql each time it takes the connection back: the
// next statement on it is the first of a new use (fresh), and in SessionMode the
// connection is offered to others through the idle list. database/sql may call it
// twice without using the connection in between (it handed the connection to a
// waiter that had given up), when it may be listed already and another connection
// may be trading with it: touch first.
func (cn *conn) IsValid() bool {
	cn.touch()
	if cn.broken {
		return false
	}
	if v, ok := cn.inner.(driver.Validator); ok && !v.IsValid() {
		return false
	}
	cn.fresh = true
	if cn.aff != nil {
		cn.aff.park(cn)
	}
	return true
}

func (cn *conn) CheckNamedValue(nv *driver.NamedValue) error {
	cn.touch()
	if c, ok := cn.inner.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// connStmt is a prepared statement; like a direct query, each execution is checked
// against and switched to the schema of its context.
type connStmt struct {
	inner driver.Stmt
	cn    *conn
	query string
}

var (
	_ driver.StmtExecContext   = (*connStmt)(nil)
	_ driver.StmtQueryContext  = (*connStmt)(nil)
	_ driver.NamedValueChecker = (*connStmt)(nil)
)

func (s *connStmt) Close() error {
	s.cn.stmts--
	return s.inner.Close()
}

func (s *connStmt) NumInput() int { return s.inner.NumInput() }

func (s *connStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), valuesToNamed(args))
}

func (s *connStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), valuesToNamed(args))
}

func (s *connStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.cn.exec(ctx, s.query, s.inner, args)
}

func (s *connStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.cn.query(ctx, s.query, s.inner, args)
}

func (s *connStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := s.inner.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return s.cn.CheckNamedValue(nv)
}

func stmtExec(ctx context.Context, st driver.Stmt, args []driver.NamedValue) (driver.Result, error) {
	if s, ok := st.(driver.StmtExecContext); ok {
		return s.ExecContext(ctx, args)
	}
	vals, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	//lint:ignore SA1019 fallback for drivers without StmtExecContext
	return st.Exec(vals)
}

func stmtQuery(ctx context.Context, st driver.Stmt, args []driver.NamedValue) (driver.Rows, error) {
	if s, ok := st.(driver.StmtQueryContext); ok {
		return s.QueryContext(ctx, args)
	}
	vals, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	//lint:ignore SA1019 fallback for drivers without StmtQueryContext
	return st.Query(vals)
}

func valuesToNamed(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

func namedToValues(args []driver.NamedValue) ([]driver.Value, error) {
	vals := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, errors.New("tenancy: driver does not support named parameters")
		}
		vals[i] = a.Value
	}
	return vals, nil
}

// scopedRows are the rows of a statement run by conn.query. When they are closed
// (database/sql always closes them) the TransactionMode statement's transaction is
// ended and the session checked (conn.settled); a statement sent in one message
// with a reset counts as proven only if its rows ended without an error, since an
// error even after the first rows rolls the whole message back.
type scopedRows struct {
	wrapRows
	cn     *conn
	ctx    context.Context
	p      plan
	finish bool // end the TransactionMode statement's transaction on Close
	failed bool
	closed bool
	done   func(error) // the Statement hook's, or nil
}

func (r *scopedRows) Next(dest []driver.Value) error {
	err := r.Rows.Next(dest)
	if err != nil && err != io.EOF {
		r.failed = true
	}
	return err
}

func (r *scopedRows) NextResultSet() error {
	err := r.wrapRows.NextResultSet()
	if err != nil && err != io.EOF {
		r.failed = true
	}
	return err
}

func (r *scopedRows) Close() error {
	err := r.Rows.Close()
	if r.closed {
		return err
	}
	r.closed = true
	if err == nil && r.failed {
		err = errRowsFailed
	}
	if r.finish {
		err = r.cn.finish(r.ctx, r.p, err)
	}
	err = r.cn.settled(r.ctx, r.p, err)
	if r.done != nil {
		r.done(err)
	}
	if err == errRowsFailed {
		return nil // the error was the rows'; database/sql reported it from Next
	}
	return err
}

// errRowsFailed stands for an error the rows already returned from Next, so that
// Close rolls back and proves nothing without reporting it twice.
var errRowsFailed = errors.New("tenancy: rows failed")

type closeStmtRows struct {
	driver.Rows
	st driver.Stmt
}

func (r *closeStmtRows) Close() error {
	err := r.Rows.Close()
	if cerr := r.st.Close(); err == nil {
		err = cerr
	}
	return err
}

// txKind classifies transaction control statements sent as text.
type txKind int

const (
	txNone      txKind = iota
	txSavepoint        // SAVEPOINT, RELEASE, ROLLBACK TO
	txEnds             // BEGIN, START, COMMIT, END, ROLLBACK, ABORT, PREPARE TRANSACTION
)

// txControl classifies q if it is one single transaction control statement, with no
// quote, comment, dollar sign or semicolon but a trailing one. It errs towards
// txNone: a statement it misses still gets its SET, and the transaction status the
// server reports after it catches a transaction begun or ended behind the library's
// back (see conn.settled).
func txControl(q string) txKind {
	q = strings.TrimSpace(q)
	q = strings.TrimSpace(strings.TrimSuffix(q, ";"))
	if q == "" || strings.ContainsAny(q, ";'\"$-/") {
		return txNone
	}
	f := strings.Fields(q)
	switch strings.ToUpper(f[0]) {
	case "SAVEPOINT", "RELEASE":
		return txSavepoint
	case "ROLLBACK", "ABORT":
		for _, w := range f[1:] {
			if strings.EqualFold(w, "TO") {
				return txSavepoint
			}
		}
		return txEnds
	case "BEGIN", "START", "COMMIT", "END":
		return txEnds
	case "PREPARE":
		if len(f) > 1 && strings.EqualFold(f[1], "TRANSACTION") {
			return txEnds
		}
	}
	return txNone
}

// dropsStatements reports whether q is DISCARD ALL or DEALLOCATE [PREPARE] ALL,
// which drop the driver's prepared statements too (see seam.statementsDropped).
func dropsStatements(q string) bool {
	f := strings.Fields(strings.ToUpper(strings.TrimSuffix(strings.TrimSpace(q), ";")))
	switch {
	case len(f) == 2 && f[0] == "DISCARD" && f[1] == "ALL",
		len(f) == 2 && f[0] == "DEALLOCATE" && f[1] == "ALL",
		len(f) == 3 && f[0] == "DEALLOCATE" && f[1] == "PREPARE" && f[2] == "ALL":
		return true
	}
	return false
}

func firstWord(q string) string {
	if f := strings.Fields(q); len(f) > 0 {
		return strings.ToUpper(strings.TrimSuffix(f[0], ";"))
	}
	return ""
}
