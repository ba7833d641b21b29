package tenancy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

// cachedRegistry returns a Registry whose cache already holds n tenants (schemas
// t1..tn, hosts t1.example.com..), as after warm-up; it has no database, so a miss
// would fail loudly.
func cachedRegistry(tb testing.TB, n, size int) *Registry {
	tb.Helper()
	r := &Registry{cache: newTenantCache(time.Hour, time.Second, size), timeout: time.Second}
	for i := 1; i <= n; i++ {
		t := &Tenant{ID: int64(i), Name: fmt.Sprintf("Tenant %d", i), Schema: fmt.Sprintf("t%d", i),
			Host: fmt.Sprintf("t%d.example.com", i), CreatedAt: time.Now()}
		r.cache.store(cacheKey{BySchema, t.Schema}, t, 0)
	}
	return r
}

// BenchmarkMiddlewareRegistryHit is the per-request cost of the middleware with the
// real Registry on a cache hit: resolve the Tenant header, look it up, put it in the
// context, call next.
//
//	go test -run '^$' -bench MiddlewareRegistryHit -benchmem .
func BenchmarkMiddlewareRegistryHit(b *testing.B) {
	reg := cachedRegistry(b, 1000, 10_000)
	var sink *http.Request
	h := Middleware(HeaderResolver{}, reg)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { sink = r }))
	req := httptest.NewRequest("GET", "/users/", nil)
	req.Header.Set("Tenant", "t500")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		h.ServeHTTP(w, req)
	}
	b.StopTimer()
	if t, ok := FromContext(sink.Context()); !ok || t.Schema != "t500" {
		b.Fatalf("handler saw %+v", t)
	}
	if w.Code != 200 {
		b.Fatalf("status %d", w.Code)
	}
}

// BenchmarkRegistryCacheMemory reports the heap held by a cache of 100,000 tenants
// (bytes per entry, including the Tenant values).
//
//	go test -run '^$' -bench RegistryCacheMemory -benchtime 1x .
func BenchmarkRegistryCacheMemory(b *testing.B) {
	const n = 100_000
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		reg := cachedRegistry(b, n, n)
		runtime.GC()
		runtime.ReadMemStats(&after)
		if got := reg.cache.len(); got != n {
			b.Fatalf("cache holds %d entries", got)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/tenant")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/100k")
		runtime.KeepAlive(reg)
	}
}

// TestRegistryHitAllocs pins the middleware's cached path at two allocations per
// request (the request copy and the context node holding the tenant).
func TestRegistryHitAllocs(t *testing.T) {
	reg := cachedRegistry(t, 10, 100)
	h := Middleware(HeaderResolver{}, reg)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest("GET", "/users/", nil)
	req.Header.Set("Tenant", "t5")
	w := httptest.NewRecorder()
	if allocs := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, req) }); allocs > 2 {
		t.Fatalf("%v allocations per request, want at most 2", allocs)
	}
	// And an unknown tenant is refused from the cache's negative entry, or the
	// registry: here there is no database, so it must come from a negative entry.
	reg.cache.store(cacheKey{BySchema, "nobody"}, nil, 0)
	req.Header.Set("Tenant", "nobody")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 404 {
		t.Fatalf("unknown tenant: %d", w.Code)
	}
}
