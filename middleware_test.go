package tenancy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// mwAcme is the tenant the middleware tests' fake registry knows.
var mwAcme = &Tenant{ID: 7, Name: "Acme", Schema: "acme", CreatedAt: time.Unix(1700000000, 0).UTC()}

// mwPtrLookuper is a fake registry that, like *Registry, implements ptrLookuper.
type mwPtrLookuper func(ctx context.Context, k Key) (*Tenant, error)

func (f mwPtrLookuper) lookupPtr(ctx context.Context, k Key) (*Tenant, error) { return f(ctx, k) }

func (f mwPtrLookuper) Lookup(ctx context.Context, k Key) (Tenant, error) {
	t, err := f(ctx, k)
	if t == nil {
		return Tenant{}, err
	}
	return *t, err
}

var _ ptrLookuper = mwPtrLookuper(nil)

// mwLookupers returns the two ways a Lookuper can be seen by the middleware: as a
// ptrLookuper (the Registry's fast path) and as a plain LookuperFunc.
func mwLookupers(f func(ctx context.Context, k Key) (*Tenant, error)) map[string]Lookuper {
	return map[string]Lookuper{
		"ptr":   mwPtrLookuper(f),
		"value": LookuperFunc(mwPtrLookuper(f).Lookup),
	}
}

// mwRegistry knows mwAcme by schema.
func mwRegistry(_ context.Context, k Key) (*Tenant, error) {
	if k.By == BySchema && k.Value == mwAcme.Schema {
		return mwAcme, nil
	}
	return nil, &TenantError{Op: "lookup", Key: k.Value, Err: ErrUnknownTenant}
}

func mwKey(k Key) ResolverFunc {
	return func(*http.Request) (Key, error) { return k, nil }
}

func mwResolveErr(err error) ResolverFunc {
	return func(*http.Request) (Key, error) { return Key{}, err }
}

func mwLookupErr(err error) func(context.Context, Key) (*Tenant, error) {
	return func(context.Context, Key) (*Tenant, error) { return nil, err }
}

// errSecret stands for a driver error whose text must never reach a client.
var errSecret = errors.New(`pq: password authentication failed for user "s3cret-admin"`)

type mwProblem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// checkProblem checks that rec holds a problem+json response with status want.
func checkProblem(t *testing.T, rec *httptest.ResponseRecorder, want int) mwProblem {
	t.Helper()
	if rec.Code != want {
		t.Errorf("status = %d, want %d (body %s)", rec.Code, want, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != ProblemContentType {
		t.Errorf("Content-Type = %q, want %q", ct, ProblemContentType)
	}
	if v := rec.Header().Get("X-Content-Type-Options"); v != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", v)
	}
	var p mwProblem
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("body is not a problem document: %v: %s", err, rec.Body)
	}
	if p.Status != want {
		t.Errorf("problem status = %d, want %d", p.Status, want)
	}
	if p.Type == "" || p.Title == "" {
		t.Errorf("problem without type or title: %+v", p)
	}
	return p
}

