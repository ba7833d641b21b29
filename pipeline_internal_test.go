package tenancy

import "testing"

func TestPipelinable(t *testing.T) {
	for q, want := range map[string]bool{
		`SELECT 1`:                                    true,
		"  select * from items":                       true,
		"SELECT*FROM items":                           true,
		"(SELECT 1) UNION (SELECT 2)":                 true,
		"\n\tINSERT INTO items (tenant) VALUES ('a')": true,
		`UPDATE items SET n = n + 1`:                  true,
		`DELETE FROM items`:                           true,
		`WITH x AS (SELECT 1) SELECT * FROM x`:        true,
		`VALUES (1)`:                                  true,
		`TABLE items`:                                 true,
		`MERGE INTO items USING x ON true WHEN MATCHED THEN DO NOTHING`: true,

		`SELECT 1;`:          false, // any semicolon
		`SELECT 1; SELECT 2`: false,
		`SELECT ';'`:         false,
		`VACUUM items`:       false,
		`CREATE INDEX CONCURRENTLY i ON items (n)`: false,
		`BEGIN`:                     false,
		`COMMIT`:                    false,
		`CALL p()`:                  false,
		`SHOW work_mem`:             false,
		`-- comment` + "\nSELECT 1": false,
		`/* c */ SELECT 1`:          false,
		`SELECTX 1`:                 false,
		// Every statement carries its SET, so one that moves search_path needs no
		// special path: the next statement sets it again.
		`SELECT set_config('search_path', 'x', false)`: true,
		`SELECT current_setting('search_path')`:        true,
		``:                                             false,
		`   `:                                          false,
	} {
		if got := pipelinable(q); got != want {
			t.Errorf("pipelinable(%q) = %v, want %v", q, got, want)
		}
	}
}
