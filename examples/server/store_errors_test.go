package main

// storeError against errors as PostgreSQL reports them and as Citus forwards
// them from a worker: the SQLSTATE, message, detail and hint, but no constraint
// or table name, and shard names (users_email_key_102008, roles_102010) where
// PostgreSQL names tables and constraints. The API must answer both the same.

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/go-tenancy/tenancy/tenancytest"
)

// serverErr is an error as the server sends it, in the fields that matter here.
type serverErr struct {
	code, message, detail, table, constraint string
}

// citus returns e as Citus delivers it: without table and constraint names.
func (e serverErr) citus(message, detail string) serverErr {
	return serverErr{code: e.code, message: message, detail: detail}
}

func (e serverErr) pq() error {
	return &pq.Error{Code: pqerror.Code(e.code), Message: e.message, Detail: e.detail, Table: e.table, Constraint: e.constraint}
}

func (e serverErr) pgx() error {
	return &pgconn.PgError{Code: e.code, Message: e.message, Detail: e.detail, TableName: e.table, ConstraintName: e.constraint}
}

// violationCases are the violations the API maps, each as PostgreSQL reports
// it (full) and as Citus does (citus).
var violationCases = []struct {
	name        string
	full, citus serverErr
	kind        error
	field       string
}{
	{
		name: "e-mail taken in the tenant",
		full: serverErr{code: "23505", message: `duplicate key value violates unique constraint "users_email_key"`,
			detail: `Key (email)=(alice@acme.example) already exists.`, table: "users", constraint: "users_email_key"},
		kind: errEmailTaken, field: "email",
	},
	{
		name: "e-mail taken in the shared directory",
		full: serverErr{code: "23505", message: `duplicate key value violates unique constraint "shared_users_email_key"`,
			detail: `Key (email)=(hank@globex.example) already exists.`, table: "shared_users", constraint: "shared_users_email_key"},
		kind: errEmailTaken, field: "email",
	},
	{
		name: "other unique key",
		full: serverErr{code: "23505", message: `duplicate key value violates unique constraint "permissions_uuid_key"`,
			detail: `Key (uuid)=(6f1c...) already exists.`, table: "permissions", constraint: "permissions_uuid_key"},
		kind: errNameTaken, field: "uuid",
	},
	{
		name: "user's role missing",
		full: serverErr{code: "23503", message: `insert or update on table "users" violates foreign key constraint "users_user_role_id_fkey"`,
			detail: `Key (user_role_id)=(99) is not present in table "roles".`, table: "users", constraint: "users_user_role_id_fkey"},
		kind: errUnknownRole, field: "user_role_id",
	},
	{
		name: "link's role missing",
		full: serverErr{code: "23503", message: `insert or update on table "roles_permissions_link" violates foreign key constraint "roles_permissions_link_role_id_fkey"`,
			detail: `Key (role_id)=(99) is not present in table "roles".`, table: "roles_permissions_link", constraint: "roles_permissions_link_role_id_fkey"},
		kind: errUnknownRole, field: "role_id",
	},
	{
		name: "link's permission missing",
		full: serverErr{code: "23503", message: `insert or update on table "roles_permissions_link" violates foreign key constraint "roles_permissions_link_permission_id_fkey"`,
			detail: `Key (permission_id)=(99) is not present in table "permissions".`, table: "roles_permissions_link", constraint: "roles_permissions_link_permission_id_fkey"},
		kind: errUnknownPerm, field: "permission_id",
	},
	{
		name: "tenant deleted meanwhile",
		full: serverErr{code: "23503", message: `insert or update on table "shared_users" violates foreign key constraint "shared_users_tenant_id_fkey"`,
			detail: `Key (tenant_id)=(3) is not present in table "tenants".`, table: "shared_users", constraint: "shared_users_tenant_id_fkey"},
		kind: errTenantMissing, field: "tenant_id",
	},
}

func init() {
	// Citus's forms of the same errors: shard names in the message and, for a
	// foreign key, in the detail's table.
	shards := strings.NewReplacer(
		`"users"`, `"users_102008"`, `"users_email_key"`, `"users_email_key_102008"`,
		`"shared_users_email_key"`, `"shared_users_email_key_102001"`,
		`"permissions_uuid_key"`, `"permissions_uuid_key_102012"`,
		`"users_user_role_id_fkey"`, `"users_user_role_id_fkey_102008"`,
		`"roles_permissions_link"`, `"roles_permissions_link_102014"`,
		`_role_id_fkey"`, `_role_id_fkey_102014"`, `_permission_id_fkey"`, `_permission_id_fkey_102014"`,
		`"roles"`, `"roles_102010"`, `"permissions"`, `"permissions_102012"`,
	)
	for i, c := range violationCases {
		violationCases[i].citus = c.full.citus(shards.Replace(c.full.message), shards.Replace(c.full.detail))
	}
}

