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

// inTenant runs fn with the tenant in force and fails the test on error.
func inTenant(t *testing.T, db bun.IDB, tenantID uuid.UUID, fn func(ctx context.Context, tx bun.Tx) error) {
	t.Helper()
	if err := tenants.WithTenantTx(context.Background(), db, tenants.Scope{TenantID: tenantID}, fn); err != nil {
		t.Fatal(err)
	}
}

var admin = tenants.Actor{Name: "Test"}

// The relationship rules: Casbin says what a role may do, these say for whom.
func TestRelationshipRules(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	db := env.App
	a, b := newTenant(t, db, "Tenant A"), newTenant(t, db, "Tenant B")
	lis, other := newPerson(t, db), newPerson(t, db)
	leder, veileder, sup, delegate, expired, revoked, uao, stranger := newPerson(t, db), newPerson(t, db), newPerson(t, db), newPerson(t, db), newPerson(t, db), newPerson(t, db), newPerson(t, db), newPerson(t, db)
	today := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	yesterday := today.AddDate(0, 0, -1)
	inTenant(t, db, a.ID, func(ctx context.Context, tx bun.Tx) error {
		for _, r := range []struct {
			kind   string
			person uuid.UUID
		}{{"leder", leder}, {"veileder", veileder}, {"supervisor", sup}} {
			if err := tenants.SetRelation(ctx, tx, a.ID, lis, r.kind, r.person, admin); err != nil {
				return err
			}
		}
		for _, p := range []uuid.UUID{delegate, expired, revoked, stranger, other, uao} {
			if err := tenants.GrantRole(ctx, tx, a.ID, p, "supervisor", admin); err != nil {
				return err
			}
		}
		if err := tenants.SetSpecialties(ctx, tx, a.ID, lis, "lis", []string{"ALM"}); err != nil {
			return err
		}
		if err := tenants.SetSpecialties(ctx, tx, a.ID, other, "lis", []string{"ORT"}); err != nil {
			return err
		}
		return tenants.SetSpecialties(ctx, tx, a.ID, uao, "uao", []string{"ALM", "SAM"})
	})
	lederActor := tenants.Actor{PersonID: leder, Name: "Leder"}
	if _, err := tenants.Delegate(ctx, db, a.ID, lederActor, delegate, nil, "ferie", today); err != nil {
		t.Fatal(err)
	}
	// A delegation whose last day was yesterday, written directly (Delegate refuses past dates).
	inTenant(t, db, a.ID, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO delegations (tenant_id, leder_id, delegate_id, valid_until) VALUES (?, ?, ?, ?)", a.ID, leder, expired, yesterday.Format("2006-01-02"))
		return err
	})
	d, err := tenants.Delegate(ctx, db, a.ID, lederActor, revoked, nil, "", today)
	if err != nil {
		t.Fatal(err)
	}
	if err := tenants.RevokeDelegation(ctx, db, a.ID, lederActor, d.ID, "tilbake"); err != nil {
		t.Fatal(err)
	}

	type rule func(ctx context.Context, tx bun.IDB, tenant, person, lis uuid.UUID) (bool, error)
	mayApprove := func(ctx context.Context, tx bun.IDB, tenant, person, lis uuid.UUID) (bool, error) {
		return tenants.MayApprove(ctx, tx, tenant, person, lis, today)
	}
	cases := []struct {
		name   string
		rule   rule
		tenant uuid.UUID
		person uuid.UUID
		lis    uuid.UUID
		want   bool
	}{
		{"supervisor signs for their LIS", tenants.Supervises, a.ID, sup, lis, true},
		{"supervisor not for another LIS", tenants.Supervises, a.ID, sup, other, false},
		{"a supervisor role alone is no relation", tenants.Supervises, a.ID, stranger, lis, false},
		{"supervisor not in another tenant", tenants.Supervises, b.ID, sup, lis, false},
		{"veileder sees their LIS", tenants.Advises, a.ID, veileder, lis, true},
		{"the leder is not the veileder", tenants.Advises, a.ID, leder, lis, false},
		{"leder manages their LIS", tenants.Manages, a.ID, leder, lis, true},
		{"leder approves for their LIS", mayApprove, a.ID, leder, lis, true},
		{"leder not for another LIS", mayApprove, a.ID, leder, other, false},
		{"a delegate approves for the leder's LIS", mayApprove, a.ID, delegate, lis, true},
		{"a delegate not for other LIS", mayApprove, a.ID, delegate, other, false},
		{"a delegation past its last day grants nothing", mayApprove, a.ID, expired, lis, false},
		{"a revoked delegation grants nothing", mayApprove, a.ID, revoked, lis, false},
		{"the veileder does not approve", mayApprove, a.ID, veileder, lis, false},
		{"leder not in another tenant", mayApprove, b.ID, leder, lis, false},
		{"UAO follows LIS of their specialties", tenants.Covers, a.ID, uao, lis, true},
		{"UAO not LIS of other specialties", tenants.Covers, a.ID, uao, other, false},
		{"UAO not in another tenant", tenants.Covers, b.ID, uao, lis, false},
	}
	for _, c := range cases {
		var got bool
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: c.tenant}, func(ctx context.Context, tx bun.Tx) error {
			var err error
			got, err = c.rule(ctx, tx, c.tenant, c.person, c.lis)
			return err
		})
		if err != nil || got != c.want {
			t.Errorf("%s: got %v (%v), want %v", c.name, got, err, c.want)
		}
	}

	t.Run("a new leder replaces the old one", func(t *testing.T) {
		inTenant(t, db, a.ID, func(ctx context.Context, tx bun.Tx) error {
			return tenants.SetRelation(ctx, tx, a.ID, lis, "leder", stranger, admin)
		})
		inTenant(t, db, a.ID, func(ctx context.Context, tx bun.Tx) error {
			if ok, _ := tenants.Manages(ctx, tx, a.ID, leder, lis); ok {
				t.Error("the old leder still manages")
			}
			if ok, _ := tenants.Manages(ctx, tx, a.ID, stranger, lis); !ok {
				t.Error("the new leder does not manage")
			}
			return nil
		})
	})
}

