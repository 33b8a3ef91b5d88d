// Package historytest writes a LIS's record in one tenant for the tests of
// Min utdanning (modules/history, cmd/kportal): a plan, an approved goal, a
// signed procedure, a samtale with a referat and a document, each named after
// a label so a test can look for it.
package historytest

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"kportal/tenants"
)

// Record is what Write wrote; the names all carry its label.
type Record struct {
	Plan, Goal, Activity, Document string
	ActivityID, SessionID          uuid.UUID
}

// Write gives lis a record in tn (as the application role, tenant in force):
// approver approved the goal, supervisor signed the activity and, as veileder,
// held the samtale. lis becomes a member with the lis role if not one yet.
func Write(t testing.TB, db bun.IDB, tn uuid.UUID, lis, approver, supervisor uuid.UUID, label string) Record {
	t.Helper()
	ctx := context.Background()
	r := Record{Plan: "Plan " + label, Goal: "KLS-" + label, Activity: "Prosedyre " + label, Document: "kursbevis-" + label + ".pdf"}
	var version int
	if err := db.NewRaw("INSERT INTO catalog_versions (label) VALUES (?) RETURNING id", "hist-"+uuid.NewString()[:8]).Scan(ctx, &version); err != nil {
		t.Fatal(err)
	}
	err := tenants.WithTenantTx(ctx, db, tenants.Scope{TenantID: tn}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO memberships (tenant_id, person_id, role) VALUES (?, ?, 'lis') ON CONFLICT DO NOTHING", tn, lis); err != nil {
			return err
		}
		var tpl, asg uuid.UUID
		if err := tx.NewRaw("INSERT INTO plan_templates (tenant_id, name, specialty, version_id) VALUES (?, ?, 'ORT', ?) RETURNING id", tn, r.Plan, version).Scan(ctx, &tpl); err != nil {
			return err
		}
		if err := tx.NewRaw("INSERT INTO plan_assignments (tenant_id, lis_id, template_id, version_id) VALUES (?, ?, ?, ?) RETURNING id", tn, lis, tpl, version).Scan(ctx, &asg); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO goal_progress (tenant_id, lis_id, assignment_id, goal_code, version_id, status, decided_by, decided_at)
			VALUES (?, ?, ?, ?, ?, 'approved', ?, now())`, tn, lis, asg, r.Goal, version, approver); err != nil {
			return err
		}
		if err := tx.NewRaw(`INSERT INTO activities (tenant_id, lis_id, assignment_id, kind, title, procedure_role, count, done_on, status, supervisor_id)
			VALUES (?, ?, ?, 'procedure', ?, 'performed', 3, current_date, 'signed', ?) RETURNING id`, tn, lis, asg, r.Activity, supervisor).Scan(ctx, &r.ActivityID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO signatures (tenant_id, activity_id, supervisor_id, decision, snapshot) VALUES (?, ?, ?, 'signed', '{}')`,
			tn, r.ActivityID, supervisor); err != nil {
			return err
		}
		if err := tx.NewRaw(`INSERT INTO advisory_sessions (tenant_id, lis_id, advisor_id, starts_at, place, topics, status, completed_at, completed_by)
			VALUES (?, ?, ?, now() - interval '1 day', 'Rom ' || ?, 'Tema ' || ?, 'completed', now(), ?) RETURNING id`, tn, lis, supervisor, label, label, supervisor).Scan(ctx, &r.SessionID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO advisory_notes (tenant_id, session_id, kind, author_id, text) VALUES (?, ?, 'minutes', ?, 'Referat ' || ?)`,
			tn, r.SessionID, supervisor, label); err != nil {
			return err
		}
		doc := uuid.New()
		_, err := tx.ExecContext(ctx, `INSERT INTO documents (tenant_id, id, person_id, kind, name, content_type, size, object_key) VALUES (?, ?, ?, 'other', ?, 'application/pdf', 1, ?)`,
			tn, doc, lis, r.Document, "tenants/"+tn.String()+"/people/"+lis.String()+"/"+doc.String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
