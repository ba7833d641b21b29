package tenancy

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Migrator defaults.
const (
	// DefaultVersionTable is the name of the version table golang-migrate keeps in
	// each migrated schema, unless [WithVersionTable] names another.
	DefaultVersionTable = "schema_migrations"
	// DefaultLockTimeout is how long a migration waits for another process's
	// migration of the same schema to finish, unless [WithLockTimeout] says
	// otherwise (golang-migrate's own default).
	DefaultLockTimeout = 15 * time.Second
	// DefaultFleetConcurrency is how many tenants [Migrator.UpgradeFleet] migrates at
	// once, unless [WithFleetConcurrency] or [FleetOptions].Concurrency says otherwise.
	DefaultFleetConcurrency = 4
)

// A MigratorOption configures a [Migrator]. [NewMigrator] applies options in order
// and rejects invalid ones.
type MigratorOption interface {
	applyMigrator(*migratorConfig) error
}

type migratorConfig struct {
	table       string
	lockTimeout time.Duration
	concurrency int
	logger      *slog.Logger
	template    string // WithCloneTemplate; "" for none
	// safeFunctions: WithTenantSafeFunctions
	safeFunctions bool
	// referenceTables: WithReferenceTables
	referenceTables []string
}

type migratorOptionFunc func(*migratorConfig) error

func (f migratorOptionFunc) applyMigrator(c *migratorConfig) error { return f(c) }

// WithVersionTable names the table in which golang-migrate records each schema's
// version (default [DefaultVersionTable]). Every schema, the shared one and each
// tenant's, has its own table of that name. The name must pass the schema-name rules
// of [ValidateSchemaName] (lower case, at most 63 bytes).
//
// Changing it for an existing deployment makes every schema look unmigrated: the
// migrator would run all migrations again.
func WithVersionTable(name string) MigratorOption {
	return migratorOptionFunc(func(c *migratorConfig) error {
		if err := validSharedSchemaName(name); err != nil {
			return fmt.Errorf("tenancy: WithVersionTable: %w", err)
		}
		c.table = name
		return nil
	})
}

// WithLockTimeout bounds how long a migration waits for the migration lock of its
// schema, held while another process (or another call) migrates that schema
// (default [DefaultLockTimeout]). When it expires the call fails with [ErrLocked]
// and changes nothing. The caller's context still ends the wait earlier.
func WithLockTimeout(d time.Duration) MigratorOption {
	return migratorOptionFunc(func(c *migratorConfig) error {
		if d <= 0 {
			return fmt.Errorf("tenancy: WithLockTimeout: must be positive, got %v", d)
		}
		c.lockTimeout = d
		return nil
	})
}

// WithFleetConcurrency sets how many tenants [Migrator.UpgradeFleet] migrates at once
// when [FleetOptions].Concurrency is 0 (default [DefaultFleetConcurrency]). Each one
// holds a database connection of its own for the duration of its migrations.
func WithFleetConcurrency(n int) MigratorOption {
	return migratorOptionFunc(func(c *migratorConfig) error {
		if n < 1 {
			return fmt.Errorf("tenancy: WithFleetConcurrency: must be at least 1, got %d", n)
		}
		c.concurrency = n
		return nil
	})
}

// WithMigrationLogger makes the Migrator log what it changes: each migration applied or
// reverted (Info), each tenant created or dropped (Info), each tenant that fails in
// a fleet upgrade (Warn), and the fleet upgrade's summary (Info). By default it
// logs nothing; errors are always returned to the caller either way.
func WithMigrationLogger(l *slog.Logger) MigratorOption {
	return migratorOptionFunc(func(c *migratorConfig) error {
		if l == nil {
			return errors.New("tenancy: WithMigrationLogger: nil logger")
		}
		c.logger = l
		return nil
	})
}
