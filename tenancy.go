package tenancy

import (
	"context"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultSharedSchema is the schema that holds the tenant registry and other shared
// tables unless [WithSharedSchema] names another.
const DefaultSharedSchema = "shared"

// MaxSchemaNameLen is PostgreSQL's identifier limit (NAMEDATALEN-1) in bytes. Longer
// names would be truncated silently by the server, so they are rejected.
const MaxSchemaNameLen = 63

// Tenant is one customer: a row of the tenant registry. A Tenant is a plain value;
// copying it is safe.
type Tenant struct {
	// ID is the registry's primary key.
	ID int64 `db:"id" json:"id"`
	// Name is the tenant's unique display name.
	Name string `db:"name" json:"name"`
	// Schema is the PostgreSQL schema that holds the tenant's tables. It always
	// satisfies [ValidateSchemaName].
	Schema string `db:"schema" json:"schema"`
	// Host is the tenant's unique host name (lower case, no port), or "" if it has
	// none.
	Host string `db:"host" json:"host,omitempty"`
	// Shard names the database server that holds the tenant's schema. "" (the only
	// value used today) is the server the [DB] was opened on. It is the seam through
	// which a later version places tenants on several servers: every tenant-scoped
	// access picks its connection pool from the tenant, never from a global.
	Shard string `db:"shard" json:"shard,omitempty"`
	// CreatedAt is when the tenant was registered.
	CreatedAt time.Time `db:"created_at" json:"created_at"`

	// attrs are the application's own registry columns ([WithTenantColumns]),
	// read by [Tenant.Attr]; nil if none. A pointer, so that Tenant stays
	// comparable and cheap to copy.
	attrs *tenantAttrs
}

// LogValue makes a Tenant log as a group of its id, name and schema, so that
// slog.Any("tenant", t) is compact and never dumps unexported state.
func (t Tenant) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int64("id", t.ID),
		slog.String("name", t.Name),
		slog.String("schema", t.Schema),
	)
}

var _ slog.LogValuer = Tenant{}

// ctxKey is the type of the one context key this package uses. A pointer to an
// unexported type cannot collide with any other package's key.
type ctxKey struct{}

var scopeKey = &ctxKey{}

// scope is what a context carries: the schema a statement must run in and, for
// tenant-scoped work, the tenant. Shared-schema work ([DB.Shared]) carries a scope
// with a nil tenant.
type scope struct {
	tenant *Tenant
	schema string
	err    error // non-nil if schema failed ValidateSchemaName; every statement fails with it
}

// NewContext returns a copy of ctx that carries t. Every tenant-scoped call made with
// the returned context (or one derived from it) runs in t.Schema.
//
// NewContext does not check the registry; it trusts t. Use [Registry.Context] to
// start from a tenant's schema, host or name. A t whose Schema is not a valid schema
// name is stored as given, and every query made with it fails with
// [ErrInvalidSchemaName].
func NewContext(ctx context.Context, t Tenant) context.Context {
	return newContextPtr(ctx, &t)
}

// newContextPtr stores t without copying it; t must not be modified afterwards. The
// middleware uses it with the registry cache's immutable tenants, which saves an
// allocation per request.
func newContextPtr(ctx context.Context, t *Tenant) context.Context {
	return &scopeCtx{Context: ctx, s: scope{tenant: t, schema: t.Schema, err: ValidateSchemaName(t.Schema)}}
}

// scopeCtx is context.WithValue(ctx, scopeKey, &s) in one allocation instead of two:
// the middleware makes one per request.
type scopeCtx struct {
	context.Context
	s scope
}

func (c *scopeCtx) Value(key any) any {
	if key == any(scopeKey) {
		return &c.s
	}
	return c.Context.Value(key)
}

func (c *scopeCtx) String() string { return "tenancy.NewContext(" + c.s.schema + ")" }

// FromContext returns the tenant carried by ctx, and whether there was one. It is
// safe on every context, including a nil one and those this package makes for its
// own work (the Migrator's, which carry no tenant, and the shared schema's): they
// report false. Log handlers and tracing attribute getters may therefore call it on
// any context they are handed.
func FromContext(ctx context.Context) (Tenant, bool) {
	if s := scopeFrom(ctx); s != nil && s.tenant != nil {
		return *s.tenant, true
	}
	return Tenant{}, false
}

// MustFromContext is like [FromContext] but panics if ctx carries no tenant. Use it
// only behind the [Middleware], where a missing tenant is a programming error.
func MustFromContext(ctx context.Context) Tenant {
	t, ok := FromContext(ctx)
	if !ok {
		panic(ErrNoTenant)
	}
	return t
}

// scopeFrom returns the scope ctx carries, or nil. The result may be nil even
// when ctx holds the key: unscoped stores a typed nil *scope to hide a caller's
// tenant, so callers must check the pointer, never only the type assertion.
func scopeFrom(ctx context.Context) *scope {
	if ctx == nil {
		return nil
	}
	s, _ := ctx.Value(scopeKey).(*scope)
	return s
}

// ValidateSchemaName reports whether name may be used as a tenant schema. It is the
// one check every function of this package applies before an identifier goes near
// SQL (where it is also quoted). A valid name:
//
//   - is 1 to 63 bytes long;
//   - matches ^[a-z_][a-z0-9_]*$ (lower case, so that no two names collide when
//     PostgreSQL folds case, and no quoting tricks are possible);
//   - does not start with "pg_" (reserved for system schemas);
//   - is not "public" or "information_schema";
//   - is not one of the reserved names passed in (pass the shared schema).
//
// The returned error is a *[SchemaNameError] wrapping [ErrInvalidSchemaName] that
// says which rule failed.
func ValidateSchemaName(name string, reserved ...string) error {
	reason := schemaNameProblem(name)
	if reason == "" {
		for _, r := range reserved {
			if name == r {
				reason = "it is reserved for shared tables"
				break
			}
		}
	}
	if reason != "" {
		return &SchemaNameError{Name: name, Reason: reason}
	}
	return nil
}

// validSharedSchemaName checks the shared schema's own name: the same rules, except
// that it may not be reserved against itself.
func validSharedSchemaName(name string) error {
	if reason := schemaNameProblem(name); reason != "" {
		return &SchemaNameError{Name: name, Reason: reason}
	}
	return nil
}

func schemaNameProblem(name string) string {
	switch {
	case name == "":
		return "it is empty"
	case len(name) > MaxSchemaNameLen:
		return "it is longer than 63 bytes"
	case !utf8.ValidString(name):
		return "it is not valid UTF-8"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9':
			if i == 0 {
				return "it starts with a digit"
			}
		case c >= 'A' && c <= 'Z':
			return "it has upper-case letters (use lower case)"
		default:
			return "it may contain only a-z, 0-9 and _"
		}
	}
	switch {
	case strings.HasPrefix(name, "pg_"):
		return `it starts with "pg_", which PostgreSQL reserves`
	case name == "public", name == "information_schema":
		return "it is a PostgreSQL system schema"
	}
	return ""
}
