package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// stmtName is the prepared statement an extended-protocol prefix is parsed into.
// It is not the unnamed statement: lib/pq parses into that in one round trip
// (Parse/Describe/Sync) and binds it in the next, and pgx's Exec and DescribeExec
// modes do the same, so a Parse("") of ours could replace the driver's statement
// between its two round trips. pgx names its cached statements stmtcache_…, lib/pq
// numbers its prepared statements: no driver uses this name.
const stmtName = "tenancy_wire_prefix"

// Startup-phase request codes (the int32 after the length of an untyped message).
const (
	codeCancel = 80877102
	codeSSL    = 80877103
	codeGSSENC = 80877104
)

var (
	// ErrTLS is why a Conn is unavailable when the driver negotiated TLS (or GSSAPI
	// encryption) on the connection below it: the bytes it carries are encrypted.
	ErrTLS = errors.New("wire: the connection negotiated encryption below the wrapper")
	// ErrCancelConn is why a Conn is unavailable when it carries a CancelRequest.
	ErrCancelConn = errors.New("wire: cancel-request connection")
	// ErrNotInjectable is returned by Write, and the Conn goes passive, when a prefix
	// is armed and the driver's next write is not the start of a new batch that can
	// carry it (it continues a message, follows messages not ended by a Sync or a
	// Query, or starts with a FunctionCall or COPY data). The statement is not sent:
	// it would run without its prefix.
	ErrNotInjectable = errors.New("wire: the driver's next message cannot carry the prefix")
	// ErrBindsEarlierParse is returned by Write, and the Conn goes passive, when a
	// batch that a PrefixEachBatch prefix is armed for starts with a Bind or an
	// Execute: it runs a statement parsed in an earlier batch, which behind a
	// transaction pooler may be another client's on another server connection.
	// The batch is not sent.
	ErrBindsEarlierParse = errors.New("wire: the driver binds a statement parsed in an earlier batch, which a per-batch prefix does not cover")
	// ErrAbortedTx is the Outcome error of a prefix not sent because the session is
	// in a failed transaction: the server rejects every statement there but
	// ROLLBACK/COMMIT, which must not be refused because a prefix failed.
	ErrAbortedTx = errors.New("wire: prefix not sent: the transaction is aborted")

	// errConcurrentRead is why a Conn went passive when two goroutines read it at
	// once (pgx draining a connection it is closing: see Conn.readMu).
	errConcurrentRead = errors.New("wire: read by two goroutines at once (the driver is closing the connection)")
)

// Error is the server's ErrorResponse to a prefix statement.
type Error struct {
	Severity string // S (localised) or V
	Code     string // C: SQLSTATE
	Message  string // M
	Detail   string // D
	Hint     string // H
	// Fields holds every field by its code.
	Fields map[byte]string
}

func (e *Error) Error() string {
	return fmt.Sprintf("wire: prefix failed: %s: %s (SQLSTATE %s)", e.Severity, e.Message, e.Code)
}

func parseError(body []byte) *Error {
	e := &Error{Fields: map[byte]string{}}
	for len(body) > 1 {
		code := body[0]
		body = body[1:]
		end := 0
		for end < len(body) && body[end] != 0 {
			end++
		}
		e.Fields[code] = string(body[:end])
		if end < len(body) {
			end++
		}
		body = body[end:]
	}
	e.Severity, e.Code, e.Message = e.Fields['S'], e.Fields['C'], e.Fields['M']
	e.Detail, e.Hint = e.Fields['D'], e.Fields['H']
	return e
}

