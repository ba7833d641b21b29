package tenancy

import (
	"context"
	"testing"
)

// TestFromContextUnscoped checks the contexts only the package makes: unscoped
// (a typed nil *scope, which once made FromContext dereference nil) and the
// shared schema's (a scope without a tenant), also over a caller's tenant.
func TestFromContextUnscoped(t *testing.T) {
	caller := NewContext(context.Background(), Tenant{ID: 1, Schema: "acme"})
	db := (&DB{cfg: &config{sharedSchema: DefaultSharedSchema}}).Shared()
	sharedCtx, _ := db.conn(caller)
	for name, ctx := range map[string]context.Context{
		"unscoped(Background)": unscoped(context.Background()),
		"unscoped(tenant)":     unscoped(caller),
		"Shared":               sharedCtx,
		"nil":                  nilContext(),
	} {
		if got, ok := FromContext(ctx); ok {
			t.Errorf("%s: FromContext = %+v, true; want no tenant", name, got)
		}
		func() {
			defer func() {
				if r := recover(); r != ErrNoTenant {
					t.Errorf("%s: MustFromContext panicked with %v, want ErrNoTenant", name, r)
				}
			}()
			MustFromContext(ctx)
		}()
	}
}

// nilContext hides a nil context from vet's nil-context check: a log handler may
// be handed one (slog's Logger.Log(nil, ...) is documented to work).
func nilContext() context.Context { return nil }
