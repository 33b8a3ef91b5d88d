package migrations_test

import (
	"context"
	"testing"

	"kportal/migrations"
	"kportal/storage/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The template is migrated; rolling back and re-applying must work, so every
// down migration really undoes its up migration.
func TestDownAndUpAgain(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	states, err := migrations.Status(ctx, env.Owner)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if !s.Applied {
			t.Fatalf("template database has pending migration %s", s.Name)
		}
	}
	down, err := migrations.Down(ctx, env.Owner)
	if err != nil || len(down) == 0 {
		t.Fatalf("down: %v %v", down, err)
	}
	up, err := migrations.Up(ctx, env.Owner)
	if err != nil || len(up) != len(down) {
		t.Fatalf("up again: applied %v after rolling back %v: %v", up, down, err)
	}
	again, err := migrations.Up(ctx, env.Owner)
	if err != nil || len(again) != 0 {
		t.Fatalf("second up applied %v, %v", again, err)
	}
}

// Reads PostgreSQL's catalog: every table with a tenant_id column must have
// row-level security enabled and forced, and the application role must be
// unable to bypass it.
func TestIsolationCatalog(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	var bad []struct {
		Table   string `bun:"table_name"`
		Enabled bool   `bun:"relrowsecurity"`
		Forced  bool   `bun:"relforcerowsecurity"`
	}
	err := env.Owner.NewRaw(`
		SELECT c.relname AS table_name, c.relrowsecurity, c.relforcerowsecurity
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
		WHERE c.relkind IN ('r', 'p') AND NOT (c.relrowsecurity AND c.relforcerowsecurity)`).Scan(ctx, &bad)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Errorf("table %s has tenant_id but row-level security enabled=%v forced=%v", b.Table, b.Enabled, b.Forced)
	}
	var tenantTables int
	if err := env.Owner.NewRaw(`SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'tenant_id'`).Scan(ctx, &tenantTables); err != nil {
		t.Fatal(err)
	}
	if tenantTables == 0 {
		t.Fatal("no tenant-scoped tables found: the catalog query is looking in the wrong place")
	}
	// A policy may widen what a transaction reads (a person's own rows, an
	// invitation link, Helsedirektoratet's review), never what it writes.
	var wide []struct {
		Table string  `bun:"tablename"`
		Name  string  `bun:"policyname"`
		Cmd   string  `bun:"cmd"`
		Qual  *string `bun:"qual"`
		Check *string `bun:"with_check"`
	}
	err = env.Owner.NewRaw(`
		SELECT p.tablename, p.policyname, p.cmd, p.qual, p.with_check FROM pg_policies p
		WHERE p.schemaname = 'public' AND p.cmd <> 'SELECT'
		  AND EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = p.tablename AND c.column_name = 'tenant_id')
		  AND (p.qual IS DISTINCT FROM '(tenant_id = kportal_tenant())' OR p.with_check IS DISTINCT FROM '(tenant_id = kportal_tenant())')`).Scan(ctx, &wide)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wide {
		t.Errorf("policy %s on %s (%s) lets a transaction change rows beyond its tenant: USING %v, WITH CHECK %v", w.Name, w.Table, w.Cmd, deref(w.Qual), deref(w.Check))
	}
	var role struct {
		Super, Bypass bool
		Owned         int
	}
	err = env.App.NewRaw(`SELECT r.rolsuper AS super, r.rolbypassrls AS bypass,
		(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' WHERE c.relowner = r.oid) AS owned
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(ctx, &role.Super, &role.Bypass, &role.Owned)
	if err != nil {
		t.Fatal(err)
	}
	if role.Super || role.Bypass || role.Owned > 0 {
		t.Fatalf("application role: superuser=%v bypassrls=%v owns %d relations; it must be none of these", role.Super, role.Bypass, role.Owned)
	}
}

func deref(s *string) string {
	if s == nil {
		return "(none)"
	}
	return *s
}
