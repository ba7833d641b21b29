package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/go-tenancy/tenancy/internal/wire"
)

// msg returns a protocol message: its type, int32 length, body.
func msg(typ byte, body ...string) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	for _, s := range body {
		b = append(b, s...)
	}
	binary.BigEndian.PutUint32(b[1:], uint32(len(b)-1))
	return b
}

func cstr(s string) string { return s + "\x00" }

func startupMsg() []byte {
	body := []byte{0, 3, 0, 0}
	body = append(body, "user\x00u\x00database\x00d\x00\x00"...)
	b := binary.BigEndian.AppendUint32(nil, uint32(len(body)+4))
	return append(b, body...)
}

// extBatch is a driver's extended-protocol batch: Parse/Bind/Describe/Execute/Sync.
func extBatch(q string) []byte {
	var b []byte
	b = append(b, msg('P', cstr(""), cstr(q), "\x00\x00")...)
	b = append(b, msg('B', cstr(""), cstr(""), "\x00\x00\x00\x00\x00\x00")...)
	b = append(b, msg('D', "P", cstr(""))...)
	b = append(b, msg('E', cstr(""), "\x00\x00\x00\x00")...)
	return append(b, msg('S')...)
}

// stream builds a backend stream and what the driver must read of it.
type stream struct {
	server, driver []byte
	startup        int // length of the startup phase's part of server
}

func (s *stream) keep(m ...[]byte) {
	for _, x := range m {
		s.server = append(s.server, x...)
		s.driver = append(s.driver, x...)
	}
}

func (s *stream) drop(m ...[]byte) {
	for _, x := range m {
		s.server = append(s.server, x...)
	}
}

func errMsg(code, pos string) []byte {
	body := cstr("SERROR") + cstr("VERROR") + cstr("C"+code) + cstr("Mboom")
	if pos != "" {
		body += cstr("P" + pos)
	}
	return msg('E', body, "\x00")
}

func row(s string) []byte {
	return msg('D', "\x00\x01", string(binary.BigEndian.AppendUint32(nil, uint32(len(s)))), s)
}

var (
	z       = msg('Z', "I")
	notice  = msg('N', cstr("SNOTICE"), cstr("Mhi"), "\x00")
	param   = msg('S', cstr("is_superuser"), cstr("on"))
	notify  = msg('A', "\x00\x00\x00\x01", cstr("chan"), cstr("payload"))
	rowDesc = msg('T', "\x00\x01", cstr("v"), strings.Repeat("\x00", 18))
)

// session is the scripted exchange the filter tests replay: the driver's writes
// (with the prefixes armed before each batch) and the server's answers. All
// writes happen before the first read, so the filter must count ReadyForQuery
// messages to find which replies answer which injection.
type step struct {
	prefix string
	write  []byte
}

func script() ([]step, stream) {
	var s stream
	big := strings.Repeat("x", 40000)
	steps := []step{
		{"", startupMsg()},
		// SCRAM: SASLInitialResponse, SASLResponse (prefixes armed during the
		// startup phase wait for its end).
		{"SET search_path TO a", msg('p', cstr("SCRAM-SHA-256"), "\x00\x00\x00\x04abcd")},
		{"SET search_path TO a", msg('p', "c=biws,r=xyz,p=proof")},
		{"SET search_path TO a; SELECT 1", extBatch("SELECT v FROM t")},
		{"SET search_path TO b; SELECT 2", msg('Q', cstr("SELECT v FROM t"))},
		{"SELECT 1/0", extBatch("INSERT INTO t VALUES ('x')")},
		{"SET x TO 1", msg('Q', cstr(""))},
		{"SET x TO 1", msg('Q', cstr("SELECT nosuch"))},
		{"SET x TO 1", msg('Q', cstr("COPY t TO STDOUT"))},
		{"", extBatch("SELECT 1")},
	}
	// startup
	s.keep(msg('R', "\x00\x00\x00\x0a", cstr("SCRAM-SHA-256"), "\x00"))
	s.keep(msg('R', "\x00\x00\x00\x0b", "r=xyz,s=salt,i=4096"))
	s.keep(msg('R', "\x00\x00\x00\x0c", "v=signature"))
	s.keep(msg('R', "\x00\x00\x00\x00"), param, msg('K', "\x00\x00\x00\x07\x00\x00\x00\x09"), z)
	s.startup = len(s.server)
	// 1: extended prefix of two statements, then the driver's replies
	s.drop(msg('3'), msg('1'), msg('2'), msg('C', cstr("SET")))
	s.keep(notice)
	s.drop(msg('3'), msg('1'), msg('2'), row("1"), msg('C', cstr("SELECT 1")), msg('3'))
	s.keep(param)
	s.keep(msg('1'), msg('2'), rowDesc, row("a"), row(big), row("c"), msg('C', cstr("SELECT 3")), z)
	// 2: simple prefix
	s.drop(msg('C', cstr("SET")), rowDesc, row("2"), msg('C', cstr("SELECT 1")))
	s.keep(rowDesc)
	for i := 0; i < 50; i++ {
		s.keep(row(strings.Repeat("r", i*31)))
	}
	s.keep(notify, msg('C', cstr("SELECT 50")), z)
	// 3: failing extended prefix: the error is the driver's, then its Sync's Z
	s.drop(msg('3'), msg('1'), msg('2'))
	s.keep(errMsg("22012", ""), z)
	// 4: empty query: the prefix hid the EmptyQueryResponse
	s.drop(msg('C', cstr("SET")))
	s.server = append(s.server, z...)
	s.driver = append(s.driver, msg('I')...)
	s.driver = append(s.driver, z...)
	// 5: the driver's statement fails: position moved back by "SET x TO 1\n;"
	s.drop(msg('C', cstr("SET")))
	s.server = append(s.server, errMsg("42703", "20")...)
	s.driver = append(s.driver, errMsg("42703", "8")...)
	s.keep(z)
	// 6: COPY TO STDOUT after a prefix
	s.drop(msg('C', cstr("SET")))
	s.keep(msg('H', "\x00\x00\x01\x00\x00"), msg('d', big), msg('d', "2\n"), msg('c'), msg('C', cstr("COPY 2")), z)
	// 7: no prefix
	s.keep(msg('1'), msg('2'), msg('n'), msg('C', cstr("SELECT 1")), z)
	return steps, s
}

