package tenancy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// Middleware returns net/http middleware that puts each request in its tenant. It is
// a plain func(http.Handler) http.Handler, so it works with net/http, chi, gorilla
// and echo (through echo.WrapMiddleware) without importing any router.
//
// For every request it
//
//  1. asks res which tenant the request names (a [Key]);
//  2. looks the Key up with lk, typically a [*Registry], which caches;
//  3. removes Key.StripPrefix, if any, from the front of the URL path, keeping a
//     leading "/" ("/acme/users/" becomes "/users/", "/acme" becomes "/"), and
//     puts Key.KeepPrefix back in front ("/api/acme/users" becomes "/api/users"
//     for a [PathResolver] with Prefix "/api");
//  4. refuses a tenant that [WithSuspended] reports suspended, then runs the
//     authorisation hooks given with [WithAuthorizer];
//  5. calls next with a shallow copy of the request whose context carries the
//     tenant: [FromContext] returns it, and every tenant-scoped [DB] call made
//     with that context runs in the tenant's schema.
//
// Requests that [WithSkip] skips, and with [WithOptionalTenant] requests that name
// no tenant, reach next without a tenant; every other request is treated as
// follows. The middleware fails closed: if any step fails, next is not called, the request
// is answered by the error handler ([DefaultErrorHandler] unless
// [WithErrorHandler] replaces it), and no request ever reaches next without a
// tenant or with a fallback schema (such as "public"). Refusals are logged (see
// [WithLogger]; by default on [slog.Default]). The default answers are:
//
//   - the request names no tenant (res returns the zero Key): 400, [ErrNoTenant];
//   - res fails with [ErrMalformedRequest] or [ErrTenantMismatch], or the path does
//     not begin with Key.StripPrefix: 400;
//   - no tenant matches ([ErrUnknownTenant], [ErrInvalidSchemaName]): 404;
//   - the tenants named by an [AllAgree] chain differ ([ErrTenantMismatch]): 400;
//   - the tenant is suspended ([WithSuspended]): 403, [ErrTenantSuspended];
//   - an authorisation hook fails: 403, [ErrForbidden];
//   - lk fails in any other way (the registry is down, the request's context
//     ended) or returns a tenant whose schema is not a valid schema name: 503,
//     [ErrRegistryUnavailable];
//   - res fails with an error that wraps none of the sentinels (a custom
//     resolver's own failure): 500.
//
// See [StatusCode] for the exact mapping. Responses never include internal error
// messages; the log has them (see [WithLogger]).
//
// A tenant named by a header, host or path is only what the client claims:
// confirm that the caller may act for it. If authentication does not depend on
// the tenant, run it before this middleware and check the principal it stored in
// the request's context with [WithAuthorizer]. If it does (users are stored per
// tenant, so authentication runs after this middleware, in the tenant), the hook
// would run too early: check membership after authentication instead, with
// [FromContext]. Put CORS middleware in front of this one: a preflight request
// carries no custom header (such as Tenant) and would be refused.
//
// The request passed to next is a copy: the caller's request (and its URL) is
// never modified. With a *Registry, a request whose tenant is in the cache
// allocates only the request copy and the context that holds the tenant (the
// cached tenant itself is shared, not copied), plus what res allocates (nothing,
// for the built-in resolvers' common cases); stripping a path prefix costs one
// allocation more (the URL copy).
//
// Middleware panics if res or lk is nil or if res is a misconfigured built-in
// resolver (such as a [SubdomainResolver] without Domain): these are programming
// errors, reported when the server is built rather than on every request. The
// returned function panics if next is nil. The handler it returns is safe for
// concurrent use if res, lk and the hooks are.
func Middleware(res TenantResolver, lk Lookuper, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	if res == nil {
		panic("tenancy: Middleware: nil TenantResolver")
	}
	if f, ok := res.(ResolverFunc); ok && f == nil {
		panic("tenancy: Middleware: nil ResolverFunc")
	}
	if err := validateResolver(res); err != nil {
		panic("tenancy: Middleware: " + err.Error())
	}
	if lk == nil {
		panic("tenancy: Middleware: nil Lookuper")
	}
	if f, ok := lk.(LookuperFunc); ok && f == nil {
		panic("tenancy: Middleware: nil LookuperFunc")
	}
	cfg := middlewareConfig{onError: DefaultErrorHandler}
	for i, o := range opts {
		if o == nil {
			panic(fmt.Sprintf("tenancy: Middleware: option %d is nil", i))
		}
		o.applyMiddleware(&cfg)
	}
	plk, _ := lk.(ptrLookuper)
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("tenancy: Middleware: nil next handler")
		}
		return &tenantHandler{next: next, res: res, lk: lk, plk: plk, cfg: cfg}
	}
}

