package tenancy_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
)

// v3Constraint adds a constraint that rows with an empty role name violate.
var v3Constraint = map[string]string{
	"000003_role_names.up.sql":   `ALTER TABLE roles ADD CONSTRAINT roles_name_not_empty CHECK (role_name <> '');`,
	"000003_role_names.down.sql": `ALTER TABLE roles DROP CONSTRAINT roles_name_not_empty;`,
}

func TestFleetUpgradeIsolatesFailuresAndResumes(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	ctx := context.Background()
	schemas := []string{"t1", "t2", "t3", "t4", "t5", "t6"}
	for _, s := range schemas {
		e.create(t, s)
		mustExec(t, e.admin, `INSERT INTO `+s+`.roles (role_name) VALUES ('admin')`)
	}
	// t3 has a row the new constraint rejects; t6 is dirty before the run.
	mustExec(t, e.admin, `INSERT INTO t3.roles (role_name) VALUES ('')`)
	mustExec(t, e.admin, `UPDATE t6.schema_migrations SET dirty = true`)

	_, _, m3 := openMigrator(t, e.dsn, migrations.Shared, tenantFS(t, v3Constraint))
	var progress []tenancy.FleetProgress
	rep, err := m3.UpgradeFleet(ctx, tenancy.FleetOptions{
		Concurrency: 3,
		Progress:    func(p tenancy.FleetProgress) { progress = append(progress, p) }, // serialised: no lock
	})
	var fe *tenancy.FleetError
	if !errors.As(err, &fe) || len(fe.Failed) != 2 || fe.Total != 6 {
		t.Fatalf("UpgradeFleet error = %v, want a *FleetError with 2 of 6 failed", err)
	}
	if !errors.Is(err, tenancy.ErrDirty) {
		t.Fatalf("the fleet error does not say a tenant was dirty: %v", err)
	}
	if rep.Upgraded != 4 || rep.Failed != 2 || rep.Skipped != 0 || rep.NotRun != 0 || len(rep.Tenants) != 6 {
		t.Fatalf("report counts: %+v", rep)
	}
	if len(progress) != 6 {
		t.Fatalf("Progress called %d times, want 6", len(progress))
	}
	for i, p := range progress {
		if p.Done != i+1 || p.Total != 6 {
			t.Fatalf("progress %d = %+v", i, p)
		}
	}
	byName := map[string]tenancy.TenantResult{}
	for _, tr := range rep.Tenants {
		byName[tr.Schema] = tr
	}
	if got := slices.Sorted(maps.Keys(byName)); !slices.Equal(got, schemas) {
		t.Fatalf("report tenants %v", got)
	}
	for _, s := range []string{"t1", "t2", "t4", "t5"} {
		tr := byName[s]
		if tr.Err != nil || tr.From != 2 || tr.To != 3 || !slices.Equal(tr.Applied, []uint{3}) || tr.TenantID == 0 || tr.Duration <= 0 {
			t.Fatalf("%s: %+v", s, tr)
		}
		if v, d := e.version(t, s); v != 3 || d {
			t.Fatalf("%s at %d/%v, want 3", s, v, d)
		}
	}
	// t3 failed on its own data: the migration ran as one transaction with its
	// version, so t3 is left clean at version 2, with the server's error.
	tr := byName["t3"]
	var me *tenancy.MigrationError
	var pe *pq.Error
	if !errors.As(tr.Err, &me) || me.Version != 3 || me.Dirty || !errors.As(tr.Err, &pe) || pe.Code != "23514" {
		t.Fatalf("t3: %v", tr.Err)
	}
	if tr.Dirty || tr.To != 2 {
		t.Fatalf("t3 result %+v, want clean at 2", tr)
	}
	if v, d := e.version(t, "t3"); v != 2 || d {
		t.Fatalf("t3 at %d/%v, want 2/clean", v, d)
	}
	// t6 was dirty: reported, not touched.
	tr = byName["t6"]
	if !errors.Is(tr.Err, tenancy.ErrDirty) || !errors.As(tr.Err, &me) || me.Version != 2 || tr.Duration != 0 {
		t.Fatalf("t6: %+v", tr)
	}
	if e.count(t, `SELECT count(*) FROM pg_constraint WHERE conname = 'roles_name_not_empty' AND connamespace = 't6'::regnamespace`) != 0 {
		t.Fatal("the dirty tenant was migrated")
	}

	// FleetStatus sees the same, in one pass.
	sts, err := m3.FleetStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 6 {
		t.Fatalf("FleetStatus has %d tenants", len(sts))
	}
	for _, st := range sts {
		want := tenancy.Status{Schema: st.Schema, TenantID: st.TenantID, Version: 3, Head: 3}
		switch st.Schema {
		case "t3":
			want.Version, want.Pending = 2, 1
		case "t6":
			want.Version, want.Dirty, want.Pending = 2, true, 1
		}
		if st != want || st.TenantID == 0 {
			t.Fatalf("FleetStatus %s = %+v, want %+v", st.Schema, st, want)
		}
	}

	// The operator repairs t3's data, forces t6, and runs again: only they run.
	mustExec(t, e.admin, `UPDATE t3.roles SET role_name = 'fixed' WHERE role_name = ''`)
	if err := m3.Force(ctx, "t6", 2); err != nil {
		t.Fatal(err)
	}
	rep, err = m3.UpgradeFleet(ctx, tenancy.FleetOptions{})
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if rep.Upgraded != 2 || rep.Skipped != 4 || rep.Failed != 0 {
		t.Fatalf("rerun report %+v", rep)
	}
	for _, tr := range rep.Tenants {
		if tr.Skipped != (tr.Schema != "t3" && tr.Schema != "t6") {
			t.Fatalf("rerun: %s skipped=%v", tr.Schema, tr.Skipped)
		}
		// Skipped tenants cost no connection: they have no duration.
		if tr.Skipped && tr.Duration != 0 {
			t.Fatalf("rerun: skipped %s took %v", tr.Schema, tr.Duration)
		}
	}
	rep, err = m3.UpgradeFleet(ctx, tenancy.FleetOptions{})
	if err != nil || rep.Skipped != 6 || rep.Upgraded != 0 {
		t.Fatalf("third run: %+v, %v", rep, err)
	}
	if n := e.advisoryLocks(t); n != 0 {
		t.Fatalf("%d advisory locks after the fleet runs", n)
	}
}

