package tenancy_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/go-tenancy/tenancy"
)

func TestStatusCodeCoversEverySentinel(t *testing.T) {
	cases := map[error]int{
		tenancy.ErrNoTenant: 400, tenancy.ErrMalformedRequest: 400, tenancy.ErrTenantMismatch: 400,
		tenancy.ErrInvalidHost: 400, tenancy.ErrUnknownTenant: 404, tenancy.ErrInvalidSchemaName: 404,
		tenancy.ErrForbidden: 403, tenancy.ErrRegistryUnavailable: 503, context.Canceled: 503,
		tenancy.ErrConflict: 409, tenancy.ErrSchemaExists: 409, tenancy.ErrDirty: 409,
		tenancy.ErrLocked: 409, tenancy.ErrIrreversible: 409, tenancy.ErrUnknownVersion: 422,
		fmt.Errorf("boom"): 500, nil: http.StatusOK,
	}
	for err, want := range cases {
		wrapped := err
		if err != nil {
			wrapped = &tenancy.TenantError{Op: "op", Key: "acme", Err: err}
		}
		if got := tenancy.StatusCode(wrapped); got != want {
			t.Errorf("StatusCode(%v) = %d, want %d", wrapped, got, want)
		}
	}
}
