package tenancypgx

import (
	"fmt"

	"github.com/go-tenancy/tenancy"
)

// An Option configures a [Pool]. Options are applied in order by [New] and
// [NewWithConfig], which reject invalid ones and name the option in the error.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// config is fixed once the Pool is made; statements read it without locking.
type config struct {
	mode         tenancy.Mode
	sharedSchema string
	extra        []string
	stmtCap      int // statements cached per connection; 0: none
}

// DefaultStatementCacheCapacity is the number of statements a [Pool] keeps
// prepared per connection unless [WithStatementCache] says otherwise.
const DefaultStatementCacheCapacity = 256

func defaultConfig() *config {
	return &config{mode: tenancy.SessionMode, sharedSchema: tenancy.DefaultSharedSchema, stmtCap: DefaultStatementCacheCapacity}
}

// WithStatementCache sets how many statements the Pool keeps prepared per
// connection for the tenant the connection serves (default
// [DefaultStatementCacheCapacity]); 0 turns the cache off, so that every
// statement is parsed and planned each time, as in pgx's QueryExecModeExec.
// The cache is used in SessionMode only; see the package documentation,
// "Statement cache", for when it is used and what it keeps.
func WithStatementCache(capacity int) Option {
	return optionFunc(func(c *config) error {
		if capacity < 0 {
			return fmt.Errorf("tenancypgx: WithStatementCache: negative capacity %d", capacity)
		}
		c.stmtCap = capacity
		return nil
	})
}

// WithMode selects how each statement is put in its tenant's schema:
// [tenancy.SessionMode] (the default) or [tenancy.TransactionMode]. See the
// package documentation for what each sends.
func WithMode(m tenancy.Mode) Option {
	return optionFunc(func(c *config) error {
		if m != tenancy.SessionMode && m != tenancy.TransactionMode {
			return fmt.Errorf("tenancypgx: WithMode: unknown mode %d", int(m))
		}
		c.mode = m
		return nil
	})
}

// WithSharedSchema names the schema that [Pool.Shared] statements run in (default
// [tenancy.DefaultSharedSchema], "shared"). It must pass the schema-name rules
// ([tenancy.ValidateSchemaName]), and no tenant may use it.
func WithSharedSchema(name string) Option {
	return optionFunc(func(c *config) error {
		// The shared schema may not be reserved against itself, so no reserved list.
		if err := tenancy.ValidateSchemaName(name); err != nil {
			return fmt.Errorf("tenancypgx: WithSharedSchema: %w", err)
		}
		c.sharedSchema = name
		return nil
	})
}

// WithSearchPath appends schemas after the tenant schema in every tenant's
// search_path, like [tenancy.WithSearchPath]. By default (none) the search_path
// holds the tenant schema alone, so that an unqualified name can never resolve
// outside it. Only list schemas whose table names cannot clash with tenant
// tables: when a tenant table is missing, PostgreSQL silently resolves the name
// in the next schema of the path. No tenant may use a listed schema.
func WithSearchPath(schemas ...string) Option {
	return optionFunc(func(c *config) error {
		for _, s := range schemas {
			if err := tenancy.ValidateSchemaName(s); err != nil {
				return fmt.Errorf("tenancypgx: WithSearchPath: %w", err)
			}
		}
		c.extra = append([]string(nil), schemas...)
		return nil
	})
}

// reserved returns the names no tenant may use as its schema.
func (c *config) reserved() []string {
	return append([]string{c.sharedSchema}, c.extra...)
}
