package tenancy

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// FleetOptions configures [Migrator.UpgradeFleet]. The zero value upgrades every
// registered tenant to the newest tenant migration.
type FleetOptions struct {
	// Schemas limits the run to these tenants (a canary group, say). nil means
	// every registered tenant. A schema that names no registered tenant (or is not
	// a valid schema name) is reported as failed with [ErrUnknownTenant] (or
	// [ErrInvalidSchemaName]); duplicates count once.
	Schemas []string

	// Target is the tenant migration version to reach; 0 means the newest. A
	// tenant at or beyond it is skipped: a fleet upgrade never reverts anything.
	Target uint

	// Concurrency is how many tenants are migrated at once; 0 means the
	// Migrator's default ([WithFleetConcurrency], [DefaultFleetConcurrency]). Each holds a
	// connection, and the run holds one more for its lock: if the pool is capped
	// (SetMaxOpenConns), Concurrency is lowered to fit.
	Concurrency int

	// Progress, if not nil, is called after each tenant is accounted for
	// (skipped, upgraded or failed): first for the tenants settled without a
	// connection (skipped, dirty, unknown), then for each migrated tenant as it
	// finishes. Calls are serialised, in the goroutine that called UpgradeFleet,
	// so a CLI can draw a progress bar without locking. It should return quickly:
	// the next tenant's result waits for it (migrations already running go on).
	// Tenants a cancelled run does not get to are not reported to it.
	Progress func(FleetProgress)

	// SkipShared skips bringing the shared schema up to date first
	// ([Migrator.MigrateShared]), for a caller that just did.
	SkipShared bool

	// Drain, if not nil, stops the run gracefully once it is closed (or
	// receives a value): no further tenant starts, the tenants being migrated
	// finish their migrations, and the tenants not started are reported with
	// NotRun set and [ErrFleetStopped]. Cancelling ctx instead (a second Ctrl-C,
	// say) also cancels the migrations running (a transactional one is rolled
	// back with its version: its tenant stays clean where it was).
	Drain <-chan struct{}

	// Canary, if positive, migrates that many of the tenants to migrate (the
	// first in registry id order) before any other, at most Concurrency at a
	// time; if one of them fails, no other tenant is started (they are reported
	// NotRun, with [ErrFleetStopped]). 0 means no canary phase.
	Canary int

	// MaxFailures, if positive, stops starting tenants once that many of the
	// tenants this run migrated have failed (tenants dirty before the run do not
	// count); the rest are reported NotRun, with [ErrFleetStopped]. 0 means no
	// limit.
	MaxFailures int

	// CheckDrift compares, after the run, every tenant of the report that is at
	// the reference's version with it ([Migrator.FleetDrift]): the reference is
	// DriftReference, or the clone template ([WithCloneTemplate]) if that is "".
	// The result is in [FleetReport].Drift; drift does not make the run fail.
	// It costs one catalog query per tenant compared.
	CheckDrift     bool
	DriftReference string

	// DryRun reports, per tenant, the migrations the run would apply
	// ([TenantResult].Planned) and changes nothing: no lock is taken, the shared
	// schema is not migrated (Shared has its current version), no tenant
	// connection is opened. Tenants with something to apply count as Upgraded.
	DryRun bool
}

// FleetProgress is passed to [FleetOptions].Progress.
type FleetProgress struct {
	// Done is how many tenants are accounted for so far, Last included; Total is
	// how many the run considers.
	Done, Total int
	// Last is the tenant just accounted for.
	Last TenantResult
}

// TenantResult is one tenant's outcome in a fleet upgrade.
type TenantResult struct {
	// Result is what the run did to the tenant's schema (From = To for a skipped
	// tenant; Duration 0 for one that no connection was opened for).
	Result
	// TenantID is the tenant's registry id (0 for a requested schema that names
	// no tenant).
	TenantID int64
	// Skipped reports that the tenant was already at (or beyond) the target and
	// clean: nothing ran.
	Skipped bool
	// NotRun reports that the run did not get to the tenant: its context ended,
	// or it was stopped ([FleetOptions].Drain, Canary, MaxFailures). Err is then
	// the context's error or [ErrFleetStopped]. Nothing ran on the tenant.
	NotRun bool
	// Planned lists, in a dry run ([FleetOptions].DryRun), the versions the run
	// would apply to the tenant, in order.
	Planned []uint
	// Node is, on Citus, the node that held the tenant's schema when the run
	// ended (see [Migrator.Placement]); zero on plain PostgreSQL.
	Node Node
	// Err is why the tenant failed, or nil: a *[MigrationError] (wrapping
	// [ErrDirty] for a tenant that was dirty before the run and was not touched),
	// a *[TenantError], or the context's error for a tenant the run did not get to.
	Err error
}

