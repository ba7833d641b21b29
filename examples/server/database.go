package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/pgserver"
	"github.com/go-tenancy/tenancy/migrations"
)

// pgStartTimeout bounds starting the embedded PostgreSQL (initdb on first use
// takes a second or two).
const pgStartTimeout = 2 * time.Minute

// database is where the demo's data lives: the server DATABASE_URL names, or an
// embedded one.
type database struct {
	url      string // to show to people (psql accepts it)
	dsn      string // what the app connects with
	embedded bool
	srv      *pgserver.Server // the embedded server, if this process started it
}

// startDatabase returns the database to use. With DATABASE_URL set, that one.
// Otherwise it starts PostgreSQL from the local binaries in cfg.dataDir (creating
// the cluster on first use, reusing it after). If a server already runs in that
// directory (a demo server started it), attach decides: the CLI connects to it,
// the server refuses (two servers must not share one PostgreSQL whose lifetime
// only one of them controls).
func startDatabase(ctx context.Context, cfg config, logger *slog.Logger, attach bool) (*database, error) {
	if cfg.databaseURL != "" {
		return &database{url: redact(cfg.databaseURL), dsn: cfg.databaseURL}, nil
	}
	sctx, cancel := context.WithTimeout(ctx, pgStartTimeout)
	defer cancel()
	pcfg := pgserver.Config{DataDir: cfg.dataDir, Port: cfg.pgPort}
	if logger != nil {
		pcfg.Logf = func(format string, args ...any) {
			logger.Debug(fmt.Sprintf(format, args...), "component", "postgres")
		}
	}
	srv, err := pgserver.Start(sctx, pcfg)
	if errors.Is(err, pgserver.ErrAlreadyRunning) {
		if !attach {
			return nil, fmt.Errorf("%w\n(another demo server is using %s: stop it, or pass another -data-dir)", err, cfg.dataDir)
		}
		port, perr := runningPort(cfg.dataDir)
		if perr != nil {
			return nil, fmt.Errorf("%w; and its port is unknown: %w", err, perr)
		}
		u := pgURL(port)
		return &database{url: u, dsn: u, embedded: true}, nil
	}
	if err != nil {
		return nil, err
	}
	u := srv.URL("postgres")
	return &database{url: u, dsn: u, embedded: true, srv: srv}, nil
}

// stop stops the embedded server if this process started it. A PostgreSQL that
// has already exited is reported at Info level when ctx was cancelled by a
// signal: Ctrl-C in a terminal signals the whole process group, PostgreSQL
// included, which then shuts down on its own.
func (d *database) stop(ctx context.Context, logger *slog.Logger) {
	if d == nil || d.srv == nil {
		return
	}
	select {
	case <-d.srv.Done():
		err := d.srv.Stop()
		if logger != nil {
			if ctx.Err() != nil {
				logger.Info("embedded PostgreSQL had already stopped (a terminal's Ctrl-C reaches it too)")
			} else {
				logger.Error("embedded PostgreSQL had exited", "err", err)
			}
		}
		return
	default:
	}
	if err := d.srv.Stop(); err != nil {
		if logger != nil {
			logger.Error("stop embedded PostgreSQL", "err", err)
		}
		return
	}
	if logger != nil {
		logger.Info("embedded PostgreSQL stopped")
	}
}

// fastDSN adds binary_parameters=yes to a lib/pq URL: lib/pq then sends a
// parameterised query in one round trip instead of two (parse, then execute).
// (pgx does that with its statement cache; the parameter would mean nothing to it.)
func fastDSN(u string) string {
	if strings.Contains(u, "?") {
		return u + "&binary_parameters=yes"
	}
	return u + "?binary_parameters=yes"
}

func pgURL(port int) string {
	u := url.URL{Scheme: "postgres", User: url.User(pgserver.Superuser),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Path: "/postgres", RawQuery: "sslmode=disable"}
	return u.String()
}

// runningPort reads the port of the server running in dataDir from its
// postmaster.pid, whose fourth line is the port.
func runningPort(dataDir string) (int, error) {
	f, err := os.Open(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if line == 4 {
			return strconv.Atoi(strings.TrimSpace(sc.Text()))
		}
	}
	return 0, fmt.Errorf("%s/postmaster.pid has no port line", dataDir)
}

// redact hides the password of a URL that is about to be printed.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(DATABASE_URL)"
	}
	return u.Redacted()
}

// stack is what the app is built on: the tenancy DB (one pool), the tenant
// registry and the migrator.
type stack struct {
	db  *tenancy.DB
	reg *tenancy.Registry
	mig *tenancy.Migrator
}

// openStack connects to dsn and builds the stack; it pings the database so that
// a wrong URL fails here, with a clear message. migLogger, if not nil, logs
// every migration and tenant change.
func openStack(ctx context.Context, driver, dsn string, maxConns int, migLogger *slog.Logger) (*stack, error) {
	if driver == "postgres" {
		dsn = fastDSN(dsn)
	}
	db, err := tenancy.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	// database/sql keeps only 2 idle connections by default: under load every
	// other query would open a new connection. Keep the whole pool.
	db.Pool().SetMaxOpenConns(maxConns)
	db.Pool().SetMaxIdleConns(maxConns)
	db.Pool().SetConnMaxIdleTime(5 * time.Minute)

	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to the database: %w", err)
	}
	reg, err := tenancy.NewRegistry(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	var opts []tenancy.MigratorOption
	if migLogger != nil {
		opts = append(opts, tenancy.WithMigrationLogger(migLogger))
	}
	mig, err := tenancy.NewMigrator(db, reg, migrations.Shared, migrations.Tenant, opts...)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &stack{db: db, reg: reg, mig: mig}, nil
}

func (s *stack) close() { _ = s.db.Close() }
