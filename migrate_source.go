package tenancy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strings"

	"github.com/golang-migrate/migrate/v4/source"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// migrationSet is one set of migrations (the shared one or the tenant one), read
// in full when the Migrator is built: what was checked is what runs, and no run
// reads the file system again.
type migrationSet struct {
	kind  string        // "shared" or "tenant", for messages
	src   source.Driver // the iofs driver the set was read with
	files []migrationFile
	index map[uint]int // version → position in files
	// txControl reports whether some up migration contains a statement that begins
	// or ends a transaction (see txControlStatement).
	txControl bool
}

type migrationFile struct {
	version uint
	name    string // golang-migrate's identifier: the file name's title part
	up      string
	down    string
	hasDown bool
}

// loadSet reads every migration of fsys (files named like golang-migrate's
// NNN_title.up.sql and NNN_title.down.sql at the root of fsys) through the iofs
// source driver.
func loadSet(kind string, fsys fs.FS) (*migrationSet, error) {
	if fsys == nil {
		return nil, fmt.Errorf("%s migrations: nil fs.FS", kind)
	}
	src, err := iofs.New(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("%s migrations: %w", kind, err)
	}
	set := &migrationSet{kind: kind, src: src, index: make(map[uint]int)}
	v, err := src.First()
	for err == nil {
		f, ferr := readFile(src, v)
		if ferr != nil {
			return nil, fmt.Errorf("%s migrations: %w", kind, ferr)
		}
		if kw, _ := txControlStatement(f.up); kw != "" {
			set.txControl = true
		}
		set.index[v] = len(set.files)
		set.files = append(set.files, f)
		v, err = src.Next(v)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s migrations: %w", kind, err)
	}
	if len(set.files) == 0 {
		return nil, fmt.Errorf("%s migrations: no files named like 1_title.up.sql at the root of the fs.FS", kind)
	}
	return set, nil
}

func readFile(src source.Driver, v uint) (migrationFile, error) {
	if v == 0 {
		return migrationFile{}, errors.New("version 0 is not allowed: versions start at 1 (0 means no migration applied)")
	}
	if uint64(v) > math.MaxInt64 {
		return migrationFile{}, fmt.Errorf("version %d is too large", v)
	}
	f := migrationFile{version: v}
	r, name, err := src.ReadUp(v)
	if errors.Is(err, fs.ErrNotExist) {
		return f, fmt.Errorf("version %d has a down file but no up file", v)
	}
	if err != nil {
		return f, err
	}
	f.name = name
	if f.up, err = readAll(r); err != nil {
		return f, fmt.Errorf("version %d up: %w", v, err)
	}
	r, _, err = src.ReadDown(v)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return f, err
	default:
		if f.down, err = readAll(r); err != nil {
			return f, fmt.Errorf("version %d down: %w", v, err)
		}
		f.hasDown = true
	}
	return f, nil
}

func readAll(r io.ReadCloser) (string, error) {
	b, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return string(b), err
}

// head returns the newest version.
func (s *migrationSet) head() uint { return s.files[len(s.files)-1].version }

// known reports whether v is 0 (nothing applied) or one of the set's versions.
func (s *migrationSet) known(v uint) bool {
	_, ok := s.index[v]
	return ok || v == 0
}

// resolve turns a requested target (0 = the newest) into a version of the set.
func (s *migrationSet) resolve(target uint) (uint, error) {
	if target == 0 {
		return s.head(), nil
	}
	if _, ok := s.index[target]; !ok {
		return 0, fmt.Errorf("%w: %d is not a %s migration (newest: %d)", ErrUnknownVersion, target, s.kind, s.head())
	}
	return target, nil
}

// pending counts the migrations newer than v.
func (s *migrationSet) pending(v uint) int {
	n := 0
	for i := len(s.files) - 1; i >= 0 && s.files[i].version > v; i-- {
		n++
	}
	return n
}

// step is one migration to run: golang-migrate's (version, target version) pair
// plus what a Plan shows.
type step struct {
	file   *migrationFile
	down   bool
	target int // version after the step; -1 = none (golang-migrate's NilVersion)
}

func (st step) sql() string {
	if st.down {
		return st.file.down
	}
	return st.file.up
}

// upSteps returns the migrations that take a schema at cur to target (which the
// caller resolved), oldest first. A schema at or beyond target needs none: an
// upgrade never reverts anything. cur must be 0 or one of the set's versions.
func (s *migrationSet) upSteps(cur, target uint) ([]step, error) {
	if cur >= target {
		return nil, nil
	}
	if !s.known(cur) {
		return nil, fmt.Errorf("%w: the schema is at version %d, which is not a %s migration", ErrUnknownVersion, cur, s.kind)
	}
	var steps []step
	for i := range s.files {
		f := &s.files[i]
		if f.version > cur && f.version <= target {
			steps = append(steps, step{file: f, target: int(f.version)})
		}
	}
	return steps, nil
}

