package main

// Unit tests of the users handlers without a database: go-sqlmock stands in for
// PostgreSQL and checks the exact SQL, and a stub replaces the tenant registry.
// Copy this pattern for handlers whose SQL you want to pin down; test the SQL
// itself against a real server (e2e_test.go).

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// stubTenants is the registry of the unit tests: one tenant, acme, with id 1.
var stubTenants = tenancy.LookuperFunc(func(_ context.Context, k tenancy.Key) (tenancy.Tenant, error) {
	if k.By == tenancy.BySchema && k.Value == "acme" {
		return tenancy.Tenant{ID: 1, Name: "Acme Corp", Schema: "acme"}, nil
	}
	return tenancy.Tenant{}, &tenancy.TenantError{Op: "lookup", Key: k.Value, Err: tenancy.ErrUnknownTenant}
})

// newMockApp returns the app's handler over a sqlmock database. The mock fails
// the test at cleanup if an expected statement was not run.
func newMockApp(t *testing.T) (http.Handler, sqlmock.Sqlmock) {
	t.Helper()
	db, mock := tenancytest.NewMock(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	return newApp(db, nil, nil, stubTenants, logger, "token").routes(), mock
}

// request runs one request through h.
func request(h http.Handler, method, path, tenant, body string) *httptest.ResponseRecorder {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	r.Host = "127.0.0.1:8080" // names no tenant (httptest's default, example.com, would)
	if tenant != "" {
		r.Header.Set("Tenant", tenant)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var userCols = []string{"id", "email", "first_name", "last_name", "user_role_id", "created_at", "updated_at"}

func TestGetUserMock(t *testing.T) {
	h, mock := newMockApp(t)
	created := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

	// The first statement for a tenant switches the connection to its schema.
	tenancytest.ExpectSearchPath(mock, "acme")
	mock.ExpectQuery(`SELECT id, COALESCE(email, '') AS email, first_name, last_name, user_role_id, created_at, updated_at FROM users WHERE id = $1`).
		WithArgs(int64(7)).
		WillReturnRows(sqlmock.NewRows(userCols).AddRow(7, "alice@acme.example", "Alice", nil, 2, created, created))
	// A user that is not there: 404. Every statement is scoped again.
	tenancytest.ExpectSearchPath(mock, "acme")
	mock.ExpectQuery(`SELECT id, COALESCE(email, '') AS email, first_name, last_name, user_role_id, created_at, updated_at FROM users WHERE id = $1`).
		WithArgs(int64(8)).
		WillReturnRows(sqlmock.NewRows(userCols))

	w := request(h, "GET", "/users/7", "acme", "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /users/7: status %d, body %s", w.Code, w.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": 7.0, "email": "alice@acme.example", "first_name": "Alice", "last_name": nil, "user_role_id": 2.0,
		"created_at": "2024-05-01T12:00:00Z", "updated_at": "2024-05-01T12:00:00Z",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("GET /users/7: %s = %#v, want %#v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("GET /users/7: fields %v, want exactly %v", got, want)
	}

	if w := request(h, "GET", "/users/8", "acme", ""); w.Code != http.StatusNotFound ||
		w.Header().Get("Content-Type") != tenancy.ProblemContentType {
		t.Errorf("GET /users/8: status %d, Content-Type %q, want 404 problem", w.Code, w.Header().Get("Content-Type"))
	}
}

func TestCreateUserMock(t *testing.T) {
	const insertUser = `INSERT INTO users (email, first_name, last_name, user_role_id, created_at, updated_at) ` +
		`VALUES ($1, $2, $3, $4, now(), now()) RETURNING id, COALESCE(email, '') AS email, first_name, last_name, user_role_id, created_at, updated_at`
	// The shared directory is named with its schema: the transaction's
	// search_path is the tenant's schema alone.
	const insertShared = `INSERT INTO "shared".shared_users (email, tenant_id, is_active) VALUES ($1, $2, true)`
	now := time.Now().UTC()

	t.Run("created", func(t *testing.T) {
		h, mock := newMockApp(t)
		tenancytest.ExpectSearchPath(mock, "acme")
		mock.ExpectBegin()
		tenancytest.ExpectSearchPathInTx(mock, "acme")
		mock.ExpectQuery(insertUser).WithArgs("dana@acme.example", "Dana", nil, nil).
			WillReturnRows(sqlmock.NewRows(userCols).AddRow(4, "dana@acme.example", "Dana", nil, nil, now, now))
		tenancytest.ExpectSearchPathInTx(mock, "acme")
		mock.ExpectExec(insertShared).WithArgs("dana@acme.example", int64(1)).WillReturnResult(sqlmock.NewResult(0, 1))
		mock.ExpectCommit()

		w := request(h, "POST", "/users/", "acme", `{"email":" Dana@Acme.example ","first_name":"Dana"}`)
		if w.Code != http.StatusCreated || w.Header().Get("Location") != "/users/4" {
			t.Fatalf("status %d, Location %q, body %s; want 201, /users/4", w.Code, w.Header().Get("Location"), w.Body)
		}
	})

	t.Run("email used by another tenant", func(t *testing.T) {
		h, mock := newMockApp(t)
		tenancytest.ExpectSearchPath(mock, "acme")
		mock.ExpectBegin()
		tenancytest.ExpectSearchPathInTx(mock, "acme")
		mock.ExpectQuery(insertUser).WithArgs("hank@globex.example", nil, nil, nil).
			WillReturnRows(sqlmock.NewRows(userCols).AddRow(5, "hank@globex.example", nil, nil, nil, now, now))
		tenancytest.ExpectSearchPathInTx(mock, "acme")
		mock.ExpectExec(insertShared).WithArgs("hank@globex.example", int64(1)).
			WillReturnError(&pq.Error{Code: "23505", Constraint: "shared_users_email_key"})
		mock.ExpectRollback() // the users row goes too

		w := request(h, "POST", "/users/", "acme", `{"email":"hank@globex.example"}`)
		if w.Code != http.StatusConflict {
			t.Fatalf("status %d, body %s; want 409", w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "globex") {
			t.Errorf("the answer names the other tenant: %s", w.Body)
		}
	})

	// Requests refused before any SQL: the mock expects nothing, so a statement
	// would fail the request (500) and the test.
	refused := []struct {
		name, tenant, body string
		status             int
		detail             string
	}{
		{"no tenant", "", `{"email":"a@b.example"}`, 400, "does not name a tenant"},
		{"unknown tenant", "initech", `{"email":"a@b.example"}`, 404, `No tenant matches \"initech\"`},
		{"malformed JSON", "acme", `{"email":`, 400, "not valid JSON"},
		{"unknown field", "acme", `{"email":"a@b.example","admin":true}`, 400, `Unknown field \"admin\"`},
		{"wrong type", "acme", `{"email":"a@b.example","user_role_id":"two"}`, 400, `Field \"user_role_id\" must be a JSON number`},
		{"two objects", "acme", `{"email":"a@b.example"}{}`, 400, "single JSON object"},
		{"missing email", "acme", `{"first_name":"A"}`, 400, `Field \"email\" is required`},
		{"bad email", "acme", `{"email":"not an address"}`, 400, "not an e-mail address"},
		{"email too long", "acme", `{"email":"` + strings.Repeat("a", 250) + `@b.example"}`, 400, "longer than 256"},
		{"name too long", "acme", `{"email":"a@b.example","first_name":"` + strings.Repeat("é", 101) + `"}`, 400, "101 characters"},
		{"NUL in name", "acme", `{"email":"a@b.example","last_name":"a\u0000b"}`, 400, "control characters"},
		{"bad role id", "acme", `{"email":"a@b.example","user_role_id":0}`, 400, "positive integer"},
		{"huge body", "acme", `{"email":"a@b.example","first_name":"` + strings.Repeat("x", maxBodyBytes) + `"}`, 413, "larger than"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newMockApp(t)
			w := request(h, "POST", "/users/", tc.tenant, tc.body)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.detail) {
				t.Errorf("status %d, body %s; want %d with %q", w.Code, w.Body, tc.status, tc.detail)
			}
			if ct := w.Header().Get("Content-Type"); ct != tenancy.ProblemContentType {
				t.Errorf("Content-Type %q, want %q", ct, tenancy.ProblemContentType)
			}
		})
	}
}
