// Package migrations holds the SQL of the demo application in examples/, as embedded
// file systems for [tenancy.Migrator]:
//
//   - [Shared]: the shared schema: shared_users, a global e-mail → tenant
//     directory whose rows refer to the tenant registry (tenants). The registry
//     table itself belongs to the tenancy package, which creates it before these
//     migrations run; 000001_tenants only repeats it (IF NOT EXISTS) for
//     databases made before the library owned it.
//   - [Tenant]: every tenant's schema: roles, permissions, users and the
//     roles_permissions_link table, then an index on users' names.
//
// Files follow golang-migrate's naming: NNNNNN_title.up.sql and .down.sql. Every up
// migration has a working down migration. The files use unqualified table names: the
// migrator runs them with search_path set to the target schema alone.
//
// Ids are bigint identities, and the columns referring to them bigint, so that the
// tenant schemas can be distributed by Citus schema-based sharding (which supports
// identity columns only as bigint, and cannot change their type later). Before
// that, 000001_initial (tenant) and 000002_shared_users (shared) created integer
// ids; they were changed in place rather than by new ALTER migrations, which
// Citus would refuse. A database migrated before the change keeps its integer
// ids at the same version: that works on plain PostgreSQL; recreate it (for the
// demo, delete its -data-dir) to get the new types.
//
// An application keeps its own migrations the same way:
//
//	//go:embed shared/*.sql
//	var sharedFS embed.FS
//
// and passes fs.Sub(sharedFS, "shared") to [tenancy.NewMigrator]. Its shared set
// need not create the registry table: [tenancy.Migrator.MigrateShared] does.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed shared/*.sql
var sharedFS embed.FS

//go:embed tenant/*.sql
var tenantFS embed.FS

// Shared is the shared schema's migrations (file names at the root of the FS).
var Shared fs.FS = mustSub(sharedFS, "shared")

// Tenant is each tenant schema's migrations (file names at the root of the FS).
var Tenant fs.FS = mustSub(tenantFS, "tenant")

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // cannot happen: dir is a literal embedded above
	}
	return s
}
