package tenancycli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/go-tenancy/tenancy/tenancycli"
)

// TestHelpFlagsUseDoubleDash: every command's --help shows its flags the way the
// synopses write them, "--name", never "-name".
func TestHelpFlagsUseDoubleDash(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"migrate-shared", "upgrade", "downgrade", "fleet-upgrade", "status", "force",
		"create", "drop", "list", "version"} {
		var out bytes.Buffer
		code := tenancycli.Main(context.Background(), []string{cmd, "--help"}, tenancycli.Config{Stdout: &out, Stderr: io.Discard})
		if code != tenancycli.ExitOK {
			t.Errorf("%s --help: exit %d", cmd, code)
		}
		if m := regexp.MustCompile(`(?m)^\s+-[a-z]`).FindString(out.String()); m != "" {
			t.Errorf("%s --help shows a single-dash flag (%q):\n%s", cmd, m, &out)
		}
	}
}

// brokenPipe is a Stdout whose reader has gone away.
type brokenPipe struct{ writes int }

func (b *brokenPipe) Write([]byte) (int, error) {
	b.writes++
	return 0, &os.PathError{Op: "write", Path: "|1", Err: syscall.EPIPE}
}

// TestPipelineOutput: --json for status and list, error messages without doubled
// prefixes or library advice, and a Stdout whose reader went away does not stop a
// command: its work is done and its exit code is its own.
func TestPipelineOutput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ok([]string{"migrate-shared"})
	out := f.ok([]string{"list", "--json"})
	if strings.TrimSpace(out) != "[]" {
		t.Errorf("list --json with no tenants: %q, want []", out)
	}
	f.ok([]string{"create", "Acme", "acme", "--host", "acme.localhost"})
	f.ok([]string{"create", "Globex", "globex"})

	var tenants []struct {
		ID     int64  `json:"id"`
		Name   string `json:"name"`
		Schema string `json:"schema"`
		Host   string `json:"host"`
	}
	if err := json.Unmarshal([]byte(f.ok([]string{"list", "--json"})), &tenants); err != nil {
		t.Fatalf("list --json: %v", err)
	}
	if len(tenants) != 2 || tenants[0].Schema != "acme" || tenants[0].Host != "acme.localhost" || tenants[1].Name != "Globex" {
		t.Errorf("list --json = %+v", tenants)
	}

	type st struct {
		Schema   string `json:"schema"`
		TenantID int64  `json:"tenant_id"`
		Version  uint   `json:"version"`
		Head     uint   `json:"head"`
		Pending  int    `json:"pending"`
		Dirty    bool   `json:"dirty"`
	}
	var doc struct {
		Shared  st   `json:"shared"`
		Tenants []st `json:"tenants"`
	}
	dec := json.NewDecoder(strings.NewReader(f.ok([]string{"status", "--json"})))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("status --json: %v", err)
	}
	if doc.Shared != (st{Schema: "shared", Version: 2, Head: 2}) || len(doc.Tenants) != 2 ||
		doc.Tenants[0] != (st{Schema: "acme", TenantID: tenants[0].ID, Version: 2, Head: 2}) {
		t.Errorf("status --json = %+v", doc)
	}
	f.ok([]string{"downgrade", "acme"})
	r := f.fails(1, []string{"status", "acme", "--json", "--check"}, `1 schemas are dirty or have pending migrations`)
	var one st
	if err := json.Unmarshal([]byte(r.out), &one); err != nil || one.Version != 1 || one.Pending != 1 {
		t.Errorf("status acme --json = %q (%v)", r.out, err)
	}

	// Errors: one prefix, and CLI advice rather than the Go API's.
	r = f.fails(1, []string{"create", "Acme", "acme3"})
	if strings.Count(r.errOut, "tenancy:") != 1 || !strings.HasPrefix(r.errOut, "tenancy: error: ") {
		t.Errorf("create conflict: the prefix is not said exactly once:\n%s", r.errOut)
	}
	if _, err := f.db.Shared().ExecContext(context.Background(), `UPDATE globex.schema_migrations SET dirty = true`); err != nil {
		t.Fatal(err)
	}
	r = f.fails(1, []string{"upgrade", "globex"}, `run 'tenancy force'`)
	if strings.Contains(r.errOut, "Migrator.Force") {
		t.Errorf("the CLI tells its user to call a Go method:\n%s", r.errOut)
	}
	f.ok([]string{"force", "globex", "2"})

	// A reader that went away: the command still does its work.
	var stderr bytes.Buffer
	pipe := &brokenPipe{}
	cfg := f.cfg
	cfg.Stdout, cfg.Stderr = pipe, &stderr
	code := tenancycli.Main(context.Background(), []string{"create", "Initech", "initech"}, cfg)
	if code != tenancycli.ExitOK || pipe.writes != 1 {
		t.Errorf("create with a broken stdout: exit %d after %d writes, want 0 after 1\n%s", code, pipe.writes, &stderr)
	}
	code = tenancycli.Main(context.Background(), []string{"fleet-upgrade"}, cfg)
	if code != tenancycli.ExitOK || pipe.writes != 2 {
		t.Errorf("fleet-upgrade with a broken stdout: exit %d after %d writes, want 0 after 2\n%s", code, pipe.writes, &stderr)
	}
	if v := f.version("initech"); v != 2 {
		t.Errorf("initech at %d, want 2: the command did not finish", v)
	}
	if v := f.version("acme"); v != 2 {
		t.Errorf("acme at %d after fleet-upgrade, want 2", v)
	}
}

// TestSIGPIPE runs the CLI in a child process whose stdout is a pipe nobody
// reads any more, as in `tenancy help | head -0`: without SIGPIPE handling, the
// Go runtime kills the process (exit 141 in a shell); with it, Main finishes and
// exits with its own code.
func TestSIGPIPE(t *testing.T) {
	if os.Getenv("TENANCYCLI_SIGPIPE_CHILD") == "1" {
		_, _ = io.Copy(io.Discard, os.Stdin) // wait until the parent has closed our stdout's reader
		code := tenancycli.Main(context.Background(), []string{"help"}, tenancycli.Config{Stdout: os.Stdout, Stderr: os.Stderr})
		os.Exit(code + 40) // a code of our own, to tell Main's end from any other exit
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGPIPE$")
	cmd.Env = append(os.Environ(), "TENANCYCLI_SIGPIPE_CHILD=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdout.Close() // the reader goes away before the child writes
	stdin.Close()  // now the child writes
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child: %v, want exit status 40\n%s", err, &stderr)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("child killed by %v: SIGPIPE is not handled\n%s", ws.Signal(), &stderr)
	}
	if ee.ExitCode() != 40+tenancycli.ExitOK {
		t.Fatalf("child exit %d, want %d\n%s", ee.ExitCode(), 40, &stderr)
	}
}