func TestMiddlewareFailures(t *testing.T) {
	strip := func(p string) ResolverFunc { return mwKey(Key{By: BySchema, Value: "acme", StripPrefix: p}) }
	deny := errors.New("not a member")
	tests := []struct {
		name     string
		res      TenantResolver
		lookup   func(context.Context, Key) (*Tenant, error)
		opts     []MiddlewareOption
		target   string
		status   int
		is       []error // what the error handler's error must match
		typ      string  // problem type suffix; "" means about:blank
		inDetail string
	}{
		{name: "no tenant", res: mwKey(Key{}),
			status: 400, is: []error{ErrNoTenant}, typ: "ErrNoTenant"},
		{name: "malformed", res: mwResolveErr(fmt.Errorf("%w: header %q is empty", ErrMalformedRequest, "Tenant")),
			status: 400, is: []error{ErrMalformedRequest}, typ: "ErrMalformedRequest"},
		{name: "resolvers disagree", res: mwResolveErr(fmt.Errorf("%w: schema %q and %q", ErrTenantMismatch, "a", "b")),
			status: 400, is: []error{ErrTenantMismatch}, typ: "ErrTenantMismatch"},
		{name: "resolver unknown tenant", res: mwResolveErr(&TenantError{Op: "resolve subdomain", Key: "acme-corp", Err: ErrUnknownTenant}),
			status: 404, is: []error{ErrUnknownTenant}, typ: "ErrUnknownTenant", inDetail: `"acme-corp"`},
		{name: "resolver own failure", res: mwResolveErr(errSecret),
			status: 500, is: []error{errSecret}},
		{name: "resolver context ended", res: mwResolveErr(context.Canceled),
			status: 503, is: []error{context.Canceled}},
		{name: "unknown tenant", res: mwKey(SchemaKey("globex")),
			status: 404, is: []error{ErrUnknownTenant}, typ: "ErrUnknownTenant", inDetail: `No tenant matches "globex".`},
		{name: "unknown tenant, bare sentinel", res: mwKey(SchemaKey("globex")), lookup: mwLookupErr(ErrUnknownTenant),
			status: 404, is: []error{ErrUnknownTenant}, typ: "ErrUnknownTenant", inDetail: `"globex"`},
		{name: "unknown tenant, long key", res: mwKey(NameKey(strings.Repeat("x", 10000))),
			status: 404, is: []error{ErrUnknownTenant}, typ: "ErrUnknownTenant", inDetail: `xxx..."`},
		{name: "invalid schema name", res: mwKey(SchemaKey("Acme")),
			lookup: mwLookupErr(&SchemaNameError{Name: "Acme", Reason: "upper case"}),
			status: 404, is: []error{ErrInvalidSchemaName}, typ: "ErrUnknownTenant"},
		{name: "lookup mismatch", res: mwKey(SchemaKey("acme")),
			lookup: mwLookupErr(&TenantError{Op: "lookup", Key: "schema:acme&host:globex.com", Err: ErrTenantMismatch}),
			status: 400, is: []error{ErrTenantMismatch}, typ: "ErrTenantMismatch"},
		{name: "registry unavailable", res: mwKey(SchemaKey("acme")),
			lookup: mwLookupErr(&TenantError{Op: "lookup", Key: "acme", Err: fmt.Errorf("%w: %w", ErrRegistryUnavailable, errSecret)}),
			status: 503, is: []error{ErrRegistryUnavailable, errSecret}, typ: "ErrRegistryUnavailable"},
		{name: "generic lookup error", res: mwKey(SchemaKey("acme")), lookup: mwLookupErr(errSecret),
			status: 503, is: []error{ErrRegistryUnavailable, errSecret}, typ: "ErrRegistryUnavailable"},
		{name: "lookup canceled", res: mwKey(SchemaKey("acme")), lookup: mwLookupErr(context.Canceled),
			status: 503, is: []error{ErrRegistryUnavailable, context.Canceled}, typ: "ErrRegistryUnavailable"},
		{name: "lookup deadline", res: mwKey(SchemaKey("acme")), lookup: mwLookupErr(fmt.Errorf("query: %w", context.DeadlineExceeded)),
			status: 503, is: []error{ErrRegistryUnavailable, context.DeadlineExceeded}, typ: "ErrRegistryUnavailable"},
		{name: "lookup returns nothing", res: mwKey(SchemaKey("acme")), lookup: mwLookupErr(nil),
			status: 503, is: []error{ErrRegistryUnavailable}, typ: "ErrRegistryUnavailable"},
		{name: "lookup returns a zero tenant", res: mwKey(SchemaKey("acme")),
			lookup: func(context.Context, Key) (*Tenant, error) { return &Tenant{ID: 1}, nil },
			status: 503, is: []error{ErrRegistryUnavailable}, typ: "ErrRegistryUnavailable"},
		{name: "lookup returns a bad schema", res: mwKey(SchemaKey("acme")),
			lookup: func(context.Context, Key) (*Tenant, error) { return &Tenant{ID: 1, Schema: "public"}, nil },
			status: 503, is: []error{ErrRegistryUnavailable}, typ: "ErrRegistryUnavailable"},
		{name: "authorizer denies", res: mwKey(SchemaKey("acme")),
			opts:   []MiddlewareOption{WithAuthorizer(func(*http.Request, Tenant) error { return deny })},
			status: 403, is: []error{ErrForbidden, deny}, typ: "ErrForbidden"},
		{name: "second authorizer denies", res: mwKey(SchemaKey("acme")),
			opts: []MiddlewareOption{
				WithAuthorizer(func(*http.Request, Tenant) error { return nil }),
				WithAuthorizer(func(*http.Request, Tenant) error { return deny }),
			},
			status: 403, is: []error{ErrForbidden, deny}, typ: "ErrForbidden"},
		{name: "authorizer error wrapping unknown", res: mwKey(SchemaKey("acme")),
			opts:   []MiddlewareOption{WithAuthorizer(func(*http.Request, Tenant) error { return ErrUnknownTenant })},
			status: 403, is: []error{ErrForbidden, ErrUnknownTenant}, typ: "ErrForbidden"},
		{name: "path lacks prefix", res: strip("/acme"), target: "/globex/users",
			status: 400, is: []error{ErrMalformedRequest}, typ: "ErrMalformedRequest"},
		{name: "prefix not at segment boundary", res: strip("/acme"), target: "/acmex/users",
			status: 400, is: []error{ErrMalformedRequest}, typ: "ErrMalformedRequest"},
		{name: "raw path lacks prefix", res: strip("/acme"), target: "/%61cme/users",
			status: 400, is: []error{ErrMalformedRequest}, typ: "ErrMalformedRequest"},
		{name: "raw path has an encoded slash after prefix", res: strip("/acme"), target: "/acme%2Fusers",
			status: 400, is: []error{ErrMalformedRequest}, typ: "ErrMalformedRequest"},
	}
	for _, tt := range tests {
		lookup := tt.lookup
		if lookup == nil {
			lookup = mwRegistry
		}
		for kind, lk := range mwLookupers(lookup) {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				target := tt.target
				if target == "" {
					target = "/users"
				}
				next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
					t.Error("next was called")
				})

				// The default error handler.
				rec := httptest.NewRecorder()
				Middleware(tt.res, lk, tt.opts...)(next).ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
				p := checkProblem(t, rec, tt.status)
				wantType := "about:blank"
				if tt.typ != "" {
					wantType = problemTypeBase + tt.typ
				}
				if p.Type != wantType {
					t.Errorf("problem type = %q, want %q", p.Type, wantType)
				}
				if !strings.Contains(p.Detail, tt.inDetail) {
					t.Errorf("detail = %q, want it to contain %q", p.Detail, tt.inDetail)
				}
				if len(p.Detail) > 200 {
					t.Errorf("detail is %d bytes long", len(p.Detail))
				}
				for _, leak := range []string{"s3cret", "pq:", "tenancy:", "not a member"} {
					if strings.Contains(rec.Body.String(), leak) {
						t.Errorf("body leaks %q: %s", leak, rec.Body)
					}
				}
				if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q, want no-store", cc)
				}

				// A custom error handler sees errors matching the sentinels.
				var got error
				var gotReq *http.Request
				onErr := WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
					got, gotReq = err, r
					w.WriteHeader(StatusCode(err))
				})
				req := httptest.NewRequest("GET", target, nil)
				rec = httptest.NewRecorder()
				Middleware(tt.res, lk, append(tt.opts, onErr)...)(next).ServeHTTP(rec, req)
				if got == nil {
					t.Fatal("error handler not called")
				}
				for _, want := range tt.is {
					if !errors.Is(got, want) {
						t.Errorf("errors.Is(%v, %v) = false", got, want)
					}
				}
				if StatusCode(got) != tt.status || rec.Code != tt.status {
					t.Errorf("StatusCode(%v) = %d, recorded %d; want %d", got, StatusCode(got), rec.Code, tt.status)
				}
				if gotReq != req {
					t.Error("error handler did not get the original request")
				}
				if _, ok := FromContext(gotReq.Context()); ok {
					t.Error("error handler's request carries a tenant")
				}
			})
		}
	}
}

