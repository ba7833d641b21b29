package tenancy

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lib/pq"
)

// PL/pgSQL and SQL functions resolve the names in their bodies when they run,
// in the caller's search_path, not in the schema they were created in: a
// tenant's trigger fired by a statement that runs in another tenant's
// search_path (an admin job that writes "acme".orders while on "globex", say)
// reads and writes the other tenant's tables. ALTER FUNCTION ... SET
// search_path fixes a function's names to a schema.

// WithTenantSafeFunctions makes every tenant migration run (creation, clone,
// upgrade, downgrade, fleet) pin the search_path of the functions and
// procedures in the tenant's schema that do not set one themselves to that
// schema (and pg_temp, last, so that a temporary table cannot shadow a tenant
// table): ALTER FUNCTION ... SET search_path = tenant, pg_temp. Triggers call
// their functions, so a trigger then always works on its own tenant's tables,
// whoever fires it. Functions written in C or internal are left alone, and so
// are functions whose migration set a search_path (unless it names the clone
// template, whose functions a clone copies). Default: off (functions are left
// as the migrations created them).
//
// A pinned function cannot reach tables of the shared schema by unqualified
// name: qualify them ("shared".plans), or let the migration set the function's
// search_path itself.
//
// NOTIFY channels are database-wide, not per schema: a tenant's trigger that
// runs NOTIFY orders_changed wakes every listener of that channel, whichever
// tenant it serves. Put the tenant in the channel name or the payload
// (pg_notify('orders_changed', current_schema() || ':' || id)), and let the
// listener check it.
func WithTenantSafeFunctions() MigratorOption {
	return migratorOptionFunc(func(c *migratorConfig) error {
		c.safeFunctions = true
		return nil
	})
}

// execer is a *sql.Conn or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// pinFunctionsSQL pins the functions of schema (see WithTenantSafeFunctions).
func (m *Migrator) pinFunctionsSQL(schema string) string {
	keep := `c LIKE 'search_path=%'`
	if m.cfg.template != "" {
		keep += ` AND c NOT LIKE ` + pq.QuoteLiteral("search_path="+quoteIdent(m.cfg.template)+"%")
	}
	return `DO $tenancy_pin$
DECLARE r record;
BEGIN
  FOR r IN SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) AS args FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_language l ON l.oid = p.prolang
    WHERE p.pronamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = ` + pq.QuoteLiteral(schema) + `)
      AND p.prokind IN ('f', 'p') AND l.lanname NOT IN ('c', 'internal')
      AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{}'::text[])) c WHERE ` + keep + `)
  LOOP
    EXECUTE format('ALTER ROUTINE %I.%I(%s) SET search_path = %I, pg_temp', ` + pq.QuoteLiteral(schema) + `, r.proname, r.args, ` + pq.QuoteLiteral(schema) + `);
  END LOOP;
END
$tenancy_pin$`
}

// pinFunctions runs pinFunctionsSQL if the option is on and subj is a tenant
// schema (or the template).
func (m *Migrator) pinFunctions(ctx context.Context, q execer, subj subject) error {
	if !m.cfg.safeFunctions || subj.set != m.tenantSet {
		return nil
	}
	if _, err := q.ExecContext(ctx, m.pinFunctionsSQL(subj.schema)); err != nil {
		return fmt.Errorf("pin search_path of functions: %w", ctxErr(ctx, err))
	}
	return nil
}
