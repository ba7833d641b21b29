package tenancycli

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// catchSIGPIPE has SIGPIPE delivered to a channel (which nobody reads) until the
// returned function is called. The Go runtime kills a program that writes to a
// closed pipe on its standard output or error, unless the program asked for
// SIGPIPE with signal.Notify; then the write just fails with EPIPE. Stopping
// restores the previous behaviour (unless someone else asked for it too).
func catchSIGPIPE() (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGPIPE)
	return func() { signal.Stop(ch) }
}

// pipeWriter passes writes to w until one fails because the reader has gone
// away (EPIPE, or os.ErrClosed / io.ErrClosedPipe for in-process pipes); from
// then on it discards everything and reports success, so that a command whose
// output nobody reads any more finishes its work. Other errors are returned as
// they are. It is safe for concurrent use (the fleet's progress writes from
// several goroutines).
type pipeWriter struct {
	mu     sync.Mutex
	w      io.Writer
	broken bool
}

func (p *pipeWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken {
		return len(b), nil
	}
	n, err := p.w.Write(b)
	if err != nil && (errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, os.ErrClosed)) {
		p.broken = true
		return len(b), nil
	}
	return n, err
}

// dropOnClose wraps w in a pipeWriter, except a terminal (which never
// reports EPIPE), which the fleet's progress display must see as the *os.File
// it is.
func dropOnClose(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return w
		}
	}
	return &pipeWriter{w: w}
}