func TestMiddlewareSuccess(t *testing.T) {
	for kind, lk := range mwLookupers(mwRegistry) {
		t.Run(kind, func(t *testing.T) {
			called := false
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				got, ok := FromContext(r.Context())
				if !ok || got != *mwAcme {
					t.Errorf("FromContext = %+v, %v; want %+v", got, ok, *mwAcme)
				}
				s := scopeFrom(r.Context())
				if s == nil || s.schema != "acme" || s.err != nil {
					t.Errorf("scope = %+v", s)
				}
				if kind == "ptr" && s.tenant != mwAcme {
					t.Error("the ptrLookuper's tenant was copied")
				}
				if r.URL.Path != "/users" {
					t.Errorf("path = %q", r.URL.Path)
				}
				w.WriteHeader(http.StatusNoContent)
			})
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/users", nil)
			req.Header.Set("Tenant", "acme")
			Middleware(HeaderResolver{}, lk)(next).ServeHTTP(rec, req)
			if !called || rec.Code != http.StatusNoContent {
				t.Errorf("called = %v, status = %d", called, rec.Code)
			}
		})
	}
}

func TestMiddlewareAuthorizer(t *testing.T) {
	var order []string
	auth := func(name string) MiddlewareOption {
		return WithAuthorizer(func(r *http.Request, got Tenant) error {
			order = append(order, name)
			if got != *mwAcme {
				t.Errorf("%s: tenant = %+v", name, got)
			}
			if ctxT, ok := FromContext(r.Context()); !ok || ctxT != *mwAcme {
				t.Errorf("%s: request context tenant = %+v, %v", name, ctxT, ok)
			}
			if r.URL.Path != "/users/1" || r.Header.Get("Authorization") != "Bearer x" {
				t.Errorf("%s: request = %s %v", name, r.URL.Path, r.Header)
			}
			return nil
		})
	}
	res := PathResolver{}
	lk := mwPtrLookuper(mwRegistry)
	nextCalled := false
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { nextCalled = true })
	req := httptest.NewRequest("GET", "/acme/users/1", nil)
	req.Header.Set("Authorization", "Bearer x")
	Middleware(res, lk, auth("first"), auth("second"))(next).ServeHTTP(httptest.NewRecorder(), req)
	if !nextCalled || strings.Join(order, ",") != "first,second" {
		t.Errorf("next called: %v, authorizers ran: %v", nextCalled, order)
	}
}

