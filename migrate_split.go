package tenancy

import "strings"

// This file is a small SQL lexer for PostgreSQL migration files. It does not
// parse SQL; it finds where statements end and which bare words (keywords and
// unquoted identifiers) each one contains, skipping everything a semicolon or a
// keyword can hide in: -- and nested /* */ comments, string constants (standard,
// E'' with backslash escapes, U&''), quoted identifiers, and dollar-quoted bodies
// with any tag ($$, $fn$). SQL-standard function bodies (BEGIN ATOMIC ... END)
// are kept in their statement. It is what the Migrator uses at load time to know
// which files control their own transactions or cannot run inside one, and it is
// meant to send a file one statement at a time where a server wants that.

// sqlStatement is one statement of a script, as splitStatements finds it.
type sqlStatement struct {
	// Text is the statement from its first token to the end of its last token,
	// without the terminating semicolon; comments inside it are kept.
	Text string
	// Start and End are Text's byte offsets in the script.
	Start, End int
	// Line is the 1-based line of the statement's first token.
	Line int
	// Words are the statement's bare words (keywords and unquoted identifiers),
	// upper-cased, in order; words inside quotes, comments and dollar-quoted
	// bodies are not included.
	Words []sqlWord
}

// sqlWord is a bare word of a statement and its byte offset in the script.
type sqlWord struct {
	Word string // upper-cased
	Pos  int
}

// has reports whether the statement's words include w (upper case).
func (s sqlStatement) has(w string) (sqlWord, bool) {
	for _, x := range s.Words {
		if x.Word == w {
			return x, true
		}
	}
	return sqlWord{}, false
}

// word returns the statement's i-th bare word, or "".
func (s sqlStatement) word(i int) string {
	if i < len(s.Words) {
		return s.Words[i].Word
	}
	return ""
}

// splitStatements splits sql into its statements at top-level semicolons.
// Statements consisting only of comments and white space are dropped. An
// unterminated quote, comment or dollar-quoted body extends to the end of the
// script (the server will reject it). It never panics, and the statements it
// returns are in order, do not overlap and lie within sql.
func splitStatements(sql string) []sqlStatement {
	var out []sqlStatement
	line := 1
	cur := sqlStatement{Start: -1}
	lastEnd := 0    // end of the current statement's last token
	atomic := 0     // nesting depth inside BEGIN ATOMIC ... END
	var prev string // the previous bare word of the statement
	token := func(start, end, startLine int) {
		if cur.Start < 0 {
			cur.Start, cur.Line = start, startLine
		}
		lastEnd = end
	}
	flush := func() {
		if cur.Start >= 0 {
			cur.End = lastEnd
			cur.Text = sql[cur.Start:cur.End]
			out = append(out, cur)
		}
		cur = sqlStatement{Start: -1}
		atomic, prev = 0, ""
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			depth := 0
			for i < len(sql) {
				if sql[i] == '/' && i+1 < len(sql) && sql[i+1] == '*' {
					depth++
					i += 2
				} else if sql[i] == '*' && i+1 < len(sql) && sql[i+1] == '/' {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					if sql[i] == '\n' {
						line++
					}
					i++
				}
			}
		case c == ';':
			if atomic > 0 {
				token(i, i+1, line)
				i++
				continue
			}
			flush()
			i++
		case c == '\'' || c == '"':
			start, startLine := i, line
			// E'...' (and e'...') allow backslash escapes; the E was read as a
			// word just before, ending at i.
			escapes := c == '\'' && i > 0 && (sql[i-1] == 'e' || sql[i-1] == 'E') &&
				(i == 1 || !isIdentByte(sql[i-2]))
			i = skipQuoted(sql, i, escapes, &line)
			token(start, i, startLine)
		case c == '$':
			start, startLine := i, line
			if end, ok := dollarTag(sql, i); ok {
				tag := sql[i:end]
				j := strings.Index(sql[end:], tag)
				if j < 0 {
					line += strings.Count(sql[i:], "\n")
					i = len(sql)
				} else {
					line += strings.Count(sql[i:end+j], "\n")
					i = end + j + len(tag)
				}
			} else {
				i++
				for i < len(sql) && sql[i] >= '0' && sql[i] <= '9' {
					i++
				}
			}
			token(start, i, startLine)
		case isIdentByte(c):
			j := i
			for j < len(sql) && (isIdentByte(sql[j]) || sql[j] == '$') {
				j++
			}
			w := asciiUpper(sql[i:j])
			token(i, j, line)
			cur.Words = append(cur.Words, sqlWord{Word: w, Pos: i})
			switch {
			case w == "ATOMIC" && prev == "BEGIN" && isRoutine(cur):
				atomic = 1
			case atomic > 0 && (w == "CASE" || w == "BEGIN"):
				atomic++
			case atomic > 0 && w == "END":
				atomic--
			}
			prev = w
			i = j
		default:
			token(i, i+1, line)
			i++
		}
	}
	flush()
	return out
}

