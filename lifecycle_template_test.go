package tenancy_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/go-tenancy/tenancy"
	"github.com/go-tenancy/tenancy/migrations"
)

// TestCloneTemplateRebuiltOnNewHeadAcrossReplicas: replicas share one
// template. A release with a new migration rebuilds it (its fingerprint no
// longer matches), and tenants it clones are at the new head; two replicas of
// the new release creating tenants at once, one building the template while
// the other waits for its lock, produce tenants equal to migrated ones.
func TestCloneTemplateRebuiltOnNewHeadAcrossReplicas(t *testing.T) {
	t.Parallel()
	v1 := tenantFS(t, nil)
	v2 := tenantFS(t, map[string]string{
		"000003_nickname.up.sql":   "ALTER TABLE users ADD COLUMN nickname text;\nCREATE INDEX users_nickname_idx ON users (nickname);",
		"000003_nickname.down.sql": "ALTER TABLE users DROP COLUMN nickname;",
	})
	e := newMigEnv(t, migrations.Shared, v1, tenancy.WithCloneTemplate("tpl")).ready(t)
	ctx := context.Background()
	e.create(t, "old1")
	head1 := e.m.Head()
	if v, _ := e.version(t, "tpl"); v != int64(head1) {
		t.Fatalf("template at %d, want %d", v, head1)
	}

	// The new release, as two replicas (each its own pool and Migrator).
	_, _, r1 := openMigrator(t, e.dsn, migrations.Shared, v2, tenancy.WithCloneTemplate("tpl"))
	_, _, r2 := openMigrator(t, e.dsn, migrations.Shared, v2, tenancy.WithCloneTemplate("tpl"))
	// A reference migrated without the template.
	_, _, plain := openMigrator(t, e.dsn, migrations.Shared, v2)
	if _, err := plain.CreateTenant(ctx, tenancy.NewTenant{Name: "ref", Schema: "ref"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i, m := range []*tenancy.Migrator{r1, r2, r1, r2, r1, r2, r1, r2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := fmt.Sprintf("new%d", i)
			if _, err := m.CreateTenant(ctx, tenancy.NewTenant{Name: s, Schema: s}); err != nil {
				errs <- fmt.Errorf("%s: %w", s, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	head2 := r1.Head()
	if head2 != head1+1 {
		t.Fatalf("heads %d, %d", head1, head2)
	}
	if v, _ := e.version(t, "tpl"); v != int64(head2) {
		t.Fatalf("the template was not rebuilt: at %d, want %d", v, head2)
	}
	for i := range 8 {
		s := fmt.Sprintf("new%d", i)
		if v, dirty := e.version(t, s); v != int64(head2) || dirty {
			t.Fatalf("%s at %d (dirty %v), want %d", s, v, dirty, head2)
		}
		if d := mustDrift(t, r1, s, "ref"); d.Drifted() {
			t.Fatalf("%s differs from a migrated tenant: %+v", s, d)
		}
	}
	// The old tenant is untouched until it is upgraded.
	if v, _ := e.version(t, "old1"); v != int64(head1) {
		t.Fatalf("old1 at %d", v)
	}
}
