package tenancy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// tenantCache is the registry's cache: a bounded map from Key to tenant (or to "no
// such tenant", for a shorter time), with concurrent misses for one key collapsed
// into one fetch. A hit takes a read lock and allocates nothing.
type tenantCache struct {
	ttl, negTTL time.Duration
	max         int
	now         func() time.Time

	mu      sync.RWMutex
	entries map[cacheKey]*cacheEntry
	gen     uint64 // bumped by every invalidation; a fetch begun before one is not stored

	flightMu sync.Mutex
	flights  map[cacheKey]*flight
}

type cacheKey struct {
	by    By
	value string
}

type cacheEntry struct {
	t       *Tenant // nil: known not to exist
	expires int64   // unix nanoseconds
	used    atomic.Int64
}

type flight struct {
	done chan struct{}
	t    *Tenant
	err  error
}

func newTenantCache(ttl, negTTL time.Duration, max int) *tenantCache {
	return &tenantCache{
		ttl: ttl, negTTL: negTTL, max: max, now: time.Now,
		entries: make(map[cacheKey]*cacheEntry),
		flights: make(map[cacheKey]*flight),
	}
}

// get returns the cached answer for k: found reports whether there was a fresh
// entry, and t is nil when that entry says the tenant does not exist.
func (c *tenantCache) get(k cacheKey) (t *Tenant, found bool) {
	now := c.now().UnixNano()
	c.mu.RLock()
	e := c.entries[k]
	c.mu.RUnlock()
	if e == nil || now >= e.expires {
		return nil, false
	}
	e.used.Store(now)
	return e.t, true
}

// fetch returns the tenant for k, from the cache or by calling load once for all
// concurrent callers. load runs detached from any caller's cancellation (so one
// impatient caller cannot fail the others), bounded by timeout; each caller waits
// only as long as its own ctx allows.
func (c *tenantCache) fetch(ctx context.Context, k cacheKey, timeout time.Duration,
	load func(context.Context) (*Tenant, error)) (*Tenant, error) {
	if t, ok := c.get(k); ok {
		return t, nil
	}
	c.flightMu.Lock()
	f := c.flights[k]
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.flights[k] = f
		c.mu.RLock()
		gen := c.gen
		c.mu.RUnlock()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		go func() {
			defer cancel()
			t, err := load(lctx)
			if err == nil {
				c.store(k, t, gen)
			}
			c.flightMu.Lock()
			delete(c.flights, k)
			c.flightMu.Unlock()
			f.t, f.err = t, err
			close(f.done)
		}()
	}
	c.flightMu.Unlock()
	select {
	case <-f.done:
		return f.t, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *tenantCache) store(k cacheKey, t *Tenant, gen uint64) {
	now := c.now().UnixNano()
	ttl := c.ttl
	if t == nil {
		ttl = c.negTTL
	}
	if ttl <= 0 {
		return
	}
	e := &cacheEntry{t: t, expires: now + int64(ttl)}
	e.used.Store(now)
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return // invalidated while loading: the answer may be stale
	}
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		c.evictLocked(now)
	}
	c.entries[k] = e
}

// evictLocked drops one entry: an expired one if the sample finds one, else the
// least recently used of a small sample (map iteration order is random, so this is
// the approximate LRU that Redis uses, at O(1) per insertion).
func (c *tenantCache) evictLocked(now int64) {
	const sample = 8
	var victim cacheKey
	oldest := int64(1<<63 - 1)
	n := 0
	for k, e := range c.entries {
		if now >= e.expires {
			victim = k
			break
		}
		if u := e.used.Load(); u < oldest {
			oldest, victim = u, k
		}
		if n++; n == sample {
			break
		}
	}
	delete(c.entries, victim)
}

// invalidate drops every entry naming the tenant with this id or any of these keys
// (so a rename takes effect at once: the old name's entry points to the same id).
func (c *tenantCache) invalidate(id int64, keys ...cacheKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, k := range keys {
		delete(c.entries, k)
	}
	if id == 0 {
		return
	}
	for k, e := range c.entries {
		if e.t != nil && e.t.ID == id {
			delete(c.entries, k)
		}
	}
}

func (c *tenantCache) invalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
}

func (c *tenantCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
