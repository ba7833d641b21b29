package wire

import (
	"context"
	"net"
	"sync"
	"time"
)

// ContextDialer dials network connections; *net.Dialer is one.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Dialer makes connections through Inner and wraps each one with [Wrap]. It
// implements lib/pq's Dialer and DialerContext (pq.Connector.Dialer). lib/pq also
// dials through it to send a CancelRequest; that connection goes passive.
type Dialer struct {
	// Inner dials the network connections; nil means a zero net.Dialer.
	Inner ContextDialer
}

// Dial implements pq.Dialer.
func (d Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialTimeout implements pq.Dialer.
func (d Dialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

// DialContext implements pq.DialerContext. If ctx comes from [WithCapture], the
// new *Conn is recorded there.
func (d Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	inner := d.Inner
	if inner == nil {
		inner = &net.Dialer{}
	}
	nc, err := inner.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	c := Wrap(nc)
	capture(ctx, c)
	return c, nil
}

// AfterNetConnect wraps nc with [Wrap] (recording it if ctx comes from
// [WithCapture]). pgconn.Config.AfterNetConnect takes a function of another
// signature; adapt it with
//
//	cfg.AfterNetConnect = func(ctx context.Context, _ *pgconn.Config, nc net.Conn) (net.Conn, error) {
//		return wire.AfterNetConnect(ctx, nc)
//	}
//
// (this package does not import pgx).
func AfterNetConnect(ctx context.Context, nc net.Conn) (net.Conn, error) {
	c := Wrap(nc)
	capture(ctx, c)
	return c, nil
}

// Capture receives the *Conn made by a connection attempt; see [WithCapture].
type Capture struct {
	mu sync.Mutex
	c  *Conn
}

// Conn returns the last *Conn dialed with the capture's context, or nil.
func (cp *Capture) Conn() *Conn {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.c
}

type captureKey struct{}

// WithCapture returns a context that makes [Dialer.DialContext] and
// [AfterNetConnect] record the *Conn they make in the returned Capture. Pass it
// to the driver's Connect (lib/pq's pq.Connector.Connect dials with the context it
// is given; so does pgconn): when Connect returns, Capture.Conn is the wrapper of
// the connection it returned. A driver that tries several hosts (or retries
// without TLS under sslmode=prefer) dials more than once; the last dial is the
// connection that succeeded. lib/pq's cancel connections are dialed with another
// context and are not recorded.
func WithCapture(ctx context.Context) (context.Context, *Capture) {
	cp := &Capture{}
	return context.WithValue(ctx, captureKey{}, cp), cp
}

func capture(ctx context.Context, c *Conn) {
	if cp, ok := ctx.Value(captureKey{}).(*Capture); ok {
		cp.mu.Lock()
		cp.c = c
		cp.mu.Unlock()
	}
}
