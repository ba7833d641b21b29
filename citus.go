package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file is what the Migrator does differently on Citus with schema-based
// sharding (Citus 12+), where every tenant schema is a distributed schema: one
// co-located shard group, placed on one worker, to which the coordinator routes
// each statement by the schema of the tables it touches.
//
//   - Migration files are sent one statement at a time. Citus forwards some DDL
//     (CREATE INDEX, triggers, policies, ...) to the worker with the whole query
//     string over the extended protocol, which refuses a string with several
//     statements (42601). A transactional file still runs in one transaction,
//     opened explicitly, with citus.multi_shard_modify_mode set to sequential (a
//     transaction that creates tables and then writes to them must use one
//     connection per worker).
//   - The shared schema is created as a coordinator-local schema, tenant schemas
//     as distributed ones, whatever citus.enable_schema_based_sharding says for
//     the database (set_config ... FROM pg_extension WHERE extname = 'citus' is a
//     no-op without Citus, so the same statement serves plain PostgreSQL).
//   - Placement (which node a tenant's schema is on) is read from Citus's
//     metadata, never stored by us: the registry cannot disagree with it.
//
// Detection happens once per Migrator, with the first run.

var (
	// ErrNotCoordinator is returned when a Migrator is pointed at a Citus worker:
	// DDL and placement must go through the coordinator.
	ErrNotCoordinator = errors.New("tenancy: connected to a Citus worker node, not to the coordinator")
	// ErrNotDistributed is returned by placement calls ([Migrator.MoveTenant],
	// [PlaceOn]) on a database that is not a Citus coordinator, and by MoveTenant
	// for a schema that is not a distributed schema.
	ErrNotDistributed = errors.New("tenancy: not a Citus distributed schema")
	// ErrUnknownNode is returned for a node that is not an active primary node of
	// the Citus cluster.
	ErrUnknownNode = errors.New("tenancy: not a node of the Citus cluster")
)

// Node is a server of a Citus cluster that holds tenant schemas: the host and
// port the coordinator knows it by (pg_dist_node). The zero Node means "not
// placed": plain PostgreSQL, or a distributed schema with no table yet.
type Node struct {
	Host string
	Port int
}

// IsZero reports whether n is the zero Node.
func (n Node) IsZero() bool { return n == Node{} }

// String returns "host:port", or "" for the zero Node.
func (n Node) String() string {
	if n.IsZero() {
		return ""
	}
	return net.JoinHostPort(n.Host, strconv.Itoa(n.Port))
}

// ParseNode parses "host:port" (as [Node.String] writes it, IPv6 hosts in
// brackets).
func ParseNode(s string) (Node, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return Node{}, fmt.Errorf("tenancy: node %q: want host:port: %w", s, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 || host == "" {
		return Node{}, fmt.Errorf("tenancy: node %q: want host:port with a port from 1 to 65535", s)
	}
	return Node{Host: host, Port: p}, nil
}

// citusState is what a Migrator knows about Citus: nothing yet, or whether the
// database is a Citus coordinator. Only a successful detection is kept.
type citusState struct {
	mu    sync.Mutex
	known bool
	on    bool
}

// onCitus reports whether the Migrator's database is a Citus coordinator,
// detecting it with q the first time: the citus extension is installed, and the
// node is not a worker (one with metadata, pg_dist_node, that is not the
// coordinator: a database with the extension and no node at all is a single-node
// Citus, which registers itself as coordinator on first use). A Citus worker is
// [ErrNotCoordinator].
func (m *Migrator) onCitus(ctx context.Context, q rowQuerier) (bool, error) {
	c := &m.citus
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known {
		return c.on, nil
	}
	var has bool
	if err := q.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus')`).Scan(&has); err != nil {
		return false, fmt.Errorf("detect Citus: %w", ctxErr(ctx, err))
	}
	if has {
		// (A query of its own: without Citus its functions do not exist.)
		var worker bool
		if err := q.QueryRowContext(ctx, `SELECT NOT pg_catalog.citus_is_coordinator()
AND EXISTS (SELECT 1 FROM pg_catalog.pg_dist_node)`).Scan(&worker); err != nil {
			return false, fmt.Errorf("detect Citus: %w", ctxErr(ctx, err))
		}
		if worker {
			return false, ErrNotCoordinator
		}
	}
	c.known, c.on = true, has
	return has, nil
}