// Outcome is what became of the last prefix armed with [Conn.Prefix].
type Outcome struct {
	// Sent: the prefix went out in front of a batch of the driver's.
	Sent bool
	// Done: the ReadyForQuery that ends that batch (the driver's first Sync or its
	// Query) has been read; the fields below are final.
	Done bool
	// Err is the server's answer to a failed prefix statement (an *[Error]; the
	// driver received the same ErrorResponse as the answer to its first message and
	// none of its messages up to that ReadyForQuery ran), ErrAbortedTx, or why the
	// wrapper lost track of the stream. nil if every prefix statement succeeded.
	Err error
	// Aborted: a driver message of the same batch failed after the prefix
	// succeeded. Outside a transaction block that rolled back the implicit
	// transaction, and the prefix with it.
	Aborted bool
	// TxStatus is the status of that ReadyForQuery: 'I' (the batch's implicit
	// transaction committed), 'T' (in a transaction block: the prefix's effect
	// holds until it ends, and a ROLLBACK undoes it), 'E' (failed transaction).
	TxStatus byte
}

// Committed reports whether the prefix took effect and was committed: it
// succeeded, nothing after it in its batch failed, and the batch ended outside a
// transaction block.
func (o Outcome) Committed() bool {
	return o.Done && o.Err == nil && !o.Aborted && o.TxStatus == 'I'
}

// Conn wraps a connection speaking PostgreSQL protocol 3 (the driver's side of
// it) and can send SQL of its own in front of the driver's next batch of
// messages, removing the server's replies to that SQL from what the driver reads.
// It implements net.Conn. Read may run concurrently with Write (pgx reads in the
// background while a large write is blocked); Prefix, Disarm, Outcome, TxStatus
// and Available are safe to call from any goroutine.
type Conn struct {
	net.Conn

	passive atomic.Bool  // pass everything through, for good
	zRead   atomic.Int64 // ReadyForQuery messages read
	status  atomic.Uint32

	mu     sync.Mutex
	reason error    // why passive
	armed  []string // statements of the prefix waiting for the next batch
	// each: the statements of a PrefixEachBatch prefix, armed again at the end
	// of every batch of the driver's that executed nothing (nil when none).
	each  []string
	seq   int     // generation of the last Prefix call
	out   Outcome // of generation seq
	queue []*record
	ssl   byte // an SSLRequest ('S') or GSSENCRequest ('G') awaits its 1-byte answer

	w writer // guarded by mu (Write holds it while it scans, not while it writes)
	// r is owned by the goroutine holding readMu. Drivers read from one goroutine,
	// except pgx closing a connection after a cancelled context (asyncClose drains
	// it with io.Copy while its background reader may still be blocked in Read): a
	// Read that finds readMu held reads the network connection directly, since
	// nothing it reads matters any more, and leaves r alone.
	readMu sync.Mutex
	r      reader
}

// record is one injection, from the writer to the reader.
type record struct {
	seq     int
	zBefore int64  // ReadyForQuery messages due before the replies to it
	simple  bool   // rewritten Query (else Parse/Bind/Execute/Close)
	steps   []byte // the replies to remove, in order; 'x' is an Execute's result
	shift   int    // simple: characters inserted before the driver's query text
	out     Outcome
}

type writer struct {
	startup bool // the next message is untyped (startup, SSLRequest, CancelRequest)
	hdr     [8]byte
	hdrN    int
	typ     byte
	rem     int   // body bytes left of the current message
	ended   bool  // the last message ended a batch (Sync, Query, startup, …)
	execs   bool  // a message of the current batch executes (Execute, Query, FunctionCall)
	zSent   int64 // ReadyForQuery messages the messages sent so far will produce
	stash   []byte
}

type reader struct {
	buf      []byte
	pos, end int
	rerr     error // error of the last read, returned once its data is used

	out    []byte // bytes due to the driver before anything else
	outPos int

	raw  bool // passive: pass bytes unparsed
	ssl  byte
	hdr  [5]byte
	hdrN int
	typ  byte
	rem  int
	act  byte // actPass, actDrop, actHold
	hold []byte

	queue []*record // injections whose replies come later
	cur   *record   // injection whose replies are being read
	step  int       // index into cur.steps; len(cur.steps) once all removed
	reply bool      // simple: the driver's query has had a reply
}

const (
	actPass = iota
	actDrop
	actHold
)

