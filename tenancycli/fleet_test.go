package tenancycli_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
	"github.com/go-tenancy/tenancy/tenancycli"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// fleetFixture has three tenants at version 2, and a CLI config whose Migrator
// adds migration 3, which waits for advisory lock key: the test holds it up.
type fleetFixture struct {
	*fixture
	admin *sql.DB
}

func newFleetFixture(t *testing.T, key int64) *fleetFixture {
	t.Helper()
	dsn := tenancytest.NewDatabase(t)
	db, err := tenancy.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg, err := tenancy.NewRegistry(db)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := tenancy.NewMigrator(db, reg, migrations.Shared, migrations.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := m2.MigrateShared(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"acme", "globex", "initech"} {
		if _, err := m2.CreateTenant(ctx, tenancy.NewTenant{Name: s, Schema: s}); err != nil {
			t.Fatal(err)
		}
	}
	tfs := fstest.MapFS{}
	err = fs.WalkDir(migrations.Tenant, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.Tenant, p)
		tfs[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tfs["000003_wait.up.sql"] = &fstest.MapFile{Data: []byte(fmt.Sprintf("CREATE TABLE waited (id int);\nSELECT pg_advisory_xact_lock_shared(%d);", key))}
	m3, err := tenancy.NewMigrator(db, reg, migrations.Shared, tfs)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	return &fleetFixture{
		fixture: &fixture{t: t, db: db, cfg: tenancycli.Config{Migrator: m3, Registry: reg, Name: "tenancy", Progress: tenancycli.ProgressLines}},
		admin:   admin,
	}
}

func (f *fleetFixture) count(q string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.admin.QueryRow(q, args...).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func TestFleetUpgradeDryRunAndJSON(t *testing.T) {
	t.Parallel()
	f := newFleetFixture(t, 0) // the lock is not held: migration 3 just runs
	f.ok([]string{"fleet-upgrade", "--dry-run"}, `(?m)^SCHEMA +FROM +TO +WOULD RUN +ERROR$`, `(?m)^acme +2 +3 +3 *$`,
		`would be upgraded, 0 skipped, 0 failed; nothing was changed`)
	if n := f.count(`SELECT count(*) FROM pg_tables WHERE tablename = 'waited'`); n != 0 {
		t.Fatalf("the dry run migrated %d tenants", n)
	}
	out := f.ok([]string{"fleet-upgrade", "--dry-run", "--json"})
	var rep struct {
		DryRun  bool `json:"dry_run"`
		Tenants []struct {
			Schema  string `json:"schema"`
			Result  string `json:"result"`
			Planned []uint `json:"planned"`
		} `json:"tenants"`
		Upgraded int `json:"upgraded"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if !rep.DryRun || rep.Upgraded != 3 || len(rep.Tenants) != 3 || rep.Tenants[0].Result != "planned" || fmt.Sprint(rep.Tenants[0].Planned) != "[3]" {
		t.Fatalf("dry-run JSON: %+v", rep)
	}
	out = f.ok([]string{"fleet-upgrade", "--json", "--canary", "1", "--max-failures", "1"})
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.DryRun || rep.Upgraded != 3 || rep.Tenants[1].Result != "upgraded" {
		t.Fatalf("JSON report: %+v, %v\n%s", rep, err, out)
	}
	f.fails(2, []string{"fleet-upgrade", "--canary", "-1"}, `--canary must not be negative`)
	f.fails(2, []string{"fleet-upgrade", "--max-failures", "-2"}, `--max-failures must not be negative`)
}

func TestFleetUpgradeInterruptDrains(t *testing.T) {
	t.Parallel()
	const key = 914015
	f := newFleetFixture(t, key)
	conn, err := f.admin.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_lock($1)`, key); err != nil {
		t.Fatal(err)
	}
	// The program's context ends (its first Ctrl-C) while one tenant migrates:
	// that tenant finishes, the others do not start, exit 1.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	var errOut syncBuffer
	cfg := f.cfg
	cfg.Stdout, cfg.Stderr = &out, &errOut
	code := make(chan int, 1)
	go func() { code <- tenancycli.Main(ctx, []string{"fleet-upgrade", "--concurrency", "1"}, cfg) }()
	deadline := time.Now().Add(30 * time.Second)
	for f.count(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1`, key) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("no tenant started migrating")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	// The drain is observable before the migration ends: the message is printed.
	for !strings.Contains(errOut.String(), "stopping") {
		if time.Now().After(deadline) {
			t.Fatal("the interrupt was not taken for a drain")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, key); err != nil {
		t.Fatal(err)
	}
	if c := <-code; c != tenancycli.ExitFailure {
		t.Fatalf("exit %d, want 1\n%s\n%s", c, out.String(), errOut.String())
	}
	matchAll(t, nil, out.String(), []string{`(?m)^acme +2 +3 +upgraded `, `(?m)^globex +2 +2 +not run +- *$`,
		`fleet upgrade: 1 upgraded, 0 skipped, 0 failed, 2 not run`})
	matchAll(t, nil, errOut.String(), []string{`stopped \(drain\): 2 tenants not run; running fleet-upgrade again resumes`})
	if n := f.count(`SELECT count(*) FROM pg_tables WHERE tablename = 'waited'`); n != 1 {
		t.Fatalf("%d tenants migrated, want the 1 that was running", n)
	}
}

// syncBuffer is a bytes.Buffer that one goroutine may write while another reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
