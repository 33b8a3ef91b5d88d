package testenv

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/tenants"
)

// NewPerson inserts a person (no Kratos identity) with a unique e-mail
// address and returns the id.
func NewPerson(t testing.TB, db bun.IDB, given, family string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := db.NewRaw("INSERT INTO people (identity_id, email, given_name, family_name) VALUES (?, ?, ?, ?) RETURNING id",
		uuid.New(), UniqueEmail(given), given, family).Scan(context.Background(), &id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// NewTenant creates tn, filling in a unique slug and, unless given, the kind
// helseforetak.
func NewTenant(t testing.TB, db bun.IDB, tn *tenants.Tenant) *tenants.Tenant {
	t.Helper()
	if tn.Slug == "" {
		tn.Slug = "t-" + uuid.NewString()[:8]
	}
	if tn.Kind == "" {
		tn.Kind = tenants.KindHF
	}
	if err := tenants.Create(context.Background(), db, tn); err != nil {
		t.Fatal(err)
	}
	return tn
}
