package tenancycli_test

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
	"github.com/go-tenancy/tenancy/tenancycli"
	"github.com/go-tenancy/tenancy/tenancytest"
)

func TestMain(m *testing.M) { tenancytest.Main(m) }

// fixture is a Migrator on a fresh database (nothing migrated yet).
type fixture struct {
	t   *testing.T
	db  *tenancy.DB
	cfg tenancycli.Config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return fixtureAt(t, tenancytest.NewDatabase(t))
}

// fixtureAt is newFixture on the database dsn.
func fixtureAt(t *testing.T, dsn string) *fixture {
	t.Helper()
	db, err := tenancy.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg, err := tenancy.NewRegistry(db)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tenancy.NewMigrator(db, reg, migrations.Shared, migrations.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, db: db, cfg: tenancycli.Config{Migrator: m, Registry: reg, Name: "tenancy", Progress: tenancycli.ProgressLines}}
}

type result struct {
	code        int
	out, errOut string
}

// run runs the CLI with stdin (nil: none) and returns its exit code and output.
func (f *fixture) run(stdin io.Reader, args ...string) result {
	f.t.Helper()
	var out, errOut bytes.Buffer
	cfg := f.cfg
	cfg.Stdout, cfg.Stderr, cfg.Stdin = &out, &errOut, stdin
	code := tenancycli.Main(context.Background(), args, cfg)
	return result{code, out.String(), errOut.String()}
}

// ok runs the CLI and fails the test unless it exits 0 and its stdout matches
// every pattern.
func (f *fixture) ok(args []string, patterns ...string) string {
	f.t.Helper()
	r := f.run(nil, args...)
	if r.code != tenancycli.ExitOK {
		f.t.Fatalf("%q: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", args, r.code, r.out, r.errOut)
	}
	matchAll(f.t, args, r.out, patterns)
	return r.out
}

// fails runs the CLI and fails the test unless it exits with code and its stderr
// matches every pattern.
func (f *fixture) fails(code int, args []string, patterns ...string) result {
	f.t.Helper()
	r := f.run(nil, args...)
	if r.code != code {
		f.t.Fatalf("%q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, r.code, code, r.out, r.errOut)
	}
	matchAll(f.t, args, r.errOut, patterns)
	return r
}

func matchAll(t *testing.T, args []string, s string, patterns []string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(s) {
			t.Errorf("%q: output does not match %q:\n%s", args, p, s)
		}
	}
}

func (f *fixture) version(schema string) uint {
	f.t.Helper()
	st, err := f.cfg.Migrator.Status(context.Background(), schema)
	if err != nil {
		f.t.Fatal(err)
	}
	return st.Version
}