func TestDelegationRules(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	db := env.App
	a := newTenant(t, db, "Tenant A")
	leder, colleague, outsider := newPerson(t, db), newPerson(t, db), newPerson(t, db)
	inTenant(t, db, a.ID, func(ctx context.Context, tx bun.Tx) error {
		if err := tenants.GrantRole(ctx, tx, a.ID, leder, "leder", admin); err != nil {
			return err
		}
		return tenants.GrantRole(ctx, tx, a.ID, colleague, "supervisor", admin)
	})
	today := time.Now()
	la := tenants.Actor{PersonID: leder, Name: "Leder"}
	past := today.AddDate(0, 0, -2)
	cases := []struct {
		name  string
		by    tenants.Actor
		to    uuid.UUID
		until *time.Time
		code  apperr.Code
		field string
	}{
		{"to oneself", la, leder, nil, apperr.Invalid, "delegate"},
		{"to someone outside the tenant", la, outsider, nil, apperr.Invalid, "delegate"},
		{"until a day gone by", la, colleague, &past, apperr.Invalid, "until"},
		{"by someone who is not a leder (no further delegation)", tenants.Actor{PersonID: colleague}, leder, nil, apperr.Forbidden, ""},
	}
	for _, c := range cases {
		_, err := tenants.Delegate(ctx, db, a.ID, c.by, c.to, c.until, "", today)
		if apperr.CodeOf(err) != c.code || c.field != "" && apperr.FieldsOf(err)[c.field] == "" {
			t.Errorf("%s: %v %v", c.name, err, apperr.FieldsOf(err))
		}
	}
	if _, err := tenants.Delegate(ctx, db, a.ID, la, colleague, nil, "", today); err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.Delegate(ctx, db, a.ID, la, colleague, nil, "", today); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("a second open delegation to the same colleague: %v", err)
	}
	var actions []string
	inTenant(t, db, a.ID, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT action FROM audit_log WHERE tenant_id = ? AND action LIKE 'delegation.%'", a.ID).Scan(ctx, &actions)
	})
	if len(actions) != 1 || actions[0] != tenants.AuditDelegationGranted {
		t.Fatalf("audit: %v", actions)
	}
}

