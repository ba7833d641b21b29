package tenancy

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
)

// Creating a tenant by running hundreds of migrations costs most of a second; a
// template schema kept at the newest version can be copied in a fraction of
// that. PostgreSQL has no CREATE SCHEMA ... CLONE, so the Migrator writes the
// template's structure and rows as one SQL script (a small pg_dump of one
// schema: types, sequences, tables, rows, sequence values, defaults,
// constraints, indexes, functions, views, triggers, comments, grants, the
// version table with its row), checks once that the script reproduces the
// template exactly (the catalog comparison of Drift, in a transaction that is
// rolled back), and from then on creates each tenant by running the script in
// the creation's one transaction. The script names no schema: it runs with
// search_path set to the new tenant's. It reads nothing from the template, so
// creations do not depend on the template staying as it is.
//
// The template is recognised by a comment on its schema holding a fingerprint
// of the tenant set (every file's version, name and SQL): a process whose set
// differs rebuilds it, by migrating it from scratch, under an advisory lock that
// every process building it takes, and caches the script for its set.

// errNoClone marks the errors that say the template cannot be copied (as opposed
// to a failure to read it): they are remembered for the tenant set.
var errNoClone = errors.New("the template cannot be copied")

// cloneState is a Migrator's cached clone script.
type cloneState struct {
	mu          sync.Mutex
	fingerprint string // of the set the script was made for
	script      string // "" with err set: the template cannot be cloned
	err         error
}

// WithCloneTemplate makes [Migrator.CreateTenant] create tenants by copying a
// template schema of that name, kept at the newest tenant migration, instead of
// running every migration (default: no template; every creation runs the
// migrations). The first creation of a process builds (or checks) the template
// and verifies the copy against it; a template whose objects the copy does not
// support (partitioned or inherited tables, domains, range or composite types,
// row-level security policies, rules, aggregates, extensions, ...) or a copy that
// differs from it makes CreateTenant run the migrations instead, as it then does
// whenever the copy fails for another reason than the tenant's own (a conflict,
// the context). The template is rebuilt when the tenant set changes (a process
// with another set, during a rolling deploy, rebuilds it again for its own). On
// a Citus coordinator the template is not used: creations run the migrations.
//
// The schema must pass the schema-name rules, not be the shared schema, and
// never be a tenant's: it is dropped and recreated at will.
func WithCloneTemplate(schema string) MigratorOption {
	return migratorOptionFunc(func(c *migratorConfig) error {
		if err := validSharedSchemaName(schema); err != nil {
			return fmt.Errorf("tenancy: WithCloneTemplate: %w", err)
		}
		c.template = schema
		return nil
	})
}

// TemplateSchema returns the clone template's schema ([WithCloneTemplate]), or
// "" if the Migrator has none.
func (m *Migrator) TemplateSchema() string { return m.cfg.template }

