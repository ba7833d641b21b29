package tenancy_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
)

// The benchmarks below measure the migrator at fleet scale on the test server.
// Each operation is a whole workload (1,000 creates, one fleet upgrade of 1,000
// tenants, one status read of 10,000), so run them once:
//
//	go test -run XXX -bench 'Create|Fleet' -benchtime 1x .

const benchTenants = 1000

// BenchmarkCreateTenant creates 1,000 tenants with the demo migrations, one after
// the other, and reports the median and 95th percentile time of one create.
func BenchmarkCreateTenant(b *testing.B) {
	e := newMigEnv(b, migrations.Shared, migrations.Tenant).ready(b)
	ctx := context.Background()
	var all []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range benchTenants {
			s := fmt.Sprintf("bench_%d_%04d", i, j)
			start := time.Now()
			if _, err := e.m.CreateTenant(ctx, tenancy.NewTenant{Name: s, Schema: s, Host: strings.ReplaceAll(s, "_", "-") + ".example.com"}); err != nil {
				b.Fatal(err)
			}
			all = append(all, time.Since(start))
		}
	}
	b.StopTimer()
	slices.Sort(all)
	b.ReportMetric(ms(all[len(all)/2]), "median-ms/create")
	b.ReportMetric(ms(all[len(all)*95/100]), "p95-ms/create")
	b.ReportMetric(ms(all[len(all)-1]), "max-ms/create")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// createMany creates n tenants named prefix_0000... with m, four at a time.
func createMany(b *testing.B, m *tenancy.Migrator, prefix string, n int) {
	b.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				s := fmt.Sprintf("%s_%04d", prefix, j)
				if _, err := m.CreateTenant(ctx, tenancy.NewTenant{Name: s, Schema: s}); err != nil {
					errs <- err
				}
			}
		}()
	}
	for j := range n {
		next <- j
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// BenchmarkFleetUpgradeOneMigration upgrades 1,000 tenants by one migration (an
// index on each tenant's users table) with the default concurrency.
func BenchmarkFleetUpgradeOneMigration(b *testing.B) {
	e := newMigEnv(b, migrations.Shared, migrations.Tenant).ready(b)
	_, _, m3 := openMigrator(b, e.dsn, migrations.Shared, tenantFS(b, map[string]string{
		"000003_users_created_at.up.sql": `CREATE INDEX users_created_at_idx ON users (created_at);`,
	}))
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		createMany(b, e.m, fmt.Sprintf("up%d", i), benchTenants) // at version 2
		b.StartTimer()
		rep, err := m3.UpgradeFleet(ctx, tenancy.FleetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Upgraded != benchTenants {
			b.Fatalf("upgraded %d of %d", rep.Upgraded, benchTenants)
		}
		b.ReportMetric(ms(rep.Duration)/benchTenants, "ms/tenant")
	}
}

// BenchmarkFleetUpgradeNothingToApply runs a fleet upgrade over 1,000 tenants that
// are all at the newest version.
func BenchmarkFleetUpgradeNothingToApply(b *testing.B) {
	e := newMigEnv(b, migrations.Shared, migrations.Tenant).ready(b)
	createMany(b, e.m, "noop", benchTenants)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := e.m.UpgradeFleet(ctx, tenancy.FleetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Skipped != benchTenants {
			b.Fatalf("skipped %d of %d", rep.Skipped, benchTenants)
		}
	}
}

// BenchmarkFleetStatus10k reads the status of 10,000 tenants. To keep the setup
// short, each tenant schema holds only its version table.
func BenchmarkFleetStatus10k(b *testing.B) {
	const n = 10_000
	e := newMigEnv(b, migrations.Shared, migrations.Tenant).ready(b)
	for lo := 1; lo <= n; lo += 1000 {
		mustExec(b, e.admin, fmt.Sprintf(`DO $$ BEGIN FOR i IN %d..%d LOOP
			EXECUTE format('CREATE SCHEMA s%%s; CREATE TABLE s%%s.schema_migrations (version bigint not null primary key, dirty boolean not null);
				INSERT INTO s%%s.schema_migrations VALUES (2, false)', i, i, i);
			INSERT INTO shared.tenants (name, schema) VALUES ('T' || i, 's' || i);
		END LOOP; END $$`, lo, lo+999))
	}
	mustExec(b, e.admin, `VACUUM ANALYZE`)
	ctx := context.Background()
	// The first read runs on a new backend, whose caches are cold: what a CLI
	// started for the purpose sees.
	start := time.Now()
	if _, err := e.m.FleetStatus(ctx); err != nil {
		b.Fatal(err)
	}
	cold := time.Since(start)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sts, err := e.m.FleetStatus(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(sts) != n || sts[n-1].Version != 2 {
			b.Fatalf("FleetStatus: %d tenants", len(sts))
		}
	}
	b.StopTimer()
	b.ReportMetric(ms(cold), "cold-ms")
	// And a fleet upgrade over them with nothing to do.
	start = time.Now()
	rep, err := e.m.UpgradeFleet(ctx, tenancy.FleetOptions{})
	if err != nil || rep.Skipped != n {
		b.Fatalf("UpgradeFleet: %+v, %v", rep.Skipped, err)
	}
	b.ReportMetric(ms(time.Since(start)), "noop-upgrade-ms")
}

// BenchmarkCreateTenantSaaS creates tenants of the realistic 160-migration set
// (testdata/saas), by running the migrations and by cloning the template, one
// after the other and 16 at once, and reports the median and 95th percentile
// time of one create and the throughput. TENANCY_BENCH_CREATES sets how many
// tenants each case creates (default 100).
//
//	TENANCY_BENCH_CREATES=1000 go test -run XXX -bench CreateTenantSaaS -benchtime 1x .
func BenchmarkCreateTenantSaaS(b *testing.B) {
	n := 100
	if s := os.Getenv("TENANCY_BENCH_CREATES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	for _, how := range []string{"migrate", "clone"} {
		for _, par := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/parallel=%d", how, par), func(b *testing.B) {
				e := newMigEnv(b, migrations.Shared, saasTenant).ready(b)
				m := e.m
				if how == "clone" {
					_, _, m = openMigrator(b, e.dsn, migrations.Shared, saasTenant, tenancy.WithCloneTemplate("tenant_template"))
					if err := m.RebuildTemplate(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					all := make([]time.Duration, n)
					start := time.Now()
					var wg sync.WaitGroup
					next := make(chan int)
					errs := make(chan error, n)
					for range par {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for j := range next {
								s := fmt.Sprintf("b%d_%05d", i, j)
								t0 := time.Now()
								if _, err := m.CreateTenant(context.Background(), tenancy.NewTenant{Name: s, Schema: s}); err != nil {
									errs <- err
								}
								all[j] = time.Since(t0)
							}
						}()
					}
					for j := range n {
						next <- j
					}
					close(next)
					wg.Wait()
					close(errs)
					for err := range errs {
						b.Fatal(err)
					}
					total := time.Since(start)
					slices.Sort(all)
					b.ReportMetric(ms(all[n/2]), "median-ms/create")
					b.ReportMetric(ms(all[n*95/100]), "p95-ms/create")
					b.ReportMetric(float64(n)/total.Seconds(), "creates/s")
				}
			})
		}
	}
}

