package main

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"kportal/policies"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// Role changes made in kportal's tables reach Casbin on every instance: a
// membership is a g rule, an open delegation makes a goal_approver, and both
// go away again; the second enforcer stands for another running instance.
func TestRoleChangesReachEveryEnforcer(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	a, err := openApp(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	other, err := policies.Open(ctx, a.db, cfg.DatabaseURL, a.host.Rules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	db := testenv.Get(t).App
	tn := testTenant(t, "Policyvik kommune", tenants.KindKommune)
	_, _, person := member(t, cfg, "Pia", tn, "supervisor")
	_, _, leder := member(t, cfg, "Lars", tn, "leder")

	// Allowed without the request's membership roles: Casbin's own g rules only.
	allowed := func(x *policies.Enforcer, obj, act string) bool {
		ok, err := x.Allowed(person.String(), nil, tn.ID.String(), obj, act)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	within := func(what string, want bool, obj, act string) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for allowed(a.enforcer, obj, act) != want || allowed(other, obj, act) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not on both instances within a second", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if allowed(a.enforcer, "delegation", "manage") || allowed(a.enforcer, "goal", "approve") {
		t.Fatal("a supervisor may manage delegations or approve goals")
	}
	grant := func(fn func(ctx context.Context, tx bun.Tx) error) {
		t.Helper()
		if err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: tn.ID}, fn); err != nil {
			t.Fatal(err)
		}
	}
	grant(func(ctx context.Context, tx bun.Tx) error {
		return tenants.GrantRole(ctx, tx, tn.ID, person, "leder", tenants.Actor{Name: "test"})
	})
	within("the leder role", true, "delegation", "manage")
	grant(func(ctx context.Context, tx bun.Tx) error {
		return tenants.RevokeRole(ctx, tx, tn.ID, person, "leder", tenants.Actor{Name: "test"})
	})
	within("revoking the leder role", false, "delegation", "manage")

	d, err := tenants.Delegate(ctx, db, tn.ID, tenants.Actor{PersonID: leder, Name: "Lars"}, person, nil, "ferie", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	within("a delegation", true, "goal", "approve")
	if err := tenants.RevokeDelegation(ctx, db, tn.ID, tenants.Actor{PersonID: leder}, d.ID, ""); err != nil {
		t.Fatal(err)
	}
	within("revoking the delegation", false, "goal", "approve")
}
