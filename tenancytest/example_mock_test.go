package tenancytest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/DATA-DOG/go-sqlmock"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// countUsers is application code under test: it uses the tenant in ctx.
func countUsers(ctx context.Context, db *tenancy.DB) (int, error) {
	var n int
	err := db.GetContext(ctx, &n, `SELECT count(*) FROM users`)
	return n, err
}

// A unit test of code that uses a tenancy.DB, without a database: the mock
// expects the scoping of each statement (reset and SET), then the application's
// query.
func ExampleNewMock() {
	t := &testing.T{} // in a real test, the *testing.T of the test function
	db, mock := tenancytest.NewMock(t)

	tenancytest.ExpectSearchPath(mock, "acme")
	mock.ExpectQuery(`SELECT count(*) FROM users`).
		WillReturnRows(sqlmock.NewRows([]string{"count"}).AddRow(3))
	// Every statement is scoped again: nothing about a session is trusted.
	tenancytest.ExpectSearchPath(mock, "acme")
	mock.ExpectQuery(`SELECT count(*) FROM users`).
		WillReturnRows(sqlmock.NewRows([]string{"count"}).AddRow(4))

	ctx := tenancy.NewContext(context.Background(), tenancy.Tenant{ID: 1, Schema: "acme"})
	n1, err1 := countUsers(ctx, db)
	n2, err2 := countUsers(ctx, db)
	fmt.Println(n1, err1, n2, err2)

	_, err := countUsers(context.Background(), db) // no tenant: fails closed, sends nothing
	fmt.Println(err)
	fmt.Println(mock.ExpectationsWereMet())
	// Output:
	// 3 <nil> 4 <nil>
	// tenancy: no tenant in context
	// <nil>
}
