package main

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/go-tenancy/tenancy"
)

// health is GET /health: 200 if the database answers, 503 otherwise.
func (a *app) health(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.db.Ping(ctx); err != nil {
		a.log.WarnContext(r.Context(), "health check failed", "err", err)
		return errorf(http.StatusServiceUnavailable, "The database does not answer.")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// lookupResponse is the answer of GET /lookup.
type lookupResponse struct {
	Email  string         `json:"email"`
	Tenant tenancy.Tenant `json:"tenant"`
}

// lookupEmail is GET /lookup?email=: which tenant an address belongs to, from the
// shared directory, so a login page can send the user to their tenant. It reads
// shared tables only, through db.Shared(): no tenant is involved.
//
// Like any "does this account exist" endpoint it lets anyone test addresses; a
// real application rate-limits it or answers by e-mail instead.
func (a *app) lookupEmail(w http.ResponseWriter, r *http.Request) error {
	email, err := checkEmail(r.URL.Query().Get("email"))
	if err != nil {
		return errorf(http.StatusBadRequest, "Query parameter email must be an e-mail address.")
	}
	var t tenancy.Tenant
	// search_path is the shared schema: unqualified names resolve there.
	err = a.db.Shared().GetContext(r.Context(), &t,
		`SELECT t.id, t.name, t.schema, COALESCE(t.host, '') AS host, t.shard, t.created_at `+
			`FROM shared_users u JOIN tenants t ON t.id = u.tenant_id WHERE u.email = $1`, email)
	if errors.Is(err, sql.ErrNoRows) {
		return errorf(http.StatusNotFound, "No tenant has a user with this e-mail address.")
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, lookupResponse{Email: email, Tenant: t})
	return nil
}