// Wrap wraps c, on which the driver has not yet sent anything. The wrapper follows
// the startup phase (SSLRequest, GSSENCRequest, StartupMessage, authentication)
// and goes passive if encryption is negotiated below it or c carries a
// CancelRequest. Use it in a dialer (lib/pq) and in pgconn's AfterNetConnect
// (after TLS, before the startup message), see the package documentation.
func Wrap(c net.Conn) *Conn {
	cn := &Conn{Conn: c}
	cn.w.startup = true
	return cn
}

// From returns the *Conn that c is, if it is one (such as pgconn.PgConn.Conn()
// when AfterNetConnect wrapped it).
func From(c net.Conn) (*Conn, bool) {
	w, ok := c.(*Conn)
	return w, ok
}

// Available reports whether the wrapper can inject: false once encryption was
// negotiated below it, on a cancel connection, after a refused write, or after a
// message sequence it could not follow; then it passes everything through.
func (c *Conn) Available() bool { return !c.passive.Load() }

// Unavailable returns why the Conn is not available, or nil.
func (c *Conn) Unavailable() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// TxStatus returns the status byte of the last ReadyForQuery read by the driver
// ('I' idle, 'T' in a transaction block, 'E' in a failed one), or 0 before the
// first.
func (c *Conn) TxStatus() byte { return byte(c.status.Load()) }

// goPassive makes the Conn pass everything through from now on. Call with mu held.
func (c *Conn) goPassive(why error) {
	if c.reason == nil {
		c.reason = why
	}
	c.armed, c.each = nil, nil
	c.passive.Store(true)
}

// Prefix arranges for the statements of sql (split with [Split]; SQL without
// parameters, each one able to run in a transaction block, none of them COPY)
// to run on the server just before the next batch the driver writes, in the same
// implicit transaction as the driver's messages up to its first Sync (or, for a
// simple Query, as the statements of that query; inside the driver's transaction
// block if one is open), with no round trip of their own:
//
//   - a batch starting with an extended-protocol message (Parse, Bind, Describe,
//     Execute, Close) gets Close/Parse/Bind/Execute/Close messages for each
//     statement in front of it, and no Sync: if a prefix statement fails, the
//     server skips the driver's messages up to its Sync, and the driver reads
//     that ErrorResponse as the answer to its first message;
//   - a batch starting with a Query has that message's text rewritten to the
//     prefix statements followed by the driver's text: one implicit transaction,
//     with the same failure semantics.
//
// The replies to the prefix are removed from what the driver reads, except an
// ErrorResponse (passed on, see above), and NoticeResponse, ParameterStatus and
// NotificationResponse messages (passed on: drivers take these at any point, and
// a ParameterStatus after SET SESSION AUTHORIZATION or RESET ALL tells the driver
// the truth about the session).
//
// Prefix replaces a prefix armed earlier and not yet sent, and starts a new
// [Outcome]. A batch that runs nothing (a lone Sync or Flush, Terminate) leaves
// the prefix armed. In a failed transaction (the last ReadyForQuery said 'E' and
// no reply is outstanding) the prefix is dropped unsent (Outcome.Err is
// ErrAbortedTx): the server would refuse it, and the driver's ROLLBACK with it.
// The driver's statements must be ones that may run in a transaction block (not
// VACUUM, CREATE DATABASE, …): the prefix makes them part of one.
func (c *Conn) Prefix(sql string) error { return c.prefix(sql, false) }

