package tenancy

import (
	"errors"
	"fmt"

	"github.com/go-tenancy/tenancy/internal/session"
)

// Mode says how a [DB] puts each statement in its tenant's schema.
type Mode int

const (
	// SessionMode, the default, sets search_path in front of every statement (in the
	// same message when the driver allows it: see the package documentation for the
	// round trips) and clears a pooled session before it runs a statement of a tenant
	// other than the one whose statements it last ran (cursors, temporary tables,
	// settings, role, SQL prepared statements). A tenant's own session state lasts
	// while consecutive statements of that tenant use the session. Use it with direct
	// connections or session-pooling proxies.
	SessionMode Mode = iota

	// TransactionMode keeps nothing on the session: every statement of a
	// transaction carries SET LOCAL search_path, every transaction starts by clearing
	// cursors, temporary tables and the role, and a statement outside a transaction
	// runs in a transaction of its own (in one message with its SET LOCAL for a
	// single data statement without arguments, else with BEGIN in front of it and a
	// COMMIT after it: one round trip more).
	// Statements cannot be prepared outside a transaction ([ErrPrepareOutsideTx]). Use
	// it behind PgBouncer in transaction pooling mode or RDS Proxy, where consecutive
	// transactions of one client connection may run on different server connections.
	TransactionMode
)

func (m Mode) String() string {
	switch m {
	case SessionMode:
		return "session"
	case TransactionMode:
		return "transaction"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// An Option configures a [DB]. Options are applied in order by [Open] and
// [OpenConnector], which reject invalid or conflicting ones.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// config is fixed once the DB is open; connections read it without locking.
type config struct {
	mode         Mode
	sharedSchema string
	extraSchema  []string
	affinity     bool
	// hooks are the DB-level hooks of WithHooks (SchemaSwitch, AffinityTrade,
	// Statement), or nil.
	hooks *Hooks
}

func defaultConfig() *config {
	return &config{mode: SessionMode, sharedSchema: DefaultSharedSchema}
}

// WithAffinity turns connection affinity on or off (the default). In
// [SessionMode], when database/sql hands out a connection whose session last ran
// another tenant's statements, and an idle connection of the pool has a session that
// belongs to the statement's tenant, the two exchange their physical connections (no
// round trip) instead of clearing the session for the new tenant (the reset's work
// on the server, and the tenant's own temporary tables and settings are kept).
// Only sessions already in use are traded: affinity never brings an unused
// connection into use, because spreading the load over more server processes
// measured slower than what it saves (BENCHMARKS.md).
//
// A physical connection only moves at the first statement after database/sql
// hands a connection out, and never while a transaction, a *sql.Conn's later
// statements or a prepared statement depend on it. One consequence: SetConnMaxLifetime and SetConnMaxIdleTime apply to
// database/sql's connections, and a physical connection can move from one to
// another, so it may live longer than the set lifetime. Turn affinity off if
// physical connections must be recycled on that schedule.
//
// It is off by default: on the benchmark machine (client and server on two shared
// cores, BENCHMARKS.md) it rarely found an idle session of the right tenant at low
// concurrency and did not raise throughput.
// [TransactionMode] keeps nothing on the session, so it has no affinity.
func WithAffinity(on bool) Option {
	return optionFunc(func(c *config) error {
		c.affinity = on
		return nil
	})
}

// WithMode selects how search_path is set: [SessionMode] (the default) or
// [TransactionMode].
func WithMode(m Mode) Option {
	return optionFunc(func(c *config) error {
		if m != SessionMode && m != TransactionMode {
			return fmt.Errorf("tenancy: WithMode: unknown mode %d", int(m))
		}
		c.mode = m
		return nil
	})
}

// WithSharedSchema names the schema that holds the tenant registry and other shared
// tables (default [DefaultSharedSchema], "shared"). It must pass the schema-name
// rules, and no tenant may use it.
func WithSharedSchema(name string) Option {
	return optionFunc(func(c *config) error {
		if err := validSharedSchemaName(name); err != nil {
			return fmt.Errorf("tenancy: WithSharedSchema: %w", err)
		}
		c.sharedSchema = name
		return nil
	})
}

// WithSearchPath appends schemas after the tenant schema in every tenant's
// search_path, so that tenant queries can use their tables (typically the shared
// schema) without qualifying them. By default the search_path holds the tenant
// schema alone, so that an unqualified name can never resolve outside it.
//
// Only list schemas whose table names cannot clash with tenant tables: when a
// tenant table is missing, PostgreSQL silently resolves the name in the next schema
// of the path. "public" is refused for that reason.
func WithSearchPath(schemas ...string) Option {
	return optionFunc(func(c *config) error {
		for _, s := range schemas {
			if err := validSharedSchemaName(s); err != nil {
				return fmt.Errorf("tenancy: WithSearchPath: %w", err)
			}
		}
		c.extraSchema = append([]string(nil), schemas...)
		return nil
	})
}

// isReserved reports whether no tenant may use schema: the shared schema or a
// WithSearchPath schema.
func (c *config) isReserved(schema string) bool {
	if schema == c.sharedSchema {
		return true
	}
	for _, s := range c.extraSchema {
		if s == schema {
			return true
		}
	}
	return false
}

// reserved returns the names no tenant may use as its schema.
func (c *config) reserved() []string {
	return append([]string{c.sharedSchema}, c.extraSchema...)
}

// setSQL returns the statement that puts a session (or, with local, the current
// transaction) on schema. schema has passed ValidateSchemaName, and is quoted on
// top of that.
func (c *config) setSQL(schema string, local bool) string {
	return session.SetPath(schema, c.extraSchema, local)
}

var errNilConnector = errors.New("tenancy: OpenConnector: nil connector")