// setFingerprint identifies the tenant set's content.
func (s *migrationSet) fingerprint() string {
	h := sha256.New()
	for _, f := range s.files {
		fmt.Fprintf(h, "%d\x00%s\x00%s\x00", f.version, f.name, f.up)
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

const templateCommentPrefix = "tenancy clone template of tenant set "

// cloneScript returns the script that creates a copy of the template at the
// tenant set's head in the current search_path, building the template first if
// needed. An error means cloning is not possible: the caller runs the
// migrations.
func (m *Migrator) cloneScript(ctx context.Context) (string, error) {
	cs := &m.clone
	fp := m.tenantSet.fingerprint()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.fingerprint == fp && (cs.script != "" || cs.err != nil) {
		return cs.script, cs.err
	}
	script, err := m.buildCloneScript(ctx, fp)
	if err != nil && !errors.Is(err, errNoClone) {
		return "", err // not the template's fault (the context, the server): try again next time
	}
	cs.fingerprint, cs.script, cs.err = fp, script, err
	if err != nil {
		if l := m.cfg.logger; l != nil {
			l.WarnContext(ctx, "tenancy: tenants are created by running the migrations: the clone template cannot be used",
				"template", m.cfg.template, "error", err)
		}
	}
	return script, err
}

// RebuildTemplate brings the clone template ([WithCloneTemplate]) up to date
// with the tenant set now, instead of at the first [Migrator.CreateTenant], and
// checks that it can be copied. It returns an error saying why tenants will be
// created by running the migrations instead, if they will.
func (m *Migrator) RebuildTemplate(ctx context.Context) error {
	if m.cfg.template == "" {
		return errors.New("tenancy: RebuildTemplate: the Migrator has no clone template (WithCloneTemplate)")
	}
	_, err := m.cloneScript(ctx)
	return err
}

func (m *Migrator) buildCloneScript(ctx context.Context, fp string) (string, error) {
	tpl := m.cfg.template
	ctx = unscoped(ctx)
	// Every process building or reading the template takes this lock first.
	mc := &migConn{}
	defer mc.close(ctx)
	conn, err := mc.pin(ctx, m.db, tpl)
	if err != nil {
		return "", fmt.Errorf("template: connect: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1, $2)`, lockClass, lockObject("template", tpl)); err != nil {
		return "", fmt.Errorf("template: lock: %w", ctxErr(ctx, err))
	}
	var registered bool
	var comment sql.NullString
	err = conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+m.reg.Table()+` WHERE schema = $1),
		(SELECT pg_catalog.obj_description(oid, 'pg_namespace') FROM pg_catalog.pg_namespace WHERE nspname = $1)`, tpl).
		Scan(&registered, &comment)
	switch {
	case err != nil:
		return "", fmt.Errorf("template: %w", ctxErr(ctx, err))
	case registered:
		return "", fmt.Errorf("template: schema %q is a registered tenant's: %w", tpl, errNoClone)
	}
	want := templateCommentPrefix + fp
	if comment.String != want {
		if err := m.rebuildTemplate(ctx, conn, want); err != nil {
			return "", err
		}
	}
	script, err := m.writeCloneScript(ctx, conn, tpl)
	if err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	if err := m.verifyClone(ctx, conn, tpl, script); err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	return script, nil
}

// rebuildTemplate drops the template and migrates it again from nothing, then
// marks it with comment. The caller holds the template lock on conn.
func (m *Migrator) rebuildTemplate(ctx context.Context, conn *sql.Conn, comment string) error {
	tpl := m.cfg.template
	start := time.Now()
	if _, err := conn.ExecContext(ctx, `DROP SCHEMA IF EXISTS `+pq.QuoteIdentifier(tpl)+` CASCADE`); err != nil {
		return fmt.Errorf("template: drop: %w", ctxErr(ctx, err))
	}
	subj := subject{set: m.tenantSet, schema: tpl}
	if _, err := m.runUp(ctx, "template", subj, m.tenantSet.head(), true, nil); err != nil {
		return fmt.Errorf("template: migrate: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `COMMENT ON SCHEMA `+pq.QuoteIdentifier(tpl)+` IS `+pq.QuoteLiteral(comment)); err != nil {
		return fmt.Errorf("template: mark: %w", ctxErr(ctx, err))
	}
	if l := m.cfg.logger; l != nil {
		l.InfoContext(ctx, "tenancy: clone template built", "template", tpl, "version", m.tenantSet.head(), "duration", time.Since(start))
	}
	return nil
}

// verifyClone runs script in a scratch schema, in a transaction it rolls back,
// and compares the copy's catalog with the template's.
func (m *Migrator) verifyClone(ctx context.Context, conn *sql.Conn, tpl, script string) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return ctxErr(ctx, err)
	}
	defer tx.Rollback() //nolint:errcheck // always rolled back
	// The search_path is set in the script's own statement: the connection is
	// pinned to the template, and its next statement is the catalog's.
	scratch := "tenancy_clone_check"
	if _, err := tx.ExecContext(ctx, `CREATE SCHEMA `+scratch+`; SET LOCAL search_path TO `+scratch+
		`; SET LOCAL check_function_bodies = off;`+"\n"+script); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: the copy fails: %w", errNoClone, err)
	}
	if err := m.pinFunctions(ctx, tx, subject{set: m.tenantSet, schema: scratch}); err != nil {
		return err
	}
	got, err := catalogItemsOn(ctx, tx, scratch)
	if err != nil {
		return ctxErr(ctx, err)
	}
	want, err := catalogItemsOn(ctx, tx, tpl)
	if err != nil {
		return ctxErr(ctx, err)
	}
	if missing, extra := diffSorted(want, got); len(missing)+len(extra) > 0 {
		return fmt.Errorf("%w: the copy differs from the template: missing %s; extra %s", errNoClone, firstFew(missing), firstFew(extra))
	}
	return nil
}

