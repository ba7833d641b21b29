package tenancy

import (
	"context"
	"log/slog"
	"slices"
)

// NewLogHandler returns a [slog.Handler] that passes every record to h, adding a
// "tenant" attribute when the record is logged with a context that carries a
// tenant (the context given to Logger.InfoContext and the other *Context
// methods, such as a request's context behind the [Middleware]). The attribute is
// the tenant's [Tenant.LogValue]: a group of its id, name and schema, which a JSON
// handler writes as
//
//	"tenant":{"id":7,"name":"Acme","schema":"acme"}
//
// The tenant attribute always sits at the top level, ahead of the attributes
// logged with the record (and after those added by Logger.With before any
// group), even in a logger derived with WithGroup: its key is "tenant" however
// the logger is grouped, so that log queries find it in one place. Records
// logged without a tenant in their context are passed on as they are, at no
// cost; a record with a tenant is copied (the record given to Handle is never
// modified), which may allocate.
//
// The returned handler is enabled exactly when h is, and supports WithAttrs and
// WithGroup with the usual semantics. It is safe for concurrent use if h is.
// NewLogHandler panics if h is nil.
//
// For example:
//
//	logger := slog.New(tenancy.NewLogHandler(slog.NewJSONHandler(os.Stderr, nil)))
//	logger.InfoContext(r.Context(), "order placed", "order", id)
func NewLogHandler(h slog.Handler) slog.Handler {
	if h == nil {
		panic("tenancy: NewLogHandler: nil handler")
	}
	return &logHandler{base: h, full: h}
}

// logHandler adds the tenant attribute. Once WithGroup has been called, the
// wrapped handler would qualify every record attribute (the tenant's too) with
// the group, so the groups and the attributes added inside them are kept here as
// well: a record with a tenant is rebuilt with the groups as nested Group
// attributes next to a top-level tenant attribute, and given to base. Records
// without a tenant take the fast path through full, which has the groups and
// their attributes applied (and preformatted) the usual way.
type logHandler struct {
	base   slog.Handler // the wrapped handler with the attributes added before the first group
	full   slog.Handler // base with every later WithGroup and WithAttrs applied
	groups []logGroup   // the groups opened on base, outermost first
}

// logGroup is one WithGroup and the attributes added inside it (before the next
// WithGroup).
type logGroup struct {
	name  string
	attrs []slog.Attr
}

var _ slog.Handler = (*logHandler)(nil)

// Enabled reports whether the wrapped handler is enabled for level.
func (l *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.full.Enabled(ctx, level)
}

// Handle adds the tenant attribute, if ctx carries a tenant, and passes the record
// on.
func (l *logHandler) Handle(ctx context.Context, r slog.Record) error {
	var t *Tenant
	if ctx != nil {
		if s := scopeFrom(ctx); s != nil {
			t = s.tenant
		}
	}
	if t == nil {
		return l.full.Handle(ctx, r)
	}
	// A new record, with the tenant first: ahead of the record's attributes, a
	// group of which may turn out empty (all its attributes zero or removed by
	// ReplaceAttr), which the standard handlers mishandle when an attribute
	// follows it (the separator is lost).
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	nr.AddAttrs(slog.Attr{Key: "tenant", Value: t.LogValue()})
	if len(l.groups) == 0 {
		r.Attrs(func(a slog.Attr) bool {
			nr.AddAttrs(a)
			return true
		})
		return l.base.Handle(ctx, nr)
	}
	// Nest the record's attributes in the open groups, innermost first.
	attrs := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	for i := len(l.groups) - 1; i >= 0; i-- {
		g := l.groups[i]
		attrs = []slog.Attr{{Key: g.name, Value: slog.GroupValue(slices.Concat(g.attrs, attrs)...)}}
	}
	nr.AddAttrs(attrs[0])
	return l.base.Handle(ctx, nr)
}

// WithAttrs returns a handler whose records also carry as (in the groups open
// now).
func (l *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return l
	}
	if len(l.groups) == 0 {
		h := l.base.WithAttrs(as)
		return &logHandler{base: h, full: h}
	}
	groups := slices.Clone(l.groups)
	last := &groups[len(groups)-1]
	last.attrs = slices.Concat(last.attrs, as) // a new array: l's stays as it is
	return &logHandler{base: l.base, full: l.full.WithAttrs(as), groups: groups}
}

// WithGroup returns a handler that qualifies later attributes with name.
func (l *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return l // as slog specifies: an empty name opens no group
	}
	groups := append(slices.Clip(l.groups), logGroup{name: name})
	return &logHandler{base: l.base, full: l.full.WithGroup(name), groups: groups}
}
