package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/storage"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// The demo seed is idempotent and gives the demo users their roles in real
// organisations, linked to the reference data.
func TestSeedTwice(t *testing.T) {
	cfg, app, owner := freshDatabase(t)
	setEnv(t, cfg)
	for i := 0; i < 2; i++ {
		var out, errb bytes.Buffer
		if code := run([]string{"seed"}, &out, &errb); code != 0 {
			t.Fatalf("seed %d: exit %d\n%s", i, code, errb.String())
		}
	}
	var roles []string
	err := owner.NewRaw(`SELECT t.slug || ':' || m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id
		JOIN people p ON p.id = m.person_id WHERE p.email = 'sigrid.lis1@demo.kportal.no' ORDER BY 1`).Scan(context.Background(), &roles)
	// The owner is bound by forced row-level security too: it sees no memberships
	// without a tenant set, which is the point.
	if err != nil || len(roles) != 0 {
		t.Fatalf("owner saw memberships without a tenant: %v %v", roles, err)
	}
	var person uuid.UUID
	if err := app.NewRaw("SELECT id FROM people WHERE email = 'sigrid.lis1@demo.kportal.no'").Scan(context.Background(), &person); err != nil {
		t.Fatal(err)
	}
	ms, err := tenants.ForPerson(context.Background(), app, person)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.Tenant.Slug+":"+strings.Join(m.Roles, ","))
	}
	if strings.Join(got, " ") != "bergen:lis helse-bergen:lis" {
		t.Fatalf("Sigrid's memberships after two seeds: %v", got)
	}
	var kari uuid.UUID
	if err := app.NewRaw("SELECT id FROM people WHERE email = 'kari.lis@demo.kportal.no'").Scan(context.Background(), &kari); err != nil {
		t.Fatal(err)
	}
	rels, err := tenants.RelationsOf(context.Background(), app, kari)
	if err != nil || len(rels) != 4 {
		t.Fatalf("Kari's relations after two seeds: %d %v", len(rels), err)
	}
	var linked int
	if err := app.NewRaw(`SELECT count(*) FROM tenants t JOIN org_registry o ON o.id = t.registry_id WHERE t.slug IN ('helse-bergen', 'ous', 'bergen')`).Scan(context.Background(), &linked); err != nil || linked != 3 {
		t.Fatalf("demo tenants linked to reference data: %d %v", linked, err)
	}
	// The learning core: the catalogue published once, Kari's ORT plan from
	// Per, Sigrid's automatic LIS1 plan in Bergen kommune, each once.
	var plansSeen []string
	for _, slug := range []string{"helse-bergen", "bergen"} {
		tn, err := tenants.BySlug(context.Background(), app, slug)
		if err != nil {
			t.Fatal(err)
		}
		err = tenants.WithTenantTx(context.Background(), app, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
			var rows []string
			err := tx.NewRaw(`SELECT p.given_name || ':' || t.name || ':' || (SELECT count(*) FROM plan_template_goals g WHERE g.template_id = t.id)
					|| ':' || (SELECT count(*) FROM local_activities l WHERE l.template_id = t.id)
				FROM plan_assignments a JOIN plan_templates t ON t.id = a.template_id JOIN people p ON p.id = a.lis_id
				WHERE a.archived_at IS NULL ORDER BY 1`).Scan(ctx, &rows)
			plansSeen = append(plansSeen, rows...)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(plansSeen, " ") != "Kari:Ortopedisk kirurgi:0:11 Sigrid:LIS1 kommunedel:40:0" {
		t.Fatalf("demo plans after two seeds: %v", plansSeen)
	}
	// Kari's two samtaler with Ingrid, once.
	hbID, err := tenants.BySlug(context.Background(), app, "helse-bergen")
	if err != nil {
		t.Fatal(err)
	}
	var samtaler []string
	err = tenants.WithTenantTx(context.Background(), app, tenants.Scope{TenantID: hbID.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT status FROM advisory_sessions WHERE lis_id = ? ORDER BY starts_at", kari).Scan(ctx, &samtaler)
	})
	if err != nil || strings.Join(samtaler, " ") != "completed planned" {
		t.Fatalf("Kari's samtaler after two seeds: %v %v", samtaler, err)
	}
	// Lars moved from Helse Bergen to Helse Førde once, through the sync job:
	// his Bergen plan ended, his two approvals carried, Ingrid his veileder there.
	forde, err := tenants.BySlug(context.Background(), app, "helse-forde")
	if err != nil {
		t.Fatal(err)
	}
	var moved []string
	err = tenants.WithTenantTx(context.Background(), app, tenants.Scope{TenantID: forde.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw(`SELECT x.status || ':' || (SELECT count(*) FROM goal_progress g WHERE g.tenant_id = x.tenant_id AND g.lis_id = x.lis_id AND g.origin_id IS NOT NULL)
				|| ':' || (SELECT count(*) FROM plan_assignments a WHERE a.tenant_id = x.tenant_id AND a.lis_id = x.lis_id AND a.archived_at IS NULL)
				|| ':' || (SELECT p.given_name FROM relations r JOIN people p ON p.id = r.person_id WHERE r.tenant_id = x.tenant_id AND r.lis_id = x.lis_id AND r.kind = 'veileder')
				|| ':' || (SELECT count(*) FROM activities a WHERE a.lis_id = x.lis_id AND a.tenant_id = x.from_tenant_id)
			FROM transfers x JOIN people p ON p.id = x.lis_id WHERE p.email = 'lars.lis1@demo.kportal.no'`).Scan(ctx, &moved)
	})
	if err != nil || strings.Join(moved, " ") != "done:2:1:Ingrid:3" {
		t.Fatalf("Lars's move after two seeds: %v %v", moved, err)
	}
	var versions int
	if err := app.NewRaw("SELECT count(*) FROM catalog_versions WHERE label = ? AND published_at IS NOT NULL", DemoCatalog).Scan(context.Background(), &versions); err != nil || versions != 1 {
		t.Fatalf("demo catalogue versions: %d %v", versions, err)
	}
}

// Every tenant table, with the demo's real data in it: from another tenant's
// transaction no row of Helse Bergen is read, changed or deleted.
func TestIsolationEveryTableAfterTheDemoSeed(t *testing.T) {
	cfg, db, _ := freshDatabase(t)
	setEnv(t, cfg)
	var out, errb bytes.Buffer
	if code := run([]string{"seed"}, &out, &errb); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, errb.String())
	}
	ctx := context.Background()
	hb, err := tenants.BySlug(ctx, db, "helse-bergen")
	if err != nil {
		t.Fatal(err)
	}
	ous, err := tenants.BySlug(ctx, db, "ous")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	if err := db.NewRaw(`SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'tenant_id'
		AND table_name IN (SELECT tablename FROM pg_tables WHERE schemaname = 'public') ORDER BY 1`).Scan(ctx, &tables); err != nil {
		t.Fatal(err)
	}
	withData := 0
	for _, table := range tables {
		var own int
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: hb.ID}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT count(*) FROM ? WHERE tenant_id = ?", bun.Ident(table), hb.ID).Scan(ctx, &own)
		})
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if own > 0 {
			withData++
		}
		for _, q := range []string{"SELECT count(*) FROM ? WHERE tenant_id = ?", "UPDATE ? SET tenant_id = tenant_id WHERE tenant_id = ?", "DELETE FROM ? WHERE tenant_id = ?"} {
			err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: ous.ID}, func(ctx context.Context, tx bun.Tx) error {
				if strings.HasPrefix(q, "SELECT") {
					var n int
					if err := tx.NewRaw(q, bun.Ident(table), hb.ID).Scan(ctx, &n); err != nil {
						return err
					}
					if n != 0 {
						t.Errorf("%s: another tenant reads %d of Helse Bergen's rows", table, n)
					}
					return nil
				}
				res, err := tx.ExecContext(ctx, q, bun.Ident(table), hb.ID)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n != 0 {
					t.Errorf("%s: %q from another tenant touched %d rows", table, q, n)
				}
				return nil
			})
			if err != nil && !strings.Contains(err.Error(), "permission denied") { // append-only tables refuse outright
				t.Fatalf("%s: %q: %v", table, q, err)
			}
		}
	}
	if withData < 11 {
		t.Fatalf("only %d of %d tenant tables hold demo data: the test proves little", withData, len(tables))
	}
}

// freshDatabase is the package's test configuration on a migrated database of
// the test's own, with handles as the application role and as the owner: seed
// refuses the package's database, which other tests put people in.
func freshDatabase(t *testing.T) (*config, *bun.DB, *bun.DB) {
	t.Helper()
	cfg := testConfig(t)
	cfg.DatabaseURL, cfg.MigrateURL = testenv.Fresh(t)
	var dbs [2]*bun.DB
	for i, dsn := range []string{cfg.DatabaseURL, cfg.MigrateURL} {
		db, err := storage.OpenDB(context.Background(), dsn, 4)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	return cfg, dbs[0], dbs[1]
}