func firstFew(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	const n = 3
	if len(items) > n {
		return fmt.Sprintf("%q and %d more", items[:n], len(items)-n)
	}
	return fmt.Sprintf("%q", items)
}

// queryer is what writeCloneScript reads the catalog with.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// strs runs q and returns its first column.
func strs(ctx context.Context, q queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		if s.Valid {
			out = append(out, s.String)
		}
	}
	return out, rows.Err()
}

// cloneUnsupportedSQL names the objects of schema $1 that the clone script does
// not reproduce.
const cloneUnsupportedSQL = `WITH ns AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1)
SELECT 'relation ' || c.relname || ' of kind ' || c.relkind::text FROM pg_catalog.pg_class c JOIN ns ON c.relnamespace = ns.oid
  WHERE c.relkind NOT IN ('r', 'S', 'i', 'v')
UNION ALL SELECT 'inherited table ' || c.relname FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid JOIN ns ON c.relnamespace = ns.oid
UNION ALL SELECT 'row-level security on ' || c.relname FROM pg_catalog.pg_class c JOIN ns ON c.relnamespace = ns.oid WHERE c.relrowsecurity
UNION ALL SELECT 'policy ' || p.polname FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid JOIN ns ON c.relnamespace = ns.oid
UNION ALL SELECT 'rule ' || r.rulename FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class JOIN ns ON c.relnamespace = ns.oid WHERE r.rulename <> '_RETURN'
UNION ALL SELECT 'type ' || t.typname || ' of kind ' || t.typtype::text FROM pg_catalog.pg_type t JOIN ns ON t.typnamespace = ns.oid
  WHERE t.typtype NOT IN ('e', 'b', 'c') OR t.typtype = 'c' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid AND c.relkind IN ('r', 'v'))
  OR t.typtype = 'b' AND t.typelem = 0
UNION ALL SELECT 'function ' || p.proname || ' of kind ' || p.prokind::text FROM pg_catalog.pg_proc p JOIN ns ON p.pronamespace = ns.oid WHERE p.prokind NOT IN ('f', 'p')
UNION ALL SELECT 'constraint trigger ' || co.conname FROM pg_catalog.pg_constraint co JOIN ns ON co.connamespace = ns.oid WHERE co.contype = 't'
UNION ALL SELECT 'extension member ' || pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_catalog.pg_depend d
  WHERE d.deptype = 'e' AND (d.classid = 'pg_catalog.pg_class'::regclass AND d.objid IN (SELECT c.oid FROM pg_catalog.pg_class c JOIN ns ON c.relnamespace = ns.oid)
   OR d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid IN (SELECT p.oid FROM pg_catalog.pg_proc p JOIN ns ON p.pronamespace = ns.oid))
UNION ALL SELECT 'statistics object ' || s.stxname FROM pg_catalog.pg_statistic_ext s JOIN ns ON s.stxnamespace = ns.oid
UNION ALL SELECT 'collation ' || co.collname FROM pg_catalog.pg_collation co JOIN ns ON co.collnamespace = ns.oid
UNION ALL SELECT 'operator ' || o.oprname FROM pg_catalog.pg_operator o JOIN ns ON o.oprnamespace = ns.oid
UNION ALL SELECT 'text search configuration ' || c.cfgname FROM pg_catalog.pg_ts_config c JOIN ns ON c.cfgnamespace = ns.oid
UNION ALL SELECT 'column ' || c.relname || '.' || a.attname || ' with a non-default collation or compression' FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN ns ON c.relnamespace = ns.oid JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind = 'r' AND (a.attcollation <> t.typcollation OR a.attcompression <> '' OR a.attstattarget >= 0)`

