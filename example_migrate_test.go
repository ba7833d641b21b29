package tenancy_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"testing"
	"testing/fstest"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// exampleDatabase returns the URL of a new, empty database on the test server and
// a func that drops it. An application would use its own DATABASE_URL instead.
//
// Examples get no *testing.T, and tenancytest.NewDatabase wants a testing.TB:
// exampleTB is the smallest one that serves it. A failure panics, which fails the
// example with the message.
func exampleDatabase() (url string, drop func()) {
	tb := &exampleTB{}
	url = tenancytest.NewDatabase(tb)
	return url, tb.cleanup
}

// exampleTB implements the part of testing.TB that tenancytest.NewDatabase uses.
// The embedded interface is nil: any other method would panic.
type exampleTB struct {
	testing.TB
	cleanups []func()
}

func (tb *exampleTB) Helper()                           {}
func (tb *exampleTB) Cleanup(f func())                  { tb.cleanups = append(tb.cleanups, f) }
func (tb *exampleTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (tb *exampleTB) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (tb *exampleTB) Skipf(format string, args ...any)  { panic(fmt.Sprintf(format, args...)) }

func (tb *exampleTB) cleanup() {
	for i := len(tb.cleanups) - 1; i >= 0; i-- {
		tb.cleanups[i]()
	}
}

// openExample opens the DB, Registry and Migrator an application would set up at
// start-up, over the demo migrations (or tenant, if not nil).
func openExample(url string, tenant fstest.MapFS) (*tenancy.DB, *tenancy.Migrator) {
	db, err := tenancy.Open("postgres", url)
	if err != nil {
		log.Fatal(err)
	}
	reg, err := tenancy.NewRegistry(db)
	if err != nil {
		log.Fatal(err)
	}
	var tfs = migrations.Tenant
	if tenant != nil {
		tfs = tenant
	}
	m, err := tenancy.NewMigrator(db, reg, migrations.Shared, tfs)
	if err != nil {
		log.Fatal(err)
	}
	return db, m
}

// A Migrator brings the shared schema up to date at start-up and creates tenants.
func ExampleMigrator() {
	url, drop := exampleDatabase()
	defer drop()
	ctx := context.Background()

	db, err := tenancy.Open("postgres", url)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	reg, err := tenancy.NewRegistry(db)
	if err != nil {
		log.Fatal(err)
	}
	m, err := tenancy.NewMigrator(db, reg, migrations.Shared, migrations.Tenant)
	if err != nil {
		log.Fatal(err)
	}

	// Safe on every start-up of every replica: all but the first find nothing to do.
	res, err := m.MigrateShared(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("shared schema: version %d → %d, applied %v\n", res.From, res.To, res.Applied)

	acme, err := m.CreateTenant(ctx, tenancy.NewTenant{Name: "Acme", Schema: "acme", Host: "acme.example.com"})
	if err != nil {
		log.Fatal(err)
	}
	st, err := m.Status(ctx, acme.Schema)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("tenant %s: version %d of %d, dirty %v\n", st.Schema, st.Version, st.Head, st.Dirty)

	// The tenant's tables are there, in its schema.
	var n int
	if err := db.GetContext(tenancy.NewContext(ctx, acme), &n, `SELECT count(*) FROM users`); err != nil {
		log.Fatal(err)
	}
	fmt.Println("users:", n)

	_, err = m.CreateTenant(ctx, tenancy.NewTenant{Name: "Acme again", Schema: "acme2", Host: "ACME.example.com"})
	var ce *tenancy.ConflictError
	if errors.As(err, &ce) {
		fmt.Printf("conflict on %s %q\n", ce.Field, ce.Value)
	}
	// Output:
	// shared schema: version 0 → 2, applied [1 2]
	// tenant acme: version 2 of 2, dirty false
	// users: 0
	// conflict on host "acme.example.com"
}

// Plan shows what an upgrade would run, with the SQL, and changes nothing.
func ExampleMigrator_Plan() {
	url, drop := exampleDatabase()
	defer drop()
	ctx := context.Background()

	// The application of the first release creates a tenant...
	db1, m1 := openExample(url, fstest.MapFS{
		"1_notes.up.sql":   {Data: []byte(`CREATE TABLE notes (id int PRIMARY KEY, body text);`)},
		"1_notes.down.sql": {Data: []byte(`DROP TABLE notes;`)},
	})
	defer db1.Close()
	if _, err := m1.MigrateShared(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := m1.CreateTenant(ctx, tenancy.NewTenant{Name: "Acme", Schema: "acme"}); err != nil {
		log.Fatal(err)
	}

	// ...and the next release adds a migration.
	db2, m2 := openExample(url, fstest.MapFS{
		"1_notes.up.sql":        {Data: []byte(`CREATE TABLE notes (id int PRIMARY KEY, body text);`)},
		"1_notes.down.sql":      {Data: []byte(`DROP TABLE notes;`)},
		"2_notes_author.up.sql": {Data: []byte(`ALTER TABLE notes ADD COLUMN author text;`)},
	})
	defer db2.Close()
	p, err := m2.Plan(ctx, "acme", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d → %d\n", p.Schema, p.From, p.To)
	for _, s := range p.Steps {
		fmt.Printf("  up %d %s: %s\n", s.Version, s.Name, s.SQL)
	}
	st, err := m2.Status(ctx, "acme")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("still at %d, %d pending\n", st.Version, st.Pending)
	// Output:
	// acme: 1 → 2
	//   up 2 notes_author: ALTER TABLE notes ADD COLUMN author text;
	// still at 1, 1 pending
}

// A fleet upgrade skips tenants already at the newest version, migrates the rest
// with bounded concurrency, and reports each one. A failure stays with its tenant:
// here globex has data the new migration rejects. The migration ran as one
// transaction with its version, so globex stays clean at version 1: the operator
// repairs the data and runs again, no Force needed.
func ExampleMigrator_UpgradeFleet() {
	url, drop := exampleDatabase()
	defer drop()
	ctx := context.Background()

	v1 := fstest.MapFS{"1_notes.up.sql": {Data: []byte(`CREATE TABLE notes (id int PRIMARY KEY, body text);`)}}
	db1, m1 := openExample(url, v1)
	defer db1.Close()
	if _, err := m1.MigrateShared(ctx); err != nil {
		log.Fatal(err)
	}
	tenants := map[string]tenancy.Tenant{}
	for _, s := range []string{"acme", "globex", "initech"} {
		t, err := m1.CreateTenant(ctx, tenancy.NewTenant{Name: s, Schema: s})
		if err != nil {
			log.Fatal(err)
		}
		tenants[s] = t
		body := "hello"
		if s == "globex" {
			body = ""
		}
		if _, err := db1.ExecContext(tenancy.NewContext(ctx, t), `INSERT INTO notes VALUES (1, $1)`, body); err != nil {
			log.Fatal(err)
		}
	}

	v2 := fstest.MapFS{
		"1_notes.up.sql":           v1["1_notes.up.sql"],
		"2_notes_not_empty.up.sql": {Data: []byte(`ALTER TABLE notes ADD CONSTRAINT notes_not_empty CHECK (body <> '');`)},
	}
	db2, m2 := openExample(url, v2)
	defer db2.Close()
	report := func(rep tenancy.FleetReport) {
		fmt.Printf("upgraded %d, skipped %d, failed %d\n", rep.Upgraded, rep.Skipped, rep.Failed)
		for _, t := range rep.Tenants {
			fmt.Printf("  %s: %d → %d dirty=%v skipped=%v failed=%v\n", t.Schema, t.From, t.To, t.Dirty, t.Skipped, t.Err != nil)
		}
	}
	rep, err := m2.UpgradeFleet(ctx, tenancy.FleetOptions{Concurrency: 2})
	var fe *tenancy.FleetError
	if errors.As(err, &fe) {
		fmt.Printf("%d of %d failed\n", len(fe.Failed), fe.Total)
	}
	report(rep)

	// The way out: repair, run again.
	if _, err := db2.ExecContext(tenancy.NewContext(ctx, tenants["globex"]),
		`UPDATE notes SET body = 'repaired' WHERE body = ''`); err != nil {
		log.Fatal(err)
	}
	rep, err = m2.UpgradeFleet(ctx, tenancy.FleetOptions{})
	if err != nil {
		log.Fatal(err)
	}
	report(rep)
	// Output:
	// 1 of 3 failed
	// upgraded 2, skipped 0, failed 1
	//   acme: 1 → 2 dirty=false skipped=false failed=false
	//   globex: 1 → 1 dirty=false skipped=false failed=true
	//   initech: 1 → 2 dirty=false skipped=false failed=false
	// upgraded 1, skipped 2, failed 0
	//   acme: 2 → 2 dirty=false skipped=true failed=false
	//   globex: 1 → 2 dirty=false skipped=false failed=false
	//   initech: 2 → 2 dirty=false skipped=true failed=false
}
