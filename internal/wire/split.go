package wire

import (
	"errors"
	"strings"
)

// Split splits sql into its statements at the semicolons that end them, the way
// the server's lexer would: a semicolon inside a quoted string ('…', E'…' with
// backslash escapes), a quoted identifier ("…"), a dollar-quoted string
// ($tag$…$tag$, such as the body of a DO block) or a comment (-- …, nested
// /* … */) does not end a statement. Pieces with nothing but white space and
// comments are dropped; the others are returned without their semicolon and
// without surrounding white space. An unterminated quote or comment is an error.
func Split(sql string) ([]string, error) {
	var out []string
	start := 0
	content := false // the current piece has something besides space and comments
	flush := func(end int) {
		if content {
			out = append(out, strings.TrimSpace(sql[start:end]))
		}
		start, content = end+1, false
	}
	for i := 0; i < len(sql); {
		ch := sql[i]
		switch {
		case ch == ';':
			flush(i)
			i++
		case ch == '\'':
			// E'…' (or e'…') allows backslash escapes, when E is a token of its own.
			esc := i > 0 && (sql[i-1] == 'E' || sql[i-1] == 'e') && (i < 2 || !isIdent(sql[i-2]))
			j, err := skipQuoted(sql, i+1, '\'', esc)
			if err != nil {
				return nil, err
			}
			content, i = true, j
		case ch == '"':
			j, err := skipQuoted(sql, i+1, '"', false)
			if err != nil {
				return nil, err
			}
			content, i = true, j
		case ch == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				i = len(sql)
			} else {
				i += j + 1
			}
		case ch == '/' && i+1 < len(sql) && sql[i+1] == '*':
			j, err := skipComment(sql, i+2)
			if err != nil {
				return nil, err
			}
			i = j
		case ch == '$' && (i == 0 || !isIdent(sql[i-1])):
			content = true
			tag, ok := dollarTag(sql[i:])
			if !ok { // a parameter ($1) or a lone $
				i++
				continue
			}
			j := strings.Index(sql[i+len(tag):], tag)
			if j < 0 {
				return nil, errors.New("wire: unterminated dollar-quoted string in prefix")
			}
			i += len(tag) + j + len(tag)
		default:
			if ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' && ch != '\f' && ch != '\v' {
				content = true
			}
			i++
		}
	}
	flush(len(sql))
	return out, nil
}

func isIdent(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' || c >= 0x80
}

// skipQuoted returns the index just after the quote closing the string whose body
// starts at i; a doubled quote stands for itself, and with esc a backslash escapes
// the next byte.
func skipQuoted(s string, i int, q byte, esc bool) (int, error) {
	for i < len(s) {
		switch s[i] {
		case '\\':
			if esc {
				i += 2
				continue
			}
		case q:
			if i+1 < len(s) && s[i+1] == q {
				i += 2
				continue
			}
			return i + 1, nil
		}
		i++
	}
	return 0, errors.New("wire: unterminated quoted string or identifier in prefix")
}

// skipComment returns the index just after the end of the (nested) block comment
// whose body starts at i.
func skipComment(s string, i int) (int, error) {
	depth := 1
	for i+1 < len(s) {
		switch {
		case s[i] == '/' && s[i+1] == '*':
			depth++
			i += 2
		case s[i] == '*' && s[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return i, nil
			}
		default:
			i++
		}
	}
	return 0, errors.New("wire: unterminated comment in prefix")
}

// dollarTag returns the opening $tag$ (or $$) at the start of s.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		if c == '$' {
			return s[:j+1], true
		}
		if !(c == '_' || c|0x20 >= 'a' && c|0x20 <= 'z' || c >= 0x80 || j > 1 && c >= '0' && c <= '9') {
			return "", false
		}
	}
	return "", false
}
