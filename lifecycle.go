package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"
)

// MaxTenantNameLen is the longest tenant name [Migrator.CreateTenant] accepts, in
// characters (the registry's name column is varchar(100)).
const MaxTenantNameLen = 100

// NewTenant describes a tenant for [Migrator.CreateTenant].
type NewTenant struct {
	// Name is the tenant's unique display name: 1 to [MaxTenantNameLen]
	// characters of valid UTF-8, not only spaces, no NUL.
	Name string
	// Schema is the tenant's schema: it must pass [DB.ValidateSchemaName] (so it
	// is not the shared schema) and not exist yet (unless [AdoptExisting]).
	Schema string
	// Host is the tenant's unique host name, stored as [NormalizeHost] returns it;
	// "" for none.
	Host string
}

// A CreateOption modifies [Migrator.CreateTenant].
type CreateOption interface {
	applyCreate(*createConfig)
}

type createConfig struct {
	adopt bool
	place bool // PlaceOn
	node  Node
}

type createOptionFunc func(*createConfig)

func (f createOptionFunc) applyCreate(c *createConfig) { f(c) }

// AdoptExisting lets [Migrator.CreateTenant] take over a schema that exists but
// belongs to no registered tenant (one made by hand, or by an older system):
// instead of failing with [ErrSchemaExists], it migrates that schema up with
// golang-migrate (starting from the version its version table records, if it has
// one) and then registers the tenant. If the schema does not exist, CreateTenant
// proceeds as without the option.
//
// An adopted schema is never dropped on failure: if its migration fails, the
// schema stays (dirty at the failed version, see [ErrDirty]) and no tenant is
// registered.
func AdoptExisting() CreateOption {
	return createOptionFunc(func(c *createConfig) { c.adopt = true })
}

// CreateTenant registers a new tenant and creates its schema at the newest tenant
// migration, and returns the registered tenant. It is atomic from the caller's
// view: when it fails, neither the registry row nor the schema it was creating
// survives, and the error (a *[TenantError]) says which step failed.
//
// It normally works in one transaction on one connection: it inserts the registry
// row (so that a duplicate name, schema or host fails first), creates the schema
// and its version table (in golang-migrate's format, before any migration, as
// golang-migrate does: a migration may extend it), runs every tenant up
// migration in order with search_path set to the new schema, records the newest
// version, clean, and commits. PostgreSQL's DDL is transactional, so a failure
// anywhere (a cancelled ctx included) rolls all of it back; nobody sees the
// tenant before it is complete.
//
// Which files cannot be part of that transaction is known when the Migrator is
// built: CONCURRENTLY is dropped from CREATE INDEX, DROP INDEX and REINDEX (in a
// schema nobody else can see yet it only makes the build slower), so such files
// still join it. A file with its own BEGIN/COMMIT, or another statement that
// cannot run in a transaction (VACUUM, ...), makes CreateTenant create the
// schema, migrate it with golang-migrate file by file, register the tenant last,
// and drop the schema again if a step fails (if the process dies part-way, an
// unregistered schema can remain: [AdoptExisting] takes it over).
//
// With [WithCloneTemplate], the migrations are replaced by a copy of the
// template schema (kept at the newest version) in the same one transaction, which
// is several times faster for a large set; see WithCloneTemplate for when it
// falls back to the migrations.
//
// A one-transaction creation locks every object it creates until it commits:
// concurrent creations of one Migrator share half of the server's lock table
// (max_locks_per_transaction × max_connections), each weighing what the first
// creation was measured to take, and wait for room (as long as ctx allows) rather
// than fail with "out of shared memory".
//
// The registry cache of the Migrator's [Registry] is invalidated for the new
// tenant's name, schema and host, so a cached "unknown tenant" answer does not
// linger in this process.
//
// Errors, each in a *[TenantError] whose message names the step: the name, schema
// ([ErrInvalidSchemaName]) or host ([ErrInvalidHost]) is invalid, and nothing was
// sent to the database; [ErrConflict] (a *[ConflictError] says which field) when
// another tenant has that name, schema or host; [ErrSchemaExists] when the schema
// exists unregistered; a *[MigrationError] when a tenant migration fails; the
// context's error.
func (m *Migrator) CreateTenant(ctx context.Context, nt NewTenant, opts ...CreateOption) (Tenant, error) {
	var cfg createConfig
	for _, o := range opts {
		if o != nil {
			o.applyCreate(&cfg)
		}
	}
	nt, err := m.checkNewTenant(nt)
	if err != nil {
		return Tenant{}, &TenantError{Op: "create", Key: nt.Schema, Err: err}
	}
	ctx = unscoped(ctx)
	if err := m.checkPlacement(ctx, cfg); err != nil {
		return Tenant{}, &TenantError{Op: "create", Key: nt.Schema, Err: err}
	}
	clone, err := m.clones(ctx)
	if err != nil {
		return Tenant{}, createStep(ctx, nt, "clone", err)
	}
	start := time.Now()
	var t Tenant
	switch {
	case cfg.adopt:
		t, err = m.adoptOrCreate(ctx, nt)
	case clone:
		t, err = m.createFromTemplate(ctx, nt)
	case m.tenantSet.staged != nil:
		t, err = m.createStaged(ctx, nt, false)
	default:
		t, err = m.createInTx(ctx, nt)
		if err != nil && needsOwnTransaction(err) {
			// Everything was rolled back; run the migrations the way golang-migrate
			// does, one file at a time.
			t, err = m.createStaged(ctx, nt, false)
		}
	}
	// Whatever happened, this process must not keep a stale "no such tenant".
	m.reg.Invalidate(Tenant{ID: t.ID, Name: nt.Name, Schema: nt.Schema, Host: nt.Host})
	if err != nil {
		return Tenant{}, err
	}
	if l := m.cfg.logger; l != nil {
		l.InfoContext(ctx, "tenancy: tenant created", "tenant", t, "duration", time.Since(start))
	}
	return t, m.place(ctx, t, cfg)
}

