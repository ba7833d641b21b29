package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/lib/pq"
)

// Registry reads the tenant registry: the table (default "tenants") in the shared
// schema that maps each tenant's name, schema and host to its id. The library
// owns the table: [Migrator.MigrateShared] (or [Registry.CreateTable]) creates it
// before the application's shared migrations run.
//
// Lookups go through a cache sized for the middleware's hot path: a hit costs a read
// lock and no allocation; misses for one key are collapsed into one query; a
// "no such tenant" answer is cached briefly so that a flood of unknown names does
// not become a flood of queries. Tenant changes made through this process's
// [Migrator] invalidate it at once; changes made elsewhere are seen after the TTL
// (or call [Registry.Invalidate]).
//
// A Registry is safe for concurrent use.
type Registry struct {
	db         *DB      // a Shared handle
	table      string   // qualified and quoted
	schemaName string   // the shared schema, unquoted
	tableName  string   // the registry table, unquoted
	appTable   bool     // WithAppRegistryTable: MigrateShared does not create the table
	cols       string   // the SELECT list: the built-in columns, then columns
	columns    []string // the application's own columns (WithTenantColumns)
	lookupHook func(ctx context.Context, e LookupEvent)
	cache      *tenantCache
	timeout    time.Duration
}

// Registry defaults.
const (
	DefaultRegistryTable = "tenants"
	DefaultCacheTTL      = 30 * time.Second
	DefaultNegativeTTL   = 2 * time.Second
	DefaultCacheSize     = 100_000
	DefaultLookupTimeout = 5 * time.Second
)

// A RegistryOption configures a [Registry].
type RegistryOption interface {
	applyRegistry(*registryConfig) error
}

type registryConfig struct {
	table       string
	ttl, negTTL time.Duration
	size        int
	timeout     time.Duration
	appTable    bool
	columns     []string // WithTenantColumns
	hooks       *Hooks
}

type registryOptionFunc func(*registryConfig) error

func (f registryOptionFunc) applyRegistry(c *registryConfig) error { return f(c) }

// WithRegistryTable names the registry table in the shared schema (default
// [DefaultRegistryTable]).
func WithRegistryTable(name string) RegistryOption {
	return registryOptionFunc(func(c *registryConfig) error {
		if err := validSharedSchemaName(name); err != nil {
			return fmt.Errorf("tenancy: WithRegistryTable: %w", err)
		}
		c.table = name
		return nil
	})
}

// WithAppRegistryTable says that the application creates the registry table
// itself (in its own shared migrations, or by other means), so
// [Migrator.MigrateShared] does not create it with [Registry.CreateTable]. The
// default is that the library creates it, as golang-migrate creates its version
// table. The application's table must have at least the columns of
// [Registry.RegistryTableSQL].
func WithAppRegistryTable() RegistryOption {
	return registryOptionFunc(func(c *registryConfig) error {
		c.appTable = true
		return nil
	})
}

// WithCache sets how long a found tenant stays cached (ttl, default
// [DefaultCacheTTL]), how long a "no such tenant" answer does (negativeTTL, default
// [DefaultNegativeTTL]), and how many entries the cache holds at most (size, default
// [DefaultCacheSize]; the least recently used go first). A ttl of 0 disables caching.
func WithCache(ttl, negativeTTL time.Duration, size int) RegistryOption {
	return registryOptionFunc(func(c *registryConfig) error {
		if ttl < 0 || negativeTTL < 0 {
			return errors.New("tenancy: WithCache: negative TTL")
		}
		if size < 1 {
			return fmt.Errorf("tenancy: WithCache: size must be at least 1, got %d", size)
		}
		c.ttl, c.negTTL, c.size = ttl, negativeTTL, size
		return nil
	})
}

// WithLookupTimeout bounds each registry query made on a cache miss (default
// [DefaultLookupTimeout]). Callers still stop waiting when their own context ends.
func WithLookupTimeout(d time.Duration) RegistryOption {
	return registryOptionFunc(func(c *registryConfig) error {
		if d <= 0 {
			return fmt.Errorf("tenancy: WithLookupTimeout: must be positive, got %v", d)
		}
		c.timeout = d
		return nil
	})
}