// shardingSQL makes the schemas the current transaction creates distributed
// (on) or coordinator-local (off) on Citus, and, with sequential, has it use one
// connection per worker. Without Citus it does nothing (no row of pg_extension
// matches).
func shardingSQL(distribute, sequential bool) string {
	on := "off"
	if distribute {
		on = "on"
	}
	settings := []string{"citus.enable_schema_based_sharding", on}
	if sequential {
		settings = append(settings, "citus.multi_shard_modify_mode", "sequential")
	}
	return citusLocalSQL(settings...)
}

// sequentialSQL has the current transaction use one connection per worker (see
// shardingSQL); it does nothing without Citus.
var sequentialSQL = citusLocalSQL("citus.multi_shard_modify_mode", "sequential")

// citusLocalSQL sets the settings (name, value, name, value, ...: constants of
// this file) for the current transaction when the database has Citus, in one
// statement that does nothing without it.
func citusLocalSQL(settings ...string) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i := 0; i < len(settings); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("pg_catalog.set_config('" + settings[i] + "', '" + settings[i+1] + "', true)")
	}
	b.WriteString(" FROM pg_catalog.pg_extension WHERE extname = 'citus'")
	return b.String()
}

// execScript runs a migration file's SQL with ex: as one query, or, on Citus,
// one statement at a time. On failure it returns the 1-based line of q at which
// the server located the error (0 if it cannot tell).
func execScript(ctx context.Context, ex execer, q string, citus bool) (int, error) {
	if !citus {
		if _, err := ex.ExecContext(ctx, q); err != nil {
			return errorLine(q, err), err
		}
		return 0, nil
	}
	for _, st := range splitStatements(q) {
		if _, err := ex.ExecContext(ctx, st.Text); err != nil {
			line := st.Line
			if l := errorLine(st.Text, err); l > 1 {
				line += l - 1
			}
			return line, err
		}
	}
	return 0, nil
}

// placementSQL returns, for each distributed schema named in $1 (a text array;
// NULL for all), the node holding its tables, if it has any. A distributed
// schema's tables are one co-located shard group: the first placement tells.
const placementSQL = `SELECT n.nspname::text, coalesce(nd.nodename, ''), coalesce(nd.nodeport, 0)
FROM pg_catalog.pg_dist_schema ds
JOIN pg_catalog.pg_namespace n ON n.oid = ds.schemaid
LEFT JOIN LATERAL (
  SELECT pl.groupid FROM pg_catalog.pg_dist_partition p
  JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid = p.logicalrelid
  JOIN pg_catalog.pg_dist_placement pl ON pl.shardid = s.shardid
  WHERE p.colocationid = ds.colocationid
  ORDER BY s.shardid LIMIT 1) g ON true
LEFT JOIN pg_catalog.pg_dist_node nd ON nd.groupid = g.groupid AND nd.noderole = 'primary'
WHERE $1::text[] IS NULL OR n.nspname = ANY ($1::text[])`

// placements returns the node of each distributed schema in schemas (all if
// schemas is nil). Schemas that are not distributed, or have no table yet, are
// missing from the map. Without Citus the map is empty.
func (m *Migrator) placements(ctx context.Context, schemas []string) (map[string]Node, error) {
	return m.placementsOn(ctx, m.db.Shared(), schemas)
}

// catalogQuerier is a *sql.Conn or a shared *DB.
type catalogQuerier interface {
	rowQuerier
	queryer
}

