package tenancy

import (
	"testing"

	"github.com/lib/pq"
)

func TestSetSQLQuotesAndAppends(t *testing.T) {
	c := defaultConfig()
	if err := WithSearchPath("shared").apply(c); err != nil {
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

func TestTxControl(t *testing.T) {
	for q, want := range map[string]txKind{
		"ROLLBACK TO SAVEPOINT s": txSavepoint, "rollback to savepoint s;": txSavepoint, "SAVEPOINT s": txSavepoint,
		"RELEASE SAVEPOINT s": txSavepoint, "release s": txSavepoint, "ROLLBACK WORK TO s": txSavepoint,
		"COMMIT": txEnds, "end": txEnds, "ABORT": txEnds, "ROLLBACK": txEnds, "rollback work;": txEnds,
		"BEGIN": txEnds, "begin isolation level serializable": txEnds, "START TRANSACTION": txEnds,
		"PREPARE TRANSACTION x": txEnds, "commit and chain": txEnds,
		"SELECT 1": txNone, "ROLLBACK; DROP TABLE x": txNone, "SAVEPOINT \"s\"": txNone,
		"": txNone, "ROLLBACKX": txNone, "SET search_path TO x": txNone, "PREPARE q AS SELECT 1": txNone,
		"BEGIN; SELECT 1": txNone, "COMMIT -- done": txNone,
	} {
		if got := txControl(q); got != want {
			t.Errorf("txControl(%q) = %v, want %v", q, got, want)
		}
	}
}
