package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// ProblemContentType is the media type of an RFC 9457 problem details document, as
// written by [WriteProblem].
const ProblemContentType = "application/problem+json"

// problemTypeBase prefixes the type URI of each kind of error the middleware
// reports: the URI of the sentinel's documentation, which is stable and can be
// dereferenced by a person reading the response.
const problemTypeBase = "https://pkg.go.dev/github.com/go-tenancy/tenancy#"

// maxProblemDetail caps Problem.Detail in bytes: a detail may quote client input,
// and a client must not be able to make the server echo an arbitrarily long value.
const maxProblemDetail = 1024

// Problem is an RFC 9457 problem details object, the body [WriteProblem] writes.
// The zero value of each field has a default; see WriteProblem.
type Problem struct {
	// Type is a URI naming the kind of problem. "" means "about:blank": the
	// problem is described by its status code alone.
	Type string `json:"type"`
	// Title is a short summary of the kind of problem, the same for every
	// occurrence of Type. "" with Type "about:blank" means the status text
	// ("Not Found").
	Title string `json:"title,omitempty"`
	// Status is the HTTP status code. 0 (or anything outside 100..599) means 500.
	Status int `json:"status"`
	// Detail explains this occurrence to the client. It is sent as given
	// (shortened to 1024 bytes): never put internal error messages in it.
	Detail string `json:"detail,omitempty"`
	// Instance is an optional URI reference naming this occurrence.
	Instance string `json:"instance,omitempty"`
}

