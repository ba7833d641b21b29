package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-tenancy/tenancy"
)

// Server timeouts. WriteTimeout is sized for ordinary requests; the migration
// handlers extend their own deadline.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 15 * time.Second
)

// serve runs the demo server until ctx is cancelled (SIGINT, SIGTERM), then
// shuts down in order: stop accepting, let in-flight requests finish (at most
// shutdownTimeout), close the pool, stop the embedded PostgreSQL.
func serve(ctx context.Context, cfg config, logger *slog.Logger, out io.Writer) error {
	pg, err := startDatabase(ctx, cfg, logger, false)
	if err != nil {
		return err
	}
	defer pg.stop(ctx, logger) // deferred first, so it runs last
	if pg.embedded {
		logger.InfoContext(ctx, "embedded PostgreSQL running", "url", pg.url, "data_dir", cfg.dataDir)
	}
	st, err := openStack(ctx, cfg.driver, pg.dsn, cfg.maxConns, logger)
	if err != nil {
		return err
	}
	defer st.close()

	// Every start brings the shared schema up to date: cheap when there is
	// nothing to do, and safe when several replicas start at once (advisory lock).
	res, err := st.mig.MigrateShared(ctx)
	if err != nil {
		return fmt.Errorf("migrate the shared schema: %w", err)
	}
	logger.InfoContext(ctx, "shared schema ready", "schema", res.Schema, "version", res.To, "applied", len(res.Applied))

	token, generated := cfg.adminToken, false
	if token == "" {
		if token, err = randomToken(); err != nil {
			return err
		}
		generated = true
	}
	a := newApp(st.db, st.reg, st.mig, nil, logger, token)
	seeded, err := seedDemo(ctx, a)
	if err != nil {
		return fmt.Errorf("create the demo tenants: %w", err)
	}
	tenants, err := st.reg.List(ctx, tenancy.ListOptions{Limit: 6})
	if err != nil {
		return err
	}
	count, err := st.reg.Count(ctx)
	if err != nil {
		return err
	}

	// Listen before printing the banner: a busy port fails here, and the
	// banner shows the real address (also with -addr 127.0.0.1:0).
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	printBanner(out, banner{
		cfg: cfg, addr: ln.Addr().(*net.TCPAddr), db: pg, token: token, tokenGenerated: generated,
		tenants: tenants, tenantCount: count, seeded: seeded,
	})
	logger.InfoContext(ctx, "listening", "addr", "http://"+ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}

	logger.Info("shutting down: finishing in-flight requests", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("in-flight requests did not finish in time; closing their connections", "err", err)
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("HTTP server stopped")
	return nil
}

// randomToken returns 32 random hex digits.
func randomToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate an admin token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
