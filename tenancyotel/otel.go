// Package tenancyotel reports what package tenancy does to OpenTelemetry:
// spans with tenant.* attributes for each request the [tenancy.Middleware]
// handles, and metrics for the tenant registry (hits, misses and negative
// hits, lookup latency), the DB's schema switches (sent with the statement or
// in a round trip of their own) and affinity trades, and the progress of fleet
// upgrades and jobs. It is a package of its own so that the tenancy package
// imports no OpenTelemetry.
//
//	h := tenancyotel.Hooks() // the global TracerProvider and MeterProvider
//	reg, err := tenancy.NewRegistry(db, tenancy.WithHooks(h))
//	mw := tenancy.Middleware(res, reg, tenancy.WithHooks(h))
//	rep, err := m.UpgradeFleet(ctx, tenancy.FleetOptions{Progress: tenancyotel.FleetProgress()})
//
// Until an application installs providers (otel.SetTracerProvider,
// otel.SetMeterProvider), the global ones do nothing, and so do these hooks:
// spans are not recording, so no attribute is built for them, and the
// metrics' attribute sets are built once, in [Hooks], not per event. Without
// tenancyotel at all, the library's hooks are nil checks.
//
// # Spans
//
// "tenancy.request" (internal) covers the middleware and the handler behind
// it, with tenant.id, tenant.name, tenant.schema and tenant.key; a refused
// request has an error status and http.response.status_code. The same tenant.*
// attributes are added to the span the request arrived with (otelhttp's server
// span, say), so that the HTTP server's traces show their tenant.
//
// "tenancy.statement SELECT" (client; the statement's first keyword), one per
// statement whose context is traced, with db.system.name, db.query.text and
// tenant.schema: from [TraceDB]'s methods, and from [tenancy.Hooks].Statement
// once the DB calls it.
//
// # Metrics
//
//	tenancy.registry.lookups          counter    outcome (hit, negative_hit, miss, error), found
//	tenancy.registry.lookup.duration  histogram  s; misses and errors only (hits are not timed)
//	tenancy.middleware.refusals       counter    http.response.status_code
//	tenancy.db.schema_switches        counter    with_statement (true: no round trip of its own), mode
//	tenancy.db.affinity.attempts      counter    traded
//	tenancy.fleet.tenants             counter    result (upgraded, skipped, failed)
//	tenancy.fleet.remaining           gauge      tenants of the running fleet upgrade not yet accounted for
//	tenancy.jobs.tenants              counter    result (succeeded, failed, skipped, not_run)
package tenancyotel

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-tenancy/tenancy"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/go-tenancy/tenancy"

// An Option configures [Hooks], [FleetProgress] and [JobProgress].
type Option func(*config)

type config struct {
	tp trace.TracerProvider
	mp metric.MeterProvider
}

// WithTracerProvider uses tp instead of the global TracerProvider.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// WithMeterProvider uses mp instead of the global MeterProvider.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

