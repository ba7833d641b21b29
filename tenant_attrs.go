package tenancy

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// ErrTenantSuspended is what the [Middleware] refuses a request for a tenant
// that its [WithSuspended] predicate reports suspended with: 403, with the
// problem title "Tenant suspended", before the handler (and so any query) runs.
var ErrTenantSuspended = errors.New("tenancy: tenant is suspended")

// tenantAttrs holds the application's own registry columns of one tenant, as
// read with its row. It is never modified after the scan, so Tenants that share
// it (copies, the cache's entries) stay plain values.
type tenantAttrs struct {
	names  []string // the Registry's WithTenantColumns, shared by every tenant it reads
	values []any
}

// Attr returns the value of the application's own registry column name (one
// of those given to [WithTenantColumns]) as the Registry read it with the
// tenant's row, and whether the tenant has that column. The value is what the
// driver returns: string for text types, int64, float64, bool, time.Time, a
// string for numeric and other types sent as text, or nil for NULL. Tenants
// from [Registry] lookups, [Registry.List] and [Registry.All] have their
// attributes; others (built by hand, returned by [Migrator.CreateTenant])
// have none.
func (t Tenant) Attr(name string) (any, bool) {
	if t.attrs == nil {
		return nil, false
	}
	if i := slices.Index(t.attrs.names, name); i >= 0 {
		return t.attrs.values[i], true
	}
	return nil, false
}

// AttrString returns [Tenant.Attr] formatted as a string: "" for a missing
// column or NULL, the value itself for a string, fmt's %v otherwise.
func (t Tenant) AttrString(name string) string {
	switch v, _ := t.Attr(name); v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// Attrs returns the tenant's own registry columns as a new map (nil if it has
// none), for encoding or logging them.
func (t Tenant) Attrs() map[string]any {
	if t.attrs == nil {
		return nil
	}
	m := make(map[string]any, len(t.attrs.names))
	for i, n := range t.attrs.names {
		m[n] = t.attrs.values[i]
	}
	return m
}

// baseColumns are the registry columns every Tenant has.
var baseColumns = []string{"id", "name", "schema", "host", "shard", "created_at"}

// WithTenantColumns makes the [Registry] read the application's own columns of
// the registry table (plan, region, status: added by the application's shared
// migrations, ALTER TABLE tenants ADD COLUMN ...) with every row, so that
// handlers read them from the [Tenant] in the context ([Tenant.Attr]) without a
// second query. They are cached with the row. The default is none. Names must
// be lower-case identifiers (the rules of [ValidateSchemaName]) and not the
// built-in columns; a column that does not exist makes every lookup fail (503
// behind the middleware, and logged), so add it before deploying code that
// reads it.
func WithTenantColumns(columns ...string) RegistryOption {
	return registryOptionFunc(func(c *registryConfig) error {
		for _, col := range columns {
			if err := validSharedSchemaName(col); err != nil {
				return fmt.Errorf("tenancy: WithTenantColumns: column %q: %w", col, err)
			}
			if slices.Contains(baseColumns, col) || slices.Contains(c.columns, col) {
				return fmt.Errorf("tenancy: WithTenantColumns: column %q is given twice or is built in", col)
			}
			c.columns = append(c.columns, col)
		}
		return nil
	})
}

// scanner is *sql.Row, *sql.Rows, *sqlx.Row or *sqlx.Rows.
type scanner interface{ Scan(dest ...any) error }

// scan reads one registry row selected with r.cols.
func (r *Registry) scan(sc scanner) (*Tenant, error) {
	t := new(Tenant)
	dest := []any{&t.ID, &t.Name, &t.Schema, &t.Host, &t.Shard, &t.CreatedAt}
	var vals []any
	if len(r.columns) > 0 {
		vals = make([]any, len(r.columns))
		for i := range vals {
			dest = append(dest, &vals[i])
		}
	}
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	if vals != nil {
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b) // numeric and the like; bytes would alias the driver's buffer
			}
		}
		t.attrs = &tenantAttrs{names: r.columns, values: vals}
	}
	return t, nil
}

// WithSuspended makes the [Middleware] refuse requests for the tenants
// suspended reports true for, with 403 and the problem title "Tenant
// suspended" ([ErrTenantSuspended]), before the authorisation hooks and the
// handler run, so no query is made for them. suspended typically reads a
// column of the application's ([WithTenantColumns]):
//
//	reg, err := tenancy.NewRegistry(db, tenancy.WithTenantColumns("status"))
//	mw := tenancy.Middleware(res, reg, tenancy.WithSuspended(func(t tenancy.Tenant) bool {
//		return t.AttrString("status") == "suspended"
//	}))
//
// A change of the column is seen once the cached row expires ([WithCache]) or
// at once after [Registry.Invalidate]. suspended must be safe for concurrent
// use. The default suspends nobody. If given more than once, the last one
// wins. WithSuspended panics if suspended is nil.
func WithSuspended(suspended func(t Tenant) bool) MiddlewareOption {
	if suspended == nil {
		panic("tenancy: WithSuspended: nil func")
	}
	return middlewareOptionFunc(func(c *middlewareConfig) { c.suspended = suspended })
}

// suspendedProblem is the problem kind of ErrTenantSuspended.
var suspendedProblem = problemKind{ErrTenantSuspended, http.StatusForbidden, problemTypeBase + "ErrTenantSuspended",
	"Tenant suspended", "This tenant is suspended."}