// placementsOn is placements, read with q (a connection the caller holds:
// taking another from the pool could wait for ever on a pool of one).
func (m *Migrator) placementsOn(ctx context.Context, sh catalogQuerier, schemas []string) (map[string]Node, error) {
	on, err := m.onCitus(ctx, sh)
	if err != nil || !on {
		return map[string]Node{}, err
	}
	var arg any
	if schemas != nil {
		arg = textArray(schemas)
	}
	rows, err := sh.QueryContext(ctx, placementSQL, arg)
	if err != nil {
		return nil, fmt.Errorf("read placement: %w", ctxErr(ctx, err))
	}
	defer rows.Close()
	out := make(map[string]Node)
	for rows.Next() {
		var schema string
		var n Node
		if err := rows.Scan(&schema, &n.Host, &n.Port); err != nil {
			return nil, fmt.Errorf("read placement: %w", err)
		}
		if !n.IsZero() {
			out[schema] = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read placement: %w", ctxErr(ctx, err))
	}
	return out, nil
}

// textArray formats names (which passed the schema-name rules: no quote,
// backslash, comma or brace) as a PostgreSQL text array literal.
func textArray(names []string) string {
	b := []byte{'{'}
	for i, s := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, s...)
		b = append(b, '"')
	}
	return string(append(b, '}'))
}

// Placement returns the node that holds a registered tenant's schema on Citus:
// the zero Node on plain PostgreSQL, or for a distributed schema that has no
// table yet.
//
// Errors, in a *[TenantError]: [ErrInvalidSchemaName], [ErrUnknownTenant],
// [ErrNotCoordinator], the context's or the database's error.
func (m *Migrator) Placement(ctx context.Context, schema string) (Node, error) {
	ctx = unscoped(ctx)
	subj, err := m.subject(ctx, "placement", schema)
	if err != nil {
		return Node{}, err
	}
	p, err := m.placements(ctx, []string{subj.schema})
	if err != nil {
		return Node{}, &TenantError{Op: "placement", Key: schema, Err: err}
	}
	return p[subj.schema], nil
}

