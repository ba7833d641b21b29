package tenancycli

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestProgressLineFits: the progress bar's line is cut to fewer characters than
// the terminal has columns, whatever the schema's name, so it never wraps (a
// wrapped line would not be erased by the next redraw).
func TestProgressLineFits(t *testing.T) {
	long := "tenant_" + strings.Repeat("x", 56) // a 63-byte schema name
	for _, cols := range []int{20, 80, 132} {
		line := "[##############................] 12345/67890  ok 12340  failed 5  1m23.4s  " + long
		got := fit(line, cols)
		if n := utf8.RuneCountInString(got); n >= cols {
			t.Errorf("cols %d: %d characters: %q", cols, n, got)
		}
		if !strings.HasPrefix(line, strings.TrimSuffix(got, "…")) {
			t.Errorf("cols %d: %q is not a prefix of the line", cols, got)
		}
	}
	if got := fit("short", 80); got != "short" {
		t.Errorf("a short line was changed: %q", got)
	}
	for env, want := range map[string]int{"": 80, "100": 100, "5": 80, "x": 80} {
		if got := termColumns(func(string) string { return env }); got != want {
			t.Errorf("COLUMNS=%q: %d, want %d", env, got, want)
		}
	}
}
