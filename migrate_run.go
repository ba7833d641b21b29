package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/lib/pq"
)

// This file runs golang-migrate against one schema. A run:
//
//  1. pins a connection to the schema (DB.pin): statements without a scope in
//     their context, which is all golang-migrate sends, run with search_path set to
//     the schema alone;
//  2. takes golang-migrate's own advisory lock for (database, schema, version
//     table) itself, with the caller's context and the lock timeout, so the wait is
//     cancellable and bounded (the driver's Lock waits forever, uncancellably);
//     PostgreSQL advisory locks are re-entrant per session, so the driver's own
//     Lock calls then return at once, and a plain golang-migrate CLI run against
//     the same schema waits for ours and ours for it;
//  3. builds the postgres driver with postgres.WithConnection and a fresh Config
//     naming the schema and table, so the version table lands in the schema and
//     never in public (WithInstance is never used: its Close closes the *sql.DB);
//  4. wraps that driver (runner below) so that each migration's SQL runs with the
//     caller's context: cancelling it cancels the statement on the server (the
//     database/sql driver sends a cancel request), and no new migration starts
//     after cancellation (the context is also wired to GracefulStop);
//  5. hands golang-migrate the planned migrations (Migrate.Run), which marks each
//     dirty, runs it and marks it clean, exactly as Up would;
//  6. releases the connection. A connection is never returned to the pool: it is
//     closed, which ends the session and with it every lock and setting, whatever
//     happened (a cancelled run included). Only a fleet worker keeps its connection
//     for its next tenant, and only after a run that succeeded and a DISCARD ALL
//     that succeeded (which also releases the advisory locks); a new backend costs
//     tens of milliseconds, most of a small migration's time.

// unscoped returns ctx without any tenant scope, so that statements made with it
// on a pinned connection run in the pinned schema, whatever tenant the caller's
// context carries.
func unscoped(ctx context.Context) context.Context {
	return context.WithValue(ctx, scopeKey, (*scope)(nil))
}

// subject is what a run migrates: a schema and the set that applies to it.
type subject struct {
	set      *migrationSet
	schema   string
	tenantID int64
}

// runner is one run on one pinned connection. It implements golang-migrate's
// database.Driver around the postgres driver.
type runner struct {
	m    *Migrator
	op   string
	subj subject
	ctx  context.Context // the caller's, unscoped
	conn *sql.Conn
	pg   *postgres.Postgres

	steps   []step
	done    int       // steps completed (marked clean)
	version int       // the version last read or written; -1 = none
	dirty   bool      // its dirty flag
	began   time.Time // when the current step's SQL started
	runErr  error     // the error of the last Run, already translated
	// recorded reports that the current (transactional) step's Run already
	// recorded its version, in its own transaction.
	recorded bool
	// citus: the database is a Citus coordinator (see citus.go).
	citus bool
}

var _ database.Driver = (*runner)(nil)

// migConn holds the pinned connection of one run, or of a fleet worker's
// successive runs. The zero value holds none. It is used by one goroutine.
type migConn struct {
	conn    *sql.Conn
	release func() // DB.pin's: closes the physical connection
}

// pin returns a connection pinned to schema: the one held, re-pinned, or a new
// one.
func (mc *migConn) pin(ctx context.Context, db *DB, schema string) (*sql.Conn, error) {
	ctx = unscoped(ctx)
	if mc.conn != nil {
		if err := repin(mc.conn, schema); err == nil {
			return mc.conn, nil
		}
		mc.close(ctx)
	}
	conn, release, err := db.pin(ctx, schema)
	if err != nil {
		return nil, err
	}
	mc.conn, mc.release = conn, release
	return conn, nil
}

// keep readies the held connection for another run after one that succeeded:
// DISCARD ALL drops the session's advisory locks, settings, temporary tables and
// prepared statements. If that fails, the connection is closed instead.
func (mc *migConn) keep(ctx context.Context) {
	if mc.conn == nil {
		return
	}
	kctx, cancel := context.WithTimeout(context.WithoutCancel(unscoped(ctx)), 5*time.Second)
	defer cancel()
	if _, err := mc.conn.ExecContext(kctx, `DISCARD ALL`); err != nil {
		mc.close(ctx)
	}
}