func TestMiddlewareStripPrefix(t *testing.T) {
	tests := []struct {
		target, prefix      string
		wantPath, wantRaw   string
		wantEscaped, wantRU string
	}{
		{target: "/acme/users/", prefix: "/acme", wantPath: "/users/", wantEscaped: "/users/"},
		{target: "/acme", prefix: "/acme", wantPath: "/", wantEscaped: "/"},
		{target: "/acme/", prefix: "/acme", wantPath: "/", wantEscaped: "/"},
		{target: "/acme?x=1", prefix: "/acme", wantPath: "/", wantEscaped: "/"},
		{target: "/acme/a%2Fb/c", prefix: "/acme", wantPath: "/a/b/c", wantRaw: "/a%2Fb/c", wantEscaped: "/a%2Fb/c"},
		{target: "/acme/a%20b", prefix: "/acme", wantPath: "/a b", wantEscaped: "/a%20b"},
		{target: "/t/acme/x", prefix: "/t/acme/", wantPath: "/x", wantEscaped: "/x"},
		{target: "/t/acme/x%2Fy", prefix: "/t/acme/", wantPath: "/x/y", wantRaw: "/x%2Fy", wantEscaped: "/x%2Fy"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.target, nil)
			before := *req.URL
			var got *http.Request
			next := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r })
			res := mwKey(Key{By: BySchema, Value: "acme", StripPrefix: tt.prefix})
			Middleware(res, mwPtrLookuper(mwRegistry))(next).ServeHTTP(httptest.NewRecorder(), req)
			if got == nil {
				t.Fatal("next not called")
			}
			if got.URL.Path != tt.wantPath || got.URL.RawPath != tt.wantRaw || got.URL.EscapedPath() != tt.wantEscaped {
				t.Errorf("Path, RawPath, EscapedPath = %q, %q, %q; want %q, %q, %q",
					got.URL.Path, got.URL.RawPath, got.URL.EscapedPath(), tt.wantPath, tt.wantRaw, tt.wantEscaped)
			}
			if got.RequestURI != req.RequestURI || got.URL.RawQuery != req.URL.RawQuery {
				t.Errorf("RequestURI %q, query %q changed", got.RequestURI, got.URL.RawQuery)
			}
			if got.URL == req.URL || *req.URL != before {
				t.Errorf("the caller's URL was modified: %+v, was %+v", *req.URL, before)
			}
		})
	}
}

