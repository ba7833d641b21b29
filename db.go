package tenancy

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// DB is a pool of connections whose statements run in the schema of the tenant in
// their context. Its methods mirror sqlx's context methods; each one runs in the
// schema named by ctx (see [NewContext] and the [Middleware]) and returns
// [ErrNoTenant] when ctx carries no tenant. A DB is safe for concurrent use.
//
// The check and the schema switch happen on the connections themselves, so they
// also hold for [DB.Pool], prepared statements and *sql.Conn: no path leads to a
// statement running in the schema a pooled connection happened to be on.
//
// [DB.Shared] returns a DB for the shared schema.
type DB struct {
	pool *sqlx.DB
	cfg  *config
	// shared is the scope of a Shared() handle; nil for the tenant-scoped DB.
	shared *scope
}

var (
	_ sqlx.ExtContext = (*DB)(nil)
	_ sqlx.ExtContext = (*Tx)(nil)
)

// Open opens a DB for the named database/sql driver (for example "postgres" for
// lib/pq) and data source. Like [sql.Open] it does not connect; use [DB.Ping].
func Open(driverName, dsn string, opts ...Option) (*DB, error) {
	probe, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("tenancy: open: %w", err)
	}
	drv := probe.Driver()
	_ = probe.Close() // it never connected
	if c := wiredConnector(drv, dsn); c != nil {
		return OpenConnector(c, driverName, opts...)
	}
	var c driver.Connector = dsnConnector{dsn: dsn, drv: drv}
	if dc, ok := drv.(driver.DriverContext); ok {
		if c, err = dc.OpenConnector(dsn); err != nil {
			return nil, fmt.Errorf("tenancy: open: %w", err)
		}
	}
	return OpenConnector(c, driverName, opts...)
}

// OpenConnector opens a DB over a driver.Connector (for example pq.NewConnector,
// or stdlib.GetConnector for pgx). driverName tells sqlx which bind-variable style
// to use ("postgres" or "pgx" for $1).
//
// To keep what scopes each statement in the statement's own round trip (as [Open]
// does), make the connector's network connections with [LibPQDialer] (lib/pq) or
// set [PgxAfterNetConnect] in the pgx config. Without them every guarantee holds,
// and a statement that cannot carry its SET in its own message costs one more round
// trip.
func OpenConnector(c driver.Connector, driverName string, opts ...Option) (*DB, error) {
	if c == nil {
		return nil, errNilConnector
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(cfg); err != nil {
			return nil, err
		}
	}
	ctr := &connector{inner: c, cfg: cfg, seam: seamFor(c.Driver())}
	if cfg.mode == SessionMode && cfg.affinity {
		ctr.aff = newAffinity()
	}
	sdb := sql.OpenDB(ctr)
	return &DB{pool: sqlx.NewDb(sdb, driverName), cfg: cfg}, nil
}

// Pool returns the underlying *sqlx.DB, to tune it (SetMaxOpenConns and friends)
// or to pass it to code that wants one. Its connections are the DB's own: every
// statement on them still needs a tenant (or shared scope) in its context.
func (db *DB) Pool() *sqlx.DB { return db.pool }

// Close closes the pool. It closes what [Open] created, never a pool the caller
// owns. Shared handles share the pool: closing one closes both.
func (db *DB) Close() error { return db.pool.Close() }

// Ping checks that the database is reachable. It needs no tenant.
func (db *DB) Ping(ctx context.Context) error { return db.pool.PingContext(ctx) }

// SharedSchema returns the name of the shared schema.
func (db *DB) SharedSchema() string { return db.cfg.sharedSchema }

// Mode returns the DB's [Mode].
func (db *DB) Mode() Mode { return db.cfg.mode }

// ValidateSchemaName checks name with [ValidateSchemaName], also refusing the
// schemas this DB reserves (the shared schema and any [WithSearchPath] schemas).
func (db *DB) ValidateSchemaName(name string) error {
	return ValidateSchemaName(name, db.cfg.reserved()...)
}

// Shared returns a handle on the same pool whose statements run in the shared
// schema (search_path = the shared schema alone), whatever tenant their context
// carries. Use it for shared tables; tenant data is never reachable through it
// without qualifying names. The handle costs nothing to make.
func (db *DB) Shared() *DB {
	return &DB{pool: db.pool, cfg: db.cfg, shared: &scope{schema: db.cfg.sharedSchema}}
}

// conn is the seam every statement goes through: it picks the pool for the scope of
// ctx (today there is one pool; a tenant's Shard will select among several) and, for
// a Shared handle, the context that names the shared schema.
func (db *DB) conn(ctx context.Context) (context.Context, *sqlx.DB) {
	if db.shared != nil {
		return context.WithValue(ctx, scopeKey, db.shared), db.pool
	}
	return ctx, db.pool
}

// ExecContext runs a statement that returns no rows.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, p := db.conn(ctx)
	return p.ExecContext(ctx, query, args...)
}

// QueryContext runs a query and returns *sql.Rows, which the caller must close.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, p := db.conn(ctx)
	return p.QueryContext(ctx, query, args...)
}

// QueryxContext runs a query and returns *sqlx.Rows, which the caller must close.
func (db *DB) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	ctx, p := db.conn(ctx)
	return p.QueryxContext(ctx, query, args...)
}