func TestInvitationsFromLIS(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	db := env.App
	a := newTenant(t, db, "Kommune A")
	lis := tenants.Actor{PersonID: newPerson(t, db), Name: "Lise LIS"}
	inv, token, err := tenants.InviteForLIS(ctx, db, a.ID, lis, "Leder@Kommune.no", "leder")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tenants.InviteForLIS(ctx, db, a.ID, lis, "annen@kommune.no", "leder"); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("a second open leder invitation: %v", err)
	}
	if _, _, err := tenants.InviteForLIS(ctx, db, a.ID, lis, "leder@kommune.no", "veileder"); err != nil {
		t.Fatalf("the same person as veileder (one invitation per role): %v", err)
	}
	for _, e := range []string{"s1@x.no", "s2@x.no"} {
		if _, _, err := tenants.InviteForLIS(ctx, db, a.ID, lis, e, "supervisor"); err != nil {
			t.Fatalf("supervisor %s: %v", e, err)
		}
	}
	if _, _, err := tenants.InviteForLIS(ctx, db, a.ID, lis, "s1@x.no", "supervisor"); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("the same supervisor twice: %v", err)
	}
	for _, c := range []struct{ email, role, field string }{{"x@y.no", "tenant_admin", "role"}, {"ikke-epost", "supervisor", "email"}} {
		if _, _, err := tenants.InviteForLIS(ctx, db, a.ID, lis, c.email, c.role); apperr.FieldsOf(err)[c.field] == "" {
			t.Errorf("%s/%s: %v", c.email, c.role, err)
		}
	}
	sent, _ := tenants.InvitationsFrom(ctx, db, a.ID, lis.PersonID)
	if len(sent) != 4 {
		t.Fatalf("sent: %d", len(sent))
	}

	p := newPerson(t, db)
	if _, _, err := tenants.AcceptInvitation(ctx, db, token, tenants.Invitee{PersonID: p, Verified: []string{"leder@kommune.no"}}); err != nil {
		t.Fatal(err)
	}
	inTenant(t, db, a.ID, func(ctx context.Context, tx bun.Tx) error {
		if ok, _ := tenants.Manages(ctx, tx, a.ID, p, lis.PersonID); !ok {
			t.Error("accepting did not make the leder relation")
		}
		return nil
	})
	ms, _ := tenants.ForPerson(ctx, db, p)
	if len(ms) != 1 || ms[0].Roles[0] != "leder" {
		t.Fatalf("the leder's memberships: %+v", ms)
	}
	if _, _, err := tenants.InviteForLIS(ctx, db, a.ID, lis, "ny-leder@kommune.no", "leder"); err != nil {
		t.Fatalf("after the leder accepted, a new leder invitation may be sent: %v", err)
	}
	_ = inv
}

