package tenancy

import (
	"context"
	"database/sql"
)

// The database/sql methods that sqlc's generated code needs (its DBTX
// interface: ExecContext, PrepareContext, QueryContext, QueryRowContext), so that
// a [*DB] can be handed to a sqlc package's New as it is:
//
//	q := store.New(db)                            // sqlc, database/sql flavour
//	user, err := q.GetUser(r.Context(), id)       // runs in the request tenant's schema
//
// Every query runs in the schema of its context's tenant, as with the other
// methods, and fails with [ErrNoTenant] without one. [DB.Pool] (a *sqlx.DB)
// satisfies DBTX too and is fenced the same way; so is sqlc's WithTx with the
// *sql.Tx inside a [Tx] (tx.Tx.Tx), which runs in the transaction's schema.

// PrepareContext prepares a statement (database/sql's DB.PrepareContext). Each
// execution of it runs in the schema of the context given to that execution, not
// the one given here.
func (db *DB) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	ctx, p := db.conn(ctx)
	return p.PrepareContext(ctx, query)
}

// QueryRowContext runs a query expected to return at most one row. Errors,
// including [ErrNoTenant], are deferred to the Row's Scan.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx, p := db.conn(ctx)
	return p.QueryRowContext(ctx, query, args...)
}
