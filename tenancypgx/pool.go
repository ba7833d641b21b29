package tenancypgx

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/session"
)

// Errors of this package. The root package's errors are returned as they are:
// [tenancy.ErrNoTenant] for a statement whose context carries no tenant, a
// *[tenancy.SchemaNameError] for a malformed schema, [tenancy.ErrTenantMismatch]
// for a Tx statement whose context names another tenant.
var (
	// ErrTxControl is returned by a [Tx]'s Exec, Query and QueryRow for a
	// statement that would end or nest the transaction (BEGIN, START
	// TRANSACTION, COMMIT, END, ROLLBACK other than ROLLBACK TO SAVEPOINT, ABORT,
	// PREPARE TRANSACTION). Nothing is sent. Use [Tx.Commit] and [Tx.Rollback].
	ErrTxControl = errors.New("tenancypgx: transaction control statement in a Tx; use Tx.Commit or Tx.Rollback")

	// ErrTxEnded is returned by a [Tx] whose transaction the server reports as
	// ended by one of its statements (a procedure that commits, a multi-statement
	// text holding COMMIT): that statement's call and every later one, Commit and
	// Rollback included, return it, and nothing more is sent in the Tx.
	ErrTxEnded = errors.New("tenancypgx: the transaction was ended by a statement inside it")

	// ErrOpenedTx is returned by a statement sent outside a [Tx] that left the
	// server in a transaction (text BEGIN): the transaction is rolled back. Open
	// transactions with [Pool.Begin].
	ErrOpenedTx = errors.New("tenancypgx: statement opened a transaction; it was rolled back (use Pool.Begin)")

	// ErrQueryExecMode is returned when a statement's arguments start with a
	// pgx.QueryExecMode: the mode of every statement is the pool's (see the
	// package documentation).
	ErrQueryExecMode = errors.New("tenancypgx: per-statement QueryExecMode is not supported; the pool chooses the mode")
)

// Pool is a pgx connection pool that runs every statement in the schema of the
// tenant in the statement's context. It is safe for concurrent use. Make one
// with [New] or [NewWithConfig]; [Pool.Shared] gives a handle on the same
// connections for the shared schema.
type Pool struct {
	pool  *pgxpool.Pool
	cfg   *config
	conns *connStates
	// shared is set on the handle Shared returns: its statements run in the
	// shared schema alone, whatever the context carries.
	shared bool
	// cache says whether standalone statements go through the statement cache
	// (stmtcache.go): SessionMode, the extended protocol, no pgx tracer.
	cache bool
}

// connState is what the Pool knows of one physical connection: which schema's
// statements last ran on it cleanly. Only the goroutine that holds the connection
// (acquired from pgxpool) reads or writes it.
type connState struct {
	// owner is "" when unknown: a new connection, after a failed flight that
	// carried a reset, after the server's transaction status was not what it
	// should have been. A statement for any other schema than owner gets the
	// reset in front of it.
	owner string
	// stmts are the statements prepared by name on the connection for owner,
	// by SQL text (see stmtcache.go). They are valid only while owner stays the
	// same: every change of owner drops them (a change either follows a flight
	// that carried the reset, whose DEALLOCATE ALL dropped them on the server,
	// or makes owner "", which puts the reset in front of the next statement).
	stmts map[string]*pgconn.StatementDescription
	// drop are names of statements to close at the next cached flight, if
	// owner is unchanged (cleared with stmts otherwise).
	drop []string
}

// setOwner records the schema the connection belongs to ("" for unknown),
// dropping the statements cached for another.
func (st *connState) setOwner(schema string) {
	if schema != st.owner {
		st.stmts, st.drop = nil, nil
	}
	st.owner = schema
}

type connStates struct {
	m sync.Map // *pgx.Conn → *connState
}

func (s *connStates) get(c *pgx.Conn) *connState {
	if v, ok := s.m.Load(c); ok {
		return v.(*connState)
	}
	st := &connState{}
	s.m.Store(c, st)
	return st
}

func (s *connStates) forget(c *pgx.Conn) { s.m.Delete(c) }

// New parses connString with [pgxpool.ParseConfig] and calls [NewWithConfig].
func New(ctx context.Context, connString string, opts ...Option) (*Pool, error) {
	pc, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("tenancypgx: %w", err)
	}
	return NewWithConfig(ctx, pc, opts...)
}

