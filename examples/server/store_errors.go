package main

import (
	"strings"

	"github.com/go-tenancy/tenancy"
)

// violation is a constraint violation the API expects, as storeError
// recognised it: kind is one of the stores' errors (errEmailTaken,
// errUnknownRole, ...), which the handlers match with errors.Is; field names the
// column the client sent that caused it (email, user_role_id, role_id, ...), or
// is empty when the server's error did not say.
type violation struct {
	kind  error
	field string
}

func (v *violation) Error() string {
	if v.field == "" {
		return v.kind.Error()
	}
	return v.kind.Error() + " (" + v.field + ")"
}

func (v *violation) Unwrap() error { return v.kind }

// fkTargets maps the tables the demo's foreign keys refer to onto the error of a
// missing reference.
var fkTargets = map[string]error{
	"roles":       errUnknownRole,
	"permissions": errUnknownPerm,
	"tenants":     errTenantMissing,
}

// storeError turns the PostgreSQL errors the API expects (a duplicate, a missing
// reference, an over-long value) into the stores' errors; others pass as they are.
//
// It decides by SQLSTATE and the error's Detail, and uses the constraint name
// only when the Detail says nothing it can use: Citus forwards a worker's
// SQLSTATE, message, detail and hint but not the constraint or table name, and
// its messages and details name shards (users_email_key_102008, roles_102010).
func storeError(err error) error {
	pe, ok := tenancy.AsServerError(err) // lib/pq's or pgx's
	if !ok {
		return err
	}
	switch pe.Code {
	case "23505": // unique_violation
		if d, ok := parseKeyDetail(pe.Detail); ok {
			if len(d.columns) == 1 && d.columns[0] == "email" {
				return &violation{kind: errEmailTaken, field: "email"}
			}
			return &violation{kind: errNameTaken, field: strings.Join(d.columns, ", ")}
		}
		// No detail: PostgreSQL leaves it out when the user may not read the
		// key's columns.
		if strings.Contains(constraintName(pe), "email") {
			return &violation{kind: errEmailTaken, field: "email"}
		}
		return &violation{kind: errNameTaken}
	case "23503": // foreign_key_violation
		if d, ok := parseKeyDetail(pe.Detail); ok {
			if d.referenced == "" {
				// "is still referenced from table ...": a delete, not a missing
				// reference; the demo deletes nothing that is referenced.
				return err
			}
			if kind, ok := fkTarget(d.referenced); ok {
				return &violation{kind: kind, field: strings.Join(d.columns, ", ")}
			}
			return err
		}
		// PostgreSQL names a foreign key <table>_<column>_fkey.
		c := constraintName(pe)
		switch {
		case strings.HasSuffix(c, "_permission_id_fkey"):
			return &violation{kind: errUnknownPerm, field: "permission_id"}
		case strings.HasSuffix(c, "_user_role_id_fkey"):
			return &violation{kind: errUnknownRole, field: "user_role_id"}
		case strings.HasSuffix(c, "_role_id_fkey"):
			return &violation{kind: errUnknownRole, field: "role_id"}
		case strings.HasSuffix(c, "_tenant_id_fkey"):
			return &violation{kind: errTenantMissing, field: "tenant_id"}
		}
	case "22001": // string_data_right_truncation: the handlers check lengths first
		return errValueTooLong
	}
	return err
}

// keyDetail is what the Detail of a unique or foreign key violation says.
type keyDetail struct {
	columns    []string // the key's columns; nil when the detail leaves them out
	referenced string   // for "is not present in table T": T, as the server named it
}

// parseKeyDetail reads the Detail of a unique or foreign key violation:
//
//	Key (email)=(a@example.com) already exists.
//	Key (role_id, permission_id)=(1, 2) already exists.
//	Key (role_id)=(7) is not present in table "roles".
//	Key is not present in table "roles".              (the values are hidden from the user)
//	Key (id)=(7) is still referenced from table "users".
//
// It reports false for anything else (an empty detail among them).
func parseKeyDetail(detail string) (keyDetail, bool) {
	rest, ok := strings.CutPrefix(detail, "Key ")
	if !ok {
		return keyDetail{}, false
	}
	var d keyDetail
	if strings.HasPrefix(rest, "(") {
		// The columns end at the first ")=(": the demo's column names hold no
		// parentheses, the values (after it) may.
		cols, _, ok := strings.Cut(rest[1:], ")=(")
		if !ok || cols == "" {
			return keyDetail{}, false
		}
		for c := range strings.SplitSeq(cols, ", ") {
			d.columns = append(d.columns, strings.Trim(c, `"`))
		}
	}
	const notPresent = `is not present in table "`
	switch {
	case strings.HasSuffix(rest, " already exists."):
		if d.columns == nil {
			return keyDetail{}, false
		}
	case strings.Contains(rest, notPresent) && strings.HasSuffix(rest, `".`):
		i := strings.LastIndex(rest, notPresent)
		d.referenced = strings.TrimSuffix(rest[i+len(notPresent):], `".`)
	case strings.Contains(rest, `is still referenced from table "`):
	default:
		return keyDetail{}, false
	}
	return d, true
}

// fkTarget returns the error of a missing row in table, one of fkTargets. A
// name that is not one of them but is one followed by _<digits> is taken for a
// Citus shard of it (roles_102010).
func fkTarget(table string) (error, bool) {
	if kind, ok := fkTargets[table]; ok {
		return kind, true
	}
	if base, ok := stripShardSuffix(table); ok {
		kind, ok := fkTargets[base]
		return kind, ok
	}
	return nil, false
}

// constraintName returns the violated constraint's name: the error's field, or,
// when that is empty (Citus), the name quoted in the message, without a shard
// suffix.
func constraintName(pe tenancy.ServerError) string {
	if pe.Constraint != "" {
		return pe.Constraint
	}
	// duplicate key value violates unique constraint "users_email_key_102008"
	// insert or update on table "users_102008" violates foreign key constraint "users_user_role_id_fkey_102008"
	_, after, ok := strings.Cut(pe.Message, ` constraint "`)
	if !ok {
		return ""
	}
	name, _, ok := strings.Cut(after, `"`)
	if !ok {
		return ""
	}
	if base, ok := stripShardSuffix(name); ok {
		return base
	}
	return name
}

// stripShardSuffix removes a trailing _<digits>, the suffix of a Citus shard's
// name; ok is false if name has none.
func stripShardSuffix(name string) (string, bool) {
	i := strings.LastIndexByte(name, '_')
	if i <= 0 || i == len(name)-1 {
		return "", false
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return name[:i], true
}
