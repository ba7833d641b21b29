package wire_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"testing"

	"github.com/go-tenancy/tenancy/internal/wire"
)

// TestConcurrentReadWrite: one goroutine arms prefixes and writes pipelined
// Query batches while another reads the replies at the same time (as pgx's
// background reader does during a slow write). Each batch's rows must come from
// the schema its own prefix named, and no reply of a prefix may leak. Run with
// -race.
func TestConcurrentReadWrite(t *testing.T) {
	u, err := url.Parse(setup(t))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := wire.Wrap(nc)

	body := []byte{0, 3, 0, 0}
	body = append(body, "user\x00"+u.User.Username()+"\x00database\x00"+u.Path[1:]+"\x00\x00"...)
	start := binary.BigEndian.AppendUint32(nil, uint32(len(body)+4))
	if _, err := c.Write(append(start, body...)); err != nil {
		t.Fatal(err)
	}
	next := func() (byte, []byte) {
		var h [5]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			t.Error(err)
			return 0, nil
		}
		b := make([]byte, binary.BigEndian.Uint32(h[1:])-4)
		if _, err := io.ReadFull(c, b); err != nil {
			t.Error(err)
			return 0, nil
		}
		return h[0], b
	}
	for {
		typ, b := next()
		if typ == 'E' || typ == 0 {
			t.Fatalf("startup: %q", b)
		}
		if typ == 'Z' {
			break
		}
	}

	const batches = 200
	done := make(chan []string)
	go func() {
		var got []string
		for len(got) < batches {
			typ, b := next()
			switch typ {
			case 'D':
				// one text column: int16 count, int32 length, value
				got = append(got, string(b[6:]))
			case 'T', 'C', 'Z', 'S', 'N':
			default:
				t.Errorf("unexpected message %q %q", typ, b)
				got = append(got, "?")
			}
		}
		done <- got
	}()
	for i := 0; i < batches; i++ {
		schema := "ab"[i%2 : i%2+1]
		if err := c.Prefix("SET search_path TO " + schema + "; SELECT 'noise'"); err != nil {
			t.Fatal(err)
		}
		q := fmt.Sprintf("SELECT v || '%d' FROM t\x00", i)
		m := append([]byte{'Q'}, binary.BigEndian.AppendUint32(nil, uint32(len(q)+4))...)
		if _, err := c.Write(append(m, q...)); err != nil {
			t.Fatal(err)
		}
	}
	got := <-done
	for i, g := range got {
		if want := fmt.Sprintf("%s%d", "ab"[i%2:i%2+1], i); g != want {
			t.Fatalf("batch %d read %q, want %q", i, g, want)
		}
	}
	if !c.Available() {
		t.Fatalf("unavailable: %v", c.Unavailable())
	}
}
