package tenancy

import (
	"testing"

	"github.com/lib/pq"
)

func TestMayChangeSearchPath(t *testing.T) {
	yes := []string{
		"SET search_path TO x", "set SEARCH_PATH = x", "SELECT set_config('search_path', 'x', false)",
		"select SET_CONFIG('x', 'y', false)", "RESET ALL", "reset search_path", "DISCARD ALL",
		"ROLLBACK", "rollback to savepoint s", "ABORT", "BEGIN; SET LOCAL search_path TO x; COMMIT",
	}
	no := []string{"SELECT 1", "INSERT INTO items (tenant) VALUES ($1)", "SELECT * FROM users WHERE id = $1", "", "set"}
	for _, q := range yes {
		if !mayChangeSearchPath(q) {
			t.Errorf("mayChangeSearchPath(%q) = false", q)
		}
	}
	for _, q := range no {
		if mayChangeSearchPath(q) {
			t.Errorf("mayChangeSearchPath(%q) = true", q)
		}
	}
}

func TestSetSQLQuotesAndAppends(t *testing.T) {
	c := defaultConfig()
	if err := WithSearchPath("shared").apply(c); err != nil {
		t.Fatal(err)
	}
	if err := c.finish(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.setSQL("acme", false), `SET search_path TO "acme", "shared"`; got != want {
		t.Errorf("setSQL = %s, want %s", got, want)
	}
	if got, want := c.setSQL("acme", true), `SET LOCAL search_path TO "acme", "shared"`; got != want {
		t.Errorf("setSQL local = %s, want %s", got, want)
	}
	if got, want := pq.QuoteIdentifier(`a"b`+"\x00c"), `"a""b"`; got != want {
		t.Errorf("quoteIdent = %s, want %s", got, want)
	}
}

func TestValidateSchemaNameRules(t *testing.T) {
	long := "a"
	for len(long) < 64 {
		long += "a"
	}
	cases := map[string]string{
		"":                      "empty",
		long:                    "longer than 63",
		"1abc":                  "starts with a digit",
		"Acme":                  "upper-case",
		"a-b":                   "only a-z",
		"a,public":              "only a-z",
		`a"; drop schema x; --`: "only a-z",
		"pg_temp":               "pg_",
		"public":                "system schema",
		"information_schema":    "system schema",
		"shared":                "reserved",
		"аcme":                  "only a-z", // Cyrillic а
		"acme\x00":              "only a-z",
	}
	for name, want := range cases {
		err := ValidateSchemaName(name, "shared")
		if err == nil {
			t.Errorf("%q accepted", name)
			continue
		}
		if !contains(err.Error(), want) {
			t.Errorf("%q: error %q does not say %q", name, err, want)
		}
	}
	for _, ok := range []string{"acme", "_x", "t01", long[:63]} {
		if err := ValidateSchemaName(ok, "shared"); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestIsTxControl(t *testing.T) {
	for q, want := range map[string]bool{
		"ROLLBACK TO SAVEPOINT s": true, "rollback to savepoint s;": true, "SAVEPOINT s": true,
		"RELEASE SAVEPOINT s": true, "COMMIT": true, "end": true, "ABORT": true, "ROLLBACK": true,
		"SELECT 1": false, "ROLLBACK; DROP TABLE x": false, "SAVEPOINT \"s\"": false,
		"": false, "ROLLBACKX": false, "SET search_path TO x": false,
	} {
		if got := isTxControl(q); got != want {
			t.Errorf("isTxControl(%q) = %v, want %v", q, got, want)
		}
	}
}
