package citustest

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy/internal/pgserver"
	"github.com/go-tenancy/tenancy/tenancytest"
)

func TestMain(m *testing.M) { tenancytest.Main(m) }

// openDB opens a pool to url, closed in t.Cleanup (before the database is
// dropped, as the cleanup is registered after NewDatabase's).
func openDB(t testing.TB, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// nodeURL returns the URL of database dbname on the node at port.
func nodeURL(port int, dbname string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: host + ":" + strconv.Itoa(port),
		Path: "/" + dbname, RawQuery: "sslmode=disable"}
	return u.String()
}

// portAndName splits a URL NewDatabase returned.
func portAndName(t testing.TB, raw string) (int, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || u.Hostname() != host || u.User.Username() != "postgres" || u.Query().Get("sslmode") != "disable" {
		t.Fatalf("NewDatabase returned %s, want postgres://postgres@127.0.0.1:PORT/NAME?sslmode=disable", raw)
	}
	return port, strings.TrimPrefix(u.Path, "/")
}

func TestAvailable(t *testing.T) {
	err := Available()
	if os.Getenv("CI") != "" && err != nil {
		t.Fatalf("Available() = %v under CI", err)
	}
	if err != nil {
		if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "install.sh") {
			t.Errorf("Available() = %v, want an error wrapping ErrNotInstalled that says how to install", err)
		}
		t.Skipf("SKIPPED: Citus not installed: %v; CI runs these tests", err)
	}
	binDir, err := pgserver.FindBinDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(pkgLibDir(binDir), "citus.so")); err != nil {
		t.Errorf("Available() = nil, but: %v", err)
	}
}

