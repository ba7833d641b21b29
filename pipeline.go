package tenancy

import (
	"database/sql/driver"
	"io"
	"reflect"
	"strings"
)

// pipelinable reports whether a SET may be sent in front of q in one message:
// q is a single statement (no semicolon at all, not even in a literal: when in
// doubt, no) whose first keyword is one of the data statements, all of which run
// inside a transaction block. Statements that cannot (VACUUM, CREATE INDEX
// CONCURRENTLY, CREATE DATABASE...), transaction control, CALL (a procedure may
// commit), and anything starting with a comment go the usual way.
func pipelinable(q string) bool {
	if strings.IndexByte(q, ';') >= 0 {
		return false
	}
	q = strings.TrimLeft(q, " \t\r\n(")
	end := 0
	for end < len(q) && (q[end]|0x20 >= 'a' && q[end]|0x20 <= 'z') {
		end++
	}
	if end == 0 || end < len(q) && q[end] != ' ' && q[end] != '\t' && q[end] != '\r' && q[end] != '\n' && q[end] != '(' && q[end] != '*' {
		return false
	}
	switch strings.ToUpper(q[:end]) {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES", "TABLE", "MERGE":
		return true
	}
	return false
}

// wrapRows wraps a driver's rows, passing on the optional interfaces that
// database/sql uses for ColumnTypes and NextResultSet (plain embedding would hide
// them), with database/sql's own defaults when the driver lacks one.
type wrapRows struct {
	driver.Rows
}

var (
	_ driver.RowsColumnTypeScanType         = wrapRows{}
	_ driver.RowsColumnTypeDatabaseTypeName = wrapRows{}
	_ driver.RowsColumnTypeLength           = wrapRows{}
	_ driver.RowsColumnTypeNullable         = wrapRows{}
	_ driver.RowsColumnTypePrecisionScale   = wrapRows{}
	_ driver.RowsNextResultSet              = wrapRows{}
)

func (r wrapRows) ColumnTypeScanType(i int) reflect.Type {
	if x, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return x.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r wrapRows) ColumnTypeDatabaseTypeName(i int) string {
	if x, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return x.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r wrapRows) ColumnTypeLength(i int) (int64, bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return x.ColumnTypeLength(i)
	}
	return 0, false
}

func (r wrapRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return x.ColumnTypeNullable(i)
	}
	return false, false
}

func (r wrapRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return x.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r wrapRows) HasNextResultSet() bool {
	if x, ok := r.Rows.(driver.RowsNextResultSet); ok {
		return x.HasNextResultSet()
	}
	return false
}

func (r wrapRows) NextResultSet() error {
	if x, ok := r.Rows.(driver.RowsNextResultSet); ok {
		return x.NextResultSet()
	}
	return io.EOF
}
