package tenancy

import (
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"
)

// ServerError is an error reported by the PostgreSQL server, in the fields both
// supported drivers carry (lib/pq's *pq.Error, pgx's *pgconn.PgError), so that
// code mapping errors (the Migrator's conflicts, an application's 409s) does not
// depend on the driver. The driver's own error stays reachable with errors.As.
type ServerError struct {
	Code       string // SQLSTATE, e.g. "23505"
	Message    string
	Detail     string
	Hint       string
	Schema     string
	Table      string
	Column     string
	Constraint string
	// Position is the 1-based character offset of the error in the statement, or
	// 0 when the server gave none.
	Position int
}

// AsServerError finds the first server error in err's chain from either driver.
func AsServerError(err error) (ServerError, bool) {
	var pe *pq.Error
	if errors.As(err, &pe) {
		pos, _ := strconv.Atoi(pe.Position)
		return ServerError{
			Code: string(pe.Code), Message: pe.Message, Detail: pe.Detail, Hint: pe.Hint,
			Schema: pe.Schema, Table: pe.Table, Column: pe.Column, Constraint: pe.Constraint,
			Position: pos,
		}, true
	}
	var ge *pgconn.PgError
	if errors.As(err, &ge) {
		return ServerError{
			Code: ge.Code, Message: ge.Message, Detail: ge.Detail, Hint: ge.Hint,
			Schema: ge.SchemaName, Table: ge.TableName, Column: ge.ColumnName, Constraint: ge.ConstraintName,
			Position: int(ge.Position),
		}, true
	}
	return ServerError{}, false
}

// serverCode returns the SQLSTATE of the server error in err's chain, or "".
func serverCode(err error) string {
	se, _ := AsServerError(err)
	return se.Code
}
