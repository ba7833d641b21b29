package tenancy

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
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
	pipe  bool      // the driver is lib/pq: see conn.pipeSet
}

var (
	_ driver.Connector = (*connector)(nil)
	_ io.Closer        = (*connector)(nil)
)

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	ic, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{inner: ic, cfg: c.cfg, aff: c.aff, pipe: c.pipe, fresh: true}, nil
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
// trade changes (inner, cur, and the list fields) are guarded by aff.mu while it
// is parked.
type conn struct {
	inner driver.Conn
	cfg   *config
	aff   *affinity
	pipe  bool

	// cur is the schema this session's search_path was last set to by us, or ""
	// when unknown (new connection, after an error, after a statement that may have
	// changed it, after a rollback that may have undone our SET). Session mode only.
	cur string

	// fresh: no statement has run since database/sql handed the connection out, so
	// its physical connection may still be traded.
	fresh bool
	// stmts counts the open prepared statements on the physical connection; while
	// there are any, it is not traded.
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

	inTx    bool // a transaction begun through BeginTx is open
	txDirty bool // search_path may have been changed inside it (a ROLLBACK would undo that)
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

// prepare makes the session ready to run a statement in schema, outside or inside a
// transaction. In session mode it costs no round trip when the connection is
// already there or can trade for an idle one that is (see affinity.go), and one SET
// when it cannot. In transaction mode a statement outside a transaction gets its
// own (see implicitTx), so nothing is done here.
func (cn *conn) prepare(ctx context.Context, schema string) error {
	if cn.txMode() {
		cn.fresh = false
		return nil
	}
	if cn.settle(schema) {
		return nil
	}
	if cn.inTx {
		// A SET inside a transaction is undone if the transaction rolls back.
		cn.txDirty = true
	}
	cn.cur = ""
	if _, err := cn.innerExec(ctx, cn.cfg.setSQL(schema, false), nil); err != nil {
		return err
	}
	cn.cur = schema
	return nil
}

// settle reports whether the session is on schema, after trading for an idle
// connection that is (see affinity.go) if it may: only at the first statement
// since database/sql handed the connection out.
func (cn *conn) settle(schema string) bool {
	fresh := cn.fresh
	cn.fresh = false
	if cn.cur == schema {
		return true
	}
	return fresh && cn.aff != nil && cn.stmts == 0 && cn.pinned == nil && !cn.inTx &&
		cn.aff.take(cn, schema)
}

// after updates what the connection knows of its search_path once a statement ran.
func (cn *conn) after(query string, err error) {
	if err != nil || mayChangeSearchPath(query) {
		cn.cur = ""
		if cn.inTx {
			cn.txDirty = true
		}
	}
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

// ExecContext runs query in the schema of ctx's scope.
func (cn *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return cn.exec(ctx, query, nil, args)
}

// QueryContext runs query in the schema of ctx's scope.
func (cn *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return cn.query(ctx, query, nil, args)
}

// exec runs a statement that returns no rows, query's text or the prepared st (if
// not nil), in the schema of ctx's scope: inside a transaction of its own in
// TransactionMode outside a transaction, else after switching the session if needed.
func (cn *conn) exec(ctx context.Context, query string, st driver.Stmt, args []driver.NamedValue) (driver.Result, error) {
	cn.touch()
	schema, err := cn.target(ctx)
	if err != nil {
		return nil, err
	}
	run := func() (driver.Result, error) {
		if st != nil {
			return stmtExec(ctx, st, args)
		}
		return cn.innerExec(ctx, query, args)
	}
	if set := cn.pipeSet(schema, query, st, args); set != "" {
		// One round trip: PostgreSQL runs the SET and the statement in one implicit
		// transaction, so a failing statement undoes the SET too (after forgets).
		res, err := cn.innerExec(ctx, set+"; "+query, nil)
		if err == nil && !cn.txMode() {
			cn.cur = schema // pipeSet left it "" until the statement succeeded
		}
		return res, err
	}
	if cn.txMode() && !cn.inTx {
		itx, err := cn.implicitTx(ctx, schema)
		if err != nil {
			return nil, err
		}
		res, err := run()
		if err != nil {
			itx.Rollback()
			return nil, err
		}
		if err := itx.Commit(); err != nil {
			return nil, err
		}
		return res, nil
	}
	if err := cn.switchFor(ctx, schema, query); err != nil {
		return nil, err
	}
	res, err := run()
	cn.after(query, err)
	return res, err
}

// query is exec for statements that return rows. In TransactionMode outside a
// transaction, the rows commit their transaction when closed.
func (cn *conn) query(ctx context.Context, query string, st driver.Stmt, args []driver.NamedValue) (driver.Rows, error) {
	cn.touch()
	schema, err := cn.target(ctx)
	if err != nil {
		return nil, err
	}
	run := func() (driver.Rows, error) {
		if st != nil {
			return stmtQuery(ctx, st, args)
		}
		return cn.innerQuery(ctx, query, args)
	}
	if set := cn.pipeSet(schema, query, st, args); set != "" {
		rows, err := cn.innerQuery(ctx, set+"; "+query, nil)
		if err != nil || cn.txMode() {
			return rows, err
		}
		// The statement can still fail after its first rows, undoing the SET: the
		// session counts as on schema once the rows ended cleanly.
		return &pipedRows{wrapRows: wrapRows{rows}, cn: cn, schema: schema}, nil
	}
	if cn.txMode() && !cn.inTx {
		itx, err := cn.implicitTx(ctx, schema)
		if err != nil {
			return nil, err
		}
		rows, err := run()
		if err != nil {
			itx.Rollback()
			return nil, err
		}
		return &txRows{wrapRows: wrapRows{rows}, tx: itx}, nil
	}
	if err := cn.switchFor(ctx, schema, query); err != nil {
		return nil, err
	}
	rows, err := run()
	cn.after(query, err)
	return rows, err
}

// pipeSet returns the SET to send in the same simple-protocol message as query,
// or "" to go the usual way. It is used for a statement without arguments (lib/pq
// sends it with the simple protocol, which accepts several statements in one
// message) outside a transaction, when the driver is lib/pq and query is one
// statement that PostgreSQL runs inside a transaction block (see pipelinable):
//   - in SessionMode, when the session must switch (and could not trade for an
//     idle connection on schema): SET search_path; query, one round trip
//     instead of two. The multi-statement message runs as one implicit
//     transaction, so if the statement fails the SET is undone with it.
//   - in TransactionMode: SET LOCAL search_path; query, one round trip instead of
//     four (BEGIN, SET LOCAL, query, COMMIT); the implicit transaction ends with
//     the message, and the setting with it.
//
// pipelinable reads the statement's text, so in SessionMode it is asked only once
// the session is known to need a switch. Until the statement has succeeded (or its
// rows ended cleanly) the connection counts as on no schema.
func (cn *conn) pipeSet(schema, query string, st driver.Stmt, args []driver.NamedValue) string {
	if !cn.pipe || st != nil || len(args) != 0 || cn.inTx || cn.pinned != nil {
		return ""
	}
	if cn.txMode() {
		if pipelinable(query) {
			return cn.cfg.setSQL(schema, true)
		}
		return ""
	}
	if cn.settle(schema) || !pipelinable(query) {
		return ""
	}
	cn.cur = ""
	return cn.cfg.setSQL(schema, false)
}

// switchFor readies the session for query in SessionMode. Transaction control
// statements inside a transaction skip it: they resolve no name, and an aborted
// transaction accepts nothing else (ROLLBACK TO SAVEPOINT recovering from an error
// must not be preceded by a SET).
func (cn *conn) switchFor(ctx context.Context, schema, query string) error {
	if cn.inTx && isTxControl(query) {
		return nil
	}
	return cn.prepare(ctx, schema)
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

// implicitTx opens the transaction a standalone statement runs in under
// TransactionMode, with search_path set for that transaction only.
func (cn *conn) implicitTx(ctx context.Context, schema string) (driver.Tx, error) {
	tx, err := cn.innerBegin(ctx, driver.TxOptions{})
	if err != nil {
		return nil, err
	}
	if _, err := cn.innerExec(ctx, cn.cfg.setSQL(schema, true), nil); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// BeginTx starts a transaction bound to the schema of ctx's scope. In session mode
// the search_path is switched (if needed) before BEGIN, so that a ROLLBACK cannot
// undo it; in transaction mode it is set with SET LOCAL right after BEGIN.
func (cn *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	cn.touch()
	schema, err := cn.target(ctx)
	if err != nil {
		return nil, err
	}
	if err := cn.prepare(ctx, schema); err != nil {
		return nil, err
	}
	tx, err := cn.innerBegin(ctx, opts)
	if err != nil {
		cn.cur = ""
		return nil, err
	}
	if cn.txMode() {
		if _, err := cn.innerExec(ctx, cn.cfg.setSQL(schema, true), nil); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	cn.inTx, cn.txDirty = true, false
	cn.bound = &scope{schema: schema}
	return &connTx{inner: tx, cn: cn}, nil
}

// Begin is required by driver.Conn; database/sql always uses BeginTx.
func (cn *conn) Begin() (driver.Tx, error) {
	return nil, errors.New("tenancy: Begin without a context is not supported; use BeginTx")
}

type connTx struct {
	inner driver.Tx
	cn    *conn
}

func (t *connTx) Commit() error {
	cn := t.cn
	err := t.inner.Commit()
	if err != nil {
		cn.cur = "" // a failed COMMIT is a ROLLBACK
	}
	cn.endTx()
	return err
}

func (t *connTx) Rollback() error {
	cn := t.cn
	err := t.inner.Rollback()
	if err != nil || cn.txDirty {
		cn.cur = ""
	}
	cn.endTx()
	return err
}

func (cn *conn) endTx() {
	cn.inTx, cn.txDirty, cn.bound = false, false, nil
}

// PrepareContext prepares query on this connection. The schema is checked and
// switched when the statement runs, from the context of that call, so a prepared
// statement is as scoped as a direct query. (PostgreSQL re-plans a prepared statement
// when search_path has changed since it was planned.)
//
// Preparing needs a scope too: the server resolves the statement's table names
// against search_path when it parses it. (database/sql prepares again, with the
// execution's context, on each connection a pooled statement runs on.)
func (cn *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	cn.touch()
	schema, err := cn.target(ctx)
	if err != nil {
		return nil, err
	}
	if cn.txMode() && !cn.inTx {
		// Parse in a transaction whose search_path is the tenant's; the prepared
		// statement outlives it.
		itx, err := cn.implicitTx(ctx, schema)
		if err != nil {
			return nil, err
		}
		st, err := cn.innerPrepare(ctx, query)
		if err != nil {
			itx.Rollback()
			return nil, err
		}
		if err := itx.Commit(); err != nil {
			st.Close()
			return nil, err
		}
		cn.stmts++
		return &connStmt{inner: st, cn: cn, query: query}, nil
	}
	if err := cn.prepare(ctx, schema); err != nil {
		return nil, err
	}
	st, err := cn.innerPrepare(ctx, query)
	if err != nil {
		cn.after(query, err)
		return nil, err
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
// schema the session is on (cur) is kept: that is what saves the round trip. What
// belonged to the previous borrower (a transaction binding, a pin) is dropped.
func (cn *conn) ResetSession(ctx context.Context) error {
	cn.touch()
	if cn.inTx {
		// Cannot happen through database/sql; be safe if it does.
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

// txRows commits the implicit transaction of a TransactionMode query when the rows
// are closed (database/sql always closes them).
type txRows struct {
	wrapRows
	tx   driver.Tx
	done bool
}

func (r *txRows) Close() error {
	err := r.Rows.Close()
	if r.done {
		return err
	}
	r.done = true
	if err != nil {
		r.tx.Rollback()
		return err
	}
	return r.tx.Commit()
}

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

// isTxControl reports whether q is a single SAVEPOINT, RELEASE, ROLLBACK [TO],
// COMMIT, END or ABORT statement: it resolves no name, so it needs no search_path,
// and it is all that an aborted transaction accepts (a SET sent before a ROLLBACK
// TO SAVEPOINT that recovers from an error would itself fail).
func isTxControl(q string) bool {
	q = strings.TrimSpace(q)
	q = strings.TrimSpace(strings.TrimSuffix(q, ";"))
	if q == "" || strings.ContainsAny(q, ";'\"$-/") {
		return false
	}
	word := q
	if i := strings.IndexAny(q, " \t\r\n"); i >= 0 {
		word = q[:i]
	}
	for _, kw := range []string{"SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT", "END", "ABORT"} {
		if strings.EqualFold(word, kw) {
			return true
		}
	}
	return false
}

// mayChangeSearchPath reports whether a statement might leave the session's
// search_path other than it found it: SET/RESET/DISCARD/set_config of it, or a
// ROLLBACK (TO SAVEPOINT) undoing a SET. It errs on the side of yes: a false
// positive costs one SET on the next statement, a false negative would be a bug.
// It cannot see inside functions; see the package documentation.
func mayChangeSearchPath(q string) bool {
	for i := 0; i+5 <= len(q); i++ {
		switch q[i] | 0x20 { // ASCII lower-case
		case 's':
			if hasFoldPrefix(q[i:], "search_path") || hasFoldPrefix(q[i:], "set_config") {
				return true
			}
		case 'r':
			if hasFoldPrefix(q[i:], "reset") || hasFoldPrefix(q[i:], "rollback") {
				return true
			}
		case 'a':
			if hasFoldPrefix(q[i:], "abort") { // ABORT is ROLLBACK
				return true
			}
		case 'd':
			if hasFoldPrefix(q[i:], "discard") {
				return true
			}
		}
	}
	return false
}

func hasFoldPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
