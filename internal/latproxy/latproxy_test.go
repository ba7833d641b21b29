package latproxy

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// echoServer accepts connections and echoes what they send until they close; it
// stops in t.Cleanup and waits for its goroutines.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func startProxy(t *testing.T, target string, d time.Duration) *Proxy {
	t.Helper()
	p, err := Start(target, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestLargeTransfer sends 8 MiB of random bytes through the proxy to an echo
// server while reading the echo: they come back unchanged, in order, and the
// client's half-close travels through (the echo ends with EOF).
func TestLargeTransfer(t *testing.T) {
	p := startProxy(t, echoServer(t), 100*time.Microsecond)
	c := dial(t, p)
	want := make([]byte, 8<<20)
	if _, err := rand.Read(want); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		// Uneven writes, to vary the chunks.
		rest := want
		for i := 1; len(rest) > 0; i++ {
			n := min(len(rest), i*977%70000+1)
			if _, err := c.Write(rest[:n]); err != nil {
				errc <- err
				return
			}
			rest = rest[n:]
		}
		errc <- c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c) // until the echo server's EOF comes back
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes back, want the %d sent, unchanged", len(got), len(want))
	}
}

// pingPong sends one byte and waits for its echo n times.
func pingPong(t *testing.T, c net.Conn, n int) {
	t.Helper()
	b := []byte{0}
	for i := range n {
		b[0] = byte(i)
		if _, err := c.Write(b); err != nil {
			t.Error(err)
			return
		}
		if _, err := io.ReadFull(c, b); err != nil {
			t.Error(err)
			return
		}
		if b[0] != byte(i) {
			t.Errorf("round trip %d: got %d back", i, b[0])
			return
		}
	}
}

// TestRoundTripDelay: a round trip through the proxy costs at least the delay of
// both directions (a lower bound, which holds however loaded the machine is).
func TestRoundTripDelay(t *testing.T) {
	const n = 50
	for _, cfg := range []struct{ to, back time.Duration }{
		{250 * time.Microsecond, 250 * time.Microsecond},
		{500 * time.Microsecond, 100 * time.Microsecond},
		{0, 300 * time.Microsecond},
	} {
		p, err := StartConfig(Config{Target: echoServer(t), ToTarget: cfg.to, ToClient: cfg.back})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		c := dial(t, p)
		pingPong(t, c, 1) // the target's connection is up
		start := time.Now()
		pingPong(t, c, n)
		elapsed := time.Since(start)
		if min := n * (cfg.to + cfg.back); elapsed < min {
			t.Errorf("%d round trips with delays %v + %v took %v, less than %v", n, cfg.to, cfg.back, elapsed, min)
		}
		t.Logf("delays %v + %v: %v per round trip", cfg.to, cfg.back, elapsed/n)
	}
}

// TestLatencyNotBandwidth: chunks in flight together are each due at the time they
// were read plus the delay; none waits for the one before it to be delivered.
// The clock is the test's: the proxy's wait records what it is asked to wait for.
func TestLatencyNotBandwidth(t *testing.T) {
	const d = time.Hour // would show at once if it added up
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var dues []time.Time
	release := make(chan struct{})
	p, err := start(Config{Target: echoServer(t), ToTarget: d, ToClient: d},
		func() time.Time { return t0 },
		func() waiter {
			return fakeWaiter(func(due time.Time) {
				mu.Lock()
				dues = append(dues, due)
				mu.Unlock()
				<-release // the first chunk is held: the others queue behind it
			})
		})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := dial(t, p)
	const writes = 10
	for i := range writes {
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // separate reads, most likely; not required
	}
	close(release)
	got := make([]byte, writes)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	for i, b := range got {
		if b != byte(i) {
			t.Fatalf("byte %d is %d: order not kept", i, b)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, due := range dues {
		if !due.Equal(t0.Add(d)) {
			t.Errorf("chunk %d of %d due at t0+%v, want t0+%v", i, len(dues), due.Sub(t0), d)
		}
	}
	t.Logf("%d writes arrived in %d chunks, all due at t0+delay", writes, len(dues))
}

// TestConcurrentConnections runs ping-pongs on 16 connections at once: each gets
// its own bytes back.
func TestConcurrentConnections(t *testing.T) {
	const conns, n, d = 16, 40, 200 * time.Microsecond
	p := startProxy(t, echoServer(t), d)
	cs := make([]net.Conn, conns)
	for i := range cs {
		cs[i] = dial(t, p)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() { defer wg.Done(); pingPong(t, c, n) }()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if elapsed < n*2*d {
		t.Errorf("%d round trips took %v, less than %v", n, elapsed, n*2*d)
	}
	// Informational: independent connections are not serialised, so this is
	// near n round trips, not conns×n.
	t.Logf("%d connections × %d round trips at %v one way: %v (%v if serialised)", conns, n, d, elapsed, conns*n*2*d)
}

// TestCloseEndsEverything: Close ends the connections in both directions, bytes
// in flight included, and every goroutine of the proxy.
func TestCloseEndsEverything(t *testing.T) {
	target := echoServer(t) // its goroutines are counted in before; its per-connection ones end with their connections
	before := runtime.NumGoroutine()
	p, err := Start(target, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	cs := make([]net.Conn, 5)
	for i := range cs {
		cs[i] = dial(t, p)
		pingPong(t, cs[i], 1)
		if _, err := cs[i].Write(make([]byte, 100<<10)); err != nil { // in flight at Close
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for i, c := range cs {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang, not a speed bound
		// EOF, or a reset where the proxy dropped bytes it had not read: either
		// way the connection has ended, which a timeout would deny.
		if _, err := io.Copy(io.Discard, c); err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("connection %d still open after Close", i)
		}
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Error("the proxy still accepts connections after Close")
	}
	// The echo server's goroutines for the closed connections end on their own
	// time; wait for them (bounded: a leak, not a speed).
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// TestTargetDown: a client of a proxy whose target refuses connections is closed.
func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close()
	p := startProxy(t, target, time.Millisecond)
	c := dial(t, p)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read: %d, %v; want EOF", n, err)
	}
}

type fakeWaiter func(time.Time)

func (f fakeWaiter) wait(due time.Time) { f(due) }
func (fakeWaiter) close()               {}