// prefix arms sql for the next batch, and with each for every batch up to the
// one that executes (PrefixEachBatch).
func (c *Conn) prefix(sql string, each bool) error {
	stmts, err := Split(sql)
	if err != nil {
		return err
	}
	if len(stmts) == 0 {
		return errors.New("wire: empty prefix")
	}
	if strings.IndexByte(sql, 0) >= 0 {
		return errors.New("wire: prefix contains a NUL byte")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != nil {
		return c.reason
	}
	c.armed, c.each = stmts, nil
	if each {
		c.each = stmts
	}
	c.seq++
	c.out = Outcome{}
	return nil
}

// PrefixEachBatch is [Conn.Prefix] for a prefix that must precede every batch
// of the driver's next statement, not only the first: it goes in front of the
// next batch, and is armed again after each batch that executed nothing (no
// Execute, no Query: a Parse/Describe/Sync that a driver sends to learn a
// statement's parameter and result types), until a batch that executes has gone
// out. It is for SET LOCAL, which lasts for one implicit transaction: a driver
// that parses and executes in two batches (lib/pq with arguments, pgx's
// describe modes before the statement is cached) gets it in both, so the
// statement is parsed and run with it, in the same round trips as without it.
// [Outcome] is that of the last batch that carried it. Call [Conn.Disarm] after
// the driver's call: a call that failed before executing leaves it armed. The
// batch that executes must parse what it runs: one that starts with a Bind or
// an Execute fails with [ErrBindsEarlierParse] and is not sent.
func (c *Conn) PrefixEachBatch(sql string) error { return c.prefix(sql, true) }

// Disarm drops the armed prefix if it has not gone out (and a PrefixEachBatch
// prefix whether or not it has), and reports whether one was armed.
func (c *Conn) Disarm() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	had := c.armed != nil
	c.armed, c.each = nil, nil
	return had
}

// Outcome returns what became of the last prefix armed (the zero Outcome while it
// waits for the driver's next batch, and if none was armed).
func (c *Conn) Outcome() Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out
}

// publish records rec's outcome as the Conn's, if rec is of the last Prefix call.
func (c *Conn) publish(rec *record) {
	c.mu.Lock()
	if rec.seq == c.seq {
		c.out = rec.out
	}
	c.mu.Unlock()
}

// Write writes p, first injecting the armed prefix if p starts a new batch (see
// Prefix). It returns the number of bytes of p written.
func (c *Conn) Write(p []byte) (int, error) {
	if c.passive.Load() {
		return c.Conn.Write(p)
	}
	c.mu.Lock()
	if c.passive.Load() {
		c.mu.Unlock()
		return c.Conn.Write(p)
	}
	w := &c.w
	stashed := 0
	if len(w.stash) > 0 {
		stashed = len(w.stash)
		p = append(w.stash, p...)
		w.stash = nil
	}
	if c.armed == nil || w.startup || c.zRead.Load() == 0 || len(p) == 0 {
		// Nothing armed, or the startup phase (authentication) is not over: the
		// prefix waits for the first batch after the first ReadyForQuery.
		c.scan(p)
		c.mu.Unlock()
		return fixCount(c.Conn.Write(p))(stashed)
	}
	atStart := w.rem == 0 && w.hdrN == 0
	typ := p[0]
	switch {
	case atStart && (typ == 'S' || typ == 'H' || typ == 'X'):
		// Runs nothing: keep the prefix for the batch that does.
		c.scan(p)
		c.mu.Unlock()
		return fixCount(c.Conn.Write(p))(stashed)
	case !atStart || !w.ended || !strings.ContainsRune("PBDECQ", rune(typ)):
		c.goPassive(ErrNotInjectable)
		c.mu.Unlock()
		return 0, ErrNotInjectable
	case typ == 'Q' && len(p) < 5:
		// The header is split: wait for the rest of it.
		w.stash = append([]byte(nil), p...)
		c.mu.Unlock()
		return len(p) - stashed, nil
	}
	if c.each != nil && (typ == 'B' || typ == 'E') {
		c.goPassive(ErrBindsEarlierParse)
		c.mu.Unlock()
		return 0, ErrBindsEarlierParse
	}
	stmts := c.armed
	c.armed = nil
	rec := &record{seq: c.seq, zBefore: w.zSent}
	rec.out.Sent = true
	if c.TxStatus() == 'E' && c.zRead.Load() == w.zSent {
		c.out = Outcome{Done: true, Err: ErrAbortedTx, TxStatus: 'E'}
		c.scan(p)
		c.mu.Unlock()
		return fixCount(c.Conn.Write(p))(stashed)
	}
	var buf []byte
	ins := 0 // bytes inserted, at offset at
	at := 0
	if typ == 'Q' {
		// One message, one implicit transaction. Statements are separated by a
		// newline and a semicolon so that a line comment ending one cannot swallow
		// the next.
		text := strings.Join(stmts, "\n;") + "\n;"
		rec.simple, rec.shift = true, utf8.RuneCountInString(text)
		rec.steps = []byte(strings.Repeat("x", len(stmts)))
		n := int(binary.BigEndian.Uint32(p[1:5]))
		buf = make([]byte, 0, len(p)+len(text))
		buf = append(buf, 'Q')
		buf = binary.BigEndian.AppendUint32(buf, uint32(n+len(text)))
		buf = append(buf, text...)
		buf = append(buf, p[5:]...)
		ins, at = len(text), 5
	} else {
		buf, rec.steps = extended(stmts)
		ins = len(buf)
		buf = append(buf, p...)
	}
	c.queue = append(c.queue, rec)
	c.out = rec.out
	c.scan(p)
	c.mu.Unlock()
	n, err := c.Conn.Write(buf)
	switch {
	case n <= at:
	case n < at+ins:
		n = at
	default:
		n -= ins
	}
	return fixCount(n, err)(stashed)
}