// fakeConn serves a scripted stream in reads of the sizes given.
type fakeConn struct {
	net.Conn
	r      []byte
	limit  int // if > 0, bytes of r that may be read (the server's answers so far)
	sizes  []int
	i      int
	writes bytes.Buffer
}

func (f *fakeConn) Read(p []byte) (int, error) {
	if len(f.r) == 0 {
		return 0, io.EOF
	}
	if f.limit < 0 {
		return 0, errors.New("fake server: read before the driver wrote what it answers")
	}
	n := len(p)
	if f.limit > 0 {
		n = min(n, f.limit)
	}
	if len(f.sizes) > 0 {
		n = min(n, f.sizes[f.i%len(f.sizes)])
		f.i++
	}
	n = copy(p, f.r[:min(n, len(f.r))])
	f.r = f.r[n:]
	if f.limit > 0 {
		f.limit -= n
		if f.limit == 0 {
			f.limit = -1 // nothing more until the driver writes again
		}
	}
	return n, nil
}

func (f *fakeConn) Write(p []byte) (int, error) { return f.writes.Write(p) }

// replay runs the script through a Conn whose network reads have the sizes
// under and whose driver reads have the sizes over, and returns what the driver
// read and the Conn.
func replay(t testing.TB, under, over []int) ([]byte, *wire.Conn, []byte) {
	steps, s := script()
	// The server answers the startup phase first; the rest only once the batches
	// it answers have been written (a server cannot answer an injection before it
	// got it).
	fc := &fakeConn{r: s.server, sizes: under, limit: s.startup}
	c := wire.Wrap(fc)
	var out []byte
	buf := make([]byte, 1<<20)
	j := 0
	read := func() bool {
		p := buf
		if len(over) > 0 {
			p = buf[:over[j%len(over)]]
		}
		j++
		n, err := c.Read(p)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		return true
	}
	for i, st := range steps {
		if i == 3 {
			// The startup phase ends with a ReadyForQuery, which the driver
			// reads before it sends anything else; from here on, every batch
			// is written before the first reply is read.
			for c.TxStatus() == 0 && read() {
			}
		}
		if st.prefix != "" {
			if err := c.Prefix(st.prefix); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := c.Write(st.write); err != nil || n != len(st.write) {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
	}
	fc.limit = 0
	for read() {
	}
	return out, c, fc.writes.Bytes()
}

// TestFilterScript: the scripted stream read whole gives exactly the driver's
// part of it, and the writes carry the prefixes.
func TestFilterScript(t *testing.T) {
	_, s := script()
	got, c, writes := replay(t, nil, nil)
	if !bytes.Equal(got, s.driver) {
		t.Fatalf("driver read %d bytes, want %d; first difference at %d", len(got), len(s.driver), firstDiff(got, s.driver))
	}
	if !c.Available() || c.TxStatus() != 'I' {
		t.Errorf("available %v, status %q", c.Available(), c.TxStatus())
	}
	if o := c.Outcome(); !o.Committed() {
		t.Errorf("last outcome %+v", o)
	}
	// The prefixes armed during authentication did not go into it.
	steps, _ := script()
	var want []byte
	for _, st := range steps[:3] {
		want = append(want, st.write...)
	}
	if w := writes; !bytes.HasPrefix(w, want) {
		t.Errorf("startup writes changed: %q", w[:min(len(w), len(want))])
	}
}

// FuzzFilter: random splits of the network reads and of the driver's reads give
// the same bytes as one big read.
func FuzzFilter(f *testing.F) {
	f.Add([]byte{1}, []byte{1})
	f.Add([]byte{5, 4, 3}, []byte{255, 7})
	f.Add([]byte{200, 1, 2, 250}, []byte{6, 5, 4})
	f.Add([]byte{}, []byte{3})
	_, s := script()
	f.Fuzz(func(t *testing.T, a, b []byte) {
		sizes := func(x []byte) []int {
			var out []int
			for _, v := range x {
				n := int(v)%64 + 1
				if v >= 250 {
					n = 50000
				}
				out = append(out, n)
			}
			return out
		}
		got, _, _ := replay(t, sizes(a), sizes(b))
		if !bytes.Equal(got, s.driver) {
			t.Fatalf("split reads %v / %v: driver read %d bytes, want %d", sizes(a), sizes(b), len(got), len(s.driver))
		}
	})
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
