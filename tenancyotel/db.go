package tenancyotel

import (
	"context"
	"database/sql"

	"github.com/jmoiron/sqlx"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-tenancy/tenancy"
)

// DB is a [*tenancy.DB] whose query methods each run in a client span
// ("tenancy.statement SELECT", with db.system.name, db.query.text and
// tenant.schema): the way to trace an application's statements today. It
// wraps the calls, not the driver, so the DB keeps its fast paths (a switch
// sent in the same message as the statement; the connection's own schema
// cache): a traced statement costs the round trips an untraced one does. The
// methods it does not override (BeginTxx, InTx, Shared, Pool, ...) are the
// embedded DB's, untraced; statements inside a transaction are not traced.
//
// DB satisfies sqlc's DBTX, so generated code takes it as it takes a
// *tenancy.DB. A statement whose context carries no span is not traced
// (no span is started for it), so background work without a trace costs a
// context lookup.
type DB struct {
	*tenancy.DB
	tracer trace.Tracer
}

// TraceDB returns db with its query methods traced, on the global
// TracerProvider unless [WithTracerProvider] says otherwise.
func TraceDB(db *tenancy.DB, opts ...Option) *DB {
	return &DB{DB: db, tracer: newConfig(opts).tp.Tracer(ScopeName)}
}

// start begins the statement's span if ctx is traced; end is never nil.
func (d *DB) start(ctx context.Context, query string) (context.Context, func(error)) {
	if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		return ctx, func(error) {}
	}
	ctx, span := d.tracer.Start(ctx, "tenancy.statement "+operation(query), trace.WithSpanKind(trace.SpanKindClient))
	if !span.IsRecording() {
		span.End()
		return ctx, func(error) {}
	}
	kv := []attribute.KeyValue{attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", query)}
	if t, ok := tenancy.FromContext(ctx); ok {
		kv = append(kv, attribute.String("tenant.schema", t.Schema))
	}
	span.SetAttributes(kv...)
	return ctx, func(err error) {
		if err != nil && err != sql.ErrNoRows {
			span.RecordError(err)
			span.SetStatus(codes.Error, "statement failed")
		}
		span.End()
	}
}

// ExecContext is [tenancy.DB.ExecContext] in a span.
func (d *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, end := d.start(ctx, query)
	res, err := d.DB.ExecContext(ctx, query, args...)
	end(err)
	return res, err
}

// QueryContext is [tenancy.DB.QueryContext] in a span that ends when the
// query has been answered (not when the rows are closed).
func (d *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, end := d.start(ctx, query)
	rows, err := d.DB.QueryContext(ctx, query, args...)
	end(err)
	return rows, err
}

// QueryxContext is [tenancy.DB.QueryxContext] in a span, as QueryContext.
func (d *DB) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	ctx, end := d.start(ctx, query)
	rows, err := d.DB.QueryxContext(ctx, query, args...)
	end(err)
	return rows, err
}

// QueryRowContext is [tenancy.DB.QueryRowContext] in a span; the row's error
// (deferred to Scan) is not recorded in it.
func (d *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx, end := d.start(ctx, query)
	row := d.DB.QueryRowContext(ctx, query, args...)
	end(nil)
	return row
}

// QueryRowxContext is [tenancy.DB.QueryRowxContext] in a span, as
// QueryRowContext.
func (d *DB) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	ctx, end := d.start(ctx, query)
	row := d.DB.QueryRowxContext(ctx, query, args...)
	end(nil)
	return row
}

// GetContext is [tenancy.DB.GetContext] in a span.
func (d *DB) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	ctx, end := d.start(ctx, query)
	err := d.DB.GetContext(ctx, dest, query, args...)
	end(err)
	return err
}

// SelectContext is [tenancy.DB.SelectContext] in a span.
func (d *DB) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	ctx, end := d.start(ctx, query)
	err := d.DB.SelectContext(ctx, dest, query, args...)
	end(err)
	return err
}

// PrepareContext is [tenancy.DB.PrepareContext] in a span (the preparation
// only; the statement's executions are not traced).
func (d *DB) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	ctx, end := d.start(ctx, query)
	st, err := d.DB.PrepareContext(ctx, query)
	end(err)
	return st, err
}