// fixCount subtracts from a write's count the stashed bytes that an earlier Write
// already reported written.
func fixCount(n int, err error) func(int) (int, error) {
	return func(stashed int) (int, error) {
		n -= stashed
		if n < 0 {
			n = 0
		}
		return n, err
	}
}

// extended returns the messages that run stmts with the extended protocol and the
// replies they produce. A Close of the statement name comes first: a prefix that
// failed earlier left it behind (the server skipped its final Close), and Parse
// refuses an existing name; closing a name that does not exist is no error. Each
// statement is then parsed, bound to the unnamed portal, executed and closed;
// closing the statement closes its portal too, so nothing of ours remains on the
// session. The unnamed portal is safe: neither driver keeps a portal open across
// batches (pgx and lib/pq execute portals to completion), and the driver's own
// Bind, after ours, replaces it anyway. No Describe: an Execute sends DataRow
// messages without a RowDescription, which are removed like the rest.
func extended(stmts []string) ([]byte, []byte) {
	var b []byte
	closeMsg := func() {
		b = append(b, 'C')
		b = binary.BigEndian.AppendUint32(b, uint32(4+1+len(stmtName)+1))
		b = append(b, 'S')
		b = append(b, stmtName...)
		b = append(b, 0)
	}
	closeMsg()
	steps := []byte{'3'}
	for _, s := range stmts {
		b = append(b, 'P')
		b = binary.BigEndian.AppendUint32(b, uint32(4+len(stmtName)+1+len(s)+1+2))
		b = append(b, stmtName...)
		b = append(b, 0)
		b = append(b, s...)
		b = append(b, 0, 0, 0) // NUL, no parameter types
		b = append(b, 'B')
		b = binary.BigEndian.AppendUint32(b, uint32(4+1+len(stmtName)+1+2+2+2))
		b = append(b, 0) // unnamed portal
		b = append(b, stmtName...)
		b = append(b, 0, 0, 0, 0, 0, 0, 0) // NUL, no formats, no parameters, no result formats
		b = append(b, 'E')
		b = binary.BigEndian.AppendUint32(b, 4+1+4)
		b = append(b, 0, 0, 0, 0, 0) // unnamed portal, no row limit
		closeMsg()
		steps = append(steps, '1', '2', 'x', '3')
	}
	return b, steps
}

