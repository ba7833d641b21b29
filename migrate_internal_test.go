package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/lib/pq"
)

func TestMigrateTxControlStatement(t *testing.T) {
	cases := []struct {
		sql  string
		kw   string
		line int
	}{
		{"CREATE TABLE a (id int);", "", 0},
		{"BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;", "BEGIN", 1},
		{"-- a comment\n\n  begin transaction;", "BEGIN", 3},
		{"CREATE TABLE a (id int);\nCommit;", "COMMIT", 2},
		{"START TRANSACTION; SELECT 1;", "START", 1},
		{"SELECT 1; END;", "END", 1},
		{"SELECT 1;\nROLLBACK;", "ROLLBACK", 2},
		{"SELECT 1; abort;", "ABORT", 1},
		{"PREPARE TRANSACTION 'x';", "PREPARE TRANSACTION", 1},
		{"PREPARE q AS SELECT 1;", "", 0},
		// Not statements: inside strings, identifiers, comments, dollar quotes.
		{"SELECT 'x; COMMIT'; SELECT 2;", "", 0},
		{"SELECT 'it''s; COMMIT';", "", 0},
		{`SELECT E'\'; COMMIT';`, "", 0},
		{`SELECT "a; COMMIT" FROM t;`, "", 0},
		{"/* outer /* nested; COMMIT */ still comment; COMMIT */ SELECT 1;", "", 0},
		{"-- ; COMMIT\nSELECT 1;", "", 0},
		{"CREATE FUNCTION f() RETURNS void AS $$ BEGIN PERFORM 1; END $$ LANGUAGE plpgsql;", "", 0},
		{"CREATE FUNCTION f() RETURNS void AS $body$ BEGIN; COMMIT; $x$ $body$ LANGUAGE sql;", "", 0},
		{"DO $$BEGIN\n COMMIT;\nEND$$;\nCOMMIT;", "COMMIT", 4},
		{"SELECT $1; COMMIT;", "COMMIT", 1},
		{"SELECT a$b; SELECT 1;", "", 0},
		// A standard-string containing a backslash does not escape the quote.
		{`SELECT 'C:\'; COMMIT;`, "COMMIT", 1},
		{"UPDATE t SET note = 'begin'; -- end\n", "", 0},
		// BEGIN ATOMIC bodies stay in their statement.
		{"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;", "", 0},
		{"CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END;\nCOMMIT;", "COMMIT", 2},
		{"SELECT 'unterminated", "", 0},
		{"SELECT $$unterminated", "", 0},
	}
	for _, c := range cases {
		kw, line := txControlStatement(c.sql)
		if kw != c.kw || line != c.line {
			t.Errorf("txControlStatement(%q) = %q, %d; want %q, %d", c.sql, kw, line, c.kw, c.line)
		}
	}
}

func FuzzMigrateTxControlStatement(f *testing.F) {
	for _, s := range []string{"BEGIN;", "SELECT '$$'; COMMIT;", "/* /* */", "$a$ $a$", `E'\\'`, "\"x\"\"y\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kw, line := txControlStatement(s)
		if (kw == "") != (line == 0) || line > strings.Count(s, "\n")+1 {
			t.Fatalf("txControlStatement(%q) = %q, %d", s, kw, line)
		}
		if kw != "" && !strings.Contains(strings.ToUpper(s), strings.Fields(kw)[0]) {
			t.Fatalf("txControlStatement(%q) found %q, which is not in the text", s, kw)
		}
	})
}

func TestMigrateLockClass(t *testing.T) {
	if want := int32(crc32.ChecksumIEEE([]byte("tenancy"))); lockClass != want {
		t.Fatalf("lockClass = %d, want %d", lockClass, want)
	}
	if lockObject("fleet", "shared", "schema_migrations") == lockObject("fleet", "other", "schema_migrations") {
		t.Fatal("fleet locks of different shared schemas collide")
	}
}

func TestMigrateParseVersionXML(t *testing.T) {
	const doc = "<table xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n\n<row>\n  <version>%s</version>\n  <dirty>%s</dirty>\n</row>\n\n</table>\n"
	cases := []struct {
		x       sql.NullString
		version int64
		dirty   bool
		err     bool
	}{
		{sql.NullString{}, -1, false, false},
		{sql.NullString{Valid: true, String: "<table xmlns:xsi=\"x\">\n\n</table>\n"}, -1, false, false},
		{sql.NullString{Valid: true, String: fmt.Sprintf(doc, "20240101120000", "false")}, 20240101120000, false, false},
		{sql.NullString{Valid: true, String: fmt.Sprintf(doc, "3", "true")}, 3, true, false},
		{sql.NullString{Valid: true, String: fmt.Sprintf(doc, "-1", "true")}, -1, true, false},
		{sql.NullString{Valid: true, String: fmt.Sprintf(doc, "x", "true")}, 0, false, true},
	}
	for _, c := range cases {
		v, d, err := parseVersionXML(c.x)
		if v != c.version || d != c.dirty || (err != nil) != c.err {
			t.Errorf("parseVersionXML(%q) = %d, %v, %v", c.x.String, v, d, err)
		}
	}
}

