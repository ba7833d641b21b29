package main

import (
	"context"
	"fmt"

	"github.com/go-tenancy/tenancy"
)

type demoTenant struct {
	name, schema, host string
	users              []demoUser
}

type demoUser struct{ email, first, last, role string }

// demoTenants is the demo data.
func demoTenants() []demoTenant {
	return []demoTenant{
		{name: "Acme Corp", schema: "acme", host: "acme.localhost", users: []demoUser{
			{"alice@acme.example", "Alice", "Anderson", "admin"},
			{"bob@acme.example", "Bob", "Brown", "editor"},
			{"carol@acme.example", "Carol", "Clark", "viewer"},
		}},
		{name: "Globex", schema: "globex", host: "globex.localhost", users: []demoUser{
			{"hank@globex.example", "Hank", "Scorpio", "admin"},
			{"homer@globex.example", "Homer", "Simpson", "viewer"},
		}},
	}
}

// demoRoles maps each role to the permissions it grants.
func demoRoles() []struct {
	name, description string
	perms             []string
} {
	return []struct {
		name, description string
		perms             []string
	}{
		{"admin", "Everything", []string{"users.read", "users.write", "roles.manage"}},
		{"editor", "Reads and edits users", []string{"users.read", "users.write"}},
		{"viewer", "Reads users", []string{"users.read"}},
	}
}

func demoPermissions() [][2]string {
	return [][2]string{{"users.read", "Read users"}, {"users.write", "Create, edit and delete users"}, {"roles.manage", "Manage roles"}}
}

// seedDemo creates the demo tenants and their data if the registry is empty (a
// fresh database), and reports whether it did. It goes through the same code as
// the API: the Migrator creates each tenant, and the stores, given a context that
// names the new tenant, fill in its schema.
func seedDemo(ctx context.Context, a *app) (bool, error) {
	n, err := a.reg.Count(ctx)
	if err != nil || n > 0 {
		return false, err
	}
	for _, dt := range demoTenants() {
		t, err := a.mig.CreateTenant(ctx, tenancy.NewTenant{Name: dt.name, Schema: dt.schema, Host: dt.host})
		if err != nil {
			return false, err
		}
		// From here on, every query made with tctx runs in the new tenant's schema.
		tctx := tenancy.NewContext(ctx, t)
		perms := map[string]int64{}
		for _, p := range demoPermissions() {
			name, title := p[0], p[1]
			created, err := a.roles.createPermission(tctx, Permission{Name: &name, Title: &title})
			if err != nil {
				return false, fmt.Errorf("seed %s: permission %s: %w", t.Schema, name, err)
			}
			perms[name] = created.ID
		}
		roles := map[string]int64{}
		for _, r := range demoRoles() {
			desc := r.description
			role, err := a.roles.createRole(tctx, r.name, &desc)
			if err != nil {
				return false, fmt.Errorf("seed %s: role %s: %w", t.Schema, r.name, err)
			}
			roles[r.name] = role.ID
			for _, p := range r.perms {
				if err := a.roles.grant(tctx, role.ID, perms[p]); err != nil {
					return false, fmt.Errorf("seed %s: grant %s to %s: %w", t.Schema, p, r.name, err)
				}
			}
		}
		for _, u := range dt.users {
			first, last, role := u.first, u.last, roles[u.role]
			if _, err := a.users.create(tctx, t.ID, userFields{Email: u.email, FirstName: &first, LastName: &last, UserRoleID: &role}); err != nil {
				return false, fmt.Errorf("seed %s: user %s: %w", t.Schema, u.email, err)
			}
		}
		a.log.InfoContext(tctx, "demo tenant created", "users", len(dt.users))
	}
	return true, nil
}
