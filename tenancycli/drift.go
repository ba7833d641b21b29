package tenancycli

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
)

// The drift and lint commands (see the command table in cli.go).

// drift compares one tenant (or every tenant at the reference's version) with
// --reference (default: the clone template). Exit 1 if any drifted.
func (c *cli) drift(ctx context.Context, fs *flag.FlagSet, args []string) int {
	ref := fs.String("reference", "", "the `schema` to compare with (default: the clone template)")
	pos, code, ok := c.parse(fs, args, 0, 1)
	if !ok {
		return code
	}
	if len(pos) == 1 {
		r := *ref
		if r == "" {
			r = c.m.TemplateSchema()
		}
		if r == "" {
			return c.usageError(fs, "--reference is needed: the Migrator has no clone template")
		}
		d, err := c.m.Drift(ctx, pos[0], r)
		if err != nil {
			return c.fail(err)
		}
		fmt.Fprintln(c.Stdout, d.String())
		for _, s := range d.Missing {
			fmt.Fprintf(c.Stdout, "  missing: %s\n", s)
		}
		for _, s := range d.Extra {
			fmt.Fprintf(c.Stdout, "  extra:   %s\n", s)
		}
		if d.Drifted() {
			return ExitFailure
		}
		return ExitOK
	}
	reps, err := c.m.FleetDrift(ctx, *ref)
	if err != nil {
		return c.fail(err)
	}
	w := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SCHEMA\tVERSION\tRESULT\tMISSING\tEXTRA")
	drifted := 0
	for _, r := range reps {
		res := "same"
		switch {
		case !r.Compared:
			res = "not compared (other version or dirty)"
		case r.Drifted():
			res = "DRIFTED"
			drifted++
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%d\n", r.Schema, r.Version, res, len(r.Missing), len(r.Extra))
	}
	w.Flush()
	if drifted > 0 {
		fmt.Fprintf(c.Stderr, "%s: %d tenants drifted; '%s drift <schema>' lists the differences\n", c.Name, drifted, c.Name)
		return ExitFailure
	}
	return ExitOK
}

// lint prints the Migrator's warnings about the tenant migrations. Exit 1 if
// there are any.
func (c *cli) lint(_ context.Context, fs *flag.FlagSet, args []string) int {
	if _, code, ok := c.parse(fs, args, 0, 0); !ok {
		return code
	}
	ws := c.m.Lint()
	for _, w := range ws {
		fmt.Fprintln(c.Stdout, w.String())
	}
	if len(ws) > 0 {
		fmt.Fprintf(c.Stderr, "%s: %d warnings\n", c.Name, len(ws))
		return ExitFailure
	}
	fmt.Fprintln(c.Stdout, "no warnings")
	return ExitOK
}
