package tenancyotel_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/rtcount"
	"github.com/go-tenancy/tenancy/migrations"
	"github.com/go-tenancy/tenancy/tenancyotel"
	"github.com/go-tenancy/tenancy/tenancytest"
)

func TestMain(m *testing.M) { tenancytest.Main(m) }

type otelEnv struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	opts   []tenancyotel.Option
}

func newOtel(t *testing.T) *otelEnv {
	t.Helper()
	e := &otelEnv{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(e.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	e.opts = []tenancyotel.Option{tenancyotel.WithTracerProvider(tp), tenancyotel.WithMeterProvider(mp)}
	return e
}

// metrics collects and returns the data of the named metric.
func (e *otelEnv) metric(t *testing.T, name string) metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				if sm.Scope.Name != tenancyotel.ScopeName {
					t.Errorf("%s has scope %q", name, sm.Scope.Name)
				}
				return m.Data
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// count returns the sum's value for the data point whose attributes include kv.
func (e *otelEnv) count(t *testing.T, name string, kv ...attribute.KeyValue) int64 {
	t.Helper()
	sum, ok := e.metric(t, name).(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is not an int64 sum", name)
	}
	var n int64
	for _, dp := range sum.DataPoints {
		match := true
		for _, want := range kv {
			if got, ok := dp.Attributes.Value(want.Key); !ok || got != want.Value {
				match = false
			}
		}
		if match {
			n += dp.Value
		}
	}
	return n
}

func attrs(kv []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, a := range kv {
		m[a.Key] = a.Value
	}
	return m
}

// TestMiddlewareAndRegistry: spans with tenant.* attributes around each
// request (and on the span it arrived with), registry hits, misses and
// negative hits with the misses' latency, refusals by status.
func TestMiddlewareAndRegistry(t *testing.T) {
	o := newOtel(t)
	ctx := context.Background()
	db, err := tenancy.Open("postgres", tenancytest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	hooks := tenancyotel.Hooks(o.opts...)
	reg, err := tenancy.NewRegistry(db, tenancy.WithHooks(hooks))
	if err != nil {
		t.Fatal(err)
	}
	m, err := tenancy.NewMigrator(db, reg, migrations.Shared, migrations.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.MigrateShared(ctx); err != nil {
		t.Fatal(err)
	}
	acme, err := m.CreateTenant(ctx, tenancy.NewTenant{Name: "Acme", Schema: "acme"})
	if err != nil {
		t.Fatal(err)
	}

	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(o.spans)).Tracer("test")
	h := tenancy.Middleware(tenancy.HeaderResolver{}, reg, tenancy.WithHooks(hooks))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, span := tracer.Start(r.Context(), "handler")
			span.End()
		}))
	serve := func(tenant string) int {
		pctx, parent := tracer.Start(ctx, "server "+tenant) // what otelhttp would start
		defer parent.End()
		req := httptest.NewRequest("GET", "/", nil).WithContext(pctx)
		req.Header.Set("Tenant", tenant)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, c := range []struct {
		tenant string
		code   int
	}{{"acme", 200}, {"acme", 200}, {"globex", 404}, {"globex", 404}} {
		if got := serve(c.tenant); got != c.code {
			t.Fatalf("%s: %d, want %d", c.tenant, got, c.code)
		}
	}

	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range o.spans.Ended() {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	reqs := byName["tenancy.request"]
	if len(reqs) != 4 {
		t.Fatalf("%d tenancy.request spans, want 4", len(reqs))
	}
	a := attrs(reqs[0].Attributes())
	if a["tenant.schema"].AsString() != "acme" || a["tenant.id"].AsInt64() != acme.ID ||
		a["tenant.name"].AsString() != "Acme" || a["tenant.key"].AsString() != "schema:acme" {
		t.Errorf("tenancy.request attributes: %v", reqs[0].Attributes())
	}
	if reqs[0].SpanKind() != trace.SpanKindInternal || reqs[0].Status().Code == codes.Error {
		t.Errorf("tenancy.request: kind %v, status %v", reqs[0].SpanKind(), reqs[0].Status())
	}
	if hs := byName["handler"]; len(hs) != 2 || hs[0].Parent().SpanID() != reqs[0].SpanContext().SpanID() {
		t.Errorf("the handler's span is not a child of tenancy.request")
	}
	if ps := byName["server acme"]; len(ps) != 2 || attrs(ps[0].Attributes())["tenant.schema"].AsString() != "acme" {
		t.Errorf("the request's own span did not get the tenant.* attributes")
	}
	bad := reqs[2]
	if bad.Status().Code != codes.Error || attrs(bad.Attributes())["http.response.status_code"].AsInt64() != 404 {
		t.Errorf("refused request's span: status %v, attributes %v", bad.Status(), bad.Attributes())
	}

	// Lookups: MigrateShared/CreateTenant made none through the cache; the four
	// requests were a miss, a hit, a miss (no tenant), a negative hit.
	if n := o.count(t, "tenancy.registry.lookups", attribute.String("outcome", "miss"), attribute.Bool("found", true)); n != 1 {
		t.Errorf("misses that found a tenant: %d, want 1", n)
	}
	if n := o.count(t, "tenancy.registry.lookups", attribute.String("outcome", "hit")); n != 1 {
		t.Errorf("hits: %d, want 1", n)
	}
	if n := o.count(t, "tenancy.registry.lookups", attribute.String("outcome", "miss"), attribute.Bool("found", false)); n != 1 {
		t.Errorf("misses that found none: %d, want 1", n)
	}
	if n := o.count(t, "tenancy.registry.lookups", attribute.String("outcome", "negative_hit")); n != 1 {
		t.Errorf("negative hits: %d, want 1", n)
	}
	hist, ok := o.metric(t, "tenancy.registry.lookup.duration").(metricdata.Histogram[float64])
	if !ok || len(hist.DataPoints) != 1 || hist.DataPoints[0].Count != 2 || hist.DataPoints[0].Sum <= 0 {
		t.Errorf("lookup latency: %+v", hist)
	}
	if n := o.count(t, "tenancy.middleware.refusals", attribute.Int("http.response.status_code", 404)); n != 2 {
		t.Errorf("404 refusals: %d, want 2", n)
	}

	// Fleet progress, chained with a callback of the application's.
	calls := 0
	rep, err := m.UpgradeFleet(ctx, tenancy.FleetOptions{Progress: tenancyotel.ChainFleetProgress(
		func(tenancy.FleetProgress) { calls++ }, tenancyotel.FleetProgress(o.opts...))})
	if err != nil || rep.Skipped != 1 || calls != 1 {
		t.Fatalf("UpgradeFleet: %+v, %v (%d calls)", rep, err, calls)
	}
	if n := o.count(t, "tenancy.fleet.tenants", attribute.String("result", "skipped")); n != 1 {
		t.Errorf("fleet skipped: %d, want 1", n)
	}
	g, ok := o.metric(t, "tenancy.fleet.remaining").(metricdata.Gauge[int64])
	if !ok || len(g.DataPoints) != 1 || g.DataPoints[0].Value != 0 {
		t.Errorf("fleet remaining: %+v", g)
	}

	// Jobs.
	jrep, err := reg.ForEach(ctx, tenancy.JobOptions{Progress: tenancyotel.JobProgress("reindex", o.opts...)},
		func(ctx context.Context, t tenancy.Tenant) error { return errors.New("no") })
	if err != nil || jrep.Failed != 1 {
		t.Fatalf("ForEach: %+v, %v", jrep, err)
	}
	if n := o.count(t, "tenancy.jobs.tenants", attribute.String("job", "reindex"), attribute.String("result", "failed")); n != 1 {
		t.Errorf("job failures: %d, want 1", n)
	}
}

// TestDBHooks drives the DB-level hooks the way a DB connection calls them:
// switches by kind, affinity attempts, and a client span per traced statement
// (none for an untraced one).
func TestDBHooks(t *testing.T) {
	o := newOtel(t)
	h := tenancyotel.Hooks(o.opts...)
	ctx := context.Background()
	h.SchemaSwitch(ctx, tenancy.SwitchEvent{Schema: "acme", WithStatement: true})
	h.SchemaSwitch(ctx, tenancy.SwitchEvent{Schema: "acme", WithStatement: true})
	h.SchemaSwitch(ctx, tenancy.SwitchEvent{Schema: "acme", Mode: tenancy.TransactionMode})
	h.AffinityTrade(ctx, tenancy.TradeEvent{Schema: "acme", Traded: true})
	h.AffinityTrade(ctx, tenancy.TradeEvent{Schema: "acme"})
	if n := o.count(t, "tenancy.db.schema_switches", attribute.Bool("with_statement", true), attribute.String("mode", "session")); n != 2 {
		t.Errorf("switches sent with the statement: %d, want 2", n)
	}
	if n := o.count(t, "tenancy.db.schema_switches", attribute.Bool("with_statement", false), attribute.String("mode", "transaction")); n != 1 {
		t.Errorf("switches of their own: %d, want 1", n)
	}
	if n := o.count(t, "tenancy.db.affinity.attempts", attribute.Bool("traded", true)); n != 1 {
		t.Errorf("trades: %d, want 1", n)
	}

	if done := h.Statement(ctx, tenancy.StatementEvent{Query: "SELECT 1", Schema: "acme"}); done != nil {
		t.Error("an untraced statement got a span")
	}
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(o.spans)).Tracer("test")
	tctx, parent := tracer.Start(ctx, "handler")
	done := h.Statement(tctx, tenancy.StatementEvent{Query: "  select email FROM users", Schema: "acme"})
	if done == nil {
		t.Fatal("a traced statement got no span")
	}
	done(errors.New("boom"))
	parent.End()
	var st sdktrace.ReadOnlySpan
	for _, s := range o.spans.Ended() {
		if s.Name() == "tenancy.statement SELECT" {
			st = s
		}
	}
	if st == nil {
		t.Fatalf("no tenancy.statement SELECT span among %d", len(o.spans.Ended()))
	}
	a := attrs(st.Attributes())
	if st.SpanKind() != trace.SpanKindClient || a["tenant.schema"].AsString() != "acme" ||
		a["db.query.text"].AsString() != "  select email FROM users" || st.Status().Code != codes.Error {
		t.Errorf("statement span: kind %v, attributes %v, status %v", st.SpanKind(), st.Attributes(), st.Status())
	}
}

// TestTraceDB: each traced call is a client span with the tenant's schema, an
// untraced context starts none, and tracing costs no round trip: a statement
// that needs a switch still sends it with the statement.
func TestTraceDB(t *testing.T) {
	o := newOtel(t)
	ctx := context.Background()
	dsn := tenancytest.NewDatabase(t)
	rt := &rtcount.Counter{}
	c, err := pq.NewConnector(dsn)
	if err != nil {
		t.Fatal(err)
	}
	c.Dialer(rt)
	db, err := tenancy.OpenConnector(c, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.Pool().SetMaxOpenConns(1)
	reg, err := tenancy.NewRegistry(db)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tenancy.NewMigrator(db, reg, migrations.Shared, migrations.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.MigrateShared(ctx); err != nil {
		t.Fatal(err)
	}
	var tenants [2]tenancy.Tenant
	for i, s := range []string{"acme", "globex"} {
		if tenants[i], err = m.CreateTenant(ctx, tenancy.NewTenant{Name: s, Schema: s}); err != nil {
			t.Fatal(err)
		}
	}
	tdb := tenancyotel.TraceDB(db, o.opts...)
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(o.spans)).Tracer("test")

	// Round trips of a switching statement without arguments, plain and traced.
	cost := func(q interface {
		GetContext(context.Context, any, string, ...any) error
	}, traced bool) int64 {
		var n int
		for _, tn := range tenants { // warm up: the connection ends on globex
			if err := q.GetContext(tenancy.NewContext(ctx, tn), &n, `SELECT count(*) FROM users`); err != nil {
				t.Fatal(err)
			}
		}
		actx := tenancy.NewContext(ctx, tenants[0])
		var span trace.Span
		if traced {
			actx, span = tracer.Start(actx, "handler")
			defer span.End()
		}
		rt.Reset()
		if err := q.GetContext(actx, &n, `SELECT count(*) FROM users`); err != nil {
			t.Fatal(err)
		}
		return rt.Reset()
	}
	plain, traced := cost(db, false), cost(tdb, true)
	t.Logf("round trips of a switching SELECT: untraced %d, traced %d", plain, traced)
	if plain < 1 {
		t.Fatalf("the statement cost %d round trips: the counter saw nothing", plain)
	}
	if traced != plain {
		t.Errorf("a traced switching statement costs %d round trips, untraced %d", traced, plain)
	}
	var stmt sdktrace.ReadOnlySpan
	for _, s := range o.spans.Ended() {
		if s.Name() == "tenancy.statement SELECT" {
			if stmt != nil {
				t.Errorf("more than one statement span: the warm-up (untraced) made one")
			}
			stmt = s
		}
	}
	if stmt == nil || attrs(stmt.Attributes())["tenant.schema"].AsString() != "acme" || stmt.SpanKind() != trace.SpanKindClient {
		t.Fatalf("statement span: %v", stmt)
	}
	// A failing statement records its error.
	fctx, span := tracer.Start(tenancy.NewContext(ctx, tenants[1]), "handler")
	if _, err := tdb.ExecContext(fctx, `INSERT INTO nope VALUES (1)`); err == nil {
		t.Fatal("INSERT INTO nope succeeded")
	}
	span.End()
	var failed bool
	for _, s := range o.spans.Ended() {
		if s.Name() == "tenancy.statement INSERT" && s.Status().Code == codes.Error {
			failed = true
		}
	}
	if !failed {
		t.Error("the failed statement's span has no error status")
	}
}

// TestRequestSpanEndsOnPanic: a handler that panics still ends the request's
// span (and the panic goes on to the server).
func TestRequestSpanEndsOnPanic(t *testing.T) {
	o := newOtel(t)
	lk := tenancy.LookuperFunc(func(context.Context, tenancy.Key) (tenancy.Tenant, error) {
		return tenancy.Tenant{ID: 1, Name: "Acme", Schema: "acme"}, nil
	})
	h := tenancy.Middleware(tenancy.HeaderResolver{}, lk, tenancy.WithHooks(tenancyotel.Hooks(o.opts...)))(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Tenant", "acme")
	func() {
		defer func() {
			if r := recover(); r != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", r)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), req)
	}()
	ended := o.spans.Ended()
	if len(ended) != 1 || ended[0].Name() != "tenancy.request" || attrs(ended[0].Attributes())["tenant.schema"].AsString() != "acme" {
		t.Fatalf("ended spans: %v", ended)
	}
}
