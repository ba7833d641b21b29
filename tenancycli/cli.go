package tenancycli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/go-tenancy/tenancy"
)

// Exit codes returned by [Main].
const (
	// ExitOK: the command did what was asked.
	ExitOK = 0
	// ExitFailure: the command failed (for a fleet upgrade: any tenant failed or
	// was not run).
	ExitFailure = 1
	// ExitUsage: the command line was wrong; nothing was done.
	ExitUsage = 2
)

// ProgressMode says how fleet-upgrade shows its progress.
type ProgressMode int

const (
	// ProgressAuto (the default) draws a live progress bar if Stdout is a
	// terminal, and prints a line per tenant otherwise.
	ProgressAuto ProgressMode = iota
	// ProgressBar always draws the live bar (with carriage returns and ANSI
	// line clearing).
	ProgressBar
	// ProgressLines prints one plain line per tenant, for logs and pipes.
	ProgressLines
	// ProgressNone prints only the final table.
	ProgressNone
)

// Config is what [Main] needs. Migrator and Registry are required (but for help);
// the rest have defaults.
type Config struct {
	// Migrator runs the migrations. Required, except for help (see [Main]).
	Migrator *tenancy.Migrator
	// Registry lists the tenants: the one the Migrator was built with.
	// Required, except for help.
	Registry *tenancy.Registry
	// Stdout receives results and --help; nil means os.Stdout.
	Stdout io.Writer
	// Stderr receives errors and usage errors; nil means os.Stderr.
	Stderr io.Writer
	// Stdin is read for drop's confirmation (the schema name typed again) when
	// --yes is not given. nil means there is nobody to ask: drop then needs --yes.
	Stdin io.Reader
	// Name is the program name shown in usage text ("myapp" in "usage: myapp
	// status"); "" means "tenancy".
	Name string
	// SharedSchema is the Migrator's shared schema, shown first by status; ""
	// means [tenancy.DefaultSharedSchema].
	SharedSchema string
	// Progress says how fleet-upgrade shows progress (default [ProgressAuto]).
	Progress ProgressMode
}

// command is one subcommand. run parses its own flags from args (the arguments
// after the command name) and returns an exit code.
type command struct {
	name     string
	synopsis string // arguments, as shown in usage
	summary  string // one line, for the command list
	details  string // paragraphs shown by `<command> --help`
	run      func(c *cli, ctx context.Context, fs *flag.FlagSet, args []string) int
}

