package tenancy

import (
	"context"
	"fmt"
)

// catalogSQL lists the structure of schema $1 as one text item per catalog
// object: relations, columns (in order, with type, nullability, default,
// identity, generation, collation), constraints, indexes, triggers, functions
// (signature, language, volatility, security, settings and a hash of the body),
// enum and domain types, views (a hash of the definition), sequences, policies,
// rules, comments and grants. References to the schema itself are written
// without it ("acme.users" becomes "users", search_path=acme becomes
// search_path=<schema>), so that two tenants' items compare equal when their
// structures are. Row data (the version table's row included) is not part of
// it.
const catalogSQL = `WITH ns AS (SELECT oid, nspname FROM pg_catalog.pg_namespace WHERE nspname = $1),
rels AS (SELECT c.* FROM pg_catalog.pg_class c JOIN ns ON c.relnamespace = ns.oid),
procs AS (SELECT p.* FROM pg_catalog.pg_proc p JOIN ns ON p.pronamespace = ns.oid),
items AS (
  SELECT 'relation ' || c.relname || ' kind=' || c.relkind::text || coalesce(' options=' || array_to_string(c.reloptions, ','), '') ||
    CASE WHEN c.relrowsecurity THEN ' rls' ELSE '' END || coalesce(' acl=' || c.relacl::text, '') AS item
  FROM rels c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
  UNION ALL
  SELECT 'column ' || c.relname || '#' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) || ' ' || a.attname || ' ' ||
    pg_catalog.format_type(a.atttypid, a.atttypmod) ||
    CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ||
    coalesce(' default ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid), '') ||
    CASE a.attidentity WHEN 'a' THEN ' identity always' WHEN 'd' THEN ' identity by default' ELSE '' END ||
    CASE a.attgenerated WHEN 's' THEN ' stored' ELSE '' END ||
    CASE WHEN a.attcollation <> t.typcollation THEN ' collate ' || a.attcollation::regcollation::text ELSE '' END ||
    coalesce(' acl=' || a.attacl::text, '')
  FROM rels c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
  UNION ALL
  SELECT 'constraint ' || coalesce(c.relname, ty.typname, '') || ' ' || co.conname || ' ' || pg_catalog.pg_get_constraintdef(co.oid) ||
    CASE WHEN co.condeferrable THEN ' deferrable' ELSE '' END
  FROM pg_catalog.pg_constraint co JOIN ns ON co.connamespace = ns.oid
  LEFT JOIN pg_catalog.pg_class c ON c.oid = co.conrelid LEFT JOIN pg_catalog.pg_type ty ON ty.oid = co.contypid
  UNION ALL
  SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END
  FROM pg_catalog.pg_index i JOIN rels c ON c.oid = i.indexrelid
  UNION ALL
  SELECT 'trigger ' || pg_catalog.pg_get_triggerdef(tg.oid) || CASE tg.tgenabled WHEN 'D' THEN ' disabled' ELSE '' END
  FROM pg_catalog.pg_trigger tg JOIN rels c ON c.oid = tg.tgrelid WHERE NOT tg.tgisinternal
  UNION ALL
  SELECT 'function ' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ') ' || p.prokind::text || ' ' ||
    coalesce(pg_catalog.pg_get_function_result(p.oid), '') || ' ' || l.lanname || ' ' || p.provolatile::text ||
    CASE WHEN p.prosecdef THEN ' security definer' ELSE '' END || CASE WHEN p.proisstrict THEN ' strict' ELSE '' END ||
    coalesce(' config=' || array_to_string(p.proconfig, ','), '') || ' body=' || md5(coalesce(p.prosrc, '')) ||
    coalesce(' acl=' || p.proacl::text, '')
  FROM procs p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
  UNION ALL
  SELECT 'enum ' || t.typname || ' (' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) || ')'
  FROM pg_catalog.pg_type t JOIN ns ON t.typnamespace = ns.oid WHERE t.typtype = 'e'
  UNION ALL
  SELECT 'type ' || t.typname || ' kind=' || t.typtype::text || ' base=' || pg_catalog.format_type(t.typbasetype, t.typtypmod) ||
    CASE WHEN t.typnotnull THEN ' not null' ELSE '' END || coalesce(' default ' || t.typdefault, '')
  FROM pg_catalog.pg_type t JOIN ns ON t.typnamespace = ns.oid WHERE t.typtype IN ('d', 'r', 'm')
  UNION ALL
  SELECT 'view ' || c.relname || ' ' || md5(replace(pg_catalog.pg_get_viewdef(c.oid), pg_catalog.quote_ident($1) || '.', ''))
  FROM rels c WHERE c.relkind IN ('v', 'm')
  UNION ALL
  SELECT 'sequence ' || c.relname || ' ' || s.seqtypid::regtype::text || ' start=' || s.seqstart || ' inc=' || s.seqincrement ||
    ' min=' || s.seqmin || ' max=' || s.seqmax || ' cache=' || s.seqcache || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END ||
    coalesce(' owned by ' || oc.relname || '.' || oa.attname, '')
  FROM rels c JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
  LEFT JOIN pg_catalog.pg_depend dp ON dp.classid = 'pg_catalog.pg_class'::regclass AND dp.objid = c.oid
    AND dp.refclassid = 'pg_catalog.pg_class'::regclass AND dp.deptype IN ('a', 'i')
  LEFT JOIN pg_catalog.pg_class oc ON oc.oid = dp.refobjid
  LEFT JOIN pg_catalog.pg_attribute oa ON oa.attrelid = dp.refobjid AND oa.attnum = dp.refobjsubid
  UNION ALL
  SELECT 'policy ' || c.relname || ' ' || po.polname || ' ' || po.polcmd::text || ' ' || po.polpermissive::text ||
    coalesce(' using ' || pg_catalog.pg_get_expr(po.polqual, po.polrelid), '') ||
    coalesce(' check ' || pg_catalog.pg_get_expr(po.polwithcheck, po.polrelid), '')
  FROM pg_catalog.pg_policy po JOIN rels c ON c.oid = po.polrelid
  UNION ALL
  SELECT 'rule ' || c.relname || ' ' || r.rulename || ' ' || md5(replace(pg_catalog.pg_get_ruledef(r.oid), pg_catalog.quote_ident($1) || '.', ''))
  FROM pg_catalog.pg_rewrite r JOIN rels c ON c.oid = r.ev_class WHERE r.rulename <> '_RETURN'
  UNION ALL
  SELECT 'comment ' || pg_catalog.pg_describe_object(d.classoid, d.objoid, d.objsubid) || ' = ' || d.description
  FROM pg_catalog.pg_description d
  WHERE (d.classoid = 'pg_catalog.pg_class'::regclass AND d.objoid IN (SELECT oid FROM rels))
     OR (d.classoid = 'pg_catalog.pg_proc'::regclass AND d.objoid IN (SELECT oid FROM procs))
     OR (d.classoid = 'pg_catalog.pg_type'::regclass AND d.objoid IN (SELECT t.oid FROM pg_catalog.pg_type t JOIN ns ON t.typnamespace = ns.oid))
     OR (d.classoid = 'pg_catalog.pg_constraint'::regclass AND d.objoid IN (SELECT co.oid FROM pg_catalog.pg_constraint co JOIN ns ON co.connamespace = ns.oid))
     OR (d.classoid = 'pg_catalog.pg_trigger'::regclass AND d.objoid IN (SELECT tg.oid FROM pg_catalog.pg_trigger tg JOIN rels c ON c.oid = tg.tgrelid))
)
SELECT DISTINCT replace(replace(replace(item, pg_catalog.quote_ident($1) || '.', ''), 'search_path=' || $1, 'search_path=<schema>'),
  'search_path=' || pg_catalog.quote_ident($1), 'search_path=<schema>') AS item
FROM items ORDER BY 1`

