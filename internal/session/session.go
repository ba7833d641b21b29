// Package session holds the SQL that puts a pooled PostgreSQL session in one
// tenant's schema and clears what an earlier tenant may have left on it. It is the
// one driver-neutral definition of that SQL, shared by the database/sql layer of
// package tenancy and by the native pgx pool (package tenancypgx), so that both
// promise exactly the same thing.
//
// Every statement here may run inside a transaction block, so each one can be sent
// in the same message (or pipeline) as the statement it prepares the session for:
// if that statement fails, they are undone with it and the caller must treat the
// session as not reset.
package session

import (
	"strings"

	"github.com/lib/pq"
)

// SetPath returns the statement that sets search_path to schema followed by extra
// (already validated names; each is quoted here). With local, the setting holds for
// the current transaction only (SET LOCAL).
func SetPath(schema string, extra []string, local bool) string {
	var b strings.Builder
	if local {
		b.WriteString("SET LOCAL search_path TO ")
	} else {
		b.WriteString("SET search_path TO ")
	}
	b.WriteString(pq.QuoteIdentifier(schema))
	for _, s := range extra {
		b.WriteString(", ")
		b.WriteString(pq.QuoteIdentifier(s))
	}
	return b.String()
}

// What an earlier tenant's statements can leave on a session, and what clears it:
//
//   - cursors, held ones (WITH HOLD) outliving their transaction: CLOSE ALL;
//   - temporary tables (searched before search_path) and their rows: DISCARD TEMP;
//   - settings (SET work_mem, SET app.tenant_id, …; search_path is set anyway):
//     RESET ALL;
//   - a role taken with SET ROLE or SET SESSION AUTHORIZATION: SET SESSION
//     AUTHORIZATION DEFAULT, which also resets the role;
//   - the last sequence value (lastval(), currval()): DISCARD SEQUENCES;
//   - LISTEN registrations, whose notifications another tenant's code on the
//     session would receive: UNLISTEN *;
//   - SQL-level prepared statements (PREPARE, also from inside functions):
//     DEALLOCATE ALL, or, when the driver keeps protocol-level prepared statements
//     on the session that it expects to survive, a block that deallocates only
//     those made by SQL (pg_prepared_statements.from_sql).
//
// DISCARD ALL would do all of it but may not run inside a transaction block, so it
// cannot ride with a statement; DEALLOCATE ALL alone would drop the driver's own
// statements. Session-level advisory locks are left alone: they are not tenant
// data, and releasing them needs a SELECT, which would add a result to the
// statement's own.
const (
	resetCommon = "CLOSE ALL; DISCARD TEMP; DISCARD SEQUENCES; UNLISTEN *; RESET ALL; SET SESSION AUTHORIZATION DEFAULT"
	// DeallocateAll drops every prepared statement of the session.
	DeallocateAll = "DEALLOCATE ALL"
	// DeallocateSQL drops the prepared statements made with SQL PREPARE, keeping
	// the driver's protocol-level ones. It costs a PL/pgSQL block per reset.
	DeallocateSQL = `DO $tenancy$DECLARE s record; BEGIN FOR s IN SELECT name FROM pg_catalog.pg_prepared_statements WHERE from_sql LOOP EXECUTE pg_catalog.format('DEALLOCATE %I', s.name); END LOOP; END$tenancy$`
)

// Reset returns the statements, joined with "; ", that clear an earlier tenant's
// state from a session (see above). keepDriverStatements says the driver holds
// protocol-level prepared statements on the session that must survive.
func Reset(keepDriverStatements bool) string {
	if keepDriverStatements {
		return resetCommon + "; " + DeallocateSQL
	}
	return resetCommon + "; " + DeallocateAll
}

// ResetLocal returns what clears a session at the start of each transaction in
// transaction mode, where consecutive transactions may run on server connections
// shared with other clients (PgBouncer transaction pooling): cursors and
// temporary tables, and the role for this transaction. Settings and prepared
// statements are left to the pooler (RESET ALL would undo the parameters PgBouncer
// tracks per client; DEALLOCATE ALL would drop the statements it manages).
const ResetLocal = "CLOSE ALL; DISCARD TEMP; SET LOCAL SESSION AUTHORIZATION DEFAULT"