// scan follows the driver's messages in p: their boundaries, the startup phase,
// and the ReadyForQuery messages they will produce. Call with mu held, before p
// is written (the reader must know of an SSLRequest before its answer arrives).
func (c *Conn) scan(p []byte) {
	w := &c.w
	for len(p) > 0 && !c.passive.Load() {
		if w.rem > 0 {
			k := min(len(p), w.rem)
			p, w.rem = p[k:], w.rem-k
			if w.rem == 0 {
				c.endMsg()
			}
			continue
		}
		need := 5
		if w.startup {
			need = 8
		}
		k := copy(w.hdr[w.hdrN:need], p)
		w.hdrN += k
		p = p[k:]
		if w.hdrN < need {
			return
		}
		w.hdrN = 0
		if w.startup {
			n := int(binary.BigEndian.Uint32(w.hdr[0:4]))
			w.typ, w.rem = 0, n-8
			switch binary.BigEndian.Uint32(w.hdr[4:8]) {
			case codeSSL:
				c.ssl = 'S'
			case codeGSSENC:
				c.ssl = 'G'
			case codeCancel:
				c.goPassive(ErrCancelConn)
				return
			default:
				w.startup = false
				w.zSent++
			}
		} else {
			w.typ = w.hdr[0]
			w.rem = int(binary.BigEndian.Uint32(w.hdr[1:5])) - 4
			switch w.typ {
			case 'S', 'Q', 'F':
				w.zSent++
			}
			switch w.typ {
			case 'E', 'Q', 'F':
				w.execs = true
			}
		}
		if w.rem < 0 {
			c.goPassive(errors.New("wire: bad frontend message length"))
			return
		}
		if w.rem == 0 {
			c.endMsg()
		}
	}
}

// endMsg is called by scan at the end of each message of the driver's. At the
// end of a batch, a PrefixEachBatch prefix is armed again if the batch executed
// nothing, and spent if it did.
func (c *Conn) endMsg() {
	w := &c.w
	w.endMsg()
	if !w.ended {
		return
	}
	if c.each != nil && c.armed == nil {
		if w.execs {
			c.each = nil
		} else {
			c.armed = c.each
		}
	}
	w.execs = false
}

func (w *writer) endMsg() {
	switch w.typ {
	case 0, 'S', 'Q', 'F', 'c', 'f', 'p':
		// The startup message and password messages are followed by the server's
		// ReadyForQuery; so are Sync, Query and FunctionCall, and CopyDone or
		// CopyFail end the COPY a Query started.
		w.ended = true
	default:
		w.ended = false
	}
}