// createFromTemplate creates the tenant by cloning the template, or, if the
// template cannot be used or the copy fails for a reason that is not the
// tenant's, by running the migrations.
func (m *Migrator) createFromTemplate(ctx context.Context, nt NewTenant) (Tenant, error) {
	if script, err := m.cloneScript(ctx); err == nil {
		t, err := m.createByClone(ctx, nt, script)
		if err == nil || ctx.Err() != nil || errors.Is(err, ErrConflict) || errors.Is(err, ErrSchemaExists) {
			return t, err
		}
		if l := m.cfg.logger; l != nil {
			l.WarnContext(ctx, "tenancy: cloning the template failed; running the migrations", "schema", nt.Schema, "error", err)
		}
	} else if ctx.Err() != nil {
		return Tenant{}, createStep(ctx, nt, "clone", err)
	}
	if m.tenantSet.staged != nil {
		return m.createStaged(ctx, nt, false)
	}
	return m.createInTx(ctx, nt)
}

// clones reports whether CreateTenant creates tenants by cloning the template
// (WithCloneTemplate). Not on Citus: the template's tables live on a worker and
// a clone would be built from the coordinator's catalog, so the migrations,
// which are known to work there, run instead.
func (m *Migrator) clones(ctx context.Context) (bool, error) {
	if m.cfg.template == "" {
		return false, nil
	}
	citus, err := m.onCitus(ctx, m.db.Shared())
	return !citus && err == nil, err
}