func TestFleetUpgradeCanarySubsetAndTarget(t *testing.T) {
	t.Parallel()
	v4 := tenantFS(t, map[string]string{
		"000003_a.up.sql": `CREATE TABLE a3 (id int);`,
		"000004_b.up.sql": `CREATE TABLE b4 (id int);`,
	})
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	ctx := context.Background()
	for _, s := range []string{"c1", "c2", "c3"} {
		e.create(t, s)
	}
	_, _, m4 := openMigrator(t, e.dsn, migrations.Shared, v4)
	rep, err := m4.UpgradeFleet(ctx, tenancy.FleetOptions{
		Schemas: []string{"c1", "c2", "c1", "nobody", "Bad"},
		Target:  3,
	})
	var fe *tenancy.FleetError
	if !errors.As(err, &fe) || rep.Upgraded != 2 || rep.Failed != 2 || len(rep.Tenants) != 4 {
		t.Fatalf("canary run: %+v, %v", rep, err)
	}
	if !errors.Is(err, tenancy.ErrUnknownTenant) || !errors.Is(err, tenancy.ErrInvalidSchemaName) {
		t.Fatalf("canary run error does not name the bad schemas: %v", err)
	}
	for s, want := range map[string]int64{"c1": 3, "c2": 3, "c3": 2} {
		if v, _ := e.version(t, s); v != want {
			t.Fatalf("%s at %d, want %d", s, v, want)
		}
	}
	if _, err := m4.UpgradeFleet(ctx, tenancy.FleetOptions{Target: 7}); !errors.Is(err, tenancy.ErrUnknownVersion) {
		t.Fatalf("unknown target: %v", err)
	}
	rep, err = m4.UpgradeFleet(ctx, tenancy.FleetOptions{Schemas: []string{}})
	if err != nil || len(rep.Tenants) != 0 {
		t.Fatalf("empty canary list: %+v, %v", rep, err)
	}
	rep, err = m4.UpgradeFleet(ctx, tenancy.FleetOptions{})
	if err != nil || rep.Upgraded != 3 {
		t.Fatalf("full run: %+v, %v", rep, err)
	}
	for _, s := range []string{"c1", "c2", "c3"} {
		if v, _ := e.version(t, s); v != 4 {
			t.Fatalf("%s at %d, want 4", s, v)
		}
	}
}

