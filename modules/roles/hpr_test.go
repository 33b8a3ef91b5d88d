package roles

import (
	"context"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"kportal/modules/apperr"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// A typed HPR number is marked typed; one from HelseID is neither changed
// nor removed by a typed one (the form says so, and the database refuses a
// writer that skips the form); a number another person has is refused.
func TestHdirHPRProvenance(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	db := testenv.Get(t).App
	tn := newTenant(t, "Helse HPR HF")
	adminID, _ := newMember(t, "Admin", tn, "tenant_admin")
	admin := tenants.Actor{PersonID: adminID, Name: "Admin"}
	typed, _ := newMember(t, "Typet", tn, "lis")
	helse, _ := newMember(t, "Helse", tn, "lis")
	source := func(id any) (hpr, src string) {
		t.Helper()
		if err := db.NewRaw("SELECT coalesce(hpr_number, ''), coalesce(hpr_source, '') FROM people WHERE id = ?", id).Scan(ctx, &hpr, &src); err != nil {
			t.Fatal(err)
		}
		return hpr, src
	}

	n1 := randomHPR()
	if err := s.SetHPR(ctx, tn.ID, admin, typed, n1); err != nil {
		t.Fatal(err)
	}
	if hpr, src := source(typed); hpr != n1 || src != HPRTyped {
		t.Fatalf("typed: %q %q", hpr, src)
	}
	if m, err := s.Member(ctx, tn.ID, typed); err != nil || m.HPRSource != HPRTyped {
		t.Fatalf("member: %+v %v", m, err)
	}

	n2 := randomHPR()
	if _, err := db.ExecContext(ctx, "UPDATE people SET hpr_number = ?, hpr_source = 'helseid' WHERE id = ?", n2, helse); err == nil {
		t.Fatal("a HelseID number written outside a HelseID transaction")
	}
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "SELECT set_config('app.helseid', 'on', true); UPDATE people SET hpr_number = ?, hpr_source = 'helseid' WHERE id = ?", n2, helse)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, typedIn := range []string{randomHPR(), ""} {
		err := s.SetHPR(ctx, tn.ID, admin, helse, typedIn)
		if !strings.Contains(apperr.FieldsOf(err)["hpr"], "HelseID") {
			t.Errorf("typed %q over HelseID's: %v", typedIn, err)
		}
	}
	if err := s.SetHPR(ctx, tn.ID, admin, typed, n2); !strings.Contains(apperr.FieldsOf(err)["hpr"], "allerede registrert") {
		t.Errorf("HelseID's number typed for another person: %v", err)
	}
	for _, q := range []string{"UPDATE people SET hpr_number = NULL WHERE id = ?", "UPDATE people SET hpr_source = 'typed' WHERE id = ?"} {
		if _, err := db.ExecContext(ctx, q, helse); err == nil || !strings.Contains(err.Error(), "HelseID") {
			t.Errorf("the database let a writer change HelseID's number: %s: %v", q, err)
		}
	}
	if hpr, src := source(helse); hpr != n2 || src != "helseid" {
		t.Fatalf("HelseID's number after the attempts: %q %q", hpr, src)
	}
	// Removing a typed number removes its source too.
	if err := s.SetHPR(ctx, tn.ID, admin, typed, ""); err != nil {
		t.Fatal(err)
	}
	if hpr, src := source(typed); hpr != "" || src != "" {
		t.Fatalf("removed: %q %q", hpr, src)
	}
}