// Read reads the server's messages, without the replies to injected prefixes.
func (c *Conn) Read(p []byte) (int, error) {
	if !c.readMu.TryLock() {
		c.mu.Lock()
		c.goPassive(errConcurrentRead)
		c.mu.Unlock()
		return c.Conn.Read(p)
	}
	defer c.readMu.Unlock()
	r := &c.r
	n := 0
	for n < len(p) {
		if r.outPos < len(r.out) {
			k := copy(p[n:], r.out[r.outPos:])
			r.outPos += k
			n += k
			if r.outPos == len(r.out) {
				r.out, r.outPos = r.out[:0], 0
			}
			continue
		}
		if !r.raw && c.passive.Load() && r.rem == 0 && r.hdrN == 0 {
			r.raw = true
		}
		if r.pos == r.end {
			if n > 0 {
				return n, nil
			}
			if r.raw {
				return c.Conn.Read(p)
			}
			if r.rem > 0 && r.act == actPass && (r.rem >= len(p) || r.rem >= 8192) {
				// Fast path: the body of a large message goes straight into the
				// driver's buffer.
				m, err := c.Conn.Read(p[:min(len(p), r.rem)])
				r.rem -= m
				return m, err
			}
			if err := c.fill(); err != nil {
				return 0, err
			}
			continue
		}
		if r.raw {
			k := copy(p[n:], r.buf[r.pos:r.end])
			r.pos += k
			n += k
			continue
		}
		if r.rem > 0 {
			k := min(r.rem, r.end-r.pos)
			switch r.act {
			case actPass:
				k = copy(p[n:], r.buf[r.pos:r.pos+k])
				n += k
			case actHold:
				r.hold = append(r.hold, r.buf[r.pos:r.pos+k]...)
			}
			r.pos += k
			r.rem -= k
			if r.rem == 0 && r.act == actHold {
				c.finish()
			}
			continue
		}
		if r.ssl != 0 && r.hdrN == 0 {
			// The 1-byte answer to an SSLRequest or GSSENCRequest.
			b := r.buf[r.pos]
			r.pos++
			p[n] = b
			n++
			c.mu.Lock()
			c.ssl, r.ssl = 0, 0
			if b != 'N' {
				c.goPassive(ErrTLS)
				r.raw = true
			}
			c.mu.Unlock()
			continue
		}
		if r.hdrN == 0 && r.ssl == 0 && r.cur == nil && len(r.queue) == 0 {
			// Fast path: whole messages that pass as they are (not ReadyForQuery
			// or ErrorResponse, no injection pending) go out in one copy.
			i, room := r.pos, r.pos+len(p)-n
			for i+5 <= r.end {
				t := r.buf[i]
				l := int(binary.BigEndian.Uint32(r.buf[i+1 : i+5]))
				if t == 'Z' || t == 'E' || l < 4 || i+1+l > r.end || i+1+l > room {
					break
				}
				i += 1 + l
			}
			if i > r.pos {
				n += copy(p[n:], r.buf[r.pos:i])
				r.pos = i
				continue
			}
		}
		k := copy(r.hdr[r.hdrN:], r.buf[r.pos:r.end])
		r.hdrN += k
		r.pos += k
		if r.hdrN < 5 {
			continue
		}
		r.hdrN = 0
		c.begin()
		if r.act == actPass {
			k := copy(p[n:], r.hdr[:])
			n += k
			if k < 5 {
				r.out = append(r.out, r.hdr[k:]...)
			}
		}
		if r.rem == 0 && r.act == actHold {
			c.finish()
		}
	}
	return n, nil
}

// fill reads more of the server's stream into the reader's buffer, and takes the
// writer's news (injections, an SSLRequest) that the bytes read may answer: the
// writer registers both before it writes, so they are known by the time their
// answers arrive.
func (c *Conn) fill() error {
	r := &c.r
	if r.rerr != nil {
		err := r.rerr
		r.rerr = nil
		return err
	}
	if r.buf == nil {
		r.buf = make([]byte, 16<<10)
	}
	m, err := c.Conn.Read(r.buf)
	r.pos, r.end = 0, m
	c.mu.Lock()
	r.queue = append(r.queue, c.queue...)
	c.queue = c.queue[:0]
	r.ssl = c.ssl
	c.mu.Unlock()
	if m == 0 {
		if err == nil {
			err = errors.New("wire: empty read")
		}
		return err
	}
	r.rerr = err
	return nil
}

// begin decides what to do with the message whose header was just read.
func (c *Conn) begin() {
	r := &c.r
	r.typ = r.hdr[0]
	r.rem = int(binary.BigEndian.Uint32(r.hdr[1:5])) - 4
	r.act = actPass
	if r.rem < 0 {
		c.lost(fmt.Errorf("wire: bad backend message length %d", r.rem+4))
		return
	}
	if r.cur == nil && len(r.queue) > 0 {
		switch zr := c.zRead.Load(); {
		case r.queue[0].zBefore == zr:
			r.cur, r.step, r.reply = r.queue[0], 0, false
			r.queue = r.queue[1:]
		case r.queue[0].zBefore < zr:
			// More ReadyForQuery messages than the driver's messages ask for:
			// the count is off, and so would be the filtering.
			cur := r.queue[0]
			r.queue = r.queue[1:]
			r.cur = cur
			c.lost(errors.New("wire: lost count of ReadyForQuery messages"))
			return
		}
	}
	switch r.typ {
	case 'Z', 'E':
		if r.rem > 1<<20 {
			c.lost(errors.New("wire: oversized ErrorResponse"))
			return
		}
		r.act, r.hold = actHold, r.hold[:0]
		return
	case 'N', 'S', 'A':
		return // asynchronous: passed on wherever they come
	}
	cur := r.cur
	if cur == nil {
		return
	}
	if r.step == len(cur.steps) {
		r.reply = true
		return
	}
	want := cur.steps[r.step]
	switch {
	case want == 'x' && (r.typ == 'D' || cur.simple && r.typ == 'T'):
		r.act = actDrop // rows of a prefix statement
	case want == 'x' && (r.typ == 'C' || r.typ == 'I'):
		r.act = actDrop
		r.step++
	case r.typ == want:
		r.act = actDrop
		r.step++
	default:
		c.lost(fmt.Errorf("wire: unexpected message %q in the replies to a prefix", r.typ))
	}
}