// writeCloneScript writes the script that recreates the template tpl (read on
// conn, whose search_path is tpl alone, so that the catalog's deparsing
// functions leave the template's own names unqualified).
func (m *Migrator) writeCloneScript(ctx context.Context, conn *sql.Conn, tpl string) (string, error) {
	if bad, err := strs(ctx, conn, cloneUnsupportedSQL, tpl); err != nil {
		return "", err
	} else if len(bad) > 0 {
		return "", fmt.Errorf("%w: it has objects the copy does not support: %s", errNoClone, firstFew(bad))
	}
	var b strings.Builder
	section := func(query string) error {
		lines, err := strs(ctx, conn, query, tpl)
		for _, l := range lines {
			b.WriteString(l)
			b.WriteString(";\n")
		}
		return err
	}
	const ns = `(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1)`
	sections := []string{
		// Enum types.
		`SELECT 'CREATE TYPE ' || quote_ident(t.typname) || ' AS ENUM (' ||
			coalesce((SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid), '') || ')'
		FROM pg_catalog.pg_type t WHERE t.typnamespace = ` + ns + ` AND t.typtype = 'e' ORDER BY t.oid`,
		// Sequences that no identity column owns.
		`SELECT 'CREATE SEQUENCE ' || quote_ident(c.relname) || ' AS ' || format_type(s.seqtypid, NULL) || ' INCREMENT ' || s.seqincrement ||
			' MINVALUE ' || s.seqmin || ' MAXVALUE ' || s.seqmax || ' START ' || s.seqstart || ' CACHE ' || s.seqcache ||
			CASE WHEN s.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
		WHERE c.relnamespace = ` + ns + ` AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass
			AND d.objid = c.oid AND d.deptype = 'i') ORDER BY c.oid`,
		// Tables, with their columns' types, nullability, identity and generation
		// (defaults come later: they may call functions).
		`SELECT 'CREATE ' || CASE c.relpersistence WHEN 'u' THEN 'UNLOGGED ' ELSE '' END || 'TABLE ' || quote_ident(c.relname) || ' (' ||
			coalesce((SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod) ||
				CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED' ELSE '' END ||
				CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY' WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END ||
				CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END, ', ' ORDER BY a.attnum)
			FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')' ||
			coalesce(' WITH (' || array_to_string(c.reloptions, ', ') || ')', '')
		FROM pg_catalog.pg_class c WHERE c.relnamespace = ` + ns + ` AND c.relkind = 'r' ORDER BY c.oid`,
	}
	for _, q := range sections {
		if err := section(q); err != nil {
			return "", err
		}
	}
	// Rows and sequence positions: read from the template now.
	if err := m.writeRows(ctx, conn, tpl, &b); err != nil {
		return "", err
	}
	sections = []string{
		// Functions and procedures (before defaults, constraints and indexes
		// that may call them; bodies are not checked: check_function_bodies is
		// off in the copy).
		`SELECT pg_get_functiondef(p.oid) FROM pg_catalog.pg_proc p WHERE p.pronamespace = ` + ns + ` ORDER BY p.oid`,
		// Defaults.
		`SELECT 'ALTER TABLE ' || quote_ident(c.relname) || ' ALTER COLUMN ' || quote_ident(a.attname) || ' SET DEFAULT ' || pg_get_expr(d.adbin, d.adrelid)
		FROM pg_catalog.pg_attrdef d JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
		JOIN pg_catalog.pg_class c ON c.oid = d.adrelid
		WHERE c.relnamespace = ` + ns + ` AND c.relkind = 'r' AND a.attgenerated = '' ORDER BY c.oid, a.attnum`,
		// Sequences owned by a column.
		`SELECT 'ALTER SEQUENCE ' || quote_ident(c.relname) || ' OWNED BY ' || quote_ident(t.relname) || '.' || quote_ident(a.attname)
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a'
			AND d.refclassid = 'pg_catalog.pg_class'::regclass
		JOIN pg_catalog.pg_class t ON t.oid = d.refobjid JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
		WHERE c.relnamespace = ` + ns + ` AND c.relkind = 'S' ORDER BY c.oid`,
		// Constraints other than foreign keys, one ALTER TABLE per table, in
		// creation order; then foreign keys, which need the keys they reference.
		`SELECT 'ALTER TABLE ' || quote_ident(c.relname) || ' ' || string_agg('ADD CONSTRAINT ' || quote_ident(co.conname) || ' ' || pg_get_constraintdef(co.oid), ', ' ORDER BY co.oid)
		FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class c ON c.oid = co.conrelid
		WHERE c.relnamespace = ` + ns + ` AND c.relkind = 'r' AND co.contype IN ('p', 'u', 'x', 'c') GROUP BY c.oid, c.relname ORDER BY c.oid`,
		`SELECT 'ALTER TABLE ' || quote_ident(c.relname) || ' ' || string_agg('ADD CONSTRAINT ' || quote_ident(co.conname) || ' ' || pg_get_constraintdef(co.oid), ', ' ORDER BY co.oid)
		FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class c ON c.oid = co.conrelid
		WHERE c.relnamespace = ` + ns + ` AND c.relkind = 'r' AND co.contype = 'f' GROUP BY c.oid, c.relname ORDER BY c.oid`,
		// Indexes that no constraint made.
		`SELECT pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
		WHERE c.relnamespace = ` + ns + ` AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co WHERE co.conindid = i.indexrelid AND co.contype IN ('p', 'u', 'x'))
		ORDER BY i.indexrelid`,
		// Views, in creation order.
		`SELECT 'CREATE VIEW ' || quote_ident(c.relname) || coalesce(' WITH (' || array_to_string(c.reloptions, ', ') || ')', '') || ' AS ' ||
			rtrim(pg_get_viewdef(c.oid), ';')
		FROM pg_catalog.pg_class c WHERE c.relnamespace = ` + ns + ` AND c.relkind = 'v' ORDER BY c.oid`,
		// Triggers.
		`SELECT pg_get_triggerdef(tg.oid) || CASE tg.tgenabled WHEN 'D' THEN '; ALTER TABLE ' || quote_ident(c.relname) || ' DISABLE TRIGGER ' || quote_ident(tg.tgname) ELSE '' END
		FROM pg_catalog.pg_trigger tg JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
		WHERE c.relnamespace = ` + ns + ` AND NOT tg.tgisinternal ORDER BY tg.oid`,
		// Comments.
		`SELECT 'COMMENT ON ' || CASE
				WHEN d.objsubid > 0 THEN 'COLUMN ' || quote_ident(c.relname) || '.' || quote_ident(a.attname)
				ELSE CASE c.relkind WHEN 'r' THEN 'TABLE ' WHEN 'v' THEN 'VIEW ' WHEN 'S' THEN 'SEQUENCE ' WHEN 'i' THEN 'INDEX ' END || quote_ident(c.relname) END ||
			' IS ' || quote_literal(d.description)
		FROM pg_catalog.pg_description d JOIN pg_catalog.pg_class c ON d.classoid = 'pg_catalog.pg_class'::regclass AND c.oid = d.objoid
		LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid
		WHERE c.relnamespace = ` + ns + `
		UNION ALL
		SELECT 'COMMENT ON ' || CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ') IS ' || quote_literal(d.description)
		FROM pg_catalog.pg_description d JOIN pg_catalog.pg_proc p ON d.classoid = 'pg_catalog.pg_proc'::regclass AND p.oid = d.objoid WHERE p.pronamespace = ` + ns + `
		UNION ALL
		SELECT 'COMMENT ON TYPE ' || quote_ident(t.typname) || ' IS ' || quote_literal(d.description)
		FROM pg_catalog.pg_description d JOIN pg_catalog.pg_type t ON d.classoid = 'pg_catalog.pg_type'::regclass AND t.oid = d.objoid WHERE t.typnamespace = ` + ns + `
		UNION ALL
		SELECT 'COMMENT ON CONSTRAINT ' || quote_ident(co.conname) || ' ON ' || quote_ident(c.relname) || ' IS ' || quote_literal(d.description)
		FROM pg_catalog.pg_description d JOIN pg_catalog.pg_constraint co ON d.classoid = 'pg_catalog.pg_constraint'::regclass AND co.oid = d.objoid
		JOIN pg_catalog.pg_class c ON c.oid = co.conrelid WHERE c.relnamespace = ` + ns + `
		UNION ALL
		SELECT 'COMMENT ON TRIGGER ' || quote_ident(tg.tgname) || ' ON ' || quote_ident(c.relname) || ' IS ' || quote_literal(d.description)
		FROM pg_catalog.pg_description d JOIN pg_catalog.pg_trigger tg ON d.classoid = 'pg_catalog.pg_trigger'::regclass AND tg.oid = d.objoid
		JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid WHERE c.relnamespace = ` + ns,
		// Grants on relations and functions: what the template's ACLs hold,
		// after revoking the defaults.
		`SELECT 'REVOKE ALL ON ' || CASE c.relkind WHEN 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || quote_ident(c.relname) || ' FROM PUBLIC' ||
			coalesce((SELECT string_agg('; GRANT ' || x.privilege_type || ' ON ' || CASE c.relkind WHEN 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || quote_ident(c.relname) ||
				' TO ' || CASE x.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END ||
				CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END, '' ORDER BY x.grantee, x.privilege_type)
			FROM aclexplode(c.relacl) x WHERE x.grantee <> c.relowner), '')
		FROM pg_catalog.pg_class c WHERE c.relnamespace = ` + ns + ` AND c.relacl IS NOT NULL ORDER BY c.oid`,
		`SELECT 'REVOKE ALL ON FUNCTION ' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ') FROM PUBLIC' ||
			coalesce((SELECT string_agg('; GRANT ' || x.privilege_type || ' ON FUNCTION ' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')' ||
				' TO ' || CASE x.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END ||
				CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END, '' ORDER BY x.grantee)
			FROM aclexplode(p.proacl) x WHERE x.grantee <> p.proowner), '')
		FROM pg_catalog.pg_proc p WHERE p.pronamespace = ` + ns + ` AND p.proacl IS NOT NULL ORDER BY p.oid`,
	}
	for _, q := range sections {
		if err := section(q); err != nil {
			return "", err
		}
	}
	// What the deparsing functions still qualify with the template's name (a
	// name the migrations wrote qualified, a function's own name) is the copy's.
	out := strings.ReplaceAll(b.String(), pq.QuoteIdentifier(tpl)+".", "")
	if quoteIdent(tpl) == tpl {
		out = strings.ReplaceAll(out, " "+tpl+".", " ")
	}
	return out, nil
}

