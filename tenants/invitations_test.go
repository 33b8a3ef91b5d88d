package tenants_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// An invitation link is not a bearer token: only someone who has verified the
// invited address (any case) can accept it; anyone else is refused and
// nothing changes.
func TestSecurityInvitationNeedsTheVerifiedInvitedAddress(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	db := env.App
	a := newTenant(t, db, "Kommune V")
	lis := tenants.Actor{PersonID: newPerson(t, db), Name: "Vera LIS"}
	_, token, err := tenants.InviteForLIS(ctx, db, a.ID, lis, "Veileder.Ny@Kommune.no", "veileder")
	if err != nil {
		t.Fatal(err)
	}
	holder := newPerson(t, db)
	for _, c := range []struct {
		name     string
		verified []string
	}{
		{"no verified address", nil},
		{"another verified address", []string{"noen.andre@kommune.no"}},
		{"an address that only contains it", []string{"xveileder.ny@kommune.no"}},
	} {
		_, _, err := tenants.AcceptInvitation(ctx, db, token, tenants.Invitee{PersonID: holder, Verified: c.verified})
		if !apperr.Is(err, apperr.Forbidden) || !strings.Contains(apperr.MessageOf(err), "v•••@kommune.no") {
			t.Fatalf("%s: %v, want forbidden naming the masked address", c.name, err)
		}
	}
	inv, _, err := tenants.InvitationByToken(ctx, db, token)
	if err != nil || inv.State(time.Now()) != tenants.InvitationPending {
		t.Fatalf("after the refusals: %+v %v", inv, err)
	}
	if ms, _ := tenants.ForPerson(ctx, db, holder); len(ms) != 0 {
		t.Fatalf("a refused holder got %+v", ms)
	}
	inTenant(t, db, a.ID, func(ctx context.Context, tx bun.Tx) error {
		if ok, _ := tenants.Advises(ctx, tx, a.ID, holder, lis.PersonID); ok {
			t.Error("a refused holder became veileder")
		}
		return nil
	})

	invitee := newPerson(t, db)
	if _, _, err := tenants.AcceptInvitation(ctx, db, token, tenants.Invitee{PersonID: invitee, Verified: []string{"annen@x.no", "VEILEDER.ny@kommune.NO"}}); err != nil {
		t.Fatalf("the invitee with the verified address in another case: %v", err)
	}
	inTenant(t, db, a.ID, func(ctx context.Context, tx bun.Tx) error {
		if ok, _ := tenants.Advises(ctx, tx, a.ID, invitee, lis.PersonID); !ok {
			t.Error("accepting did not make the veileder relation")
		}
		return nil
	})
}