// A MiddlewareOption configures the [Middleware]. The options are [WithErrorHandler],
// [WithAuthorizer], [WithLogger], [WithSkip], [WithOptionalTenant],
// [WithSuspended] and [WithHooks]; the set is closed.
type MiddlewareOption interface {
	applyMiddleware(*middlewareConfig)
}

type middlewareOptionFunc func(*middlewareConfig)

func (f middlewareOptionFunc) applyMiddleware(c *middlewareConfig) { f(c) }

type middlewareConfig struct {
	onError     func(w http.ResponseWriter, r *http.Request, err error)
	authorizers []func(r *http.Request, t Tenant) error
	logger      *slog.Logger
	skip        func(r *http.Request) bool
	optional    bool
	suspended   func(t Tenant) bool
	hooks       *Hooks
}

// WithSkip makes the [Middleware] pass the requests for which skip returns true
// straight to next, without resolving or looking up a tenant: health checks,
// sign-up, static files. Their context carries no tenant, so tenant-scoped
// queries made with it fail with [ErrNoTenant]; [DB.Shared] still works. skip
// sees the request as the middleware received it and must be safe for concurrent
// use. The default skips nothing. If given more than once, the last one wins.
// WithSkip panics if skip is nil.
//
//	tenancy.WithSkip(func(r *http.Request) bool { return r.URL.Path == "/healthz" })
func WithSkip(skip func(r *http.Request) bool) MiddlewareOption {
	if skip == nil {
		panic("tenancy: WithSkip: nil func")
	}
	return middlewareOptionFunc(func(c *middlewareConfig) { c.skip = skip })
}

// WithOptionalTenant makes the tenant optional: a request that names no tenant
// (the resolver returns the zero [Key]) reaches next without one, instead of
// being refused with 400 [ErrNoTenant]. A request that does name a tenant is
// treated as usual: an unknown or malformed tenant is still refused, so a typo
// never silently becomes "no tenant". Handlers tell the cases apart with
// [FromContext]. The default is that a tenant is required.
func WithOptionalTenant() MiddlewareOption {
	return middlewareOptionFunc(func(c *middlewareConfig) { c.optional = true })
}

// WithErrorHandler makes the [Middleware] answer refused requests with h instead of
// [DefaultErrorHandler] (the default), for instance to write errors in an app's own
// format. h may call DefaultErrorHandler for the errors it does not treat itself,
// and [StatusCode] to keep the default status mapping.
//
// h receives the request as the middleware received it (its context carries no
// tenant) and an error that [errors.Is] matches against the sentinel deciding the
// status: [ErrNoTenant], [ErrMalformedRequest], [ErrTenantMismatch],
// [ErrUnknownTenant], [ErrInvalidSchemaName], [ErrForbidden] or
// [ErrRegistryUnavailable]; only a custom resolver's own failure matches none. The
// error's message may hold internal details (database errors): do not send it to
// the client. h must write a response; next is not called whatever h does. It
// must be safe for concurrent use.
//
// If the option is given more than once, the last one wins. WithErrorHandler
// panics if h is nil.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) MiddlewareOption {
	if h == nil {
		panic("tenancy: WithErrorHandler: nil handler")
	}
	return middlewareOptionFunc(func(c *middlewareConfig) { c.onError = h })
}

// WithAuthorizer adds an authorisation hook: once the tenant is found, auth decides
// whether the request may act for it, typically by checking that the principal
// authenticated by earlier middleware is a member of t. A tenant header alone is
// spoofable; this hook is where the claim is checked. The default is no hook.
//
// auth receives the request that next would receive (its context carries t, its
// path has Key.StripPrefix removed) and a copy of the tenant. If auth returns an
// error, the request is refused with 403 and the error handler receives an error
// that wraps both [ErrForbidden] and auth's error, so [errors.Is] and [errors.As]
// find either; to answer otherwise (say 404, to hide which tenants exist from
// outsiders), test for ErrForbidden in a handler given with [WithErrorHandler].
//
// The option may be given more than once: the hooks run in order, and the first
// error refuses the request. auth must be safe for concurrent use.
// WithAuthorizer panics if auth is nil.
func WithAuthorizer(auth func(r *http.Request, t Tenant) error) MiddlewareOption {
	if auth == nil {
		panic("tenancy: WithAuthorizer: nil hook")
	}
	return middlewareOptionFunc(func(c *middlewareConfig) { c.authorizers = append(c.authorizers, auth) })
}