// commands is the fixed command table, in the order the help lists them.
var commands = []command{
	{"migrate-shared", "", "bring the shared schema to its newest migration",
		"Applies the shared migrations that are not applied yet, creating the shared schema\n" +
			"if needed. Safe to run at every deploy: a schema already at the newest version is\n" +
			"left alone.", (*cli).migrateShared},
	{"upgrade", "<schema> [--version N] [--dry-run]", "upgrade one schema (default: to the newest migration)",
		"Applies the migrations of a tenant's schema (or of the shared schema) up to --version\n" +
			"(0, the default, means the newest). Never reverts anything.\n" +
			"With --dry-run, prints the migrations that would run, with their SQL, and changes\n" +
			"nothing.", (*cli).upgrade},
	{"downgrade", "<schema> [--steps N] [--dry-run]", "revert the newest migrations of one schema",
		"Runs the down migrations of the newest --steps (default 1) applied migrations, newest\n" +
			"first. Every one must have a down file, or nothing runs.\n" +
			"With --dry-run, prints what would run, with its SQL, and changes nothing.", (*cli).downgrade},
	{"fleet-upgrade", "[--concurrency N] [--tenants a,b,c] [--version N] [--canary N] [--max-failures N] [--dry-run] [--check-drift] [--json]",
		"upgrade every tenant (or the listed ones)",
		"Brings the shared schema up to date, then upgrades every registered tenant (or only\n" +
			"those in --tenants) to --version (0, the default, means the newest), --concurrency at\n" +
			"a time (0: the Migrator's default). Tenants already there are skipped without\n" +
			"opening a connection for them, so running it again resumes an interrupted run.\n" +
			"One tenant's failure does not stop the others, unless --max-failures is reached;\n" +
			"--canary N upgrades N tenants first and stops if one fails. --dry-run lists per\n" +
			"tenant what would run and changes nothing; --check-drift compares each tenant's\n" +
			"structure with the reference. A first Ctrl-C finishes the running tenants and\n" +
			"starts no new ones (the report says which were not run); a second cancels them.\n" +
			"Shows progress, then a table of every tenant (--json: one JSON report instead).\n" +
			"Exits 1 if any tenant failed or was not run.", (*cli).fleetUpgrade},
	{"status", "[<schema>] [--check] [--json]", "show the migration state of one schema, or of all",
		"Without a schema, prints a table of the shared schema and every tenant: version,\n" +
			"dirty flag and pending migrations (on Citus, and the node of each tenant). With\n" +
			"one, prints that schema's state.\n" +
			"With --check, exits 1 if a schema shown is dirty or has pending migrations (for\n" +
			"deploy scripts). With --json, prints one JSON document instead of the table:\n" +
			"{\"shared\": {...}, \"tenants\": [{...}, ...]} (or one {...} for one schema), each\n" +
			"{\"schema\", \"tenant_id\", \"version\", \"head\", \"pending\", \"dirty\"} and, on Citus,\n" +
			"\"node\" (host:port).", (*cli).status},
	{"drift", "[<schema>] [--reference r]", "compare tenants' structure with a reference schema",
		"Compares the catalog of one tenant (or of every tenant at the reference's version)\n" +
			"with --reference (default: the clone template): tables, columns, constraints,\n" +
			"indexes, functions, triggers, types. Prints what differs; exits 1 if any drifted.", (*cli).drift},
	{"lint", "", "list warnings about the tenant migrations",
		"Prints the warnings found when the tenant migrations were loaded: files that create\n" +
			"extensions, use NOTIFY, or read the catalog without a schema filter. Exits 1 if\n" +
			"there are any.", (*cli).lint},
	{"force", "<schema> <version>", "set a schema's version and clear its dirty flag",
		"The way out of a dirty schema (a migration failed part-way): inspect the schema,\n" +
			"finish or undo the failed migration by hand, then record the version the schema\n" +
			"is really at. Runs no migration. 0 (or -1) means no migration applied.", (*cli).force},
	{"create", "<name> <schema> [--host h] [--node host:port]", "register a tenant and create its schema",
		"Registers a tenant and creates its schema at the newest tenant migration, atomically:\n" +
			"on failure neither the registry row nor the schema remains. On Citus, --node places\n" +
			"the new tenant on that node (checked before anything is created).", (*cli).create},
	{"move", "<schema> <host:port> [--logical-replication]", "move a tenant to another Citus node",
		"On a Citus coordinator, moves the tenant's distributed schema to the node with\n" +
			"citus_schema_move, copying its tables while writes to them wait (reads go on;\n" +
			"no write fails or is lost). --logical-replication does not block writes, but on\n" +
			"the Citus versions tested it lost writes made during the move: read the Go docs\n" +
			"of tenancy.LogicalReplication first. Waits for a running migration of the\n" +
			"tenant. 'status' shows where each tenant is.", (*cli).move},
	{"drop", "<schema> [--yes]", "drop a tenant: its registry row, its schema and all its data",
		"Deletes the tenant's registry row and drops its schema with everything in it.\n" +
			"Without --yes, asks you to type the schema name again.", (*cli).drop},
	{"list", "[--json]", "list the registered tenants",
		"Prints every registered tenant, in id order. With --json, prints a JSON array of\n" +
			"{\"id\", \"name\", \"schema\", \"host\", \"shard\", \"created_at\"} instead.", (*cli).list},
	{"version", "[--json]", "print the versions of the tenancy library, Go and the migrations",
		"Prints the tenancy module's version as built into this binary, the Go version, and\n" +
			"the newest shared and tenant migration versions. Needs no database.", (*cli).version},
}

// IsCommand reports whether name is one of the subcommands [Main] runs (or
// "help"), so that a binary that does other things too can dispatch on its first
// argument.
func IsCommand(name string) bool {
	return name == "help" || lookup(name) != nil
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// cli is one invocation of Main.
type cli struct {
	Config
	m   *tenancy.Migrator
	reg *tenancy.Registry
	cmd *command // the command being run
}

// Main runs the command args names (args excludes the program name: pass
// os.Args[1:]) and returns its exit code ([ExitOK], [ExitFailure] or
// [ExitUsage]). It writes results to cfg.Stdout and errors to cfg.Stderr, and
// never calls os.Exit. ctx bounds the whole command; cancel it to interrupt.
//
// Output to a reader that has gone away (a closed pipe: `... | head -1`) is
// dropped, and the command runs to its end and returns its own exit code:
// while Main runs, SIGPIPE is caught (os/signal), so that the process is not
// killed in the middle of a fleet upgrade.
//
// Help (the help command, and --help on any command) and usage errors need no
// database: cfg.Migrator and cfg.Registry may be nil for them, so that a binary can
// answer them before it connects. Main panics if a command that needs them runs
// without them: that is a programming error, not a usage error.
func Main(ctx context.Context, args []string, cfg Config) int {
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.Name == "" {
		cfg.Name = "tenancy"
	}
	if cfg.SharedSchema == "" {
		cfg.SharedSchema = tenancy.DefaultSharedSchema
	}
	// A reader that goes away (`fleet-upgrade | head -1`) must not kill the
	// command half-way through the fleet: with SIGPIPE delivered to a channel,
	// a write to a closed pipe returns EPIPE instead of ending the process,
	// and the writers below drop the rest of the output.
	defer catchSIGPIPE()()
	cfg.Stdout, cfg.Stderr = dropOnClose(cfg.Stdout), dropOnClose(cfg.Stderr)
	c := &cli{Config: cfg, m: cfg.Migrator, reg: cfg.Registry}

	if len(args) == 0 {
		c.usage(c.Stderr)
		return ExitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			c.usage(c.Stdout)
			return ExitOK
		}
		cmd := lookup(rest[0])
		if cmd == nil {
			return c.usageError(nil, "unknown command %q", rest[0])
		}
		// The command defines its flags as it parses: let it answer --help.
		c.cmd = cmd
		return cmd.run(c, ctx, c.newFlagSet(cmd), []string{"--help"})
	}
	cmd := lookup(name)
	if cmd == nil {
		return c.usageError(nil, "unknown command %q", name)
	}
	c.cmd = cmd
	return cmd.run(c, ctx, c.newFlagSet(cmd), rest)
}

