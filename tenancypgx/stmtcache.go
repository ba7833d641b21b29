package tenancypgx

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go-tenancy/tenancy/internal/session"
)

// The statement cache. A standalone SessionMode statement (Pool.Exec, Query,
// QueryRow) is sent through pgconn's pipeline, in one round trip:
//
//	[the reset, when the connection is not known to be schema's]
//	SET search_path, Parse + Describe of the statement under a new name,
//	Bind + Execute of that name, Sync
//
// and, once the connection holds that name for the statement's SQL text:
//
//	SET search_path, Bind + Execute of the name (binary formats), Sync
//
// The server then plans the statement once per connection instead of every
// time, as pgx's own statement cache does for schema-qualified SQL. What keeps
// it isolated:
//
//   - A statement is parsed after its SET, in the same pipeline, so its names
//     resolve in its tenant's schema, and it is cached for that schema only:
//     connState.stmts belongs to connState.owner and is dropped when the owner
//     changes. A switch sends the reset, whose DEALLOCATE ALL drops every
//     prepared statement on the server, ours and any SQL-level one.
//   - Every use is preceded by the SET, so the plan is always used under the
//     search_path it was made with; PostgreSQL would re-plan it otherwise.
//   - If the statement is no longer what the cache says (DEALLOCATE by the
//     tenant's own SQL: "prepared statement does not exist"; a migration that
//     changed the result: "cached plan must not change result type"), the
//     server refuses it at Bind, before it runs; the cache is dropped and the
//     statement sent again, parsed anew (one more round trip, once).
//   - A name is never reused ("tenancypgx_<n>", n counting for the process).
//
// Not cached: statements whose first argument is a pgx.QueryRewriter (named
// arguments), and every statement of a Pool with a pgx tracer, in
// TransactionMode or with pgx's simple protocol; they go through pgx's batch.

// stmtSeq numbers the statements the cache prepares.
var stmtSeq atomic.Uint64

func stmtName() string { return "tenancypgx_" + strconv.FormatUint(stmtSeq.Add(1), 10) }

func (p *Pool) cacheable(args []any) bool {
	if !p.cache {
		return false
	}
	if len(args) > 0 {
		if _, ok := args[0].(pgx.QueryRewriter); ok {
			return false
		}
	}
	return true
}

// cachedFlight is one statement sent through the pipeline.
type cachedFlight struct {
	pl       *pgconn.Pipeline
	rr       *pgconn.ResultReader         // the statement's result
	reset    bool                         // the flight carries the reset
	hit      *pgconn.StatementDescription // the cached statement it runs
	prepared *pgconn.StatementDescription // the statement it prepared
	sql      string
}

// stale says whether err is the server refusing the cached statement sd before
// running it: dropped by name, or its result changed by DDL.
func stale(err error, sd *pgconn.StatementDescription) bool {
	var pe *pgconn.PgError
	if sd == nil || !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "26000": // invalid_sql_statement_name
		return strings.Contains(pe.Message, `"`+sd.Name+`"`)
	case "0A000": // feature_not_supported
		return pe.Message == "cached plan must not change result type"
	}
	return false
}

// startCached sends the flight of sql on c and reads up to the statement's
// result. f is nil only if nothing was sent. On error the pipeline is closed;
// stale(err, f.hit) says whether the flight may be sent again.
func (p *Pool) startCached(ctx context.Context, c *pgxpool.Conn, st *connState, schema string, extra []string, sql string, args []any) (*cachedFlight, error) {
	f := &cachedFlight{sql: sql, reset: st.owner != schema}
	if !f.reset {
		f.hit = st.stmts[sql]
	}
	var eqb pgx.ExtendedQueryBuilder
	if err := eqb.Build(c.Conn().TypeMap(), f.hit, args); err != nil {
		return nil, err
	}
	if f.reset {
		// The reset's DEALLOCATE ALL drops them on the server.
		st.stmts, st.drop = nil, nil
	}
	pl := c.Conn().PgConn().StartPipeline(ctx)
	f.pl = pl
	// In front of the statement's result: a CloseComplete per name dropped,
	// then a result per statement of the reset and the SET.
	closes, stmts := len(st.drop), 1
	for _, name := range st.drop {
		pl.SendDeallocate(name)
	}
	st.drop = nil
	if f.reset {
		for _, s := range resetStmts {
			pl.SendQueryParams(s, nil, nil, nil, nil)
		}
		stmts += len(resetStmts)
	}
	pl.SendQueryParams(session.SetPath(schema, extra, false), nil, nil, nil, nil)
	var name string
	switch {
	case f.hit != nil:
		pl.SendQueryStatement(f.hit, eqb.ParamValues, eqb.ParamFormats, eqb.ResultFormats)
	case len(st.stmts) < p.cfg.stmtCap:
		// Parameter types as the server infers them, the arguments in text
		// format (as pgx's QueryExecModeExec sends them); the results in text,
		// their types not known yet.
		name = stmtName()
		pl.SendPrepare(name, sql, nil)
		pl.SendQueryPrepared(name, eqb.ParamValues, eqb.ParamFormats, nil)
	default:
		pl.SendQueryParams(sql, eqb.ParamValues, nil, eqb.ParamFormats, nil)
	}
	if err := pl.Sync(); err != nil {
		return f, closePipeline(pl, err)
	}
	for i := 0; i < closes+stmts; i++ {
		res, err := pl.GetResults()
		if err == nil {
			if i < closes {
				if _, ok := res.(*pgconn.CloseComplete); !ok {
					err = unexpected(res)
				}
			} else if rr, ok := res.(*pgconn.ResultReader); !ok {
				err = unexpected(res)
			} else {
				_, err = rr.Close()
			}
		}
		if err != nil {
			return f, closePipeline(pl, err)
		}
	}
	if name != "" {
		res, err := pl.GetResults()
		if err != nil {
			return f, closePipeline(pl, err)
		}
		sd, ok := res.(*pgconn.StatementDescription)
		if !ok {
			return f, closePipeline(pl, unexpected(res))
		}
		// pgconn's pipeline leaves Name and SQL unset.
		sd.Name, sd.SQL = name, sql
		// Kept even if the statement then fails: it exists on the server.
		f.prepared = sd
	}
	res, err := pl.GetResults()
	if err == nil {
		var ok bool
		if f.rr, ok = res.(*pgconn.ResultReader); !ok {
			err = unexpected(res)
		}
	}
	if err != nil {
		return f, closePipeline(pl, err)
	}
	return f, nil
}

