package tenancypgx

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/session"
)

// Tx is a transaction bound to the schema of the context that began it. Its
// statements run in that schema even with a context that carries no tenant; a
// context naming another tenant is refused with [tenancy.ErrTenantMismatch].
// Every statement goes out with the SET that puts it in the schema in front of it,
// in one round trip, so that nothing a statement of the transaction does to
// search_path (SET, SET LOCAL, set_config, a function) moves the next one.
//
// A Tx is not safe for concurrent use. It holds its connection until Commit or
// Rollback; call one of them (a deferred Rollback after Commit is harmless and
// returns pgx.ErrTxClosed).
type Tx struct {
	p      *Pool
	c      *pgxpool.Conn
	st     *connState
	schema string
	extra  []string
	// reset: BEGIN's flight carried a session reset, which a rollback undoes.
	reset  bool
	commit string // the COMMIT text (pgx.TxOptions.CommitQuery, or "COMMIT")
	// ended is ErrTxEnded once the server reported the transaction over, or
	// pgx.ErrTxClosed after Commit or Rollback.
	ended error
}

// Begin starts a transaction in the schema of ctx's tenant, like BeginTx with
// zero options.
func (p *Pool) Begin(ctx context.Context) (*Tx, error) {
	return p.BeginTx(ctx, pgx.TxOptions{})
}

// BeginTx starts a transaction with opts in the schema of ctx's tenant, in one
// round trip. In SessionMode the flight is [reset] SET search_path, BEGIN; in
// TransactionMode BEGIN, session.ResetLocal, SET LOCAL search_path.
func (p *Pool) BeginTx(ctx context.Context, opts pgx.TxOptions) (*Tx, error) {
	schema, extra, err := p.target(ctx)
	if err != nil {
		return nil, err
	}
	c, err := p.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	st := p.conns.get(c.Conn())
	tx := &Tx{p: p, c: c, st: st, schema: schema, extra: extra, commit: "COMMIT"}
	if opts.CommitQuery != "" {
		tx.commit = opts.CommitQuery
	}
	var b pgx.Batch
	if p.txMode() {
		b.Queue(beginSQL(opts))
		for _, s := range resetLocalStmts {
			b.Queue(s)
		}
		b.Queue(session.SetPath(schema, extra, true))
	} else {
		if st.owner != schema {
			for _, s := range resetStmts {
				b.Queue(s)
			}
			tx.reset = true
		}
		b.Queue(session.SetPath(schema, extra, false))
		b.Queue(beginSQL(opts))
	}
	br := c.SendBatch(ctx, &b)
	err = discard(br, b.Len())
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	pc := c.Conn().PgConn()
	if err == nil && pc.TxStatus() != 'T' {
		err = fmt.Errorf("tenancypgx: BeginTx: transaction status %q after BEGIN", pc.TxStatus())
	}
	if err != nil {
		st.setOwner("")
		if !pc.IsClosed() && pc.TxStatus() != 'I' {
			_, rerr := pc.Exec(context.WithoutCancel(ctx), "ROLLBACK").ReadAll()
			err = errors.Join(err, rerr)
		}
		c.Release()
		return nil, err
	}
	if p.txMode() {
		st.setOwner("")
	} else {
		// The session is the tenant's for the transaction; settled at its end.
		st.setOwner(schema)
	}
	return tx, nil
}

// beginSQL is pgx's TxOptions BEGIN text.
func beginSQL(o pgx.TxOptions) string {
	if o.BeginQuery != "" {
		return o.BeginQuery
	}
	var b strings.Builder
	b.WriteString("BEGIN")
	if o.IsoLevel != "" {
		b.WriteString(" ISOLATION LEVEL ")
		b.WriteString(string(o.IsoLevel))
	}
	if o.AccessMode != "" {
		b.WriteString(" ")
		b.WriteString(string(o.AccessMode))
	}
	if o.DeferrableMode != "" {
		b.WriteString(" ")
		b.WriteString(string(o.DeferrableMode))
	}
	return b.String()
}

// Schema returns the schema the transaction runs in.
func (tx *Tx) Schema() string { return tx.schema }