// recycle returns the held connection to the pool after work that succeeded and
// took no session-level lock (CreateTenant's transaction): DISCARD ALL resets
// whatever a migration may have set on the session, and the pin is removed. If
// either fails, the connection is closed instead. A warm connection saves a new
// backend's start-up, which is a good part of a tenant's creation.
func (mc *migConn) recycle(ctx context.Context) {
	if mc.conn == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(unscoped(ctx)), 5*time.Second)
	defer cancel()
	_, err := mc.conn.ExecContext(rctx, `DISCARD ALL`)
	if err == nil {
		err = unpin(mc.conn)
	}
	if err != nil {
		mc.close(ctx)
		return
	}
	_ = mc.conn.Close() // back to the pool
	mc.conn, mc.release = nil, nil
}

// close closes the held connection. Before that it releases the session's
// advisory locks explicitly: the server notices a closed connection a moment
// later, and whoever waits for a lock should not wait for that. After a cancelled
// statement the connection is unusable and that step fails at once; closing it is
// then what frees the locks.
func (mc *migConn) close(ctx context.Context) {
	if mc.conn == nil {
		return
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(unscoped(ctx)), 5*time.Second)
	defer cancel()
	_, _ = mc.conn.ExecContext(uctx, `SELECT pg_advisory_unlock_all()`)
	mc.release()
	mc.conn, mc.release = nil, nil
}

// open pins mc's connection to subj.schema, creates the schema if create is set
// and it does not exist, takes the schema's migration lock and builds the driver.
// After the run, the caller calls mc.close, or mc.keep if the run succeeded and
// the connection is to serve another.
func (m *Migrator) open(ctx context.Context, op string, subj subject, create bool, mc *migConn) (*runner, error) {
	ctx = unscoped(ctx)
	fail := func(err error) error {
		return &MigrationError{Op: op, Schema: subj.schema, TenantID: subj.tenantID, Err: err}
	}
	conn, err := mc.pin(ctx, m.db, subj.schema)
	if err != nil {
		return nil, fail(fmt.Errorf("connect: %w", ctxErr(ctx, err)))
	}
	dbName, exists, err := m.probe(ctx, conn, subj.schema)
	if err != nil {
		return nil, fail(err)
	}
	citus, err := m.onCitus(ctx, conn)
	if err != nil {
		return nil, fail(err)
	}
	if !exists && create {
		if err := m.createSchema(ctx, conn, subj.schema, subj.set != m.sharedSet); err != nil {
			return nil, fail(err)
		}
	}
	if err := m.lockSchema(ctx, conn, dbName, subj.schema); err != nil {
		return nil, fail(err)
	}
	pg, err := postgres.WithConnection(ctx, conn, &postgres.Config{
		DatabaseName:    dbName,
		SchemaName:      subj.schema,
		MigrationsTable: m.cfg.table,
	})
	if err != nil {
		// (A cancellation racing a statement that succeeded leaves lib/pq's
		// connection closed; the driver's next statement reports a bad
		// connection. What the caller needs to hear is the cancellation.)
		return nil, fail(translateMigrateErr(ctxErr(ctx, err)))
	}
	return &runner{m: m, op: op, subj: subj, ctx: ctx, conn: conn, pg: pg, version: database.NilVersion, citus: citus}, nil
}

// probe returns the database's name and whether schema exists, in one query.
func (m *Migrator) probe(ctx context.Context, conn *sql.Conn, schema string) (string, bool, error) {
	var name string
	var exists bool
	err := conn.QueryRowContext(ctx,
		`SELECT current_database(), EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)`,
		schema).Scan(&name, &exists)
	if err != nil {
		return "", false, fmt.Errorf("connect: %w", ctxErr(ctx, err))
	}
	return name, exists, nil
}

