package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"kportal/storage/testenv"
	"kportal/tenants"
)

// The demo seed is idempotent and gives the demo users their roles in real
// organisations, linked to the reference data.
func TestSeedTwice(t *testing.T) {
	cfg := testConfig(t)
	setEnv(t, cfg)
	for i := 0; i < 2; i++ {
		var out, errb bytes.Buffer
		if code := run([]string{"seed"}, &out, &errb); code != 0 {
			t.Fatalf("seed %d: exit %d\n%s", i, code, errb.String())
		}
	}
	env := testenv.Get(t)
	var roles []string
	err := env.Owner.NewRaw(`SELECT t.slug || ':' || m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id
		JOIN people p ON p.id = m.person_id WHERE p.email = 'sigrid.lis1@demo.kportal.no' ORDER BY 1`).Scan(context.Background(), &roles)
	// The owner is bound by forced row-level security too: it sees no memberships
	// without a tenant set, which is the point.
	if err != nil || len(roles) != 0 {
		t.Fatalf("owner saw memberships without a tenant: %v %v", roles, err)
	}
	var person uuid.UUID
	if err := env.App.NewRaw("SELECT id FROM people WHERE email = 'sigrid.lis1@demo.kportal.no'").Scan(context.Background(), &person); err != nil {
		t.Fatal(err)
	}
	ms, err := tenants.ForPerson(context.Background(), env.App, person)
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
	if err := env.App.NewRaw("SELECT id FROM people WHERE email = 'kari.lis@demo.kportal.no'").Scan(context.Background(), &kari); err != nil {
		t.Fatal(err)
	}
	rels, err := tenants.RelationsOf(context.Background(), env.App, kari)
	if err != nil || len(rels) != 4 {
		t.Fatalf("Kari's relations after two seeds: %d %v", len(rels), err)
	}
	var linked int
	if err := env.App.NewRaw(`SELECT count(*) FROM tenants t JOIN org_registry o ON o.id = t.registry_id WHERE t.slug IN ('helse-bergen', 'ous', 'bergen')`).Scan(context.Background(), &linked); err != nil || linked != 3 {
		t.Fatalf("demo tenants linked to reference data: %d %v", linked, err)
	}
}
