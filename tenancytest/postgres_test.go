package tenancytest_test

import (
	"bufio"
	"context"
	"database/sql"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy/tenancytest"
)

func TestMain(m *testing.M) { tenancytest.Main(m) }

// openDB opens a pool on url, closed in t.Cleanup (so before the database that
// NewDatabase registered earlier is dropped).
func openDB(t testing.TB, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestNewDatabaseURL(t *testing.T) {
	t.Parallel()
	raw := tenancytest.NewDatabase(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("NewDatabase returned %q: %v", raw, err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if u.Scheme != "postgres" || !strings.HasPrefix(name, "tenancy_test_") {
		t.Errorf("NewDatabase returned %q, want postgres://.../tenancy_test_...", raw)
	}
	if os.Getenv(tenancytest.EnvDatabaseURL) == "" && u.Query().Get("sslmode") != "disable" {
		t.Errorf("NewDatabase returned %q, want sslmode=disable", raw)
	}

	db := openDB(t, raw)
	var current string
	var tables int
	err = db.QueryRow(`SELECT current_database(),
		(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%')`).
		Scan(&current, &tables)
	if err != nil {
		t.Fatal(err)
	}
	if current != name {
		t.Errorf("connected to database %s, want %s", current, name)
	}
	if tables != 0 {
		t.Errorf("new database has %d relations outside the system schemas, want none", tables)
	}
}

// TestNewDatabaseIsolatedAndDropped gives parallel subtests databases of their
// own, then checks from another database that their cleanups dropped them, even
// the one a connection was still open to.
func TestNewDatabaseIsolatedAndDropped(t *testing.T) {
	t.Parallel()
	observer := openDB(t, tenancytest.NewDatabase(t))
	ctx := context.Background()

	var mu sync.Mutex
	var names []string
	record := func(t *testing.T, db interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) {
		t.Helper()
		var name string
		if err := db.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		names = append(names, name)
	}

	var leftover *sql.Conn // open until after its database was dropped
	t.Run("group", func(t *testing.T) {
		for _, owner := range []string{"a", "b"} {
			t.Run(owner, func(t *testing.T) {
				t.Parallel()
				db := openDB(t, tenancytest.NewDatabase(t))
				// The same table name in both: the second CREATE TABLE
				// would fail if the two shared a database.
				if _, err := db.ExecContext(ctx, "CREATE TABLE items (owner text)"); err != nil {
					t.Fatal(err)
				}
				if _, err := db.ExecContext(ctx, "INSERT INTO items VALUES ($1)", owner); err != nil {
					t.Fatal(err)
				}
				var got []string
				rows, err := db.QueryContext(ctx, "SELECT owner FROM items")
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				for rows.Next() {
					var s string
					if err := rows.Scan(&s); err != nil {
						t.Fatal(err)
					}
					got = append(got, s)
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 || got[0] != owner {
					t.Errorf("items holds %q, want only %q", got, owner)
				}
				record(t, db)
			})
		}
		t.Run("open connection", func(t *testing.T) {
			t.Parallel()
			db, err := sql.Open("postgres", tenancytest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			// Not closed in a cleanup of this test: the drop must cope.
			if leftover, err = db.Conn(ctx); err != nil {
				t.Fatal(err)
			}
			record(t, leftover)
		})
	})
	if leftover != nil {
		defer leftover.Close()
	}

	sort.Strings(names)
	if len(names) != 3 || names[0] == names[1] || names[1] == names[2] {
		t.Fatalf("subtests used databases %q, want 3 different ones", names)
	}
	var left []string
	rows, err := observer.QueryContext(ctx, "SELECT datname FROM pg_database WHERE datname = ANY($1)", pq.Array(names))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		left = append(left, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("databases %q still exist after their tests' cleanup", left)
	}
	if err := leftover.PingContext(ctx); err == nil {
		t.Error("a connection to a dropped database still works")
	}
}

// childEnv makes this test binary, run by TestEnvDatabaseURL, act as a user's test
// binary with EnvDatabaseURL set; its value says which case to run.
const childEnv = "TENANCYTEST_TEST_CHILD"

// TestEnvDatabaseURL runs this test binary again with EnvDatabaseURL set, as a
// user's test binary, and checks that NewDatabase uses that server rather than
// starting one, and how it fails on a malformed URL.
func TestEnvDatabaseURL(t *testing.T) {
	switch os.Getenv(childEnv) {
	case "ok":
		raw := tenancytest.NewDatabase(t)
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		env, err := url.Parse(os.Getenv(tenancytest.EnvDatabaseURL))
		if err != nil {
			t.Fatal(err)
		}
		if u.Host != env.Host || u.User.String() != env.User.String() || u.RawQuery != env.RawQuery {
			t.Errorf("NewDatabase returned %s, want a database on %s", raw, env)
		}
		if err := openDB(t, raw).Ping(); err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("database " + strings.TrimPrefix(u.Path, "/") + "\n")
		return
	case "bad":
		for _, name := range []string{"first", "second"} {
			t.Run(name, func(t *testing.T) { tenancytest.NewDatabase(t) })
		}
		return
	}

	t.Parallel()
	// The child uses a database of the server this binary started (or was
	// pointed at) as its admin database.
	adminURL := tenancytest.NewDatabase(t)
	observer := openDB(t, adminURL)
	run := func(mode, envURL string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestEnvDatabaseURL$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+mode, tenancytest.EnvDatabaseURL+"="+envURL)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	t.Run("used", func(t *testing.T) {
		out, err := run("ok", adminURL)
		if err != nil {
			t.Fatalf("child test failed: %v\n%s", err, out)
		}
		var name string
		for sc := bufio.NewScanner(strings.NewReader(out)); sc.Scan(); {
			if n, ok := strings.CutPrefix(sc.Text(), "database "); ok {
				name = n
			}
		}
		if name == "" {
			t.Fatalf("child reported no database:\n%s", out)
		}
		var n int
		if err := observer.QueryRow("SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("the child's database %s still exists after the child exited", name)
		}
	})

	t.Run("malformed", func(t *testing.T) {
		out, err := run("bad", "host=localhost dbname=postgres")
		if err == nil {
			t.Fatalf("child test passed with a malformed %s:\n%s", tenancytest.EnvDatabaseURL, out)
		}
		want := tenancytest.EnvDatabaseURL + " must be a postgres:// URL"
		if got := strings.Count(out, want); got != 2 {
			t.Errorf("child output has %q %d times, want once per NewDatabase call:\n%s", want, got, out)
		}
	})
}

func BenchmarkNewDatabase(b *testing.B) {
	tenancytest.NewDatabase(b) // start the server outside the measurement
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tenancytest.NewDatabase(b)
	}
}
