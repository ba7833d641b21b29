// Package latproxy is a TCP proxy for tests and benchmarks that delays every chunk
// of bytes it forwards by a fixed one-way latency, to show what a network between
// the client and PostgreSQL does to round-trip-bound code on a machine where both
// run on loopback.
//
// It models latency, not bandwidth: each direction of a connection is a queue of
// chunks stamped with the time they were read; a chunk read at t is written at
// t+delay however many chunks are in flight before it (a sleep per chunk would add
// up). Order is kept within a direction, and connections are independent of each
// other: each has its own goroutines and queues.
//
// The delay is a lower bound. On Linux the wait is a timerfd (the Go runtime's
// timers wake up to a millisecond late when the process is idle, which is exactly
// when a round trip waits), so a chunk arrives at t+delay plus the machine's
// wake-up latency and the proxy's own goroutine hops: a timerfd alone overshoots by
// 35-65 µs on the shared 2-core VM of BENCHMARKS.md, and a round trip through the
// proxy there cost 0.1-0.4 ms over the nominal 2×delay under a load average of
// 6-17. Measure the effective round trip through the proxy where it matters.
// Connection set-up (the TCP handshake to the target) is not delayed.
package latproxy

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a proxy.
type Config struct {
	// Target is the address (host:port) connections are forwarded to.
	Target string
	// ToTarget delays the bytes the client sends to the target; ToClient, the
	// bytes the target sends back. Zero forwards without delay.
	ToTarget, ToClient time.Duration
	// Listen is the address to listen on; "" is 127.0.0.1 on a free port.
	Listen string
}

// Proxy forwards the TCP connections it accepts to its target. Its methods are safe
// for concurrent use.
type Proxy struct {
	cfg    Config
	ln     net.Listener
	ctx    context.Context // cancelled by Close: ends dials in progress
	cancel context.CancelFunc
	bufs   sync.Pool // *[]byte of chunkSize
	// now and newWaiter are time.Now and newWaiter; tests replace them.
	now       func() time.Time
	newWaiter func() waiter

	mu     sync.Mutex
	closed bool
	pairs  map[*pair]struct{}
	wg     sync.WaitGroup // every goroutine the proxy started
}

const (
	chunkSize = 32 << 10
	// queueLen chunks may be in flight per direction before reading stops (TCP
	// back-pressure): 2 MiB, far above what the delays it is meant for need.
	queueLen = 64
)

// Start starts a proxy to target on 127.0.0.1 with the same one-way delay in both
// directions (a round trip costs at least 2×oneWay more than without it).
func Start(target string, oneWay time.Duration) (*Proxy, error) {
	return StartConfig(Config{Target: target, ToTarget: oneWay, ToClient: oneWay})
}

// StartConfig starts a proxy as cfg says.
func StartConfig(cfg Config) (*Proxy, error) { return start(cfg, time.Now, newWaiter) }

func start(cfg Config, now func() time.Time, nw func() waiter) (*Proxy, error) {
	if cfg.Target == "" {
		return nil, errors.New("latproxy: no target")
	}
	if cfg.ToTarget < 0 || cfg.ToClient < 0 {
		return nil, errors.New("latproxy: negative delay")
	}
	addr := cfg.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &Proxy{cfg: cfg, ln: ln, pairs: make(map[*pair]struct{})}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.bufs.New = func() any { b := make([]byte, chunkSize); return &b }
	p.now, p.newWaiter = now, nw
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the address clients connect to (host:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops accepting, closes every connection in both directions, dropping
// bytes still in flight, and returns when all of the proxy's goroutines have
// ended. Calling it again does nothing.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	pairs := p.pairs
	p.pairs = nil
	p.mu.Unlock()
	p.cancel()
	err := p.ln.Close()
	for pr := range pairs {
		pr.close()
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed (or a listener that failed for good)
		}
		pr := &pair{client: c, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.pairs[pr] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(pr)
	}
}

// serve dials the target for pr and forwards both ways until both directions
// have ended or either fails.
func (p *Proxy) serve(pr *pair) {
	defer p.wg.Done()
	var d net.Dialer
	s, err := d.DialContext(p.ctx, "tcp", p.cfg.Target)
	if err != nil {
		pr.close()
		p.forget(pr)
		return
	}
	pr.mu.Lock()
	pr.server = s
	if pr.isDone() { // Close ran during the dial
		s.Close()
	}
	pr.mu.Unlock()
	pr.left.Store(2)
	var wg sync.WaitGroup
	for _, dir := range []struct {
		src, dst net.Conn
		delay    time.Duration
	}{{pr.client, s, p.cfg.ToTarget}, {s, pr.client, p.cfg.ToClient}} {
		q := make(chan chunk, queueLen)
		wg.Add(2)
		go func() { defer wg.Done(); p.read(pr, dir.src, q, dir.delay) }()
		go func() { defer wg.Done(); p.write(pr, dir.dst, q) }()
	}
	wg.Wait()
	pr.close()
	p.forget(pr)
}

func (p *Proxy) forget(pr *pair) {
	p.mu.Lock()
	delete(p.pairs, pr) // a no-op once Close took the map
	p.mu.Unlock()
}

type chunk struct {
	buf *[]byte
	n   int
	due time.Time
}

// read reads src into chunks stamped with their due time, until src ends; then it
// closes q so that the writer flushes and half-closes.
func (p *Proxy) read(pr *pair, src net.Conn, q chan<- chunk, delay time.Duration) {
	defer close(q)
	for {
		bp := p.bufs.Get().(*[]byte)
		n, err := src.Read(*bp)
		if n > 0 {
			select {
			case q <- chunk{buf: bp, n: n, due: p.now().Add(delay)}:
			case <-pr.done:
				return
			}
		} else {
			p.bufs.Put(bp)
		}
		if err != nil {
			return
		}
	}
}

// write writes each chunk of q to dst at its due time. When q is closed (its
// source ended) it half-closes dst, so EOF travels like data; the pair ends when
// both directions have. A write error ends the pair at once.
func (p *Proxy) write(pr *pair, dst net.Conn, q <-chan chunk) {
	w := p.newWaiter()
	defer w.close()
	for {
		select {
		case c, ok := <-q:
			if !ok {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				if pr.left.Add(-1) == 0 {
					pr.close()
				}
				return
			}
			w.wait(c.due)
			_, err := dst.Write((*c.buf)[:c.n])
			p.bufs.Put(c.buf)
			if err != nil {
				pr.close()
				return
			}
		case <-pr.done:
			return
		}
	}
}

// pair is one proxied connection: the client's and the one to the target.
type pair struct {
	client net.Conn
	done   chan struct{} // closed by close
	left   atomic.Int32  // directions still forwarding
	once   sync.Once
	mu     sync.Mutex // guards server against close during the dial
	server net.Conn
}

func (pr *pair) isDone() bool {
	select {
	case <-pr.done:
		return true
	default:
		return false
	}
}

// close closes both connections, which ends the reads, and tells the writers.
func (pr *pair) close() {
	pr.once.Do(func() {
		close(pr.done)
		pr.client.Close()
		pr.mu.Lock()
		if pr.server != nil {
			pr.server.Close()
		}
		pr.mu.Unlock()
	})
}