func TestIsolationPeople(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	db := env.App
	a, b := newTenant(t, db, "Tenant A"), newTenant(t, db, "Tenant B")
	lis, leder, delegate := newPerson(t, db), newPerson(t, db), newPerson(t, db)
	inTenant(t, db, a.ID, func(ctx context.Context, tx bun.Tx) error {
		if err := tenants.SetRelation(ctx, tx, a.ID, lis, "leder", leder, admin); err != nil {
			return err
		}
		return tenants.GrantRole(ctx, tx, a.ID, delegate, "supervisor", admin)
	})
	d, err := tenants.Delegate(ctx, db, a.ID, tenants.Actor{PersonID: leder}, delegate, nil, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	counts := func(tenant uuid.UUID) (n [3]int) {
		inTenant(t, db, tenant, func(ctx context.Context, tx bun.Tx) error {
			for i, table := range []string{"relations", "delegations", "audit_log"} {
				if err := tx.NewRaw("SELECT count(*) FROM "+table).Scan(ctx, &n[i]); err != nil {
					return err
				}
			}
			return nil
		})
		return n
	}
	before := counts(a.ID)
	if before[0] != 1 || before[1] != 1 || before[2] == 0 {
		t.Fatalf("tenant A sees %v", before)
	}
	t.Run("another tenant sees none of it", func(t *testing.T) {
		if n := counts(b.ID); n != [3]int{} {
			t.Fatalf("tenant B sees %v", n)
		}
		if ds, _ := tenants.Delegations(ctx, db, b.ID, leder); len(ds) != 0 {
			t.Fatalf("B lists A's delegations: %v", ds)
		}
		if log, _ := tenants.AuditLog(ctx, db, b.ID, 0, 100); len(log) != 0 {
			t.Fatalf("B reads A's audit log: %v", log)
		}
		if rs, _ := tenants.TenantRelations(ctx, db, b.ID); len(rs) != 0 {
			t.Fatalf("B lists A's relations: %v", rs)
		}
	})
	t.Run("another tenant changes nothing", func(t *testing.T) {
		if err := tenants.RevokeDelegation(ctx, db, b.ID, tenants.Actor{PersonID: leder}, d.ID, ""); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("revoke from B: %v", err)
		}
		err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: b.ID}, func(ctx context.Context, tx bun.Tx) error {
			if err := tenants.RemoveRelation(ctx, tx, b.ID, lis, "leder", leder, admin); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("remove relation from B: %v", err)
			}
			for _, q := range []string{"DELETE FROM relations", "UPDATE delegations SET revoked_at = now()", "DELETE FROM delegations"} {
				res, err := tx.ExecContext(ctx, q)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n != 0 {
					t.Errorf("%s from B touched %d rows", q, n)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if after := counts(a.ID); after[0] != before[0] || after[1] != before[1] {
			t.Fatalf("A after B's attempts: %v, before %v", after, before)
		}
	})
	t.Run("a person sees their own relations, no one else's", func(t *testing.T) {
		rs, err := tenants.RelationsOf(ctx, db, lis)
		if err != nil || len(rs) != 1 || rs[0].PersonID != leder || rs[0].TenantName != "Tenant A" {
			t.Fatalf("%+v %v", rs, err)
		}
		if rs, _ := tenants.RelationsOf(ctx, db, delegate); len(rs) != 0 {
			t.Fatalf("an unrelated person sees %v", rs)
		}
	})
	t.Run("the audit log is append-only for kportal", func(t *testing.T) {
		for _, q := range []string{"UPDATE audit_log SET details = 'x'", "DELETE FROM audit_log"} {
			err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: a.ID}, func(ctx context.Context, tx bun.Tx) error {
				_, err := tx.ExecContext(ctx, q)
				return err
			})
			if err == nil {
				t.Errorf("%s was allowed", q)
			}
		}
	})
}

func TestIsolationOutbox(t *testing.T) {
	env := testenv.Get(t)
	db := env.App
	a, b := newTenant(t, db, "Tenant A"), newTenant(t, db, "Tenant B")
	p := newPerson(t, db)
	inTenant(t, db, a.ID, func(ctx context.Context, tx bun.Tx) error {
		return tenants.Emit(ctx, tx, tenants.Event{TenantID: a.ID, Topic: "activity.signed", Recipient: p, Payload: map[string]any{"title": "Appendektomi"}})
	})
	countIn := func(tenant uuid.UUID) (n int) {
		inTenant(t, db, tenant, func(ctx context.Context, tx bun.Tx) error {
			return tx.NewRaw("SELECT count(*) FROM outbox WHERE payload->>'title' = 'Appendektomi'").Scan(ctx, &n)
		})
		return n
	}
	if countIn(a.ID) != 1 || countIn(b.ID) != 0 {
		t.Fatalf("outbox: A sees %d, B sees %d", countIn(a.ID), countIn(b.ID))
	}
	err := tenants.WithTenantTx(context.Background(), db, tenants.Scope{TenantID: b.ID}, func(ctx context.Context, tx bun.Tx) error {
		return tenants.Emit(ctx, tx, tenants.Event{TenantID: a.ID, Topic: "activity.signed"})
	})
	if err == nil {
		t.Fatal("tenant B wrote an event into tenant A's outbox")
	}
}