// check refuses a statement the Tx must not send.
func (tx *Tx) check(ctx context.Context, sql string, args []any) (rollbackTo bool, err error) {
	if tx.ended != nil {
		return false, tx.ended
	}
	if !tx.p.shared {
		if t, ok := tenancy.FromContext(ctx); ok && t.Schema != tx.schema {
			return false, fmt.Errorf("%w: statement for schema %q in a transaction of %q",
				tenancy.ErrTenantMismatch, t.Schema, tx.schema)
		}
	}
	if err := checkArgs(args); err != nil {
		return false, err
	}
	refused, rollbackTo := txControl(sql)
	if refused {
		return false, ErrTxControl
	}
	return rollbackTo, nil
}

// flight builds a statement's flight: SET search_path (SET LOCAL in
// TransactionMode), then the statement; ROLLBACK TO SAVEPOINT goes alone, since
// it is all an aborted transaction accepts.
func (tx *Tx) flight(sql string, args []any, rollbackTo bool) *flight {
	f := &flight{}
	if !rollbackTo {
		f.b.Queue(session.SetPath(tx.schema, tx.extra, tx.p.txMode()))
	}
	f.before = f.b.Len()
	f.b.Queue(sql, args...)
	return f
}

// after checks the server's transaction status after a statement: if the
// transaction is over, the Tx refuses everything from now on.
func (tx *Tx) after(err error) error {
	pc := tx.c.Conn().PgConn()
	if pc.IsClosed() {
		tx.ended = errors.Join(ErrTxEnded, errors.New("tenancypgx: connection closed"))
		tx.st.setOwner("")
		if err == nil {
			err = tx.ended
		}
		return err
	}
	switch pc.TxStatus() {
	case 'T', 'E':
		return err
	}
	tx.ended = ErrTxEnded
	tx.st.setOwner("")
	if err == nil {
		return ErrTxEnded
	}
	return errors.Join(err, ErrTxEnded)
}

// Exec runs a statement that returns no rows in the transaction's schema.
func (tx *Tx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	rollbackTo, err := tx.check(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	f := tx.flight(sql, args, rollbackTo)
	br := tx.c.SendBatch(ctx, &f.b)
	tag, err := func() (pgconn.CommandTag, error) {
		if err := discard(br, f.before); err != nil {
			return pgconn.CommandTag{}, err
		}
		return br.Exec()
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, tx.after(err)
}

// Query runs a statement that returns rows in the transaction's schema. Close
// the rows before the next statement of the Tx.
func (tx *Tx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rollbackTo, err := tx.check(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	f := tx.flight(sql, args, rollbackTo)
	br := tx.c.SendBatch(ctx, &f.b)
	finish := func(err error, _ bool) error {
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return tx.after(err)
	}
	return batchRows(br, f.before, finish)
}

// QueryRow is Query for at most one row; Scan returns pgx.ErrNoRows if there is
// none.
func (tx *Tx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	r, err := tx.Query(ctx, sql, args...)
	return &row{rows: r, err: err}
}

// Commit commits the transaction and releases its connection. A transaction
// that failed is rolled back by the server; Commit then returns
// pgx.ErrTxCommitRollback.
func (tx *Tx) Commit(ctx context.Context) error {
	if tx.ended != nil {
		err := tx.ended
		tx.release()
		return err
	}
	tag, err := tx.c.Exec(ctx, tx.commit)
	pc := tx.c.Conn().PgConn()
	switch {
	case err == nil && pc.TxStatus() != 'I':
		err = fmt.Errorf("tenancypgx: Commit: transaction status %q after %s", pc.TxStatus(), tx.commit)
	case err == nil && tag.String() == "ROLLBACK":
		err = pgx.ErrTxCommitRollback
		if tx.reset {
			tx.st.setOwner("")
		}
	}
	if err != nil && err != pgx.ErrTxCommitRollback {
		tx.st.setOwner("")
	}
	tx.ended = pgx.ErrTxClosed
	tx.release()
	return err
}

// Rollback rolls the transaction back and releases its connection. After
// Commit or Rollback it returns pgx.ErrTxClosed and does nothing.
func (tx *Tx) Rollback(ctx context.Context) error {
	if tx.ended != nil {
		err := tx.ended
		tx.release()
		return err
	}
	_, err := tx.c.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	if err != nil || tx.reset {
		// The reset before BEGIN was part of the transaction: undone.
		tx.st.setOwner("")
	}
	tx.ended = pgx.ErrTxClosed
	tx.release()
	return err
}

func (tx *Tx) release() {
	if tx.c != nil {
		if tx.p.txMode() {
			tx.st.setOwner("")
		}
		tx.c.Release()
		tx.c = nil
	}
}