// FleetReport is what [Migrator.UpgradeFleet] did.
type FleetReport struct {
	// Shared is the result of migrating the shared schema first (zero if
	// [FleetOptions].SkipShared).
	Shared Result
	// Tenants has one entry per tenant considered, ordered by schema.
	Tenants []TenantResult
	// Upgraded, Skipped and Failed count the tenants that had migrations applied,
	// had nothing to do, and failed. NotRun counts the tenants the run did not get
	// to because its context ended or it was stopped (they are in Tenants, with
	// NotRun set, and in no other count).
	Upgraded, Skipped, Failed, NotRun int
	// Stopped says why the run stopped starting tenants before the end: "drain"
	// ([FleetOptions].Drain), "canary failed", "max failures", "cancelled" (ctx
	// ended); "" if it did not.
	Stopped string
	// DryRun reports that nothing was run ([FleetOptions].DryRun).
	DryRun bool
	// Drift has, with [FleetOptions].CheckDrift, the comparison of each tenant
	// of Tenants with the reference schema, in registry id order; Drifted counts
	// those that differ.
	Drift   []FleetDriftReport
	Drifted int
	// Duration is how long the whole run took, lock wait included.
	Duration time.Duration
}

// UpgradeFleet upgrades every registered tenant (or those in opts.Schemas) to the
// newest tenant migration (or opts.Target), after bringing the shared schema up to
// date (unless opts.SkipShared; if that fails, no tenant is touched).
//
// It reads every tenant's version with one query per 500 tenants, without
// opening a connection per tenant, and skips tenants already at the target and
// clean, so a run with nothing to do is fast. The others are migrated with bounded
// concurrency (opts.Concurrency). One tenant's failure neither stops nor rolls
// back the others: it is left at the version it reached, dirty if a migration
// that controls its own transactions failed part-way, and reported. Tenants that were dirty before the run are
// reported as failed ([ErrDirty]) and not touched. Running UpgradeFleet again
// resumes: only what is still behind is migrated.
//
// Each of the concurrent workers migrates its tenants in turn on one connection,
// reset with DISCARD ALL between tenants and closed at the end of the run (or
// after a failure), which saves a server process start per tenant.
//
// One fleet upgrade runs at a time per shared schema and version table: the run
// holds an advisory lock (on a connection of its own, closed afterwards), and a
// second run waits for it, as long as its ctx allows, and then finds most tenants
// at the target.
//
// # Stopping
//
// Closing opts.Drain stops the run gracefully: no further tenant starts, and
// those being migrated finish. opts.Canary and opts.MaxFailures stop it the same
// way after a failing canary or too many failures. Cancelling ctx stops it at
// once: no further tenant starts, and migrations running are cancelled (a
// transactional migration is rolled back with its version, so its tenant stays
// clean at the previous version; one that controls its own transactions leaves
// its tenant dirty). Either way the tenants not started are in the report with
// NotRun set.
//
// The report is returned in every case, as complete as the run got. The error is
// nil if every tenant succeeded or was skipped; a *[FleetError] if some failed
// (it also wraps [ErrFleetStopped] if the run was stopped); an error wrapping
// [ErrFleetStopped] if it was stopped without failures, or the context's error if
// ctx ended; otherwise the error that stopped the run before any tenant was
// migrated (the lock, the shared schema's migration, reading the versions).
func (m *Migrator) UpgradeFleet(ctx context.Context, opts FleetOptions) (rep FleetReport, err error) {
	start := time.Now()
	defer func() { rep.Duration = time.Since(start) }()
	target, err := m.tenantSet.resolve(opts.Target)
	if err != nil {
		return rep, fmt.Errorf("tenancy: fleet upgrade: %w", err)
	}
	conc := opts.Concurrency
	switch {
	case conc < 0:
		return rep, fmt.Errorf("tenancy: fleet upgrade: Concurrency must not be negative, got %d", conc)
	case conc == 0:
		conc = m.cfg.concurrency
	}
	if maxOpen := m.db.pool.Stats().MaxOpenConnections; maxOpen > 0 {
		if maxOpen < 2 {
			return rep, fmt.Errorf("tenancy: fleet upgrade: needs at least 2 connections, the pool allows %d", maxOpen)
		}
		conc = min(conc, maxOpen-1)
	}

	// Requested schemas: the invalid ones fail at once.
	var schemas []string
	var bad []TenantResult
	if opts.Schemas != nil {
		schemas = []string{} // not nil: an empty list selects nobody
		seen := make(map[string]bool, len(opts.Schemas))
		for _, s := range opts.Schemas {
			if seen[s] {
				continue
			}
			seen[s] = true
			if err := m.db.ValidateSchemaName(s); err != nil {
				bad = append(bad, TenantResult{Result: Result{Schema: s}, Err: &TenantError{Op: "upgrade", Key: s, Err: err}})
				continue
			}
			schemas = append(schemas, s)
		}
	}

	if opts.Canary < 0 || opts.MaxFailures < 0 {
		return rep, fmt.Errorf("tenancy: fleet upgrade: Canary and MaxFailures must not be negative, got %d and %d", opts.Canary, opts.MaxFailures)
	}
	rep.DryRun = opts.DryRun
	if opts.DryRun {
		row, err := m.readSchemaVersion(ctx, m.db.cfg.sharedSchema)
		if err != nil {
			return rep, fmt.Errorf("tenancy: fleet upgrade: shared schema: %w", ctxErr(ctx, err))
		}
		rep.Shared = Result{Schema: row.schema, From: row.versionU(), To: row.versionU(), Dirty: row.dirty}
	} else {
		release, err := m.lockFleet(ctx)
		if err != nil {
			return rep, err
		}
		defer release()
		if !opts.SkipShared {
			rep.Shared, err = m.MigrateShared(ctx)
			if err != nil {
				return rep, fmt.Errorf("tenancy: fleet upgrade: shared schema: %w", err)
			}
		}
	}

	// One pass over the versions decides who needs work.
	var todo []versionRow
	var settled []TenantResult
	found := make(map[string]bool)
	err = m.readVersions(ctx, schemas, func(v versionRow) error {
		found[v.schema] = true
		cur := v.versionU()
		res := TenantResult{Result: Result{Schema: v.schema, From: cur, To: cur, Dirty: v.dirty}, TenantID: v.tenantID}
		switch {
		case v.dirty:
			res.Err = &MigrationError{Op: "upgrade", Schema: v.schema, TenantID: v.tenantID, Version: cur, Dirty: true, Err: ErrDirty}
		case cur >= target:
			res.Skipped = true
		case !m.tenantSet.known(cur):
			res.Err = &MigrationError{Op: "upgrade", Schema: v.schema, TenantID: v.tenantID,
				Err: fmt.Errorf("%w: the schema is at version %d, which is not a tenant migration", ErrUnknownVersion, cur)}
		case opts.DryRun:
			steps, _ := m.tenantSet.upSteps(cur, target) // cur is known
			for _, st := range steps {
				res.Planned = append(res.Planned, st.file.version)
			}
		default:
			todo = append(todo, v)
			return nil
		}
		settled = append(settled, res)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("tenancy: fleet upgrade: read tenant versions: %w", ctxErr(ctx, err))
	}
	for _, s := range schemas {
		if !found[s] {
			bad = append(bad, TenantResult{Result: Result{Schema: s}, Err: &TenantError{Op: "upgrade", Key: s, Err: ErrUnknownTenant}})
		}
	}

	total := len(bad) + len(settled) + len(todo)
	rep.Tenants = make([]TenantResult, 0, total)
	var failed []TenantResult
	account := func(tr TenantResult) {
		rep.Tenants = append(rep.Tenants, tr)
		switch {
		case tr.Err != nil:
			rep.Failed++
			failed = append(failed, tr)
			if l := m.cfg.logger; l != nil {
				l.LogAttrs(ctx, slog.LevelWarn, "tenancy: fleet upgrade: tenant failed",
					slog.String("schema", tr.Schema), slog.Any("error", tr.Err))
			}
		case tr.Skipped:
			rep.Skipped++
		case tr.NotRun:
			rep.NotRun++
		default:
			rep.Upgraded++
		}
		if opts.Progress != nil {
			opts.Progress(FleetProgress{Done: len(rep.Tenants), Total: total, Last: tr})
		}
	}
	for _, tr := range bad {
		account(tr)
	}
	for _, tr := range settled {
		account(tr)
	}

	next, stopped := m.upgradeTenants(ctx, todo, target, conc, opts, account)
	if next < len(todo) {
		rep.Stopped = stopped
	}
	for _, v := range todo[next:] {
		cur := v.versionU()
		why := ctx.Err()
		if why == nil {
			why = ErrFleetStopped
		}
		rep.Tenants = append(rep.Tenants, TenantResult{
			Result: Result{Schema: v.schema, From: cur, To: cur}, TenantID: v.tenantID, NotRun: true, Err: why})
		rep.NotRun++
	}
	slices.SortFunc(rep.Tenants, func(a, b TenantResult) int { return cmp.Compare(a.Schema, b.Schema) })
	m.fleetNodes(ctx, schemas, &rep)
	if opts.CheckDrift && ctx.Err() == nil {
		if err := m.fleetDrift(ctx, opts.DriftReference, &rep); err != nil {
			return rep, err
		}
	}
	if l := m.cfg.logger; l != nil {
		l.LogAttrs(ctx, slog.LevelInfo, "tenancy: fleet upgrade finished",
			slog.Int("upgraded", rep.Upgraded), slog.Int("skipped", rep.Skipped),
			slog.Int("failed", rep.Failed), slog.Int("not_run", rep.NotRun),
			slog.Duration("duration", time.Since(start)))
	}
	switch {
	case rep.Failed > 0:
		fe := &FleetError{Failed: failed, Total: total, NotRun: rep.NotRun}
		if rep.NotRun > 0 {
			fe.Stopped = stopped
		}
		return rep, fe
	case ctx.Err() != nil && rep.NotRun > 0:
		return rep, fmt.Errorf("tenancy: fleet upgrade stopped, %d tenants not run: %w", rep.NotRun, ctx.Err())
	case rep.NotRun > 0:
		return rep, fmt.Errorf("tenancy: fleet upgrade stopped (%s), %d tenants not run: %w", stopped, rep.NotRun, ErrFleetStopped)
	}
	return rep, nil
}

// upgradeTenants migrates todo with conc workers, passing each result to account
// in this goroutine. It stops handing out tenants when ctx ends, when opts.Drain
// is closed, after a failed canary or opts.MaxFailures failures; it returns how
// many it handed out (todo[:n]) and why it stopped ("" if it did not).
func (m *Migrator) upgradeTenants(ctx context.Context, todo []versionRow, target uint, conc int,
	opts FleetOptions, account func(TenantResult)) (int, string) {
	if len(todo) == 0 {
		return 0, ""
	}
	jobs := make(chan versionRow)
	results := make(chan TenantResult)
	var wg sync.WaitGroup
	for i := 0; i < min(conc, len(todo)); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker keeps its connection from one tenant to the next (see
			// migConn.keep), and closes it at the end.
			mc := &migConn{}
			defer mc.close(ctx)
			for v := range jobs {
				subj := subject{set: m.tenantSet, schema: v.schema, tenantID: v.tenantID}
				res, err := m.runUp(ctx, "upgrade", subj, target, true, mc)
				results <- TenantResult{Result: res, TenantID: v.tenantID, Skipped: err == nil && len(res.Applied) == 0, Err: err}
			}
		}()
	}
	canary := min(opts.Canary, len(todo))
	next, running, finished, failures := 0, 0, 0, 0
	stopped := ""
	drain := opts.Drain
	for next < len(todo) || running > 0 {
		var send chan<- versionRow
		var done <-chan struct{}
		var job versionRow
		// During the canary phase, the others wait for every canary's result.
		holding := next >= canary && finished < canary
		if ctx.Err() != nil && stopped == "" {
			stopped = "cancelled"
		}
		if stopped == "" && drain != nil {
			// Checked first: select would pick at random between a drain and
			// a worker ready for the next tenant.
			select {
			case <-drain:
				stopped = "drain"
			default:
			}
		}
		if next < len(todo) && stopped == "" && !holding {
			send, done, job = jobs, ctx.Done(), todo[next]
		} else if running == 0 && (stopped != "" || next == len(todo)) {
			break
		}
		if stopped != "" {
			drain = nil
		}
		select {
		case send <- job:
			next++
			running++
		case tr := <-results:
			running--
			finished++
			account(tr)
			if tr.Err != nil {
				failures++
				switch {
				case finished <= canary && stopped == "":
					stopped = "canary failed"
				case opts.MaxFailures > 0 && failures >= opts.MaxFailures && stopped == "":
					stopped = "max failures"
				}
			}
		case <-done:
		case <-drain:
			if stopped == "" {
				stopped = "drain"
			}
		}
	}
	close(jobs)
	wg.Wait()
	return next, stopped
}

