package tenancy

import (
	"database/sql/driver"
	"testing"
)

type fakePhys struct{ driver.Conn }

// TestAffinityList drives the idle list directly: parking, touching (from the
// head, the middle, the tail), trading for a hit, and trading for a cold
// connection on a miss.
func TestAffinityList(t *testing.T) {
	a := newAffinity()
	mk := func(schema string) *conn {
		return &conn{inner: &fakePhys{}, aff: a, cur: schema}
	}
	x1, x2, x3, y, cold := mk("x"), mk("x"), mk("x"), mk("y"), mk("")
	for _, c := range []*conn{x1, x2, x3, y, cold} {
		a.park(c)
	}
	// database/sql can take a connection back twice without using it in between
	// (it handed it to a waiter that had given up).
	a.park(x2)
	if n := a.size(); n != 5 {
		t.Fatalf("size %d after parking 5 (one twice)", n)
	}
	// Touch the middle of x's list (x3, x2, x1), then its head, then its tail.
	for i, c := range []*conn{x2, x3, x1} {
		a.touch(c)
		if c.listed || c.parked {
			t.Fatalf("touch %d: still listed/parked", i)
		}
		if n := a.size(); n != 4-i {
			t.Fatalf("touch %d: size %d, want %d", i, n, 4-i)
		}
	}
	if _, ok := a.idle["x"]; ok {
		t.Fatal(`empty list for "x" left in the map`)
	}

	// A connection on x needing y trades with the idle y: a hit, no switch.
	taker := mk("x")
	yPhys := y.inner
	if !a.take(taker, "y") {
		t.Fatal("take(y) missed with an idle connection on y")
	}
	if taker.cur != "y" || taker.inner != yPhys {
		t.Fatalf("taker on %q after the trade, want y and y's physical connection", taker.cur)
	}
	if y.cur != "x" || !y.listed || a.idle["x"] != y {
		t.Fatalf("giver on %q, listed %v: want x, listed", y.cur, y.listed)
	}

	// Needing z (nobody has it): the taker keeps its y session in the pool by
	// taking the cold connection, and must switch.
	coldPhys := cold.inner
	if a.take(taker, "z") {
		t.Fatal("take(z) reported a hit")
	}
	if taker.cur != "" || taker.inner != coldPhys {
		t.Fatalf("taker on %q: want the cold connection", taker.cur)
	}
	if cold.cur != "y" || a.idle["y"] != cold {
		t.Fatalf("cold giver on %q, want y, listed", cold.cur)
	}
	// Still needing z, now on no schema: nothing to gain from another trade.
	if a.take(taker, "z") || taker.inner != coldPhys {
		t.Fatal("a connection on no schema traded for nothing")
	}

	// A connection with a prepared statement is not offered.
	withStmt := mk("w")
	withStmt.stmts = 1
	a.park(withStmt)
	if withStmt.listed {
		t.Fatal("connection with a prepared statement listed")
	}
	// Close takes a connection off the list.
	if err := y.Close(); err != nil {
		t.Fatal(err)
	}
	if y.listed || a.idle["x"] != nil {
		t.Fatal("closed connection still listed")
	}
}

func (*fakePhys) Close() error { return nil }
