package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/go-tenancy/tenancy/tenancycli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default behaviour: a second Ctrl-C
	// ends the process at once (the embedded PostgreSQL still stops: it gets
	// SIGQUIT when its parent dies).
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Getenv, streams{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}

// streams are the process's standard streams, passed in so that tests can
// capture them.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// run is the whole program: it returns the exit status instead of exiting, and
// takes its inputs as arguments, so that tests can run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, std streams) int {
	name := filepath.Base(os.Args[0])
	cfg, rest, err := parseConfig(name, args, getenv, std.out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return tenancycli.ExitOK
	case err != nil:
		fmt.Fprintf(std.err, "%[1]s: %[2]v\nRun '%[1]s -help' for usage.\n", name, err)
		return tenancycli.ExitUsage
	}
	logger := newLogger(std.err, cfg)

	if len(rest) == 0 || rest[0] == "serve" {
		if len(rest) > 1 {
			fmt.Fprintf(std.err, "%s: serve takes no arguments, got %q\n", name, rest[1:])
			return tenancycli.ExitUsage
		}
		if err := serve(ctx, cfg, logger, std.out); err != nil {
			logger.ErrorContext(ctx, "server failed", "err", err)
			return tenancycli.ExitFailure
		}
		return tenancycli.ExitOK
	}
	if !tenancycli.IsCommand(rest[0]) {
		fmt.Fprintf(std.err, "%s: unknown command %q\nRun '%s -help' for usage, '%s help' for the migration commands.\n",
			name, rest[0], name, name)
		return tenancycli.ExitUsage
	}
	return runCLI(ctx, cfg, name, rest, std)
}

// runCLI runs a migration command of package tenancycli against the demo's
// database: DATABASE_URL, or the embedded PostgreSQL in -data-dir (the one a
// running demo server started, or one started for the duration of the command).
func runCLI(ctx context.Context, cfg config, name string, args []string, std streams) int {
	// Help needs no database.
	if args[0] == "help" || wantsHelp(args[1:]) {
		return tenancycli.Main(ctx, args, tenancycli.Config{Stdout: std.out, Stderr: std.err, Name: name})
	}
	pg, err := startDatabase(ctx, cfg, nil, true)
	if err != nil {
		fmt.Fprintf(std.err, "%s: %v\n", name, err)
		return tenancycli.ExitFailure
	}
	defer pg.stop(ctx, nil)
	// No migration logger: the CLI prints what it did.
	st, err := openStack(ctx, cfg.driver, pg.dsn, cfg.maxConns, nil)
	if err != nil {
		fmt.Fprintf(std.err, "%s: %v\n", name, err)
		return tenancycli.ExitFailure
	}
	defer st.close()
	return tenancycli.Main(ctx, args, tenancycli.Config{
		Migrator:     st.mig,
		Registry:     st.reg,
		Stdout:       std.out,
		Stderr:       std.err,
		Stdin:        std.in,
		Name:         name,
		SharedSchema: st.db.SharedSchema(),
	})
}

// wantsHelp reports whether a command's arguments ask for its help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			return true
		case "--":
			return false
		}
	}
	return false
}