func TestFleetUpgradesRunConcurrentlyApplyEachMigrationOnce(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	const tenants = 12
	for i := range tenants {
		e.create(t, fmt.Sprintf("f%02d", i))
	}
	v3 := tenantFS(t, map[string]string{
		"000003_seed.up.sql": `INSERT INTO roles (role_name) VALUES ('seeded by 3');`,
	})
	const runs = 2
	ms := make([]*tenancy.Migrator, runs)
	for i := range ms {
		_, _, ms[i] = openMigrator(t, e.dsn, migrations.Shared, v3) // separate DBs: separate processes
	}
	reps := make([]tenancy.FleetReport, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			reps[i], errs[i] = ms[i].UpgradeFleet(context.Background(), tenancy.FleetOptions{Concurrency: 4})
		}()
	}
	close(start)
	wg.Wait()
	upgraded, skipped := 0, 0
	for i := range ms {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		upgraded += reps[i].Upgraded
		skipped += reps[i].Skipped
	}
	if upgraded != tenants || skipped != tenants {
		t.Fatalf("%d upgraded and %d skipped over both runs, want %d each", upgraded, skipped, tenants)
	}
	for i := range tenants {
		s := fmt.Sprintf("f%02d", i)
		if n := e.count(t, `SELECT count(*) FROM `+s+`.roles WHERE role_name = 'seeded by 3'`); n != 1 {
			t.Fatalf("%s: migration 3 ran %d times", s, n)
		}
		if v, d := e.version(t, s); v != 3 || d {
			t.Fatalf("%s at %d/%v", s, v, d)
		}
	}
}

func TestFleetUpgradeCancelled(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	for _, s := range []string{"k1", "k2", "k3"} {
		e.create(t, s)
	}
	_, _, m3 := openMigrator(t, e.dsn, migrations.Shared, tenantFS(t, map[string]string{
		"000003_x.up.sql": `CREATE TABLE x (id int);`,
	}))
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel from the first progress report: the shared schema is done and every
	// tenant is accounted for in the report, whether it ran, was cut short, or
	// never started.
	rep, err := m3.UpgradeFleet(ctx, tenancy.FleetOptions{
		Concurrency: 1,
		Progress:    func(tenancy.FleetProgress) { cancel() },
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled fleet run: %v", err)
	}
	if rep.Upgraded+rep.Failed+rep.NotRun != 3 || rep.Upgraded < 1 || rep.NotRun < 1 || len(rep.Tenants) != 3 {
		t.Fatalf("cancelled fleet report %+v", rep)
	}
	rep, err = m3.UpgradeFleet(context.Background(), tenancy.FleetOptions{})
	if err != nil || rep.Skipped+rep.Upgraded != 3 {
		t.Fatalf("resumed run: %+v, %v", rep, err)
	}
	if n := e.advisoryLocks(t); n != 0 {
		t.Fatalf("%d advisory locks survive", n)
	}
}

func TestFleetUpgradeWaitsForAnotherRun(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	e.create(t, "w1")
	_, _, m3 := openMigrator(t, e.dsn, migrations.Shared, tenantFS(t, map[string]string{
		"000003_x.up.sql": `CREATE TABLE x (id int);`,
	}))
	// Hold the fleet lock as another run would: the package's class (CRC-32 of
	// "tenancy") and the fleet object of shared schema and version table.
	conn, err := e.admin.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	class := int32(crc32.ChecksumIEEE([]byte("tenancy")))
	obj := int32(crc32.ChecksumIEEE([]byte("fleet\x00shared\x00schema_migrations")))
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_lock($1, $2)`, class, obj); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = m3.UpgradeFleet(ctx, tenancy.FleetOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("UpgradeFleet while another run holds the lock: %v, want it to wait until its deadline", err)
	}
	if v, _ := e.version(t, "w1"); v != 2 {
		t.Fatalf("w1 at %d: the waiting run migrated it", v)
	}
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1, $2)`, class, obj); err != nil {
		t.Fatal(err)
	}
	if rep, err := m3.UpgradeFleet(context.Background(), tenancy.FleetOptions{}); err != nil || rep.Upgraded != 1 {
		t.Fatalf("UpgradeFleet after the other run: %+v, %v", rep, err)
	}
}

