package agreements_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/agreements"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// A new administrator of a kommune that never signed is told the agreement
// waits; of a helseforetak, or in any other role, not.
func TestNewKommuneAdminIsToldToSign(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	kommune := newTenant(t, env.App, "Signer kommune", tenants.KindKommune)
	hf := newTenant(t, env.App, "Signer HF", tenants.KindHF)
	admin, lis := newPerson(t, env.App), newPerson(t, env.App)
	for _, g := range []struct {
		tn     *tenants.Tenant
		person uuid.UUID
		role   string
	}{{kommune, admin, "tenant_admin"}, {kommune, lis, "lis"}, {hf, admin, "tenant_admin"}} {
		if err := tenants.AddMembership(ctx, env.App, g.tn.ID, g.person, g.role); err != nil {
			t.Fatal(err)
		}
	}
	told := func(tn *tenants.Tenant) []uuid.UUID {
		var out []uuid.UUID
		_ = tenants.WithTenantTx(ctx, env.App, tenants.Scope{TenantID: tn.ID}, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT recipient_id FROM outbox WHERE tenant_id = ? AND topic = ?", tn.ID, agreements.TopicToSign).Scan(ctx, &out)
		})
		return out
	}
	if got := told(kommune); len(got) != 1 || got[0] != admin {
		t.Fatalf("kommune: told %v, want the administrator", got)
	}
	if got := told(hf); len(got) != 0 {
		t.Fatalf("helseforetak: told %v", got)
	}
}