func newConfig(opts []Option) config {
	c := config{tp: otel.GetTracerProvider(), mp: otel.GetMeterProvider()}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// instruments are created once per Hooks call; OpenTelemetry's instruments are
// safe for concurrent use. otel reports instrument-creation errors to its
// global error handler and returns working no-op instruments, so they are not
// checked here.
type instruments struct {
	tracer      trace.Tracer
	lookups     metric.Int64Counter
	lookupDur   metric.Float64Histogram
	refusals    metric.Int64Counter
	switches    metric.Int64Counter
	trades      metric.Int64Counter
	lookupAttrs map[lookupAttrKey]metric.AddOption
	switchAttrs [2][2]metric.AddOption // [withStatement][transaction mode]
	tradeAttrs  [2]metric.AddOption
}

type lookupAttrKey struct {
	outcome tenancy.LookupOutcome
	found   bool
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Hooks returns [tenancy.Hooks] that report to OpenTelemetry. Call it once and
// give the result to the Registry and the Middleware (and to the DB, once Open
// takes hooks).
func Hooks(opts ...Option) tenancy.Hooks {
	c := newConfig(opts)
	m := c.mp.Meter(ScopeName)
	in := &instruments{tracer: c.tp.Tracer(ScopeName), lookupAttrs: map[lookupAttrKey]metric.AddOption{}}
	in.lookups, _ = m.Int64Counter("tenancy.registry.lookups",
		metric.WithDescription("Tenant registry lookups, by outcome."), metric.WithUnit("{lookup}"))
	in.lookupDur, _ = m.Float64Histogram("tenancy.registry.lookup.duration",
		metric.WithDescription("Latency of registry lookups that went to the database."), metric.WithUnit("s"))
	in.refusals, _ = m.Int64Counter("tenancy.middleware.refusals",
		metric.WithDescription("Requests the middleware refused, by status."), metric.WithUnit("{request}"))
	in.switches, _ = m.Int64Counter("tenancy.db.schema_switches",
		metric.WithDescription("search_path switches; with_statement=true travelled with the statement."), metric.WithUnit("{switch}"))
	in.trades, _ = m.Int64Counter("tenancy.db.affinity.attempts",
		metric.WithDescription("Affinity attempts; traded=true found an idle connection on the schema."), metric.WithUnit("{attempt}"))
	for _, o := range []tenancy.LookupOutcome{tenancy.LookupHit, tenancy.LookupNegativeHit, tenancy.LookupMiss, tenancy.LookupError} {
		for _, found := range []bool{false, true} {
			in.lookupAttrs[lookupAttrKey{o, found}] = metric.WithAttributeSet(attribute.NewSet(
				attribute.String("outcome", o.String()), attribute.Bool("found", found)))
		}
	}
	for ws := range 2 {
		for tx := range 2 {
			mode := tenancy.SessionMode
			if tx == 1 {
				mode = tenancy.TransactionMode
			}
			in.switchAttrs[ws][tx] = metric.WithAttributeSet(attribute.NewSet(
				attribute.Bool("with_statement", ws == 1), attribute.String("mode", mode.String())))
		}
	}
	for traded := range 2 {
		in.tradeAttrs[traded] = metric.WithAttributeSet(attribute.NewSet(attribute.Bool("traded", traded == 1)))
	}
	return tenancy.Hooks{
		Request:       in.request,
		Lookup:        in.lookup,
		SchemaSwitch:  in.schemaSwitch,
		AffinityTrade: in.affinityTrade,
		Statement:     in.statement,
	}
}

// tenantAttrs are the tenant.* attributes of a span.
func tenantAttrs(ev tenancy.RequestEvent) []attribute.KeyValue {
	kv := make([]attribute.KeyValue, 0, 4)
	if !ev.Key.IsZero() {
		kv = append(kv, attribute.String("tenant.key", ev.Key.String()))
	}
	if ev.Found {
		kv = append(kv,
			attribute.Int64("tenant.id", ev.Tenant.ID),
			attribute.String("tenant.name", ev.Tenant.Name),
			attribute.String("tenant.schema", ev.Tenant.Schema))
	}
	return kv
}

func (in *instruments) request(r *http.Request) (context.Context, func(tenancy.RequestEvent)) {
	parent := trace.SpanFromContext(r.Context())
	ctx, span := in.tracer.Start(r.Context(), "tenancy.request", trace.WithSpanKind(trace.SpanKindInternal))
	return ctx, func(ev tenancy.RequestEvent) {
		if ev.Status != 0 {
			in.refusals.Add(ctx, 1, metric.WithAttributes(attribute.Int("http.response.status_code", ev.Status)))
		}
		if span.IsRecording() || parent.IsRecording() {
			kv := tenantAttrs(ev)
			parent.SetAttributes(kv...)
			if ev.Status != 0 {
				kv = append(kv, attribute.Int("http.response.status_code", ev.Status))
				span.SetStatus(codes.Error, http.StatusText(ev.Status))
				if ev.Err != nil && ev.Status >= 500 {
					span.RecordError(ev.Err)
				}
			}
			span.SetAttributes(kv...)
		}
		span.End()
	}
}

func (in *instruments) lookup(ctx context.Context, e tenancy.LookupEvent) {
	in.lookups.Add(ctx, 1, in.lookupAttrs[lookupAttrKey{e.Outcome, e.Found}])
	if e.Outcome == tenancy.LookupMiss || e.Outcome == tenancy.LookupError {
		in.lookupDur.Record(ctx, e.Duration.Seconds())
	}
}

func (in *instruments) schemaSwitch(ctx context.Context, e tenancy.SwitchEvent) {
	in.switches.Add(ctx, 1, in.switchAttrs[b2i(e.WithStatement)][b2i(e.Mode == tenancy.TransactionMode)])
}

func (in *instruments) affinityTrade(ctx context.Context, e tenancy.TradeEvent) {
	in.trades.Add(ctx, 1, in.tradeAttrs[b2i(e.Traded)])
}

// statement starts a client span per statement, only when the statement's
// context is traced: an untraced statement costs a context lookup.
func (in *instruments) statement(ctx context.Context, e tenancy.StatementEvent) func(error) {
	if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		return nil
	}
	_, span := in.tracer.Start(ctx, "tenancy.statement "+operation(e.Query), trace.WithSpanKind(trace.SpanKindClient))
	if !span.IsRecording() {
		span.End()
		return nil
	}
	span.SetAttributes(
		attribute.String("db.system.name", "postgresql"),
		attribute.String("db.query.text", e.Query),
		attribute.String("tenant.schema", e.Schema))
	return func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "statement failed")
		}
		span.End()
	}
}

