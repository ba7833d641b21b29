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
// In [SessionMode] (the default) each physical connection remembers which schema it
// is on and switches lazily. It forgets (and so sets the schema again before the
// next statement) after anything that may have changed or undone the setting: any
// error, a cancelled statement, a transaction rollback during which it switched, and
// any statement whose text mentions search_path, set_config, RESET, DISCARD,
// ROLLBACK or ABORT. It cannot see inside server-side functions: a function that
// changes search_path as a side effect (rather than with a SET clause, which
// PostgreSQL restores on exit) is not detected; use [TransactionMode] if you have
// such functions.
//
// [TransactionMode] keeps nothing on the session: for PgBouncer in transaction
// pooling mode and RDS Proxy, where a client connection's transactions may land on
// different server connections.
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
// Counted on the wire by the package's tests (TestRoundTrips; lib/pq, where a
// parameterised query is two round trips, parse then execute, unless
// binary_parameters=yes). With lib/pq, a statement without arguments that is a
// single SELECT, INSERT, UPDATE, DELETE, WITH, VALUES, TABLE or MERGE is sent in one
// message with the SET it needs: PostgreSQL runs both in one implicit transaction,
// so the switch costs no round trip, and if the statement fails the SET is undone
// with it (the connection then forgets its schema).
//
//	SessionMode                                  extra    total (no args / args)
//	statement, connection already on the tenant    0          1 / 2
//	statement, connection must switch              0 / 1      1 / 3
//	transaction (BEGIN … COMMIT), no switch         0          BEGIN 1 + statements + COMMIT 1
//	transaction, switch                            1          + SET before BEGIN
//
//	TransactionMode
//	statement outside a transaction, no args       0          SET LOCAL; statement in one message
//	statement outside a transaction, args          3          BEGIN, SET LOCAL, statement, COMMIT
//	transaction                                    1          BEGIN, SET LOCAL, statements, COMMIT
//	prepare outside a transaction                  3          BEGIN, SET LOCAL, parse, COMMIT
//
// database/sql hands out the connection returned last, whatever schema it is on.
// [WithAffinity] (off by default) lets a connection swap its physical connection,
// at its first statement, with an idle one already on the right schema; see its
// documentation for what it costs and when it pays.
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
// [Migrator.CreateTenant] is one transaction (registry row, schema, every migration,
// version table), so a failure leaves nothing behind. [Migrator.UpgradeFleet] reads
// every tenant's version in one statement per 500 tenants, skips those at the
// target without opening a connection, upgrades the rest with bounded concurrency,
// and reports per tenant; one tenant's failure neither stops nor rolls back the
// others. A failed migration leaves its tenant dirty at that version
// ([ErrDirty]); [Migrator.Force] is the way out. Migrations must run on direct (or
// session-pooled) connections: they use session-level advisory locks.
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