// Usage errors and help need no database: Main answers them with a nil
// Migrator.
func TestUsage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args   []string
		code   int
		stdout string // pattern
		stderr string // pattern
	}{
		{nil, 2, `^$`, `(?s)usage: tenancy <command>.*fleet-upgrade`},
		{[]string{"help"}, 0, `(?s)usage: tenancy <command>.*migrate-shared.*Exit codes: 0 ok, 1 failure`, `^$`},
		{[]string{"--help"}, 0, `commands:`, `^$`},
		{[]string{"help", "drop"}, 0, `(?s)usage: tenancy drop <schema> \[--yes\].*\n  --yes\n`, `^$`},
		{[]string{"help", "nope"}, 2, `^$`, `unknown command "nope"`},
		{[]string{"nope"}, 2, `^$`, `(?s)unknown command "nope".*tenancy help`},
		{[]string{"upgrade", "--help"}, 0, `(?s)usage: tenancy upgrade <schema>.*\n  --dry-run\n.*\n  --version version\n`, `^$`},
		{[]string{"fleet-upgrade", "-h"}, 0, `(?s)\n  --concurrency int\n.*\n  --tenants schemas\n`, `^$`},
		{[]string{"status", "acme", "--help"}, 0, `(?s)\[--json\].*\n  --check\n.*\n  --json\n`, `^$`},
		{[]string{"list", "--help"}, 0, `\n  --json\n`, `^$`},
		{[]string{"version"}, 0, `^tenancy \S+ \(go1\.\d+`, `^$`},
		{[]string{"version", "--json"}, 0, `^\{\n  "tenancy": "[^"]+",\n  "go": "go1`, `^$`},
		{[]string{"help"}, 0, `\n  version `, `^$`},
		{[]string{"upgrade"}, 2, `^$`, `(?s)missing arguments.*tenancy upgrade --help`},
		{[]string{"upgrade", "a", "b"}, 2, `^$`, `unexpected argument "b"`},
		{[]string{"upgrade", "acme", "--bogus"}, 2, `^$`, `flag provided but not defined: --bogus`},
		{[]string{"upgrade", "acme", "--version", "-1"}, 2, `^$`, `invalid value "-1" for flag --version`},
		{[]string{"upgrade", "acme", "--version"}, 2, `^$`, `flag needs an argument`},
		{[]string{"create", "Acme"}, 2, `^$`, `missing arguments`},
		{[]string{"force", "acme"}, 2, `^$`, `missing arguments`},
		{[]string{"list", "x"}, 2, `^$`, `unexpected argument "x"`},
		{[]string{"migrate-shared", "--yes"}, 2, `^$`, `not defined: --yes`},
	}
	for _, tc := range cases {
		var out, errOut bytes.Buffer
		code := tenancycli.Main(context.Background(), tc.args, tenancycli.Config{Stdout: &out, Stderr: &errOut, Name: "tenancy"})
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, tc.code, &out, &errOut)
			continue
		}
		matchAll(t, tc.args, out.String(), []string{tc.stdout})
		matchAll(t, tc.args, errOut.String(), []string{tc.stderr})
	}
}

func TestIsCommand(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"migrate-shared", "upgrade", "downgrade", "fleet-upgrade", "status", "force", "create", "drop", "list", "help"} {
		if !tenancycli.IsCommand(c) {
			t.Errorf("IsCommand(%q) = false", c)
		}
	}
	for _, c := range []string{"", "serve", "-h", "Upgrade"} {
		if tenancycli.IsCommand(c) {
			t.Errorf("IsCommand(%q) = true", c)
		}
	}
}

