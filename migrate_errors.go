package tenancy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
)

// Sentinel errors of the [Migrator]. Test for them with [errors.Is]; they arrive
// wrapped in a *[MigrationError] or a *[TenantError] that names the schema.
var (
	// ErrDirty means a schema's version table is marked dirty: a migration that
	// controls its own transactions (or cannot run in one) failed or was cancelled
	// part-way, and what it left behind is unknown. (Other migrations run as one
	// transaction with their version and never leave a schema dirty.) Every method
	// that would run migrations on the schema ([Migrator.Upgrade],
	// [Migrator.UpgradeTo], [Migrator.Downgrade], [Migrator.MigrateShared],
	// [Migrator.Plan], and [Migrator.UpgradeFleet] for that tenant) refuses it,
	// wrapped in a *[MigrationError] that gives the dirty version, and changes
	// nothing. The way out: inspect the schema, finish or undo the failed migration
	// by hand, then call [Migrator.Force] with the version the schema is really at.
	ErrDirty = errors.New("tenancy: schema is dirty (a migration failed part-way); repair it, then call Migrator.Force")

	// ErrLocked is returned (wrapped in a *[MigrationError]) when the migration lock
	// of a schema could not be taken within the lock timeout ([WithLockTimeout]):
	// another process is migrating that schema. Nothing was changed; try again.
	ErrLocked = errors.New("tenancy: schema is locked by another migration")

	// ErrSchemaExists is returned by [Migrator.CreateTenant] (wrapped in a
	// *[TenantError]) when the schema already exists but belongs to no registered
	// tenant. Nothing was changed. Pass [AdoptExisting] to register and migrate such
	// a schema instead.
	ErrSchemaExists = errors.New("tenancy: schema already exists")

	// ErrUnknownVersion is returned (wrapped in a *[MigrationError]) when a version
	// is not one of the migrations the [Migrator] was built with: a target passed to
	// [Migrator.UpgradeTo], [Migrator.Plan], [Migrator.Force] or
	// [FleetOptions].Target, or the version a schema is at (written by a newer or a
	// different set of migrations), below the newest known one, so that what to run
	// next cannot be known. Nothing was changed.
	ErrUnknownVersion = errors.New("tenancy: unknown migration version")

	// ErrIrreversible is returned (wrapped in a *[MigrationError]) by
	// [Migrator.Downgrade] and [Migrator.PlanDowngrade] when a migration to revert has
	// no down file. It is checked before anything runs: nothing was changed.
	ErrIrreversible = errors.New("tenancy: migration has no down migration")

	// ErrFleetStopped is the error of each tenant a stopped [Migrator.UpgradeFleet]
	// did not start ([FleetOptions].Drain, Canary, MaxFailures; see
	// [TenantResult].NotRun), and UpgradeFleet's error wraps it when the run was
	// stopped. Running UpgradeFleet again resumes.
	ErrFleetStopped = errors.New("tenancy: fleet upgrade stopped before this tenant")

	// ErrSchemaHasExtension is returned by [Migrator.DropTenant] (wrapped in a
	// *[TenantError]) when an extension lives in the tenant's schema (a tenant
	// migration ran CREATE EXTENSION): dropping the schema would drop the
	// extension, which others may use. Nothing was dropped.
	ErrSchemaHasExtension = errors.New("tenancy: an extension lives in the schema")
)

// MigrationError is an error about migrating one schema. It names the schema (and
// the tenant, if it is one), the operation, and the migration version involved; Err
// is the cause: one of the sentinels above or the database's error (a *pq.Error
// stays reachable with [errors.As]). The SQL of the failing migration is never part
// of the message.
type MigrationError struct {
	// Op is the operation: "upgrade", "downgrade", "force", "migrate shared",
	// "plan", "status", "create" (a tenant's initial migrations), "adopt".
	Op string
	// Schema is the schema being migrated.
	Schema string
	// TenantID is the tenant's registry id; 0 for the shared schema or when the
	// tenant is not registered (yet).
	TenantID int64
	// Version is the migration that failed, or the dirty version for [ErrDirty];
	// 0 if no particular migration is involved.
	Version uint
	// Line is the line of the migration file at which the failing statement's
	// error was reported, when the server gave a position; 0 otherwise.
	Line int
	// Dirty reports whether the schema's version table is marked dirty at Version
	// after this error: a non-transactional migration failed part-way (or, with
	// [ErrDirty], already had). Repair by hand and call [Migrator.Force]. It is
	// false after a transactional migration failed: the schema is clean at the
	// previous version.
	Dirty bool
	// Err is the cause.
	Err error
}