// quoteIdent quotes name only if PostgreSQL would (for the lower-case names the
// schema-name rules allow: if it is not a plain identifier).
func quoteIdent(name string) string {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '$')) {
			return pq.QuoteIdentifier(name)
		}
	}
	return name
}

// writeRows writes the template's rows: for each table with rows, one INSERT
// that expands them from JSON (generated columns excluded, identity values kept).
func (m *Migrator) writeRows(ctx context.Context, conn *sql.Conn, tpl string, b *strings.Builder) error {
	tables, err := strs(ctx, conn, `SELECT c.relname FROM pg_catalog.pg_class c
		WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1) AND c.relkind = 'r' ORDER BY c.oid`, tpl)
	if err != nil {
		return err
	}
	for _, t := range tables {
		qt := pq.QuoteIdentifier(t)
		var cols, rows sql.NullString
		err := conn.QueryRowContext(ctx, `SELECT (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_catalog.pg_attribute
			WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''),
			(SELECT json_agg(r)::text FROM `+pq.QuoteIdentifier(tpl)+`.`+qt+` r)`, pq.QuoteIdentifier(tpl)+"."+qt).Scan(&cols, &rows)
		if err != nil {
			return err
		}
		if !rows.Valid {
			continue // no rows
		}
		fmt.Fprintf(b, "INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM json_populate_recordset(NULL::%s, %s);\n",
			qt, cols.String, cols.String, qt, pq.QuoteLiteral(rows.String))
	}
	seqs, err := strs(ctx, conn, `SELECT c.relname FROM pg_catalog.pg_class c
		WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1) AND c.relkind = 'S' ORDER BY c.oid`, tpl)
	if err != nil {
		return err
	}
	for _, sq := range seqs {
		var last int64
		var called bool
		if err := conn.QueryRowContext(ctx, `SELECT last_value, is_called FROM `+pq.QuoteIdentifier(tpl)+`.`+pq.QuoteIdentifier(sq)).Scan(&last, &called); err != nil {
			return err
		}
		fmt.Fprintf(b, "SELECT pg_catalog.setval(%s, %d, %v);\n", pq.QuoteLiteral(pq.QuoteIdentifier(sq)), last, called)
	}
	return nil
}

// createByClone creates the tenant in one transaction as createInTx does, with
// the clone script in place of the migrations.
func (m *Migrator) createByClone(ctx context.Context, nt NewTenant, script string) (Tenant, error) {
	return m.createWith(ctx, nt, func(tx *sql.Tx, _ bool) error {
		if _, err := tx.ExecContext(ctx, `SET LOCAL check_function_bodies = off`); err != nil {
			return createStep(ctx, nt, "clone", err)
		}
		if _, err := tx.ExecContext(ctx, script); err != nil {
			return createStep(ctx, nt, "clone", err)
		}
		if err := m.pinFunctions(ctx, tx, subject{set: m.tenantSet, schema: nt.Schema}); err != nil {
			return createStep(ctx, nt, "clone", err)
		}
		return nil
	})
}

// catalogItemsOn is catalogItems on a given connection or transaction.
func catalogItemsOn(ctx context.Context, q queryer, schema string) ([]string, error) {
	items, err := strs(ctx, q, catalogSQL, schema)
	slices.Sort(items) // the server's collation may sort differently
	return items, err
}
