package routers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/go-tenancy/tenancy"
)

// tenants stands in for a *tenancy.Registry.
var tenants = tenancy.LookuperFunc(func(_ context.Context, k tenancy.Key) (tenancy.Tenant, error) {
	if k.By == tenancy.BySchema && k.Value == "acme" {
		return tenancy.Tenant{ID: 1, Name: "Acme", Schema: "acme"}, nil
	}
	return tenancy.Tenant{}, &tenancy.TenantError{Op: "lookup", Key: k.Value, Err: tenancy.ErrUnknownTenant}
})

// whoami writes the request's tenant and path, as a tenant-scoped handler would
// use them.
func whoami(w http.ResponseWriter, r *http.Request) {
	t, ok := tenancy.FromContext(r.Context())
	if !ok {
		fmt.Fprintf(w, "no tenant, path %s\n", r.URL.Path)
		return
	}
	fmt.Fprintf(w, "tenant %s, path %s\n", t.Schema, r.URL.Path)
}

// get sends a GET for target (with a Tenant header if tenant is not "") and
// prints the status and body.
func get(h http.Handler, target, tenant string) {
	req := httptest.NewRequest("GET", target, nil)
	if tenant != "" {
		req.Header.Set("Tenant", tenant)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Printf("%d %s", rec.Code, rec.Body)
}