func TestMiddlewareWithPathResolver(t *testing.T) {
	var got *http.Request
	next := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r })
	h := Middleware(PathResolver{}, mwPtrLookuper(mwRegistry))(next)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/acme/docs/a%2Fb", nil))
	if got == nil || got.URL.Path != "/docs/a/b" || got.URL.EscapedPath() != "/docs/a%2Fb" {
		t.Fatalf("got %+v", got)
	}
	rec := httptest.NewRecorder()
	got = nil
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/globex/docs", nil))
	checkProblem(t, rec, http.StatusNotFound)
	if got != nil {
		t.Error("next called for an unknown tenant")
	}

	// An AllAgree chain carries the path's prefix.
	h = Middleware(AllAgree(HeaderResolver{}, PathResolver{}), mwPtrLookuper(mwRegistry))(next)
	req := httptest.NewRequest("GET", "/acme/docs", nil)
	req.Header.Set("Tenant", "acme")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got == nil || got.URL.Path != "/docs" {
		t.Fatalf("got %+v", got)
	}
	got = nil
	req = httptest.NewRequest("GET", "/acme/docs", nil)
	req.Header.Set("Tenant", "globex")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	checkProblem(t, rec, http.StatusBadRequest)
	if got != nil {
		t.Error("next called for disagreeing tenants")
	}
}

func TestMiddlewareDoesNotMutateRequest(t *testing.T) {
	ctx := context.WithValue(context.Background(), mwCtxKey{}, "v")
	req := httptest.NewRequest("GET", "/acme/users/a%2Fb?q=1", nil).WithContext(ctx)
	req.Header.Set("Tenant", "acme")
	before := *req
	beforeURL := *req.URL
	beforeHeader := req.Header.Clone()

	var got *http.Request
	next := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r })
	auth := WithAuthorizer(func(*http.Request, Tenant) error { return nil })
	Middleware(PathResolver{}, mwPtrLookuper(mwRegistry), auth)(next).ServeHTTP(httptest.NewRecorder(), req)
	if got == nil || got == req {
		t.Fatalf("next got %p, the caller's request is %p", got, req)
	}
	if !reflect.DeepEqual(*req, before) || *req.URL != beforeURL || !reflect.DeepEqual(req.Header, beforeHeader) {
		t.Error("the caller's request was modified")
	}
	if req.Context() != ctx {
		t.Error("the caller's context was replaced")
	}
	if got.Context().Value(mwCtxKey{}) != "v" {
		t.Error("the new context does not derive from the request's")
	}
}

type mwCtxKey struct{}

