package tenancy

import (
	"context"
	"database/sql/driver"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy/internal/wire"
)

// A ContextDialer makes network connections, like *net.Dialer.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// LibPQDialer returns a dialer for lib/pq's pq.Connector.Dialer through which a
// [DB] sends what scopes a statement (its SET, and the reset when a session passes
// to another tenant) in front of the statement, in the same round trip, with or
// without arguments. inner makes the network connections (nil: a net.Dialer).
// [Open] sets it up itself; use it when you build the lib/pq connector for
// [OpenConnector].
//
// It works below lib/pq on the protocol's messages, so it cannot see through TLS,
// which lib/pq negotiates above the dialer: on a connection that uses TLS it steps
// aside, and a statement whose SET cannot go in its own message costs one more
// round trip. pgx has no such limit ([PgxAfterNetConnect]).
func LibPQDialer(inner ContextDialer) pq.Dialer {
	return wire.Dialer{Inner: inner}
}

// PgxAfterNetConnect is a pgconn.Config.AfterNetConnect hook through which a [DB]
// over pgx sends what scopes a statement in front of it, in the same round trip,
// for every statement (it runs after TLS, so encrypted connections keep it). It
// hides the *tls.Conn from pgx, so SCRAM channel binding (SCRAM-SHA-256-PLUS) is not
// used: [Open] leaves it out when the DSN says channel_binding=require.
// [Open] sets it up itself; set it in a pgx.ConnConfig you give to
// stdlib.GetConnector for [OpenConnector] (with DefaultQueryExecMode set to
// [PgxQueryExecMode], as Open does, unless you choose otherwise).
func PgxAfterNetConnect(ctx context.Context, _ *pgconn.Config, c net.Conn) (net.Conn, error) {
	return wire.AfterNetConnect(ctx, c)
}

// PgxQueryExecMode is the pgx QueryExecMode [Open] gives pgx connections when the
// DSN does not choose one (default_query_exec_mode): pgx.QueryExecModeCacheDescribe.
// Like pgx's default (QueryExecModeCacheStatement) it runs a statement in one round
// trip with binary results, caching its description by SQL text; unlike it, it
// keeps no named prepared statement on the session. That matters when a session
// passes from one tenant to another: the reset must then drop the SQL-level
// prepared statements the earlier tenant made (PREPARE) and keep the driver's own,
// which takes a PL/pgSQL block scanning pg_prepared_statements, whose cost grows
// with pgx's cache (hundreds of µs with a few hundred cached statements), where
// without named statements a DEALLOCATE ALL does. The price is that the server
// parses and plans each statement again. With few tenants per connection (no
// switches), the statement cache is faster: choose it in the DSN
// (default_query_exec_mode=cache_statement). BENCHMARKS.md has both.
const PgxQueryExecMode = pgx.QueryExecModeCacheDescribe

// wiredConnector returns a connector for dsn whose connections go through a
// wire.Conn, for lib/pq and pgx; nil for other drivers, or a DSN pgx cannot parse
// itself (a name from stdlib.RegisterConnConfig), which then open the usual way.
func wiredConnector(drv driver.Driver, dsn string) driver.Connector {
	switch {
	case isLibPQ(drv):
		c, err := pq.NewConnector(dsn)
		if err != nil {
			return nil
		}
		c.Dialer(LibPQDialer(nil))
		return c
	case isPgxStdlib(drv):
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil || cfg.ChannelBinding == "require" {
			// SCRAM channel binding needs pgx to see the *tls.Conn itself, which
			// the wire would hide: keep it, and send SETs the usual way.
			return nil
		}
		cfg.AfterNetConnect = PgxAfterNetConnect
		if !strings.Contains(dsn, "default_query_exec_mode") {
			cfg.DefaultQueryExecMode = PgxQueryExecMode
		}
		return stdlib.GetConnector(*cfg)
	}
	return nil
}

func isLibPQ(d driver.Driver) bool {
	switch d.(type) {
	case *pq.Driver, pq.Driver:
		return true
	}
	return false
}
