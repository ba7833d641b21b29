package tenancy

import (
	"errors"
	"fmt"
)

// Sentinel errors. Test for them with [errors.Is]; the typed errors below wrap them
// and carry the tenant or schema involved.
var (
	// ErrNoTenant is returned by every tenant-scoped [DB] and [Tx] method, and by the
	// connections of a [DB], when the context carries no tenant. The middleware
	// answers it with 400 Bad Request. It is never "fixed" by falling back to another
	// schema.
	ErrNoTenant = errors.New("tenancy: no tenant in context")

	// ErrUnknownTenant is returned by [Registry] lookups (wrapped in a
	// *[TenantError]) when no registered tenant matches the key. The middleware
	// answers it with 404 Not Found.
	ErrUnknownTenant = errors.New("tenancy: unknown tenant")

	// ErrInvalidSchemaName is wrapped by every *[SchemaNameError] returned by
	// [ValidateSchemaName] and by every function that validates a schema name before
	// it touches the database.
	ErrInvalidSchemaName = errors.New("tenancy: invalid schema name")

	// ErrMalformedRequest is wrapped by the errors a [TenantResolver] returns when a
	// request names a tenant in a malformed way (an empty or oversized header, two
	// different values of one header, an unparsable host). The middleware answers it
	// with 400 Bad Request.
	ErrMalformedRequest = errors.New("tenancy: malformed tenant in request")

	// ErrInvalidHost is wrapped by every *[HostError]: [NormalizeHost] rejected a
	// host (in a request, or given for a new tenant).
	ErrInvalidHost = errors.New("tenancy: invalid host")

	// ErrTenantMismatch is returned when two sources disagree on the tenant: the
	// resolvers of an [AllAgree] chain, or a statement whose context names another
	// tenant than the transaction or pinned connection it runs on. The middleware
	// answers it with 400 Bad Request.
	ErrTenantMismatch = errors.New("tenancy: tenants do not agree")

	// ErrForbidden is wrapped by the middleware around an error returned by the
	// authorisation hook ([WithAuthorizer]); the middleware answers it with 403
	// Forbidden.
	ErrForbidden = errors.New("tenancy: access to tenant denied")

	// ErrRegistryUnavailable wraps a failure to read the tenant registry (the
	// database is down, the context expired). The middleware answers it with 503
	// Service Unavailable.
	ErrRegistryUnavailable = errors.New("tenancy: tenant registry unavailable")

	// ErrConflict is returned (wrapped in a *[TenantError]) when creating or renaming
	// a tenant would duplicate another tenant's name, schema or host.
	ErrConflict = errors.New("tenancy: tenant already exists")

	// ErrTxControl is returned, before anything is sent, for a transaction control
	// statement sent as text that would begin or end a transaction (BEGIN, START
	// TRANSACTION, COMMIT, END, ROLLBACK, ABORT, PREPARE TRANSACTION): a transaction
	// the library did not open escapes its scoping. Use [DB.BeginTxx] or [DB.InTx],
	// and the Tx's Commit and Rollback. SAVEPOINT, RELEASE and ROLLBACK TO are
	// allowed inside a transaction.
	ErrTxControl = errors.New("tenancy: transaction control statements must go through BeginTx, Commit and Rollback")

	// ErrUnmanagedTx is returned (joined with the statement's own error, if any)
	// when a statement outside a library transaction left the session inside one,
	// for example a multi-statement text that begins one. The library rolled it
	// back before returning.
	ErrUnmanagedTx = errors.New("tenancy: statement left a transaction open; it was rolled back")

	// ErrTxEnded is returned by every statement of a library transaction, and by
	// its Commit, after the server ended the transaction without the library (a
	// COMMIT or ROLLBACK hidden in a multi-statement text). The work done after that
	// point did not run in the transaction.
	ErrTxEnded = errors.New("tenancy: transaction ended outside Commit and Rollback")

	// ErrPrepareOutsideTx is returned by PrepareContext in [TransactionMode] outside
	// a transaction: behind a transaction pooler a prepared statement could run on
	// another client's server connection. Prepare inside a transaction, or do not
	// prepare (database/sql's QueryContext and ExecContext with arguments do not).
	ErrPrepareOutsideTx = errors.New("tenancy: TransactionMode cannot prepare statements outside a transaction")

	// ErrClosed is returned by a [DB] after Close.
	ErrClosed = errors.New("tenancy: database is closed")
)

// SchemaNameError reports why a schema name was rejected. It wraps
// [ErrInvalidSchemaName].
type SchemaNameError struct {
	Name   string // the rejected name, as given
	Reason string // which rule it broke
}

func (e *SchemaNameError) Error() string {
	return fmt.Sprintf("tenancy: invalid schema name %q: %s", e.Name, e.Reason)
}

// Unwrap returns [ErrInvalidSchemaName].
func (e *SchemaNameError) Unwrap() error { return ErrInvalidSchemaName }

// TenantError is an error about one tenant: Key names the tenant as the caller gave
// it (a schema, host or name), Op says what was being done, and Err is the cause,
// often one of the sentinels above.
type TenantError struct {
	Op  string // e.g. "lookup", "create", "query"
	Key string // the tenant's schema, host or name, as given
	Err error
}

func (e *TenantError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("tenancy: %s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("tenancy: %s tenant %q: %v", e.Op, e.Key, e.Err)
}

// Unwrap returns the cause.
func (e *TenantError) Unwrap() error { return e.Err }