// downSteps returns the n migrations to revert from cur, newest first. It fails
// with ErrIrreversible, before anything runs, if one of them has no down file.
func (s *migrationSet) downSteps(cur uint, n int) ([]step, error) {
	if n < 1 {
		return nil, fmt.Errorf("steps must be at least 1, got %d", n)
	}
	if cur == 0 {
		return nil, errors.New("nothing to revert: no migration is applied")
	}
	i, ok := s.index[cur]
	if !ok {
		return nil, fmt.Errorf("%w: the schema is at version %d, which is not a %s migration", ErrUnknownVersion, cur, s.kind)
	}
	if n > i+1 {
		return nil, fmt.Errorf("cannot revert %d migrations: only %d are applied", n, i+1)
	}
	steps := make([]step, 0, n)
	for ; n > 0; n-- {
		f := &s.files[i]
		if !f.hasDown {
			return nil, fmt.Errorf("%w: version %d (%s)", ErrIrreversible, f.version, f.name)
		}
		target := -1
		if i > 0 {
			target = int(s.files[i-1].version)
		}
		steps = append(steps, step{file: f, down: true, target: target})
		i--
	}
	return steps, nil
}

// txControlStatement returns the first keyword and the line of the first
// statement of sql that begins or ends a transaction (BEGIN, START TRANSACTION,
// COMMIT, END, ROLLBACK, ABORT, PREPARE TRANSACTION), or "" if there is none.
//
// golang-migrate runs each migration file as one simple query, which PostgreSQL
// runs as one implicit transaction, and a file may contain its own BEGIN/COMMIT.
// [Migrator.CreateTenant] runs all tenant migrations in one transaction of its own,
// which such a statement would end early, so it falls back to running them one by
// one when this finds one. The scan skips comments, quoted identifiers, string
// constants (standard, E-prefixed and dollar-quoted); a false positive (END closing a
// BEGIN ATOMIC function body, say) only costs that fallback.
func txControlStatement(sql string) (keyword string, line int) {
	line = 1
	atStart := true
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			depth := 0
			for i < len(sql) {
				switch {
				case strings.HasPrefix(sql[i:], "/*"):
					depth++
					i += 2
				case strings.HasPrefix(sql[i:], "*/"):
					depth--
					i += 2
				default:
					if sql[i] == '\n' {
						line++
					}
					i++
				}
				if depth == 0 {
					break
				}
			}
		case c == ';':
			atStart = true
			i++
		case c == '\'' || c == '"':
			escapes := c == '\'' && i > 0 && (sql[i-1] == 'e' || sql[i-1] == 'E') &&
				(i == 1 || !isIdentByte(sql[i-2]))
			i = skipQuoted(sql, i, escapes, &line)
			atStart = false
		case c == '$':
			if end, ok := dollarTag(sql, i); ok {
				tag := sql[i:end]
				j := strings.Index(sql[end:], tag)
				if j < 0 {
					return "", 0 // unterminated: the server will reject the file anyway
				}
				line += strings.Count(sql[i:end+j], "\n")
				i = end + j + len(tag)
			} else {
				i++
			}
			atStart = false
		case isIdentByte(c):
			j := i
			for j < len(sql) && isIdentByte(sql[j]) {
				j++
			}
			if atStart {
				word := strings.ToUpper(sql[i:j])
				switch word {
				case "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT":
					return word, line
				case "PREPARE":
					k := j
					for k < len(sql) && (sql[k] == ' ' || sql[k] == '\t' || sql[k] == '\n' || sql[k] == '\r') {
						k++
					}
					e := k
					for e < len(sql) && isIdentByte(sql[e]) {
						e++
					}
					if strings.EqualFold(sql[k:e], "TRANSACTION") {
						return "PREPARE TRANSACTION", line
					}
				}
			}
			atStart = false
			i = j
		default:
			atStart = false
			i++
		}
	}
	return "", 0
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// skipQuoted returns the index after the quoted string or identifier that starts at
// i. A doubled quote stands for itself; with escapes (E'...'), so does a backslash
// followed by any byte.
func skipQuoted(sql string, i int, escapes bool, line *int) int {
	q := sql[i]
	i++
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == '\n':
			*line++
		case escapes && c == '\\':
			i++
			if i < len(sql) && sql[i] == '\n' {
				*line++
			}
		case c == q:
			if i+1 < len(sql) && sql[i+1] == q {
				i++
			} else {
				return i + 1
			}
		}
		i++
	}
	return i
}

// dollarTag reports whether a dollar-quote opening tag ($$ or $tag$) starts at i,
// and returns the index after it. $1 (a parameter) and a $ inside an identifier
// (a$b) are not tags.
func dollarTag(sql string, i int) (int, bool) {
	if i > 0 && isIdentByte(sql[i-1]) {
		return 0, false
	}
	j := i + 1
	if j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
		return 0, false
	}
	for j < len(sql) && isIdentByte(sql[j]) {
		j++
	}
	if j < len(sql) && sql[j] == '$' {
		return j + 1, true
	}
	return 0, false
}