// checkNewTenant validates nt before anything is sent to the database and
// normalises its host.
func (m *Migrator) checkNewTenant(nt NewTenant) (NewTenant, error) {
	if err := m.db.ValidateSchemaName(nt.Schema); err != nil {
		return nt, fmt.Errorf("validate: %w", err)
	}
	switch {
	case !utf8.ValidString(nt.Name) || strings.IndexByte(nt.Name, 0) >= 0:
		return nt, errors.New("validate: name is not valid UTF-8 text")
	case strings.TrimSpace(nt.Name) == "":
		return nt, errors.New("validate: name is empty")
	case utf8.RuneCountInString(nt.Name) > MaxTenantNameLen:
		return nt, fmt.Errorf("validate: name is longer than %d characters", MaxTenantNameLen)
	}
	if nt.Host != "" {
		h, err := NormalizeHost(nt.Host)
		if err != nil {
			return nt, fmt.Errorf("validate: %w", err)
		}
		nt.Host = h
	}
	return nt, nil
}

// createStep wraps a failure of one step of creating nt's tenant.
func createStep(ctx context.Context, nt NewTenant, step string, err error) error {
	var me *MigrationError
	if !errors.As(err, &me) {
		err = ctxErr(ctx, err)
	}
	return &TenantError{Op: "create", Key: nt.Schema, Err: fmt.Errorf("%s: %w", step, err)}
}

// createInTx creates the tenant in one transaction (see CreateTenant).
func (m *Migrator) createInTx(ctx context.Context, nt NewTenant) (Tenant, error) {
	return m.createWith(ctx, nt, func(tx *sql.Tx, citus bool) error {
		// The version table exists before the first migration runs, as with
		// golang-migrate (a migration may extend it); it gets its row at the end.
		if _, err := tx.ExecContext(ctx, m.versionTableSQL(nt.Schema)); err != nil {
			return createStep(ctx, nt, "create version table", err)
		}
		// search_path is the new schema: the connection is pinned to it, and it was
		// set before BEGIN (PostgreSQL resolves it again once the schema exists).
		for i := range m.tenantSet.files {
			f := &m.tenantSet.files[i]
			q := f.upTx.inTx
			if strings.TrimSpace(q) == "" {
				continue
			}
			if line, err := execScript(ctx, tx, q, citus); err != nil {
				return createStep(ctx, nt, "migrate", &MigrationError{
					Op: "create", Schema: nt.Schema, Version: f.version, Line: line, Err: ctxErr(ctx, err)})
			}
		}
		if err := m.pinFunctions(ctx, tx, subject{set: m.tenantSet, schema: nt.Schema}); err != nil {
			return createStep(ctx, nt, "migrate", err)
		}
		if _, err := execScript(ctx, tx, m.setVersionSQL(nt.Schema, int(m.tenantSet.head())), citus); err != nil {
			return createStep(ctx, nt, "record version", err)
		}
		return nil
	})
}