// usage prints the list of commands.
func (c *cli) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s <command> [flags] [arguments]\n\ncommands:\n", c.Name)
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-15s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n"+
		"Exit codes: 0 ok, 1 failure (any tenant failed), 2 usage error.\n", c.Name)
}

// newFlagSet returns the command's flag set. It prints nothing itself: parse
// reports errors once, on Stderr, and prints --help on Stdout.
func (c *cli) newFlagSet(cmd *command) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// printHelp prints the running command's synopsis, details and flags to Stdout.
func (c *cli) printHelp(fs *flag.FlagSet) {
	w := c.Stdout
	fmt.Fprintf(w, "usage: %s %s %s\n\n%s\n", c.Name, c.cmd.name, c.cmd.synopsis, c.cmd.details)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nflags:")
		printFlags(w, fs)
	}
}

// printFlags is flag.PrintDefaults with the "--" the synopses use ("--dry-run",
// not "-dry-run"); either form is accepted on the command line.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		if def := f.DefValue; !isBoolFlag(f) && def != "" && def != "0" {
			usage += fmt.Sprintf(" (default %s)", def)
		}
		fmt.Fprintf(w, "%s\n    \t%s\n", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
	})
}

// usageError prints a usage error (and, for a command, how to get its help) and
// returns ExitUsage.
func (c *cli) usageError(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(c.Stderr, "%s: %s\n", c.Name, fmt.Sprintf(format, args...))
	if fs != nil {
		fmt.Fprintf(c.Stderr, "Run '%s %s --help' for usage.\n", c.Name, fs.Name())
	} else {
		fmt.Fprintf(c.Stderr, "Run '%s help' for the list of commands.\n", c.Name)
	}
	return ExitUsage
}

// parse parses args into fs's flags and positional arguments, in any order, and
// checks that there are between minArgs and maxArgs positional arguments. It returns the
// positional arguments, or ok = false and the exit code to return (ExitOK after
// --help).
func (c *cli) parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) (pos []string, code int, ok bool) {
	if pos, code, ok = c.parseNoDB(fs, args, minArgs, maxArgs); ok && (c.m == nil || c.reg == nil) {
		panic("tenancycli: Main: Config.Migrator and Config.Registry are required to run " + fs.Name())
	}
	return pos, code, ok
}

// parseNoDB is parse for a command that needs no Migrator (version).
func (c *cli) parseNoDB(fs *flag.FlagSet, args []string, minArgs, maxArgs int) (pos []string, code int, ok bool) {
	pos, err := parseInterleaved(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.printHelp(fs)
		return nil, ExitOK, false
	case err != nil:
		return nil, c.usageError(fs, "%s", dashes(err.Error())), false
	case len(pos) < minArgs:
		return nil, c.usageError(fs, "%s: missing arguments (usage: %s %s)", fs.Name(), fs.Name(), c.cmd.synopsis), false
	case len(pos) > maxArgs:
		return nil, c.usageError(fs, "%s: unexpected argument %q", fs.Name(), pos[maxArgs]), false
	}
	return pos, ExitOK, true
}

// parseInterleaved is flag.FlagSet.Parse that lets flags follow positional
// arguments ("upgrade acme --dry-run"), the way people type commands. A negative
// number is an argument, not a flag ("force acme -1"); "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), nil
		}
		if len(a) < 2 || a[0] != '-' || isNumber(a) {
			pos = append(pos, a)
			continue
		}
		// One flag at a time, with its value if it takes one and it is separate.
		chunk := []string{a}
		name := strings.TrimLeft(a, "-")
		if f := fs.Lookup(name); f != nil && !strings.Contains(name, "=") && !isBoolFlag(f) && i+1 < len(args) {
			chunk = append(chunk, args[i+1])
			i++
		}
		if err := fs.Parse(chunk); err != nil {
			return nil, err
		}
	}
	return pos, nil
}

// dashes rewrites the flag package's "-name" in its error messages ("flag
// provided but not defined: -bogus") to the "--name" the help shows.
func dashes(msg string) string {
	for _, p := range []string{"defined: -", "for flag -", "for -", "argument: -"} {
		msg = strings.Replace(msg, p, p+"-", 1)
	}
	return msg
}

func isNumber(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