func TestMiddlewareLogger(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	serve := func(lookup func(context.Context, Key) (*Tenant, error), opts ...MiddlewareOption) map[string]any {
		t.Helper()
		buf.Reset()
		h := Middleware(mwKey(SchemaKey("acme")), mwPtrLookuper(lookup), append(opts, WithLogger(logger))...)(next)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
		if buf.Len() == 0 {
			return nil
		}
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("log line: %v: %s", err, buf.Bytes())
		}
		return m
	}
	if m := serve(mwRegistry); m != nil {
		t.Errorf("a served request was logged: %v", m)
	}
	m := serve(mwLookupErr(errSecret))
	if m["level"] != "ERROR" || m["status"] != 503.0 || m["method"] != "GET" || m["path"] != "/x" ||
		!strings.Contains(fmt.Sprint(m["err"]), "s3cret-admin") {
		t.Errorf("503 logged as %v", m)
	}
	m = serve(mwRegistry, WithAuthorizer(func(*http.Request, Tenant) error { return errors.New("no") }))
	if m["level"] != "WARN" || m["status"] != 403.0 {
		t.Errorf("403 logged as %v", m)
	}
	m = serve(mwLookupErr(ErrUnknownTenant))
	if m["level"] != "DEBUG" || m["status"] != 404.0 {
		t.Errorf("404 logged as %v", m)
	}
}