func (e *MigrationError) Error() string {
	var b strings.Builder
	// "schema first": "create schema" would read as the step that failed.
	fmt.Fprintf(&b, "tenancy: schema %q: %s", e.Schema, e.Op)
	if e.Version > 0 {
		fmt.Fprintf(&b, ": migration %d", e.Version)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("unknown error")
	}
	if e.Dirty && !errors.Is(e.Err, ErrDirty) {
		fmt.Fprintf(&b, " (schema left dirty at version %d: repair it, then call Migrator.Force)", e.Version)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *MigrationError) Unwrap() error { return e.Err }

// ConflictError reports which unique field of the tenant registry a new tenant
// would have duplicated. It unwraps to [ErrConflict]; [Migrator.CreateTenant]
// returns it inside a *[TenantError].
type ConflictError struct {
	// Field is the registry column: "name", "schema" or "host"; "" if the server
	// did not say.
	Field string
	// Value is the value that is taken.
	Value string
}

func (e *ConflictError) Error() string {
	if e.Field == "" {
		return ErrConflict.Error()
	}
	return fmt.Sprintf("%v: %s %q is taken", ErrConflict, e.Field, e.Value)
}

// Unwrap returns [ErrConflict].
func (e *ConflictError) Unwrap() error { return ErrConflict }

// FleetError is returned by [Migrator.UpgradeFleet] when some tenants failed while
// the rest of the run went through. The [FleetReport] returned with it has every
// tenant's result; Failed repeats the failures. [errors.Is] and [errors.As] look
// into every failure (so errors.Is(err, ErrDirty) reports whether any tenant was
// dirty).
type FleetError struct {
	// Failed holds the failed tenants' results, each with its Err set.
	Failed []TenantResult
	// Total is the number of tenants the run considered.
	Total int
	// NotRun is the number of tenants the run did not start, and Stopped why
	// (see [FleetReport].Stopped); "" if it ran to the end.
	NotRun  int
	Stopped string
}

func (e *FleetError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tenancy: fleet upgrade: %d of %d tenants failed", len(e.Failed), e.Total)
	const shown = 3
	for i, f := range e.Failed {
		if i == shown {
			fmt.Fprintf(&b, "; and %d more", len(e.Failed)-shown)
			break
		}
		sep := ": "
		if i > 0 {
			sep = "; "
		}
		fmt.Fprintf(&b, "%s%s: %v", sep, f.Schema, f.Err)
	}
	if e.NotRun > 0 {
		fmt.Fprintf(&b, "; stopped (%s), %d tenants not run", e.Stopped, e.NotRun)
	}
	return b.String()
}

// Unwrap returns every failed tenant's error, and [ErrFleetStopped] if the run
// was stopped (by Drain, Canary or MaxFailures) before every tenant ran.
func (e *FleetError) Unwrap() []error {
	errs := make([]error, len(e.Failed), len(e.Failed)+1)
	for i, f := range e.Failed {
		errs[i] = f.Err
	}
	if e.NotRun > 0 && e.Stopped != "cancelled" {
		errs = append(errs, ErrFleetStopped)
	}
	return errs
}

// translateMigrateErr turns what golang-migrate returns into this package's errors:
// its lock and dirty errors become the sentinels, and its database.Error, which has
// no Unwrap and whose message contains the whole query, becomes its description
// wrapping the driver's error (so that *pq.Error stays reachable).
func translateMigrateErr(err error) error {
	if err == nil {
		return nil
	}
	var dirty migrate.ErrDirty
	switch {
	case errors.Is(err, migrate.ErrLockTimeout), errors.Is(err, migrate.ErrLocked),
		errors.Is(err, database.ErrLocked):
		return ErrLocked
	case errors.As(err, &dirty):
		return ErrDirty
	}
	var pde *database.Error
	if errors.As(err, &pde) && pde != nil {
		return dbError(*pde)
	}
	var de database.Error
	if errors.As(err, &de) {
		return dbError(de)
	}
	return err
}

func dbError(e database.Error) error {
	switch {
	case e.OrigErr == nil && e.Err == "":
		return errors.New("database error")
	case e.OrigErr == nil:
		return errors.New(e.Err)
	case e.Err == "":
		return e.OrigErr
	}
	return fmt.Errorf("%s: %w", e.Err, e.OrigErr)
}
