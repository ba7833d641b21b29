package tenancy

import (
	"context"
	"database/sql/driver"
	"reflect"
	"sync"

	"github.com/jackc/pgx/v5"
)

// A seam is what a connection needs to know about its driver beyond database/sql's
// interfaces: how it sends a statement, and what it can tell of the server's
// session. It is chosen once, at Open, from the driver's type; conn.go asks it and
// never looks at the driver itself.
type seam interface {
	// inline reports whether a statement without arguments goes out as one
	// simple-protocol message, so that statements put in front of its text run in
	// the same message, in one implicit transaction. exec says it is an Exec
	// (no rows).
	inline(exec bool) bool
	// txStatus returns the server's transaction status as the driver last read it
	// ('I' idle, 'T' in a transaction, 'E' in a failed transaction), or 0 when the
	// driver does not tell. Without it nothing about the session can be proven, so
	// every statement resets it.
	txStatus(c driver.Conn) byte
	// keepsStatements reports whether the driver holds protocol-level prepared
	// statements on the session that must survive a reset (see session.Reset).
	keepsStatements(cn *conn) bool
	// statementsDropped tells the driver that a statement (DISCARD ALL,
	// DEALLOCATE ALL) dropped every prepared statement of the session, so that it
	// does not run one of its cached statements that no longer exists.
	statementsDropped(ctx context.Context, c driver.Conn) error
	// cachesByText reports whether the driver caches prepared statements on the
	// session by their SQL text (see conn.tagged).
	cachesByText(c driver.Conn) bool
	// parsesToExecute reports whether the batch in which the driver executes a
	// statement parses it too (for a statement that is not prepared): a batch
	// before it may only describe it. Such a statement can run in its own
	// implicit transaction even on a server connection other than the one the
	// describing batch ran on (PgBouncer transaction pooling); one that binds a
	// statement parsed in an earlier batch (lib/pq) must run in a transaction
	// block there.
	parsesToExecute(cn *conn) bool
}

func seamFor(d driver.Driver) seam {
	if isLibPQ(d) {
		return libpqSeam{}
	}
	if isPgxStdlib(d) {
		return pgxSeam{}
	}
	return genericSeam{}
}

// libpqSeam: lib/pq sends a statement without arguments with the simple protocol
// (Exec and Query alike), keeps the transaction status of each ReadyForQuery in an
// unexported field, and names protocol-level statements only for statements
// prepared through database/sql (counted in conn.stmts).
type libpqSeam struct{}

func (libpqSeam) inline(bool) bool              { return true }
func (libpqSeam) parsesToExecute(*conn) bool    { return false }
func (libpqSeam) keepsStatements(cn *conn) bool { return cn.stmts > 0 }
func (libpqSeam) txStatus(c driver.Conn) byte   { return pqTxStatus(c) }

var pqStatus struct {
	once  sync.Once
	typ   reflect.Type
	index []int
}

// pqTxStatus reads lib/pq's conn.txnStatus, which lib/pq sets from every
// ReadyForQuery message and does not export. The field is looked up by name once;
// if a lib/pq version renames it, the status is unknown (0) and connections fall
// back to resetting the session before every statement, which is safe.
func pqTxStatus(c driver.Conn) byte {
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return 0
	}
	pqStatus.once.Do(func() {
		t := v.Type().Elem()
		if f, ok := t.FieldByName("txnStatus"); ok && f.Type.Kind() == reflect.Uint8 {
			pqStatus.typ, pqStatus.index = v.Type(), f.Index
		}
	})
	if pqStatus.typ != v.Type() {
		return 0
	}
	return byte(v.Elem().FieldByIndex(pqStatus.index).Uint())
}

// pgxSeam: pgx's database/sql adapter. pgx sends an Exec without arguments with
// the simple protocol (a Query without arguments still uses the extended one, and
// reads only the first result of a multi-statement simple query, so it cannot
// carry statements in front). Its statement cache keeps named statements on the
// session. The transaction status is pgconn's.
type pgxSeam struct{}

func (pgxSeam) inline(exec bool) bool { return exec }

// pgx's describe-cache, exec and simple-protocol modes execute with
// ExecParams (Parse, Bind, Describe, Execute, Sync in one batch); its
// statement-cache and describe-exec modes bind a statement parsed earlier.
func (pgxSeam) parsesToExecute(cn *conn) bool {
	switch pgxExecMode(cn.inner) {
	case pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol:
		return true
	}
	return false
}

// pgx keeps named statements for database/sql's prepared statements, and in
// QueryExecModeCacheStatement for every statement it runs (its statement cache).
// QueryExecModeCacheDescribe caches only the description and runs statements
// unnamed, so a reset there may drop every prepared statement.
func (pgxSeam) keepsStatements(cn *conn) bool {
	m := pgxExecMode(cn.inner)
	return cn.stmts > 0 || m == pgx.QueryExecModeCacheStatement || m == 0 // (0: not known, keep them)
}

// pgxExecMode returns the default QueryExecMode of c's pgx connection, or 0.
func pgxExecMode(c driver.Conn) pgx.QueryExecMode {
	if pc, ok := c.(interface{ Conn() *pgx.Conn }); ok {
		if p := pc.Conn(); p != nil {
			return p.Config().DefaultQueryExecMode
		}
	}
	return 0
}
func (pgxSeam) txStatus(c driver.Conn) byte {
	if pc, ok := c.(interface{ Conn() *pgx.Conn }); ok {
		if p := pc.Conn(); p != nil {
			return p.PgConn().TxStatus()
		}
	}
	return 0
}

// pgx caches prepared statements by SQL text; DeallocateAll clears its caches
// (and deallocates again, which finds nothing: one round trip, on a rare path).
func (pgxSeam) statementsDropped(ctx context.Context, c driver.Conn) error {
	if pc, ok := c.(interface{ Conn() *pgx.Conn }); ok {
		if p := pc.Conn(); p != nil {
			return p.DeallocateAll(ctx)
		}
	}
	return nil
}

// pgx's cache modes prepare a statement once per connection and SQL text, and
// reuse the result description with it.
func (pgxSeam) cachesByText(c driver.Conn) bool {
	m := pgxExecMode(c)
	return m == pgx.QueryExecModeCacheStatement || m == pgx.QueryExecModeCacheDescribe
}

func isPgxStdlib(d driver.Driver) bool {
	t := reflect.TypeOf(d)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().PkgPath() == "github.com/jackc/pgx/v5/stdlib"
}

// genericSeam is any other driver: nothing is sent in front of a statement's text,
// and nothing is known of the session, so every statement outside a transaction
// resets it first.
type genericSeam struct{}

func (genericSeam) inline(bool) bool           { return false }
func (genericSeam) parsesToExecute(*conn) bool { return false }
func (genericSeam) keepsStatements(*conn) bool { return true }
func (genericSeam) txStatus(driver.Conn) byte  { return 0 }

// lib/pq prepares named statements only for database/sql's prepared statements,
// which then fail as they would without this package.
func (libpqSeam) statementsDropped(context.Context, driver.Conn) error { return nil }

func (genericSeam) statementsDropped(context.Context, driver.Conn) error { return nil }

func (libpqSeam) cachesByText(driver.Conn) bool   { return false }
func (genericSeam) cachesByText(driver.Conn) bool { return false }
