package tenancy_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-tenancy/tenancy"
)

// TestRegistryForEach: every tenant's work runs in its own schema, at most
// Concurrency at once; one tenant's error or panic is reported for it alone;
// Skip and Schemas select; unknown schemas are reported as failed.
func TestRegistryForEach(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	schemas := []string{"t1", "t2", "t3", "t4", "t5", "t6"}
	for _, s := range schemas {
		e.addTenant(t, s)
	}
	var running, peak atomic.Int32
	var mu sync.Mutex
	progress := 0
	rep, err := e.reg.ForEach(context.Background(), tenancy.JobOptions{
		Concurrency: 2,
		Skip:        func(t tenancy.Tenant) bool { return t.Schema == "t6" },
		Progress:    func(p tenancy.JobProgress) { mu.Lock(); progress = p.Done; mu.Unlock() },
	}, func(ctx context.Context, tn tenancy.Tenant) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			if p := peak.Load(); n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		switch tn.Schema {
		case "t2":
			return errors.New("report failed")
		case "t3":
			panic("boom")
		}
		// Runs in the tenant's schema.
		_, err := e.db.ExecContext(ctx, `INSERT INTO items (tenant) VALUES ($1)`, tn.Schema)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Succeeded != 3 || rep.Failed != 2 || rep.Skipped != 1 || rep.NotRun != 0 || len(rep.Tenants) != 6 || progress != 6 {
		t.Fatalf("report %+v (progress %d)", rep, progress)
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("%d tenants ran at once, Concurrency is 2", p)
	}
	for i, tr := range rep.Tenants {
		if tr.Tenant.Schema != schemas[i] {
			t.Errorf("Tenants[%d] is %s, want %s (id order)", i, tr.Tenant.Schema, schemas[i])
		}
	}
	if !errors.Is(rep.Tenants[2].Err, tenancy.ErrJobPanicked) || rep.Tenants[1].Err == nil {
		t.Errorf("t2: %v; t3: %v", rep.Tenants[1].Err, rep.Tenants[2].Err)
	}
	if err := rep.Err(); err == nil || !errors.Is(err, tenancy.ErrJobPanicked) {
		t.Errorf("Report.Err() = %v", err)
	}
	for _, s := range []string{"t1", "t4", "t5"} {
		var n int
		if err := e.admin.QueryRow(`SELECT count(*) FROM `+s+`.items WHERE tenant = $1`, s).Scan(&n); err != nil || n != 1 {
			t.Errorf("%s.items has %d rows of its own, want 1 (%v)", s, n, err)
		}
	}

	rep, err = e.reg.ForEach(context.Background(), tenancy.JobOptions{Schemas: []string{"t4", "nope", "t4"}},
		func(ctx context.Context, tn tenancy.Tenant) error { return nil })
	if err != nil || len(rep.Tenants) != 2 || rep.Tenants[0].Tenant.Schema != "nope" ||
		!errors.Is(rep.Tenants[0].Err, tenancy.ErrUnknownTenant) || rep.Tenants[1].Err != nil || rep.Succeeded != 1 {
		t.Errorf("Schemas: %+v, %v", rep, err)
	}
}

// TestRegistryForEachCancelled: after cancellation no tenant starts; the ones
// handed out are reported NotRun.
func TestRegistryForEachCancelled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, s := range []string{"a1", "a2", "a3", "a4"} {
		e.addTenant(t, s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := 0
	rep, err := e.reg.ForEach(ctx, tenancy.JobOptions{Concurrency: 1}, func(ctx context.Context, tn tenancy.Tenant) error {
		started++
		cancel() // the first tenant's work cancels the run
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if started != 1 || rep.Failed != 1 || rep.Succeeded != 0 || rep.Failed+rep.NotRun != len(rep.Tenants) {
		t.Fatalf("started %d; report %+v", started, rep)
	}
	for _, tr := range rep.Tenants[1:] {
		if !tr.NotRun || !errors.Is(tr.Err, context.Canceled) {
			t.Errorf("%s: %+v, want NotRun with context.Canceled", tr.Tenant.Schema, tr)
		}
	}
}
