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
	// staged is the first up migration that cannot be part of a tenant's
	// one-transaction creation (it controls its own transactions or has a
	// statement that cannot run in one, other than a CONCURRENTLY that can be
	// dropped), or nil: [Migrator.CreateTenant] then migrates file by file.
	staged *migrationFile
}

type migrationFile struct {
	version uint
	name    string // golang-migrate's identifier: the file name's title part
	up      string
	down    string
	hasDown bool
	// upTx and downTx classify the up and down SQL (see classify).
	upTx, downTx txClass
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
	for i := range set.files {
		if f := &set.files[i]; !f.upTx.ok && set.staged == nil {
			set.staged = f
		}
	}
	// A file that uses an enum value an earlier file added (as a string
	// constant) cannot run in the transaction that added it.
	for i := range set.files {
		for _, v := range set.files[i].upTx.enumValues {
			for j := i + 1; j < len(set.files) && set.staged == nil; j++ {
				if strings.Contains(set.files[j].up, v) {
					set.staged = &set.files[j]
				}
			}
		}
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
	f.upTx = classify(f.up)
	r, _, err = src.ReadDown(v)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return f, err
	default:
		if f.down, err = readAll(r); err != nil {
			return f, fmt.Errorf("version %d down: %w", v, err)
		}
		f.downTx = classify(f.down)
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

// transactional reports whether the step runs as one transaction together with
// the update of the version table, so that it never leaves the schema dirty.
func (st step) transactional() bool {
	if st.down {
		return st.file.downTx.transactional()
	}
	return st.file.upTx.transactional()
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
// COMMIT, END, ROLLBACK, ABORT, PREPARE TRANSACTION), or "" if there is none. See
// splitStatements for what the scan skips.
func txControlStatement(sql string) (keyword string, line int) {
	for _, st := range splitStatements(sql) {
		if kw := st.txControl(); kw != "" {
			return kw, st.Line
		}
	}
	return "", 0
}

// txClass is what loading found about one migration file's SQL.
type txClass struct {
	// own is the first transaction statement of the file (BEGIN, COMMIT, ...)
	// and where, "" if none: the file controls its own transactions.
	own     string
	ownLine int
	// noTx describes the first statement that cannot run inside a transaction
	// block (CREATE INDEX CONCURRENTLY, VACUUM, ...), "" if none.
	noTx     string
	noTxLine int
	// inTx is the file's SQL in a form that can run inside a larger transaction
	// on a schema nobody else can see yet (a tenant being created): the file
	// itself, or the file with CONCURRENTLY dropped from its CREATE INDEX, DROP
	// INDEX and REINDEX statements, which only matters to concurrent readers.
	// ok is false if there is no such form (own transactions, VACUUM, ...).
	inTx string
	ok   bool
	// enumValues are the string constants (quotes included) of the enum values
	// the file adds with ALTER TYPE ... ADD VALUE: PostgreSQL refuses to use such
	// a value in the transaction that added it (55P04), so a later file that
	// uses one cannot join the same creation transaction.
	enumValues []string
}

// classify reads the statements of one file.
func classify(sql string) txClass {
	var c txClass
	var cuts []int // offsets of CONCURRENTLY keywords to drop for inTx
	stripOK := true
	for _, st := range splitStatements(sql) {
		if kw := st.txControl(); kw != "" && c.own == "" {
			c.own, c.ownLine = kw, st.Line
		}
		if v := st.addedEnumValue(sql); v != "" {
			c.enumValues = append(c.enumValues, v)
		}
		if what, conc := st.noTransaction(); what != "" {
			if c.noTx == "" {
				c.noTx, c.noTxLine = what, st.Line
			}
			if conc >= 0 {
				cuts = append(cuts, conc)
			} else {
				stripOK = false
			}
		}
	}
	if c.own != "" || !stripOK {
		return c
	}
	c.ok = true
	if len(cuts) == 0 {
		c.inTx = sql
		return c
	}
	var b strings.Builder
	last := 0
	for _, p := range cuts {
		b.WriteString(sql[last:p])
		last = p + len("CONCURRENTLY")
	}
	b.WriteString(sql[last:])
	c.inTx = b.String()
	return c
}

// transactional reports whether a step's SQL can run as one transaction together
// with the version table's update: it neither controls its own transactions nor
// contains a statement that cannot run inside one.
func (c txClass) transactional() bool { return c.own == "" && c.noTx == "" }

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
			if i+1 == len(sql) {
				return len(sql) // a backslash at the very end escapes nothing
			}
			i++
			if sql[i] == '\n' {
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