// Advisory locks of this package use PostgreSQL's two-int4 key space: the class
// is this constant (int32 of the CRC-32 of "tenancy"), the object id depends on
// the purpose. golang-migrate's locks use the one-bigint space, so they can never
// collide with these.
const lockClass int32 = 1571486515

// lockObject derives an object id for the two-int4 advisory lock space.
func lockObject(purpose string, names ...string) int32 {
	return int32(crc32.ChecksumIEEE([]byte(purpose + "\x00" + strings.Join(names, "\x00"))))
}

// createSchema creates schema under an advisory transaction lock, so that
// concurrent callers (many replicas starting at once) do not race: CREATE SCHEMA IF
// NOT EXISTS alone can still fail with a unique violation when two run together.
// The caller checked that the schema did not exist: CREATE SCHEMA needs the CREATE
// privilege on the database even when the schema exists. On Citus the schema is
// created distributed (a tenant's) or coordinator-local (the shared one).
func (m *Migrator) createSchema(ctx context.Context, conn *sql.Conn, schema string, distribute bool) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create schema: %w", ctxErr(ctx, err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`,
		lockClass, lockObject("create schema", schema)); err != nil {
		return fmt.Errorf("create schema: %w", ctxErr(ctx, err))
	}
	if _, err := tx.ExecContext(ctx, shardingSQL(distribute, false)); err != nil {
		return fmt.Errorf("create schema: %w", ctxErr(ctx, err))
	}
	if _, err := tx.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+pq.QuoteIdentifier(schema)); err != nil {
		return fmt.Errorf("create schema: %w", ctxErr(ctx, err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create schema: %w", ctxErr(ctx, err))
	}
	return nil
}

// lockSchema takes golang-migrate's advisory lock of the schema's version table on
// the pinned session, waiting at most the lock timeout and no longer than ctx
// allows. It is held until the session ends or is reset (migConn.close, keep).
func (m *Migrator) lockSchema(ctx context.Context, conn *sql.Conn, dbName, schema string) error {
	id, err := migrateLockID(dbName, schema, m.cfg.table)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, m.cfg.lockTimeout)
	defer cancel()
	if _, err := conn.ExecContext(lctx, `SELECT pg_advisory_lock($1)`, id); err != nil {
		if ctx.Err() == nil && lctx.Err() != nil {
			return fmt.Errorf("%w (waited %v)", ErrLocked, m.cfg.lockTimeout)
		}
		return fmt.Errorf("lock: %w", ctxErr(ctx, err))
	}
	return nil
}

// migrateLockID is the key golang-migrate's postgres driver locks for a version
// table.
func migrateLockID(dbName, schema, table string) (int64, error) {
	s, err := database.GenerateAdvisoryLockId(dbName, schema, table)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}

// ctxErr prefers the context's error to the driver's report of the cancellation.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// readVersion returns the schema's version and dirty flag under the lock.
func (r *runner) readVersion() error {
	v, dirty, err := r.pg.Version()
	if err != nil {
		return r.fail(0, translateMigrateErr(ctxErr(r.ctx, err)))
	}
	r.version, r.dirty = v, dirty
	if dirty {
		return &MigrationError{Op: r.op, Schema: r.subj.schema, TenantID: r.subj.tenantID,
			Version: clampVersion(v), Dirty: true, Err: ErrDirty}
	}
	return nil
}

func (r *runner) fail(version uint, err error) *MigrationError {
	return &MigrationError{Op: r.op, Schema: r.subj.schema, TenantID: r.subj.tenantID, Version: version, Err: err}
}

// clampVersion maps golang-migrate's NilVersion (-1) to 0.
func clampVersion(v int) uint {
	if v < 0 {
		return 0
	}
	return uint(v)
}

// errRunOver closes the bodies of migrations golang-migrate did not get to.
var errRunOver = errors.New("tenancy: migration run is over")

