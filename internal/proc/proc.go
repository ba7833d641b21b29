// Package proc holds what internal/pgserver and internal/pgbouncer both need to
// run a child process: a writer keeping the tail of its output, and a free port.
package proc

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
)

// TailSize is how many bytes of a process's most recent output a TailWriter keeps.
const TailSize = 4 << 10

// TailWriter keeps the last TailSize bytes written to it (a child process's
// output, for error messages) and passes each complete line to logf. It is safe for concurrent use.
type TailWriter struct {
	prefix string
	logf   func(string, ...any)

	mu        sync.Mutex
	buf       []byte // the kept tail
	truncated bool   // earlier output was dropped from buf
	line      []byte // an incomplete last line, not yet logged
}

var _ io.Writer = (*TailWriter)(nil)

// NewTailWriter returns a TailWriter that logs each line with logf, after prefix.
func NewTailWriter(prefix string, logf func(string, ...any)) *TailWriter {
	return &TailWriter{prefix: prefix, logf: logf}
}

func (w *TailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > TailSize {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-TailSize:]...)
		w.truncated = true
	}
	w.line = append(w.line, p...)
	for {
		i := bytes.IndexByte(w.line, '\n')
		if i < 0 {
			break
		}
		w.logf("%s: %s", w.prefix, string(w.line[:i]))
		w.line = w.line[i+1:]
	}
	if len(w.line) > TailSize {
		w.line = w.line[:0] // a runaway line: drop it from the log, keep it in buf
	}
	return len(p), nil
}

// Tail returns the kept output, starting at a line boundary, prefixed so that it
// reads as a quoted block in an error message.
func (w *TailWriter) Tail() string {
	w.mu.Lock()
	b := bytes.TrimSpace(w.buf)
	truncated := w.truncated
	w.mu.Unlock()
	if truncated {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	if len(b) == 0 {
		return w.prefix + " printed nothing"
	}
	return w.prefix + " output:\n\t" + strings.ReplaceAll(string(b), "\n", "\n\t")
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
