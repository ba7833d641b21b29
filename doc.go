// Package tenancy gives a Go web application schema-per-tenant PostgreSQL: every
// tenant gets its own schema with its own tables and its own migration version table,
// shared tables live in one shared schema, and every query runs in the schema of the
// tenant in its context.Context, or fails.
//
// # The pieces
//
//   - A [TenantResolver] finds the tenant an *http.Request names: [HeaderResolver]
//     (the "Tenant" header), [HostResolver], [SubdomainResolver], [PathResolver], and
//     the chains [FirstOf] and [AllAgree].
//   - The [Registry] maps a tenant's schema, host or name to its row in the tenant
//     registry table (shared.tenants), behind a bounded cache.
//   - [Middleware] resolves, looks up and puts the [Tenant] in the request context,
//     failing closed with RFC 9457 problem responses.
//   - [DB] wraps *sqlx.DB: each query runs in the schema of the tenant in its
//     context. [DB.Shared] reaches the shared schema.
//   - [Migrator] runs golang-migrate migrations from an fs.FS for the shared schema
//     and for each tenant schema, creates and drops tenants, and upgrades the fleet.
//
// # Quick start
//
// A complete program that runs against an empty database is in
// examples/quickstart (and the README); its heart:
//
//	db, err := tenancy.Open("postgres", os.Getenv("DATABASE_URL"))
//	reg, err := tenancy.NewRegistry(db)
//	m, err := tenancy.NewMigrator(db, reg, sharedMigrations, tenantMigrations)
//	_, err = m.MigrateShared(ctx) // the registry table, then the shared migrations
//	_, err = m.CreateTenant(ctx, tenancy.NewTenant{Name: "Acme", Schema: "acme"})
//	mw := tenancy.Middleware(tenancy.HeaderResolver{}, reg)
//
//	http.Handle("/users/", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		var users []User
//		// Runs in the schema of the request's tenant, and nowhere else.
//		err := db.SelectContext(r.Context(), &users, `SELECT id, email FROM users ORDER BY id`)
//		...
//	})))
//
// Outside HTTP (jobs, CLIs), get a tenant's context from the registry:
//
//	ctx, err := reg.Context(ctx, tenancy.SchemaKey("acme"))
//
// # Work for every tenant, tenant fields and suspension
//
// [Registry.ForEach] is the loop for jobs that run for every tenant (cron,
// reports, re-indexing): bounded concurrency, a context per tenant, one
// tenant's failure or panic reported for it alone, cancellation that starts no
// new tenant:
//
//	rep, err := reg.ForEach(ctx, tenancy.JobOptions{Concurrency: 8}, func(ctx context.Context, t tenancy.Tenant) error {
//		_, err := db.ExecContext(ctx, `REFRESH MATERIALIZED VIEW report`)
//		return err
//	})
//
// [WithTenantColumns] reads the application's own registry columns (plan,
// status) with every lookup, for [Tenant.Attr] in handlers; [WithSuspended]
// refuses a suspended tenant with 403 before any query runs.
//
// # How a query reaches its schema
//
// The DB's connections wrap the driver's. database/sql passes each statement's
// context down to the connection, which reads the tenant from it and makes sure the
// session's search_path is that tenant's schema, and only that schema (plus
// [WithSearchPath] schemas if configured), before the statement runs. A statement
// whose context carries no tenant is refused with [ErrNoTenant] before anything is
// sent: there is no fallback to public or to whatever schema a pooled connection was
// on. Because the check sits on the connection, it also covers [DB.Pool], prepared
// statements, *sql.Conn and code that takes a *sqlx.DB.
//
// Nothing about a session is trusted that a statement could have changed: every
// statement carries its own SET search_path (SET LOCAL in [TransactionMode]), so no
// SET, set_config, function, rollback, error or text transaction can move a later
// statement to another schema. A pooled session also carries state besides
// search_path (temporary tables, which PostgreSQL searches first; held cursors;
// settings; a role; SQL prepared statements): in [SessionMode] (the default) a
// session that last ran another tenant's statements is cleared before it runs one of
// this tenant's, and in TransactionMode every transaction starts clean. Transaction
// control sent as text is refused ([ErrTxControl]), and the server's transaction
// status is checked after every statement ([ErrUnmanagedTx], [ErrTxEnded]).
// SECURITY.md states the guarantee and its limits.
//
// [TransactionMode] keeps nothing on the session: for PgBouncer in transaction
// pooling mode and RDS Proxy, where a client connection's transactions may land on
// different server connections. It cannot prepare statements outside a transaction
// ([ErrPrepareOutsideTx]).
//
// A transaction ([DB.BeginTxx], [DB.InTx]) is bound to the tenant of the context
// that began it: its statements run in that schema even with a context that carries
// no tenant, and a context naming another tenant is refused with [ErrTenantMismatch].
//
// # sqlc and other database/sql code
//
// A [*DB] satisfies sqlc's DBTX (database/sql flavour: ExecContext,
// PrepareContext, QueryContext, QueryRowContext), so generated code takes it as
// it is and every generated query runs in the schema of its context's tenant:
//
//	q := store.New(db)
//	user, err := q.GetUser(r.Context(), id)
//	err = db.InTx(ctx, nil, func(tx *tenancy.Tx) error { return store.New(db).WithTx(tx.Tx.Tx).DeleteUser(ctx, id) })
//
// [DB.Pool] (a *sqlx.DB) works too and is fenced the same way: the check sits on
// the connection, not on the wrapper.
//
// # Round trips
//
// Counted on the wire by the package's tests (TestRoundTrips). [Open] sets lib/pq
// and pgx up so that what scopes a statement (its SET, and the reset when the
// session passes to another tenant) goes in front of the statement's first message
// on the network connection, with or without arguments: in SessionMode no
// statement costs a round trip more than it would without this package. Where that
// is not possible (lib/pq over TLS; a connector built without [LibPQDialer] or
// [PgxAfterNetConnect]) a single data statement without arguments still carries
// them in its own simple-protocol message, and any other statement pays one round
// trip for them.
//
//	extra round trips                          SessionMode   TransactionMode
//	data statement without arguments            0             0
//	data statement with arguments               0             0 on pgx, 1 on lib/pq (BEGIN ... COMMIT)
//	other statement                             0             1 (BEGIN and reset in front, COMMIT after)
//	transaction                                 0 (+1 before BEGIN when the session passes to another tenant)
//	                                                          1 (the reset after BEGIN)
//	statement in a transaction                  0             0
//
// database/sql hands out the connection returned last, whichever tenant its session
// belongs to. [WithAffinity] (off by default) lets a connection swap its physical
// connection, at its first statement, with an idle one whose session already belongs
// to the right tenant, which saves the reset; see its documentation.
//
// # Migrations
//
// A [Migrator] applies two sets of golang-migrate files from fs.FS values (typically
// embed.FS): the shared set to the shared schema and the tenant set to every tenant
// schema. Each schema has its own version table (default "schema_migrations")
// inside it. The registry table belongs to the library, as the version tables
// belong to golang-migrate: [Migrator.MigrateShared] creates it
// ([Registry.CreateTable]) before the shared set runs, so shared migrations may
// refer to tenants(id).
//
//	m, err := tenancy.NewMigrator(db, reg, migrations.Shared, migrations.Tenant)
//	_, err = m.MigrateShared(ctx)                         // every start-up; safe from many replicas
//	t, err := m.CreateTenant(ctx, tenancy.NewTenant{Name: "Acme", Schema: "acme", Host: "acme.example.com"})
//	plan, err := m.Plan(ctx, "acme", 0)                   // dry run: what would run, with its SQL
//	report, err := m.UpgradeFleet(ctx, tenancy.FleetOptions{Concurrency: 4})
//
// [Migrator.CreateTenant] is one transaction (registry row, schema, version
// table, every migration), so a failure leaves nothing behind; which files cannot
// join it is known when the Migrator is built (a SQL lexer reads every file). With
// [WithCloneTemplate] it copies a template schema kept at the newest version
// instead of running hundreds of migrations, in the same one transaction;
// concurrent creations share a lock budget so that sign-ups arriving together do
// not exhaust the server's lock table. [Migrator.UpgradeFleet] reads every
// tenant's version in one statement per 500 tenants, skips those at the target
// without opening a connection, upgrades the rest with bounded concurrency, and
// reports per tenant; one tenant's failure neither stops nor rolls back the
// others. [FleetOptions] adds a canary phase, a failure limit, a dry run and a
// graceful stop (Drain: the running tenants finish, no new one starts).
//
// A migration that runs as one transaction commits together with its version, so
// a failure or cancellation leaves its tenant clean at the previous version; only
// a file that controls its own transactions (or cannot run in one, such as CREATE
// INDEX CONCURRENTLY) leaves its tenant dirty ([ErrDirty]), and [Migrator.Force]
// is the way out. [Migrator.Drift] and [Migrator.FleetDrift] compare tenants'
// catalogs with a reference; [Migrator.Lint] warns about tenant files that create
// extensions, send notifications (channels are database-wide) or query the
// catalog without a schema filter; [WithTenantSafeFunctions] pins the search_path
// of tenant functions, so that a trigger always works on its own tenant's tables.
// Migrations must run on direct (or session-pooled) connections: they use
// session-level advisory locks.
//
// # Scaling out with Citus
//
// The same code runs on a Citus coordinator with schema-based sharding (Citus 12+),
// where every tenant schema is a distributed schema placed on one worker and each
// statement is routed to the worker of the schema its tables are in. The [Migrator]
// detects Citus once: it sends migration files one statement at a time (a
// transactional file in one explicit transaction with its version, in sequential
// multi-shard mode), creates the shared schema on the coordinator and tenant schemas
// distributed, and refuses a worker ([ErrNotCoordinator]). [Migrator.Placement],
// [Status].Node and [TenantResult].Node tell where a tenant is;
// [Migrator.MoveTenant] moves it (citus_schema_move, writes waiting for the copy)
// under its migration lock;
// [PlaceOn] chooses the node of a new tenant. Tenant tables may have foreign keys
// only within their schema or to reference tables ([WithReferenceTables]); triggers
// need citus.enable_unsafe_triggers; current_schema() of a routed statement is the
// worker session's, so check isolation on data; workers' errors carry no constraint
// or table name (map them by SQLSTATE and detail). The README's "Scaling out with
// Citus" has the details.
//
// # Failure behaviour
//
// The middleware fails closed: no tenant in the request → 400, malformed tenant →
// 400, unknown tenant → 404, authorisation hook refuses → 403, registry unreachable
// → 503, always as application/problem+json, and logged with the internal cause on
// slog.Default unless [WithLogger] names another logger. A query without a tenant returns
// [ErrNoTenant]; a schema name that fails [ValidateSchemaName] is never sent to the
// server. Errors are documented sentinels ([ErrNoTenant], [ErrUnknownTenant], …)
// wrapped in typed errors ([*TenantError], [*SchemaNameError]) that name the tenant;
// match them with [errors.Is] and [errors.As].
//
// # Routers
//
// [Middleware] works with any router; examples/routers has tested recipes for
// chi, gorilla/mux, echo and gin. [PathResolver].Prefix finds the tenant below
// a mount point ("/api/acme/users"), [WithSkip] leaves routes such as health
// checks tenant-less, and [WithOptionalTenant] serves requests that name no
// tenant without one.
//
// # Observability
//
// Refused requests are logged ([WithLogger], by default on slog.Default);
// [NewLogHandler] adds the tenant to an application's own records. [Hooks],
// given with [WithHooks], report registry lookups, requests and (from the DB)
// schema switches, affinity trades and statements; package tenancyotel turns
// them into OpenTelemetry spans with tenant.* attributes and metrics. A nil
// hook costs a nil check.
//
// # Testing
//
// Package tenancytest starts a throwaway PostgreSQL for tests and wraps go-sqlmock
// for unit tests of handlers that use a [DB].
package tenancy