func TestMigrateTranslateErr(t *testing.T) {
	pqErr := &pq.Error{Code: "42P01", Message: "relation does not exist"}
	dbErr := database.Error{OrigErr: pqErr, Err: "migration failed", Query: []byte("SELECT secret FROM t")}
	for name, c := range map[string]struct {
		in   error
		is   error
		asPQ bool
	}{
		"lock timeout": {migrate.ErrLockTimeout, ErrLocked, false},
		"dirty":        {migrate.ErrDirty{Version: 3}, ErrDirty, false},
		"db error":     {dbErr, nil, true},
		"db error ptr": {&dbErr, nil, true},
		"joined":       {errors.Join(&dbErr, errors.New("unlock")), nil, true},
	} {
		got := translateMigrateErr(c.in)
		if c.is != nil && !errors.Is(got, c.is) {
			t.Errorf("%s: %v does not match %v", name, got, c.is)
		}
		var pe *pq.Error
		if c.asPQ && (!errors.As(got, &pe) || pe != pqErr) {
			t.Errorf("%s: the *pq.Error is not reachable from %v", name, got)
		}
		if strings.Contains(got.Error(), "SELECT secret") {
			t.Errorf("%s: the query leaked into %q", name, got)
		}
	}
}

func TestMigrateErrorLine(t *testing.T) {
	q := "CREATE TABLE a (id int);\n-- ünïcode\nSELECT nope FROM a;"
	pos := len([]rune("CREATE TABLE a (id int);\n-- ünïcode\nSELECT ")) + 1
	if got := errorLine(q, &pq.Error{Position: fmt.Sprint(pos)}); got != 3 {
		t.Fatalf("errorLine = %d, want 3", got)
	}
	if got := errorLine(q, errors.New("x")); got != 0 {
		t.Fatalf("errorLine without position = %d", got)
	}
}

func TestMigrateLoadClassifiesFiles(t *testing.T) {
	files := func(kv ...string) fstest.MapFS {
		m := fstest.MapFS{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
		}
		return m
	}
	// CONCURRENTLY in CREATE/DROP INDEX and REINDEX joins the creation's
	// transaction without the keyword; the file itself stays non-transactional
	// for upgrades of existing tenants.
	set, err := loadSet("tenant", files(
		"1_a.up.sql", "CREATE TABLE a (id int, note text);",
		"2_b.up.sql", "-- comment: CONCURRENTLY\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a_note ON a (note);",
		"2_b.down.sql", "DROP INDEX CONCURRENTLY a_note;",
		"3_c.up.sql", "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'CREATE INDEX CONCURRENTLY x' $$;",
	))
	if err != nil {
		t.Fatal(err)
	}
	if set.staged != nil {
		t.Fatalf("staged = %v, want one-transaction creation", set.staged.version)
	}
	f := set.files[1]
	if f.upTx.transactional() || f.upTx.noTx != "CREATE INDEX CONCURRENTLY" || f.upTx.noTxLine != 2 || !f.upTx.ok ||
		f.upTx.inTx != "-- comment: CONCURRENTLY\nCREATE INDEX  IF NOT EXISTS a_note ON a (note);" || f.downTx.transactional() {
		t.Fatalf("file 2 classified %+v / %+v", f.upTx, f.downTx)
	}
	if !set.files[0].upTx.transactional() || !set.files[2].upTx.transactional() {
		t.Fatal("plain files are not transactional")
	}
	for _, body := range []string{"BEGIN;\nCREATE TABLE b (id int);\nCOMMIT;", "VACUUM a;", "ALTER TABLE a DETACH PARTITION p CONCURRENTLY;"} {
		set, err := loadSet("tenant", files("1_a.up.sql", "CREATE TABLE a (id int);", "2_b.up.sql", body))
		if err != nil {
			t.Fatal(err)
		}
		if set.staged == nil || set.staged.version != 2 || set.files[1].upTx.transactional() {
			t.Fatalf("%q: not staged", body)
		}
	}
	// A value added to an enum cannot be used in the transaction that added it:
	// a later file that uses it makes creation go file by file.
	enum := func(third string) *migrationSet {
		set, err := loadSet("tenant", files(
			"1_a.up.sql", "CREATE TYPE state AS ENUM ('draft'); CREATE TABLE a (s state);",
			"2_b.up.sql", "ALTER TYPE state ADD VALUE IF NOT EXISTS 'it''s' BEFORE 'draft';",
			"3_c.up.sql", third))
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	if set := enum("INSERT INTO a VALUES ('it''s');"); set.staged == nil || set.staged.version != 3 ||
		!slices.Equal(set.files[1].upTx.enumValues, []string{"'it''s'"}) {
		t.Fatalf("use of a new enum value: staged %v, values %q", set.staged, set.files[1].upTx.enumValues)
	}
	if set := enum("INSERT INTO a VALUES ('draft');"); set.staged != nil {
		t.Fatal("no use of the new value, yet staged")
	}
}

func TestMigrateCreateGateBoundsLocks(t *testing.T) {
	g := &createGate{budget: 1000}
	ctx := context.Background()
	// Unmeasured, a creation runs alone.
	w, err := g.acquire(ctx, nil)
	if err != nil || w != 1000 {
		t.Fatalf("first acquire = %d, %v", w, err)
	}
	g.observe(300) // 300 + 300/8 + 8 = 345
	g.release(w)
	// Measured: two fit (690), a third waits until one is released.
	w1, _ := g.acquire(ctx, nil)
	w2, _ := g.acquire(ctx, nil)
	if w1 != 345 || w2 != 345 || g.used != 690 {
		t.Fatalf("weights %d %d, used %d", w1, w2, g.used)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := g.acquire(cctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("a third creation did not wait: %v", err)
	}
	got := make(chan int)
	go func() {
		w, _ := g.acquire(ctx, nil)
		got <- w
	}()
	g.release(w1)
	if w3 := <-got; w3 != 345 {
		t.Fatalf("third weight %d", w3)
	}
	// A creation bigger than the budget runs alone rather than never.
	g2 := &createGate{budget: 100, estimate: 5000}
	if w, err := g2.acquire(ctx, nil); err != nil || w != 100 {
		t.Fatalf("oversized = %d, %v", w, err)
	}
}
