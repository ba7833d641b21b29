package tenancy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// Migrator runs schema migrations with golang-migrate (v4, its postgres driver and
// its iofs source): one set for the shared schema (the tenant registry and other
// shared tables) and one set for every tenant schema. It also creates and drops
// tenants ([Migrator.CreateTenant], [Migrator.DropTenant]) and upgrades the whole
// fleet of tenants ([Migrator.UpgradeFleet]).
//
// # Version tables
//
// Every migrated schema has its own version table (default "schema_migrations",
// see [WithVersionTable]) in golang-migrate's format: one row (version bigint,
// dirty boolean). Migrations run with search_path set to the target schema alone,
// and the version table is always created in that schema by name, never wherever
// the connection's current schema happens to be (golang-migrate's default, which
// can be public). A schema's version is 0 when nothing is applied; migration
// versions start at 1.
//
// # Migration files
//
// Files are named as golang-migrate expects: 1_create_users.up.sql,
// 1_create_users.down.sql, 2_...; versions need not be consecutive (timestamps
// work). Each file runs as one statement batch, which PostgreSQL runs as one
// transaction: a failing file leaves no partial effects (unless it contains
// statements that cannot run in a transaction, such as CREATE INDEX CONCURRENTLY,
// which must then be alone in their file). Use unqualified names for tenant
// tables. Down files are optional, but [Migrator.Downgrade] refuses to revert a
// migration without one ([ErrIrreversible]).
//
// # Failures and the dirty flag
//
// A migration file that neither controls its own transactions (BEGIN, COMMIT,
// ...) nor contains a statement that cannot run in one (CREATE INDEX
// CONCURRENTLY, VACUUM, ...: the set is read with a SQL lexer when the Migrator
// is built) runs as one transaction together with the update of the version
// table, as goose does: when it fails or is cancelled, PostgreSQL rolls back
// both, and the schema stays clean at the previous version. Run again once the
// cause is fixed; no [Migrator.Force] is needed.
//
// For the other files golang-migrate's protocol applies: the migration is marked
// dirty in the version table before it runs and clean after. If it fails (or is
// cancelled), the schema stays at that version, dirty; every later run on the
// schema refuses it with [ErrDirty] until an operator has looked, repaired what
// needs repairing, and called [Migrator.Force] with the version the schema is
// really at.
//
// # Locking and cancellation
//
// Each run holds golang-migrate's advisory lock for its schema (so two processes,
// or a golang-migrate CLI, never migrate one schema at once) on a connection of
// its own, which is closed afterwards, so no lock can outlive the run. Waiting for
// the lock is bounded by [WithLockTimeout] ([ErrLocked]). Cancelling the context
// stops a run: no further migration starts, and the running statement is cancelled
// on the server (a transactional migration is then rolled back with its version;
// another stays dirty).
//
// Migrations need a session of their own: point the Migrator's [DB] at the server
// directly or through a session-pooling proxy, not through PgBouncer in
// transaction-pooling mode. The DB must use lib/pq (driver name "postgres"), on
// which golang-migrate's postgres driver is built: a migration file is sent as one
// simple query, and server errors are read as *pq.Error.
//
// A Migrator is safe for concurrent use.
type Migrator struct {
	db        *DB
	reg       *Registry
	sharedSet *migrationSet
	tenantSet *migrationSet
	cfg       migratorConfig
	clone     cloneState
	gate      createGate
	citus     citusState
	lint      []LintWarning // of the tenant set
}