// The migration workflow, end to end, against a real database.
func TestWorkflow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	// Before migrate-shared there is no registry: the error says what to do.
	f.fails(1, []string{"list"}, `error: .*does not exist`, `hint: .*tenancy migrate-shared`)
	f.ok([]string{"migrate-shared"}, `schema "shared": version 0 -> 2 \(ran 1, 2\)`)
	f.ok([]string{"migrate-shared"}, `schema "shared": at version 2, nothing to do`)

	f.ok([]string{"create", "Acme Corp", "acme", "--host", "Acme.localhost"},
		`created tenant "Acme Corp" \(id 1\): schema acme, host acme.localhost, version 2`)
	f.ok([]string{"create", "--host=globex.localhost", "Globex", "globex"}, `\(id 2\): schema globex`)
	f.fails(1, []string{"create", "Acme Corp", "acme2"}, `name "Acme Corp" is taken`)
	f.fails(1, []string{"create", "Other", "Bad-Schema"}, `invalid schema name "Bad-Schema": it has upper-case letters`)
	f.ok([]string{"list"}, `(?m)^ID +SCHEMA +NAME +HOST +CREATED$`, `(?m)^1 +acme +Acme Corp +acme\.localhost +\d{4}-`,
		`(?m)^2 +globex +Globex +globex\.localhost`, `2 tenants`)

	f.ok([]string{"status"}, `(?m)^SCHEMA +TENANT +VERSION +HEAD +PENDING +DIRTY$`, `(?m)^shared +\(shared\) +2 +2 +0 +no$`,
		`(?m)^acme +1 +2 +2 +0 +no$`, `(?m)^globex +2 +2 +2 +0 +no$`)
	f.ok([]string{"status", "acme", "--check"}, `(?m)^version +2$`, `(?m)^tenant id +1$`, `(?m)^dirty +no$`)
	f.fails(1, []string{"status", "nope"}, `unknown tenant`, `hint: 'tenancy list'`)

	// Downgrade: dry run first (nothing changes), then for real.
	f.ok([]string{"downgrade", "acme", "--dry-run"},
		`version 2 -> 1, 1 migration\(s\) would run \(dry run: nothing was changed\)`,
		`-- migration 2 users_name_index \(down\)\nDROP INDEX users_last_first_name_idx;`)
	if v := f.version("acme"); v != 2 {
		t.Fatalf("acme at %d after a dry run, want 2", v)
	}
	f.ok([]string{"downgrade", "acme"}, `schema "acme": version 2 -> 1 \(ran 2\)`)
	f.fails(2, []string{"downgrade", "acme", "--steps", "0"}, `--steps must be at least 1`)
	f.fails(1, []string{"downgrade", "acme", "--steps", "3"}, `cannot revert 3 migrations: only 1 are applied`)
	r := f.fails(1, []string{"status", "--check"}, `1 schemas are dirty or have pending migrations`)
	matchAll(t, nil, r.out, []string{`(?m)^acme +1 +1 +2 +1 +no$`})

	// Upgrade: the dry run prints the SQL and changes nothing.
	f.ok([]string{"upgrade", "--dry-run", "acme"}, `version 1 -> 2`, `CREATE INDEX users_last_first_name_idx ON users`)
	if v := f.version("acme"); v != 1 {
		t.Fatalf("acme at %d after a dry run, want 1", v)
	}
	f.fails(1, []string{"upgrade", "acme", "--version", "9"}, `9 is not a tenant migration`)
	f.ok([]string{"upgrade", "acme", "--version", "2"}, `version 1 -> 2 \(ran 2\)`)
	f.ok([]string{"upgrade", "acme"}, `at version 2, nothing to do`)
	// An upgrade never reverts, not even in a dry run.
	f.ok([]string{"upgrade", "acme", "--version", "1", "--dry-run"}, `at version 2, nothing to do \(dry run\)`)
	f.ok([]string{"upgrade", "acme", "--version", "1"}, `at version 2, nothing to do`)

	// Fleet upgrade: acme behind, globex at head.
	f.ok([]string{"downgrade", "acme"})
	out := f.ok([]string{"fleet-upgrade", "--concurrency", "2"},
		`(?m)^\[\d/2\] acme: upgraded 1 -> 2 in `, `(?m)^\[\d/2\] globex: skipped \(at version 2\)$`,
		`(?m)^SCHEMA +FROM +TO +RESULT +DURATION +ERROR$`, `(?m)^acme +1 +2 +upgraded +\S+ *$`, `(?m)^globex +2 +2 +skipped +- *$`,
		`fleet upgrade: 1 upgraded, 1 skipped, 0 failed, 0 not run`)
	if strings.Contains(out, "\r") {
		t.Errorf("ProgressLines output has carriage returns:\n%q", out)
	}
	f.ok([]string{"status", "--check"})
	f.fails(2, []string{"fleet-upgrade", "--tenants", " , "}, `--tenants names no schema`)
	f.fails(2, []string{"fleet-upgrade", "--concurrency", "-1"}, `must not be negative`)

	// A dirty tenant: the fleet run fails for it (exit 1) and not for the others;
	// force is the way out.
	if _, err := f.db.Shared().ExecContext(context.Background(), `UPDATE globex.schema_migrations SET dirty = true`); err != nil {
		t.Fatal(err)
	}
	f.ok([]string{"downgrade", "acme"})
	r = f.fails(1, []string{"fleet-upgrade"}, `1 of 2 tenants failed`, `hint: dirty tenants need a repair by hand`)
	matchAll(t, nil, r.out, []string{`(?m)^acme +1 +2 +upgraded `, `(?m)^globex +2 +2 +FAILED +- +.*dirty`,
		`1 upgraded, 0 skipped, 1 failed`})
	f.fails(1, []string{"upgrade", "globex"}, `dirty`, `hint: .*tenancy force globex <version>`)
	f.fails(1, []string{"status", "--check"})
	f.fails(2, []string{"force", "globex", "two"}, `version "two" is not a migration version`)
	f.fails(1, []string{"force", "globex", "7"}, `7 is not a tenant migration`)
	f.ok([]string{"force", "globex", "2"}, `schema "globex": version set to 2, dirty flag cleared`)
	f.ok([]string{"status", "--check"})
	f.ok([]string{"force", "acme", "-1"}, `version set to 0`) // golang-migrate's "nothing applied"
	if v := f.version("acme"); v != 0 {
		t.Errorf("acme at %d after force -1, want 0", v)
	}

	// Drop: confirmation by typing the schema name, or --yes.
	r = f.run(strings.NewReader("acme2\n"), "drop", "acme")
	if r.code != 1 || !strings.Contains(r.errOut, "not confirmed: nothing was dropped") || !strings.Contains(r.out, `tenant "Acme Corp"`) {
		t.Errorf("drop, wrong confirmation: %+v", r)
	}
	f.fails(2, []string{"drop", "acme"}, `refusing to drop "acme" without --yes`)
	f.fails(1, []string{"drop", "nope", "--yes"}, `unknown tenant`)
	r = f.run(strings.NewReader("acme\n"), "drop", "acme")
	if r.code != 0 || !strings.Contains(r.out, "dropped tenant schema acme") {
		t.Errorf("drop, confirmed: %+v", r)
	}
	f.ok([]string{"drop", "globex", "--yes"}, `dropped tenant schema globex`)
	f.ok([]string{"list"}, `0 tenants`)
	f.ok([]string{"fleet-upgrade"}, `0 upgraded, 0 skipped, 0 failed, 0 not run`)
}

