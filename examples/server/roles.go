package main

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
)

func (a *app) listRoles(w http.ResponseWriter, r *http.Request) error {
	after, limit, err := page(r)
	if err != nil {
		return err
	}
	roles, err := a.roles.listRoles(r.Context(), after, limit)
	if err != nil {
		return err
	}
	if len(roles) == limit {
		setNextLink(w, r, roles[len(roles)-1].ID)
	}
	writeJSON(w, http.StatusOK, roles)
	return nil
}

// createRoleRequest is the body of POST /roles/.
type createRoleRequest struct {
	Name        string  `json:"role_name"`
	Description *string `json:"role_description"`
}

func (a *app) createRole(w http.ResponseWriter, r *http.Request) error {
	var req createRoleRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Name) == "" {
		return errorf(http.StatusBadRequest, "Field \"role_name\" is required.")
	}
	if err := checkText("role_name", &req.Name, maxNameLen); err != nil {
		return err
	}
	if err := checkText("role_description", req.Description, maxNameLen); err != nil {
		return err
	}
	role, err := a.roles.createRole(r.Context(), req.Name, req.Description)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/roles/"+strconv.FormatInt(role.ID, 10))
	writeJSON(w, http.StatusCreated, role)
	return nil
}

func (a *app) listPermissions(w http.ResponseWriter, r *http.Request) error {
	after, limit, err := page(r)
	if err != nil {
		return err
	}
	perms, err := a.roles.listPermissions(r.Context(), after, limit)
	if err != nil {
		return err
	}
	if len(perms) == limit {
		setNextLink(w, r, perms[len(perms)-1].ID)
	}
	writeJSON(w, http.StatusOK, perms)
	return nil
}

// createPermissionRequest is the body of POST /permissions/. The uuid is
// generated.
type createPermissionRequest struct {
	Name        string  `json:"name"`
	Title       *string `json:"title"`
	Description *string `json:"description"`
	AccountID   *int64  `json:"account_id"`
}

func (a *app) createPermission(w http.ResponseWriter, r *http.Request) error {
	var req createPermissionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Name) == "" {
		return errorf(http.StatusBadRequest, "Field \"name\" is required.")
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"name", &req.Name}, {"title", req.Title}, {"description", req.Description}} {
		if err := checkText(f.name, f.v, maxNameLen); err != nil {
			return err
		}
	}
	if req.AccountID != nil && (*req.AccountID < 0 || *req.AccountID > 1<<31-1) {
		return errorf(http.StatusBadRequest, "Field \"account_id\" must be an integer from 0 to 2147483647.")
	}
	p, err := a.roles.createPermission(r.Context(), Permission{
		Name: &req.Name, Title: req.Title, Description: req.Description, AccountID: req.AccountID,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/permissions/"+strconv.FormatInt(p.ID, 10))
	writeJSON(w, http.StatusCreated, p)
	return nil
}

// grantPermission is PUT /roles/{id}/permissions/{permission_id}: idempotent, 204.
func (a *app) grantPermission(w http.ResponseWriter, r *http.Request) error {
	roleID, permID, err := linkIDs(r)
	if err != nil {
		return err
	}
	err = a.roles.grant(r.Context(), roleID, permID)
	switch {
	case errors.Is(err, errUnknownRole):
		return errorf(http.StatusNotFound, "There is no role with id %d.", roleID)
	case errors.Is(err, errUnknownPerm):
		return errorf(http.StatusNotFound, "There is no permission with id %d.", permID)
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revokePermission is DELETE /roles/{id}/permissions/{permission_id}:
// idempotent, 204.
func (a *app) revokePermission(w http.ResponseWriter, r *http.Request) error {
	roleID, permID, err := linkIDs(r)
	if err != nil {
		return err
	}
	if err := a.roles.revoke(r.Context(), roleID, permID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func linkIDs(r *http.Request) (roleID, permID int64, err error) {
	if roleID, err = pathID(r, "id"); err != nil {
		return 0, 0, err
	}
	if permID, err = pathID(r, "permission_id"); err != nil {
		return 0, 0, err
	}
	return roleID, permID, nil
}

// page parses the keyset pagination parameters ?after_id= and ?limit=.
func page(r *http.Request) (afterID int64, limit int, err error) {
	if afterID, err = queryInt(r, "after_id", 0, 0, 1<<63-1); err != nil {
		return 0, 0, err
	}
	l, err := queryInt(r, "limit", maxPageSize, 1, maxPageSize)
	return afterID, int(l), err
}