// NewMigrator returns a Migrator that applies the migrations in shared to db's
// shared schema and those in tenant to each tenant's schema, with reg as the tenant
// registry (the Migrator invalidates reg's cache when it creates or drops a
// tenant). db may be a tenant-scoped [DB] or a [DB.Shared] handle.
//
// Both file systems are read completely here, through golang-migrate's iofs
// source: their files must sit at the root (use [fs.Sub]) and be named like
// 1_title.up.sql / 1_title.down.sql. NewMigrator fails if a set has no migration,
// a version is 0, a version has two up files or a down file without an up file. It
// does no I/O on the database.
func NewMigrator(db *DB, reg *Registry, shared, tenant fs.FS, opts ...MigratorOption) (*Migrator, error) {
	if db == nil {
		return nil, errors.New("tenancy: NewMigrator: nil DB")
	}
	if reg == nil {
		return nil, errors.New("tenancy: NewMigrator: nil Registry")
	}
	if got, want := reg.db.cfg.sharedSchema, db.cfg.sharedSchema; got != want {
		return nil, fmt.Errorf("tenancy: NewMigrator: the Registry reads shared schema %q, the DB uses %q", got, want)
	}
	cfg := migratorConfig{
		table:       DefaultVersionTable,
		lockTimeout: DefaultLockTimeout,
		concurrency: DefaultFleetConcurrency,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.applyMigrator(&cfg); err != nil {
			return nil, err
		}
	}
	sharedSet, err := loadSet("shared", shared)
	if err != nil {
		return nil, fmt.Errorf("tenancy: NewMigrator: %w", err)
	}
	tenantSet, err := loadSet("tenant", tenant)
	if err != nil {
		return nil, fmt.Errorf("tenancy: NewMigrator: %w", err)
	}
	if cfg.template == db.cfg.sharedSchema {
		return nil, errors.New("tenancy: NewMigrator: WithCloneTemplate names the shared schema")
	}
	if db.shared != nil {
		db = &DB{pool: db.pool, cfg: db.cfg}
	}
	lint := lintSet(tenantSet)
	if l := cfg.logger; l != nil {
		for _, w := range lint {
			l.Warn("tenancy: "+w.String(), "version", w.Version)
		}
	}
	return &Migrator{db: db, reg: reg, sharedSet: sharedSet, tenantSet: tenantSet, cfg: cfg, lint: lint}, nil
}

// Result is what one run did to one schema.
type Result struct {
	// Schema is the migrated schema.
	Schema string
	// From is the version the schema was at before the run, To the version it is
	// at after it (0 = none). To equals From when nothing ran.
	From, To uint
	// Applied lists the versions whose migrations ran (reverted, for a
	// downgrade), in the order they ran.
	Applied []uint
	// Dirty reports whether the schema was left dirty at To (a non-transactional
	// migration failed part-way): see [ErrDirty].
	Dirty bool
	// Duration is how long the run took, connection and lock wait included.
	Duration time.Duration
}

// Status is a schema's migration state.
type Status struct {
	// Schema is the schema.
	Schema string
	// TenantID is the tenant's registry id; 0 for the shared schema.
	TenantID int64
	// Version is the version the schema is at; 0 if no migration is applied (or
	// the schema or its version table does not exist).
	Version uint
	// Dirty reports whether a migration failed part-way at Version ([ErrDirty]).
	Dirty bool
	// Head is the newest version of the schema's migration set.
	Head uint
	// Pending counts the migrations newer than Version.
	Pending int
	// Node is, on Citus, the node that holds the tenant's schema (see
	// [Migrator.Placement]); zero on plain PostgreSQL and for the shared schema.
	Node Node
}

// Plan is what reaching a version would take: the migrations that would run, in
// order, with their SQL. See [Migrator.Plan].
type Plan struct {
	// Schema is the planned schema.
	Schema string
	// From is the schema's current version, To the version the plan reaches.
	From, To uint
	// Steps are the migrations to run, in order; empty when there is nothing to
	// do.
	Steps []PlanStep
}

// PlanStep is one migration of a [Plan].
type PlanStep struct {
	// Version is the migration's version.
	Version uint
	// Name is the title part of its file name ("create_users" in
	// 1_create_users.up.sql).
	Name string
	// Down reports whether the step reverts the migration (runs its down file).
	Down bool
	// SQL is the file's content.
	SQL string
}

// Head returns the newest version of the tenant migrations.
func (m *Migrator) Head() uint { return m.tenantSet.head() }

// SharedHead returns the newest version of the shared migrations.
func (m *Migrator) SharedHead() uint { return m.sharedSet.head() }

// MigrateShared brings the shared schema to the newest shared migration, creating
// the schema first if it does not exist (under an advisory lock, so that it is
// safe to call on every start-up of every replica at once: all but one find
// nothing to do). A schema already at or beyond the newest version is left alone,
// so that an older release starting during a rolling deploy does not fail.
//
// Errors are *[MigrationError]s: [ErrDirty] (nothing was run), [ErrLocked], or a
// migration's failure (a non-transactional one leaves the schema dirty at that version).
func (m *Migrator) MigrateShared(ctx context.Context) (Result, error) {
	subj := subject{set: m.sharedSet, schema: m.db.cfg.sharedSchema}
	// On a Citus worker nothing may be created (see citus.go).
	if _, err := m.onCitus(unscoped(ctx), m.db.Shared()); err != nil {
		return Result{Schema: subj.schema}, &MigrationError{Op: "migrate shared", Schema: subj.schema, Err: err}
	}
	if err := m.createRegistryTable(ctx); err != nil {
		return Result{Schema: subj.schema}, &MigrationError{Op: "migrate shared", Schema: subj.schema, Err: err}
	}
	res, err := m.runUp(ctx, "migrate shared", subj, m.sharedSet.head(), true, nil)
	if err == nil && len(m.cfg.referenceTables) > 0 {
		if rerr := m.ReferenceTables(ctx, m.cfg.referenceTables...); rerr != nil {
			return res, &MigrationError{Op: "migrate shared", Schema: subj.schema, Err: rerr}
		}
	}
	return res, err
}

