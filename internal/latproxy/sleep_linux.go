package latproxy

import (
	"os"
	"syscall"
	"time"
	"unsafe"
)

// timerfdWaiter waits on a Linux timerfd read through the runtime's poller. The
// Go runtime's own timers are no use for sub-millisecond delays: when every
// goroutine waits, as during a round trip through the proxy, the runtime sleeps in
// epoll_pwait, whose timeout is whole milliseconds, so a 100µs timer fires after
// about 1ms. A timerfd is an event for that same epoll_pwait, delivered when the
// kernel's high-resolution timer fires. (A nanosleep would be as precise but holds
// the goroutine's P, the runtime's CPU slot, until the scheduler notices, which
// serialises the connections' waits on a 2-core machine.)
type timerfdWaiter struct {
	fd  uintptr
	f   *os.File
	buf [8]byte
}

type itimerspec struct{ interval, value syscall.Timespec }

const (
	clockMonotonic = 1
	tfdNonblock    = syscall.O_NONBLOCK
	tfdCloexec     = syscall.O_CLOEXEC
)

func newWaiter() waiter {
	fd, _, errno := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, tfdNonblock|tfdCloexec, 0)
	if errno != 0 {
		return newTimerWaiter()
	}
	// A non-blocking descriptor makes a File that uses the poller.
	return &timerfdWaiter{fd: fd, f: os.NewFile(fd, "latproxy-timerfd")}
}

func (w *timerfdWaiter) wait(due time.Time) {
	for {
		d := time.Until(due)
		if d <= 0 {
			return
		}
		its := itimerspec{value: syscall.NsecToTimespec(int64(d))}
		_, _, errno := syscall.Syscall6(syscall.SYS_TIMERFD_SETTIME, w.fd, 0, uintptr(unsafe.Pointer(&its)), 0, 0, 0)
		if errno != 0 {
			time.Sleep(d)
			continue
		}
		if _, err := w.f.Read(w.buf[:]); err != nil {
			time.Sleep(time.Until(due))
		}
	}
}

func (w *timerfdWaiter) close() { w.f.Close() }
