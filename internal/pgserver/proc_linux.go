package pgserver

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// Signals that ask postgres for a fast shutdown (disconnect clients, checkpoint,
// exit) and an immediate one (exit at once; the next start recovers from WAL).
const (
	fastShutdown      = syscall.SIGINT
	immediateShutdown = syscall.SIGQUIT
)

// serverUser returns the OS user to run initdb and postgres as: nil (the caller
// itself) unless the caller is root, which PostgreSQL refuses to run as; then the
// user "postgres".
func serverUser() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(Superuser)
	if err != nil {
		return nil, fmt.Errorf("pgserver: PostgreSQL refuses to run as root, and the OS user %q to run it as "+
			"is missing (%v); create it (useradd --system --user-group postgres) or run as a non-root user", Superuser, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgserver: OS user %s has a non-numeric uid %q or gid %q", u.Username, u.Uid, u.Gid)
	}
	if uid == 0 {
		return nil, fmt.Errorf("pgserver: OS user %s is root (uid 0); PostgreSQL refuses to run as root", u.Username)
	}
	return &osUser{name: u.Username, uid: uid, gid: gid}, nil
}

// sysProcAttr runs a child as owner (if not nil) and has the kernel send it
// SIGQUIT, postgres's immediate shutdown, if the parent dies first, so that a
// crashed or killed test binary leaves no server behind.
//
// Two kernel details make this work: the death signal is cleared when the child's
// credentials change, but the Go runtime sets it after switching user and group;
// and it fires when the parent *thread* exits, which the Go runtime does only for
// threads locked by runtime.LockOSThread, which Start does not call.
//
// The child gets a process group of its own (Setpgid), so that Ctrl-C in a
// terminal, which signals the whole foreground group, reaches only the parent: the
// parent decides when to stop the server (after its in-flight requests), rather
// than the server shutting down under it.
func sysProcAttr(owner *osUser) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Pdeathsig: immediateShutdown, Setpgid: true}
	if owner != nil {
		attr.Credential = &syscall.Credential{
			Uid:         uint32(owner.uid),
			Gid:         uint32(owner.gid),
			NoSetGroups: true, // keep no supplementary groups of the caller's
		}
	}
	return attr
}

// processAlive reports whether a postgres process with this PID exists (as any
// user). A PID recorded before a reboot or a container restart may since have
// been given to an unrelated process, even to this one.
func processAlive(pid int) bool {
	if pid == os.Getpid() || pid == os.Getppid() {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return true // no /proc: assume the worst
	}
	name := strings.TrimSpace(string(comm))
	return name == "postgres" || name == "postmaster"
}

// ownedBy reports whether path belongs to owner.
func ownedBy(path string, owner *osUser) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == owner.uid && int(st.Gid) == owner.gid
}