// Upgrade brings a registered tenant's schema to the newest tenant migration. See
// [Migrator.UpgradeTo].
func (m *Migrator) Upgrade(ctx context.Context, schema string) (Result, error) {
	return m.UpgradeTo(ctx, schema, 0)
}

// UpgradeTo applies the tenant migrations up to and including version (0 = the
// newest) to the schema of a registered tenant. It never reverts anything: a
// schema at or beyond version is left as it is. A registered tenant whose schema is
// missing gets it created.
//
// schema may also be the shared schema ([DB.SharedSchema]); the shared migrations
// are then used, as by [Migrator.MigrateShared].
//
// Errors: a *[TenantError] wrapping [ErrUnknownTenant] or [ErrInvalidSchemaName]
// (the registry is read, bypassing its cache, before anything else); otherwise a
// *[MigrationError]: [ErrUnknownVersion] (version is not a migration, or the schema
// is at a version not in the set), [ErrDirty], [ErrLocked], a migration's own
// failure (the Result says how far it got: the schema is at the last migration
// that completed, or, for a non-transactional migration, dirty at the failed
// one), or the context's error.
func (m *Migrator) UpgradeTo(ctx context.Context, schema string, version uint) (Result, error) {
	const op = "upgrade"
	subj, err := m.subject(ctx, op, schema)
	if err != nil {
		return Result{Schema: schema}, err
	}
	target, err := subj.set.resolve(version)
	if err != nil {
		return Result{Schema: schema}, &MigrationError{Op: op, Schema: schema, TenantID: subj.tenantID, Err: err}
	}
	return m.runUp(ctx, op, subj, target, true, nil)
}

// runUp brings subj to target. It is the one code path of every upgrade. It runs
// on mc's connection (keeping it for another run if this one succeeds), or on a
// connection of its own if mc is nil.
func (m *Migrator) runUp(ctx context.Context, op string, subj subject, target uint, create bool, mc *migConn) (Result, error) {
	return m.runSteps(ctx, op, subj, create, mc, func(from uint) ([]step, error) {
		return subj.set.upSteps(from, target)
	})
}

// runSteps is every run's code path: under the schema's lock it reads the version,
// plans the steps from it and runs them. Connections as for runUp.
func (m *Migrator) runSteps(ctx context.Context, op string, subj subject, create bool, mc *migConn,
	plan func(from uint) ([]step, error)) (res Result, err error) {
	start := time.Now()
	res = Result{Schema: subj.schema}
	defer func() { res.Duration = time.Since(start) }()
	own := mc == nil
	if own {
		mc = &migConn{}
	}
	defer func() {
		if err == nil && !own {
			mc.keep(ctx)
		} else {
			mc.close(ctx)
		}
	}()
	r, err := m.open(ctx, op, subj, create, mc)
	if err != nil {
		return res, err
	}
	err = r.readVersion()
	res.From, res.To, res.Dirty = clampVersion(r.version), clampVersion(r.version), r.dirty
	if err != nil {
		return res, err
	}
	steps, err := plan(res.From)
	if err != nil {
		return res, r.fail(0, err)
	}
	if len(steps) == 0 {
		return res, nil // golang-migrate's ErrNoChange: success
	}
	err = r.run(steps)
	res.To, res.Dirty, res.Applied = clampVersion(r.version), r.dirty, r.applied()
	if r.done > 0 && ctx.Err() == nil {
		// Also after a failure: what the migrations that did run created.
		if perr := m.pinFunctions(unscoped(ctx), r.conn, subj); perr != nil && err == nil {
			err = r.fail(0, perr)
		}
	}
	return res, err
}

