package wire_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/go-tenancy/tenancy/internal/wire"
)

// event is one step of a recorded session: a Prefix call, or a driver write and
// how much the server had sent (and the wrapper had read) before it.
type event struct {
	prefix string
	write  []byte
	srvLen int
}

// recorder sits below the wrapper and logs the server's bytes and the writes.
type recorder struct {
	net.Conn
	mu     sync.Mutex
	srv    []byte
	events *[]event
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.srv = append(r.srv, p[:n]...)
	r.mu.Unlock()
	return n, err
}

// tap sits above the wrapper and logs what the driver reads; it records the
// driver's writes (not the wrapper's) as events.
type tap struct {
	*wire.Conn
	rec  *recorder
	mu   sync.Mutex
	read []byte
}

func (t *tap) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	t.mu.Lock()
	t.read = append(t.read, p[:n]...)
	t.mu.Unlock()
	return n, err
}

func (t *tap) Write(p []byte) (int, error) {
	t.rec.mu.Lock()
	*t.rec.events = append(*t.rec.events, event{write: append([]byte(nil), p...), srvLen: len(t.rec.srv)})
	t.rec.mu.Unlock()
	return t.Conn.Write(p)
}

var errWouldBlock = errors.New("would block")

// gated serves srv up to limit bytes, then says it would block.
type gated struct {
	net.Conn
	srv       []byte
	delivered int
	limit     int
	rng       *rand.Rand
}

func (g *gated) Read(p []byte) (int, error) {
	if g.delivered == len(g.srv) {
		return 0, io.EOF
	}
	if g.delivered >= g.limit {
		return 0, errWouldBlock
	}
	n := min(len(p), g.limit-g.delivered, 1+g.rng.IntN(300))
	n = copy(p, g.srv[g.delivered:g.delivered+n])
	g.delivered += n
	return n, nil
}

func (g *gated) Write(p []byte) (int, error) { return len(p), nil }

// TestRecordedReplay records a real pgx session with prefixes (plain, failing,
// batch, COPY, large rows), then replays its backend stream through a fresh
// wrapper with random read splits, writes and prefixes at the same points, and
// checks the driver would have read exactly the same bytes.
func TestRecordedReplay(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	var events []event
	var tp *tap
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AfterNetConnect = func(ctx context.Context, _ *pgconn.Config, nc net.Conn) (net.Conn, error) {
		rec := &recorder{Conn: nc, events: &events}
		tp = &tap{Conn: wire.Wrap(rec), rec: rec}
		return tp, nil
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	arm := func(sql string) {
		tp.rec.mu.Lock()
		events = append(events, event{prefix: sql})
		tp.rec.mu.Unlock()
		if err := tp.Conn.Prefix(sql); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range modes {
		arm("SET search_path TO a; SELECT 'noise'")
		var v string
		if err := conn.QueryRow(ctx, "SELECT v FROM t WHERE $1::int = 1", m, 1).Scan(&v); err != nil || v != "a" {
			t.Fatalf("%s: %q %v", m, v, err)
		}
		arm("SELECT 1/0")
		if _, err := conn.Exec(ctx, "INSERT INTO t VALUES ($1)", m, "x"); err == nil {
			t.Fatal("prefix failure not reported")
		}
		arm("SET search_path TO b")
		rows, _ := conn.Query(ctx, "SELECT repeat(v, 3000) FROM t, generate_series(1, 300)", m)
		n := 0
		for rows.Next() {
			n++
		}
		if rows.Err() != nil || n != 300 {
			t.Fatalf("%s: %d rows, %v", m, n, rows.Err())
		}
	}
	arm("SET search_path TO a")
	b := &pgx.Batch{}
	b.Queue("SELECT v FROM t")
	b.Queue("UPDATE t SET v = v")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	arm("SET search_path TO b")
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"v"}, pgx.CopyFromRows([][]any{{"c1"}, {"c2"}})); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	tp.rec.mu.Lock()
	srv := tp.rec.srv
	tp.rec.mu.Unlock()
	tp.mu.Lock()
	want := tp.read
	tp.mu.Unlock()

	for seed := uint64(0); seed < 12; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		g := &gated{srv: srv, rng: rng}
		c := wire.Wrap(g)
		var got []byte
		buf := make([]byte, 70000)
		drain := func() error {
			for {
				n, err := c.Read(buf[:1+rng.IntN(len(buf)-1)])
				got = append(got, buf[:n]...)
				if err != nil {
					return err
				}
			}
		}
		for _, e := range events {
			if e.write == nil {
				if err := c.Prefix(e.prefix); err != nil {
					t.Fatal(err)
				}
				continue
			}
			g.limit = e.srvLen
			if err := drain(); !errors.Is(err, errWouldBlock) && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			if _, err := c.Write(e.write); err != nil {
				t.Fatalf("seed %d: replayed write: %v", seed, err)
			}
		}
		g.limit = len(srv)
		if err := drain(); !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("seed %d: replay read %d bytes, the driver read %d; first difference at %d", seed, len(got), len(want), firstDiff(got, want))
		}
	}
	if len(want) >= len(srv) {
		t.Fatalf("the recording filtered nothing (%d of %d bytes)", len(want), len(srv))
	}
}