func TestPkgLibDirSymlinks(t *testing.T) {
	// A directory of symlinks to the binaries counts as the real binaries'.
	binDir, err := pgserver.FindBinDir()
	if err != nil {
		t.Skip(err)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(binDir, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	links := t.TempDir()
	if err := os.Symlink(real, filepath.Join(links, "postgres")); err != nil {
		t.Fatal(err)
	}
	if got, want := pkgLibDir(links), pkgLibDir(filepath.Dir(real)); got != want {
		t.Errorf("pkgLibDir(%s) = %s, want %s as for %s", links, got, want, filepath.Dir(real))
	}
}

func TestEssentialConnFailure(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pq.Error{Code: "XX000", Message: "failure on connection marked as essential: 127.0.0.1:5433"}, true},
		{fmt.Errorf("wrapped: %w", &pq.Error{Code: "XX000", Message: "failure on connection marked as essential: x"}), true},
		{&pq.Error{Code: "XX000", Message: "some other internal error"}, false},
		{&pq.Error{Code: "42P01", Message: "connection marked as essential"}, false},
		{errors.New("failure on connection marked as essential"), false},
	} {
		if got := essentialConnFailure(tc.err); got != tc.want {
			t.Errorf("essentialConnFailure(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// recordingTB records how a helper ends a test, without ending it.
type recordingTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordingTB) Helper()                        {}
func (r *recordingTB) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }
func (r *recordingTB) Skipf(format string, a ...any)  { r.skip = fmt.Sprintf(format, a...) }

func TestNotInstalled(t *testing.T) {
	// Not parallel: it sets CI.
	err := fmt.Errorf("%w: no citus.so", ErrNotInstalled)
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		r := &recordingTB{TB: t}
		notInstalled(r, err)
		if ci == "" && (r.fatal != "" || !strings.Contains(r.skip, "Citus not installed") || !strings.Contains(r.skip, "no citus.so")) {
			t.Errorf("without CI: fatal %q, skip %q; want a skip that says Citus is not installed and why", r.fatal, r.skip)
		}
		if ci != "" && (r.skip != "" || !strings.Contains(r.fatal, "no citus.so")) {
			t.Errorf("with CI=%s: fatal %q, skip %q; want a failure that says why", ci, r.fatal, r.skip)
		}
	}
}

func TestPkgLibDirFallback(t *testing.T) {
	// Without a pg_config beside the server, the lib directory next to bin.
	bin := filepath.Join(t.TempDir(), "pg", "bin")
	if got, want := pkgLibDir(bin), filepath.Join(filepath.Dir(bin), "lib"); got != want {
		t.Errorf("pkgLibDir(%s) = %s, want %s", bin, got, want)
	}
}

func TestWorkers(t *testing.T) {
	coordPort, _ := portAndName(t, NewDatabase(t))
	workers := Workers(t)
	if len(workers) != workerCount {
		t.Fatalf("Workers() = %v, want %d workers", workers, workerCount)
	}
	for i, w := range workers {
		if w.Host != host || w.Port == coordPort || w.Port <= 0 {
			t.Errorf("worker %d = %+v, want host %s and a port other than the coordinator's %d", i, w, host, coordPort)
		}
		if i > 0 && w.Port <= workers[i-1].Port {
			t.Errorf("Workers() = %v, not ordered by port", workers)
		}
	}
	t.Logf("cluster started in %v; coordinator port %d, workers %v", startDuration, coordPort, workers)
}

// TestDatabases sets up two databases at once and checks in each that the cluster
// is whole and that a new schema becomes a distributed schema on a worker.
func TestDatabases(t *testing.T) {
	workers := Workers(t) // starts the cluster outside the timed part
	workerPorts := map[int]bool{}
	for _, w := range workers {
		workerPorts[w.Port] = true
	}
	for _, name := range []string{"a", "b"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			raw := NewDatabase(t)
			t.Logf("NewDatabase took %v", time.Since(start))
			coordPort, dbname := portAndName(t, raw)
			db := openDB(t, raw)

			// The coordinator (registered with citus_set_coordinator_host, group
			// 0) and both workers.
			var primaries, coordinators int
			if err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE groupid = 0 AND nodeport = $1)
				FROM pg_dist_node WHERE noderole = 'primary' AND isactive`, coordPort).Scan(&primaries, &coordinators); err != nil {
				t.Fatal(err)
			}
			if primaries != 1+workerCount || coordinators != 1 {
				t.Errorf("pg_dist_node: %d active primaries, %d of them the coordinator on port %d; want %d and 1",
					primaries, coordinators, coordPort, 1+workerCount)
			}

			// Every worker has the database and the extension.
			for _, w := range workers {
				wdb := openDB(t, nodeURL(w.Port, dbname))
				var version string
				if err := wdb.QueryRow("SELECT extversion FROM pg_extension WHERE extname = 'citus'").Scan(&version); err != nil {
					t.Errorf("citus extension in database %s on worker port %d: %v", dbname, w.Port, err)
				}
			}

			if _, err := db.Exec("CREATE SCHEMA s; CREATE TABLE s.t (id bigint PRIMARY KEY)"); err != nil {
				t.Fatal(err)
			}
			var schemas int
			if err := db.QueryRow("SELECT count(*) FROM citus_schemas WHERE schema_name = 's'::regnamespace").Scan(&schemas); err != nil {
				t.Fatal(err)
			}
			if schemas != 1 {
				t.Errorf("citus_schemas has %d rows for schema s, want 1: schema-based sharding is not on", schemas)
			}
			var placements, onWorker int
			var port int
			rows, err := db.Query("SELECT nodeport FROM citus_shards WHERE table_name = 's.t'::regclass")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				if err := rows.Scan(&port); err != nil {
					t.Fatal(err)
				}
				placements++
				if workerPorts[port] {
					onWorker++
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if placements != 1 || onWorker != 1 {
				t.Errorf("table s.t has %d shard placements, %d on a worker (last on port %d); want 1 on one of %v",
					placements, onWorker, port, workers)
			}
		})
	}
}

// TestCleanupDropsEverywhere checks that the database a test gets exists on every
// node during the test and on none after its cleanup.
func TestCleanupDropsEverywhere(t *testing.T) {
	workers := Workers(t) // skips here, not only in the inner test, without Citus
	var coordPort int
	var dbname string
	t.Run("inner", func(t *testing.T) {
		coordPort, dbname = portAndName(t, NewDatabase(t))
	})
	if dbname == "" {
		t.Fatal("the inner test got no database")
	}
	ports := []int{coordPort}
	for _, w := range workers {
		ports = append(ports, w.Port)
	}
	for _, port := range ports {
		db := openDB(t, nodeURL(port, "postgres"))
		var n int
		if err := db.QueryRow("SELECT count(*) FROM pg_database WHERE datname = $1", dbname).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("database %s still exists on the node on port %d after the test's cleanup", dbname, port)
		}
	}
}

// TestDatabaseOnEveryNode checks that, during a test, its database exists on every
// node: the counterpart of TestCleanupDropsEverywhere.
func TestDatabaseOnEveryNode(t *testing.T) {
	coordPort, dbname := portAndName(t, NewDatabase(t))
	ports := []int{coordPort}
	for _, w := range Workers(t) {
		ports = append(ports, w.Port)
	}
	for _, port := range ports {
		db := openDB(t, nodeURL(port, "postgres"))
		var n int
		if err := db.QueryRow("SELECT count(*) FROM pg_database WHERE datname = $1", dbname).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("database %s does not exist on the node on port %d", dbname, port)
		}
	}
}
