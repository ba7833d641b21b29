// Package rtcount counts client/server round trips on database connections, for the
// tests and benchmarks that state how many round trips a call costs. It is a
// lib/pq Dialer (and DialerContext) whose connections count every write that follows
// a read (or opens the connection): a request the client sends after it has heard
// the server's previous answer. Several writes before the next read (one message
// group) count once.
package rtcount

import (
	"context"
	"net"
	"sync/atomic"
	"time"
)

// Counter dials TCP connections and counts their round trips. The zero value is
// ready; it is safe for concurrent use.
type Counter struct {
	n    atomic.Int64
	open atomic.Int64
	d    net.Dialer
}

// Open returns the number of connections dialed and not yet closed.
func (c *Counter) Open() int64 { return c.open.Load() }

// RoundTrips returns the number counted so far.
func (c *Counter) RoundTrips() int64 { return c.n.Load() }

// Reset sets the count to zero and returns what it was.
func (c *Counter) Reset() int64 { return c.n.Swap(0) }

// Dial implements pq.Dialer.
func (c *Counter) Dial(network, address string) (net.Conn, error) {
	return c.DialContext(context.Background(), network, address)
}

// DialTimeout implements pq.Dialer.
func (c *Counter) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.DialContext(ctx, network, address)
}

// DialContext implements pq.DialerContext.
func (c *Counter) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	nc, err := c.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	cn := &conn{Conn: nc, c: c}
	cn.readSince.Store(true)
	c.open.Add(1)
	return cn, nil
}

type conn struct {
	net.Conn
	c *Counter
	// readSince is true when the connection has read since its last write: the next
	// write starts a new round trip. A connection is used by one goroutine at a time
	// (lib/pq's cancel requests use a connection of their own); atomic all the same.
	readSince atomic.Bool
	closed    atomic.Bool
}

func (cn *conn) Close() error {
	if !cn.closed.Swap(true) {
		cn.c.open.Add(-1)
	}
	return cn.Conn.Close()
}

func (cn *conn) Write(p []byte) (int, error) {
	if cn.readSince.Swap(false) {
		cn.c.n.Add(1)
	}
	return cn.Conn.Write(p)
}

func (cn *conn) Read(p []byte) (int, error) {
	n, err := cn.Conn.Read(p)
	if n > 0 {
		cn.readSince.Store(true)
	}
	return n, err
}
