package wire_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy/internal/wire"
)

// tlsProxy listens on 127.0.0.1, answers an SSLRequest with 'S', terminates TLS
// with a self-signed certificate and relays the plaintext to target (the test
// server runs without ssl). It returns the proxy's host:port.
func tlsProxy(t *testing.T, target string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go relay(c, cfg, target)
		}
	}()
	return ln.Addr().String()
}

func relay(c net.Conn, cfg *tls.Config, target string) {
	defer c.Close()
	var req [8]byte
	if _, err := io.ReadFull(c, req[:]); err != nil {
		return
	}
	var client net.Conn = c
	var first []byte
	if binary.BigEndian.Uint32(req[4:]) == 80877103 {
		if _, err := c.Write([]byte{'S'}); err != nil {
			return
		}
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		client = tc
	} else {
		first = req[:]
	}
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	if _, err := s.Write(first); err != nil {
		return
	}
	go func() { io.Copy(s, client); s.Close() }()
	io.Copy(client, s)
}

// TestTLS: pgx wraps after TLS (AfterNetConnect gets the *tls.Conn), so the
// wrapper reads plaintext and works; lib/pq's dialer is below TLS, so the wrapper
// sees the 'S' and goes passive, and lib/pq works as without it.
func TestTLS(t *testing.T) {
	dsn := setup(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	u.Host = tlsProxy(t, target)
	u.RawQuery = strings.Replace(u.RawQuery, "sslmode=disable", "sslmode=require", 1)
	tlsDSN := u.String()
	ctx := context.Background()

	cfg, err := pgx.ParseConfig(tlsDSN)
	if err != nil {
		t.Fatal(err)
	}
	var sawTLS bool
	cfg.AfterNetConnect = func(ctx context.Context, _ *pgconn.Config, nc net.Conn) (net.Conn, error) {
		_, sawTLS = nc.(*tls.Conn)
		return wire.AfterNetConnect(ctx, nc)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	w, ok := wire.From(conn.PgConn().Conn())
	if !sawTLS || !ok || !w.Available() {
		t.Fatalf("pgx over TLS: tls %v, wrapped %v", sawTLS, ok)
	}
	for _, schema := range []string{"a", "b"} {
		prefix(t, &client{name: "pgx-tls", w: w}, "SET search_path TO "+schema)
		var v string
		if err := conn.QueryRow(ctx, "SELECT v FROM t WHERE $1::int = 1", 1).Scan(&v); err != nil || v != schema {
			t.Fatalf("pgx over TLS: %q, %v; want %q", v, err, schema)
		}
	}

	pc, err := pq.NewConnector(tlsDSN)
	if err != nil {
		t.Fatal(err)
	}
	pc.Dialer(wire.Dialer{})
	cctx, cp := wire.WithCapture(ctx)
	dc, err := pc.Connect(cctx)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	w = cp.Conn()
	if w == nil || w.Available() || !errors.Is(w.Unavailable(), wire.ErrTLS) {
		t.Fatalf("lib/pq over TLS: wrapper %v should be unavailable with ErrTLS", w)
	}
	if err := dc.(interface {
		Ping(context.Context) error
	}).Ping(ctx); err != nil {
		t.Fatalf("lib/pq over TLS through a passive wrapper: %v", err)
	}
}
