package main

import (
	"context"

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
// with errUnknownRole or errUnknownPerm.
func (s roleStore) grant(ctx context.Context, roleID, permID int64) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO roles_permissions_link (role_id, permission_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, roleID, permID)
	return storeError(err)
}

// revoke unlinks a permission from a role; unlinking what is not linked is not
// an error.
func (s roleStore) revoke(ctx context.Context, roleID, permID int64) error {
	_, err := s.db.ExecContext(ctx,
		`DELETE FROM roles_permissions_link WHERE role_id = $1 AND permission_id = $2`, roleID, permID)
	return err
}
