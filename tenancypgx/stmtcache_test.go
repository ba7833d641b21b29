package tenancypgx_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/go-tenancy/tenancy/tenancypgx"
)

// usersTables gives acme and globex users tables of different shapes, as two
// tenants at different migration versions have: globex has a name column.
func usersTables(t *testing.T, e *env) {
	t.Helper()
	for _, q := range []string{
		"CREATE TABLE acme.users (id int PRIMARY KEY, email text)",
		"INSERT INTO acme.users VALUES (1, 'a@acme')",
		"CREATE TABLE globex.users (id int PRIMARY KEY, email text, name text)",
		"INSERT INTO globex.users VALUES (1, 'g@globex', 'Globex')",
	} {
		if _, err := e.admin.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
}

var wantUser = map[string]string{
	acme:   "id,email=1,a@acme",
	globex: "id,email,name=1,g@globex,Globex",
}

// shape returns "col,col=val,val" of a one-row result.
func shape(rows pgx.Rows, err error) (string, error) {
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var cols, vals []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	for rows.Next() {
		vs, err := rows.Values()
		if err != nil {
			return "", err
		}
		for _, v := range vs {
			vals = append(vals, fmt.Sprint(v))
		}
	}
	rows.Close()
	return strings.Join(cols, ",") + "=" + strings.Join(vals, ","), rows.Err()
}

const userSQL = "SELECT * FROM users WHERE id = $1"

// The same SQL text on one connection alternating between two tenants whose
// tables differ: in every QueryExecMode, each tenant gets its own table's
// columns and row, and no error.
func TestStatementCacheAcrossTenantShapes(t *testing.T) {
	e := newEnv(t, 0)
	usersTables(t, e)
	for _, m := range modes {
		for _, x := range execModes {
			t.Run(m.name+"/"+x.name, func(t *testing.T) {
				p := e.pool(t, 1, nil, x.mode, tenancypgx.WithMode(m.mode))
				for i := 0; i < 6; i++ {
					for _, s := range []string{acme, globex} {
						got, err := shape(p.Query(ctxFor(s), userSQL, 1))
						if err != nil {
							t.Fatalf("round %d, %s: %v", i, s, err)
						}
						if got != wantUser[s] {
							t.Fatalf("round %d, %s: got %s, want %s", i, s, got, wantUser[s])
						}
						// And in a transaction.
						tx, err := p.Begin(ctxFor(s))
						if err != nil {
							t.Fatal(err)
						}
						got, err = shape(tx.Query(ctxFor(s), userSQL, 1))
						if cerr := tx.Commit(ctxFor(s)); err == nil {
							err = cerr
						}
						if err != nil || got != wantUser[s] {
							t.Fatalf("round %d, %s in tx: got %s, %v", i, s, got, err)
						}
					}
				}
			})
		}
	}
}

// What raw pgx does with the same alternation when only search_path changes
// between statements: the finding that makes the Pool send every statement in
// QueryExecModeExec (or SimpleProtocol). In CacheStatement the server refuses
// the cached plan (SQLSTATE 0A000, "cached plan must not change result type");
// in CacheDescribe pgx binds with the cached description of the other tenant's
// columns and the server refuses the bind (08P01). Retrying on 0A000 would be
// safe only outside a transaction (inside one the error has aborted it), and
// 08P01 is not a retryable error at all; the mode choice removes both instead.
func TestRawPgxStatementCacheHazard(t *testing.T) {
	e := newEnv(t, 0)
	usersTables(t, e)
	for _, x := range execModes {
		t.Run(x.name, func(t *testing.T) {
			cc, err := pgx.ParseConfig(e.dsn)
			if err != nil {
				t.Fatal(err)
			}
			cc.DefaultQueryExecMode = x.mode
			conn, err := pgx.ConnectConfig(context.Background(), cc)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			var outcomes []string
			for _, s := range []string{acme, globex, acme} {
				if _, err := conn.Exec(context.Background(), "SET search_path TO "+s); err != nil {
					t.Fatal(err)
				}
				got, err := shape(conn.Query(context.Background(), userSQL, 1))
				switch {
				case err != nil:
					outcomes = append(outcomes, s+": error: "+err.Error())
				case got != wantUser[s]:
					outcomes = append(outcomes, s+": wrong: "+got)
				default:
					outcomes = append(outcomes, s+": ok")
				}
			}
			t.Logf("%s: %s", x.name, strings.Join(outcomes, "; "))
			bad := strings.Contains(strings.Join(outcomes, ";"), "error") || strings.Contains(strings.Join(outcomes, ";"), "wrong")
			if (x.mode == pgx.QueryExecModeCacheStatement || x.mode == pgx.QueryExecModeCacheDescribe) != bad {
				t.Errorf("%s: outcome changed (pgx or PostgreSQL behaves differently now): %v", x.name, outcomes)
			}
		})
	}
}