// Downgrade reverts the newest steps migrations of a registered tenant's schema
// (or of the shared schema, if schema names it), running their down files, newest
// first. steps must be between 1 and the number of applied migrations.
//
// Every migration to revert must have a down file: [ErrIrreversible] is returned
// before anything runs otherwise. Other errors as for [Migrator.UpgradeTo].
func (m *Migrator) Downgrade(ctx context.Context, schema string, steps int) (Result, error) {
	const op = "downgrade"
	subj, err := m.subject(ctx, op, schema)
	if err != nil {
		return Result{Schema: schema}, err
	}
	if steps < 1 {
		return Result{Schema: schema}, &MigrationError{Op: op, Schema: schema, TenantID: subj.tenantID,
			Err: fmt.Errorf("steps must be at least 1, got %d", steps)}
	}
	return m.runSteps(ctx, op, subj, false, nil, func(from uint) ([]step, error) {
		return subj.set.downSteps(from, steps)
	})
}

// Force sets the version of a registered tenant's schema (or of the shared
// schema) to version and clears its dirty flag, without running anything: the
// documented way out of [ErrDirty] once the schema has been repaired by hand.
// version is the version the schema is really at: a version of the set, or 0 or
// -1 for "no migration applied" (golang-migrate's -1). It takes the schema's
// migration lock like any run.
//
// Errors: as for [Migrator.UpgradeTo]; [ErrUnknownVersion] if version is not a
// migration of the set.
func (m *Migrator) Force(ctx context.Context, schema string, version int) error {
	const op = "force"
	subj, err := m.subject(ctx, op, schema)
	if err != nil {
		return err
	}
	if version < -1 || version > 0 && !subj.set.known(uint(version)) {
		return &MigrationError{Op: op, Schema: schema, TenantID: subj.tenantID,
			Err: fmt.Errorf("%w: %d is not a %s migration", ErrUnknownVersion, version, subj.set.kind)}
	}
	if version == 0 {
		version = -1 // golang-migrate's "no version"
	}
	mc := &migConn{}
	defer mc.close(ctx)
	r, err := m.open(ctx, op, subj, false, mc)
	if err != nil {
		return err
	}
	if err := r.pg.SetVersion(version, false); err != nil {
		return r.fail(0, translateMigrateErr(ctxErr(r.ctx, err)))
	}
	if l := m.cfg.logger; l != nil {
		l.InfoContext(ctx, "tenancy: migration version forced", "schema", schema, "version", clampVersion(version))
	}
	return nil
}

// Status returns the migration state of a registered tenant's schema (or of the
// shared schema) with one query, taking no lock and changing nothing. A tenant
// whose schema or version table does not exist is at version 0.
//
// Errors: a *[TenantError] wrapping [ErrUnknownTenant] or [ErrInvalidSchemaName],
// or the query's error.
func (m *Migrator) Status(ctx context.Context, schema string) (Status, error) {
	row, set, err := m.state(ctx, "status", schema)
	if err != nil {
		return Status{Schema: schema}, err
	}
	st := row.status(set)
	if set == m.tenantSet {
		p, err := m.placements(unscoped(ctx), []string{row.schema})
		if err != nil {
			return st, &TenantError{Op: "status", Key: schema, Err: err}
		}
		st.Node = p[row.schema]
	}
	return st, nil
}

// Plan returns, without changing anything or taking any lock, the migrations that
// would take a registered tenant's schema (or the shared schema) from its current
// version to target (0 = the newest), with their SQL: up migrations if target is
// newer, down migrations if it is older (what [Migrator.Downgrade] would run), none
// if the schema is there. It works for a tenant whose schema or version table does
// not exist yet (its version is 0). [Migrator.PlanDowngrade] plans reverting a
// number of migrations.
//
// Errors: as for [Migrator.Status]; a *[MigrationError] wrapping [ErrDirty],
// [ErrUnknownVersion] or [ErrIrreversible] where the real run would fail with it.
func (m *Migrator) Plan(ctx context.Context, schema string, target uint) (Plan, error) {
	p, row, set, err := m.planFrom(ctx, schema)
	if err != nil {
		return p, err
	}
	to, err := set.resolve(target)
	if err != nil {
		return p, row.fail(planOp, err)
	}
	var steps []step
	switch {
	case to > p.From:
		steps, err = set.upSteps(p.From, to)
	case to < p.From:
		if i, ok := set.index[p.From]; ok {
			steps, err = set.downSteps(p.From, i-set.index[to])
		} else {
			err = fmt.Errorf("%w: the schema is at version %d, which is not a %s migration", ErrUnknownVersion, p.From, set.kind)
		}
	}
	if err != nil {
		return p, row.fail(planOp, err)
	}
	p.To = to
	p.Steps = planSteps(steps)
	return p, nil
}

