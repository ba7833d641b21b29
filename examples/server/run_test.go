package main

// Tests of the whole program in-process: run with flags and environment, serving
// on a random port until its context is cancelled (what SIGINT does), and the
// migration CLI dispatch.

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-tenancy/tenancy/tenancytest"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func getenv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// startRun runs the server in a goroutine and returns its API address, read
// from the banner (the signal that it is serving), the banner, and a function
// that stops it as SIGINT would and returns its exit code.
func startRun(t *testing.T, vars map[string]string) (base, banner string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"-addr", "127.0.0.1:0", "-log-level", "warn"}, getenv(vars), streams{out: pw, err: stderr})
		pw.Close()
		done <- code
	}()
	// Read the banner up to its last line; then drain the rest in the background.
	var b strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		b.WriteString(line + "\n")
		if f := strings.Fields(line); len(f) == 2 && f[0] == "API" {
			base = f[1]
		}
		if strings.HasPrefix(line, "Ctrl-C stops the server") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if base == "" {
		cancel()
		t.Fatalf("no API address in the banner; exit code %d\nstdout:\n%s\nstderr:\n%s", <-done, b.String(), stderr)
	}
	stopped := false
	stop = func() int {
		if stopped {
			t.Fatal("stop called twice")
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Logf("stderr:\n%s", stderr)
			}
			return code
		case <-time.After(time.Minute):
			t.Fatal("the server did not stop within a minute of its context being cancelled")
			return -1
		}
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	return base, b.String(), stop
}

func get(t *testing.T, url, tenant string) (int, string) {
	t.Helper()
	r, err := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tenant != "" {
		r.Header.Set("Tenant", tenant)
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestRunServeRestartAndCLI(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"DATABASE_URL": tenancytest.NewDatabase(t), "ADMIN_TOKEN": "s3cret"}

	// First start: a fresh database gets the demo tenants.
	base, banner, stop := startRun(t, vars)
	for _, want := range []string{"[created just now]", "acme (acme.localhost)", "globex (globex.localhost)",
		"Admin token   s3cret  (from ADMIN_TOKEN)", "curl -s " + base + "/users/ -H 'tenant: acme'"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	if code, body := get(t, base+"/health", ""); code != 200 {
		t.Errorf("GET /health: %d %s", code, body)
	}
	if code, body := get(t, base+"/users/", "acme"); code != 200 || !strings.Contains(body, "carol@acme.example") {
		t.Errorf("GET /users/ (acme): %d %s", code, body)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d after cancellation, want 0", code)
	}
	if _, err := http.Get(base + "/health"); err == nil {
		t.Error("the server still answers after it stopped")
	}

	// The CLI, on the same database.
	var out, errOut syncBuffer
	if code := run(context.Background(), []string{"status"}, getenv(vars), streams{out: &out, err: &errOut}); code != 0 {
		t.Fatalf("status: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"SCHEMA", "shared", "acme", "globex", "2 tenants"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, out.String())
		}
	}
	out = syncBuffer{}
	if code := run(context.Background(), []string{"downgrade", "globex"}, getenv(vars), streams{out: &out, err: &errOut}); code != 0 ||
		!strings.Contains(out.String(), `schema "globex": version 2 -> 1`) {
		t.Fatalf("downgrade: exit %d\n%s%s", code, out.String(), errOut.String())
	}

	// Second start: the data is reused, nothing is seeded again.
	base, banner, stop = startRun(t, vars)
	if !strings.Contains(banner, "[found in the database]") {
		t.Errorf("second start's banner:\n%s", banner)
	}
	if code, body := get(t, base+"/users/", "globex"); code != 200 || strings.Count(body, `"email"`) != 2 {
		t.Errorf("GET /users/ (globex) after restart: %d %s", code, body)
	}
	if code := stop(); code != 0 {
		t.Fatalf("second run: exit code %d", code)
	}
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args       []string
		code       int
		out, errIn string
	}{
		{[]string{"-help"}, 0, "DATABASE_URL", ""},
		{[]string{"help"}, 0, "fleet-upgrade", ""},
		{[]string{"upgrade", "--help"}, 0, "--dry-run", ""},
		{[]string{"bogus"}, 2, "", `unknown command "bogus"`},
		{[]string{"-addr"}, 2, "", "flag needs an argument"},
		{[]string{"-max-conns", "1"}, 2, "", "at least 2"},
		{[]string{"-log-level", "loud"}, 2, "", "LOG_LEVEL"},
		{[]string{"serve", "now"}, 2, "", "serve takes no arguments"},
	}
	for _, tc := range cases {
		var out, errOut syncBuffer
		code := run(context.Background(), tc.args, getenv(nil), streams{out: &out, err: &errOut})
		if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errOut.String(), tc.errIn) {
			t.Errorf("run %q: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout with %q, stderr with %q",
				tc.args, code, tc.code, out.String(), errOut.String(), tc.out, tc.errIn)
		}
	}
}