// Nodes returns the nodes of the Citus cluster that can hold tenant schemas
// (active primaries marked to have shards), ordered by host and port; none on
// plain PostgreSQL.
func (m *Migrator) Nodes(ctx context.Context) ([]Node, error) {
	ctx = unscoped(ctx)
	sh := m.db.Shared()
	on, err := m.onCitus(ctx, sh)
	if err != nil || !on {
		return nil, err
	}
	rows, err := sh.QueryContext(ctx, `SELECT nodename, nodeport FROM pg_catalog.pg_dist_node
WHERE noderole = 'primary' AND isactive AND shouldhaveshards ORDER BY nodename, nodeport`)
	if err != nil {
		return nil, fmt.Errorf("tenancy: nodes: %w", ctxErr(ctx, err))
	}
	defer rows.Close()
	var out []Node
	for rows.Next() {
		var n Node
		if err := rows.Scan(&n.Host, &n.Port); err != nil {
			return nil, fmt.Errorf("tenancy: nodes: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tenancy: nodes: %w", ctxErr(ctx, err))
	}
	return out, nil
}

// checkNode returns nil if n is an active primary node of the cluster.
func (m *Migrator) checkNode(ctx context.Context, q rowQuerier, n Node) error {
	var ok bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_node
WHERE nodename = $1 AND nodeport = $2 AND noderole = 'primary' AND isactive)`, n.Host, n.Port).Scan(&ok)
	switch {
	case err != nil:
		return fmt.Errorf("check node: %w", ctxErr(ctx, err))
	case !ok:
		return fmt.Errorf("%w: %s", ErrUnknownNode, n)
	}
	return nil
}

// MoveOption configures [Migrator.MoveTenant].
type MoveOption interface{ applyMove(*moveConfig) }

type moveConfig struct{ mode string }

type moveOptionFunc func(*moveConfig)

func (f moveOptionFunc) applyMove(c *moveConfig) { f(c) }

// LogicalReplication moves a tenant with Citus's logical replication
// (citus_schema_move's "auto" transfer mode, which needs wal_level = logical and
// a primary key or replica identity on every table): writes go on while the
// tables are copied and wait only for the switch-over.
//
// It is not the default because, on the Citus this library is tested with
// (13.2.2 on PostgreSQL 15), writes committed during such a move while the
// tenant was also being read were sometimes lost: they landed in the old copy
// of the tables, which Citus then drops, with no error to anyone. The same
// happened with a plain pgx client and no tenancy code at all (see
// BENCHMARKS.md, section 10). Use it only with a Citus release in which that
// no longer reproduces, or for a tenant nobody writes to during the move.
func LogicalReplication() MoveOption {
	return moveOptionFunc(func(c *moveConfig) { c.mode = "auto" })
}

// MoveTenant moves a registered tenant's schema to another node of the Citus
// cluster with citus_schema_move. By default it copies the tables while writes
// to them wait (Citus's block_writes transfer mode): reads go on, writes stall
// for the copy and then go to the new node; none fails and none is lost, under
// any load (see [LogicalReplication] for the mode that does not stall writes,
// and why it is not the default). The tenant's version table moves with its schema, and the
// registry does not record placement (Citus's metadata is the only record), so
// both stay consistent. The move holds the tenant's migration lock: a migration
// of the tenant waits for it (and it for a running migration, at most the lock
// timeout, [ErrLocked]). Moving a tenant to the node it is on does nothing.
//
// Errors, in a *[TenantError]: [ErrInvalidSchemaName], [ErrUnknownTenant],
// [ErrNotDistributed] (plain PostgreSQL, or a schema that is not distributed or
// has no table), [ErrUnknownNode], [ErrNotCoordinator], [ErrLocked], the
// context's or the database's error. Nothing is moved when one is returned
// before the copy starts; a move that fails part-way is rolled back by Citus.
func (m *Migrator) MoveTenant(ctx context.Context, schema string, to Node, opts ...MoveOption) error {
	cfg := moveConfig{mode: "block_writes"}
	for _, o := range opts {
		if o != nil {
			o.applyMove(&cfg)
		}
	}
	ctx = unscoped(ctx)
	subj, err := m.subject(ctx, "move", schema)
	if err != nil {
		return err
	}
	fail := func(err error) error { return &TenantError{Op: "move", Key: schema, Err: err} }
	if subj.set == m.sharedSet {
		return fail(fmt.Errorf("%w: the shared schema stays on the coordinator", ErrNotDistributed))
	}
	mc := &migConn{}
	conn, err := mc.pin(ctx, m.db, subj.schema)
	if err != nil {
		return fail(fmt.Errorf("connect: %w", ctxErr(ctx, err)))
	}
	defer mc.close(ctx)
	on, err := m.onCitus(ctx, conn)
	switch {
	case err != nil:
		return fail(err)
	case !on:
		return fail(fmt.Errorf("%w: the database is not a Citus coordinator", ErrNotDistributed))
	}
	if err := m.checkNode(ctx, conn, to); err != nil {
		return fail(err)
	}
	dbName, _, err := m.probe(ctx, conn, subj.schema)
	if err != nil {
		return fail(err)
	}
	if err := m.lockSchema(ctx, conn, dbName, subj.schema); err != nil {
		return fail(err)
	}
	// Read the placement under the lock: a concurrent move of the same tenant
	// holds it too.
	p, err := m.placementsOn(ctx, conn, []string{subj.schema})
	if err != nil {
		return fail(err)
	}
	from, ok := p[subj.schema]
	switch {
	case !ok:
		return fail(fmt.Errorf("%w: schema %s has no distributed tables", ErrNotDistributed, subj.schema))
	case from == to:
		return nil
	}
	start := time.Now()
	if _, err := conn.ExecContext(ctx, `SELECT pg_catalog.citus_schema_move($1::regnamespace, $2, $3, $4::citus.shard_transfer_mode)`,
		quoteIdent(subj.schema), to.Host, to.Port, cfg.mode); err != nil {
		return fail(fmt.Errorf("move from %s to %s: %w", from, to, ctxErr(ctx, err)))
	}
	if l := m.cfg.logger; l != nil {
		l.InfoContext(ctx, "tenancy: tenant moved", "schema", subj.schema, "from", from.String(), "to", to.String(),
			"duration", time.Since(start))
	}
	return nil
}

// PlaceOn has [Migrator.CreateTenant] put the new tenant's schema on node n of
// the Citus cluster, instead of where Citus places it. The node is checked
// before anything is created ([ErrUnknownNode]; [ErrNotDistributed] on plain
// PostgreSQL). Citus places a schema when its first table is created, so the
// tenant is created, then moved if Citus put it elsewhere (it is new and
// nobody uses it yet). If that move fails, CreateTenant returns the
// tenant, which exists on the node Citus chose, with the error.
func PlaceOn(n Node) CreateOption {
	return createOptionFunc(func(c *createConfig) { c.node = n; c.place = true })
}

// checkPlacement validates cfg's placement before a creation.
func (m *Migrator) checkPlacement(ctx context.Context, cfg createConfig) error {
	if !cfg.place {
		return nil
	}
	sh := m.db.Shared()
	on, err := m.onCitus(ctx, sh)
	switch {
	case err != nil:
		return err
	case !on:
		return fmt.Errorf("place: %w: the database is not a Citus coordinator", ErrNotDistributed)
	}
	if err := m.checkNode(ctx, sh, cfg.node); err != nil {
		return fmt.Errorf("place: %w", err)
	}
	return nil
}

// place moves a just-created tenant to cfg's node if Citus put it elsewhere.
func (m *Migrator) place(ctx context.Context, t Tenant, cfg createConfig) error {
	if !cfg.place {
		return nil
	}
	if err := m.MoveTenant(ctx, t.Schema, cfg.node); err != nil {
		var te *TenantError
		if errors.As(err, &te) {
			err = te.Err
		}
		return &TenantError{Op: "create", Key: t.Schema, Err: fmt.Errorf("place: %w", err)}
	}
	return nil
}

// ReferenceTables makes the named tables of the shared schema Citus reference
// tables (copied to every node), in the order given, if they are not yet: the
// only tables outside a tenant's schema that a tenant table may have a foreign
// key to, and that a tenant's statements can join with on its node. A reference
// table may have foreign keys only to reference tables: list the referenced ones
// first. It does nothing on plain PostgreSQL; run it after
// [Migrator.MigrateShared] (or use [WithReferenceTables], which does). Names are
// table names in the shared schema, unquoted, under the schema-name rules.
func (m *Migrator) ReferenceTables(ctx context.Context, tables ...string) error {
	ctx = unscoped(ctx)
	for _, t := range tables {
		if err := validSharedSchemaName(t); err != nil {
			return fmt.Errorf("tenancy: reference table %q: %w", t, err)
		}
	}
	sh := m.db.Shared()
	on, err := m.onCitus(ctx, sh)
	if err != nil || !on {
		if err != nil {
			err = fmt.Errorf("tenancy: reference tables: %w", err)
		}
		return err
	}
	for _, t := range tables {
		rel := quoteIdent(m.db.cfg.sharedSchema) + "." + quoteIdent(t)
		// A reference table is partmethod 'n' with replication model 't'.
		_, err := sh.ExecContext(ctx, `SELECT pg_catalog.create_reference_table($1::regclass)
WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1::regclass AND partmethod = 'n' AND repmodel = 't')`, rel)
		if err != nil {
			return fmt.Errorf("tenancy: reference table %s: %w", rel, ctxErr(ctx, err))
		}
	}
	return nil
}

// WithReferenceTables has [Migrator.MigrateShared] make the named shared tables
// Citus reference tables after it migrated the shared schema (see
// [Migrator.ReferenceTables]); on plain PostgreSQL it does nothing.
func WithReferenceTables(tables ...string) MigratorOption {
	return migratorOptionFunc(func(c *migratorConfig) error {
		for _, t := range tables {
			if err := validSharedSchemaName(t); err != nil {
				return fmt.Errorf("tenancy: WithReferenceTables: %q: %w", t, err)
			}
		}
		c.referenceTables = append([]string(nil), tables...)
		return nil
	})
}
