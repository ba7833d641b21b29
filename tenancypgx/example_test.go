package tenancypgx_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"testing"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/tenancypgx"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// Each request's statements run in its tenant's schema; without a tenant,
// nothing runs.
func Example() {
	url, drop := exampleDatabase()
	defer drop()
	ctx := context.Background()

	pool, err := tenancypgx.New(ctx, url)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	// Set-up (normally migrations): two tenants with their own users table.
	for _, q := range []string{
		"CREATE SCHEMA acme", "CREATE TABLE acme.users (id int, email text)",
		"INSERT INTO acme.users VALUES (1, 'ann@acme.example')",
		"CREATE SCHEMA globex", "CREATE TABLE globex.users (id int, email text)",
		"INSERT INTO globex.users VALUES (1, 'gus@globex.example')",
	} {
		if _, err := pool.Pool().Exec(ctx, q); err != nil { // Pool(): not scoped
			log.Fatal(err)
		}
	}

	for _, schema := range []string{"acme", "globex"} {
		// In an HTTP handler, tenancy.Middleware puts the tenant in r.Context().
		tctx := tenancy.NewContext(ctx, tenancy.Tenant{Name: schema, Schema: schema})
		var email string
		if err := pool.QueryRow(tctx, "SELECT email FROM users WHERE id = $1", 1).Scan(&email); err != nil {
			log.Fatal(err)
		}
		fmt.Println(schema, email)
	}

	_, err = pool.Exec(ctx, "DELETE FROM users")
	fmt.Println(errors.Is(err, tenancy.ErrNoTenant))
	// Output:
	// acme ann@acme.example
	// globex gus@globex.example
	// true
}

func exampleDatabase() (url string, drop func()) {
	tb := &exampleTB{}
	url = tenancytest.NewDatabase(tb)
	return url, tb.cleanup
}

// exampleTB implements the part of testing.TB that tenancytest.NewDatabase uses
// (as the root package's examples do). The embedded interface is nil: any other
// method would panic.
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
