package tenancy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultJobConcurrency is how many tenants [Registry.ForEach] works on at once
// unless [JobOptions].Concurrency says otherwise.
const DefaultJobConcurrency = 4

// JobOptions configures [Registry.ForEach].
type JobOptions struct {
	// Schemas limits the run to these tenants. nil means every registered
	// tenant. A schema that names no registered tenant is reported as failed
	// with [ErrUnknownTenant]; duplicates count once.
	Schemas []string

	// Concurrency is how many tenants are worked on at once; 0 means
	// [DefaultJobConcurrency]. Keep it below the pool's connection limit if each
	// tenant's work holds a connection.
	Concurrency int

	// Timeout bounds each tenant's work (its context's deadline); 0 means no
	// bound beyond the run's context.
	Timeout time.Duration

	// Skip, if not nil, is asked about each tenant before its work starts; a
	// tenant it returns true for is reported as skipped (a suspended tenant,
	// say). It is called from the worker goroutines.
	Skip func(t Tenant) bool

	// Progress, if not nil, is called after each tenant is accounted for.
	// Calls are serialised, so a CLI can draw a progress bar without locking.
	// It should return quickly.
	Progress func(JobProgress)
}

// JobProgress is passed to [JobOptions].Progress.
type JobProgress struct {
	// Done is how many tenants are accounted for so far, Last included.
	Done int
	// Last is the tenant just accounted for.
	Last JobResult
}

// JobResult is one tenant's outcome in [Registry.ForEach].
type JobResult struct {
	// Tenant is the tenant (only Schema is set for a requested schema that names
	// no tenant).
	Tenant Tenant
	// Err is the work's error for this tenant, or nil: fn's own error, a
	// *[TenantError] for a requested schema that is not registered, an error
	// wrapping [ErrJobPanicked] if fn panicked, or the run's context error for
	// a tenant the run did not get to ([JobResult.NotRun]).
	Err error
	// Skipped reports that [JobOptions].Skip excluded the tenant: fn did not run.
	Skipped bool
	// NotRun reports that the run's context ended before the tenant's work
	// started.
	NotRun bool
	// Duration is how long fn ran for the tenant.
	Duration time.Duration
}

// JobReport is what [Registry.ForEach] did, per tenant.
type JobReport struct {
	// Tenants has one entry per tenant considered, in registry id order (the
	// unregistered schemas of JobOptions.Schemas first).
	Tenants []JobResult
	// Succeeded, Failed, Skipped and NotRun count the entries of Tenants.
	Succeeded, Failed, Skipped, NotRun int
	// Duration is how long the whole run took.
	Duration time.Duration
}

// Err returns nil if every tenant succeeded or was skipped, and otherwise an
// error joining the failures and the tenants not run, each naming its tenant.
func (r JobReport) Err() error {
	var errs []error
	for _, tr := range r.Tenants {
		if tr.Err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", tr.Tenant.Schema, tr.Err))
		}
	}
	return errors.Join(errs...)
}

// ErrJobPanicked is wrapped by the error of a tenant whose work panicked in
// [Registry.ForEach]; the panic is recovered so that the other tenants go on.
var ErrJobPanicked = errors.New("tenancy: job panicked")

