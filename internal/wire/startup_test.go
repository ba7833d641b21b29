package wire_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/lib/pq"

	"github.com/go-tenancy/tenancy/internal/wire"
)

func request(code uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, 8)
	if code == 80877102 { // CancelRequest: pid and key follow
		b = binary.BigEndian.AppendUint32(nil, 16)
		b = binary.BigEndian.AppendUint32(b, code)
		return append(b, 0, 0, 0, 1, 0, 0, 0, 2)
	}
	return binary.BigEndian.AppendUint32(b, code)
}

// pipeDialer hands lib/pq one end of a net.Pipe whose other end answers an
// SSLRequest with 'S' and then reads what comes (the TLS ClientHello).
type pipeDialer struct{ got chan []byte }

func (d pipeDialer) DialContext(context.Context, string, string) (net.Conn, error) {
	cli, srv := net.Pipe()
	go func() {
		defer srv.Close()
		req := make([]byte, 8)
		if _, err := io.ReadFull(srv, req); err != nil {
			d.got <- nil
			return
		}
		d.got <- req
		srv.Write([]byte{'S'})
		buf := make([]byte, 512)
		srv.Read(buf)
	}()
	return cli, nil
}

// TestLibPQTLS: lib/pq negotiating TLS below the wrapper (sslmode=require, the
// server says 'S') makes the wrapper unavailable, and Prefix refuses.
func TestLibPQTLS(t *testing.T) {
	d := pipeDialer{got: make(chan []byte, 1)}
	pc, err := pq.NewConnector("postgres://u@127.0.0.1:1/d?sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	pc.Dialer(wire.Dialer{Inner: d})
	ctx, cp := wire.WithCapture(context.Background())
	if _, err := pc.Connect(ctx); err == nil {
		t.Fatal("connected to a fake server")
	}
	if req := <-d.got; string(req) != string(request(80877103)) {
		t.Fatalf("server read %x, want an SSLRequest", req)
	}
	w := cp.Conn()
	if w == nil {
		t.Fatal("no wrapper captured")
	}
	if w.Available() || !errors.Is(w.Unavailable(), wire.ErrTLS) {
		t.Fatalf("available %v (%v) after TLS was negotiated", w.Available(), w.Unavailable())
	}
	if err := w.Prefix("SET search_path TO a"); !errors.Is(err, wire.ErrTLS) {
		t.Fatalf("Prefix: %v, want ErrTLS", err)
	}
}

// TestStartupRequests: an SSLRequest or GSSENCRequest answered 'N' continues in
// plain text (the wrapper stays available), 'S' / 'G' make it passive, and a
// CancelRequest connection is passive.
func TestStartupRequests(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   uint32
		answer string
		avail  bool
	}{
		{"ssl-N", 80877103, "N", true},
		{"ssl-S", 80877103, "S", false},
		{"gss-N", 80877104, "N", true},
		{"gss-G", 80877104, "G", false},
		{"cancel", 80877102, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.answer
			if tc.avail {
				srv += string(msg('R', "\x00\x00\x00\x00")) + string(msg('Z', "I"))
			} else if tc.answer != "" {
				srv += "\x16\x03\x01 encrypted"
			}
			fc := &fakeConn{r: []byte(srv)}
			c := wire.Wrap(fc)
			if _, err := c.Write(request(tc.code)); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(readerFunc(func(p []byte) (int, error) {
				n, err := c.Read(p)
				if n == 1 && p[0] == 'N' {
					// Plain text: the startup message comes next.
					if _, err := c.Write(startupMsg()); err != nil {
						t.Fatal(err)
					}
				}
				return n, err
			}))
			if err != nil || string(got) != srv {
				t.Fatalf("read %q, %v; want the server's bytes %q", got, err, srv)
			}
			if c.Available() != tc.avail {
				t.Fatalf("available %v, want %v (%v)", c.Available(), tc.avail, c.Unavailable())
			}
			if tc.avail {
				if c.TxStatus() != 'I' {
					t.Errorf("TxStatus %q", c.TxStatus())
				}
				if err := c.Prefix("SET x TO 1"); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestNotInjectable: a write that cannot carry an armed prefix (a FunctionCall, or
// messages after a batch not ended by a Sync) is refused, not sent without it.
func TestNotInjectable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before []byte
		write  []byte
	}{
		{"function-call", nil, msg('F', "\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00")},
		{"after-unsynced", msg('P', cstr(""), cstr("SELECT 1"), "\x00\x00"), msg('B', cstr(""), cstr(""), "\x00\x00\x00\x00\x00\x00")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := &fakeConn{r: append(msg('R', "\x00\x00\x00\x00"), msg('Z', "I")...)}
			c := wire.Wrap(fc)
			c.Write(startupMsg())
			if _, err := io.ReadAll(c); err != nil {
				t.Fatal(err)
			}
			if tc.before != nil {
				c.Write(tc.before)
			}
			sent := fc.writes.Len()
			if err := c.Prefix("SET x TO 1"); err != nil {
				t.Fatal(err)
			}
			if n, err := c.Write(tc.write); !errors.Is(err, wire.ErrNotInjectable) || n != 0 {
				t.Fatalf("Write: %d, %v; want ErrNotInjectable", n, err)
			}
			if fc.writes.Len() != sent || c.Available() {
				t.Fatalf("refused write went out (%d bytes) or the Conn stayed available", fc.writes.Len()-sent)
			}
		})
	}
	// A lone Sync runs nothing: the prefix waits for the next batch.
	fc := &fakeConn{r: append(msg('R', "\x00\x00\x00\x00"), msg('Z', "I")...)}
	c := wire.Wrap(fc)
	c.Write(startupMsg())
	io.ReadAll(c)
	c.Prefix("SET x TO 1")
	c.Write(msg('S'))
	if o := c.Outcome(); o.Sent {
		t.Fatalf("prefix sent with a lone Sync: %+v", o)
	}
	if !c.Disarm() || c.Disarm() {
		t.Fatal("Disarm: the prefix should have been armed once")
	}
}

// TestSplit: statements split at the semicolons the server would split at.
func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"SET a; SET b", []string{"SET a", "SET b"}},
		{"  ; -- c;\n ;SELECT ';' ; /* ; /* ; */ */ SELECT \";\"", []string{"SELECT ';'", `/* ; /* ; */ */ SELECT ";"`}},
		{"SELECT E'\\';'; SELECT 'it''s;'", []string{"SELECT E'\\';'", "SELECT 'it''s;'"}},
		{"SELECT $1; SELECT a$b; DO $t$ x; $$ y; $t$; SELECT $$;$$", []string{"SELECT $1", "SELECT a$b", "DO $t$ x; $$ y; $t$", "SELECT $$;$$"}},
	} {
		got, err := wire.Split(tc.in)
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("Split(%q)[%d] = %q, want %q", tc.in, i, got[i], tc.want[i])
			}
		}
	}
	for _, bad := range []string{"SELECT 'x", `SELECT "x`, "/* x", "DO $a$ x $b$", "SELECT E'\\'"} {
		if _, err := wire.Split(bad); err == nil {
			t.Errorf("Split(%q) succeeded", bad)
		}
	}
}