// WithLogger makes the [Middleware] log every refused request on l, with the
// request's context and the attributes "status", "method", "path" and "err" (the
// full error, including the internal details the client is not shown): 5xx at
// Error level, 403 at Warn, other 4xx (ordinary client mistakes and probes) at
// Debug. Requests that reach next are not logged. The default is [slog.Default]
// (read at each refusal, so a later slog.SetDefault takes effect), whose default
// level shows the 5xx and 403 refusals: a 503 always says why in the log. To
// silence the middleware, pass a logger whose handler discards everything. If
// the option is given more than once, the last one wins. WithLogger panics if l is
// nil.
func WithLogger(l *slog.Logger) MiddlewareOption {
	if l == nil {
		panic("tenancy: WithLogger: nil logger")
	}
	return middlewareOptionFunc(func(c *middlewareConfig) { c.logger = l })
}

// tenantHandler is the http.Handler the Middleware wraps around next.
type tenantHandler struct {
	next http.Handler
	res  TenantResolver
	lk   Lookuper
	plk  ptrLookuper // lk, if it hands out its own immutable *Tenant; else nil
	cfg  middlewareConfig
}

func (h *tenantHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.cfg.skip != nil && h.cfg.skip(r) {
		h.next.ServeHTTP(w, r) // tenant-less by the application's choice
		return
	}
	if h.cfg.hooks != nil && h.cfg.hooks.Request != nil {
		h.observed(w, r)
		return
	}
	h.serve(w, r, nil)
}

// observed is ServeHTTP with the Request hook: the request runs with the hook's
// context, and the hook hears the outcome.
func (h *tenantHandler) observed(w http.ResponseWriter, r *http.Request) {
	ctx, done := h.cfg.hooks.Request(r)
	if ctx != nil {
		r = r.WithContext(ctx)
	}
	var ev RequestEvent
	if done != nil {
		// Deferred, so that a span is ended even if next panics (the panic goes on).
		defer func() { done(ev) }()
	}
	h.serve(w, r, &ev)
}

// serve resolves, looks up and calls next. ev, if not nil, receives the
// outcome for the Request hook.
func (h *tenantHandler) serve(w http.ResponseWriter, r *http.Request, ev *RequestEvent) {
	k, err := h.res.ResolveTenant(r)
	if err != nil {
		h.failEv(w, r, ev, err)
		return
	}
	if k.IsZero() {
		if h.cfg.optional {
			h.next.ServeHTTP(w, r)
			return
		}
		h.failEv(w, r, ev, &TenantError{Op: "resolve", Err: errNoTenantInRequest})
		return
	}

	// The hot path allocates only the request copy and its context: with a
	// ptrLookuper (the Registry) the cached *Tenant goes into the context as is.
	ctx := r.Context()
	var t *Tenant
	if h.plk != nil {
		t, err = h.plk.lookupPtr(ctx, k)
	} else {
		var v Tenant
		if v, err = h.lk.Lookup(ctx, k); err == nil {
			t = &v
		}
	}
	if err != nil {
		h.failEv(w, r, ev, lookupError(k, err))
		return
	}
	// Fail closed on a Lookuper that breaks its contract (a nil or zero Tenant
	// without an error is a common bug of hand-written ones): every query would
	// fail later anyway, but next must not run with a tenant that has no schema.
	if t == nil {
		h.failEv(w, r, ev, &TenantError{Op: "lookup", Key: keyLabel(k),
			Err: fmt.Errorf("%w: the Lookuper returned neither a tenant nor an error", ErrRegistryUnavailable)})
		return
	}
	if reason := schemaNameProblem(t.Schema); reason != "" {
		h.failEv(w, r, ev, &TenantError{Op: "lookup", Key: keyLabel(k),
			Err: fmt.Errorf("%w: the Lookuper returned tenant %d with schema %q: %s", ErrRegistryUnavailable, t.ID, clip(t.Schema), reason)})
		return
	}

	if ev != nil {
		ev.Key, ev.Tenant, ev.Found = k, *t, true
	}
	if h.cfg.suspended != nil && h.cfg.suspended(*t) {
		h.failEv(w, r, ev, &TenantError{Op: "lookup", Key: keyLabel(k), Err: ErrTenantSuspended})
		return
	}

	var path, rawPath string
	strip := k.StripPrefix != ""
	if strip {
		var ok bool
		if r.URL != nil && strings.HasPrefix(k.StripPrefix, k.KeepPrefix) {
			path, rawPath, ok = stripPrefix(r.URL.Path, r.URL.RawPath, k.StripPrefix)
		}
		if ok && k.KeepPrefix != "" {
			path = k.KeepPrefix + path
			if rawPath != "" {
				rawPath = k.KeepPrefix + rawPath
			}
		}
		if !ok {
			h.failEv(w, r, ev, &TenantError{Op: "resolve", Key: keyLabel(k),
				Err: fmt.Errorf("%w: the URL path does not begin with the tenant's prefix %q", ErrMalformedRequest, clip(k.StripPrefix))})
			return
		}
	}

	r2 := r.WithContext(newContextPtr(ctx, t))
	if strip {
		// Like http.StripPrefix: a new URL, so the caller's request is untouched.
		u := *r.URL
		u.Path, u.RawPath = path, rawPath
		r2.URL = &u
	}
	for _, auth := range h.cfg.authorizers {
		if err := auth(r2, *t); err != nil {
			h.failEv(w, r, ev, &TenantError{Op: "authorize", Key: keyLabel(k), Err: fmt.Errorf("%w: %w", ErrForbidden, err)})
			return
		}
	}
	h.next.ServeHTTP(w, r2)
}

