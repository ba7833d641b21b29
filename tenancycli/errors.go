package tenancycli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-tenancy/tenancy"
)

// fail prints err, with a hint on what to do about it when there is a usual
// remedy, and returns ExitFailure.
func (c *cli) fail(err error) int {
	fmt.Fprintf(c.Stderr, "%s: error: %s\n", c.Name, c.message(err))
	if h := c.hint(err); h != "" {
		fmt.Fprintf(c.Stderr, "hint: %s\n", h)
	}
	return ExitFailure
}

// message is err's text for a person at a shell: without the "tenancy: " that
// each wrapped layer of the library's errors begins with (which doubled up as
// "tenancy: create tenant ...: tenancy: tenant already exists"), and with the
// library's advice to "call Migrator.Force" turned into the command to run.
func (c *cli) message(err error) string {
	msg := strings.TrimPrefix(err.Error(), "tenancy: ")
	msg = strings.ReplaceAll(msg, ": tenancy: ", ": ")
	return strings.ReplaceAll(msg, "call Migrator.Force", "run '"+c.Name+" force'")
}

func (c *cli) hint(err error) string {
	var me *tenancy.MigrationError
	se, _ := tenancy.AsServerError(err)
	switch {
	case errors.Is(err, tenancy.ErrDirty):
		schema, version := "<schema>", "<version>"
		if errors.As(err, &me) {
			schema, version = me.Schema, fmt.Sprint(me.Version)
		}
		return fmt.Sprintf("a migration that controls its own transactions failed part-way (a migration that "+
			"runs as one transaction never leaves a schema dirty). Inspect the schema and repair it by hand, "+
			"then record the version it is really at: %s force %s <version> (the failed one was %s)",
			c.Name, schema, version)
	case errors.Is(err, tenancy.ErrLocked):
		return "another migration of this schema is running; try again when it has finished"
	case errors.Is(err, tenancy.ErrUnknownTenant):
		return fmt.Sprintf("'%s list' shows the registered tenants", c.Name)
	case errors.Is(err, tenancy.ErrIrreversible):
		return "a migration to revert has no down file; nothing was changed"
	case se.Code == "42P01": // undefined_table
		return fmt.Sprintf("has the shared schema been created? Run '%s migrate-shared'", c.Name)
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	return ""
}

// ms formats a duration for people: milliseconds with at most one decimal
// below a second, else seconds.
func ms(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}
