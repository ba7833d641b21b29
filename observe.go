package tenancy

import (
	"context"
	"net/http"
	"time"
)

// Hooks are the points where the library reports what it does, for metrics
// and tracing: package tenancyotel fills them in with OpenTelemetry, and an
// application may fill them in with anything else. Every field is optional; a
// nil field costs one nil check where it would be called (no clock is read, no
// event is built). Hooks are called synchronously on the path they observe, so
// they must be fast and safe for concurrent use, and must not modify the
// events they receive.
//
// Give the same Hooks to the Registry and the Middleware with [WithHooks]:
//
//	h := tenancyotel.Hooks()
//	reg, err := tenancy.NewRegistry(db, tenancy.WithHooks(h))
//	mw := tenancy.Middleware(res, reg, tenancy.WithHooks(h))
type Hooks struct {
	// Request is called by the [Middleware] for each request it handles (not
	// for those [WithSkip] skips), before the tenant is resolved. The context
	// it returns becomes the request's (it may carry a span: the handler's own
	// spans are then its children), and done is called exactly once, after next
	// has returned or the refusal has been written, with the outcome. done may
	// be nil.
	Request func(r *http.Request) (ctx context.Context, done func(RequestEvent))

	// Lookup is called after each [Registry] lookup of one key (an [AllAgree]
	// chain reports each of its keys), from the cache or from the database.
	Lookup func(ctx context.Context, e LookupEvent)

	// SchemaSwitch is called by a [SessionMode] [DB] connection each time its
	// session passes to another tenant: the reset that clears what the previous
	// tenant left went out (every statement carries its SET anyway). (DB-level
	// hooks are attached to a DB by passing [WithHooks] to [Open].)
	SchemaSwitch func(ctx context.Context, e SwitchEvent)

	// AffinityTrade is called by a [DB] connection with [WithAffinity] each
	// time it looks for an idle physical connection already on its schema.
	AffinityTrade func(ctx context.Context, e TradeEvent)

	// Statement, if set, is called by a [DB] connection before each statement
	// it sends, and the returned function (which may be nil) after it: the way
	// to trace statements without wrapping the driver (a wrapped driver would
	// hide lib/pq from the DB and cost the switch-with-the-statement fast
	// path). ctx is the statement's own.
	Statement func(ctx context.Context, e StatementEvent) (done func(err error))
}

// RequestEvent is the outcome of one request handled by the [Middleware].
type RequestEvent struct {
	// Tenant is the request's tenant, if it was found (Found).
	Tenant Tenant
	Found  bool
	// Key is what the resolver found; the zero Key if none.
	Key Key
	// Status is the status of the refusal (a 4xx or 5xx), or 0 if the request
	// reached next.
	Status int
	// Err is why the request was refused, or nil.
	Err error
}

// LookupOutcome classifies a [Registry] lookup.
type LookupOutcome uint8

const (
	// LookupHit: the tenant was in the cache.
	LookupHit LookupOutcome = iota + 1
	// LookupNegativeHit: the cache knew the key names no tenant.
	LookupNegativeHit
	// LookupMiss: the database was asked (or a concurrent lookup of the same
	// key was joined); Found says whether it knew the tenant.
	LookupMiss
	// LookupError: the registry could not be read.
	LookupError
)

func (o LookupOutcome) String() string {
	switch o {
	case LookupHit:
		return "hit"
	case LookupNegativeHit:
		return "negative_hit"
	case LookupMiss:
		return "miss"
	case LookupError:
		return "error"
	}
	return "invalid"
}

// LookupEvent is one [Registry] lookup.
type LookupEvent struct {
	Key     Key
	Outcome LookupOutcome
	// Found reports whether a tenant was found (a hit, or a miss the database
	// answered with a tenant).
	Found bool
	// Duration is how long the lookup took; 0 for cache hits (not measured).
	Duration time.Duration
	// Err is the registry's error, for LookupError.
	Err error
}

// SwitchEvent is one search_path switch made by a [DB] connection.
type SwitchEvent struct {
	// Schema is the schema switched to.
	Schema string
	// WithStatement reports that the reset and SET travelled in front of the
	// statement (no round trip of their own); false means a round trip of their own.
	WithStatement bool
	// Mode is the DB's mode: SET for [SessionMode], SET LOCAL for
	// [TransactionMode].
	Mode Mode
}

// TradeEvent is one affinity attempt ([WithAffinity]).
type TradeEvent struct {
	// Schema is the schema the connection wanted.
	Schema string
	// Traded reports that an idle physical connection on Schema was found and
	// swapped in (the switch was saved).
	Traded bool
}

// StatementEvent describes a statement a [DB] connection is about to send.
type StatementEvent struct {
	// Query is the statement's text.
	Query string
	// Schema is the schema it runs in.
	Schema string
	// Tenant is the statement context's tenant, if it has one (not for the
	// shared schema or the Migrator's own statements).
	Tenant *Tenant
}

// WithHooks attaches h to a [Registry] (as a [RegistryOption]: [Hooks.Lookup]),
// to the [Middleware] (as a [MiddlewareOption]: [Hooks.Request]) or to a [DB] (as
// an [Option] of [Open]: [Hooks.SchemaSwitch], [Hooks.AffinityTrade],
// [Hooks.Statement]). The default is no hooks, which costs a nil check. Given more
// than once, the last one wins.
func WithHooks(h Hooks) HooksOption { return HooksOption{h: &h} }

// HooksOption is what [WithHooks] returns: an option for [NewRegistry] and
// [Middleware] alike.
type HooksOption struct{ h *Hooks }

func (o HooksOption) applyRegistry(c *registryConfig) error {
	c.hooks = o.h
	return nil
}

func (o HooksOption) applyMiddleware(c *middlewareConfig) { c.hooks = o.h }

func (o HooksOption) apply(c *config) error {
	c.hooks = o.h
	return nil
}

var (
	_ RegistryOption   = HooksOption{}
	_ MiddlewareOption = HooksOption{}
	_ Option           = HooksOption{}
)