// NewWithConfig makes a Pool from a copy of pc (pc itself is not modified) and
// the options. Two settings of the copy are changed:
//
//   - ConnConfig.DefaultQueryExecMode becomes pgx.QueryExecModeExec unless it is
//     pgx.QueryExecModeSimpleProtocol in SessionMode: the cache modes prepare a statement in a
//     round trip of its own before the statement runs, so before the SET that
//     puts the session in the statement's schema, and they reuse a description
//     cached by SQL text alone across schemas whose tables may differ (see the
//     package documentation, "Statement cache"). The Pool keeps a cache of its
//     own instead, per connection and tenant ([WithStatementCache]).
//   - BeforeClose also drops the Pool's record of the connection (pc's own
//     BeforeClose, if any, still runs first).
//
// The copy's other hooks run as configured; a hook that runs SQL runs it
// unscoped.
func NewWithConfig(ctx context.Context, pc *pgxpool.Config, opts ...Option) (*Pool, error) {
	if pc == nil {
		return nil, errors.New("tenancypgx: NewWithConfig: nil *pgxpool.Config")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("tenancypgx: nil Option")
		}
		if err := o.apply(cfg); err != nil {
			return nil, err
		}
	}
	pc = pc.Copy()
	// In TransactionMode the SET LOCAL ends with the transaction: a simple-protocol
	// text such as "SELECT 1; COMMIT; DELETE FROM items" would run its last
	// statement in whatever search_path the server connection has. The extended
	// protocol takes one statement per Parse, so nothing can follow a COMMIT.
	if cfg.mode == tenancy.TransactionMode || pc.ConnConfig.DefaultQueryExecMode != pgx.QueryExecModeSimpleProtocol {
		pc.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	states := &connStates{}
	userClose := pc.BeforeClose
	pc.BeforeClose = func(c *pgx.Conn) {
		if userClose != nil {
			userClose(c)
		}
		states.forget(c)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("tenancypgx: %w", err)
	}
	// The cached path talks to pgconn directly, which pgx's tracers do not see:
	// with a tracer, every statement goes through pgx's batch.
	cache := cfg.stmtCap > 0 && cfg.mode == tenancy.SessionMode &&
		pc.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeExec && pc.ConnConfig.Tracer == nil
	return &Pool{pool: pool, cfg: cfg, conns: states, cache: cache}, nil
}

// Pool returns the underlying *pgxpool.Pool. Statements sent through it are NOT
// scoped: they run wherever the session's search_path points (another tenant's
// schema, or public), with whatever an earlier tenant left on the session. Use it
// for administration only (migrations through their own tools, LISTEN, stats).
// Anything it leaves on a session is cleared before the next tenant statement
// runs there only if that statement's connection is not known to belong to its
// tenant; so do not leave state on sessions through it. Statements prepared by
// name on its connections are dropped at the connection's next tenant switch.
// Its connections also hold the Pool's own cached statements ("tenancypgx_N",
// see "Statement cache" in the package documentation); one dropped through it
// is prepared again when next needed.
func (p *Pool) Pool() *pgxpool.Pool { return p.pool }

// Close closes the pool (and so every handle from Shared). It waits for
// acquired connections to be released.
func (p *Pool) Close() { p.pool.Close() }

// Ping acquires a connection and checks that the server answers. It needs no
// tenant: it runs no SQL of the caller's.
func (p *Pool) Ping(ctx context.Context) error { return p.pool.Ping(ctx) }

// Mode returns the pool's mode.
func (p *Pool) Mode() tenancy.Mode { return p.cfg.mode }

// SharedSchema returns the name of the shared schema.
func (p *Pool) SharedSchema() string { return p.cfg.sharedSchema }

// Shared returns a handle on the same connections whose statements run in the
// shared schema (search_path = the shared schema alone), whatever tenant their
// context carries, and with a context that carries none. It costs nothing to
// make. Closing it closes the pool.
func (p *Pool) Shared() *Pool {
	return &Pool{pool: p.pool, cfg: p.cfg, conns: p.conns, shared: true, cache: p.cache}
}

// target returns the schema a statement with this context runs in, and the
// schemas after it in the search_path, or the error it fails with.
func (p *Pool) target(ctx context.Context) (string, []string, error) {
	if p.shared {
		return p.cfg.sharedSchema, nil, nil
	}
	t, ok := tenancy.FromContext(ctx)
	if !ok {
		return "", nil, tenancy.ErrNoTenant
	}
	if err := tenancy.ValidateSchemaName(t.Schema, p.cfg.reserved()...); err != nil {
		return "", nil, err
	}
	return t.Schema, p.cfg.extra, nil
}

