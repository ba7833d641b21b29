package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-tenancy/tenancy"
)

// config is the demo's configuration: flags, each defaulting to an environment
// variable, and secrets that come from the environment only (a flag's value is
// visible to every user in ps).
type config struct {
	addr        string // listen address
	databaseURL string // DATABASE_URL; "" starts an embedded PostgreSQL
	dataDir     string // the embedded PostgreSQL's data directory
	pgPort      int    // the embedded PostgreSQL's port; 0 picks a free one
	adminToken  string // ADMIN_TOKEN; "" generates one at start-up
	logLevel    slog.Level
	logJSON     bool
	maxConns    int    // connection pool size
	driver      string // database/sql driver: "pgx" or "postgres" (lib/pq)
}

// defaultDataDir is under the temporary directory (/tmp) rather than the home
// directory: when the demo runs as root, PostgreSQL runs as the OS user postgres,
// which cannot enter /root (mode 700) but can enter /tmp.
func defaultDataDir() string { return filepath.Join(os.TempDir(), "tenancy-demo-pgdata") }

// parseConfig parses the flags in args (up to the first non-flag argument, the
// command) with defaults from getenv, and returns the rest of args. -help prints
// the usage to out and returns flag.ErrHelp.
func parseConfig(name string, args []string, getenv func(string) string, out io.Writer) (config, []string, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	cfg := config{databaseURL: getenv("DATABASE_URL"), adminToken: getenv("ADMIN_TOKEN")}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run reports errors once, in its own words
	fs.StringVar(&cfg.addr, "addr", env("ADDR", "127.0.0.1:8080"), "HTTP listen `address` (env ADDR)")
	fs.StringVar(&cfg.dataDir, "data-dir", env("DATA_DIR", defaultDataDir()),
		"embedded PostgreSQL data `directory`, kept across restarts; unused with DATABASE_URL (env DATA_DIR)")
	pgPort := fs.String("pg-port", env("PG_PORT", "0"), "embedded PostgreSQL `port` on 127.0.0.1; 0 picks a free one (env PG_PORT)")
	maxConns := fs.String("max-conns", env("DB_MAX_CONNS", "32"), "database connection pool `size` (env DB_MAX_CONNS)")
	level := fs.String("log-level", env("LOG_LEVEL", "info"), "log `level`: debug, info, warn or error (env LOG_LEVEL)")
	format := fs.String("log-format", env("LOG_FORMAT", "text"), "log `format`: text or json (env LOG_FORMAT)")
	// pgx by default: it is the faster driver (binary results, a statement cache
	// that makes a parameterised query one round trip, BENCHMARKS.md) and what
	// most Go PostgreSQL code uses; lib/pq stays supported.
	fs.StringVar(&cfg.driver, "driver", env("DATABASE_DRIVER", "pgx"), "database `driver`: pgx or postgres (lib/pq) (env DATABASE_DRIVER)")
	fs.Usage = func() { usage(out, fs) }

	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fs.Usage()
		}
		return cfg, nil, err
	}
	var err error
	if cfg.pgPort, err = strconv.Atoi(*pgPort); err != nil || cfg.pgPort < 0 || cfg.pgPort > 65535 {
		return cfg, nil, fmt.Errorf("-pg-port / PG_PORT: %q is not a port number", *pgPort)
	}
	if cfg.maxConns, err = strconv.Atoi(*maxConns); err != nil || cfg.maxConns < 2 {
		// The fleet upgrade needs two connections: one for its lock, one to migrate.
		return cfg, nil, fmt.Errorf("-max-conns / DB_MAX_CONNS: %q is not a number of at least 2", *maxConns)
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return cfg, nil, fmt.Errorf("-log-level / LOG_LEVEL: %q is not debug, info, warn or error", *level)
	}
	switch strings.ToLower(*format) {
	case "text":
	case "json":
		cfg.logJSON = true
	default:
		return cfg, nil, fmt.Errorf("-log-format / LOG_FORMAT: %q is not text or json", *format)
	}
	if cfg.dataDir == "" {
		return cfg, nil, fmt.Errorf("-data-dir / DATA_DIR is empty")
	}
	if cfg.driver != "pgx" && cfg.driver != "postgres" {
		return cfg, nil, fmt.Errorf("-driver / DATABASE_DRIVER: %q is not pgx or postgres", cfg.driver)
	}
	return cfg, fs.Args(), nil
}

func usage(w io.Writer, fs *flag.FlagSet) {
	n := fs.Name()
	fmt.Fprintf(w, `usage: %[1]s [flags] [serve]            run the demo server
       %[1]s [flags] <command> [args]   run a migration command ('%[1]s help' lists them)

The demo of github.com/go-tenancy/tenancy: a tenant-scoped users/roles/permissions
API, a tenant admin API and the migration CLI. Without DATABASE_URL it starts an
embedded PostgreSQL from the local binaries (data in -data-dir); the migration
commands use the same database, also while the server runs.

flags:
`, n)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprint(w, `
environment:
  DATABASE_URL   PostgreSQL URL, e.g. postgres://user:pw@host:5432/db?sslmode=disable;
                 unset: the embedded PostgreSQL
  ADMIN_TOKEN    bearer token of the tenant admin API; unset: a random one is printed
`)
}

// newLogger returns the demo's logger. tenancy.NewLogHandler adds a "tenant"
// attribute to every record logged with a context that carries a tenant: log with
// the *Context methods and the request's context.
func newLogger(w io.Writer, cfg config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	var h slog.Handler
	if cfg.logJSON {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(tenancy.NewLogHandler(h))
}
