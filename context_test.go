package tenancy_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
)

// ctxProbe is a slog.Handler that calls FromContext and MustFromContext on every
// context it is handed, as a user's handler or an OpenTelemetry attribute getter
// would, and records what they did. It must never panic on the library's own
// contexts (issue 13: a typed-nil scope made FromContext dereference nil).
type ctxProbe struct {
	mu      sync.Mutex
	records int
	tenants []string // FromContext's answer per record ("" = none)
	none    int      // records whose context carried no tenant
	panics  []any    // what MustFromContext panicked with, per record without a tenant
}

func (p *ctxProbe) Enabled(context.Context, slog.Level) bool { return true }
func (p *ctxProbe) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *ctxProbe) WithGroup(string) slog.Handler            { return p }

func (p *ctxProbe) Handle(ctx context.Context, _ slog.Record) error {
	t, ok := tenancy.FromContext(ctx)
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		_ = tenancy.MustFromContext(ctx)
	}()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records++
	if ok {
		p.tenants = append(p.tenants, t.Schema)
	} else {
		p.tenants = append(p.tenants, "")
		p.none++
		p.panics = append(p.panics, recovered)
	}
	return nil
}

// TestFromContextOnMigratorContexts runs MigrateShared, CreateTenant, Upgrade,
// UpgradeFleet and DropTenant with a logger whose handler calls FromContext and
// MustFromContext: the Migrator's internal contexts hide the caller's tenant
// (a typed nil scope), so on them FromContext reports false and MustFromContext
// panics with ErrNoTenant, never with a nil dereference.
func TestFromContextOnMigratorContexts(t *testing.T) {
	probe := &ctxProbe{}
	e := newMigEnv(t, migrations.Shared, migrations.Tenant, tenancy.WithMigrationLogger(slog.New(probe)))
	// A caller's context that carries a tenant: the Migrator must hide it.
	ctx := tenancy.NewContext(context.Background(), tenancy.Tenant{ID: 99, Schema: "caller"})
	if _, err := e.m.MigrateShared(ctx); err != nil {
		t.Fatalf("MigrateShared: %v", err)
	}
	if _, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: "Acme", Schema: "acme"}); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	if _, err := e.m.UpgradeFleet(ctx, tenancy.FleetOptions{}); err != nil {
		t.Fatalf("UpgradeFleet: %v", err)
	}
	if err := e.m.DropTenant(ctx, "acme"); err != nil {
		t.Fatalf("DropTenant: %v", err)
	}
	probe.mu.Lock()
	defer probe.mu.Unlock()
	if probe.records == 0 {
		t.Fatal("the Migrator logged nothing: the probe was never called")
	}
	if probe.none == 0 {
		t.Fatalf("every record carried a tenant (%q): no record was logged with an unscoped context", probe.tenants)
	}
	for i, v := range probe.panics {
		if err, ok := v.(error); !ok || !errors.Is(err, tenancy.ErrNoTenant) {
			t.Errorf("record %d: MustFromContext panicked with %v (%T), want ErrNoTenant", i, v, v)
		}
	}
}

// TestFromContextEverywhere checks FromContext and MustFromContext on the other
// contexts the package hands out: NewContext's, Registry.Context's and the
// request context behind the Middleware, and on a context with no tenant.
func TestFromContextEverywhere(t *testing.T) {
	e := newEnv(t)
	acme := e.addTenant(t, "acme")
	check := func(name string, ctx context.Context, want string) {
		t.Helper()
		got, ok := tenancy.FromContext(ctx)
		if ok != (want != "") || got.Schema != want {
			t.Errorf("%s: FromContext = %q, %v; want %q", name, got.Schema, ok, want)
		}
		defer func() {
			r := recover()
			if want == "" {
				if err, ok := r.(error); !ok || !errors.Is(err, tenancy.ErrNoTenant) {
					t.Errorf("%s: MustFromContext panicked with %v, want ErrNoTenant", name, r)
				}
			} else if r != nil {
				t.Errorf("%s: MustFromContext panicked: %v", name, r)
			}
		}()
		if got := tenancy.MustFromContext(ctx); got.Schema != want {
			t.Errorf("%s: MustFromContext = %q, want %q", name, got.Schema, want)
		}
	}
	check("Background", context.Background(), "")
	check("NewContext", tenancy.NewContext(context.Background(), acme), "acme")
	rctx, err := e.reg.Context(context.Background(), tenancy.SchemaKey("acme"))
	if err != nil {
		t.Fatal(err)
	}
	check("Registry.Context", rctx, "acme")

	served := false
	h := tenancy.Middleware(tenancy.HeaderResolver{}, e.reg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served = true
		check("Middleware", r.Context(), "acme")
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Tenant", "acme")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if !served {
		t.Fatal("the middleware did not call next")
	}
}
