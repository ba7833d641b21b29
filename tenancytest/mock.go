package tenancytest

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy"
)

var mockSeq atomic.Int64

// NewMock returns a [tenancy.DB] over go-sqlmock, for unit tests of handlers that
// check the SQL they send without a database. The DB has a single connection, so
// the schema switches it makes are deterministic: in [tenancy.SessionMode] the first
// statement for a tenant is preceded by the switch that [ExpectSearchPath] expects,
// and later statements for the same tenant are not.
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

// ExpectSearchPath expects the statement with which a [tenancy.SessionMode] DB
// moves its connection to schema (SET search_path TO "schema"). Call it before the
// expectation of the first statement for a tenant, and again after a switch to
// another tenant. With [tenancy.WithSearchPath], list its schemas after the tenant's.
func ExpectSearchPath(mock sqlmock.Sqlmock, schemas ...string) *sqlmock.ExpectedExec {
	return mock.ExpectExec("SET search_path TO " + quoteList(schemas)).
		WillReturnResult(sqlmock.NewResult(0, 0))
}

// ExpectLocalSearchPath expects the statement with which a
// [tenancy.TransactionMode] DB sets schema for the current transaction (SET LOCAL
// search_path TO "schema"). In that mode every statement outside a transaction is
// wrapped in one, so expect: mock.ExpectBegin(), ExpectLocalSearchPath, the
// statement, mock.ExpectCommit().
func ExpectLocalSearchPath(mock sqlmock.Sqlmock, schemas ...string) *sqlmock.ExpectedExec {
	return mock.ExpectExec("SET LOCAL search_path TO " + quoteList(schemas)).
		WillReturnResult(sqlmock.NewResult(0, 0))
}

func quoteList(schemas []string) string {
	q := make([]string, len(schemas))
	for i, s := range schemas {
		q[i] = pq.QuoteIdentifier(s)
	}
	return strings.Join(q, ", ")
}