// holdLock takes the session advisory lock key on a connection of its own and
// returns the function that releases it; a migration that takes the lock too
// waits for it, for as long as the test wants.
func holdLock(t testing.TB, e *migEnv, key int64) func() {
	t.Helper()
	conn, err := e.admin.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_lock($1)`, key); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, key)
			conn.Close()
		})
	}
	t.Cleanup(release)
	return release
}

func (e *migEnv) waitingFor(t testing.TB, key int64) int {
	return e.count(t, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, key)
}

func TestFleetUpgradeDrainFinishesRunningTenantsThenCancelRollsBack(t *testing.T) {
	t.Parallel()
	const key = 914014
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	schemas := []string{"d1", "d2", "d3", "d4", "d5", "d6"}
	for _, s := range schemas {
		e.create(t, s)
	}
	// Migration 3 waits for the test's lock: the test decides when it ends.
	_, _, m3 := openMigrator(t, e.dsn, migrations.Shared, tenantFS(t, map[string]string{
		"000003_wait.up.sql": fmt.Sprintf("CREATE TABLE waited (id int);\nSELECT pg_advisory_xact_lock_shared(%d);", key),
	}))
	release := holdLock(t, e, key)
	drain := make(chan struct{})
	type outcome struct {
		rep tenancy.FleetReport
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		rep, err := m3.UpgradeFleet(context.Background(), tenancy.FleetOptions{Concurrency: 2, Drain: drain})
		done <- outcome{rep, err}
	}()
	waitFor(t, "two tenants to be migrating", func() bool { return e.waitingFor(t, key) == 2 })
	close(drain) // the first Ctrl-C
	release()    // the running migrations may now finish
	out := <-done
	if !errors.Is(out.err, tenancy.ErrFleetStopped) || out.rep.Stopped != "drain" {
		t.Fatalf("drained run: %v, stopped %q", out.err, out.rep.Stopped)
	}
	if out.rep.Upgraded != 2 || out.rep.NotRun != 4 || out.rep.Failed != 0 || len(out.rep.Tenants) != 6 {
		t.Fatalf("drained report: %+v", out.rep)
	}
	for _, tr := range out.rep.Tenants {
		v, d := e.version(t, tr.Schema)
		switch {
		case tr.NotRun:
			if !errors.Is(tr.Err, tenancy.ErrFleetStopped) || v != 2 || d || tr.From != 2 || tr.To != 2 {
				t.Fatalf("not run %+v at %d/%v", tr, v, d)
			}
		case tr.Err != nil || tr.To != 3 || v != 3 || d:
			t.Fatalf("finished %+v at %d/%v", tr, v, d)
		}
	}

	// The second Ctrl-C: the context is cancelled while migrations run. They are
	// rolled back with their version: clean where they were, not dirty.
	holdLock(t, e, key)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		rep, err := m3.UpgradeFleet(ctx, tenancy.FleetOptions{Concurrency: 2})
		done <- outcome{rep, err}
	}()
	waitFor(t, "two tenants to be migrating", func() bool { return e.waitingFor(t, key) == 2 })
	cancel()
	out = <-done
	if !errors.Is(out.err, context.Canceled) || out.rep.NotRun != 2 || out.rep.Failed != 2 {
		t.Fatalf("cancelled run: %+v, %v", out.rep, out.err)
	}
	for _, s := range schemas {
		if v, d := e.version(t, s); d || (v != 2 && v != 3) {
			t.Fatalf("%s at %d/%v after a cancelled run", s, v, d)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM pg_tables WHERE tablename = 'waited'`); n != 2 {
		t.Fatalf("%d tenants have migration 3's table, want the 2 drained ones", n)
	}
}

