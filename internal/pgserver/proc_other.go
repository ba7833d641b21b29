//go:build !linux

package pgserver

import (
	"errors"
	"os"
	"syscall"
)

// Signals that ask postgres for a fast shutdown (disconnect clients, checkpoint,
// exit) and an immediate one (exit at once; the next start recovers from WAL).
const (
	fastShutdown      = syscall.SIGINT
	immediateShutdown = syscall.SIGQUIT
)

// serverUser returns nil: outside Linux the server runs as the caller, who must
// not be root (PostgreSQL refuses to run as root).
func serverUser() (*osUser, error) {
	if os.Geteuid() == 0 {
		return nil, errors.New("pgserver: PostgreSQL refuses to run as root, and switching to another " +
			"OS user is supported on Linux only; run as a non-root user")
	}
	return nil, nil
}

// sysProcAttr returns nil: no user switch and no parent-death signal (a
// Linux-only feature) outside Linux.
func sysProcAttr(*osUser) *syscall.SysProcAttr { return nil }

// processAlive reports false: without a portable liveness check, postgres itself
// detects a server already running in the data directory.
func processAlive(int) bool { return false }

// ownedBy is never called outside Linux, where serverUser returns no owner.
func ownedBy(string, *osUser) bool { return true }