// NewRegistry returns a Registry reading the registry table of db's shared schema.
func NewRegistry(db *DB, opts ...RegistryOption) (*Registry, error) {
	if db == nil {
		return nil, errors.New("tenancy: NewRegistry: nil DB")
	}
	rc := registryConfig{
		table: DefaultRegistryTable, ttl: DefaultCacheTTL, negTTL: DefaultNegativeTTL,
		size: DefaultCacheSize, timeout: DefaultLookupTimeout,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.applyRegistry(&rc); err != nil {
			return nil, err
		}
	}
	if db.shared == nil {
		db = db.Shared()
	}
	cols := "id, name, schema, COALESCE(host, '') AS host, shard, created_at"
	for _, c := range rc.columns {
		cols += ", " + pq.QuoteIdentifier(c)
	}
	return &Registry{
		db:         db,
		table:      pq.QuoteIdentifier(db.cfg.sharedSchema) + "." + pq.QuoteIdentifier(rc.table),
		schemaName: db.cfg.sharedSchema,
		tableName:  rc.table,
		appTable:   rc.appTable,
		cols:       cols,
		columns:    slices.Clip(rc.columns),
		lookupHook: hookOf(rc.hooks),
		cache:      newTenantCache(rc.ttl, rc.negTTL, rc.size),
		timeout:    rc.timeout,
	}, nil
}

// Table returns the registry table's qualified, quoted name, for use in SQL.
func (r *Registry) Table() string { return r.table }

// SchemaKey, HostKey and NameKey build the [Key]s that look a tenant up by schema,
// host or name.
func SchemaKey(schema string) Key { return Key{By: BySchema, Value: schema} }

// HostKey returns the [Key] that looks a tenant up by host.
func HostKey(host string) Key { return Key{By: ByHost, Value: host} }

// NameKey returns the [Key] that looks a tenant up by name.
func NameKey(name string) Key { return Key{By: ByName, Value: name} }

// Lookup returns the tenant k names, from the cache when it can. Errors (as
// *[TenantError]): [ErrUnknownTenant] when none matches (including a schema key that
// is not a valid schema name, which is refused without a query);
// [ErrTenantMismatch] when the keys of an [AllAgree] chain name different tenants;
// [ErrRegistryUnavailable] when the registry cannot be read. It implements
// [Lookuper].
func (r *Registry) Lookup(ctx context.Context, k Key) (Tenant, error) {
	t, err := r.lookupPtr(ctx, k)
	if err != nil {
		return Tenant{}, err
	}
	return *t, nil
}

var (
	_ Lookuper    = (*Registry)(nil)
	_ ptrLookuper = (*Registry)(nil)
)

// lookupPtr returns the cache's shared *Tenant, which callers must not modify.
func (r *Registry) lookupPtr(ctx context.Context, k Key) (*Tenant, error) {
	if len(k.agree) > 0 {
		return r.lookupAgreeing(ctx, k)
	}
	ck := cacheKey{by: k.By, value: k.Value}
	if t, ok := r.cache.get(ck); ok {
		if t == nil {
			if r.lookupHook != nil {
				r.lookupHook(ctx, LookupEvent{Key: k, Outcome: LookupNegativeHit})
			}
			return nil, &TenantError{Op: "lookup", Key: k.Value, Err: ErrUnknownTenant}
		}
		if r.lookupHook != nil {
			r.lookupHook(ctx, LookupEvent{Key: k, Outcome: LookupHit, Found: true})
		}
		return t, nil
	}
	switch k.By {
	case BySchema:
		if ValidateSchemaName(k.Value) != nil {
			return nil, &TenantError{Op: "lookup", Key: k.Value, Err: ErrUnknownTenant}
		}
	case ByHost:
		h, err := NormalizeHost(k.Value)
		if err != nil {
			return nil, &TenantError{Op: "lookup", Key: k.Value, Err: ErrUnknownTenant}
		}
		k.Value = h // cached under the key as given, loaded by its normal form
	case ByName:
		if k.Value == "" {
			return nil, &TenantError{Op: "lookup", Key: k.Value, Err: ErrUnknownTenant}
		}
	default:
		return nil, &TenantError{Op: "lookup", Key: k.Value, Err: fmt.Errorf("invalid key kind %d", k.By)}
	}
	var start time.Time
	if r.lookupHook != nil {
		start = time.Now()
	}
	t, err := r.cache.fetch(ctx, ck, r.timeout, func(ctx context.Context) (*Tenant, error) {
		t, err := r.load(ctx, k)
		if errors.Is(err, ErrUnknownTenant) {
			return nil, nil // cached as a miss
		}
		return t, err
	})
	if r.lookupHook != nil {
		e := LookupEvent{Key: k, Outcome: LookupMiss, Found: t != nil, Duration: time.Since(start), Err: err}
		if err != nil {
			e.Outcome, e.Found = LookupError, false
		}
		r.lookupHook(ctx, e)
	}
	if err != nil {
		return nil, &TenantError{Op: "lookup", Key: k.Value, Err: unavailable(ctx, err)}
	}
	if t == nil {
		return nil, &TenantError{Op: "lookup", Key: k.Value, Err: ErrUnknownTenant}
	}
	return t, nil
}

func hookOf(h *Hooks) func(context.Context, LookupEvent) {
	if h == nil {
		return nil
	}
	return h.Lookup
}

