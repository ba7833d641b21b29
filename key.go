package tenancy

import "strings"

// By says which registry column a [Key] is matched against.
type By uint8

const (
	// BySchema matches the tenant's schema name (the header resolver's default: the
	// original clients send "tenant: <schema>").
	BySchema By = iota + 1
	// ByHost matches the tenant's host exactly (lower case, no port, no trailing dot).
	ByHost
	// ByName matches the tenant's unique name.
	ByName
)

func (b By) String() string {
	switch b {
	case BySchema:
		return "schema"
	case ByHost:
		return "host"
	case ByName:
		return "name"
	}
	return "invalid"
}

// Key is what a [TenantResolver] finds in a request: a value to look up in the
// registry and the column to match it against. The zero Key means "this request
// names no tenant here".
type Key struct {
	By    By
	Value string

	// StripPrefix, when not empty, is removed from the front of the request's URL
	// path by the [Middleware] once the tenant is found, the way [http.StripPrefix]
	// does (the path resolver sets it, so that handlers see "/users/" for
	// "/acme/users/").
	StripPrefix string

	// KeepPrefix, when not empty, is the front part of StripPrefix that the
	// [Middleware] puts back after removing StripPrefix: a [PathResolver] with
	// Prefix "/api" returns StripPrefix "/api/acme" and KeepPrefix "/api" for
	// "/api/acme/users", so that handlers (and a router that routes after the
	// middleware) see "/api/users". It must be a prefix of StripPrefix.
	KeepPrefix string

	// agree holds the keys of an [AllAgree] chain: all must name the same tenant.
	agree []Key
}

// IsZero reports whether k names no tenant.
func (k Key) IsZero() bool { return k.By == 0 && k.Value == "" && len(k.agree) == 0 }

// String returns "by:value" ("schema:acme"), or the agreeing keys joined with "&".
func (k Key) String() string {
	if len(k.agree) > 0 {
		parts := make([]string, len(k.agree))
		for i, a := range k.agree {
			parts[i] = a.String()
		}
		return strings.Join(parts, "&")
	}
	return k.By.String() + ":" + k.Value
}
