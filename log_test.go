package tenancy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// logOpts drops the time, so that outputs can be compared byte for byte.
var logOpts = &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}}

func logTenantCtx() context.Context { return newContextPtr(context.Background(), mwAcme) }

const logTenantJSON = `"tenant":{"id":7,"name":"Acme","schema":"acme"}`

func decodeLogLine(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("log line %s: %v", b, err)
	}
	return m
}

func TestLogHandlerAddsTenant(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(NewLogHandler(slog.NewJSONHandler(&buf, logOpts)))

	logger.InfoContext(logTenantCtx(), "hello", "a", 1)
	want := `{"level":"INFO","msg":"hello",` + logTenantJSON + `,"a":1}` + "\n"
	if buf.String() != want {
		t.Errorf("got  %s\nwant %s", buf.String(), want)
	}

	// A group that turns out empty does not break the line.
	buf.Reset()
	logger.InfoContext(logTenantCtx(), "hello", slog.Group("g", slog.Attr{}))
	want = `{"level":"INFO","msg":"hello",` + logTenantJSON + "}\n"
	if buf.String() != want {
		t.Errorf("got  %s\nwant %s", buf.String(), want)
	}

	for name, ctx := range map[string]context.Context{
		"no context":    nil,
		"no tenant":     context.Background(),
		"shared schema": context.WithValue(context.Background(), scopeKey, &scope{schema: "shared"}),
	} {
		buf.Reset()
		if ctx == nil {
			logger.Info("hello", "a", 1)
		} else {
			logger.InfoContext(ctx, "hello", "a", 1)
		}
		if want := `{"level":"INFO","msg":"hello","a":1}` + "\n"; buf.String() != want {
			t.Errorf("%s: got %s, want %s", name, buf.String(), want)
		}
	}
}

func TestLogHandlerEnabled(t *testing.T) {
	var buf bytes.Buffer
	h := NewLogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, h := range []slog.Handler{h, h.WithAttrs([]slog.Attr{slog.Int("a", 1)}), h.WithGroup("g")} {
		if h.Enabled(logTenantCtx(), slog.LevelInfo) || !h.Enabled(logTenantCtx(), slog.LevelWarn) {
			t.Errorf("%T: Enabled does not follow the wrapped handler", h)
		}
		slog.New(h).InfoContext(logTenantCtx(), "dropped")
	}
	if buf.Len() != 0 {
		t.Errorf("a disabled level was logged: %s", buf.String())
	}
}