func (r *Registry) lookupAgreeing(ctx context.Context, k Key) (*Tenant, error) {
	var first *Tenant
	for _, a := range k.agree {
		t, err := r.lookupPtr(ctx, a)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = t
		} else if t.ID != first.ID {
			return nil, &TenantError{Op: "lookup", Key: k.String(), Err: ErrTenantMismatch}
		}
	}
	return first, nil
}

// load reads one tenant, bypassing the cache.
func (r *Registry) load(ctx context.Context, k Key) (*Tenant, error) {
	var col string
	switch k.By {
	case BySchema:
		col = "schema"
	case ByHost:
		col = "host"
	case ByName:
		col = "name"
	}
	t, err := r.scan(r.db.QueryRowxContext(ctx, "SELECT "+r.cols+" FROM "+r.table+" WHERE "+col+" = $1", k.Value))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnknownTenant
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Get reads the tenant k names from the database, bypassing (and refreshing) the
// cache. Errors as for [Registry.Lookup].
func (r *Registry) Get(ctx context.Context, k Key) (Tenant, error) {
	r.cache.invalidate(0, cacheKey{by: k.By, value: k.Value})
	return r.Lookup(ctx, k)
}

// Context returns a copy of ctx carrying the tenant k names: the way to run code for
// a tenant outside an HTTP request (jobs, CLIs, tests). Errors as for
// [Registry.Lookup].
func (r *Registry) Context(ctx context.Context, k Key) (context.Context, error) {
	t, err := r.lookupPtr(ctx, k)
	if err != nil {
		return nil, err
	}
	return newContextPtr(ctx, t), nil
}

// ListOptions pages through [Registry.List].
type ListOptions struct {
	// AfterID returns tenants whose id is greater (keyset pagination: pass the last
	// id of the previous page). Zero starts at the beginning.
	AfterID int64
	// Limit caps the page size; 0 means 100. At most 10,000.
	Limit int
}

// List returns one page of tenants ordered by id.
func (r *Registry) List(ctx context.Context, opts ListOptions) ([]Tenant, error) {
	limit := opts.Limit
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 10_000:
		return nil, fmt.Errorf("tenancy: List: limit must be between 1 and 10000, got %d", limit)
	}
	rows, err := r.db.QueryxContext(ctx,
		"SELECT "+r.cols+" FROM "+r.table+" WHERE id > $1 ORDER BY id LIMIT $2", opts.AfterID, limit)
	if err != nil {
		return nil, fmt.Errorf("tenancy: list tenants: %w", err)
	}
	defer rows.Close()
	var ts []Tenant
	for rows.Next() {
		t, err := r.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("tenancy: list tenants: %w", err)
		}
		ts = append(ts, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tenancy: list tenants: %w", err)
	}
	return ts, nil
}

// All streams every tenant ordered by id, one query, holding one row at a time (so it
// copes with any number of tenants). Stop early by breaking out of the loop. An error
// ends the sequence with a zero Tenant and the error.
func (r *Registry) All(ctx context.Context) iter.Seq2[Tenant, error] {
	return func(yield func(Tenant, error) bool) {
		rows, err := r.db.QueryxContext(ctx, "SELECT "+r.cols+" FROM "+r.table+" ORDER BY id")
		if err != nil {
			yield(Tenant{}, fmt.Errorf("tenancy: list tenants: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			t, err := r.scan(rows)
			if err != nil {
				yield(Tenant{}, fmt.Errorf("tenancy: list tenants: %w", err))
				return
			}
			if !yield(*t, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(Tenant{}, fmt.Errorf("tenancy: list tenants: %w", err))
		}
	}
}

// Count returns the number of registered tenants.
func (r *Registry) Count(ctx context.Context) (int, error) {
	var n int
	if err := r.db.GetContext(ctx, &n, "SELECT count(*) FROM "+r.table); err != nil {
		return 0, fmt.Errorf("tenancy: count tenants: %w", err)
	}
	return n, nil
}

// Invalidate drops every cache entry for t (by id, schema, host and name), so that a
// rename or deletion made elsewhere takes effect at once in this process.
func (r *Registry) Invalidate(t Tenant) {
	r.cache.invalidate(t.ID,
		cacheKey{by: BySchema, value: t.Schema},
		cacheKey{by: ByHost, value: t.Host},
		cacheKey{by: ByName, value: t.Name})
}

// InvalidateAll empties the cache.
func (r *Registry) InvalidateAll() { r.cache.invalidateAll() }

// unavailable wraps a failure to read the registry in ErrRegistryUnavailable.
// When the caller's context ended (a cancellation the server reported as 57014,
// say), its error is in the chain too, so that errors.Is(err, context.Canceled)
// holds as for any other call cut short by its context.
func unavailable(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w (%w)", ErrRegistryUnavailable, cerr, err)
	}
	return fmt.Errorf("%w: %w", ErrRegistryUnavailable, err)
}