// errNoTenantInRequest is what a request that names no tenant is refused with.
var errNoTenantInRequest = fmt.Errorf("the request names no tenant: %w", ErrNoTenant)

// lookupError makes sure a Lookuper's error matches a sentinel the status mapping
// knows, and names the key. An error that is not about the key itself (a database
// error, an expired context, anything unclassified) is the registry's failure:
// it is made to wrap ErrRegistryUnavailable, so that it is answered with 503
// rather than 500, and never with a 4xx that would blame the client.
func lookupError(k Key, err error) error {
	if !errors.Is(err, ErrRegistryUnavailable) && StatusCode(err) >= 500 {
		err = fmt.Errorf("%w: %w", ErrRegistryUnavailable, err)
	}
	var te *TenantError
	if !errors.As(err, &te) {
		err = &TenantError{Op: "lookup", Key: keyLabel(k), Err: err}
	}
	return err
}

// keyLabel names k in errors: its value as given, or "by:value&..." for the keys
// of an AllAgree chain.
func keyLabel(k Key) string {
	if k.By != 0 {
		return k.Value
	}
	return k.String()
}

// stripPrefix returns path and rawPath without prefix, each keeping a leading
// "/". ok is false unless both begin with prefix at a segment boundary (rawPath
// may be "", as in a URL whose path needs no special escaping).
func stripPrefix(path, rawPath, prefix string) (p, rp string, ok bool) {
	if p, ok = trimRooted(path, prefix); !ok {
		return "", "", false
	}
	if rawPath != "" {
		if rp, ok = trimRooted(rawPath, prefix); !ok {
			return "", "", false
		}
	}
	return p, rp, true
}

// trimRooted removes prefix from s and returns the rest as an absolute path. The
// prefix must end at a segment boundary: "/acme" is a prefix of "/acme" and
// "/acme/x" but not of "/acmex", which must not be served as "/x".
func trimRooted(s, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	switch {
	case !ok:
		return "", false
	case rest == "":
		return "/", true
	case rest[0] == '/':
		return rest, true
	case prefix[len(prefix)-1] == '/':
		return s[len(prefix)-1:], true // keep the prefix's own trailing "/"
	}
	return "", false
}

// fail logs err if a logger was given and has the error handler answer it.
func (h *tenantHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	l := h.cfg.logger
	if l == nil {
		l = slog.Default()
	}
	status := StatusCode(err)
	level := slog.LevelDebug
	switch {
	case status >= 500:
		level = slog.LevelError
	case status == http.StatusForbidden && !errors.Is(err, ErrTenantSuspended):
		level = slog.LevelWarn // a refused claim may be an attack; a suspension is not
	}
	// Enabled first: a probe flood of 404s costs no attribute building when
	// Debug is off, as it is by default.
	if ctx := r.Context(); l.Enabled(ctx, level) {
		path := ""
		if r.URL != nil {
			path = r.URL.Path
		}
		l.LogAttrs(ctx, level, "tenancy: request refused",
			slog.Int("status", status),
			slog.String("method", r.Method),
			slog.String("path", path),
			slog.Any("err", err))
	}
	h.cfg.onError(w, r, err)
}

// failEv is fail that also records the refusal in ev, if not nil.
func (h *tenantHandler) failEv(w http.ResponseWriter, r *http.Request, ev *RequestEvent, err error) {
	if ev != nil {
		ev.Status, ev.Err = StatusCode(err), err
	}
	h.fail(w, r, err)
}
