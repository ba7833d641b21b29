package routers_test

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/examples/routers"
)

// gin: adapt the middleware with routers.Gin. Give queries c.Request.Context(),
// which carries the tenant; the *gin.Context itself finds it only with
// ContextWithFallback set.
func Example_gin() {
	gin.SetMode(gin.ReleaseMode)
	for _, fallback := range []bool{false, true} {
		r := gin.New()
		r.ContextWithFallback = fallback
		r.GET("/healthz", gin.WrapF(whoami))
		api := r.Group("/api", routers.Gin(tenancy.Middleware(tenancy.HeaderResolver{}, tenants)))
		api.GET("/users", func(c *gin.Context) {
			t, _ := tenancy.FromContext(c.Request.Context())
			_, viaGin := tenancy.FromContext(c) // what db.SelectContext(c, ...) would see
			c.String(http.StatusOK, fmt.Sprintf("tenant %s; *gin.Context has it: %v\n", t.Schema, viaGin))
		})
		get(r, "/api/users", "acme")
	}
	r := gin.New()
	r.GET("/api/users", routers.Gin(tenancy.Middleware(tenancy.HeaderResolver{}, tenants)), gin.WrapF(whoami))
	get(r, "/api/users", "")
	// Output:
	// 200 tenant acme; *gin.Context has it: false
	// 200 tenant acme; *gin.Context has it: true
	// 400 {"type":"https://pkg.go.dev/github.com/go-tenancy/tenancy#ErrNoTenant","title":"No tenant","status":400,"detail":"The request does not name a tenant."}
}

// gin with the tenant in the path: wrap the whole engine, so that gin routes
// the path without the tenant segment.
func Example_ginPath() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/api/users", gin.WrapF(whoami))
	h := tenancy.Middleware(tenancy.PathResolver{Prefix: "/api"}, tenants)(r)

	get(h, "/api/acme/users", "")
	// Output:
	// 200 tenant acme, path /api/users
}
