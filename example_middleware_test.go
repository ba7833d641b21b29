package tenancy_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/go-tenancy/tenancy"
)

// exampleTenants stands in for the tenant registry. A real app passes its
// *tenancy.Registry, which caches, to the Middleware.
var exampleTenants = tenancy.LookuperFunc(func(_ context.Context, k tenancy.Key) (tenancy.Tenant, error) {
	if k.By == tenancy.BySchema && k.Value == "acme" {
		return tenancy.Tenant{ID: 1, Name: "Acme", Schema: "acme"}, nil
	}
	return tenancy.Tenant{}, &tenancy.TenantError{Op: "lookup", Key: k.Value, Err: tenancy.ErrUnknownTenant}
})

// exampleGet sends a GET request for target with a Tenant header to h and prints
// the response.
func exampleGet(h http.Handler, target, tenant string) {
	req := httptest.NewRequest("GET", target, nil)
	if tenant != "" {
		req.Header.Set("Tenant", tenant)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Printf("%d %s\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
}

// The middleware reads the tenant from the "Tenant" header, looks it up and hands
// it to the handler in the request's context. An unknown tenant is answered with
// 404 and a problem+json body; the handler does not run.
func ExampleMiddleware() {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := tenancy.MustFromContext(r.Context())
		fmt.Fprintf(w, "hello, %s (schema %s)\n", t.Name, t.Schema)
	})
	h := tenancy.Middleware(tenancy.HeaderResolver{}, exampleTenants)(hello)

	exampleGet(h, "/", "acme")
	exampleGet(h, "/", "globex")
	exampleGet(h, "/", "")
	// Output:
	// 200 text/plain; charset=utf-8
	// hello, Acme (schema acme)
	// 404 application/problem+json
	// {"type":"https://pkg.go.dev/github.com/go-tenancy/tenancy#ErrUnknownTenant","title":"Unknown tenant","status":404,"detail":"No tenant matches \"globex\"."}
	// 400 application/problem+json
	// {"type":"https://pkg.go.dev/github.com/go-tenancy/tenancy#ErrNoTenant","title":"No tenant","status":400,"detail":"The request does not name a tenant."}
}

// With a PathResolver the tenant is the first path segment, which the middleware
// removes before the handler (or a router) sees the path.
func ExampleMiddleware_path() {
	show := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := tenancy.FromContext(r.Context())
		fmt.Fprintf(w, "tenant %s, path %s\n", t.Schema, r.URL.Path)
	})
	h := tenancy.Middleware(tenancy.PathResolver{}, exampleTenants)(show)

	exampleGet(h, "/acme/users/42", "")
	exampleGet(h, "/acme", "")
	// Output:
	// 200 text/plain; charset=utf-8
	// tenant acme, path /users/42
	// 200 text/plain; charset=utf-8
	// tenant acme, path /
}

// An authorisation hook checks that the caller may act for the tenant the request
// names. Here the caller's own tenant comes from a header set by an authenticating
// proxy; a real app would read it from its session or token.
func ExampleWithAuthorizer() {
	errNotMember := errors.New("user is not a member of the tenant")
	member := tenancy.WithAuthorizer(func(r *http.Request, t tenancy.Tenant) error {
		if r.Header.Get("X-User-Tenant") != t.Schema {
			return errNotMember
		}
		return nil
	})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	h := tenancy.Middleware(tenancy.HeaderResolver{}, exampleTenants, member)(ok)

	exampleGet(h, "/", "acme") // no X-User-Tenant
	// Output:
	// 403 application/problem+json
	// {"type":"https://pkg.go.dev/github.com/go-tenancy/tenancy#ErrForbidden","title":"Access to tenant denied","status":403,"detail":"The request may not act for this tenant."}
}

// A custom error handler writes errors in the app's own format, keeping the
// status mapping with StatusCode, and leaves server-side failures to the default
// handler.
func ExampleWithErrorHandler() {
	onError := tenancy.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		status := tenancy.StatusCode(err)
		if status >= 500 {
			tenancy.DefaultErrorHandler(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		switch {
		case errors.Is(err, tenancy.ErrUnknownTenant):
			fmt.Fprintln(w, "no such tenant")
		default:
			fmt.Fprintln(w, http.StatusText(status))
		}
	})
	h := tenancy.Middleware(tenancy.HeaderResolver{}, exampleTenants, onError)(http.NotFoundHandler())

	exampleGet(h, "/", "globex")
	exampleGet(h, "/", "Not A Schema!")
	// Output:
	// 404 text/plain; charset=utf-8
	// no such tenant
	// 400 text/plain; charset=utf-8
	// Bad Request
}

// WriteProblem gives an app's own errors the shape of the middleware's.
func ExampleWriteProblem() {
	rec := httptest.NewRecorder()
	tenancy.WriteProblem(rec, tenancy.Problem{Status: http.StatusConflict, Detail: "An order with this number exists."})
	fmt.Print(rec.Code, " ", rec.Header().Get("Content-Type"), "\n", rec.Body)
	// Output:
	// 409 application/problem+json
	// {"type":"about:blank","title":"Conflict","status":409,"detail":"An order with this number exists."}
}

// Behind the middleware, every record logged with the request's context carries
// the tenant.
func ExampleNewLogHandler() {
	noTime := func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{} // for a stable example output
		}
		return a
	}
	logger := slog.New(tenancy.NewLogHandler(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime})))

	ctx := tenancy.NewContext(context.Background(), tenancy.Tenant{ID: 1, Name: "Acme", Schema: "acme"})
	logger.InfoContext(ctx, "order placed", "order", 42)
	logger.WithGroup("http").InfoContext(ctx, "request", "status", 201)
	logger.Info("no tenant here")
	// Output:
	// {"level":"INFO","msg":"order placed","tenant":{"id":1,"name":"Acme","schema":"acme"},"order":42}
	// {"level":"INFO","msg":"request","tenant":{"id":1,"name":"Acme","schema":"acme"},"http":{"status":201}}
	// {"level":"INFO","msg":"no tenant here"}
}