// WriteProblem writes p as an application/problem+json response with status
// p.Status, filling in the defaults documented on [Problem]. It sets Content-Type
// and "X-Content-Type-Options: nosniff", removes any Content-Length set earlier,
// and leaves other headers (such as Cache-Control) to the caller. Apps may use it
// for their own errors, so that every error a client sees has the same shape.
//
// Like [http.Error], WriteProblem must be called before anything else is written
// to w, and the caller should write nothing after it. Errors writing to w are
// ignored: the client has gone away.
func WriteProblem(w http.ResponseWriter, p Problem) {
	if p.Status < 100 || p.Status > 599 {
		p.Status = http.StatusInternalServerError
	}
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" && p.Type == "about:blank" {
		p.Title = http.StatusText(p.Status)
	}
	p.Detail = truncate(p.Detail, maxProblemDetail)
	body, err := json.Marshal(p)
	if err != nil { // cannot happen: every field is a string or an int
		body = []byte(`{"type":"about:blank","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", ProblemContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}

// problemKind describes how one class of error is reported: its status and the
// fixed title and detail sent to the client, which never include the error's own
// message.
type problemKind struct {
	err    error
	status int
	typ    string // "" for about:blank
	title  string
	detail string
}

// problemKinds is the status mapping of [StatusCode] and [DefaultErrorHandler], in
// the order the sentinels are tried: an error that matches several is reported as
// the first. ErrForbidden comes first because an authorisation hook's error may
// wrap anything; ErrRegistryUnavailable next, because a server-side failure is not
// the client's fault whatever else it wraps.
var problemKinds = [...]problemKind{
	suspendedProblem,
	{ErrForbidden, http.StatusForbidden, problemTypeBase + "ErrForbidden",
		"Access to tenant denied", "The request may not act for this tenant."},
	{ErrRegistryUnavailable, http.StatusServiceUnavailable, problemTypeBase + "ErrRegistryUnavailable",
		"Tenant registry unavailable", "The tenant could not be looked up. Try again later."},
	{ErrNoTenant, http.StatusBadRequest, problemTypeBase + "ErrNoTenant",
		"No tenant", "The request does not name a tenant."},
	{ErrMalformedRequest, http.StatusBadRequest, problemTypeBase + "ErrMalformedRequest",
		"Malformed tenant", "The request names its tenant in a malformed way."},
	{ErrTenantMismatch, http.StatusBadRequest, problemTypeBase + "ErrTenantMismatch",
		"Tenant mismatch", "The request names different tenants in different places."},
	{ErrUnknownTenant, http.StatusNotFound, problemTypeBase + "ErrUnknownTenant",
		"Unknown tenant", "No tenant matches the request."},
	// An invalid schema name cannot belong to a tenant: the same answer as an
	// unknown one, so the client learns nothing from the difference.
	{ErrInvalidSchemaName, http.StatusNotFound, problemTypeBase + "ErrUnknownTenant",
		"Unknown tenant", "No tenant matches the request."},
	{ErrInvalidHost, http.StatusBadRequest, problemTypeBase + "ErrInvalidHost",
		"Invalid host", "The host name is not valid."},
	// The Migrator's errors, for admin APIs that answer with DefaultErrorHandler.
	{ErrConflict, http.StatusConflict, problemTypeBase + "ErrConflict",
		"Tenant already exists", "Another tenant has the same name, schema or host."},
	{ErrSchemaExists, http.StatusConflict, problemTypeBase + "ErrSchemaExists",
		"Schema already exists", "A schema of that name exists and is not a registered tenant."},
	{ErrDirty, http.StatusConflict, problemTypeBase + "ErrDirty",
		"Schema is dirty", "A migration of this schema failed; an operator must force its version."},
	{ErrLocked, http.StatusConflict, problemTypeBase + "ErrLocked",
		"Migration in progress", "Another migration holds this schema's lock. Try again later."},
	{ErrIrreversible, http.StatusConflict, problemTypeBase + "ErrIrreversible",
		"Migration is irreversible", "A migration on the way has no down migration."},
	{ErrUnknownVersion, http.StatusUnprocessableEntity, problemTypeBase + "ErrUnknownVersion",
		"Unknown version", "No migration has that version."},
	{context.Canceled, http.StatusServiceUnavailable, "", "",
		"The request could not be completed. Try again later."},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "", "",
		"The request could not be completed. Try again later."},
}

func kindOf(err error) *problemKind {
	for i := range problemKinds {
		if errors.Is(err, problemKinds[i].err) {
			return &problemKinds[i]
		}
	}
	return nil
}

// StatusCode returns the HTTP status code the [Middleware] answers err with, so that
// a custom error handler ([WithErrorHandler]) can keep the default mapping. The
// sentinels are tried in this order; the first that [errors.Is] matches decides:
//
//   - [ErrTenantSuspended], [ErrForbidden]: 403 Forbidden;
//   - [ErrRegistryUnavailable]: 503 Service Unavailable;
//   - [ErrNoTenant], [ErrMalformedRequest], [ErrTenantMismatch]: 400 Bad Request;
//   - [ErrUnknownTenant], [ErrInvalidSchemaName]: 404 Not Found;
//   - [ErrInvalidHost]: 400 Bad Request;
//   - [ErrConflict], [ErrSchemaExists], [ErrDirty], [ErrLocked], [ErrIrreversible]:
//     409 Conflict; [ErrUnknownVersion]: 422 Unprocessable Entity (the [Migrator]'s
//     errors, for admin APIs);
//   - [context.Canceled], [context.DeadlineExceeded]: 503 Service Unavailable.
//
// nil gives 200 OK and any other error 500 Internal Server Error.
func StatusCode(err error) int {
	if err == nil {
		return http.StatusOK
	}
	if k := kindOf(err); k != nil {
		return k.status
	}
	return http.StatusInternalServerError
}

// DefaultErrorHandler is the error handler the [Middleware] uses unless
// [WithErrorHandler] replaces it; a custom handler may call it for the errors it
// does not treat itself. It answers with [StatusCode](err) and a [Problem] whose
// Type is the documentation URI of the matching sentinel (such as
// "https://pkg.go.dev/github.com/go-tenancy/tenancy#ErrUnknownTenant"), or
// "about:blank" for context errors and unclassified (500) errors.
//
// The detail is a fixed sentence per kind of error: err's message, which may hold
// database errors or resolver internals, is never sent. The one exception is 404,
// whose detail names the key that was looked up (the Key of a *[TenantError] in
// err's chain, at most 64 bytes of it), which is the client's own input.
// The response carries "Cache-Control: no-store", so that no shared cache answers
// another tenant's request with it. DefaultErrorHandler is safe for concurrent use.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	p := Problem{Status: http.StatusInternalServerError}
	if k := kindOf(err); k != nil {
		p = Problem{Type: k.typ, Title: k.title, Status: k.status, Detail: k.detail}
		var te *TenantError
		if k.status == http.StatusNotFound && errors.As(err, &te) && te.Key != "" {
			p.Detail = fmt.Sprintf("No tenant matches %q.", clip(te.Key))
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteProblem(w, p)
}

// truncate shortens s to at most n bytes (plus "...") without splitting a UTF-8
// sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
