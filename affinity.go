package tenancy

import "sync"

// Connection affinity (SessionMode).
//
// database/sql hands out its most recently returned idle connection, whatever
// schema that connection's session is on. With a few tenants on a larger pool that
// makes most statements switch search_path (one round trip each) although an idle
// connection already on the right schema was sitting in the pool.
//
// database/sql has no hook to choose among its idle connections, but it tells the
// driver connection when it is returned (driver.Validator.IsValid) and then calls
// it again when it is next used. So each of its connections (a *conn) holds a
// physical connection it may trade: when a *conn is handed out and its first
// statement needs schema S while its physical connection is on another one, it
// swaps physical connections with an idle *conn whose physical connection is on
// S. The swap is two pointer exchanges under one mutex; no round trip, no
// allocation. The idle *conn stays idle in database/sql's pool, now holding the
// other physical connection.
//
// A physical connection only moves while nothing ties it to its *conn:
//   - the taker is at the first statement since database/sql handed it out (so a
//     *sql.Conn or a transaction keeps one session from its first statement to its
//     end), is not pinned, not in a transaction, and has no prepared statement;
//   - the giver is idle in database/sql's pool (returned, not yet used again),
//     has no prepared statement, and its session is on a known schema.
//
// Every method database/sql can call on a *conn first takes it off the idle list
// (touch), under the same mutex as the swap, so a *conn in use never has its
// physical connection changed under it.

// affinity is the idle list of one DB: idle connections by the schema their
// session is on, each schema's connections in a doubly linked list, most recently
// returned first.
type affinity struct {
	mu   sync.Mutex
	idle map[string]*conn
}

func newAffinity() *affinity { return &affinity{idle: make(map[string]*conn)} }

// park is called when database/sql takes cn back. cn is offered to other
// connections if its session is on a known schema and it has no prepared
// statement. database/sql may take a connection back twice without using it in
// between (a waiter it was handed to gave up), so cn may be listed already.
func (a *affinity) park(cn *conn) {
	a.mu.Lock()
	cn.parked = true
	if !cn.listed && cn.owner != "" && cn.stmts == 0 && cn.pinned == nil {
		a.push(cn)
	}
	a.mu.Unlock()
}

// touch is called first by every method of cn that database/sql calls: cn is in
// use, so its physical connection must stay where it is.
func (a *affinity) touch(cn *conn) {
	if !cn.parked {
		// cn has not been returned since it was last in use, so it is on no idle list.
		return
	}
	a.mu.Lock()
	if cn.listed {
		a.unlink(cn)
	}
	cn.parked = false
	a.mu.Unlock()
}

// take gives cn the physical connection of an idle connection whose session is on
// schema, and gives that connection cn's; it reports whether it found one.
//
// Only sessions already in use are traded: a miss does not take an unused idle
// connection to keep cn's session for later. That would spread the load over
// more server processes, which measured slower (BENCHMARKS.md) than the round
// trip it saves when client and server share a few cores.
func (a *affinity) take(cn *conn, schema string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	d := a.idle[schema]
	if d == nil {
		return false
	}
	a.unlink(d)
	cn.inner, d.inner = d.inner, cn.inner
	cn.w, d.w = d.w, cn.w
	cn.owner, d.owner = d.owner, cn.owner
	if d.owner != "" {
		a.push(d)
	}
	return true
}

// push puts cn at the head of its schema's list. a.mu is held.
func (a *affinity) push(cn *conn) {
	head := a.idle[cn.owner]
	cn.prev, cn.next = nil, head
	if head != nil {
		head.prev = cn
	}
	a.idle[cn.owner] = cn
	cn.listed = true
}

// unlink takes cn off its schema's list. a.mu is held.
func (a *affinity) unlink(cn *conn) {
	if cn.prev != nil {
		cn.prev.next = cn.next
	} else if cn.next != nil {
		a.idle[cn.owner] = cn.next
	} else {
		delete(a.idle, cn.owner)
	}
	if cn.next != nil {
		cn.next.prev = cn.prev
	}
	cn.prev, cn.next, cn.listed = nil, nil, false
}

// size returns the number of listed connections, or -1 if the lists are not
// well formed (for tests).
func (a *affinity) size() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	seen := make(map[*conn]bool)
	for schema, c := range a.idle {
		var prev *conn
		for ; c != nil; prev, c = c, c.next {
			if seen[c] || c.prev != prev || c.owner != schema || !c.listed || !c.parked {
				return -1
			}
			seen[c] = true
		}
	}
	return len(seen)
}
