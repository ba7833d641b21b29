package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// accessLog logs every request once it is answered: method, path, status,
// duration. It logs with the context the handler ran with (see noteTenant), so
// the log line of a tenant-scoped request carries the tenant attribute that
// tenancy.NewLogHandler adds.
func (a *app) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		e := &logEntry{ctx: r.Context()}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), logEntryKey{}, e)))
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		a.log.LogAttrs(e.ctx, level, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Duration("duration", time.Since(start)))
	})
}

type logEntryKey struct{}

// logEntry lets a handler deep in the chain hand its context (with the tenant) to
// the access log that wraps it.
type logEntry struct{ ctx context.Context }

// noteTenant runs right after the tenant middleware: it records the request's
// context, which now names the tenant, for the access log.
func noteTenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e, ok := r.Context().Value(logEntryKey{}).(*logEntry); ok {
			e.ctx = r.Context()
		}
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status code written. Unwrap lets
// http.ResponseController reach the real writer (the migration handlers extend
// their write deadline through it).
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// requireAdmin lets a request through only with "Authorization: Bearer <admin
// token>". The comparison is constant-time, on SHA-256 digests so that it does
// not depend on the lengths either; anything else is 401.
func (a *app) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		scheme, token, ok := strings.Cut(auth, " ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" || subtle.ConstantTimeCompare(sum[:], a.adminTokenHash[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tenant admin"`)
			writeProblem(w, http.StatusUnauthorized, "The tenant admin API needs the admin token: send the header \"Authorization: Bearer TOKEN\".")
			return
		}
		next.ServeHTTP(w, r)
	})
}
