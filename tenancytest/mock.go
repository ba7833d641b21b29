package tenancytest

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/DATA-DOG/go-sqlmock"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/session"
)

var mockSeq atomic.Int64

// NewMock returns a [tenancy.DB] over go-sqlmock, for unit tests of handlers that
// check the SQL they send without a database. The DB has a single connection.
//
// A DB scopes every statement (see the package documentation of tenancy): over
// sqlmock, which cannot report the server's transaction status, it clears the
// session and sets search_path before every statement outside a transaction and
// before every BEGIN ([ExpectSearchPath]), and sets search_path before every
// statement inside a transaction ([ExpectSearchPathInTx]). In
// [tenancy.TransactionMode] a statement outside a transaction is preceded by
// [ExpectLocalSearchPath] and followed by [ExpectLocalCommit].
//
// The mock matches SQL with sqlmock.QueryMatcherEqual (exact text, whitespace
// normalised), so expectations state the SQL outright. At cleanup NewMock fails the
// test if an expectation was not met.
func NewMock(t testing.TB, opts ...tenancy.Option) (*tenancy.DB, sqlmock.Sqlmock) {
	t.Helper()
	dsn := fmt.Sprintf("tenancytest_mock_%d", mockSeq.Add(1))
	raw, mock, err := sqlmock.NewWithDSN(dsn, sqlmock.QueryMatcherOption(sqlmock.QueryMatcherEqual))
	if err != nil {
		t.Fatalf("tenancytest: sqlmock: %v", err)
	}
	db, err := tenancy.Open("sqlmock", dsn, opts...)
	if err != nil {
		raw.Close()
		t.Fatalf("tenancytest: %v", err)
	}
	db.Pool().SetMaxOpenConns(1)
	t.Cleanup(func() {
		if err := mock.ExpectationsWereMet(); err != nil {
			t.Errorf("tenancytest: sqlmock: %v", err)
		}
		// Both handles share the mock connection; sqlmock reports an unexpected
		// Close as an error, which says nothing about the code under test.
		_ = db.Close()
		_ = raw.Close()
	})
	return db, mock
}

// ExpectSearchPath expects what a [tenancy.SessionMode] DB sends before a statement
// outside a transaction, and before BEGIN: the reset of the session
// (session.Reset) and SET search_path TO "schema", in one Exec. With
// [tenancy.WithSearchPath], list its schemas after the tenant's.
func ExpectSearchPath(mock sqlmock.Sqlmock, schemas ...string) *sqlmock.ExpectedExec {
	return mock.ExpectExec(session.Reset(true) + "; " + session.SetPath(schemas[0], schemas[1:], false)).
		WillReturnResult(sqlmock.NewResult(0, 0))
}

// ExpectSearchPathInTx expects the SET search_path TO "schema" that a
// [tenancy.SessionMode] DB sends before each statement inside a transaction.
func ExpectSearchPathInTx(mock sqlmock.Sqlmock, schemas ...string) *sqlmock.ExpectedExec {
	return mock.ExpectExec(session.SetPath(schemas[0], schemas[1:], false)).
		WillReturnResult(sqlmock.NewResult(0, 0))
}

// ExpectLocalSearchPath expects what a [tenancy.TransactionMode] DB sends before a
// statement outside a transaction: BEGIN, the reset of the transaction
// (session.ResetLocal) and SET LOCAL search_path TO "schema", in one Exec. Expect
// the statement next, then [ExpectLocalCommit]. Inside a transaction begun with
// BeginTx, expect mock.ExpectBegin(), then [ExpectLocalReset], then
// [ExpectLocalSearchPathInTx] before each statement.
func ExpectLocalSearchPath(mock sqlmock.Sqlmock, schemas ...string) *sqlmock.ExpectedExec {
	return mock.ExpectExec("BEGIN; " + session.ResetLocal + "; " + session.SetPath(schemas[0], schemas[1:], true)).
		WillReturnResult(sqlmock.NewResult(0, 0))
}

// ExpectLocalCommit expects the COMMIT that ends a [tenancy.TransactionMode]
// statement's own transaction.
func ExpectLocalCommit(mock sqlmock.Sqlmock) *sqlmock.ExpectedExec {
	return mock.ExpectExec("COMMIT").WillReturnResult(sqlmock.NewResult(0, 0))
}

// ExpectLocalReset expects what a [tenancy.TransactionMode] DB sends right after
// BEGIN: the reset of the transaction and SET LOCAL search_path TO "schema".
func ExpectLocalReset(mock sqlmock.Sqlmock, schemas ...string) *sqlmock.ExpectedExec {
	return mock.ExpectExec(session.ResetLocal + "; " + session.SetPath(schemas[0], schemas[1:], true)).
		WillReturnResult(sqlmock.NewResult(0, 0))
}

// ExpectLocalSearchPathInTx expects the SET LOCAL search_path TO "schema" that a
// [tenancy.TransactionMode] DB sends before each statement inside a transaction.
func ExpectLocalSearchPathInTx(mock sqlmock.Sqlmock, schemas ...string) *sqlmock.ExpectedExec {
	return mock.ExpectExec(session.SetPath(schemas[0], schemas[1:], true)).
		WillReturnResult(sqlmock.NewResult(0, 0))
}
