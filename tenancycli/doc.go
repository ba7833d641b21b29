// Package tenancycli is the command-line front end of a [tenancy.Migrator]: the
// migration workflow (status, upgrade, downgrade, fleet upgrade, force) and tenant
// management (create, drop, list) as subcommands that an application embeds in its
// own binary, so that the binary that serves the tenants is also the one that
// migrates them, with the same embedded migrations and configuration.
//
// # Embedding
//
// Build the Migrator and Registry as the application does, then hand the command
// line to [Main] and exit with the status it returns:
//
//	func main() {
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//		defer stop()
//		db, err := tenancy.Open("postgres", os.Getenv("DATABASE_URL"))
//		// ... handle err
//		reg, err := tenancy.NewRegistry(db)
//		m, err := tenancy.NewMigrator(db, reg, migrations.Shared, migrations.Tenant)
//		code := tenancycli.Main(ctx, os.Args[1:], tenancycli.Config{
//			Migrator: m, Registry: reg, Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin,
//		})
//		db.Close()
//		os.Exit(code)
//	}
//
// A binary that also serves HTTP dispatches on the first argument with
// [IsCommand] (the demo in examples/server does: `server status`, `server serve`).
//
// # Commands
//
//	migrate-shared                          bring the shared schema to its newest migration
//	upgrade <schema> [--version N] [--dry-run]
//	                                        upgrade one schema; --dry-run prints the plan and its SQL
//	downgrade <schema> [--steps N] [--dry-run]
//	                                        revert the newest N migrations (default 1)
//	fleet-upgrade [--concurrency N] [--tenants a,b,c] [--version N] [--canary N]
//	              [--max-failures N] [--dry-run] [--check-drift] [--json]
//	                                        upgrade every tenant (or the listed ones): live
//	                                        progress, then a per-tenant table; a first
//	                                        Ctrl-C drains, a second cancels
//	drift [<schema>] [--reference r]        compare tenants' structure with a reference
//	lint                                    warnings about the tenant migrations
//	status [<schema>] [--check] [--json]    one schema's state, or a table of all of them
//	force <schema> <version>                set the version and clear the dirty flag
//	create <name> <schema> [--host h]       register a tenant and create its schema
//	drop <schema> [--yes]                   drop a tenant, its schema and its data
//	list [--json]                           list the registered tenants
//	version [--json]                        library, Go and migration versions (no database)
//	help [<command>]                        usage
//
// Every command accepts --help. Flags may come before or after the positional
// arguments. A schema argument may be the shared schema where the [tenancy.Migrator]
// method allows it (upgrade, downgrade, force, status).
//
// # In pipelines
//
// status, list and version take --json for scripts and CI. Output to a reader
// that has gone away (`tenancy fleet-upgrade | head -1`) is dropped rather than
// killing the process with SIGPIPE: the command finishes and exits with its own
// code. Errors are printed once prefixed ("myapp: error: create tenant ...:
// tenant already exists"), with a hint naming the command to run.
//
// # Exit codes
//
// Scripts can rely on them:
//
//	0  ExitOK       the command did what was asked (also: nothing to do; --help)
//	1  ExitFailure  it failed, or any tenant of a fleet upgrade failed or was not run,
//	                or status --check found a dirty or outdated schema, or a drop was
//	                not confirmed
//	2  ExitUsage    the command line is wrong (unknown command or flag, missing or
//	                extra argument, malformed number): nothing was done
//
// # Interruption
//
// Cancelling the context given to [Main] (Ctrl-C, if the caller wires it to
// signal.NotifyContext) stops a command. For a fleet upgrade, no further tenant is
// started and the migrations running are cancelled: their tenants are left dirty at
// the migration that was running (see [tenancy.ErrDirty]); `status` lists them and
// `force` clears them once checked.
package tenancycli
