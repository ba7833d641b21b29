// Package routers holds tested recipes for [tenancy.Middleware] with the common
// routers: chi, gorilla/mux, echo and gin. It is a module of its own, so that the
// tenancy module depends on no router; each recipe is a runnable example
// (example_*_test.go), run by CI.
//
// The middleware is a plain func(http.Handler) http.Handler. Where it sits
// decides what its path rewriting ([tenancy.PathResolver]) does:
//
//   - before routing (chi's top-level Use, or wrapping a whole router as an
//     http.Handler, as for gin), the router routes the rewritten path: mount the
//     tenant-scoped routes under the prefix without the tenant segment
//     ("/api/users" for "/api/acme/users");
//   - after routing (gorilla's Use, chi's With and Group, echo's groups, gin's
//     Use), the route pattern must match the path as the client sent it
//     ("/api/{tenant}/users"). echo's Pre counts as "after" here: its router
//     reads the request it was handed, not the one a middleware passes on.
//
// Handlers see the rewritten path either way.
//
// With gin, use [Gin] to adapt the middleware, and give queries
// c.Request.Context(): a *gin.Context reaches the request's context values only
// when the engine's ContextWithFallback is set, and otherwise every query made
// with it fails with [tenancy.ErrNoTenant].
package routers
