package main

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/go-tenancy/tenancy"
)

// User is a row of a tenant's users table, as the API shows it. The nullable
// columns are pointers: JSON null for NULL.
type User struct {
	ID         int64      `db:"id" json:"id"`
	Email      string     `db:"email" json:"email"`
	FirstName  *string    `db:"first_name" json:"first_name"`
	LastName   *string    `db:"last_name" json:"last_name"`
	UserRoleID *int64     `db:"user_role_id" json:"user_role_id"`
	CreatedAt  *time.Time `db:"created_at" json:"created_at"`
	UpdatedAt  *time.Time `db:"updated_at" json:"updated_at"`
}

// userColumns is the column list every users query returns (email is nullable
// in the schema; the API always sets it).
const userColumns = `id, COALESCE(email, '') AS email, first_name, last_name, user_role_id, created_at, updated_at`

// Errors of the stores, which the handlers turn into HTTP answers.
var (
	errNotFound      = errors.New("not found")
	errEmailTaken    = errors.New("e-mail address already in use")
	errUnknownRole   = errors.New("no such role")
	errUnknownPerm   = errors.New("no such permission")
	errNameTaken     = errors.New("name already in use")
	errValueTooLong  = errors.New("value too long")
	errTenantMissing = errors.New("tenant no longer registered")
)

// userStore is the users SQL. Every method runs in the schema of the tenant in
// ctx: the tenancy.DB takes care of it, so the SQL names tables unqualified.
type userStore struct {
	db *tenancy.DB
	// sharedUsers is the shared e-mail directory's qualified, quoted name
	// ("shared".shared_users).
	sharedUsers string
}

// userFields are the values a user is created or updated with, validated.
type userFields struct {
	Email      string
	FirstName  *string
	LastName   *string
	UserRoleID *int64
}

func (s userStore) list(ctx context.Context, afterID int64, limit int) ([]User, error) {
	users := []User{} // [] rather than null in JSON when there are none
	err := s.db.SelectContext(ctx, &users,
		`SELECT `+userColumns+` FROM users WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
	return users, err
}

func (s userStore) get(ctx context.Context, id int64) (User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return u, errNotFound
	}
	return u, err
}

// create inserts the user and records its e-mail address in the shared directory,
// in one transaction: either both rows exist afterwards or neither does. An
// address used in any tenant fails with errEmailTaken (the directory's unique
// index decides, so two tenants racing for one address cannot both win). The
// statements run in a fixed order, so a request that violates more than one
// constraint always fails on the same one: the users row's (its e-mail, its
// role) before the directory's (the e-mail in another tenant, the tenant).
//
// The transaction runs in the tenant's schema (search_path is the tenant schema
// alone), so the shared table is named with its schema. The alternative,
// tenancy.WithSearchPath("shared"), would let every tenant query resolve an
// unqualified name in the shared schema when the tenant has no such table: one
// explicit name here is the smaller risk.
func (s userStore) create(ctx context.Context, tenantID int64, f userFields) (User, error) {
	var u User
	err := s.db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
		if err := tx.GetContext(ctx, &u, `INSERT INTO users (email, first_name, last_name, user_role_id, created_at, updated_at) `+
			`VALUES ($1, $2, $3, $4, now(), now()) RETURNING `+userColumns,
			f.Email, f.FirstName, f.LastName, f.UserRoleID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO `+s.sharedUsers+` (email, tenant_id, is_active) VALUES ($1, $2, true)`,
			f.Email, tenantID)
		return err
	})
	return u, storeError(err)
}

// update sets the user's fields and, if the address changed, moves its entry in
// the shared directory, in one transaction.
func (s userStore) update(ctx context.Context, tenantID, id int64, patch func(*userFields)) (User, error) {
	var u User
	err := s.db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
		var cur User
		err := tx.GetContext(ctx, &cur, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR UPDATE`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return errNotFound
		} else if err != nil {
			return err
		}
		f := userFields{Email: cur.Email, FirstName: cur.FirstName, LastName: cur.LastName, UserRoleID: cur.UserRoleID}
		patch(&f)
		if err := tx.GetContext(ctx, &u, `UPDATE users SET email = $2, first_name = $3, last_name = $4, user_role_id = $5, `+
			`updated_at = now() WHERE id = $1 RETURNING `+userColumns,
			id, f.Email, f.FirstName, f.LastName, f.UserRoleID); err != nil {
			return err
		}
		if f.Email == cur.Email {
			return nil
		}
		res, err := tx.ExecContext(ctx, `UPDATE `+s.sharedUsers+` SET email = $1, updated_at = now() WHERE email = $2 AND tenant_id = $3`,
			f.Email, cur.Email, tenantID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		// No entry for the old address (a row written by hand): add one.
		_, err = tx.ExecContext(ctx, `INSERT INTO `+s.sharedUsers+` (email, tenant_id, is_active) VALUES ($1, $2, true)`,
			f.Email, tenantID)
		return err
	})
	return u, storeError(err)
}

// delete removes the user and its shared directory entry, in one transaction.
func (s userStore) delete(ctx context.Context, tenantID, id int64) error {
	err := s.db.InTx(ctx, nil, func(tx *tenancy.Tx) error {
		var email sql.NullString
		err := tx.GetContext(ctx, &email, `DELETE FROM users WHERE id = $1 RETURNING email`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return errNotFound
		} else if err != nil || !email.Valid {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM `+s.sharedUsers+` WHERE email = $1 AND tenant_id = $2`, email.String, tenantID)
		return err
	})
	return storeError(err)
}
