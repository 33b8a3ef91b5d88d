package history

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/modules/goals"
	"kportal/modules/history/historytest"
	"kportal/modules/pdfdoc/pdftext"
	"kportal/storage/testenv"
	"kportal/tenants"
)

// The dossier covers every workplace, lists a carried approval once (where it
// was made), names the LIS with their Sámi letters intact, and prints the
// chain's code; the JSON holds the same.
func TestDossierPDFAcrossWorkplaces(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	db := env.App
	a, b := newTenant(t, db, "Helse Ávži HF"), newTenant(t, db, "Guovdageainnu kommune")
	lis := testenv.NewPerson(t, db, "Áile", "Ŋuoŧŧu Čđž")
	leder, sup := newPerson(t, db, "Per"), newPerson(t, db, "Ola")
	if _, err := env.Owner.ExecContext(ctx, "UPDATE people SET hpr_number = '9876543' WHERE id = ?", lis); err != nil {
		t.Fatal(err)
	}
	recA := historytest.Write(t, db, a.ID, lis, leder, sup, "A1")
	recB := historytest.Write(t, db, b.ID, lis, leder, sup, "B1")
	var version int
	if err := db.NewRaw("SELECT max(id) FROM catalog_versions").Scan(ctx, &version); err != nil {
		t.Fatal(err)
	}
	// B holds A's approval, carried by a move; a course with its kursbevis in
	// A; a goal approved in A through kportal (a link in the chain).
	var sent uuid.UUID
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: a.ID}, func(ctx context.Context, tx bun.Tx) error {
		doc := uuid.New()
		if _, err := tx.ExecContext(ctx, `INSERT INTO documents (tenant_id, id, person_id, kind, name, content_type, size, object_key) VALUES (?, ?, ?, 'kursbevis', 'Kursbevis ŋuovdi.pdf', 'application/pdf', 1, ?)`,
			a.ID, doc, lis, "tenants/"+a.ID.String()+"/people/"+lis.String()+"/"+doc.String()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO activities (tenant_id, lis_id, kind, title, count, done_on, status, document_id)
			VALUES (?, ?, 'course', 'Grunnkurs i traumatologi', 1, current_date, 'registered', ?)`, a.ID, lis, doc); err != nil {
			return err
		}
		if err := tenants.SetRelation(ctx, tx, a.ID, lis, tenants.RelLeder, leder, tenants.Actor{Name: "test"}); err != nil {
			return err
		}
		if err := tx.NewRaw(`INSERT INTO goal_progress (tenant_id, lis_id, goal_code, version_id, status, completed_on, sent_to, sent_at)
			VALUES (?, ?, 'KLS-900', ?, 'sent', current_date, ?, now()) RETURNING id`, a.ID, lis, version, leder).Scan(ctx, &sent); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: b.ID}, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO goal_progress (tenant_id, lis_id, goal_code, version_id, status, decided_by, decided_at, origin_tenant_id, origin_id)
			VALUES (?, ?, ?, ?, 'approved', ?, now(), ?, gen_random_uuid())`, b.ID, lis, recA.Goal, version, leder, a.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := goals.NewStore(db).Decide(ctx, a.ID, tenants.Actor{PersonID: leder, Name: "Per"}, sent, goals.Decision{Outcome: goals.Approve, ConfirmMissing: true}); err != nil {
		t.Fatal(err)
	}

	d, err := BuildDossier(ctx, db, lis, time.Date(2026, 12, 7, 23, 30, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if d.Chain == nil || d.Chain.Links != 1 {
		t.Fatalf("chain head: %+v", d.Chain)
	}
	pdf, err := d.PDF("https://kportal.example")
	if err != nil {
		t.Fatal(err)
	}
	text, err := pdftext.Text(pdf)
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(text), " ")
	for _, want := range []string{
		"Áile Ŋuoŧŧu Čđž", "9876543", "08.12.2026 kl. 00:30", // generated, in Europe/Oslo
		"Helse Ávži HF", "Guovdageainnu kommune",
		recA.Goal, recB.Goal, "KLS-900", "Godkjent av Per Testesen, Helse Ávži HF",
		recA.Activity, recB.Activity, "Grunnkurs i traumatologi", "Kursbevis ŋuovdi.pdf",
		d.Chain.Code, "https://kportal.example/verifiser/" + d.Chain.Code,
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, text)
		}
	}
	// The carried approval is listed once, where it was made.
	if n := strings.Count(flat, recA.Goal+" "); n != 1 {
		t.Errorf("%s listed %d times", recA.Goal, n)
	}

	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Name  string `json:"name"`
		Goals []struct {
			Code, Where string
		} `json:"approved_goals"`
		Chain struct{ Code string } `json:"chain"`
	}
	if err := json.Unmarshal(raw, &back); err != nil || back.Name != "Áile Ŋuoŧŧu Čđž" || len(back.Goals) != 3 || back.Chain.Code != d.Chain.Code {
		t.Fatalf("JSON: %s (%v)", raw, err)
	}
}