// operation is the statement's first keyword, upper-cased ("SELECT"), for the
// span name: bounded cardinality, unlike the text.
func operation(q string) string {
	q = strings.TrimSpace(q)
	end := strings.IndexFunc(q, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') })
	if end < 0 {
		end = len(q)
	}
	if end == 0 || end > 16 {
		return "SQL"
	}
	return strings.ToUpper(q[:end])
}

// FleetProgress returns a [tenancy.FleetOptions].Progress callback that counts
// the fleet's tenants by result (tenancy.fleet.tenants) and reports how many
// are left (tenancy.fleet.remaining). Wrap an existing callback with
// [ChainFleetProgress].
func FleetProgress(opts ...Option) func(tenancy.FleetProgress) {
	m := newConfig(opts).mp.Meter(ScopeName)
	tenants, _ := m.Int64Counter("tenancy.fleet.tenants",
		metric.WithDescription("Tenants accounted for by fleet upgrades, by result."), metric.WithUnit("{tenant}"))
	remaining, _ := m.Int64Gauge("tenancy.fleet.remaining",
		metric.WithDescription("Tenants of the running fleet upgrade not yet accounted for."), metric.WithUnit("{tenant}"))
	results := map[string]metric.AddOption{}
	for _, r := range []string{"upgraded", "skipped", "failed"} {
		results[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", r)))
	}
	return func(p tenancy.FleetProgress) {
		ctx := context.Background() // the callback gets no context; metrics need none
		result := "upgraded"
		switch {
		case p.Last.Err != nil:
			result = "failed"
		case p.Last.Skipped:
			result = "skipped"
		}
		tenants.Add(ctx, 1, results[result])
		remaining.Record(ctx, int64(p.Total-p.Done))
	}
}

// ChainFleetProgress returns a callback that calls each of fs in turn (nil
// ones are left out): for a CLI's progress bar and [FleetProgress] together.
func ChainFleetProgress(fs ...func(tenancy.FleetProgress)) func(tenancy.FleetProgress) {
	return func(p tenancy.FleetProgress) {
		for _, f := range fs {
			if f != nil {
				f(p)
			}
		}
	}
}

// JobProgress returns a [tenancy.JobOptions].Progress callback that counts the
// tenants of [tenancy.Registry.ForEach] runs by result (tenancy.jobs.tenants),
// with a job attribute naming the job.
func JobProgress(job string, opts ...Option) func(tenancy.JobProgress) {
	m := newConfig(opts).mp.Meter(ScopeName)
	tenants, _ := m.Int64Counter("tenancy.jobs.tenants",
		metric.WithDescription("Tenants accounted for by per-tenant jobs, by result."), metric.WithUnit("{tenant}"))
	results := map[string]metric.AddOption{}
	for _, r := range []string{"succeeded", "failed", "skipped", "not_run"} {
		results[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String("job", job), attribute.String("result", r)))
	}
	return func(p tenancy.JobProgress) {
		result := "succeeded"
		switch {
		case p.Last.NotRun:
			result = "not_run"
		case p.Last.Skipped:
			result = "skipped"
		case p.Last.Err != nil:
			result = "failed"
		}
		tenants.Add(context.Background(), 1, results[result])
	}
}