// On a terminal (forced here) fleet-upgrade redraws one progress line, and
// failures scroll up above it.
func TestFleetProgressBar(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ok([]string{"migrate-shared"})
	for _, s := range []string{"a1", "a2", "a3"} {
		f.ok([]string{"create", s, s})
	}
	f.cfg.Progress = tenancycli.ProgressBar
	r := f.run(nil, "fleet-upgrade", "--tenants", "a1,a2,nope")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (nope is not a tenant)\n%s%s", r.code, r.out, r.errOut)
	}
	matchAll(t, nil, r.out, []string{
		`\r\x1b\[K\[#{30}\] 3/3  ok 2  failed 1 `, // the last redraw: complete
		`FAILED nope: .*unknown tenant\n`,         // a failure, on a line of its own
		`(?m)^SCHEMA +FROM`,                       // the table, after the bar's line ended
	})
	if strings.Contains(r.out, "[1/3]") {
		t.Errorf("bar mode printed progress lines:\n%q", r.out)
	}

	f.cfg.Progress = tenancycli.ProgressNone
	r = f.run(nil, "fleet-upgrade")
	if r.code != 0 || strings.Contains(r.out, "\r") || strings.Contains(r.out, "[1/3]") || !strings.Contains(r.out, "3 skipped") {
		t.Errorf("ProgressNone: exit %d\n%q", r.code, r.out)
	}
}

func TestCancelled(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ok([]string{"migrate-shared"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	cfg := f.cfg
	cfg.Stdout, cfg.Stderr = &out, &errOut
	if code := tenancycli.Main(ctx, []string{"create", "Late", "late"}, cfg); code != tenancycli.ExitFailure {
		t.Errorf("create with a cancelled context: exit %d, want 1\n%s", code, &errOut)
	}
	if !strings.Contains(errOut.String(), "context canceled") {
		t.Errorf("stderr: %s", &errOut)
	}
	f.ok([]string{"list"}, `0 tenants`)
}