// fleetNodes fills in the node of rep's tenants on Citus. Failing to read
// placement is logged, not returned: the migrations' outcome stands.
func (m *Migrator) fleetNodes(ctx context.Context, schemas []string, rep *FleetReport) {
	if ctx.Err() != nil {
		return
	}
	p, err := m.placements(unscoped(ctx), schemas)
	if err != nil {
		if l := m.cfg.logger; l != nil {
			l.WarnContext(ctx, "tenancy: fleet upgrade: cannot read placement", "error", err)
		}
		return
	}
	for i := range rep.Tenants {
		rep.Tenants[i].Node = p[rep.Tenants[i].Schema]
	}
}

// lockFleet takes the fleet upgrade's advisory lock on a connection of its own,
// waiting as long as ctx allows. The returned func releases it by closing that
// connection.
func (m *Migrator) lockFleet(ctx context.Context) (func(), error) {
	ctx = unscoped(ctx)
	mc := &migConn{}
	conn, err := mc.pin(ctx, m.db, m.db.cfg.sharedSchema)
	if err != nil {
		return nil, fmt.Errorf("tenancy: fleet upgrade: connect: %w", ctxErr(ctx, err))
	}
	release := func() { mc.close(ctx) }
	obj := lockObject("fleet", m.db.cfg.sharedSchema, m.cfg.table)
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1, $2)`, lockClass, obj); err != nil {
		release()
		return nil, fmt.Errorf("tenancy: fleet upgrade: lock: %w", ctxErr(ctx, err))
	}
	return release, nil
}

// FleetStatus returns the migration state of every registered tenant, in registry
// id order, reading the versions with one query per 500 tenants (no connection or
// round trip per tenant), taking no lock and changing nothing.
func (m *Migrator) FleetStatus(ctx context.Context) ([]Status, error) {
	var out []Status
	err := m.readVersions(ctx, nil, func(v versionRow) error {
		out = append(out, v.status(m.tenantSet))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tenancy: fleet status: %w", ctxErr(ctx, err))
	}
	p, err := m.placements(unscoped(ctx), nil)
	if err != nil {
		return nil, fmt.Errorf("tenancy: fleet status: %w", err)
	}
	for i := range out {
		out[i].Node = p[out[i].Schema]
	}
	return out, nil
}

// fleetDrift fills rep.Drift for the tenants of rep.
func (m *Migrator) fleetDrift(ctx context.Context, reference string, rep *FleetReport) error {
	all, err := m.FleetDrift(ctx, reference)
	if err != nil {
		return err
	}
	in := make(map[string]bool, len(rep.Tenants))
	for _, tr := range rep.Tenants {
		in[tr.Schema] = true
	}
	for _, d := range all {
		if in[d.Schema] {
			rep.Drift = append(rep.Drift, d)
			if d.Compared && d.Drifted() {
				rep.Drifted++
			}
		}
	}
	return nil
}
