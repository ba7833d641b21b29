package tenancy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable time source for cache tests.
type fakeClock struct{ t atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.t.Add(int64(d)) }

func newTestCache(ttl, neg time.Duration, size int) (*tenantCache, *fakeClock) {
	c := newTenantCache(ttl, neg, size)
	clk := &fakeClock{}
	clk.t.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	c.now = clk.now
	return c, clk
}

func TestCacheTTLAndNegativeTTL(t *testing.T) {
	c, clk := newTestCache(time.Minute, time.Second, 10)
	ctx := context.Background()
	var loads atomic.Int32
	acme := &Tenant{ID: 1, Schema: "acme"}
	load := func(t *Tenant) func(context.Context) (*Tenant, error) {
		return func(context.Context) (*Tenant, error) { loads.Add(1); return t, nil }
	}
	k := cacheKey{BySchema, "acme"}
	for i := 0; i < 3; i++ {
		got, err := c.fetch(ctx, k, time.Second, load(acme))
		if err != nil || got != acme {
			t.Fatalf("fetch = %v, %v", got, err)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads within TTL, want 1", n)
	}
	clk.advance(time.Minute)
	if _, err := c.fetch(ctx, k, time.Second, load(acme)); err != nil || loads.Load() != 2 {
		t.Fatalf("after TTL: loads = %d, err %v; want a reload", loads.Load(), err)
	}

	// A miss is remembered for the negative TTL only.
	miss := cacheKey{BySchema, "nobody"}
	for i := 0; i < 3; i++ {
		if got, _ := c.fetch(ctx, miss, time.Second, load(nil)); got != nil {
			t.Fatal("miss returned a tenant")
		}
	}
	if n := loads.Load(); n != 3 {
		t.Fatalf("%d loads, want 3 (one per distinct miss period)", n)
	}
	clk.advance(time.Second)
	c.fetch(ctx, miss, time.Second, load(nil))
	if n := loads.Load(); n != 4 {
		t.Fatalf("negative entry outlived its TTL: %d loads", n)
	}
}

func TestCacheErrorsAreNotCached(t *testing.T) {
	c, _ := newTestCache(time.Minute, time.Second, 10)
	boom := errors.New("db down")
	var loads int
	for i := 0; i < 2; i++ {
		_, err := c.fetch(context.Background(), cacheKey{ByHost, "h"}, time.Second, func(context.Context) (*Tenant, error) {
			loads++
			return nil, boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	}
	if loads != 2 {
		t.Fatalf("error was cached: %d loads", loads)
	}
}

func TestCacheCollapsesConcurrentMisses(t *testing.T) {
	c, _ := newTestCache(time.Minute, time.Second, 10)
	release := make(chan struct{})
	var loads atomic.Int32
	acme := &Tenant{ID: 1, Schema: "acme"}
	const callers = 50
	var started, done sync.WaitGroup
	started.Add(callers)
	done.Add(callers)
	results := make(chan *Tenant, callers)
	for i := 0; i < callers; i++ {
		go func() {
			defer done.Done()
			started.Done()
			got, err := c.fetch(context.Background(), cacheKey{BySchema, "acme"}, time.Minute, func(context.Context) (*Tenant, error) {
				loads.Add(1)
				<-release
				return acme, nil
			})
			if err != nil {
				t.Error(err)
			}
			results <- got
		}()
	}
	started.Wait()
	// Every caller is either waiting on the one flight or will find the cached
	// answer; only one load can have started.
	close(release)
	done.Wait()
	close(results)
	for got := range results {
		if got != acme {
			t.Fatalf("caller got %v", got)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads for %d concurrent callers, want 1", n, callers)
	}
}

func TestCacheWaiterHonoursItsContext(t *testing.T) {
	c, _ := newTestCache(time.Minute, time.Second, 10)
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.fetch(ctx, cacheKey{BySchema, "slow"}, time.Minute, func(context.Context) (*Tenant, error) {
		<-release
		return nil, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestCacheIsBounded(t *testing.T) {
	const size = 100
	c, clk := newTestCache(time.Hour, time.Hour, size)
	ctx := context.Background()
	hot := cacheKey{BySchema, "hot"}
	hotT := &Tenant{ID: 1, Schema: "hot"}
	c.fetch(ctx, hot, time.Second, func(context.Context) (*Tenant, error) { return hotT, nil })
	for i := 0; i < 10*size; i++ {
		clk.advance(time.Millisecond)
		c.get(hot) // keep it recently used
		k := cacheKey{BySchema, fmt.Sprintf("t%d", i)}
		c.fetch(ctx, k, time.Second, func(context.Context) (*Tenant, error) { return &Tenant{ID: int64(i + 2)}, nil })
		if n := c.len(); n > size {
			t.Fatalf("cache grew to %d entries, bound %d", n, size)
		}
	}
	if _, ok := c.get(hot); !ok {
		t.Fatal("the most recently used entry was evicted")
	}
}

func TestCacheInvalidate(t *testing.T) {
	c, _ := newTestCache(time.Hour, time.Hour, 10)
	ctx := context.Background()
	acme := &Tenant{ID: 7, Schema: "acme", Name: "Acme", Host: "acme.example.com"}
	for _, k := range []cacheKey{{BySchema, "acme"}, {ByName, "Acme"}, {ByHost, "acme.example.com"}, {ByName, "Old Acme"}} {
		c.fetch(ctx, k, time.Second, func(context.Context) (*Tenant, error) { return acme, nil })
	}
	other := &Tenant{ID: 8, Schema: "other"}
	c.fetch(ctx, cacheKey{BySchema, "other"}, time.Second, func(context.Context) (*Tenant, error) { return other, nil })
	c.invalidate(acme.ID, cacheKey{BySchema, "acme"})
	if n := c.len(); n != 1 {
		t.Fatalf("%d entries after invalidating tenant 7, want 1 (other)", n)
	}
	if _, ok := c.get(cacheKey{BySchema, "other"}); !ok {
		t.Fatal("unrelated tenant was invalidated")
	}
	c.invalidateAll()
	if c.len() != 0 {
		t.Fatal("invalidateAll left entries")
	}
}

func TestCacheDropsLoadsStartedBeforeInvalidation(t *testing.T) {
	c, _ := newTestCache(time.Hour, time.Hour, 10)
	k := cacheKey{BySchema, "acme"}
	inLoad := make(chan struct{})
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.fetch(context.Background(), k, time.Minute, func(context.Context) (*Tenant, error) {
			close(inLoad)
			<-release
			return &Tenant{ID: 1, Schema: "acme"}, nil // stale by the time it returns
		})
	}()
	<-inLoad
	c.invalidate(1, k)
	close(release)
	<-done
	if _, ok := c.get(k); ok {
		t.Fatal("a load begun before an invalidation was cached")
	}
}

func BenchmarkCacheHit(b *testing.B) {
	c := newTenantCache(time.Hour, time.Hour, 1000)
	ctx := context.Background()
	k := cacheKey{BySchema, "acme"}
	c.fetch(ctx, k, time.Second, func(context.Context) (*Tenant, error) { return &Tenant{ID: 1}, nil })
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.get(k); !ok {
				b.Fatal("miss")
			}
		}
	})
}
