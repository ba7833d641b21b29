package tenancypgx

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/internal/session"
	"github.com/go-tenancy/tenancy/tenancytest"
)

// The reset is sent one statement per element (the extended protocol takes one
// per Parse): every element is a single statement, and together they are
// session.Reset(false) (the Pool keeps no named statements) and session.ResetLocal.
func TestResetSplit(t *testing.T) {
	if got := strings.Join(resetStmts, "; "); got != session.Reset(false) {
		t.Errorf("resetStmts join to %q", got)
	}
	if got := strings.Join(resetLocalStmts, "; "); got != session.ResetLocal {
		t.Errorf("resetLocalStmts join to %q", got)
	}
	for _, s := range append(append([]string{}, resetStmts...), resetLocalStmts...) {
		if strings.Contains(s, ";") {
			t.Errorf("%q holds more than one statement", s)
		}
	}
}

func TestTxControl(t *testing.T) {
	for q, want := range map[string][2]bool{
		"COMMIT":                     {true, false},
		" /* x /* y */ */ end work":  {true, false},
		"-- c\nabort":                {true, false},
		"ROLLBACK TO SAVEPOINT s":    {false, true},
		"rollback   to s":            {false, true},
		"ROLLBACK PREPARED 'x'":      {true, false},
		"PREPARE TRANSACTION 'x'":    {true, false},
		"PREPARE q AS SELECT 1":      {false, false},
		"START TRANSACTION":          {true, false},
		"SELECT 'COMMIT'":            {false, false},
		"committed_at":               {false, false},
		"/* unterminated":            {false, false},
		"SAVEPOINT s":                {false, false},
		"begin_date := 1":            {false, false},
		"UPDATE t SET x = 1; COMMIT": {false, false}, // the server refuses several commands (or the status check catches it)
	} {
		r, rt := txControl(q)
		if [2]bool{r, rt} != want {
			t.Errorf("txControl(%q) = %v, %v; want %v", q, r, rt, want)
		}
	}
}

// The Pool forgets a connection when pgxpool closes it.
func TestConnStateDroppedOnClose(t *testing.T) {
	dsn := tenancytest.NewDatabase(t)
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pc.MaxConns = 3
	var closed atomic.Int32
	pc.BeforeClose = func(*pgx.Conn) { closed.Add(1) }
	p, err := NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenancy.NewContext(context.Background(), tenancy.Tenant{Name: "a", Schema: "a"})
	var txs []*Tx
	for i := 0; i < 3; i++ {
		tx, err := p.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(p); n != 3 {
		t.Fatalf("%d connections tracked, want 3", n)
	}
	p.Close()
	if n := count(p); n != 0 || closed.Load() != 3 {
		t.Errorf("after Close: %d tracked, the configured BeforeClose ran %d times", n, closed.Load())
	}
}

func count(p *Pool) int {
	n := 0
	p.conns.m.Range(func(any, any) bool { n++; return true })
	return n
}