func checkViolation(t *testing.T, what string, err error, kind error, field string) {
	t.Helper()
	var v *violation
	if !errors.Is(err, kind) || !errors.As(err, &v) || v.field != field {
		t.Errorf("%s: storeError = %v, want %v with field %q", what, err, kind, field)
	}
}

func TestStoreErrorCitus(t *testing.T) {
	for _, c := range violationCases {
		t.Run(c.name, func(t *testing.T) {
			if c.citus.table != "" || c.citus.constraint != "" || c.citus.detail == "" {
				t.Fatalf("the Citus form %+v must have a detail and no table or constraint", c.citus)
			}
			checkViolation(t, "full, lib/pq", storeError(c.full.pq()), c.kind, c.field)
			checkViolation(t, "full, pgx", storeError(c.full.pgx()), c.kind, c.field)
			checkViolation(t, "Citus, lib/pq", storeError(c.citus.pq()), c.kind, c.field)
			checkViolation(t, "Citus, pgx", storeError(c.citus.pgx()), c.kind, c.field)
			// Without a detail the constraint name decides: the field's, or
			// the one quoted in Citus's message. It names the column only for
			// the keys the demo knows.
			field := c.field
			if c.kind == errNameTaken {
				field = ""
			}
			noDetail := c.full
			noDetail.detail = ""
			checkViolation(t, "no detail", storeError(noDetail.pq()), c.kind, field)
			citusNoDetail := c.citus
			citusNoDetail.detail = ""
			checkViolation(t, "Citus, no detail", storeError(citusNoDetail.pq()), c.kind, field)
		})
	}
}

func TestStoreErrorDetails(t *testing.T) {
	// A missing reference whose values the user may not see: the table decides,
	// and no field is named.
	hidden := serverErr{code: "23503", message: "insert or update on table violates foreign key constraint",
		detail: `Key is not present in table "roles_102010".`}
	checkViolation(t, "hidden key", storeError(hidden.pq()), errUnknownRole, "")

	// Errors the API has no answer for pass unchanged (and end as a 500).
	for _, e := range []serverErr{
		{code: "23503", detail: `Key (id)=(2) is still referenced from table "users".`, constraint: "users_user_role_id_fkey"},
		{code: "23503", detail: `Key (x_id)=(2) is not present in table "things".`},
		{code: "23503", detail: `Key (x_id)=(2) is not present in table "things_102010".`},
		{code: "23503", detail: `Key (x_id)=(2) is not present in table "roles_x".`},
		{code: "23503", detail: `Key (x_id)=(2) is not present in table "rolesx_102010".`},
		{code: "23503", message: `insert or update on table "t" violates foreign key constraint "t_x_fkey"`},
		{code: "23502", detail: `Failing row contains (1, null).`},
	} {
		err := e.pq()
		if got := storeError(err); got != err {
			t.Errorf("storeError(%+v) = %v, want the error unchanged", e, got)
		}
	}
	if got := storeError(serverErr{code: "22001"}.pgx()); got != errValueTooLong {
		t.Errorf("22001: storeError = %v, want errValueTooLong", got)
	}
	if got := storeError(serverErr{code: "23505", detail: `Key (role_id, permission_id)=(1, 2) already exists.`}.pq()); !errors.Is(got, errNameTaken) {
		t.Errorf("two-column key: storeError = %v, want errNameTaken", got)
	} else if v := (*violation)(nil); !errors.As(got, &v) || v.field != "role_id, permission_id" {
		t.Errorf("two-column key: field of %v, want role_id, permission_id", got)
	}
}