// BenchmarkFleetUpgradeSaaS upgrades a fleet of tenants of the realistic set
// (created by clone, four at a time, outside the timer) with one new migration
// (an index on a table of each tenant), and then again with nothing to apply.
// TENANCY_BENCH_FLEET sets the number of tenants (default 100).
//
//	TENANCY_BENCH_FLEET=1000 go test -run XXX -bench FleetUpgradeSaaS -benchtime 1x .
func BenchmarkFleetUpgradeSaaS(b *testing.B) {
	n := 100
	if s := os.Getenv("TENANCY_BENCH_FLEET"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	e := newMigEnv(b, migrations.Shared, saasTenant).ready(b)
	_, _, mc := openMigrator(b, e.dsn, migrations.Shared, saasTenant, tenancy.WithCloneTemplate("tenant_template"))
	next := mapFS(map[string]string{"9000_tasks_due.up.sql": `CREATE INDEX tasks_created_by_priority_idx ON tasks (priority, created_at);`})
	files := map[string]string{}
	err := fs.WalkDir(saasTenant, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(saasTenant, p)
		files[p] = string(body)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	nb, _ := fs.ReadFile(next, "9000_tasks_due.up.sql")
	files["9000_tasks_due.up.sql"] = string(nb)
	_, _, m2 := openMigrator(b, e.dsn, migrations.Shared, mapFS(files))
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		createMany(b, mc, fmt.Sprintf("f%d", i), n)
		b.StartTimer()
		rep, err := m2.UpgradeFleet(ctx, tenancy.FleetOptions{})
		if err != nil || rep.Upgraded != n {
			b.Fatalf("upgraded %d of %d: %v", rep.Upgraded, n, err)
		}
		b.ReportMetric(ms(rep.Duration), "one-migration-ms/fleet")
		rep, err = m2.UpgradeFleet(ctx, tenancy.FleetOptions{})
		if err != nil || rep.Skipped != n {
			b.Fatalf("skipped %d of %d: %v", rep.Skipped, n, err)
		}
		b.ReportMetric(ms(rep.Duration), "nothing-ms/fleet")
	}
}
