package tenancy

import (
	"database/sql/driver"
	"testing"
)

// fakePhys stands for a physical connection; id keeps each one distinct (pointers
// to zero-size values may be equal).
type fakePhys struct {
	driver.Conn
	id int
}

// TestAffinityList drives the idle list directly: parking, touching (from the
// head, the middle, the tail), trading for a hit, and trading for a cold
// connection on a miss.
func TestAffinityList(t *testing.T) {
	a := newAffinity()
	n := 0
	mk := func(schema string) *conn {
		n++
		return &conn{inner: &fakePhys{id: n}, aff: a, owner: schema}
	}
	x1, x2, x3, y, cold := mk("x"), mk("x"), mk("x"), mk("y"), mk("")
	for _, c := range []*conn{x1, x2, x3, y, cold} {
		a.park(c)
	}
	// database/sql can take a connection back twice without using it in between
	// (it handed it to a waiter that had given up).
	a.park(x2)
	// The connection on no known schema is not offered.
	if n := a.size(); n != 4 || cold.listed {
		t.Fatalf("size %d after parking 4 on a schema (one twice) and one on none", n)
	}
	// Touch the middle of x's list (x3, x2, x1), then its head, then its tail.
	for i, c := range []*conn{x2, x3, x1} {
		a.touch(c)
		if c.listed || c.parked {
			t.Fatalf("touch %d: still listed/parked", i)
		}
		if n := a.size(); n != 3-i {
			t.Fatalf("touch %d: size %d, want %d", i, n, 3-i)
		}
	}
	if _, ok := a.idle["x"]; ok {
		t.Fatal(`empty list for "x" left in the map`)
	}

	// A connection on x needing y trades with the idle y: a hit, no switch.
	taker := mk("x")
	yPhys, xPhys := y.inner, taker.inner
	if !a.take(taker, "y") {
		t.Fatal("take(y) missed with an idle connection on y")
	}
	if taker.owner != "y" || taker.inner != yPhys {
		t.Fatalf("taker on %q after the trade, want y and y's physical connection", taker.owner)
	}
	if y.owner != "x" || y.inner != xPhys || !y.listed || a.idle["x"] != y {
		t.Fatalf("giver on %q, listed %v: want x, listed", y.owner, y.listed)
	}
	// Needing z, which no idle connection is on: no trade.
	if a.take(taker, "z") || taker.inner != yPhys {
		t.Fatal("take(z) traded without an idle connection on z")
	}
	// A taker on no known schema leaves nothing to list on the giver's side.
	blank := mk("")
	if !a.take(blank, "x") || y.listed || a.size() != 0 {
		t.Fatalf("after trading with a blank taker: giver listed %v, size %d", y.listed, a.size())
	}

	// A connection with a prepared statement is not offered.
	withStmt := mk("w")
	withStmt.stmts = 1
	a.park(withStmt)
	if withStmt.listed {
		t.Fatal("connection with a prepared statement listed")
	}
	// Close takes a connection off the list.
	a.park(x1)
	if !x1.listed {
		t.Fatal("x1 not listed")
	}
	if err := x1.Close(); err != nil {
		t.Fatal(err)
	}
	if x1.listed || a.size() != 0 {
		t.Fatal("closed connection still listed")
	}
}

func (*fakePhys) Close() error { return nil }