func TestMiddlewarePanics(t *testing.T) {
	lk := mwPtrLookuper(mwRegistry)
	res := HeaderResolver{}
	tests := map[string]func(){
		"nil resolver":         func() { Middleware(nil, lk) },
		"nil ResolverFunc":     func() { Middleware(ResolverFunc(nil), lk) },
		"misconfigured":        func() { Middleware(SubdomainResolver{}, lk) },
		"misconfigured nested": func() { Middleware(FirstOf(HeaderResolver{}, HeaderResolver{MaxLen: -1}), lk) },
		"nil lookuper":         func() { Middleware(res, nil) },
		"nil LookuperFunc":     func() { Middleware(res, LookuperFunc(nil)) },
		"nil option":           func() { Middleware(res, lk, nil) },
		"nil next":             func() { Middleware(res, lk)(nil) },
		"nil error handler":    func() { WithErrorHandler(nil) },
		"nil authorizer":       func() { WithAuthorizer(nil) },
		"nil logger":           func() { WithLogger(nil) },
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

func TestMiddlewareLastErrorHandlerWins(t *testing.T) {
	var which string
	eh := func(name string) MiddlewareOption {
		return WithErrorHandler(func(http.ResponseWriter, *http.Request, error) { which = name })
	}
	h := Middleware(mwKey(Key{}), mwPtrLookuper(mwRegistry), eh("first"), eh("second"))(http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if which != "second" {
		t.Errorf("error handler %q ran", which)
	}
}

func TestStatusCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 200},
		{ErrNoTenant, 400},
		{ErrMalformedRequest, 400},
		{ErrTenantMismatch, 400},
		{ErrUnknownTenant, 404},
		{&TenantError{Op: "lookup", Key: "x", Err: ErrUnknownTenant}, 404},
		{&SchemaNameError{Name: "X"}, 404},
		{ErrForbidden, 403},
		{fmt.Errorf("%w: %w", ErrForbidden, ErrUnknownTenant), 403},
		{ErrRegistryUnavailable, 503},
		{fmt.Errorf("%w: %w", ErrRegistryUnavailable, ErrNoTenant), 503},
		{context.Canceled, 503},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), 503},
		{ErrClosed, 500},
		{errors.New("boom"), 500},
	}
	for _, tt := range tests {
		if got := StatusCode(tt.err); got != tt.want {
			t.Errorf("StatusCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestWriteProblem(t *testing.T) {
	tests := []struct {
		name string
		in   Problem
		want string
		code int
	}{
		{"defaults", Problem{Status: 409},
			`{"type":"about:blank","title":"Conflict","status":409}`, 409},
		{"zero", Problem{},
			`{"type":"about:blank","title":"Internal Server Error","status":500}`, 500},
		{"bad status", Problem{Status: 1000, Detail: "d"},
			`{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"d"}`, 500},
		{"typed", Problem{Type: "https://example.com/probs/out-of-credit", Title: "Out of credit", Status: 403, Detail: "Balance 30, cost 50.", Instance: "/account/12345/msgs/abc"},
			`{"type":"https://example.com/probs/out-of-credit","title":"Out of credit","status":403,"detail":"Balance 30, cost 50.","instance":"/account/12345/msgs/abc"}`, 403},
		{"typed without title", Problem{Type: "urn:x", Status: 400},
			`{"type":"urn:x","status":400}`, 400},
		{"escaped", Problem{Status: 400, Detail: "<script>\"\x00"},
			`{"type":"about:blank","title":"Bad Request","status":400,"detail":"\u003cscript\u003e\"\u0000"}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Length", "12")
			rec.Header().Set("Content-Type", "text/html")
			WriteProblem(rec, tt.in)
			if rec.Code != tt.code {
				t.Errorf("status = %d, want %d", rec.Code, tt.code)
			}
			if got := strings.TrimSuffix(rec.Body.String(), "\n"); got != tt.want {
				t.Errorf("body = %s\nwant   %s", got, tt.want)
			}
			h := rec.Header()
			if h.Get("Content-Type") != ProblemContentType || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Length") != "" {
				t.Errorf("headers = %v", h)
			}
		})
	}
}

func TestWriteProblemTruncatesDetail(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteProblem(rec, Problem{Status: 400, Detail: strings.Repeat("é", 5000)})
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Detail) > maxProblemDetail+3 || !strings.HasSuffix(p.Detail, "é...") {
		t.Errorf("detail is %d bytes: ...%q", len(p.Detail), p.Detail[len(p.Detail)-8:])
	}
}

func TestDefaultErrorHandlerUnclassified(t *testing.T) {
	rec := httptest.NewRecorder()
	DefaultErrorHandler(rec, httptest.NewRequest("GET", "/", nil), errSecret)
	p := checkProblem(t, rec, 500)
	if p.Type != "about:blank" || p.Title != "Internal Server Error" || p.Detail != "" {
		t.Errorf("problem = %+v", p)
	}
	if strings.Contains(rec.Body.String(), "s3cret") {
		t.Errorf("leak: %s", rec.Body)
	}
}

// mwDiscard is a ResponseWriter that allocates nothing.
type mwDiscard struct{ h http.Header }

func (d *mwDiscard) Header() http.Header         { return d.h }
func (d *mwDiscard) Write(b []byte) (int, error) { return len(b), nil }
func (d *mwDiscard) WriteHeader(int)             {}

// BenchmarkMiddleware measures the per-request cost of resolving a tenant and
// finding it in the cache: the ptr cases stand for a *Registry with a warm cache.
func BenchmarkMiddleware(b *testing.B) {
	ptr := mwPtrLookuper(func(_ context.Context, k Key) (*Tenant, error) { return mwAcme, nil })
	value := LookuperFunc(ptr.Lookup)
	var sink *http.Request
	next := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { sink = r })
	cases := []struct {
		name   string
		res    TenantResolver
		lk     Lookuper
		target string
	}{
		{"ResolverFunc/ptr", mwKey(SchemaKey("acme")), ptr, "/users"},
		{"HeaderResolver/ptr", HeaderResolver{}, ptr, "/users"},
		{"PathResolver/ptr", PathResolver{}, ptr, "/acme/users"},
		{"ResolverFunc/value", mwKey(SchemaKey("acme")), value, "/users"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			h := Middleware(c.res, c.lk)(next)
			req := httptest.NewRequest("GET", c.target, nil)
			req.Header.Set("Tenant", "acme")
			w := &mwDiscard{h: http.Header{}}
			b.ReportAllocs()
			for range b.N {
				h.ServeHTTP(w, req)
			}
			if _, ok := FromContext(sink.Context()); !ok {
				b.Fatal("no tenant")
			}
		})
	}
}