// lost gives up following the stream: the current message and all that follows
// pass through.
func (c *Conn) lost(why error) {
	r := &c.r
	r.act, r.rem = actPass, max(r.rem, 0)
	r.raw = true
	c.mu.Lock()
	c.goPassive(why)
	c.mu.Unlock()
	if cur := r.cur; cur != nil {
		cur.out.Err, cur.out.Done = why, true
		c.publish(cur)
		r.cur = nil
	}
}

// finish handles a held message (ReadyForQuery, ErrorResponse) once its body is in
// r.hold, queueing what the driver gets for it.
func (c *Conn) finish() {
	r := &c.r
	body := r.hold
	cur := r.cur
	switch r.typ {
	case 'E':
		if cur != nil {
			if r.step < len(cur.steps) {
				// A prefix statement failed; the server skips to the Sync (or
				// ends the Query) and the driver reads this error as its answer.
				cur.out.Err = parseError(body)
				r.step = len(cur.steps)
				c.publish(cur)
			} else {
				cur.out.Aborted = true
				if cur.simple && cur.shift > 0 {
					body = shiftPosition(body, cur.shift)
				}
			}
			r.reply = true
		}
	case 'Z':
		if len(body) != 1 {
			c.lost(errors.New("wire: bad ReadyForQuery"))
			r.out = append(r.out, r.hdr[:]...)
			r.out = append(r.out, body...)
			return
		}
		c.status.Store(uint32(body[0]))
		c.zRead.Add(1)
		if cur != nil {
			if r.step < len(cur.steps) {
				c.lost(errors.New("wire: ReadyForQuery before the replies to the prefix"))
				r.out = append(r.out, r.hdr[:]...)
				r.out = append(r.out, body...)
				return
			}
			if cur.simple && !r.reply {
				// The driver's query text was empty: without the prefix the
				// server would have said EmptyQueryResponse.
				r.out = append(r.out, 'I', 0, 0, 0, 4)
			}
			cur.out.Done, cur.out.TxStatus = true, body[0]
			c.publish(cur)
			r.cur = nil
		}
	}
	r.out = append(r.out, r.typ)
	r.out = binary.BigEndian.AppendUint32(r.out, uint32(len(body)+4))
	r.out = append(r.out, body...)
}

// shiftPosition returns the fields of an ErrorResponse with its Position ('P')
// moved back by shift characters, the text inserted in front of the driver's
// query, if it points into the driver's text.
func shiftPosition(body []byte, shift int) []byte {
	e := parseError(body)
	pos, ok := e.Fields['P'], false
	n := 0
	for _, ch := range pos {
		if ch < '0' || ch > '9' {
			return body
		}
		n, ok = n*10+int(ch-'0'), true
	}
	if !ok || n <= shift {
		return body
	}
	var out []byte
	for len(body) > 1 {
		code := body[0]
		end := 1
		for end < len(body) && body[end] != 0 {
			end++
		}
		out = append(out, code)
		if code == 'P' {
			out = append(out, fmt.Sprint(n-shift)...)
		} else {
			out = append(out, body[1:end]...)
		}
		out = append(out, 0)
		if end < len(body) {
			end++
		}
		body = body[end:]
	}
	return append(out, 0)
}
