package tenants_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// importRegistry loads the shipped reference data once per test database.
func importRegistry(t *testing.T, db bun.IDB) {
	t.Helper()
	reg, err := tenants.ReadRegistry(tenants.RefData())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.ImportRegistry(context.Background(), db, reg); err != nil {
		t.Fatal(err)
	}
}

func registryID(t *testing.T, db bun.IDB, where string, args ...any) string {
	t.Helper()
	var id uuid.UUID
	if err := db.NewSelect().Table("org_registry").Column("id").Where(where, args...).Scan(context.Background(), &id); err != nil {
		t.Fatalf("registry %s %v: %v", where, args, err)
	}
	return id.String()
}

func tenantCount(t *testing.T, db bun.IDB) int {
	t.Helper()
	n, err := db.NewSelect().Table("tenants").Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestReach(t *testing.T) {
	vest := tenants.ReachOf([]tenants.PlatformRole{{Role: tenants.RoleRHFAdmin, RHF: "HV"}})
	hdir := tenants.ReachOf([]tenants.PlatformRole{{Role: tenants.RoleHdir}})
	cases := []struct {
		name string
		r    tenants.Reach
		kind tenants.Kind
		rhf  string
		want bool
	}{
		{"RHF admin: own foretak", vest, tenants.KindHF, "HV", true},
		{"RHF admin: own private hospital", vest, tenants.KindPrivate, "HV", true},
		{"RHF admin: another RHF's foretak", vest, tenants.KindHF, "HN", false},
		{"RHF admin: a kommune", vest, tenants.KindKommune, "", false},
		{"Hdir: a kommune", hdir, tenants.KindKommune, "", true},
		{"Hdir: a private provider outside the RHFs", hdir, tenants.KindPrivate, "", true},
		{"Hdir: a foretak", hdir, tenants.KindHF, "HV", false},
		{"nobody: the national tenant", tenants.Reach{All: true}, tenants.KindNational, "", false},
		{"no roles: nothing", tenants.Reach{}, tenants.KindHF, "HV", false},
	}
	for _, c := range cases {
		if got := c.r.Covers(c.kind, c.rhf); got != c.want {
			t.Errorf("%s: Covers = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestOnboardForetakAndAcceptInvitation(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	db := env.App
	importRegistry(t, env.Owner)
	vest := tenants.ReachOf([]tenants.PlatformRole{{Role: tenants.RoleRHFAdmin, RHF: "HV"}})
	rhfAdmin := tenants.Actor{PersonID: newPerson(t, db), Name: "Eva Solberg"}

	avail, err := tenants.Available(ctx, db, vest)
	if err != nil || len(avail) == 0 {
		t.Fatalf("available: %d %v", len(avail), err)
	}
	for _, o := range avail {
		if o.RHFCode != "HV" {
			t.Fatalf("Helse Vest's admin is offered %s of %s", o.Name, o.RHFCode)
		}
	}

	forde := registryID(t, db, "orgnr = ?", "983974732") // Helse Førde HF
	tn, inv, token, err := tenants.Onboard(ctx, db, vest, rhfAdmin, tenants.Onboarding{RegistryID: forde, AdminEmail: "Ny.Admin@Helse-Forde.no"})
	if err != nil {
		t.Fatal(err)
	}
	if tn.Status != tenants.StatusPending || tn.Slug != "helse-forde-hf" || tn.Kind != tenants.KindHF || tn.RHFCode != "HV" || tn.Orgnr != "983974732" {
		t.Fatalf("tenant: %+v", tn)
	}
	if inv.Email != "ny.admin@helse-forde.no" || inv.Role != "tenant_admin" || token == "" || inv.TokenHash == token {
		t.Fatalf("invitation: %+v", inv)
	}
	if in, err := tenants.InReach(ctx, db, vest); err != nil || len(in) != 1 || in[0].ID != tn.ID {
		t.Fatalf("in reach: %v %v", in, err)
	}

	t.Run("the token finds the invitation without a tenant", func(t *testing.T) {
		got, gt, err := tenants.InvitationByToken(ctx, db, token)
		if err != nil || got.ID != inv.ID || gt.ID != tn.ID {
			t.Fatalf("%v %v %v", got, gt, err)
		}
		if _, _, err := tenants.InvitationByToken(ctx, db, token+"x"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("a wrong token: %v", err)
		}
	})
	t.Run("accepting makes the admin and activates the tenant", func(t *testing.T) {
		admin := newPerson(t, db)
		_, gt, err := tenants.AcceptInvitation(ctx, db, token, tenants.Invitee{PersonID: admin, Verified: []string{"ny.admin@helse-forde.no"}})
		if err != nil || gt.Status != tenants.StatusActive {
			t.Fatalf("accept: %v %v", gt, err)
		}
		ms, _ := tenants.ForPerson(ctx, db, admin)
		if len(ms) != 1 || ms[0].Tenant.ID != tn.ID || ms[0].Roles[0] != "tenant_admin" || ms[0].Tenant.Status != tenants.StatusActive {
			t.Fatalf("memberships: %+v", ms)
		}
		if _, _, err := tenants.AcceptInvitation(ctx, db, token, tenants.Invitee{PersonID: admin, Verified: []string{"ny.admin@helse-forde.no"}}); err != nil {
			t.Fatalf("the same person clicking again: %v", err)
		}
		if _, _, err := tenants.AcceptInvitation(ctx, db, token, tenants.Invitee{PersonID: newPerson(t, db), Verified: []string{inv.Email}}); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("someone else using a used link: %v", err)
		}
	})
	t.Run("suspend blocks, keeps rows, and reactivates", func(t *testing.T) {
		if _, err := tenants.SetSuspended(ctx, db, rhfAdmin, tn.ID, true, ""); apperr.FieldsOf(err)["reason"] == "" {
			t.Fatalf("suspending without a reason: %v", err)
		}
		got, err := tenants.SetSuspended(ctx, db, rhfAdmin, tn.ID, true, "Avtalen er sagt opp")
		if err != nil || got.Status != tenants.StatusSuspended || got.StatusReason != "Avtalen er sagt opp" {
			t.Fatalf("suspend: %+v %v", got, err)
		}
		if n := count(t, db, tenants.Scope{TenantID: tn.ID}); n != 1 {
			t.Fatalf("suspension lost memberships: %d", n)
		}
		got, err = tenants.SetSuspended(ctx, db, rhfAdmin, tn.ID, false, "")
		if err != nil || got.Status != tenants.StatusActive || got.StatusReason != "" {
			t.Fatalf("reactivate: %+v %v", got, err)
		}
	})
}

// Bad input is reported per field and nothing is written.
func TestOnboardRefusesBadInput(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	db := env.App
	importRegistry(t, env.Owner)
	vest := tenants.ReachOf([]tenants.PlatformRole{{Role: tenants.RoleRHFAdmin, RHF: "HV"}})
	by := tenants.Actor{PersonID: newPerson(t, db), Name: "Eva"}
	existing := newTenant(t, db, "Finnes fra før")
	haram := registryID(t, db, "kommunenummer = ?", "1580") // no orgnr in the reference data
	nord := registryID(t, db, "orgnr = ?", "983974899")     // UNN, Helse Nord
	hdir := tenants.ReachOf([]tenants.PlatformRole{{Role: tenants.RoleHdir}})
	cases := []struct {
		name  string
		reach tenants.Reach
		in    tenants.Onboarding
		field string
	}{
		{"wrong check digit", vest, tenants.Onboarding{Name: "Nytt HF", Orgnr: "983974733", AdminEmail: "a@b.no"}, "orgnr"},
		{"eight digits", vest, tenants.Onboarding{Name: "Nytt HF", Orgnr: "98397473", AdminEmail: "a@b.no"}, "orgnr"},
		{"no name", vest, tenants.Onboarding{Orgnr: "983974732", AdminEmail: "a@b.no"}, "name"},
		{"duplicate slug", vest, tenants.Onboarding{Name: "Nytt HF", Orgnr: "983974732", Slug: existing.Slug, AdminEmail: "a@b.no"}, "slug"},
		{"bad slug", vest, tenants.Onboarding{Name: "Nytt HF", Orgnr: "983974732", Slug: "Store Bokstaver", AdminEmail: "a@b.no"}, "slug"},
		{"bad e-mail", vest, tenants.Onboarding{Name: "Nytt HF", Orgnr: "983974732", AdminEmail: "ikke-en-adresse"}, "admin_email"},
		{"another RHF's foretak", vest, tenants.Onboarding{RegistryID: nord, AdminEmail: "a@b.no"}, "registry_id"},
		{"another RHF by hand", vest, tenants.Onboarding{Name: "Nytt HF", Orgnr: "983974732", RHFCode: "HN", AdminEmail: "a@b.no"}, "rhf_code"},
		{"not an id", vest, tenants.Onboarding{RegistryID: "x", AdminEmail: "a@b.no"}, "registry_id"},
		{"a kommune without orgnr", hdir, tenants.Onboarding{RegistryID: haram, AdminEmail: "a@b.no"}, "registry_id"},
	}
	before := tenantCount(t, db)
	for _, c := range cases {
		_, _, _, err := tenants.Onboard(ctx, db, c.reach, by, c.in)
		if !apperr.Is(err, apperr.Invalid) || apperr.FieldsOf(err)[c.field] == "" {
			t.Errorf("%s: want a message on %s, got %v (%v)", c.name, c.field, err, apperr.FieldsOf(err))
		}
	}
	t.Run("an organisation number already in use", func(t *testing.T) {
		fonna := registryID(t, db, "orgnr = ?", "983974694")
		if _, _, _, err := tenants.Onboard(ctx, db, vest, by, tenants.Onboarding{RegistryID: fonna, AdminEmail: "a@b.no"}); err != nil {
			t.Fatal(err)
		}
		before++
		_, _, _, err := tenants.Onboard(ctx, db, vest, by, tenants.Onboarding{Name: "Fonna igjen", Orgnr: "983974694", AdminEmail: "a@b.no"})
		if apperr.FieldsOf(err)["orgnr"] == "" {
			t.Fatalf("want a message on orgnr, got %v", err)
		}
	})
	if after := tenantCount(t, db); after != before {
		t.Fatalf("refused onboardings wrote %d tenants", after-before)
	}
}

func TestIsolationInvitations(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	db := env.App
	a, b := newTenant(t, db, "Tenant A"), newTenant(t, db, "Tenant B")
	var inv tenants.Invitation
	var token string
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: a.ID}, func(ctx context.Context, tx bun.Tx) error {
		inv = tenants.Invitation{TenantID: a.ID, Email: "x@y.no", Role: "supervisor", InvitedByName: "Test"}
		var err error
		token, err = tenants.CreateInvitation(ctx, tx, &inv)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("another tenant lists none of them", func(t *testing.T) {
		if got, err := tenants.Invitations(ctx, db, b.ID); err != nil || len(got) != 0 {
			t.Fatalf("%v %v", got, err)
		}
		if got, _ := tenants.Invitations(ctx, db, a.ID); len(got) != 1 {
			t.Fatalf("tenant A sees %d", len(got))
		}
	})
	t.Run("another tenant cannot revoke or reinvite", func(t *testing.T) {
		if err := tenants.RevokeInvitation(ctx, db, tenants.Scope{TenantID: b.ID}, inv.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("revoke from B: %v", err)
		}
		if _, _, err := tenants.Reinvite(ctx, db, tenants.Scope{TenantID: b.ID}, inv.ID, "B"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("reinvite from B: %v", err)
		}
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: b.ID}, func(ctx context.Context, tx bun.Tx) error {
			res, err := tx.ExecContext(ctx, "DELETE FROM invitations WHERE id = ?", inv.ID)
			if n, _ := res.RowsAffected(); err == nil && n != 0 {
				t.Errorf("B deleted %d", n)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := tenants.InvitationByToken(ctx, db, token)
		if err != nil || got.State(time.Now()) != tenants.InvitationPending {
			t.Fatalf("after B's attempts: %+v %v", got, err)
		}
	})
	t.Run("a token opens only its own row", func(t *testing.T) {
		var n int
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "SELECT set_config('app.invitation_token', ?, true)", "00"+inv.TokenHash[2:]); err != nil {
				return err
			}
			return tx.NewRaw("SELECT count(*) FROM invitations").Scan(ctx, &n)
		})
		if err != nil || n != 0 {
			t.Fatalf("a wrong token hash saw %d rows: %v", n, err)
		}
	})
	t.Run("reinvite revokes the old link and makes a new one", func(t *testing.T) {
		nu, tok2, err := tenants.Reinvite(ctx, db, tenants.Scope{TenantID: a.ID}, inv.ID, "Test")
		if err != nil || tok2 == token || nu.Email != inv.Email {
			t.Fatalf("%+v %v", nu, err)
		}
		old, _, _ := tenants.InvitationByToken(ctx, db, token)
		if old.State(time.Now()) != tenants.InvitationRevoked {
			t.Fatalf("the old link still works: %s", old.State(time.Now()))
		}
		if _, _, err := tenants.AcceptInvitation(ctx, db, token, tenants.Invitee{PersonID: newPerson(t, db), Verified: []string{inv.Email}}); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("accepting a revoked link: %v", err)
		}
	})
	t.Run("an expired link grants nothing", func(t *testing.T) {
		var tok string
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: a.ID}, func(ctx context.Context, tx bun.Tx) error {
			old := tenants.Invitation{TenantID: a.ID, Email: "z@y.no", Role: "leder", InvitedByName: "Test", ExpiresAt: time.Now().Add(-time.Minute)}
			var err error
			tok, err = tenants.CreateInvitation(ctx, tx, &old)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		p := newPerson(t, db)
		if _, _, err := tenants.AcceptInvitation(ctx, db, tok, tenants.Invitee{PersonID: p, Verified: []string{"z@y.no"}}); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("accepting an expired link: %v", err)
		}
		if ms, _ := tenants.ForPerson(ctx, db, p); len(ms) != 0 {
			t.Fatalf("an expired link granted %+v", ms)
		}
	})
}