// run runs steps through golang-migrate. On return r.done, r.version and r.dirty
// say how far it got.
func (r *runner) run(steps []step) error {
	r.steps = steps
	mg, err := migrate.NewWithInstance("iofs", r.subj.set.src, "postgres", r)
	if err != nil {
		return r.fail(0, err)
	}
	mg.LockTimeout = r.m.cfg.lockTimeout
	// Prefetch everything: golang-migrate's reader then never blocks on a channel
	// nobody reads when the run stops early.
	mg.PrefetchMigrations = uint(len(steps))
	migrs := make([]*migrate.Migration, len(steps))
	for i, st := range steps {
		migrs[i], err = migrate.NewMigration(io.NopCloser(strings.NewReader(st.sql())), st.file.name, st.file.version, st.target)
		if err != nil {
			return r.fail(st.file.version, err)
		}
	}
	stop := context.AfterFunc(r.ctx, func() {
		select {
		case mg.GracefulStop <- true:
		default:
		}
	})
	err = mg.Run(migrs...)
	stop()
	// golang-migrate buffers each body through a pipe in a goroutine of its own;
	// the bodies it did not read would block those goroutines forever.
	for _, mi := range migrs {
		if pr, ok := mi.BufferedBody.(*io.PipeReader); ok {
			_ = pr.CloseWithError(errRunOver)
		}
	}
	switch {
	case err != nil && r.runErr != nil:
		return r.runErr
	case err != nil:
		// A failure around a step (marking it, or golang-migrate itself). If the
		// step was marked dirty, it is the one in doubt.
		var version uint
		if r.dirty && r.done < len(steps) {
			version = steps[r.done].file.version
		}
		e := r.fail(version, translateMigrateErr(ctxErr(r.ctx, err)))
		e.Dirty = r.dirty
		return e
	case r.done < len(steps):
		// GracefulStop: stopped cleanly between two migrations.
		return r.fail(0, ctxErr(r.ctx, errors.New("stopped before all migrations ran")))
	}
	return nil
}

// Open is part of database.Driver; a runner is never opened by URL.
func (r *runner) Open(string) (database.Driver, error) {
	return nil, errors.New("tenancy: runner cannot be opened by URL")
}

// Close does nothing: the connection belongs to the run, which discards it.
func (r *runner) Close() error { return nil }

// Lock takes golang-migrate's lock, which this session already holds (see open):
// it returns at once.
func (r *runner) Lock() error { return r.pg.Lock() }

// Unlock releases one level of the re-entrant lock. Its error is dropped: the
// session (and with it every lock it holds) ends when the run discards the
// connection, and after a cancelled statement the connection is unusable anyway.
func (r *runner) Unlock() error {
	_ = r.pg.Unlock()
	return nil
}

// Run runs one migration's SQL with the caller's context, as the postgres
// driver would: one simple query, which PostgreSQL runs as one implicit
// transaction unless it contains its own transaction statements.
//
// A transactional step (see step.transactional) also records its version in
// that query, after the file's SQL: the migration and its version commit
// together or not at all, so that a failure or a cancellation leaves the schema
// clean at the previous version instead of dirty (goose's way). SetVersion has
// then skipped the dirty mark before, and skips the clean one after.
func (r *runner) Run(body io.Reader) error {
	st := r.steps[r.done]
	b, err := io.ReadAll(body)
	if err != nil {
		r.runErr = r.fail(st.file.version, err)
		return r.runErr
	}
	q := string(b)
	tx := st.transactional()
	if strings.TrimSpace(q) == "" && !tx {
		return nil
	}
	var line int
	if r.citus {
		line, err = r.runCitus(q, tx, st.target)
	} else {
		send := q
		if tx {
			// The newline ends a trailing -- comment; the semicolon a last statement
			// written without one.
			send = q + "\n;\n" + r.m.setVersionSQL(r.subj.schema, st.target)
		}
		if _, err = r.conn.ExecContext(r.ctx, send); err != nil {
			line = errorLine(q, err)
		}
	}
	if err != nil {
		e := r.fail(st.file.version, ctxErr(r.ctx, err))
		e.Line = line
		// golang-migrate marked a non-transactional step dirty before Run, and
		// leaves it so. A transactional one was rolled back as a whole when the
		// server reported the error; had the connection broken instead, the step
		// committed with its version or not at all, and the version table says
		// which: the schema is consistent either way, never dirty.
		e.Dirty = !tx
		r.runErr = e
		return e
	}
	r.recorded = tx
	return nil
}

