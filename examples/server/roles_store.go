package main

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy"
)

// Role is a row of a tenant's roles table with the ids of the permissions
// linked to it.
type Role struct {
	ID            int64         `db:"id" json:"id"`
	Name          *string       `db:"role_name" json:"role_name"`
	Description   *string       `db:"role_description" json:"role_description"`
	PermissionIDs pq.Int64Array `db:"permission_ids" json:"permission_ids"`
}

// Permission is a row of a tenant's permissions table.
type Permission struct {
	ID          int64   `db:"id" json:"id"`
	UUID        *string `db:"uuid" json:"uuid"`
	AccountID   *int64  `db:"account_id" json:"account_id"`
	Name        *string `db:"name" json:"name"`
	Title       *string `db:"title" json:"title"`
	Description *string `db:"description" json:"description"`
}

const permissionColumns = `id, uuid::text AS uuid, account_id, name, title, description`

// roleStore is the SQL of roles and permissions, in the tenant of ctx.
type roleStore struct {
	db *tenancy.DB
}

func (s roleStore) listRoles(ctx context.Context, afterID int64, limit int) ([]Role, error) {
	roles := []Role{}
	err := s.db.SelectContext(ctx, &roles, `SELECT r.id, r.role_name, r.role_description, `+
		`COALESCE(array_agg(l.permission_id ORDER BY l.permission_id) FILTER (WHERE l.permission_id IS NOT NULL), '{}') AS permission_ids `+
		`FROM roles r LEFT JOIN roles_permissions_link l ON l.role_id = r.id `+
		`WHERE r.id > $1 GROUP BY r.id ORDER BY r.id LIMIT $2`, afterID, limit)
	return roles, err
}

func (s roleStore) createRole(ctx context.Context, name string, description *string) (Role, error) {
	r := Role{PermissionIDs: pq.Int64Array{}}
	err := s.db.QueryRowxContext(ctx,
		`INSERT INTO roles (role_name, role_description) VALUES ($1, $2) RETURNING id, role_name, role_description`,
		name, description).Scan(&r.ID, &r.Name, &r.Description)
	return r, storeError(err)
}

func (s roleStore) listPermissions(ctx context.Context, afterID int64, limit int) ([]Permission, error) {
	perms := []Permission{}
	err := s.db.SelectContext(ctx, &perms,
		`SELECT `+permissionColumns+` FROM permissions WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
	return perms, err
}

func (s roleStore) createPermission(ctx context.Context, p Permission) (Permission, error) {
	var out Permission
	err := s.db.GetContext(ctx, &out, `INSERT INTO permissions (uuid, account_id, name, title, description) `+
		`VALUES (gen_random_uuid(), $1, $2, $3, $4) RETURNING `+permissionColumns,
		p.AccountID, p.Name, p.Title, p.Description)
	return out, storeError(err)
}

// grant links a permission to a role; linking twice is not an error. It fails
// with errUnknownRole or errUnknownPerm; with errUnknownRole when both are
// missing.
//
// When both ids are unknown, both foreign keys are violated, and which one the
// server reports is not something to rely on: PostgreSQL checks them in the
// order of their triggers' names, a Citus worker need not, and an error without
// a usable detail names neither. So after a foreign key violation grant asks
// which rows exist, the role first. That costs a query only on the error path.
func (s roleStore) grant(ctx context.Context, roleID, permID int64) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO roles_permissions_link (role_id, permission_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, roleID, permID)
	if pe, ok := tenancy.AsServerError(err); !ok || pe.Code != "23503" {
		return storeError(err)
	}
	var found struct {
		Role bool `db:"role"`
		Perm bool `db:"perm"`
	}
	if qerr := s.db.GetContext(ctx, &found, `SELECT EXISTS (SELECT 1 FROM roles WHERE id = $1) AS role, `+
		`EXISTS (SELECT 1 FROM permissions WHERE id = $2) AS perm`, roleID, permID); qerr != nil {
		return fmt.Errorf("%w; and finding which of role %d and permission %d is missing failed: %w", err, roleID, permID, qerr)
	}
	switch {
	case !found.Role:
		return &violation{kind: errUnknownRole, field: "role_id"}
	case !found.Perm:
		return &violation{kind: errUnknownPerm, field: "permission_id"}
	}
	// Both exist now: one was created since the insert failed.
	return storeError(err)
}

// revoke unlinks a permission from a role; unlinking what is not linked is not
// an error.
func (s roleStore) revoke(ctx context.Context, roleID, permID int64) error {
	_, err := s.db.ExecContext(ctx,
		`DELETE FROM roles_permissions_link WHERE role_id = $1 AND permission_id = $2`, roleID, permID)
	return err
}
