package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-tenancy/tenancy"
)

// maxBodyBytes caps request bodies: the largest valid body is well under 2 KiB.
const maxBodyBytes = 1 << 20

// apiError is an error with the HTTP status and the detail to send. Handlers
// return it for everything that is the client's doing; any other error is a 500
// whose message is logged, never sent.
type apiError struct {
	status int
	detail string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.detail) }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, detail: fmt.Sprintf(format, args...)}
}

// handlerFunc is a handler that returns its error instead of writing it, so that
// every error is answered in one place, the same way.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts h to http.Handler: a returned error is answered as
// application/problem+json.
func (a *app) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

func (a *app) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		writeProblem(w, ae.status, ae.detail)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		a.log.DebugContext(r.Context(), "request cancelled", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "The request was cancelled.")
	case errors.Is(err, context.DeadlineExceeded):
		a.log.WarnContext(r.Context(), "request timed out", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "The request took too long. Try again later.")
	default:
		// The message may hold SQL or internal state: log it, do not send it.
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeProblem(w, http.StatusInternalServerError, "Something went wrong on our side.")
	}
}

// writeProblem answers with an RFC 9457 problem document, through the library's
// WriteProblem so that the app's errors look like the middleware's.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Cache-Control", "no-store")
	tenancy.WriteProblem(w, tenancy.Problem{Status: status, Detail: detail})
}

// writeJSON answers with v as JSON. Tenant data must not be cached by shared
// caches (the same URL serves every tenant): no-store.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // an error means the client went away
}

// decodeJSON reads the request body, a single JSON object, into dst. It refuses
// other media types (415), bodies over maxBodyBytes (413), malformed JSON, values
// of the wrong type, unknown fields and trailing data (400), with a message that
// says what is wrong.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errorf(http.StatusUnsupportedMediaType, "The body must be JSON (Content-Type: application/json), not %q.", ct)
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		return errorf(http.StatusBadRequest, "The body must hold a single JSON object, with nothing after it.")
	}
	return nil
}

// jsonError turns a json.Decoder error into a 400 (or 413) that says what is
// wrong, without echoing the body.
func jsonError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		mbe    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return errorf(http.StatusRequestEntityTooLarge, "The body is larger than %d bytes.", mbe.Limit)
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, "The body is empty; it must be a JSON object.")
	case errors.As(err, &syntax):
		return errorf(http.StatusBadRequest, "The body is not valid JSON (at byte %d).", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, "The body is not valid JSON (it ends too early).")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return errorf(http.StatusBadRequest, "The body must be a JSON object.")
		}
		return errorf(http.StatusBadRequest, "Field %q must be a JSON %s.", typ.Field, jsonKind(typ.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for this one.
		return errorf(http.StatusBadRequest, "Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return errorf(http.StatusBadRequest, "The body could not be read as JSON.")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	}
	return "number (an integer)"
}

// pathID parses the path parameter name as a positive id (400 otherwise).
func pathID(r *http.Request, name string) (int64, error) {
	s := r.PathValue(name)
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, errorf(http.StatusBadRequest, "The %s in the path must be a positive integer, not %q.", name, clip(s))
	}
	return id, nil
}

// queryInt parses the optional query parameter name as an integer in [lo, hi],
// or returns def when it is absent.
func queryInt(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, errorf(http.StatusBadRequest, "Query parameter %s must be an integer from %d to %d, not %q.", name, lo, hi, clip(s))
	}
	return v, nil
}

// queryBool parses the optional query parameter name as a boolean.
func queryBool(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, errorf(http.StatusBadRequest, "Query parameter %s must be true or false, not %q.", name, clip(s))
	}
	return v, nil
}

// clip shortens client input quoted in an error message, without splitting a
// UTF-8 sequence.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

// problemMux answers requests that match no route the way routes answer errors,
// as application/problem+json: 404, or 405 with the Allow header the mux sets.
// Redirects (GET /users → /users/) pass through.
func problemMux(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(&muxErrorWriter{ResponseWriter: w}, r)
	})
}

// muxErrorWriter replaces the mux's plain-text 404 and 405 with problems.
type muxErrorWriter struct {
	http.ResponseWriter
	replaced bool
}

func (m *muxErrorWriter) WriteHeader(code int) {
	switch code {
	case http.StatusNotFound:
		m.replaced = true
		writeProblem(m.ResponseWriter, code, "There is no such resource.")
	case http.StatusMethodNotAllowed:
		m.replaced = true
		writeProblem(m.ResponseWriter, code, "The resource does not support this method; see the Allow header.")
	default:
		m.ResponseWriter.WriteHeader(code)
	}
}

func (m *muxErrorWriter) Write(b []byte) (int, error) {
	if m.replaced {
		return len(b), nil // the mux's plain-text body
	}
	return m.ResponseWriter.Write(b)
}