// isRoutine reports whether s so far is a CREATE [OR REPLACE] FUNCTION or
// PROCEDURE statement, the only ones with a BEGIN ATOMIC body.
func isRoutine(s sqlStatement) bool {
	i := 1
	if s.word(1) == "OR" && s.word(2) == "REPLACE" {
		i = 3
	}
	return s.word(0) == "CREATE" && (s.word(i) == "FUNCTION" || s.word(i) == "PROCEDURE")
}

// txControl returns the statement's transaction keyword if it begins or ends a
// transaction (BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, PREPARE
// TRANSACTION, COMMIT PREPARED, ROLLBACK PREPARED), or "".
func (s sqlStatement) txControl() string {
	switch w := s.word(0); w {
	case "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT":
		return w
	case "PREPARE":
		if s.word(1) == "TRANSACTION" {
			return "PREPARE TRANSACTION"
		}
	}
	return ""
}

// noTransaction returns a short description if PostgreSQL refuses to run the
// statement inside a transaction block (25001), or "". concurrently is the offset
// of the CONCURRENTLY keyword when dropping it (CREATE INDEX, DROP INDEX,
// REINDEX) gives an equivalent statement that can run in a transaction; -1
// otherwise.
func (s sqlStatement) noTransaction() (what string, concurrently int) {
	w0, w1 := s.word(0), s.word(1)
	conc, hasConc := s.has("CONCURRENTLY")
	switch {
	case w0 == "CREATE" && (w1 == "INDEX" || w1 == "UNIQUE" && s.word(2) == "INDEX") && hasConc:
		return "CREATE INDEX CONCURRENTLY", conc.Pos
	case w0 == "DROP" && w1 == "INDEX" && hasConc:
		return "DROP INDEX CONCURRENTLY", conc.Pos
	case w0 == "REINDEX" && hasConc:
		return "REINDEX CONCURRENTLY", conc.Pos
	case w0 == "REINDEX" && (w1 == "DATABASE" || w1 == "SYSTEM" || w1 == "SCHEMA"):
		return "REINDEX " + w1, -1
	case w0 == "ALTER" && w1 == "TABLE" && hasConc:
		if _, ok := s.has("DETACH"); ok {
			return "DETACH PARTITION CONCURRENTLY", -1
		}
	case w0 == "VACUUM":
		return "VACUUM", -1
	case (w0 == "CREATE" || w0 == "DROP") && (w1 == "DATABASE" || w1 == "TABLESPACE"):
		return w0 + " " + w1, -1
	case w0 == "ALTER" && w1 == "SYSTEM":
		return "ALTER SYSTEM", -1
	case (w0 == "CREATE" || w0 == "DROP") && w1 == "SUBSCRIPTION":
		return w0 + " SUBSCRIPTION", -1
	case w0 == "ALTER" && w1 == "DATABASE":
		if _, ok := s.has("TABLESPACE"); ok {
			return "ALTER DATABASE SET TABLESPACE", -1
		}
	}
	return "", -1
}

// asciiUpper upper-cases ASCII letters only, as PostgreSQL folds keywords, and
// keeps every other byte (invalid UTF-8 included) as it is.
func asciiUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// addedEnumValue returns the string constant (with its quotes) of the value an
// ALTER TYPE ... ADD VALUE statement adds, or "". sql is the script s is part
// of.
func (s sqlStatement) addedEnumValue(sql string) string {
	if s.word(0) != "ALTER" || s.word(1) != "TYPE" {
		return ""
	}
	for i := 2; i+1 < len(s.Words); i++ {
		if s.Words[i].Word == "ADD" && s.Words[i+1].Word == "VALUE" {
			q := strings.IndexByte(sql[s.Words[i+1].Pos:s.End], '\'')
			if q < 0 {
				return ""
			}
			start := s.Words[i+1].Pos + q
			line := 0
			return sql[start:min(skipQuoted(sql, start, false, &line), s.End)]
		}
	}
	return ""
}