// runCitus runs a migration's SQL on Citus one statement at a time (see
// citus.go): a transactional one in a transaction opened for it, in sequential
// multi-shard mode, with its version recorded before the commit. It returns the
// failing line of q with the error.
func (r *runner) runCitus(q string, transactional bool, version int) (int, error) {
	if !transactional {
		return execScript(r.ctx, r.conn, q, true)
	}
	tx, err := r.conn.BeginTx(r.ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(r.ctx, sequentialSQL); err != nil {
		return 0, err
	}
	if line, err := execScript(r.ctx, tx, q, true); err != nil {
		return line, err
	}
	if _, err := execScript(r.ctx, tx, r.m.setVersionSQL(r.subj.schema, version), true); err != nil {
		return 0, err
	}
	return 0, tx.Commit()
}

// SetVersion records the version. A migration does not start (is not marked
// dirty) once the caller's context is done. For a transactional step the dirty
// mark is not written (its Run records the version in the migration's own
// transaction), nor is the clean one its Run already wrote.
func (r *runner) SetVersion(version int, dirty bool) error {
	tx := r.done < len(r.steps) && r.steps[r.done].target == version && r.steps[r.done].transactional()
	if dirty {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		r.began = time.Now()
		r.recorded = false
		if tx {
			return nil
		}
	}
	if !tx || dirty || !r.recorded {
		if err := r.pg.SetVersion(version, dirty); err != nil {
			return err
		}
	}
	r.recorded = false
	r.version, r.dirty = version, dirty
	if !dirty && r.done < len(r.steps) && r.steps[r.done].target == version {
		st := r.steps[r.done]
		r.done++
		if l := r.m.cfg.logger; l != nil {
			msg := "tenancy: migration applied"
			if st.down {
				msg = "tenancy: migration reverted"
			}
			l.LogAttrs(r.ctx, slog.LevelInfo, msg,
				slog.String("schema", r.subj.schema), slog.Uint64("version", uint64(st.file.version)),
				slog.String("name", st.file.name), slog.Duration("duration", time.Since(r.began)))
		}
	}
	return nil
}

// Version reads the version table.
func (r *runner) Version() (int, bool, error) { return r.pg.Version() }

// Drop is refused: the migrator never drops a schema's tables this way.
func (r *runner) Drop() error { return errors.New("tenancy: Drop is not supported") }

// applied returns the versions the run applied or reverted, in order.
func (r *runner) applied() []uint {
	if r.done == 0 {
		return nil
	}
	vs := make([]uint, r.done)
	for i := range vs {
		vs[i] = r.steps[i].file.version
	}
	return vs
}

// errorLine returns the line of query at which the server located err: from
// the error's position, or, without one, the line of the query's only statement.
// It returns 0 when it cannot tell (a position past query, which is then a
// statement appended to it).
func errorLine(query string, err error) int {
	pe, ok := AsServerError(err)
	if !ok {
		return 0
	}
	if pe.Position == 0 {
		if sts := splitStatements(query); len(sts) == 1 {
			return sts[0].Line
		}
		return 0
	}
	pos := pe.Position
	if pos < 1 {
		return 0
	}
	// The position counts characters, not bytes, from 1.
	line, n := 1, 0
	for _, c := range query {
		n++
		if n >= pos {
			return line
		}
		if c == '\n' {
			line++
		}
	}
	if n+1 >= pos {
		return line // at the very end
	}
	return 0
}
