package main

import (
	"context"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/tenancytest"
)

func TestMain(m *testing.M) { tenancytest.Main(m) }

// TestQuickStart runs the quick start against a fresh, empty database, twice (a
// restart finds the tenant there), and serves acme by header and by host; an
// unknown tenant is a 404.
func TestQuickStart(t *testing.T) {
	dsn := tenancytest.NewDatabase(t)
	for run := 1; run <= 2; run++ {
		db, err := tenancy.Open("postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		h, err := setup(context.Background(), db)
		if err != nil {
			db.Close()
			t.Fatalf("run %d: setup: %v", run, err)
		}
		for _, c := range []struct {
			host, tenant string
			code         int
			body         string
		}{
			{"localhost", "acme", 200, `["alice@acme.example"]`},
			{"acme.localhost", "", 200, `["alice@acme.example"]`},
			{"localhost", "globex", 404, `"Unknown tenant"`},
		} {
			req := httptest.NewRequest("GET", "http://"+c.host+"/users/", nil)
			if c.tenant != "" {
				req.Header.Set("Tenant", c.tenant)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.body) {
				t.Errorf("run %d: %s %s: %d %s, want %d with %s", run, c.host, c.tenant, rec.Code, rec.Body, c.code, c.body)
			}
		}
		db.Close()
	}
}

// TestREADMEQuickStartIsThisProgram keeps the README honest: its quick start
// is main.go verbatim, from "package main" on (the package comment aside).
func TestREADMEQuickStartIsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Quick start\n.*?```go\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no ```go block under \"## Quick start\"")
	}
	_, prog, _ := strings.Cut(string(src), "\npackage main\n")
	if string(m[1]) != "package main\n"+prog {
		t.Errorf("the README's quick start differs from examples/quickstart/main.go; paste the file into the README")
	}
}
