package routers_test

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/go-tenancy/tenancy"
)

// echo: through echo.WrapMiddleware on a group. echo routes the request as the
// client sent it, even from Pre (its router reads the original request, not the
// one a middleware passes on), so the group's pattern holds the tenant segment;
// handlers see the path without it and take the tenant from
// c.Request().Context(). Routes outside the group need no tenant.
func Example_echo() {
	e := echo.New()
	e.GET("/healthz", echo.WrapHandler(http.HandlerFunc(whoami)))
	api := e.Group("/api/:tenant", echo.WrapMiddleware(tenancy.Middleware(tenancy.PathResolver{Prefix: "/api"}, tenants)))
	api.GET("/users", func(c echo.Context) error {
		t, _ := tenancy.FromContext(c.Request().Context())
		return c.String(http.StatusOK, "tenant "+t.Schema+", path "+c.Request().URL.Path+"\n")
	})

	get(e, "/api/acme/users", "")
	get(e, "/healthz", "")
	get(e, "/api/globex/users", "")
	// Output:
	// 200 tenant acme, path /api/users
	// 200 no tenant, path /healthz
	// 404 {"type":"https://pkg.go.dev/github.com/go-tenancy/tenancy#ErrUnknownTenant","title":"Unknown tenant","status":404,"detail":"No tenant matches \"globex\"."}
}

// echo with the tenant in a header, in Pre: every route, and an optional
// tenant for the ones that need none.
func Example_echoHeader() {
	e := echo.New()
	e.Pre(echo.WrapMiddleware(tenancy.Middleware(tenancy.HeaderResolver{}, tenants, tenancy.WithOptionalTenant())))
	e.GET("/*", echo.WrapHandler(http.HandlerFunc(whoami)))

	get(e, "/api/users", "acme")
	get(e, "/healthz", "")
	// Output:
	// 200 tenant acme, path /api/users
	// 200 no tenant, path /healthz
}