// ForEach runs fn once for every registered tenant (or those in
// opts.Schemas), at most opts.Concurrency at a time, each with a context that
// carries the tenant (so every [DB] call fn makes with it runs in the tenant's
// schema) and is bounded by opts.Timeout: the loop for work that runs for every
// tenant (cron jobs, reports, re-indexing), with the same guarantees as the
// fleet upgrade. One tenant's error (or panic) does not stop the others; each
// is reported in the JobReport. Tenants are read from the registry as the
// run goes (one streaming query, in id order), so the run copes with any
// number of them.
//
// Cancelling ctx stops the run: no further tenant is started, fn's running
// calls see their contexts cancelled, the tenants already read but not started
// are reported with NotRun, and the registry is not read further. The error ForEach returns is only about the run itself: the
// registry could not be read (the report then holds the tenants done so far).
// Use [JobReport.Err] for the tenants' errors.
//
//	rep, err := reg.ForEach(ctx, tenancy.JobOptions{Concurrency: 8}, func(ctx context.Context, t tenancy.Tenant) error {
//		_, err := db.ExecContext(ctx, `REINDEX TABLE users`)
//		return err
//	})
func (r *Registry) ForEach(ctx context.Context, opts JobOptions, fn func(ctx context.Context, t Tenant) error) (JobReport, error) {
	if fn == nil {
		return JobReport{}, errors.New("tenancy: ForEach: nil func")
	}
	if opts.Concurrency < 0 || opts.Timeout < 0 {
		return JobReport{}, errors.New("tenancy: ForEach: negative Concurrency or Timeout")
	}
	n := opts.Concurrency
	if n == 0 {
		n = DefaultJobConcurrency
	}
	start := time.Now()
	var (
		mu  sync.Mutex // guards rep and serialises Progress
		rep JobReport
	)
	record := func(jr JobResult) {
		mu.Lock()
		defer mu.Unlock()
		rep.Tenants = append(rep.Tenants, jr)
		switch {
		case jr.NotRun:
			rep.NotRun++
		case jr.Skipped:
			rep.Skipped++
		case jr.Err != nil:
			rep.Failed++
		default:
			rep.Succeeded++
		}
		if opts.Progress != nil {
			opts.Progress(JobProgress{Done: len(rep.Tenants), Last: jr})
		}
	}

	var want map[string]bool // opts.Schemas not yet seen in the registry
	if opts.Schemas != nil {
		want = make(map[string]bool, len(opts.Schemas))
		for _, s := range opts.Schemas {
			want[s] = true
		}
	}

	work := make(chan Tenant)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				if ctx.Err() != nil {
					record(JobResult{Tenant: t, Err: ctx.Err(), NotRun: true})
					continue
				}
				if opts.Skip != nil && opts.Skip(t) {
					record(JobResult{Tenant: t, Skipped: true})
					continue
				}
				record(runJob(ctx, t, opts.Timeout, fn))
			}
		}()
	}

	var readErr error
	for t, err := range r.All(ctx) {
		if err != nil {
			if ctx.Err() == nil {
				readErr = err
			}
			break
		}
		if want != nil {
			if !want[t.Schema] {
				continue
			}
			delete(want, t.Schema)
		}
		work <- t
	}
	close(work)
	wg.Wait()

	if readErr == nil {
		// Requested schemas that no registered tenant has.
		for s := range want {
			record(JobResult{Tenant: Tenant{Schema: s}, Err: &TenantError{Op: "job", Key: s, Err: ErrUnknownTenant}})
		}
	}
	// The unregistered first, by schema; then by registry id.
	slices.SortFunc(rep.Tenants, func(a, b JobResult) int {
		switch {
		case a.Tenant.ID == 0 && b.Tenant.ID == 0:
			return strings.Compare(a.Tenant.Schema, b.Tenant.Schema)
		case a.Tenant.ID == 0:
			return -1
		case b.Tenant.ID == 0:
			return 1
		}
		return cmp.Compare(a.Tenant.ID, b.Tenant.ID)
	})
	rep.Duration = time.Since(start)
	if readErr != nil {
		return rep, fmt.Errorf("tenancy: ForEach: %w", readErr)
	}
	return rep, nil
}

// runJob runs fn for t with a context of its own, turning a panic into an
// error.
func runJob(ctx context.Context, t Tenant, timeout time.Duration, fn func(context.Context, Tenant) error) (jr JobResult) {
	jr.Tenant = t
	tctx := NewContext(ctx, t)
	if timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(tctx, timeout)
		defer cancel()
	}
	start := time.Now()
	defer func() {
		jr.Duration = time.Since(start)
		if p := recover(); p != nil {
			jr.Err = fmt.Errorf("%w: %v\n%s", ErrJobPanicked, p, debug.Stack())
		}
	}()
	jr.Err = fn(tctx, t)
	return jr
}