func (p *Pool) txMode() bool { return p.cfg.mode == tenancy.TransactionMode }

func checkArgs(args []any) error {
	if len(args) > 0 {
		if _, ok := args[0].(pgx.QueryExecMode); ok {
			return ErrQueryExecMode
		}
	}
	return nil
}

// flight is one statement (or a Tx's BEGIN) with what goes in front of and
// behind it, sent as one pgx batch: one round trip. pgx sends a batch with the
// extended protocol and one Sync (or, in QueryExecModeSimpleProtocol, as one
// multi-statement Query message), so the server runs it as one implicit
// transaction, or, with BEGIN and COMMIT inside, as one explicit one.
type flight struct {
	b      pgx.Batch
	before int  // results of prefix statements to discard before the user's
	after  int  // results of suffix statements (COMMIT) after the user's
	reset  bool // the flight carries a session reset
}

// standalone builds the flight of a statement outside a Tx.
//
// SessionMode: [reset if the connection is not known to be schema's] SET
// search_path, statement. TransactionMode: BEGIN, session.ResetLocal, SET LOCAL
// search_path, statement, COMMIT: explicit BEGIN and COMMIT because SET LOCAL
// needs a transaction block, which the extended protocol's implicit transaction
// is not (SET LOCAL would warn and rely on it lasting to the Sync). Behind
// PgBouncer in transaction pooling the flight is one transaction, so it stays on
// one server connection; PgBouncer frees that only at the ReadyForQuery with
// status idle after the Sync.
func (p *Pool) standalone(st *connState, schema string, extra []string, sql string, args []any) *flight {
	f := &flight{}
	if p.txMode() {
		f.b.Queue("BEGIN")
		for _, s := range resetLocalStmts {
			f.b.Queue(s)
		}
		f.b.Queue(session.SetPath(schema, extra, true))
	} else {
		if st.owner != schema {
			for _, s := range resetStmts {
				f.b.Queue(s)
			}
			f.reset = true
		}
		f.b.Queue(session.SetPath(schema, extra, false))
	}
	f.before = f.b.Len()
	f.b.Queue(sql, args...)
	if p.txMode() {
		f.b.Queue("COMMIT")
		f.after = 1
	}
	return f
}

