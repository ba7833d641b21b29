// Package tenancypgx is the native pgx v5 counterpart of [tenancy.DB]: a
// connection pool whose every statement runs in the PostgreSQL schema of the
// tenant carried by the statement's context.Context, or fails.
//
//	pool, err := tenancypgx.New(ctx, os.Getenv("DATABASE_URL"))
//	q := db.New(pool) // sqlc-generated code (sql_package: pgx/v5) takes a Pool or a Tx
//	user, err := q.GetUser(r.Context(), id) // in the schema of the request's tenant
//
// The tenant comes from [tenancy.FromContext] (put there by [tenancy.Middleware]
// or [tenancy.Registry.Context]); its schema is checked with
// [tenancy.ValidateSchemaName] against the shared schema and the [WithSearchPath]
// schemas. A statement whose context carries no tenant fails with
// [tenancy.ErrNoTenant], and one with a malformed schema with a
// *[tenancy.SchemaNameError], before a connection is even acquired: there is no
// fallback to public or to whatever a pooled connection was on. [Pool.Shared]
// runs statements in the shared schema alone.
//
// [Pool] and [Tx] have the methods of sqlc's pgx/v5 DBTX interface (Exec, Query,
// QueryRow, CopyFrom, SendBatch). A Tx is not a pgx.Tx (it has no Conn,
// Prepare, LargeObjects or nested Begin, which would reach the connection
// unscoped): pass it to sqlc's New rather than to WithTx.
//
// # Nothing is trusted about a session
//
// Every statement is sent in one flight (one round trip: a pgx batch, or pgconn's
// pipeline for the statement cache, see "Statement cache") with what puts the
// session in its schema in front of it. The results of those statements are
// read and dropped; the statement's own results, command tag and errors
// (*pgconn.PgError, for errors.As) are pgx's, unchanged.
//
//	SessionMode (default), outside a Tx:
//	    [session reset]  SET search_path TO "t"  <statement>
//	  the reset (internal/session: CLOSE ALL; DISCARD TEMP; RESET ALL;
//	  SET SESSION AUTHORIZATION DEFAULT; DEALLOCATE of SQL-PREPAREd statements)
//	  goes in front when the connection's last clean statement was another
//	  schema's, or its state is unknown: a new connection, a failed batch that
//	  carried a reset (the batch is one implicit transaction, so the reset was
//	  undone), rows closed before their end, a transaction status other than
//	  idle afterwards.
//	SessionMode, Tx:
//	    BEGIN:      [session reset]  SET search_path TO "t"  BEGIN …
//	    statements: SET search_path TO "t"  <statement>
//	TransactionMode, outside a Tx:
//	    BEGIN  CLOSE ALL  DISCARD TEMP  SET LOCAL SESSION AUTHORIZATION DEFAULT
//	    SET LOCAL search_path TO "t"  <statement>  COMMIT
//	TransactionMode, Tx:
//	    BEGIN:      BEGIN …  CLOSE ALL  DISCARD TEMP  SET LOCAL SESSION …  SET LOCAL search_path
//	    statements: SET LOCAL search_path TO "t"  <statement>
//
// Because the SET rides with every statement, no statement can move the next
// one: a SET search_path, SET SCHEMA, set_config, UPDATE pg_settings or a
// function that changes search_path as a side effect is undone by the next
// statement's SET, inside a Tx as outside (unlike [tenancy.SessionMode], which
// cannot see inside functions). A connection counts as its tenant's only once
// its whole batch succeeded, its rows were read to the end, and the server
// reports no open transaction.
//
// A statement outside a Tx that leaves a transaction open (text BEGIN, or
// pgx.Batch.BeginTx in SendBatch) is rolled back and fails with [ErrOpenedTx]
// (in TransactionMode the Pool's own transaction absorbs it). A Tx refuses
// transaction control text (BEGIN, START, COMMIT, END, ROLLBACK, ABORT, PREPARE
// TRANSACTION) with [ErrTxControl]; ROLLBACK TO SAVEPOINT is allowed and sent
// without the SET, since it is all an aborted transaction accepts. If the
// server reports the transaction over after a statement anyway, the Tx fails
// with [ErrTxEnded] from then on.
//
// TransactionMode uses explicit BEGIN and COMMIT rather than the implicit
// transaction of a pipeline, because SET LOCAL needs a transaction block (in an
// implicit one it warns and lasts only by accident). Behind PgBouncer in
// transaction pooling the whole batch is one transaction, so it runs on one
// server connection, and PgBouncer frees that at the ReadyForQuery after the
// batch's one Sync. If the statement fails, the server is left in the failed
// transaction and the Pool sends a ROLLBACK: one more round trip, on errors
// only. TransactionMode clears cursors, temporary tables and the role in every
// transaction but leaves settings (SET work_mem, custom app.* settings) and
// SQL-level prepared statements to the pooler, as [tenancy.TransactionMode]
// does: RESET ALL would undo the parameters PgBouncer tracks per client. Do not
// keep tenant-specific state in session settings under TransactionMode.
//
// # Round trips
//
// Counted on the wire by TestRoundTrips (writes after a read): Exec, Query,
// QueryRow (with or without arguments), SendBatch, Begin, every statement of a
// Tx, Commit: one round trip each, whether the connection switches tenant or
// not, in both modes and with every QueryExecMode. CopyFrom costs one round trip
// more than pgx's own (two in TransactionMode, with the COMMIT), because the
// COPY protocol cannot ride in a batch; the table name is qualified with the
// tenant's schema so that pgx's own describe step does not depend on
// search_path. A failing statement in TransactionMode costs one more (the
// ROLLBACK), and a cached statement the server refuses as stale one more, once
// (see "Statement cache").
//
// # Statement cache and QueryExecMode
//
// pgx caches statements per connection by SQL text. PostgreSQL re-plans a
// cached statement when search_path changed, but tenants at different
// migration versions have tables of different shapes: with the same SQL
// alternating between two tenants on one connection, raw pgx in
// QueryExecModeCacheStatement fails with "cached plan must not change result
// type" (SQLSTATE 0A000), and in QueryExecModeCacheDescribe with "bind message
// has 2 result formats but query has 3 columns" (08P01) (TestRawPgxStatementCacheHazard).
// In a batch the cache modes also prepare new statements in a round trip of
// their own, before the batch, so before its SET: in another tenant's schema.
//
// So [NewWithConfig] sets the pool's DefaultQueryExecMode to
// pgx.QueryExecModeExec (unnamed statements, parsed after the SET in the same
// batch, described afresh each time), unless it is
// pgx.QueryExecModeSimpleProtocol in SessionMode, which is kept (the batch is
// then one multi-statement Query message). TransactionMode always uses Exec: its
// SET LOCAL ends with the transaction, so a simple-protocol text holding a
// COMMIT followed by more statements would run those in whatever search_path
// the server connection has; the extended protocol takes one statement per
// Parse. pgx's statement cache is not used, so pgx never reuses a statement
// across schemas. TestStatementCacheAcrossTenantShapes runs the alternation
// through the Pool configured with each of the five modes: every read gets its
// tenant's columns and row, with no error. A per-statement QueryExecMode
// argument is refused with [ErrQueryExecMode].
//
// Instead the Pool keeps its own cache, per connection and per tenant, for
// Exec, Query and QueryRow outside a Tx in SessionMode (not with the simple
// protocol). The first time a connection runs a statement for its tenant, the
// flight parses it under a new name after the SET (same round trip):
//
//	[session reset]  SET search_path TO "t"  Parse+Describe "tenancypgx_N"  Bind+Execute "tenancypgx_N"
//
// and later ones, while the connection keeps serving that tenant, bind it with
// pgx's binary formats, so the server does not parse and plan it again:
//
//	SET search_path TO "t"  Bind+Execute "tenancypgx_N"
//
// The cache belongs to the connection's tenant: the switch to another tenant
// drops it (the reset's DEALLOCATE ALL drops every prepared statement, this
// cache's and SQL-level ones alike, and the Pool forgets its names), so a
// statement parsed in one tenant's schema never runs for another, and a cached
// statement is always used under the search_path it was parsed with (the SET
// in front of it; PostgreSQL would re-parse it under a moved search_path).
// If the tenant's own SQL dropped it (DEALLOCATE) or a migration changed its
// result ("cached plan must not change result type"), the server refuses it at
// Bind, before it runs; the Pool then drops the connection's cache and sends
// the statement again, parsed anew: one more round trip, once. Names are
// never reused. [WithStatementCache] sets the capacity per connection
// ([DefaultStatementCacheCapacity]; beyond it statements run unnamed) or turns
// the cache off. Statements with a pgx.QueryRewriter argument (pgx.NamedArgs),
// and every statement of a pool whose ConnConfig has a Tracer (which pgx calls
// only on its own paths), go through pgx's batch, uncached. Like pgx's cache,
// a cached statement may keep reading the table it was parsed with after the
// tenant creates a temporary table of the same name in the same session:
// PostgreSQL re-parses it only if the session had no temporary schema when it
// was parsed (TestStatementCacheTempTableShadow). Both tables are the tenant's;
// the temporary one is dropped at the next switch.
// Tests: TestStatementCachePerTenant, TestStatementCacheAfterMigration,
// TestStatementCacheDeallocatedByTenant, TestStatementCacheHijackStaysInTenant
// (an SQL-level statement put under a cached name runs for its tenant only),
// TestStatementCacheAfterSearchPathMoved, TestStatementCacheFailingStatement,
// TestStatementCacheCapacityAndBypass, TestStatementCacheTempTableShadow.
//
// Consequences of the extended protocol in one pipeline: Exec with a
// multi-statement text fails (42601) even without arguments, unlike pgx, which
// sends those with the simple protocol; statements that refuse to run in a
// pipeline or transaction block (VACUUM, CREATE INDEX CONCURRENTLY) fail with
// 25001. Run those through [Pool.Pool], which is not scoped, or configure
// QueryExecModeSimpleProtocol. A procedure that commits (CALL of one with
// COMMIT inside) runs only in SessionMode with the extended protocol; in a
// simple-protocol batch, in TransactionMode and in a Tx the server refuses its
// COMMIT (2D000, invalid transaction termination).
//
// # Escape hatches
//
// [Pool.Pool] returns the *pgxpool.Pool: its statements are NOT scoped. Rows
// returned by the Pool have a nil Conn. The pool's hooks (AfterConnect,
// PrepareConn, …) run unscoped SQL if they run any.
package tenancypgx