// QueryRowxContext runs a query expected to return at most one row. Errors,
// including [ErrNoTenant], are deferred to the Row's Scan.
func (db *DB) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	ctx, p := db.conn(ctx)
	return p.QueryRowxContext(ctx, query, args...)
}

// GetContext scans one row into dest (sqlx.GetContext); it returns sql.ErrNoRows if
// there is none.
func (db *DB) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	ctx, p := db.conn(ctx)
	return p.GetContext(ctx, dest, query, args...)
}

// SelectContext scans all rows into the slice dest points to (sqlx.SelectContext).
func (db *DB) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	ctx, p := db.conn(ctx)
	return p.SelectContext(ctx, dest, query, args...)
}

// NamedExecContext runs a statement with :name parameters bound from arg (a struct
// or map).
func (db *DB) NamedExecContext(ctx context.Context, query string, arg any) (sql.Result, error) {
	ctx, p := db.conn(ctx)
	return p.NamedExecContext(ctx, query, arg)
}

// NamedQueryContext runs a query with :name parameters bound from arg.
func (db *DB) NamedQueryContext(ctx context.Context, query string, arg any) (*sqlx.Rows, error) {
	ctx, p := db.conn(ctx)
	return p.NamedQueryContext(ctx, query, arg)
}

// PreparexContext prepares a statement. Each execution of it runs in the schema of
// the context given to that execution, not the one given here.
func (db *DB) PreparexContext(ctx context.Context, query string) (*sqlx.Stmt, error) {
	ctx, p := db.conn(ctx)
	return p.PreparexContext(ctx, query)
}

// DriverName returns the driver name given to [Open] (sqlx.ExtContext).
func (db *DB) DriverName() string { return db.pool.DriverName() }

// Rebind turns a query with ? placeholders into the driver's style (sqlx).
func (db *DB) Rebind(query string) string { return db.pool.Rebind(query) }

// BindNamed binds a :name query from arg (sqlx).
func (db *DB) BindNamed(query string, arg any) (string, []any, error) {
	return db.pool.BindNamed(query, arg)
}

// Tx is a transaction in one schema: the schema of the context given to
// [DB.BeginTxx] (or [DB.InTx]). It embeds *sqlx.Tx, so all of sqlx's methods work;
// every statement in it runs in its schema, even one given a context without a
// tenant, and one whose context names another tenant fails with [ErrTenantMismatch].
// A Tx must not be used from several goroutines at once (as with database/sql).
type Tx struct {
	*sqlx.Tx
	schema string
}

// Schema returns the schema the transaction runs in.
func (tx *Tx) Schema() string { return tx.schema }

// BeginTxx starts a transaction in the schema of ctx's tenant (or the shared schema
// for a Shared handle). Cancelling ctx rolls it back. It returns [ErrNoTenant] if ctx
// carries no tenant.
//
// In [SessionMode] the connection is switched before BEGIN when needed, so BEGIN
// costs one round trip, or two on a switch. In [TransactionMode] it costs two (BEGIN,
// SET LOCAL).
func (db *DB) BeginTxx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	ctx, p := db.conn(ctx)
	s := scopeFrom(ctx)
	if s == nil {
		return nil, ErrNoTenant
	}
	tx, err := p.BeginTxx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, schema: s.schema}, nil
}

// InTx runs fn in a transaction in the schema of ctx's tenant: it commits if fn
// returns nil and rolls back if fn returns an error or panics (the panic is
// re-raised). fn's error is returned as is, joined with a rollback error if the
// rollback failed too. opts may be nil.
func (db *DB) InTx(ctx context.Context, opts *sql.TxOptions, fn func(tx *Tx) error) (err error) {
	tx, err := db.BeginTxx(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("tenancy: rollback: %w", rerr))
		}
		return err
	}
	return tx.Commit()
}

// pin returns a connection on which every statement whose context has no scope runs
// in schema: the migrator hands it to golang-migrate, which issues its statements
// with contexts of its own. The release function must be called; it closes the
// physical connection rather than returning it to the pool, so nothing a migration
// did to the session (settings, advisory locks left by a cancelled run) survives.
func (db *DB) pin(ctx context.Context, schema string) (*sql.Conn, func(), error) {
	c, err := db.pool.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := repin(c, schema); err != nil {
		_ = c.Close()
		return nil, nil, err
	}
	release := func() {
		_ = rawConn(c, func(*conn) error {
			return driver.ErrBadConn // discard the physical connection
		})
		_ = c.Close()
	}
	return c, release, nil
}

// repin points a connection from pin at schema: its statements without a scope
// run there from the next one on.
func repin(c *sql.Conn, schema string) error {
	return rawConn(c, func(cn *conn) error {
		// Nothing the session carries is trusted for a migration, even from the
		// same tenant: its first statement resets it.
		cn.pinned, cn.owner = &scope{schema: schema}, ""
		return nil
	})
}

// unpin makes a connection from pin an ordinary pool connection again, on no
// known schema (its session must have been reset first).
func unpin(c *sql.Conn) error {
	return rawConn(c, func(cn *conn) error {
		cn.pinned, cn.owner = nil, ""
		return nil
	})
}

// rawConn runs f on c's driver connection, which is one of this package's.
func rawConn(c *sql.Conn, f func(cn *conn) error) error {
	return c.Raw(func(dc any) error {
		cn, ok := dc.(*conn)
		if !ok {
			return fmt.Errorf("tenancy: unexpected driver connection %T", dc)
		}
		cn.touch()
		return f(cn)
	})
}