// discard reads n results of br, returning the first error.
func discard(br pgx.BatchResults, n int) error {
	for i := 0; i < n; i++ {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	return nil
}

// Exec runs a statement that returns no rows in the schema of ctx's tenant, in
// one round trip (see the package documentation). Errors from the server are
// returned as pgx returns them (*pgconn.PgError; use errors.As).
func (p *Pool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	schema, extra, err := p.target(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	if err := checkArgs(args); err != nil {
		return pgconn.CommandTag{}, err
	}
	c, err := p.pool.Acquire(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	defer c.Release()
	st := p.conns.get(c.Conn())
	if p.cacheable(args) {
		return p.execCached(ctx, c, st, schema, extra, sql, args)
	}
	f := p.standalone(st, schema, extra, sql, args)
	br := c.SendBatch(ctx, &f.b)
	tag, err := func() (pgconn.CommandTag, error) {
		if err := discard(br, f.before); err != nil {
			return pgconn.CommandTag{}, err
		}
		tag, err := br.Exec()
		if err != nil {
			return tag, err
		}
		return tag, discard(br, f.after)
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, p.settle(ctx, c, st, schema, f.reset, true, err)
}

// settle updates what the Pool knows of the connection after a standalone
// flight ended with err, clean saying whether its results were read to the
// end. The connection belongs to schema only if all of it succeeded and the
// server is idle (not in a transaction). A transaction left open (text BEGIN,
// or the error of a TransactionMode flight) is rolled back.
func (p *Pool) settle(ctx context.Context, c *pgxpool.Conn, st *connState, schema string, reset, clean bool, err error) error {
	pc := c.Conn().PgConn()
	if pc.IsClosed() {
		st.setOwner("")
		return err
	}
	if status := pc.TxStatus(); status != 'I' {
		st.setOwner("")
		// WithoutCancel: the rollback must run even if ctx is done; if it fails,
		// pgxpool destroys the connection on Release (it is not idle).
		_, rerr := pc.Exec(context.WithoutCancel(ctx), "ROLLBACK").ReadAll()
		if err == nil {
			if p.txMode() {
				err = fmt.Errorf("tenancypgx: unexpected transaction status %q after a statement", status)
			} else {
				err = ErrOpenedTx
			}
		}
		if rerr != nil {
			err = errors.Join(err, rerr)
		}
		return err
	}
	switch {
	case p.txMode():
		// Nothing is kept on the session.
	case err == nil && clean:
		st.setOwner(schema)
	case reset || err == nil:
		// The reset was undone with the failed flight, or the rows were not read
		// to the end: trust nothing.
		st.setOwner("")
	}
	return err
}

// Query runs a statement that returns rows in the schema of ctx's tenant, in
// one round trip. The connection is held until the rows are closed (reading
// them to the end closes them); always close them. Rows.Conn returns nil: the
// connection is not the caller's to use.
func (p *Pool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	schema, extra, err := p.target(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkArgs(args); err != nil {
		return nil, err
	}
	c, err := p.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	st := p.conns.get(c.Conn())
	if p.cacheable(args) {
		return p.queryCached(ctx, c, st, schema, extra, sql, args)
	}
	f := p.standalone(st, schema, extra, sql, args)
	br := c.SendBatch(ctx, &f.b)
	finish := func(err error, clean bool) error {
		if err == nil {
			err = discard(br, f.after)
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		err = p.settle(ctx, c, st, schema, f.reset, clean, err)
		c.Release()
		return err
	}
	return batchRows(br, f.before, finish)
}

// batchRows reads past the before results of the scoping statements in front of
// a query in br, and returns the query's rows, which end the batch with finish
// when closed (or finish at once, if the batch failed before them).
func batchRows(br pgx.BatchResults, before int, finish func(error, bool) error) (pgx.Rows, error) {
	if err := discard(br, before); err != nil {
		return nil, finish(err, false)
	}
	inner, err := br.Query()
	if err != nil {
		if inner != nil {
			inner.Close()
		}
		return nil, finish(err, false)
	}
	return &rows{inner: inner, finish: finish}, nil
}

// QueryRow runs a statement expected to return at most one row, like
// [Pool.Query]. Its Scan returns pgx.ErrNoRows if there is none.
func (p *Pool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	r, err := p.Query(ctx, sql, args...)
	return &row{rows: r, err: err}
}

// rows wraps the user's statement's rows: when they end, the rest of the flight
// is read and the connection settled and released.
type rows struct {
	inner  pgx.Rows
	finish func(err error, clean bool) error
	done   bool
	err    error
}

var _ pgx.Rows = (*rows)(nil)

func (r *rows) Next() bool {
	if r.done {
		return false
	}
	if r.inner.Next() {
		return true
	}
	r.end(true)
	return false
}

func (r *rows) end(clean bool) {
	if r.done {
		return
	}
	r.done = true
	r.inner.Close()
	err := r.inner.Err()
	r.err = r.finish(err, clean && err == nil)
}

func (r *rows) Close() { r.end(false) }

func (r *rows) Err() error {
	if r.done {
		return r.err
	}
	return r.inner.Err()
}

func (r *rows) CommandTag() pgconn.CommandTag                { return r.inner.CommandTag() }
func (r *rows) FieldDescriptions() []pgconn.FieldDescription { return r.inner.FieldDescriptions() }
func (r *rows) Scan(dest ...any) error                       { return r.inner.Scan(dest...) }
func (r *rows) Values() ([]any, error)                       { return r.inner.Values() }
func (r *rows) RawValues() [][]byte                          { return r.inner.RawValues() }

// Conn returns nil: the connection belongs to the Pool.
func (r *rows) Conn() *pgx.Conn { return nil }

// row is pgx's connRow over rows.
type row struct {
	rows pgx.Rows
	err  error
}

func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	rs := r.rows
	defer rs.Close()
	if !rs.Next() {
		if err := rs.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := rs.Scan(dest...); err != nil {
		return err
	}
	// Read to the end, so that the connection counts as clean.
	for rs.Next() {
	}
	return rs.Err()
}

// TypeMap returns the type map the rows decode with.
func (r *rows) TypeMap() *pgtype.Map { return r.inner.TypeMap() }
