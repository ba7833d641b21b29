package tenancy_test

import (
	"context"
	"testing"

	"github.com/go-tenancy/tenancy"
)

// TestPipelinedSwitchFailure: a SET sent in one message with a statement is
// undone by PostgreSQL when the statement fails, even after its first rows were
// sent. The connection must not believe it switched: the next statement for the
// same tenant, on the same (single) connection, runs in that tenant's schema and
// not in the schema the session fell back to (the previous tenant's).
func TestPipelinedSwitchFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.db.Pool().SetMaxOpenConns(1)
	a, b := tctx(e.addTenant(t, "acme")), tctx(e.addTenant(t, "globex"))
	current := func(ctx context.Context) string {
		t.Helper()
		var s string
		if err := e.db.GetContext(ctx, &s, `SELECT current_schema()::text`); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		fail func(ctx context.Context) error
	}{
		{"query failing after its first rows", func(ctx context.Context) error {
			rows, err := e.db.QueryContext(ctx, `SELECT g, 1 / (g - 3) FROM generate_series(1, 5) g`)
			if err != nil {
				return err
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				n++
			}
			if n == 0 {
				t.Error("no row arrived before the error; the test does not test what it says")
			}
			return rows.Err()
		}},
		{"query closed before its failing row", func(ctx context.Context) error {
			rows, err := e.db.QueryContext(ctx, `SELECT g, 1 / (g - 3) FROM generate_series(1, 5) g`)
			if err != nil {
				return err
			}
			rows.Next() // read one row, then close: lib/pq reads the rest, error included
			return rows.Close()
		}},
		{"exec failing", func(ctx context.Context) error {
			_, err := e.db.ExecContext(ctx, `INSERT INTO items (tenant) VALUES (NULL)`)
			return err
		}},
		{"query failing at once", func(ctx context.Context) error {
			_, err := e.db.QueryContext(ctx, `SELECT * FROM no_such_table`)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := current(a); got != "acme" {
				t.Fatalf("current_schema %q, want acme", got)
			}
			// The switch to globex rides with a failing statement.
			if err := tc.fail(b); err == nil {
				t.Fatal("statement did not fail")
			}
			if got := current(b); got != "globex" {
				t.Fatalf("after a failed switch, globex's statement ran in %q", got)
			}
		})
	}
}

// TestPipelinedColumnTypes: rows of statements sent with their SET (both modes)
// keep the driver's column type information.
func TestPipelinedColumnTypes(t *testing.T) {
	t.Parallel()
	for _, mode := range []tenancy.Mode{tenancy.SessionMode, tenancy.TransactionMode} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tenancy.WithMode(mode))
			ctx := tctx(e.addTenant(t, "acme"))
			rows, err := e.db.QueryContext(ctx, `SELECT id, tenant, 1.5::numeric(4,1) FROM items`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			cts, err := rows.ColumnTypes()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, ct := range cts {
				names = append(names, ct.DatabaseTypeName())
			}
			if len(names) != 3 || names[0] != "INT4" || names[1] != "TEXT" || names[2] != "NUMERIC" {
				t.Errorf("column types %v, want [INT4 TEXT NUMERIC]", names)
			}
			if p, s, ok := cts[2].DecimalSize(); !ok || p != 4 || s != 1 {
				t.Errorf("numeric size (%d, %d, %v), want (4, 1, true)", p, s, ok)
			}
			if err := rows.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
