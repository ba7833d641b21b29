package tenancy

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	cases := []struct {
		sql   string
		texts []string
		lines []int
	}{
		{"", nil, nil},
		{" -- only a comment\n/* and /* a nested */ one */ ;; \n", nil, nil},
		{"SELECT 1; SELECT 2", []string{"SELECT 1", "SELECT 2"}, []int{1, 1}},
		{"SELECT 1;\n\n  SELECT 2 -- two\n;", []string{"SELECT 1", "SELECT 2"}, []int{1, 3}},
		{"SELECT 'a;b', \"c;d\", E'\\';', $$;$$, $x$ $$; $x$; SELECT 3",
			[]string{`SELECT 'a;b', "c;d", E'\';', $$;$$, $x$ $$; $x$`, "SELECT 3"}, []int{1, 1}},
		{"SELECT 'it''s;'; SELECT U&'d\\0061t\\+000061';", []string{"SELECT 'it''s;'", `SELECT U&'d\0061t\+000061'`}, []int{1, 1}},
		{"CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN true THEN 1 END;\n  SELECT 2;\nEND;\nSELECT f();",
			[]string{"CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN true THEN 1 END;\n  SELECT 2;\nEND", "SELECT f()"}, []int{1, 6}},
		{"DO $body$ BEGIN PERFORM 1; END $body$; SELECT $1, a$b FROM t", []string{"DO $body$ BEGIN PERFORM 1; END $body$", "SELECT $1, a$b FROM t"}, []int{1, 1}},
		{"SELECT 1 /* ; */ + 2; SELECT '\n;\n' ;\nSELECT 3", []string{"SELECT 1 /* ; */ + 2", "SELECT '\n;\n'", "SELECT 3"}, []int{1, 1, 4}},
		{"SELECT 'unterminated; SELECT 2", []string{"SELECT 'unterminated; SELECT 2"}, []int{1}},
		{"SELECT $$ unterminated; SELECT 2", []string{"SELECT $$ unterminated; SELECT 2"}, []int{1}},
		{"SELECT 1 /* unterminated; SELECT 2", []string{"SELECT 1"}, []int{1}},
	}
	for _, c := range cases {
		sts := splitStatements(c.sql)
		var texts []string
		var lines []int
		for _, st := range sts {
			texts = append(texts, st.Text)
			lines = append(lines, st.Line)
		}
		if !slices.Equal(texts, c.texts) || !slices.Equal(lines, c.lines) {
			t.Errorf("splitStatements(%q) = %q at %v; want %q at %v", c.sql, texts, lines, c.texts, c.lines)
		}
	}
}

func TestSplitStatementsWords(t *testing.T) {
	sts := splitStatements(`create index "CONCURRENTLY" on t (x) where y = 'CONCURRENTLY'; -- CONCURRENTLY
Create Unique Index Concurrently i ON t ((lower(x)))`)
	if len(sts) != 2 {
		t.Fatalf("%d statements", len(sts))
	}
	if w, c := sts[0].noTransaction(); w != "" || c != -1 {
		t.Fatalf("quoted CONCURRENTLY taken for the keyword: %q %d", w, c)
	}
	w, c := sts[1].noTransaction()
	if w != "CREATE INDEX CONCURRENTLY" || !strings.HasPrefix(sts[1].Text[c-sts[1].Start:], "Concurrently i ON") {
		t.Fatalf("noTransaction = %q, %d", w, c)
	}
	for sql, want := range map[string]string{
		"VACUUM ANALYZE t":                       "VACUUM",
		"DROP INDEX CONCURRENTLY IF EXISTS i":    "DROP INDEX CONCURRENTLY",
		"REINDEX TABLE CONCURRENTLY t":           "REINDEX CONCURRENTLY",
		"REINDEX SCHEMA s":                       "REINDEX SCHEMA",
		"ALTER SYSTEM SET work_mem = '1MB'":      "ALTER SYSTEM",
		"CREATE DATABASE x":                      "CREATE DATABASE",
		"REFRESH MATERIALIZED VIEW CONCURRENTLY": "",
		"ALTER TYPE e ADD VALUE 'x'":             "",
		"CREATE TABLE concurrently (id int)":     "",
	} {
		if got, _ := splitStatements(sql)[0].noTransaction(); got != want {
			t.Errorf("noTransaction(%q) = %q, want %q", sql, got, want)
		}
	}
}

func FuzzSplitStatements(f *testing.F) {
	for _, s := range []string{
		"SELECT 1; SELECT 2", "BEGIN; COMMIT;", "SELECT '$$'; COMMIT;", "/* /* */", "/* /* */ */;x", "$a$ $a$;$b$",
		`E'\\';'`, "\"x\"\"y\";", "CREATE FUNCTION f() BEGIN ATOMIC SELECT 1; END; SELECT 2",
		"CREATE INDEX CONCURRENTLY i ON t (x);", "-- c\n;", "U&'\\0041';", "a$b$c$;$1;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		sts := splitStatements(sql)
		end := 0
		for _, st := range sts {
			if st.Start < end || st.End <= st.Start || st.End > len(sql) || st.Text != sql[st.Start:st.End] {
				t.Fatalf("statement %+v out of order or bounds in %q", st, sql)
			}
			if st.Line != strings.Count(sql[:st.Start], "\n")+1 {
				t.Fatalf("statement %q at line %d, want %d", st.Text, st.Line, strings.Count(sql[:st.Start], "\n")+1)
			}
			for _, w := range st.Words {
				if w.Pos < st.Start || w.Pos+len(w.Word) > st.End || !strings.EqualFold(sql[w.Pos:w.Pos+len(w.Word)], w.Word) {
					t.Fatalf("word %+v not in statement %q", w, st.Text)
				}
			}
			// A statement lexed alone is the same one statement.
			again := splitStatements(st.Text)
			if len(again) != 1 || again[0].Text != st.Text || len(again[0].Words) != len(st.Words) {
				t.Fatalf("statement %q of %q splits again into %d", st.Text, sql, len(again))
			}
			end = st.End
		}
		// What lies between statements holds no bare word.
		prev := 0
		for _, st := range append(sts, sqlStatement{Start: len(sql)}) {
			gap := sql[prev:st.Start]
			for _, g := range splitStatements(gap) {
				t.Fatalf("gap %q of %q holds statement %q", gap, sql, g.Text)
			}
			prev = st.End
		}
	})
}
