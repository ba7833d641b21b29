// Package wire sends SQL of the library's own (SET search_path, a session reset)
// in the same flight as the driver's next statement, with no round trip of its
// own, on both lib/pq and pgx, by working below the driver on its net.Conn: a
// [Conn] follows the PostgreSQL protocol 3 messages the driver writes and reads,
// inserts the prefix statements in front of the driver's next batch, and removes
// the server's replies to them from the stream the driver reads.
//
// # Integration
//
// lib/pq: dial through a [Dialer] and capture the wrapper of each new connection.
// lib/pq has no TLS hook: a connection that negotiates TLS (sslmode=require, or
// prefer against a server with ssl=on) has the wrapper below the encryption, and
// the wrapper goes passive ([Conn.Available] false): send the SQL the old way.
//
//	pc, _ := pq.NewConnector(dsn)
//	pc.Dialer(wire.Dialer{})
//	// in the tenancy connector's Connect(ctx):
//	cctx, cp := wire.WithCapture(ctx)
//	dc, err := pc.Connect(cctx)
//	w := cp.Conn() // nil if the driver did not dial through wire.Dialer
//
// pgx v5 (native, through stdlib.GetConnector / stdlib.RegisterConnConfig, or
// pgxpool's ConnConfig): wrap in AfterNetConnect, which runs after TLS, so the
// wrapper works on encrypted connections too; find it again from the connection
// with [From]:
//
//	cfg.AfterNetConnect = func(ctx context.Context, _ *pgconn.Config, nc net.Conn) (net.Conn, error) {
//		return wire.AfterNetConnect(ctx, nc)
//	}
//	w, ok := wire.From(pgxConn.PgConn().Conn()) // stdlib: (*stdlib.Conn).Conn().PgConn().Conn()
//
// pgx finds the TLS connection for SCRAM channel binding by asserting
// *tls.Conn on the connection AfterNetConnect returned: behind the wrapper it
// cannot, so SCRAM-SHA-256-PLUS is not used (channel_binding=require fails to
// connect; the default falls back to SCRAM-SHA-256). Leave AfterNetConnect unset
// where channel binding is required.
//
// Per statement, on the goroutine that runs it, before handing it to the driver:
//
//	if w != nil && w.Available() && w.Prefix(setSQL) == nil { /* the SET rides along */ }
//	... run the statement through the driver ...
//	o := w.Outcome()
//
// [Conn.Outcome] says what became of the prefix once the driver's call returned:
// Sent (it went out; a statement that the driver sends as two batches, such as
// lib/pq's parameterised queries, carries it in the first), Err (a prefix
// statement failed: the driver got that error, none of the driver's messages up to
// its Sync ran), Aborted (something later in the same batch failed, which rolled
// the prefix back outside a transaction block), and the ReadyForQuery status that
// ended the batch; [Outcome.Committed] is the "the session is now on that schema"
// test. [Conn.TxStatus] is the status of the last ReadyForQuery the driver read,
// whoever sent the statement ('I', 'T', 'E'): use it to see BEGIN/COMMIT/ROLLBACK
// sent as text, and a transaction that failed. [Conn.Disarm] withdraws a prefix
// that has not gone out (the driver failed before writing).
//
// Rules for the caller: the prefix must be plain SQL (no parameters, no COPY,
// statements that may run in a transaction block); the driver's statement must
// also be one that may run in a transaction block (not VACUUM, CREATE DATABASE,
// CREATE INDEX CONCURRENTLY, …), since the prefix puts it in one; do not arm a
// prefix in front of BEGIN if a ROLLBACK must not undo it (a Query "SET …; BEGIN"
// puts the SET in the transaction block); and arm only between the driver's
// calls, never while it is in the middle of one (a pgx pipeline without Sync).
// A SET LOCAL prefix outside a transaction block ends with the driver's first
// batch: it covers the statement only when the driver sends it in one batch (pgx
// Exec and SimpleProtocol modes, pgx cache modes once the statement is cached,
// lib/pq without arguments), not lib/pq with arguments or pgx DescribeExec, which
// parse and execute in two (see TestSetLocalOneBatch); a session-level SET
// commits at that first Sync and covers both. [Conn.PrefixEachBatch] arms a
// SET LOCAL prefix for every batch of the driver's next statement up to the one
// that executes, which covers both kinds.
// When the next write cannot carry the prefix, Write fails with
// [ErrNotInjectable] instead of letting the statement run without it.
//
// # Protocol
//
// A batch that starts with an extended-protocol message gets, in front of it,
// Close/Parse/Bind/Execute/Close for each prefix statement, in a reserved
// statement name and the unnamed portal, and no Sync, so the prefix runs in the
// implicit transaction of the driver's messages up to its Sync; after an error
// the server skips everything up to that Sync. A batch that starts with a simple
// Query has its text rewritten to "<prefix>\n;<original>": one message, one
// implicit transaction. The read side parses the message headers (type byte and
// length, reassembled across reads), counts ReadyForQuery messages to know which
// replies answer the injection even when the driver has earlier batches in flight,
// removes exactly the replies to the prefix (ParseComplete, BindComplete, DataRow,
// RowDescription, CommandComplete, EmptyQueryResponse, CloseComplete), and passes
// bodies of other messages through in bulk (a large DataRow is read straight into
// the driver's buffer). ErrorResponse and ReadyForQuery are held whole: the first
// to record it (and, after a rewritten Query, to move its Position back by the
// inserted text), the second to track the transaction status and to add the
// EmptyQueryResponse a prefix would have hidden.
//
// The startup phase is followed from the first message: SSLRequest and
// GSSENCRequest and their one-byte answer ('S'/'G': encryption below the wrapper,
// it goes passive; 'N': continue), CancelRequest (passive), StartupMessage and the
// authentication exchange (passed through). COPY in both directions,
// NotificationResponse, ParameterStatus and NoticeResponse pass through.
package wire
