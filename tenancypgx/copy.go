package tenancypgx

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/go-tenancy/tenancy/internal/session"
)

// qualify puts a table name in schema: a one-part name gets the schema in
// front; a two-part name must already name it. pgx's CopyFrom asks the server
// for the table's column types before it copies, in a round trip of its own,
// so the name must not depend on search_path.
func qualify(t pgx.Identifier, schema string) (pgx.Identifier, error) {
	switch {
	case len(t) == 1:
		return pgx.Identifier{schema, t[0]}, nil
	case len(t) == 2 && t[0] == schema:
		return t, nil
	}
	return nil, fmt.Errorf("tenancypgx: CopyFrom: table %s is not in schema %q; pass the table name alone", t.Sanitize(), schema)
}

// CopyFrom copies rows into a table of ctx's tenant with the COPY protocol
// (pgx.Conn.CopyFrom). tableName is the table's name alone (or qualified with
// the tenant's schema, which it is anyway, so that it does not depend on
// search_path). Defaults, triggers and constraints still see the tenant's
// search_path: CopyFrom first sends, in a round trip of its own, what puts the
// session in the schema (SessionMode: [reset] SET search_path; TransactionMode:
// BEGIN, session.ResetLocal, SET LOCAL search_path, and COMMIT after the copy).
// So it costs one extra round trip (two in TransactionMode) on top of pgx's.
func (p *Pool) CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error) {
	schema, extra, err := p.target(ctx)
	if err != nil {
		return 0, err
	}
	ident, err := qualify(tableName, schema)
	if err != nil {
		return 0, err
	}
	c, err := p.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Release()
	st := p.conns.get(c.Conn())
	f := p.standalone(st, schema, extra, "", nil)
	// standalone queued the user's statement and COMMIT: keep only the prefix.
	f.b.QueuedQueries = f.b.QueuedQueries[:f.before]
	br := c.SendBatch(ctx, &f.b)
	err = discard(br, f.before)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, p.settle(ctx, c, st, schema, f.reset, false, err)
	}
	n, err := c.Conn().CopyFrom(ctx, ident, columnNames, rowSrc)
	if err == nil && p.txMode() {
		_, err = c.Exec(ctx, "COMMIT")
	}
	return n, p.settle(ctx, c, st, schema, true, true, err)
}

// CopyFrom is [Pool.CopyFrom] in the transaction: one extra round trip (the
// SET) on top of pgx's.
func (tx *Tx) CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error) {
	if _, err := tx.check(ctx, "", nil); err != nil {
		return 0, err
	}
	ident, err := qualify(tableName, tx.schema)
	if err != nil {
		return 0, err
	}
	if _, err := tx.c.Exec(ctx, session.SetPath(tx.schema, tx.extra, tx.p.txMode())); err != nil {
		return 0, tx.after(err)
	}
	n, err := tx.c.Conn().CopyFrom(ctx, ident, columnNames, rowSrc)
	return n, tx.after(err)
}