// TestLogHandlerGroups checks that, for any sequence of With and WithGroup, the
// wrapped handler writes what the plain one does, plus a top-level tenant when the
// context carries one.
func TestLogHandlerGroups(t *testing.T) {
	type step struct {
		group string // WithGroup(group) if not empty, else With(attrs...)
		attrs []any
	}
	sequences := map[string][]step{
		"none":              nil,
		"attrs":             {{attrs: []any{"a", 1}}},
		"group":             {{group: "g"}},
		"group attrs":       {{group: "g"}, {attrs: []any{"a", 1}}},
		"empty groups":      {{group: "g"}, {group: "h"}},
		"empty inner group": {{group: "g"}, {attrs: []any{"a", 1}}, {group: "h"}},
		"empty group name":  {{attrs: []any{"a", 1}}, {group: ""}, {attrs: []any{"b", 2}}},
		"nested": {{attrs: []any{"a", 1}}, {group: "g"}, {attrs: []any{"b", 2}}, {attrs: []any{"b2", "x"}},
			{group: "h"}, {attrs: []any{"c", slog.GroupValue(slog.Int("d", 4))}}},
		"same names": {{group: "tenant"}, {attrs: []any{"tenant", "attr"}}},
	}
	records := map[string][]any{
		"no attrs":     nil,
		"attrs":        {"x", 1, "y", "two"},
		"many attrs":   {"x1", 1, "x2", 2, "x3", 3, "x4", 4, "x5", 5, "x6", 6, "x7", 7},
		"group attr":   {slog.Group("req", "method", "GET", "path", "/"), "ok", true},
		"empty group":  {slog.Group("req")},
		"log valuer":   {"t", Tenant{ID: 1, Name: "N", Schema: "s"}},
		"empty key":    {slog.Attr{}},
		"inline group": {slog.Attr{Value: slog.GroupValue(slog.Int("inl", 1))}},
	}
	for sname, seq := range sequences {
		for rname, rec := range records {
			t.Run(sname+"/"+rname, func(t *testing.T) {
				var plainBuf, wrapBuf bytes.Buffer
				plain := slog.New(slog.NewJSONHandler(&plainBuf, logOpts))
				wrapped := slog.New(NewLogHandler(slog.NewJSONHandler(&wrapBuf, logOpts)))
				for _, s := range seq {
					if s.group != "" || s.attrs == nil {
						plain, wrapped = plain.WithGroup(s.group), wrapped.WithGroup(s.group)
					} else {
						plain, wrapped = plain.With(s.attrs...), wrapped.With(s.attrs...)
					}
				}

				// Without a tenant: the same bytes.
				plain.InfoContext(context.Background(), "m", rec...)
				wrapped.InfoContext(context.Background(), "m", rec...)
				if plainBuf.String() != wrapBuf.String() {
					t.Errorf("without tenant:\ngot  %s\nwant %s", wrapBuf.String(), plainBuf.String())
				}

				// With a tenant: the same plus the tenant, at the top level.
				want := plainBuf.String()
				plainBuf.Reset()
				wrapBuf.Reset()
				wrapped.InfoContext(logTenantCtx(), "m", rec...)
				got := wrapBuf.String()
				wantTenant := map[string]any{"id": 7.0, "name": "Acme", "schema": "acme"}
				if sname == "same names" { // a group "tenant" follows; JSON keeps the last key
					if !strings.HasPrefix(got, `{"level":"INFO","msg":"m",`+logTenantJSON+`,"tenant":{"tenant":"attr"`) {
						t.Errorf("no top-level tenant: %s", got)
					}
				} else if m := decodeLogLine(t, []byte(got)); !reflect.DeepEqual(m["tenant"], wantTenant) {
					t.Errorf("no top-level tenant: %s", got)
				}
				stripped := strings.Replace(got, ","+logTenantJSON, "", 1)
				if stripped == want {
					return
				}
				// The attributes after a group may be formatted in a different
				// order only if the JSON says the same.
				if !reflect.DeepEqual(decodeLogLine(t, []byte(stripped)), decodeLogLine(t, []byte(want))) {
					t.Errorf("with tenant:\ngot  %s\nwant %s + tenant", got, want)
				}
			})
		}
	}
}

func TestLogHandlerDoesNotModifySharedRecord(t *testing.T) {
	var b1, b2 bytes.Buffer
	h1 := NewLogHandler(slog.NewJSONHandler(&b1, logOpts))
	h2 := NewLogHandler(slog.NewJSONHandler(&b2, logOpts)).WithGroup("g")
	// More attributes than a Record holds inline, so that it has a backing slice.
	r := slog.NewRecord(mwAcme.CreatedAt, slog.LevelInfo, "m", 0)
	for i := range 8 {
		r.AddAttrs(slog.Int(fmt.Sprint("a", i), i))
	}
	ctx := logTenantCtx()
	for _, h := range []slog.Handler{h1, h2, h1} {
		if err := h.Handle(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if r.NumAttrs() != 8 {
		t.Errorf("record has %d attributes, want 8", r.NumAttrs())
	}
	lines := strings.Split(strings.TrimSpace(b1.String()), "\n")
	if len(lines) != 2 || lines[0] != lines[1] || strings.Count(lines[0], `"tenant"`) != 1 {
		t.Errorf("outputs differ or repeat the tenant:\n%s", b1.String())
	}
	if strings.Count(b2.String(), `"tenant"`) != 1 || !strings.Contains(b2.String(), `"g":{"a0":0,`) {
		t.Errorf("grouped output: %s", b2.String())
	}
}

func TestLogHandlerConcurrent(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	})
	base := slog.New(NewLogHandler(slog.NewJSONHandler(w, logOpts))).With("svc", "x").WithGroup("g")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := base.With("i", i)
			for j := range 50 {
				l.WithGroup("h").With("j", j).InfoContext(logTenantCtx(), "m", "k", j)
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		m := decodeLogLine(t, []byte(l))
		g, _ := m["g"].(map[string]any)
		h, _ := g["h"].(map[string]any)
		if m["tenant"] == nil || m["svc"] != "x" || g["i"] == nil || h["j"] != h["k"] {
			t.Fatalf("bad line %s", l)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestNewLogHandlerNilPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	NewLogHandler(nil)
}