// ready returns a Conn past the startup phase on a fake server with no more to
// say, and the fake.
func ready(t *testing.T) (*wire.Conn, *fakeConn) {
	t.Helper()
	fc := &fakeConn{r: append(msg('R', "\x00\x00\x00\x00"), msg('Z', "I")...)}
	c := wire.Wrap(fc)
	if _, err := c.Write(startupMsg()); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(c); err != nil {
		t.Fatal(err)
	}
	fc.writes.Reset()
	return c, fc
}

// TestSplitWrites: a batch written in several Write calls gets the prefix once,
// in front of its first message, and each Write reports the driver's byte count
// (a Query whose header is split across writes is rewritten all the same).
func TestSplitWrites(t *testing.T) {
	c, fc := ready(t)
	if err := c.Prefix("SET a TO 1; SET b TO 2"); err != nil {
		t.Fatal(err)
	}
	batch := extBatch("SELECT 1")
	for _, part := range [][]byte{batch[:3], batch[3:20], batch[20:]} {
		if n, err := c.Write(part); err != nil || n != len(part) {
			t.Fatalf("Write: %d, %v; want %d", n, err, len(part))
		}
	}
	w := fc.writes.Bytes()
	if !bytes.HasSuffix(w, batch) || bytes.Count(w, []byte("SET a TO 1")) != 1 || !bytes.Contains(w[:len(w)-len(batch)], []byte("tenancy_wire_prefix\x00SET b TO 2\x00")) {
		t.Fatalf("wrote %q", w)
	}
	if o := c.Outcome(); !o.Sent || o.Done {
		t.Fatalf("outcome %+v", o)
	}

	c, fc = ready(t)
	if err := c.Prefix("SET a TO 1"); err != nil {
		t.Fatal(err)
	}
	q := msg('Q', cstr("SELECT 1"))
	for _, part := range [][]byte{q[:2], q[2:4], q[4:]} {
		if n, err := c.Write(part); err != nil || n != len(part) {
			t.Fatalf("Write: %d, %v; want %d", n, err, len(part))
		}
	}
	if want := msg('Q', cstr("SET a TO 1\n;SELECT 1")); !bytes.Equal(fc.writes.Bytes(), want) {
		t.Fatalf("wrote %q, want %q", fc.writes.Bytes(), want)
	}
}