// DriftReport is the structural difference between a schema and a reference
// schema ([Migrator.Drift]).
type DriftReport struct {
	// Schema is the schema checked, Reference the schema it was compared with.
	Schema, Reference string
	// Missing are the catalog items of Reference that Schema lacks; Extra are
	// those of Schema that Reference lacks. Each is one line describing one
	// object ("constraint users users_email_key UNIQUE (email)", "index CREATE
	// INDEX ..."), without the schema's name. Both are empty when the
	// structures are equal.
	Missing, Extra []string
	// Items is how many catalog items Schema has.
	Items int
}

// Drifted reports whether the schemas differ.
func (d DriftReport) Drifted() bool { return len(d.Missing) > 0 || len(d.Extra) > 0 }

// Drift compares the structure of schema with that of reference: tables,
// columns, constraints, indexes, triggers, functions, types, views, sequences,
// policies, comments and grants, everything the catalog records about them,
// except row data. It detects what migrations that test the catalog without a
// schema filter ("add the constraint if one of that name does not exist" in
// pg_constraint, which sees every tenant) leave out of all tenants but the
// first, which version tables and [Migrator.FleetStatus] cannot see. Compare
// schemas at the same version: a report between versions lists what the
// migrations between them change.
//
// It reads both schemas with one query each, takes no lock and changes nothing.
// schema and reference are any schemas that pass [ValidateSchemaName] (a
// tenant's, the clone template's, the shared one); a schema that does not
// exist has no items.
func (m *Migrator) Drift(ctx context.Context, schema, reference string) (DriftReport, error) {
	rep := DriftReport{Schema: schema, Reference: reference}
	for _, s := range []string{schema, reference} {
		if err := validSharedSchemaName(s); err != nil {
			return rep, &TenantError{Op: "drift", Key: s, Err: err}
		}
	}
	got, err := m.catalogItems(ctx, schema)
	if err != nil {
		return rep, &MigrationError{Op: "drift", Schema: schema, Err: ctxErr(ctx, err)}
	}
	want, err := m.catalogItems(ctx, reference)
	if err != nil {
		return rep, &MigrationError{Op: "drift", Schema: reference, Err: ctxErr(ctx, err)}
	}
	rep.Items = len(got)
	rep.Missing, rep.Extra = diffSorted(want, got)
	return rep, nil
}

