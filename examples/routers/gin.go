package routers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Gin adapts net/http middleware, such as the one [tenancy.Middleware] returns,
// to a gin handler: the request the middleware passes on (whose context carries
// the tenant) becomes c.Request, and the chain continues; if the middleware
// answers the request itself (a refused tenant), the chain is aborted.
func Gin(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		passed := false
		mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !passed {
			c.Abort()
		}
	}
}
