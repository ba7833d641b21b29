package tenancy_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-tenancy/tenancy"
)

// TestMiddlewareLogsToDefaultLogger: without WithLogger, a 503 is logged on
// slog.Default at Error with the internal error; a 404 is not at the default
// level (Info). Not parallel: it replaces the default logger.
func TestMiddlewareLogsToDefaultLogger(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	down := tenancy.LookuperFunc(func(_ context.Context, k tenancy.Key) (tenancy.Tenant, error) {
		if k.Value == "acme" {
			return tenancy.Tenant{}, errors.New("dial tcp 10.0.0.1:5432: connection refused")
		}
		return tenancy.Tenant{}, &tenancy.TenantError{Op: "lookup", Key: k.Value, Err: tenancy.ErrUnknownTenant}
	})
	h := tenancy.Middleware(tenancy.HeaderResolver{}, down)(http.NotFoundHandler())
	for _, tn := range []string{"acme", "globex"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Tenant", tn)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	out := buf.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "status=503") ||
		!strings.Contains(out, "connection refused") {
		t.Errorf("the 503 was not logged with its cause on slog.Default:\n%s", out)
	}
	if strings.Contains(out, "status=404") {
		t.Errorf("a 404 was logged at the default level:\n%s", out)
	}
}