// catalogItems returns schema's catalog items, sorted.
func (m *Migrator) catalogItems(ctx context.Context, schema string) ([]string, error) {
	return catalogItemsOn(unscoped(ctx), m.db.Shared(), schema)
}

// diffSorted returns the items of a not in b and those of b not in a; both
// inputs are sorted.
func diffSorted(a, b []string) (onlyA, onlyB []string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			onlyA = append(onlyA, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			onlyB = append(onlyB, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return onlyA, onlyB
}

func (d DriftReport) String() string {
	if !d.Drifted() {
		return fmt.Sprintf("schema %q matches %q (%d catalog items)", d.Schema, d.Reference, d.Items)
	}
	return fmt.Sprintf("schema %q drifted from %q: %d items missing, %d extra", d.Schema, d.Reference, len(d.Missing), len(d.Extra))
}

// FleetDrift compares every registered tenant at the same version as reference
// with it ([Migrator.Drift]), reading the reference once and each tenant with
// one query. reference "" means the clone template ([WithCloneTemplate]), kept
// at the newest version. Tenants at another version are not compared: they are
// reported with Compared false. The reports are in registry id order.
func (m *Migrator) FleetDrift(ctx context.Context, reference string) ([]FleetDriftReport, error) {
	if reference == "" {
		reference = m.cfg.template
	}
	if reference == "" {
		return nil, fmt.Errorf("tenancy: fleet drift: no reference schema and no clone template (WithCloneTemplate)")
	}
	if err := validSharedSchemaName(reference); err != nil {
		return nil, &TenantError{Op: "drift", Key: reference, Err: err}
	}
	ref, err := m.readSchemaVersion(ctx, reference)
	if err != nil {
		return nil, fmt.Errorf("tenancy: fleet drift: %w", ctxErr(ctx, err))
	}
	want, err := m.catalogItems(ctx, reference)
	if err != nil {
		return nil, fmt.Errorf("tenancy: fleet drift: %w", ctxErr(ctx, err))
	}
	var rows []versionRow
	if err := m.readVersions(ctx, nil, func(v versionRow) error { rows = append(rows, v); return nil }); err != nil {
		return nil, fmt.Errorf("tenancy: fleet drift: %w", ctxErr(ctx, err))
	}
	out := make([]FleetDriftReport, 0, len(rows))
	for _, v := range rows {
		r := FleetDriftReport{DriftReport: DriftReport{Schema: v.schema, Reference: reference}, TenantID: v.tenantID, Version: v.versionU()}
		if v.schema != reference && v.version == ref.version && !v.dirty {
			got, err := m.catalogItems(ctx, v.schema)
			if err != nil {
				return out, fmt.Errorf("tenancy: fleet drift: schema %q: %w", v.schema, ctxErr(ctx, err))
			}
			r.Compared, r.Items = true, len(got)
			r.Missing, r.Extra = diffSorted(want, got)
		}
		out = append(out, r)
	}
	return out, nil
}

// FleetDriftReport is one tenant's line of [Migrator.FleetDrift].
type FleetDriftReport struct {
	DriftReport
	// TenantID is the tenant's registry id, Version its migration version.
	TenantID int64
	Version  uint
	// Compared reports whether the tenant was compared: it was at the
	// reference's version and clean.
	Compared bool
}
