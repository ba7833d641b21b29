// Package tenancytest helps test code that uses package tenancy against a real
// PostgreSQL server: each test gets a database of its own, created in tens of
// milliseconds and dropped when the test ends, so tests run in parallel without
// seeing each other's tenants or schemas.
//
// # Setup
//
// Make [Main] the TestMain of each package whose tests use a database. It stops the
// package's server after the tests:
//
//	func TestMain(m *testing.M) { tenancytest.Main(m) }
//
// # A database per test
//
// [NewDatabase] returns the connection URL of a new, empty database, for
// sql.Open("postgres", url) with github.com/lib/pq, or sqlx.Connect:
//
//	func TestSignup(t *testing.T) {
//		t.Parallel()
//		db, err := sql.Open("postgres", tenancytest.NewDatabase(t))
//		if err != nil {
//			t.Fatal(err)
//		}
//		t.Cleanup(func() { db.Close() })
//		// ... create the shared schema, register tenants, run the code under test
//	}
//
// # Which server
//
// By default the first NewDatabase call of a test binary starts a throwaway
// server from the locally installed PostgreSQL binaries: the ones on PATH, in
// `pg_config --bindir`, or in /usr/lib/postgresql/*/bin (Debian, Ubuntu:
// apt-get install -y postgresql; the system cluster need not run). It listens on
// 127.0.0.1 only, keeps its data in a temporary directory that Main removes, and
// skips fsync, so it is fast and disposable. Run as root, it runs as the OS user
// postgres, because PostgreSQL refuses to run as root.
//
// Set [EnvDatabaseURL] (TENANCY_TEST_DATABASE_URL) to use a running server
// instead, such as a CI service container:
//
//	TENANCY_TEST_DATABASE_URL='postgres://postgres:secret@localhost:5432/postgres?sslmode=disable' go test ./...
//
// If there is neither, tests that call NewDatabase fail and say how to install
// PostgreSQL; under go test -short they are skipped instead.
package tenancytest