// TestCreateUserCitusErrors sends POST /users/ with the server failing the
// insert the PostgreSQL way and the Citus way: the answers are the same.
func TestCreateUserCitusErrors(t *testing.T) {
	const insertUser = `INSERT INTO users (email, first_name, last_name, user_role_id, created_at, updated_at) ` +
		`VALUES ($1, $2, $3, $4, now(), now()) RETURNING id, COALESCE(email, '') AS email, first_name, last_name, user_role_id, created_at, updated_at`
	const insertShared = `INSERT INTO "shared".shared_users (email, tenant_id, is_active) VALUES ($1, $2, true)`
	type answer struct {
		status int
		body   string
	}
	// run posts a user whose users insert (shared false) or directory insert
	// (shared true) fails with err.
	run := func(t *testing.T, shared bool, err error) answer {
		h, mock := newMockApp(t)
		tenancytest.ExpectSearchPath(mock, "acme")
		mock.ExpectBegin()
		tenancytest.ExpectSearchPathInTx(mock, "acme")
		q := mock.ExpectQuery(insertUser).WithArgs("eve@acme.example", nil, nil, int64(99))
		if shared {
			now := time.Now()
			q.WillReturnRows(sqlmock.NewRows(userCols).AddRow(5, "eve@acme.example", nil, nil, 99, now, now))
			tenancytest.ExpectSearchPathInTx(mock, "acme")
			mock.ExpectExec(insertShared).WithArgs("eve@acme.example", int64(1)).WillReturnError(err)
		} else {
			q.WillReturnError(err)
		}
		mock.ExpectRollback()
		w := request(h, "POST", "/users/", "acme", `{"email":"eve@acme.example","user_role_id":99}`)
		return answer{w.Code, w.Body.String()}
	}
	for _, tc := range []struct {
		caseName string
		shared   bool
		status   int
		detail   string
	}{
		{"e-mail taken in the tenant", false, http.StatusConflict, "e-mail address is already in use"},
		{"e-mail taken in the shared directory", true, http.StatusConflict, "e-mail address is already in use"},
		{"user's role missing", false, http.StatusUnprocessableEntity, "user_role_id names no role"},
		{"tenant deleted meanwhile", true, http.StatusNotFound, "tenant no longer exists"},
	} {
		t.Run(tc.caseName, func(t *testing.T) {
			var full, citus serverErr
			for _, c := range violationCases {
				if c.name == tc.caseName {
					full, citus = c.full, c.citus
				}
			}
			if full.code == "" {
				t.Fatalf("no violation case %q", tc.caseName)
			}
			want := run(t, tc.shared, full.pq())
			if want.status != tc.status || !strings.Contains(want.body, tc.detail) {
				t.Fatalf("PostgreSQL's error: status %d, body %s; want %d with %q", want.status, want.body, tc.status, tc.detail)
			}
			for _, err := range []error{citus.pq(), citus.pgx()} {
				if got := run(t, tc.shared, err); got != want {
					t.Errorf("Citus's error (%T): status %d, body %s; want the PostgreSQL answer, %d %s", err, got.status, got.body, want.status, want.body)
				}
			}
		})
	}
}

// TestGrantBothMissing: PUT /roles/99/permissions/98 with neither there
// violates both foreign keys. Whichever the server reports (Citus's worker may
// report the permission's first, and may give no usable detail), the answer
// names the role: grant asks which rows exist, role first.
func TestGrantBothMissing(t *testing.T) {
	const insertLink = `INSERT INTO roles_permissions_link (role_id, permission_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`
	const exists = `SELECT EXISTS (SELECT 1 FROM roles WHERE id = $1) AS role, EXISTS (SELECT 1 FROM permissions WHERE id = $2) AS perm`
	permFirst := serverErr{code: "23503",
		message: `insert or update on table "roles_permissions_link_102014" violates foreign key constraint "roles_permissions_link_permission_id_fkey_102014"`,
		detail:  `Key (permission_id)=(98) is not present in table "permissions_102012".`}
	for _, tc := range []struct {
		name       string
		err        error
		role, perm bool
		detail     string
	}{
		{"permission reported, both missing", permFirst.pq(), false, false, "no role with id 99"},
		{"no detail, both missing", serverErr{code: "23503", message: "violates foreign key constraint"}.pgx(), false, false, "no role with id 99"},
		{"role reported, only the permission missing", violationCases[4].citus.pq(), true, false, "no permission with id 98"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, mock := newMockApp(t)
			tenancytest.ExpectSearchPath(mock, "acme")
			mock.ExpectExec(insertLink).WithArgs(int64(99), int64(98)).WillReturnError(tc.err)
			tenancytest.ExpectSearchPath(mock, "acme")
			mock.ExpectQuery(exists).WithArgs(int64(99), int64(98)).
				WillReturnRows(sqlmock.NewRows([]string{"role", "perm"}).AddRow(tc.role, tc.perm))
			w := request(h, "PUT", "/roles/99/permissions/98", "acme", "")
			if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), tc.detail) {
				t.Errorf("status %d, body %s; want 404 with %q", w.Code, w.Body, tc.detail)
			}
		})
	}
}