func unexpected(res any) error { return fmt.Errorf("tenancypgx: unexpected pipeline result %T", res) }

// end reads the rest of the flight (its Sync) after the statement's result
// ended with err, and closes the pipeline.
func (f *cachedFlight) end(err error) error {
	if err == nil {
		var res any
		res, err = f.pl.GetResults()
		if _, ok := res.(*pgconn.PipelineSync); err == nil && !ok {
			err = unexpected(res)
		}
	}
	return closePipeline(f.pl, err)
}

// closePipeline closes pl, returning err or, if there is none, Close's error.
func closePipeline(pl *pgconn.Pipeline, err error) error {
	if cerr := pl.Close(); err == nil {
		err = cerr
	}
	return err
}

// settleCached settles the connection after a cached flight f (nil if it failed
// before anything was sent or read) and records the statement it prepared.
func (p *Pool) settleCached(ctx context.Context, c *pgxpool.Conn, st *connState, schema string, f *cachedFlight, clean bool, err error) error {
	reset := f != nil && f.reset
	err = p.settle(ctx, c, st, schema, reset, clean, err)
	if f == nil || f.prepared == nil {
		return err
	}
	switch {
	case st.owner != schema:
		// The statement stays on the server until the connection's next reset,
		// which is in front of the next statement there.
	case len(st.stmts) >= p.cfg.stmtCap:
		st.drop = append(st.drop, f.prepared.Name)
	default:
		if st.stmts == nil {
			st.stmts = make(map[string]*pgconn.StatementDescription)
		}
		st.stmts[f.sql] = f.prepared
	}
	return err
}

// dropStale forgets every cached statement of the connection after one was
// refused (a migration may have changed more than one); they are closed at the
// front of the connection's next cached flight.
func (st *connState) dropStale() {
	for _, sd := range st.stmts {
		st.drop = append(st.drop, sd.Name)
	}
	st.stmts = nil
}

// startSettled is startCached, sent once more if the server refused the
// cached statement as stale. On error the connection is settled (not released)
// and the error is the server's.
func (p *Pool) startSettled(ctx context.Context, c *pgxpool.Conn, st *connState, schema string, extra []string, sql string, args []any) (*cachedFlight, error) {
	f, err := p.startCached(ctx, c, st, schema, extra, sql, args)
	if err != nil && f != nil && stale(err, f.hit) {
		// The refused statement did not run; the flight had no reset (a cached
		// statement runs only where the connection is already schema's).
		if err = p.settleCached(ctx, c, st, schema, f, false, err); st.owner != schema {
			return nil, err
		}
		st.dropStale()
		f, err = p.startCached(ctx, c, st, schema, extra, sql, args)
	}
	if err != nil {
		return nil, p.settleCached(ctx, c, st, schema, f, false, err)
	}
	return f, nil
}

// execCached is Pool.Exec through the cache.
func (p *Pool) execCached(ctx context.Context, c *pgxpool.Conn, st *connState, schema string, extra []string, sql string, args []any) (pgconn.CommandTag, error) {
	f, err := p.startSettled(ctx, c, st, schema, extra, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := f.rr.Close()
	return tag, p.settleCached(ctx, c, st, schema, f, true, f.end(err))
}

// queryCached is Pool.Query through the cache.
func (p *Pool) queryCached(ctx context.Context, c *pgxpool.Conn, st *connState, schema string, extra []string, sql string, args []any) (pgx.Rows, error) {
	f, err := p.startSettled(ctx, c, st, schema, extra, sql, args)
	if err != nil {
		c.Release()
		return nil, err
	}
	finish := func(err error, clean bool) error {
		err = p.settleCached(ctx, c, st, schema, f, clean, f.end(err))
		c.Release()
		return err
	}
	return &rows{inner: pgx.RowsFromResultReader(c.Conn().TypeMap(), f.rr), finish: finish}, nil
}
