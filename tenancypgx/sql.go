package tenancypgx

import (
	"strings"

	"github.com/go-tenancy/tenancy/internal/session"
)

// The statements that clear an earlier tenant's state (session.Reset) and a
// transaction's (session.ResetLocal), one per element: the extended protocol
// takes one statement per Parse. The Pool runs every statement unnamed
// (QueryExecModeExec or the simple protocol, see NewWithConfig), so the reset
// drops every prepared statement with DEALLOCATE ALL, which costs the server
// nothing per statement, instead of the PL/pgSQL block that keeps a driver's
// named statements (it scans pg_prepared_statements, hundreds of µs with a full
// statement cache). Statements prepared by name on the connections of Pool()
// (pgx.Conn.Prepare, or a per-call cache mode) do not outlive the connection's
// next tenant switch.
var (
	resetStmts      = splitReset(session.Reset(false))
	resetLocalStmts = splitReset(session.ResetLocal)
)

func splitReset(all string) []string { return strings.Split(all, "; ") }

// firstWords returns the first two words of q in upper case, skipping white
// space and comments. It is only used to refuse transaction control in a Tx
// (a mistake, not an attack: the server's transaction status after every
// statement is what the Tx relies on).
func firstWords(q string) (string, string) {
	var words []string
	for len(words) < 2 {
		q = skipSpaceAndComments(q)
		if q == "" {
			break
		}
		i := strings.IndexFunc(q, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_')
		})
		if i == 0 {
			break // not a keyword
		}
		if i < 0 {
			i = len(q)
		}
		words = append(words, strings.ToUpper(q[:i]))
		q = q[i:]
	}
	for len(words) < 2 {
		words = append(words, "")
	}
	return words[0], words[1]
}

func skipSpaceAndComments(q string) string {
	for {
		q = strings.TrimLeft(q, " \t\r\n\f(")
		switch {
		case strings.HasPrefix(q, "--"):
			i := strings.IndexByte(q, '\n')
			if i < 0 {
				return ""
			}
			q = q[i+1:]
		case strings.HasPrefix(q, "/*"):
			// PostgreSQL's block comments nest.
			depth, i := 0, 0
			for i < len(q) {
				if strings.HasPrefix(q[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(q[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
			if depth != 0 {
				return ""
			}
			q = q[i:]
		default:
			return q
		}
	}
}

// txControl classifies a statement sent through a Tx: refused (it would end or
// nest the transaction behind the Tx's back) or rollbackTo (ROLLBACK TO
// SAVEPOINT, the one statement an aborted transaction accepts, so it is sent
// without the SET in front of it; it resolves no name).
func txControl(q string) (refused, rollbackTo bool) {
	w1, w2 := firstWords(q)
	switch w1 {
	case "BEGIN", "START", "COMMIT", "END", "ABORT":
		return true, false
	case "ROLLBACK":
		if w2 == "TO" {
			return false, true
		}
		return true, false
	case "PREPARE":
		return w2 == "TRANSACTION", false
	}
	return false, false
}
