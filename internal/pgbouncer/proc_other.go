//go:build !linux

package pgbouncer

import (
	"errors"
	"os"
	"syscall"
)

// terminate asks pgbouncer for an immediate shutdown.
const terminate = syscall.SIGTERM

// runUser returns nil: outside Linux pgbouncer runs as the caller, who must not be
// root.
func runUser() (*osUser, error) {
	if os.Geteuid() == 0 {
		return nil, errors.New("pgbouncer: pgbouncer refuses to run as root, and switching to another " +
			"OS user is supported on Linux only; run as a non-root user")
	}
	return nil, nil
}

// sysProcAttr returns nil outside Linux: no user switch, no parent-death signal.
func sysProcAttr(*osUser) *syscall.SysProcAttr { return nil }