func TestFleetUpgradeCanaryMaxFailuresDryRun(t *testing.T) {
	t.Parallel()
	e := newMigEnv(t, migrations.Shared, migrations.Tenant).ready(t)
	ctx := context.Background()
	schemas := []string{"q1", "q2", "q3", "q4", "q5", "q6"}
	for _, s := range schemas {
		e.create(t, s)
	}
	// q2 and q4 hold a row migration 3 rejects.
	for _, s := range []string{"q2", "q4"} {
		mustExec(t, e.admin, `INSERT INTO `+s+`.roles (role_name) VALUES ('')`)
	}
	_, _, m3 := openMigrator(t, e.dsn, migrations.Shared, tenantFS(t, v3Constraint))

	// Dry run: the plan per tenant, nothing changed, no lock.
	before := e.catalog(t)
	rep, err := m3.UpgradeFleet(ctx, tenancy.FleetOptions{DryRun: true})
	if err != nil || !rep.DryRun || rep.Upgraded != 6 || len(rep.Tenants) != 6 || rep.Shared.To != 2 {
		t.Fatalf("dry run: %+v, %v", rep, err)
	}
	for _, tr := range rep.Tenants {
		if !slices.Equal(tr.Planned, []uint{3}) || tr.To != 2 || tr.Duration != 0 {
			t.Fatalf("dry run %+v", tr)
		}
	}
	if after := e.catalog(t); after != before {
		t.Fatalf("the dry run changed something:\n%s\n%s", before, after)
	}

	// Canary of 2 (q1, q2 in registry order): q2 fails, nobody else starts.
	rep, err = m3.UpgradeFleet(ctx, tenancy.FleetOptions{Canary: 2, Concurrency: 4})
	var fe *tenancy.FleetError
	if !errors.As(err, &fe) || !errors.Is(err, tenancy.ErrFleetStopped) || rep.Stopped != "canary failed" ||
		rep.Upgraded != 1 || rep.Failed != 1 || rep.NotRun != 4 {
		t.Fatalf("canary run: %+v, %v", rep, err)
	}
	for _, s := range []string{"q3", "q4", "q5", "q6"} {
		if v, _ := e.version(t, s); v != 2 {
			t.Fatalf("%s ran after a failed canary", s)
		}
	}

	// At most one failure, one at a time: q2 fails again, then nothing starts.
	rep, err = m3.UpgradeFleet(ctx, tenancy.FleetOptions{MaxFailures: 1, Concurrency: 1})
	if !errors.As(err, &fe) || rep.Stopped != "max failures" || rep.Failed != 1 || rep.Skipped != 1 || rep.NotRun != 4 {
		t.Fatalf("max-failures run: %+v, %v", rep, err)
	}
	// Without limits, every healthy tenant goes through.
	rep, err = m3.UpgradeFleet(ctx, tenancy.FleetOptions{MaxFailures: 3})
	if !errors.As(err, &fe) || rep.Stopped != "" || rep.Failed != 2 || rep.Upgraded != 3 || rep.NotRun != 0 {
		t.Fatalf("run with failures under the limit: %+v, %v", rep, err)
	}
	if _, err := m3.UpgradeFleet(ctx, tenancy.FleetOptions{Canary: -1}); err == nil {
		t.Fatal("a negative canary was accepted")
	}
}
