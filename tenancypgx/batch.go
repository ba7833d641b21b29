package tenancypgx

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/go-tenancy/tenancy/internal/session"
)

// SendBatch sends b's statements in the schema of ctx's tenant, in one round
// trip, each with SET search_path in front of it (so that no statement of the
// batch can move the next), after the same prefix as a single statement (and
// with COMMIT after them in TransactionMode). The results are b's, in order;
// the Pool's own are skipped. The connection is held until the results are
// closed: always call Close. Queued callbacks (QueuedQuery.Query, Exec,
// QueryRow) run as with pgx; they are given pgx's own BatchResults.
func (p *Pool) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	schema, extra, err := p.target(ctx)
	if err != nil {
		return &batchResults{err: err}
	}
	for _, q := range b.QueuedQueries {
		if err := checkArgs(q.Arguments); err != nil {
			return &batchResults{err: err}
		}
	}
	c, err := p.pool.Acquire(ctx)
	if err != nil {
		return &batchResults{err: err}
	}
	st := p.conns.get(c.Conn())
	f := p.standalone(st, schema, extra, "", nil)
	prefix := f.b.QueuedQueries[:f.before]
	set := prefix[len(prefix)-1].SQL
	var out pgx.Batch
	out.QueuedQueries = append(out.QueuedQueries, prefix[:len(prefix)-1]...)
	for _, q := range b.QueuedQueries {
		out.Queue(set)
		out.QueuedQueries = append(out.QueuedQueries, q)
	}
	if p.txMode() {
		out.Queue("COMMIT")
	}
	br := c.SendBatch(ctx, &out)
	r := &batchResults{inner: br}
	r.finish = func(err error) error {
		err = p.settle(ctx, c, st, schema, f.reset, err == nil, err)
		c.Release()
		return err
	}
	if err := discard(br, len(prefix)-1); err != nil {
		r.fail(err)
	}
	return r
}

// SendBatch is [Pool.SendBatch] in the transaction: each statement of b gets
// the SET in front of it, one round trip. Close the results before the next
// statement of the Tx.
func (tx *Tx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if _, err := tx.check(ctx, "", nil); err != nil {
		return &batchResults{err: err}
	}
	var out pgx.Batch
	for _, q := range b.QueuedQueries {
		if refused, _ := txControl(q.SQL); refused {
			return &batchResults{err: ErrTxControl}
		}
		if err := checkArgs(q.Arguments); err != nil {
			return &batchResults{err: err}
		}
		out.Queue(session.SetPath(tx.schema, tx.extra, tx.p.txMode()))
		out.QueuedQueries = append(out.QueuedQueries, q)
	}
	br := tx.c.SendBatch(ctx, &out)
	return &batchResults{inner: br, finish: tx.after}
}

// batchResults skips the SET before each of the user's results.
type batchResults struct {
	inner  pgx.BatchResults
	finish func(error) error // settles the connection once, at Close
	err    error             // the first error; every later call returns it
	closed bool
}

func (r *batchResults) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *batchResults) skip() error {
	if r.err != nil {
		return r.err
	}
	if r.closed {
		return errors.New("tenancypgx: batch already closed")
	}
	if _, err := r.inner.Exec(); err != nil {
		r.fail(err)
		return err
	}
	return nil
}

func (r *batchResults) Exec() (pgconn.CommandTag, error) {
	if err := r.skip(); err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := r.inner.Exec()
	if err != nil {
		r.fail(err)
	}
	return tag, err
}

func (r *batchResults) Query() (pgx.Rows, error) {
	if err := r.skip(); err != nil {
		return &errRows{err: err}, err
	}
	rows, err := r.inner.Query()
	if err != nil {
		r.fail(err)
	}
	return rows, err
}

func (r *batchResults) QueryRow() pgx.Row {
	rows, err := r.Query()
	return &row{rows: rows, err: err}
}

func (r *batchResults) Close() error {
	if r.closed {
		return r.err
	}
	r.closed = true
	if r.inner != nil {
		if err := r.inner.Close(); err != nil {
			r.fail(err)
		}
	}
	if r.finish != nil {
		r.err = r.finish(r.err)
	}
	return r.err
}

// errRows are the rows of a result that failed before it started.
type errRows struct{ err error }

func (r *errRows) Close()                                       {}
func (r *errRows) Err() error                                   { return r.err }
func (r *errRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (r *errRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (r *errRows) Next() bool                                   { return false }
func (r *errRows) Scan(...any) error                            { return r.err }
func (r *errRows) Values() ([]any, error)                       { return nil, r.err }
func (r *errRows) RawValues() [][]byte                          { return nil }
func (r *errRows) Conn() *pgx.Conn                              { return nil }
func (r *errRows) TypeMap() *pgtype.Map                         { return nil }

// Tx returns nil: a batch cannot begin a transaction through the Pool (one that
// does, with pgx.Batch.BeginTx or a BEGIN, is rolled back at Close, which
// returns ErrOpenedTx). Use [Pool.Begin].
func (r *batchResults) Tx() pgx.Tx { return nil }