// createWith creates the tenant in one transaction on one connection pinned to
// its schema: it registers it, creates the schema, runs fill (which returns a
// createStep error; citus tells it that the database is a Citus coordinator, on
// which the schema is distributed and the transaction in sequential mode) and
// commits.
//
// It waits for room in the lock budget first (see createGate): a creation
// holds a lock on every object it creates until it commits.
func (m *Migrator) createWith(ctx context.Context, nt NewTenant, fill func(tx *sql.Tx, citus bool) error) (t Tenant, err error) {
	w, err := m.gate.acquire(ctx, m)
	if err != nil {
		return Tenant{}, createStep(ctx, nt, "wait for lock budget", err)
	}
	defer m.gate.release(w)
	mc := &migConn{}
	conn, err := mc.pin(ctx, m.db, nt.Schema)
	if err != nil {
		return Tenant{}, createStep(ctx, nt, "connect", err)
	}
	// Closing the connection also ends a transaction a cancellation left open; a
	// connection that served a successful creation goes back to the pool.
	defer func() {
		if err == nil {
			mc.recycle(ctx)
		} else {
			mc.close(ctx)
		}
	}()
	citus, err := m.onCitus(ctx, conn)
	if err != nil {
		return Tenant{}, createStep(ctx, nt, "connect", err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return Tenant{}, createStep(ctx, nt, "begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if citus {
		if _, err := tx.ExecContext(ctx, shardingSQL(true, true)); err != nil {
			return Tenant{}, createStep(ctx, nt, "begin", err)
		}
	}
	t, err = m.insertTenant(ctx, tx, nt)
	if err != nil {
		return Tenant{}, createStep(ctx, nt, "register", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE SCHEMA `+pq.QuoteIdentifier(nt.Schema)); err != nil {
		return Tenant{}, createStep(ctx, nt, "create schema", schemaExists(err))
	}
	if err := fill(tx, citus); err != nil {
		return Tenant{}, err
	}
	if !m.gate.measured() {
		n, err := countLocks(ctx, tx)
		if err != nil {
			return Tenant{}, createStep(ctx, nt, "count locks", err)
		}
		m.gate.observe(n)
	}
	if err := tx.Commit(); err != nil {
		return Tenant{}, createStep(ctx, nt, "commit", err)
	}
	return t, nil
}

// versionTableSQL creates schema's version table exactly as golang-migrate's
// postgres driver does.
func (m *Migrator) versionTableSQL(schema string) string {
	return `CREATE TABLE IF NOT EXISTS ` + m.versionTable(schema) + ` (version bigint not null primary key, dirty boolean not null)`
}

// versionTable is schema's version table, quoted.
func (m *Migrator) versionTable(schema string) string {
	return pq.QuoteIdentifier(schema) + "." + pq.QuoteIdentifier(m.cfg.table)
}

// setVersionSQL records version (-1: none), clean, as golang-migrate's postgres
// driver's SetVersion does, but without a transaction of its own (so that it can
// join the migration's) and with DELETE instead of TRUNCATE: the same for a
// one-row table, without the exclusive lock that would block status readers
// for the whole migration, and without a new file per migration.
func (m *Migrator) setVersionSQL(schema string, version int) string {
	t := m.versionTable(schema)
	if version < 0 {
		return `DELETE FROM ` + t
	}
	return fmt.Sprintf(`DELETE FROM %s; INSERT INTO %s (version, dirty) VALUES (%d, false)`, t, t, version)
}

// rowQuerier is a *sql.Tx or a *Tx.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// insertTenant inserts nt's registry row and returns it. A unique violation
// becomes a *ConflictError.
func (m *Migrator) insertTenant(ctx context.Context, q rowQuerier, nt NewTenant) (Tenant, error) {
	var host any
	if nt.Host != "" {
		host = nt.Host
	}
	var t Tenant
	err := q.QueryRowContext(ctx, `INSERT INTO `+m.reg.Table()+` (name, schema, host) VALUES ($1, $2, $3) RETURNING `+m.reg.cols,
		nt.Name, nt.Schema, host).Scan(&t.ID, &t.Name, &t.Schema, &t.Host, &t.Shard, &t.CreatedAt)
	if err != nil {
		return Tenant{}, conflict(err, nt)
	}
	return t, nil
}

// conflict turns a unique violation on the registry into a *ConflictError naming
// the field, which it takes from the server's detail ("Key (host)=(...) already
// exists.") or else from the constraint's name.
func conflict(err error, nt NewTenant) error {
	pe, ok := AsServerError(err)
	if !ok || pe.Code != "23505" {
		return err
	}
	where := pe.Constraint
	if i := strings.Index(pe.Detail, "Key ("); i >= 0 {
		if j := strings.Index(pe.Detail[i:], ")="); j >= 0 {
			where = pe.Detail[i+len("Key (") : i+j]
		}
	}
	switch {
	case strings.Contains(where, "schema"):
		return &ConflictError{Field: "schema", Value: nt.Schema}
	case strings.Contains(where, "host"):
		return &ConflictError{Field: "host", Value: nt.Host}
	case strings.Contains(where, "name"):
		return &ConflictError{Field: "name", Value: nt.Name}
	}
	return &ConflictError{}
}

// schemaExists turns "schema already exists" into ErrSchemaExists.
func schemaExists(err error) error {
	if serverCode(err) == "42P06" { // duplicate_schema
		return ErrSchemaExists
	}
	return err
}

// needsOwnTransaction reports whether err says a statement cannot run inside a
// transaction block (CREATE INDEX CONCURRENTLY and the like).
func needsOwnTransaction(err error) bool {
	return serverCode(err) == "25001" // active_sql_transaction
}

// adoptOrCreate implements AdoptExisting.
func (m *Migrator) adoptOrCreate(ctx context.Context, nt NewTenant) (Tenant, error) {
	var exists bool
	err := m.db.Shared().QueryRowxContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)`, nt.Schema).Scan(&exists)
	switch {
	case err != nil:
		return Tenant{}, createStep(ctx, nt, "connect", err)
	case exists:
		return m.createStaged(ctx, nt, true)
	case m.tenantSet.staged != nil:
		return m.createStaged(ctx, nt, false)
	}
	t, err := m.createInTx(ctx, nt)
	if err != nil && needsOwnTransaction(err) {
		t, err = m.createStaged(ctx, nt, false)
	}
	return t, err
}

// createStaged creates (or, with adopt, takes over) the schema, migrates it with
// golang-migrate, and registers the tenant last, so that the tenant is never
// visible before its schema is complete. A schema it created is dropped again if
// a later step fails.
func (m *Migrator) createStaged(ctx context.Context, nt NewTenant, adopt bool) (t Tenant, err error) {
	op := "create"
	if adopt {
		op = "adopt"
	}
	sh := m.db.Shared()
	// Fail early, before any DDL, on a duplicate; the INSERT below is what decides.
	var field string
	var host any
	if nt.Host != "" {
		host = nt.Host
	}
	err = sh.QueryRowxContext(ctx, `SELECT CASE WHEN schema = $2 THEN 'schema' WHEN name = $1 THEN 'name' ELSE 'host' END FROM `+
		m.reg.Table()+` WHERE name = $1 OR schema = $2 OR host = $3 LIMIT 1`, nt.Name, nt.Schema, host).Scan(&field)
	switch {
	case err == nil:
		value := map[string]string{"name": nt.Name, "schema": nt.Schema, "host": nt.Host}[field]
		return Tenant{}, createStep(ctx, nt, "register", &ConflictError{Field: field, Value: value})
	case !errors.Is(err, sql.ErrNoRows):
		return Tenant{}, createStep(ctx, nt, "register", err)
	}
	if !adopt {
		if err := createSchemaTx(ctx, sh, nt.Schema); err != nil {
			return Tenant{}, createStep(ctx, nt, "create schema", schemaExists(err))
		}
		defer func() {
			if err == nil {
				return
			}
			// Undo with a context of its own: ctx may be what failed.
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if _, uerr := sh.ExecContext(uctx, `DROP SCHEMA IF EXISTS `+pq.QuoteIdentifier(nt.Schema)+` CASCADE`); uerr != nil {
				err = errors.Join(err, &TenantError{Op: "create", Key: nt.Schema, Err: fmt.Errorf("undo: drop schema: %w", uerr)})
			}
		}()
	}
	subj := subject{set: m.tenantSet, schema: nt.Schema}
	if _, err := m.runUp(ctx, op, subj, m.tenantSet.head(), false, nil); err != nil {
		return Tenant{}, createStep(ctx, nt, "migrate", err)
	}
	tx, err := sh.BeginTxx(ctx, nil)
	if err != nil {
		return Tenant{}, createStep(ctx, nt, "register", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if t, err = m.insertTenant(ctx, tx, nt); err != nil {
		return Tenant{}, createStep(ctx, nt, "register", err)
	}
	if err = tx.Commit(); err != nil {
		return Tenant{}, createStep(ctx, nt, "commit", err)
	}
	return t, nil
}

// createSchemaTx creates a tenant's schema in a transaction of its own, as a
// distributed schema on Citus.
func createSchemaTx(ctx context.Context, sh *DB, schema string) error {
	tx, err := sh.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, shardingSQL(true, false)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE SCHEMA `+pq.QuoteIdentifier(schema)); err != nil {
		return err
	}
	return tx.Commit()
}

// DropTenant deletes a registered tenant: in one transaction it deletes the
// tenant's registry row (rows of shared tables that reference it with ON DELETE
// CASCADE go with it) and drops its schema with everything in it. Only the schema
// recorded in the registry row is dropped: a schema that is not a registered
// tenant's is never touched. The registry cache is invalidated for the tenant.
//
// The transaction first waits for the tenant's migration lock (a migration of the
// tenant running elsewhere finishes first), and it and the DROP wait at most the
// lock timeout ([WithLockTimeout]) for locks, so that a tenant table held by a long
// query does not queue everyone else behind the DROP; it then fails with
// [ErrLocked] and drops nothing.
//
// Errors, in a *[TenantError]: [ErrInvalidSchemaName] (this includes the shared
// schema); [ErrUnknownTenant] when no registered tenant has this schema (nothing is
// dropped); [ErrSchemaHasExtension] when an extension lives in the schema
// (nothing is dropped); [ErrLocked]; the context's or the database's error (nothing is
// dropped).
func (m *Migrator) DropTenant(ctx context.Context, schema string) error {
	fail := func(err error) error { return &TenantError{Op: "drop", Key: schema, Err: err} }
	if err := m.db.ValidateSchemaName(schema); err != nil {
		return fail(err)
	}
	ctx = unscoped(ctx)
	t, err := m.reg.load(ctx, SchemaKey(schema))
	switch {
	case errors.Is(err, ErrUnknownTenant):
		return fail(ErrUnknownTenant)
	case err != nil:
		return fail(unavailable(ctx, err))
	}
	defer m.reg.Invalidate(*t)
	tx, err := m.db.Shared().BeginTxx(ctx, nil)
	if err != nil {
		return fail(ctxErr(ctx, err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := m.dropInTx(ctx, tx, t); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(ctxErr(ctx, err))
	}
	if l := m.cfg.logger; l != nil {
		l.InfoContext(ctx, "tenancy: tenant dropped", "tenant", *t)
	}
	return nil
}

func (m *Migrator) dropInTx(ctx context.Context, tx *Tx, t *Tenant) error {
	var dbName string
	if err := tx.QueryRowContext(ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		return ctxErr(ctx, err)
	}
	id, err := migrateLockID(dbName, t.Schema, m.cfg.table)
	if err != nil {
		return err
	}
	ms := m.cfg.lockTimeout.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`SET LOCAL lock_timeout = %d`, ms)); err != nil {
		return ctxErr(ctx, err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, id); err != nil {
		return lockTimedOut(ctx, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM `+m.reg.Table()+` WHERE id = $1 AND schema = $2`, t.ID, t.Schema)
	if err != nil {
		return lockTimedOut(ctx, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrUnknownTenant // deleted meanwhile
	}
	// DROP SCHEMA ... CASCADE would drop an extension created in the schema
	// (by a tenant migration that ran CREATE EXTENSION), which other tenants or
	// the shared schema may use.
	var exts sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT string_agg(e.extname, ', ' ORDER BY e.extname) FROM pg_catalog.pg_extension e
		JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE n.nspname = $1`, t.Schema).Scan(&exts); err != nil {
		return ctxErr(ctx, err)
	}
	if exts.Valid {
		return fmt.Errorf("%w: %s (move it first: ALTER EXTENSION ... SET SCHEMA)", ErrSchemaHasExtension, exts.String)
	}
	if _, err := tx.ExecContext(ctx, `DROP SCHEMA IF EXISTS `+pq.QuoteIdentifier(t.Schema)+` CASCADE`); err != nil {
		return lockTimedOut(ctx, err)
	}
	return nil
}

// lockTimedOut turns PostgreSQL's lock_timeout error into ErrLocked.
func lockTimedOut(ctx context.Context, err error) error {
	if serverCode(err) == "55P03" { // lock_not_available
		return fmt.Errorf("%w: %w", ErrLocked, err)
	}
	return ctxErr(ctx, err)
}
