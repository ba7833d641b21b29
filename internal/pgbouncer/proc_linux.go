package pgbouncer

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// terminate asks pgbouncer for an immediate shutdown.
const terminate = syscall.SIGTERM

// runUser returns the OS user to run pgbouncer as: nil (the caller itself) unless
// the caller is root, which pgbouncer refuses to run as; then the user "postgres".
func runUser() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	const name = "postgres"
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: pgbouncer refuses to run as root, and the OS user %q to run it as "+
			"is missing (%v); create it (useradd --system --user-group postgres) or run as a non-root user", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgbouncer: OS user %s has a non-numeric uid %q or gid %q", u.Username, u.Uid, u.Gid)
	}
	if uid == 0 {
		return nil, fmt.Errorf("pgbouncer: OS user %s is root (uid 0); pgbouncer refuses to run as root", u.Username)
	}
	return &osUser{name: u.Username, uid: uid, gid: gid}, nil
}

// sysProcAttr runs pgbouncer as owner (if not nil) and has the kernel send it
// SIGTERM if the parent dies first. As in internal/pgserver: the Go runtime sets
// the death signal after switching credentials (which would clear it), and it
// fires when the parent thread exits, which happens only for threads locked with
// runtime.LockOSThread, which Start does not call. Its own process group
// (Setpgid) keeps a terminal's Ctrl-C, which signals the foreground group, from
// reaching it: the caller stops it, after its clients.
func sysProcAttr(owner *osUser) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Pdeathsig: terminate, Setpgid: true}
	if owner != nil {
		attr.Credential = &syscall.Credential{
			Uid:         uint32(owner.uid),
			Gid:         uint32(owner.gid),
			NoSetGroups: true,
		}
	}
	return attr
}
