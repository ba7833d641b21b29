package tenancy

import (
	"fmt"
	"regexp"
	"strings"
)

// LintWarning is something in a tenant migration file that works once but goes
// wrong with many tenant schemas ([Migrator.Lint]).
type LintWarning struct {
	// Version and Name identify the migration; Line is the line of the
	// statement (1-based); Down reports a down file.
	Version uint
	Name    string
	Line    int
	Down    bool
	// Message says what and why.
	Message string
}

func (w LintWarning) String() string {
	kind := "up"
	if w.Down {
		kind = "down"
	}
	return fmt.Sprintf("tenant migration %d (%s, %s) line %d: %s", w.Version, w.Name, kind, w.Line, w.Message)
}

var (
	lintNotify  = regexp.MustCompile(`(?i)\b(pg_notify|notify)\b`)
	lintCatalog = regexp.MustCompile(`(?i)\b(pg_catalog\.)?(pg_constraint|pg_class|pg_index|pg_indexes|pg_tables|pg_views|pg_type|pg_proc|pg_trigger|pg_attribute|pg_sequences|pg_policies)\b|\binformation_schema\.\w+`)
	// A statement that mentions one of these restricts its catalog query to a
	// schema (or to one relation, by regclass).
	lintSchemaFilter = regexp.MustCompile(`(?i)namespace|nspname|schemaname|table_schema|constraint_schema|trigger_schema|routine_schema|sequence_schema|current_schema|regclass|regnamespace|regtype`)
)

// Lint returns warnings about the tenant migrations, found when the Migrator was
// built (and logged then, with [WithMigrationLogger]): files that
//
//   - create an extension (CREATE EXTENSION): it lands in the first tenant's
//     schema, the second tenant's creation fails, and dropping the first tenant
//     drops it (create extensions in a shared migration, in a schema of their
//     own);
//   - send notifications (NOTIFY, pg_notify): channels are database-wide, so
//     every tenant's listeners hear every tenant's notifications unless the
//     channel or payload names the tenant;
//   - query the catalog (pg_constraint, pg_class, information_schema, ...)
//     without a schema filter: "add the constraint if none of that name exists"
//     finds tenant 1's constraint when it runs for tenant 2, which then lacks it
//     silently ([Migrator.Drift] shows such gaps).
//
// The checks read the SQL text (function bodies included) and can be wrong both
// ways; they never stop a migration.
func (m *Migrator) Lint() []LintWarning { return m.lint }

func lintSet(set *migrationSet) []LintWarning {
	var out []LintWarning
	for i := range set.files {
		f := &set.files[i]
		out = append(out, lintFile(f, f.up, false)...)
		if f.hasDown {
			out = append(out, lintFile(f, f.down, true)...)
		}
	}
	return out
}

func lintFile(f *migrationFile, sql string, down bool) []LintWarning {
	var out []LintWarning
	warn := func(line int, msg string) {
		out = append(out, LintWarning{Version: f.version, Name: f.name, Line: line, Down: down, Message: msg})
	}
	for _, st := range splitStatements(sql) {
		if st.word(0) == "CREATE" && st.word(1) == "EXTENSION" {
			warn(st.Line, "CREATE EXTENSION in a tenant migration puts the extension in the first tenant's schema; "+
				"create it in a shared migration instead")
		}
		text := stripComments(st.Text)
		if lintNotify.MatchString(text) {
			warn(st.Line, "NOTIFY channels are database-wide: put the tenant in the channel name or the payload")
		}
		if lintCatalog.MatchString(text) && !lintSchemaFilter.MatchString(text) {
			warn(st.Line, "queries the catalog without a schema filter: it sees every tenant's objects "+
				"(filter on the current schema, e.g. connamespace = current_schema()::regnamespace)")
		}
	}
	return out
}

// stripComments removes -- and /* */ comments outside quotes (roughly: enough
// for the lint patterns).
func stripComments(s string) string {
	if !strings.Contains(s, "--") && !strings.Contains(s, "/*") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			b.WriteByte('\n')
		case s[i] == '/' && i+1 < len(s) && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return b.String()
			}
			i += j + 3
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
