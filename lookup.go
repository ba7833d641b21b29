package tenancy

import "context"

// A Lookuper finds the registered tenant a [Key] names. [*Registry] implements it
// (with its cache); tests and apps with their own tenant store can supply another.
//
// Lookup returns a *[TenantError] wrapping [ErrUnknownTenant] when no tenant
// matches, one wrapping [ErrTenantMismatch] when the keys of an [AllAgree] chain
// name different tenants, and one wrapping [ErrRegistryUnavailable] when the store
// cannot be read. It must be safe for concurrent use.
type Lookuper interface {
	Lookup(ctx context.Context, k Key) (Tenant, error)
}

// LookuperFunc adapts a plain function to a [Lookuper].
type LookuperFunc func(ctx context.Context, k Key) (Tenant, error)

// Lookup calls f(ctx, k).
func (f LookuperFunc) Lookup(ctx context.Context, k Key) (Tenant, error) { return f(ctx, k) }

// ptrLookuper is implemented by *Registry: it hands out the cache's own immutable
// *Tenant, which the middleware stores in the request context without copying (one
// allocation less per request).
type ptrLookuper interface {
	lookupPtr(ctx context.Context, k Key) (*Tenant, error)
}