// PlanDowngrade returns, without changing anything, the down migrations
// [Migrator.Downgrade] would run to revert steps migrations. Errors as for
// [Migrator.Plan].
func (m *Migrator) PlanDowngrade(ctx context.Context, schema string, steps int) (Plan, error) {
	p, row, set, err := m.planFrom(ctx, schema)
	if err != nil {
		return p, err
	}
	plan, err := set.downSteps(p.From, steps)
	if err != nil {
		return p, row.fail(planOp, err)
	}
	p.To = clampVersion(plan[len(plan)-1].target)
	p.Steps = planSteps(plan)
	return p, nil
}

const planOp = "plan"

// planFrom reads schema's state for Plan and PlanDowngrade: a Plan from (and, so
// far, to) its current version, and an error if it cannot be planned from there.
func (m *Migrator) planFrom(ctx context.Context, schema string) (Plan, versionRow, *migrationSet, error) {
	row, set, err := m.state(ctx, planOp, schema)
	if err != nil {
		return Plan{Schema: schema}, row, nil, err
	}
	p := Plan{Schema: schema, From: row.versionU(), To: row.versionU()}
	return p, row, set, row.clean(planOp)
}

func planSteps(steps []step) []PlanStep {
	if len(steps) == 0 {
		return nil
	}
	ps := make([]PlanStep, len(steps))
	for i, st := range steps {
		ps[i] = PlanStep{Version: st.file.version, Name: st.file.name, Down: st.down, SQL: st.sql()}
	}
	return ps
}

// subject resolves schema to what a run migrates: the shared schema and set, or a
// registered tenant's schema (read from the registry, bypassing its cache) and the
// tenant set.
func (m *Migrator) subject(ctx context.Context, op, schema string) (subject, error) {
	if schema == m.db.cfg.sharedSchema {
		return subject{set: m.sharedSet, schema: schema}, nil
	}
	if err := m.db.ValidateSchemaName(schema); err != nil {
		return subject{}, &TenantError{Op: op, Key: schema, Err: err}
	}
	t, err := m.reg.load(ctx, SchemaKey(schema))
	switch {
	case errors.Is(err, ErrUnknownTenant):
		return subject{}, &TenantError{Op: op, Key: schema, Err: ErrUnknownTenant}
	case err != nil:
		return subject{}, &TenantError{Op: op, Key: schema, Err: unavailable(ctx, err)}
	}
	return subject{set: m.tenantSet, schema: t.Schema, tenantID: t.ID}, nil
}

// state reads schema's version with one query: the shared schema's, or a
// registered tenant's together with its registry row.
func (m *Migrator) state(ctx context.Context, op, schema string) (versionRow, *migrationSet, error) {
	if schema == m.db.cfg.sharedSchema {
		row, err := m.readSchemaVersion(ctx, schema)
		if err != nil {
			return row, nil, &MigrationError{Op: op, Schema: schema, Err: err}
		}
		return row, m.sharedSet, nil
	}
	if err := m.db.ValidateSchemaName(schema); err != nil {
		return versionRow{}, nil, &TenantError{Op: op, Key: schema, Err: err}
	}
	var row versionRow
	found := false
	err := m.readVersions(ctx, []string{schema}, func(r versionRow) error {
		row, found = r, true
		return nil
	})
	switch {
	case err != nil:
		return row, nil, &TenantError{Op: op, Key: schema, Err: unavailable(ctx, err)}
	case !found:
		return row, nil, &TenantError{Op: op, Key: schema, Err: ErrUnknownTenant}
	}
	return row, m.tenantSet, nil
}

// versionRow is one schema's version as the status queries read it.
type versionRow struct {
	tenantID int64
	schema   string
	version  int64 // -1: none (no schema, no version table, or no row)
	dirty    bool
}

func (v versionRow) versionU() uint { return clampVersion(int(v.version)) }

func (v versionRow) status(set *migrationSet) Status {
	return Status{
		Schema: v.schema, TenantID: v.tenantID, Version: v.versionU(), Dirty: v.dirty,
		Head: set.head(), Pending: set.pending(v.versionU()),
	}
}

func (v versionRow) fail(op string, err error) error {
	return &MigrationError{Op: op, Schema: v.schema, TenantID: v.tenantID, Err: err}
}

// clean returns the error a run would fail with before running anything.
func (v versionRow) clean(op string) error {
	if v.dirty {
		return &MigrationError{Op: op, Schema: v.schema, TenantID: v.tenantID, Version: v.versionU(), Dirty: true, Err: ErrDirty}
	}
	return nil
}
