package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-tenancy/tenancy"
)

// Column limits of the tenant schema (migrations/tenant/000001_initial.up.sql):
// the handlers check them so that an over-long value is a clear 400 and nothing
// is written.
const (
	maxEmailLen = 256
	maxNameLen  = 100
	maxPageSize = 100
)

func (a *app) listUsers(w http.ResponseWriter, r *http.Request) error {
	after, limit, err := page(r)
	if err != nil {
		return err
	}
	users, err := a.users.list(r.Context(), after, limit)
	if err != nil {
		return err
	}
	if len(users) == limit {
		setNextLink(w, r, users[len(users)-1].ID)
	}
	writeJSON(w, http.StatusOK, users)
	return nil
}

func (a *app) getUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := a.users.get(r.Context(), id)
	if err != nil {
		return userError(err, id)
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// createUserRequest is the body of POST /users/.
type createUserRequest struct {
	Email      string  `json:"email"`
	FirstName  *string `json:"first_name"`
	LastName   *string `json:"last_name"`
	UserRoleID *int64  `json:"user_role_id"`
}

func (a *app) createUser(w http.ResponseWriter, r *http.Request) error {
	var req createUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	email, err := checkEmail(req.Email)
	if err != nil {
		return err
	}
	f := userFields{Email: email, FirstName: req.FirstName, LastName: req.LastName, UserRoleID: req.UserRoleID}
	if err := f.check(); err != nil {
		return err
	}
	// Behind the tenant middleware the context always has a tenant.
	t := tenancy.MustFromContext(r.Context())
	u, err := a.users.create(r.Context(), t.ID, f)
	if err != nil {
		return userError(err, 0)
	}
	a.log.InfoContext(r.Context(), "user created", "user_id", u.ID)
	w.Header().Set("Location", "/users/"+strconv.FormatInt(u.ID, 10))
	writeJSON(w, http.StatusCreated, u)
	return nil
}

// updateUserRequest is the body of PATCH /users/{id}: a field that is absent is
// left as it is; null clears a nullable field.
type updateUserRequest struct {
	Email      optional[string] `json:"email"`
	FirstName  optional[string] `json:"first_name"`
	LastName   optional[string] `json:"last_name"`
	UserRoleID optional[int64]  `json:"user_role_id"`
}

func (a *app) updateUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req updateUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if !req.Email.Set && !req.FirstName.Set && !req.LastName.Set && !req.UserRoleID.Set {
		return errorf(http.StatusBadRequest, "The body sets no field; send one or more of email, first_name, last_name, user_role_id.")
	}
	var email string
	if req.Email.Set {
		if req.Email.Null {
			return errorf(http.StatusBadRequest, "Field \"email\" cannot be null.")
		}
		if email, err = checkEmail(req.Email.Value); err != nil {
			return err
		}
	}
	// Check the new values before the transaction: nothing is written if one is
	// invalid.
	changes := userFields{FirstName: req.FirstName.Ptr(), LastName: req.LastName.Ptr(), UserRoleID: req.UserRoleID.Ptr()}
	if err := changes.check(); err != nil {
		return err
	}
	t := tenancy.MustFromContext(r.Context())
	u, err := a.users.update(r.Context(), t.ID, id, func(f *userFields) {
		if req.Email.Set {
			f.Email = email
		}
		if req.FirstName.Set {
			f.FirstName = req.FirstName.Ptr()
		}
		if req.LastName.Set {
			f.LastName = req.LastName.Ptr()
		}
		if req.UserRoleID.Set {
			f.UserRoleID = req.UserRoleID.Ptr()
		}
	})
	if err != nil {
		return userError(err, id)
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (a *app) deleteUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	t := tenancy.MustFromContext(r.Context())
	if err := a.users.delete(r.Context(), t.ID, id); err != nil {
		return userError(err, id)
	}
	a.log.InfoContext(r.Context(), "user deleted", "user_id", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// userError turns a store error into the answer. A user of another tenant is
// simply not found: its schema is not even on the search path.
func userError(err error, id int64) error {
	switch {
	case errors.Is(err, errNotFound):
		return errorf(http.StatusNotFound, "There is no user with id %d.", id)
	case errors.Is(err, errEmailTaken):
		// Which tenant has it is not this client's business.
		return errorf(http.StatusConflict, "The e-mail address is already in use.")
	case errors.Is(err, errUnknownRole):
		return errorf(http.StatusUnprocessableEntity, "user_role_id names no role of this tenant.")
	case errors.Is(err, errValueTooLong):
		return errorf(http.StatusBadRequest, "A value is longer than its column allows.")
	case errors.Is(err, errTenantMissing):
		return errorf(http.StatusNotFound, "The tenant no longer exists.")
	}
	return err
}

// check validates the optional fields of a user.
func (f userFields) check() error {
	if err := checkText("first_name", f.FirstName, maxNameLen); err != nil {
		return err
	}
	if err := checkText("last_name", f.LastName, maxNameLen); err != nil {
		return err
	}
	if f.UserRoleID != nil && *f.UserRoleID < 1 {
		return errorf(http.StatusBadRequest, "Field \"user_role_id\" must be a positive integer.")
	}
	return nil
}

// checkEmail validates an e-mail address and returns it in lower case (so that
// Alice@x and alice@x are one address across all tenants).
func checkEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "":
		return "", errorf(http.StatusBadRequest, "Field \"email\" is required.")
	case utf8.RuneCountInString(s) > maxEmailLen:
		return "", errorf(http.StatusBadRequest, "Field \"email\" is longer than %d characters.", maxEmailLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", errorf(http.StatusBadRequest, "Field \"email\" is not an e-mail address (name@example.com).")
	}
	return s, nil
}

// checkText checks an optional text field: at most maxLen characters (varchar(n)
// counts characters, not bytes) and no control characters (PostgreSQL refuses
// NUL in text; the others have no place in a name).
func checkText(field string, v *string, maxLen int) error {
	if v == nil {
		return nil
	}
	if n := utf8.RuneCountInString(*v); n > maxLen {
		return errorf(http.StatusBadRequest, "Field %q is %d characters long; at most %d are allowed.", field, n, maxLen)
	}
	if strings.IndexFunc(*v, unicode.IsControl) >= 0 {
		return errorf(http.StatusBadRequest, "Field %q contains control characters.", field)
	}
	return nil
}

// setNextLink points to the next page of a list (RFC 8288).
func setNextLink(w http.ResponseWriter, r *http.Request, lastID int64) {
	q := r.URL.Query()
	q.Set("after_id", strconv.FormatInt(lastID, 10))
	w.Header().Set("Link", fmt.Sprintf("<%s?%s>; rel=\"next\"", r.URL.Path, q.Encode()))
}

// optional is a PATCH field: Set reports whether the body had it, Null whether
// it was null.
type optional[T any] struct {
	Set, Null bool
	Value     T
}

// UnmarshalJSON is called only for fields present in the body (null included).
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// Ptr returns the value, or nil for null or absent.
func (o optional[T]) Ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.Value
	return &v
}
